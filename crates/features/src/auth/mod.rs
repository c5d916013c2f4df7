//! Sign-in (seed scenario 2): the users table that signs in (email and password hash), where
//! email verification is kept, and the runtime that signs users in — registration, verification,
//! password reset and change, refresh tokens, second factor, abuse controls — behind a global
//! guard that denies every route without a valid access token.
//!
//! The guard is also where RBAC and tenancy plug in (`core/rbac/permission.decorator.ts`,
//! `core/tenancy/tenant.decorator.ts`: the decorators routes carry and the interfaces those
//! features provide), so those two files ship with sign-in.
//!
//! State: [`AuthModel`]. Asked for by `--features.auth`, `enable_auth`, or implied when RBAC or
//! tenant scoping needs someone signed in.

mod detect;
mod view;

pub use detect::AuthModel;
pub use view::verified_sql;

use nest_model::{
    Access, DataClass, FeatureDef, FeatureError, MetaSwitch, Model, ModelCx, ModelError, Resolve, Resource, Setting,
    Source,
};
use nest_nestjs::{
    Assets, Contribute, Contributions, DbFile, Decorator, FeatureFile, Ownership, Package, RenderError, Rendered,
    TestSetup,
};

pub struct Auth;

pub static DEF: FeatureDef = FeatureDef {
    id: "auth",
    about: "login, tokens and password handling on the users table",
    meta: MetaSwitch::Either("enable_auth"),
    implemented: true,
};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsersTableError(String);

impl FeatureError for UsersTableError {
    fn help(&self) -> String {
        "auth signs users in with an email and an argon2 password hash; name them email and password_hash".into()
    }
}

/// The resource that signs in, if any: asked for, the table `user_roles` points at (RBAC), or
/// the one table shaped like a users table (RBAC or tenancy need someone signed in).
fn users_resource(cx: &ModelCx) -> Option<usize> {
    let resources = &cx.resources;
    if let Some(i) = resources.iter().position(|r| r.feature("auth")) {
        return Some(i);
    }
    let wants_rbac = resources.iter().any(|r| r.feature("rbac"));
    let shaped = |r: &Resource| cx.table(r).is_some_and(|t| detect::detect_auth(t).is_ok());
    if wants_rbac {
        // RBAC needs someone to sign in: the table user_roles' key points at (not roles).
        let target =
            ["user_roles", "users_roles", "role_users"].iter().find_map(|n| cx.catalog.find_table(n)).and_then(|ur| {
                ur.foreign_keys
                    .iter()
                    .filter(|f| f.columns.len() == 1 && !matches!(f.references.name.as_str(), "roles" | "role"))
                    .find(|f| ur.primary_key.as_ref().is_some_and(|k| k.columns.contains(&f.columns[0])))
                    .map(|f| f.references.clone())
            });
        if let Some(i) = resources.iter().position(|r| target.as_ref().is_some_and(|q| r.is(q)) && shaped(r)) {
            return Some(i);
        }
    }
    if wants_rbac || resources.iter().any(|r| r.feature("tenant-scoped")) {
        // Otherwise the one table shaped like a users table (email + password hash), if unambiguous.
        if let [only] = (0..resources.len()).filter(|&i| shaped(&resources[i])).collect::<Vec<_>>()[..] {
            return Some(only);
        }
    }
    None
}

/// The users resource: sign-in state is never returned, the columns only sign-in writes are
/// read-only, and accounts are created by registering.
fn adjust_users(r: &mut Resource, a: &AuthModel, why: &str) {
    if !r.feature("auth") {
        r.features.insert("auth".into(), Setting::new(true, Source::Inferred(why.into())));
    }
    for f in r.fields.iter_mut().filter(|f| a.managed.contains(&f.column)) {
        let secret = f.column == a.password_hash || Some(&f.column) == a.two_factor_secret.as_ref();
        // The failure count and lock are the sign-in's own state, nobody's business to read.
        let internal = Some(&f.column) == a.failed_logins.as_ref() || Some(&f.column) == a.locked_until.as_ref();
        f.access = if secret || internal { Access::None } else { Access::ReadOnly };
        f.required_on_create = false;
        f.ops.retain(|_| !secret && !internal);
        f.sortable = f.sortable && !secret && !internal;
        f.why = Some(if internal { "sign-in state: never returned" } else { "kept by the auth routes" }.into());
    }
    r.operations.create = false;
    r.operations.bulk_create = false;
    r.operations.update = r.fields.iter().any(|f| f.writable() && !f.is_key);
    r.classify(DataClass::Accounts);
    r.note("auth", "users sign up through POST /auth/register; password and second factor change only through /auth");
}

impl Resolve for Auth {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn resolve(&self, cx: &mut ModelCx) {
        let Some(i) = users_resource(cx) else { return };
        let Some(table) = cx.table(&cx.resources[i]) else { return };
        let a = match detect::detect_auth(table) {
            Ok(a) => a,
            Err(e) => {
                let e = ModelError::feature(DEF.id, Some(table), UsersTableError(e));
                cx.error(e);
                return;
            }
        };
        let why = if cx.resources.iter().any(|r| r.feature("rbac")) {
            "RBAC needs a users table to sign in"
        } else {
            "tenant scoping needs signed-in users"
        };
        adjust_users(&mut cx.resources[i], &a, why);
        cx.states.insert(DEF.id, a);
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "auth";
    "auth.users.ts.j2",
    "register.dto.ts.j2",
    "auth.sql.j2",
    "env.j2",
    "readme.md.j2",
    "test-auth.ts.j2",
    "auth.test.ts.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/auth/auth.config.ts",
    "src/core/auth/auth.controller.ts",
    "src/core/auth/auth.dto.ts",
    "src/core/auth/auth.guard.ts",
    "src/core/auth/auth.module.ts",
    "src/core/auth/auth.service.ts",
    "src/core/auth/current-user.decorator.ts",
    "src/core/auth/jwt.ts",
    "src/core/auth/password.ts",
    "src/core/auth/secret-box.ts",
    "src/core/auth/totp.ts",
    "src/core/mail/mail.service.ts",
    "src/core/rbac/permission.decorator.ts",
    "src/core/tenancy/tenant.decorator.ts",
];

const PACKAGES: &[Package] = &[
    Package { name: "@node-rs/argon2", version: "2.2.1", dev: false },
    Package { name: "jose", version: "6.2.18", dev: false },
    Package { name: "nodemailer", version: "8.0.9", dev: false },
    Package { name: "@types/nodemailer", version: "8.0.2", dev: true },
];

const SWAGGER: &str = "@nestjs/swagger";

#[derive(serde::Serialize)]
struct ReadmeView {
    /// `GET /auth/me` lists roles and permissions.
    rbac: bool,
}

impl Contribute for Auth {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: PACKAGES }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(a) = m.state::<AuthModel>() else { return Ok(()) };
        out.runtime.extend(RUNTIME);
        let v = view::auth_view(m, a);
        for (path, template) in [
            ("src/core/auth/auth.users.ts", "auth/auth.users.ts.j2"),
            ("src/core/auth/register.dto.ts", "auth/register.dto.ts.j2"),
        ] {
            out.files.push(FeatureFile {
                path: path.into(),
                body: Rendered::new(template, &v)?,
                ownership: Ownership::Generated,
            });
        }
        out.db.push(DbFile {
            name: "02-auth.sql".into(),
            body: Rendered::new("auth/auth.sql.j2", view::auth_sql_view(a))?,
            doc: "refresh tokens, emailed tokens and per-account sign-in state (schema `nestgen`).".into(),
        });
        out.modules.push(nest_nestjs::AppModule { class: "AuthModule".into(), module: "core/auth/auth.module".into() });
        out.env.push(Rendered::new("auth/env.j2", ())?);
        // The generated tests sign in first: an account, its email verified, signed in.
        out.files.push(FeatureFile {
            path: "test/support/auth.ts".into(),
            body: Rendered::new("auth/test-auth.ts.j2", view::auth_test_view(m, a))?,
            ownership: Ownership::Generated,
        });
        let routes = nest_nestjs::testgen::list_routes(&m.resources);
        out.files.push(nest_nestjs::testgen::list_test_file("test/auth.test.ts", "auth/auth.test.ts.j2", &routes)?);
        out.test_setup.push(TestSetup {
            order: 50,
            import: "import { signIn } from './auth.js';".into(),
            call: "await signIn(h);".into(),
        });
        let rbac = m.features.ids().any(|id| id == crate::rbac::DEF.id);
        out.readme.push(Rendered::new("auth/readme.md.j2", ReadmeView { rbac })?);
        out.setup_env.extend([
            "AUTH_JWT_SECRET=$(openssl rand -base64 48)".into(),
            "AUTH_ENCRYPTION_KEY=$(openssl rand -base64 48)".into(),
        ]);
        out.openapi.push(
            ".addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from POST /auth/login' })".into(),
        );
        Ok(())
    }

    fn resource(
        &self,
        m: &Model,
        _r: &Resource,
        out: &mut nest_nestjs::ResourceContributions,
    ) -> Result<(), RenderError> {
        if m.state::<AuthModel>().is_some() {
            out.class_decorators.push(Decorator::new("@ApiBearerAuth()", &[("ApiBearerAuth", SWAGGER)]));
        }
        Ok(())
    }

    fn route(&self, m: &Model, _r: &Resource, _route: &nest_nestjs::Route, out: &mut Vec<Decorator>) {
        if m.state::<AuthModel>().is_some() {
            out.push(Decorator::new(
                "@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'No valid access token' })",
                &[("ApiUnauthorizedResponse", SWAGGER), ("ErrorResponseDto", "../../core/crud/dto.js")],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{field, model};

    #[test]
    fn the_users_table_signs_in_and_keeps_its_secrets() {
        let m = model(
            "CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL,
               failed_login_attempts int, locked_until timestamptz, email_confirmed_at timestamptz,
               two_factor_secret varchar(32), last_login_at timestamptz, name text);",
            "[tables.users]\nfeatures = { auth = true }\n",
        );
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let a = m.state::<AuthModel>().expect("auth");
        assert_eq!(a.verified, detect::Verified::Timestamp("email_confirmed_at".into()));
        assert!(!a.two_factor_secret_fits, "varchar(32) cannot hold a sealed secret");
        for hidden in ["password_hash", "failed_login_attempts", "locked_until", "two_factor_secret"] {
            assert!(!field(&m, "users", hidden).readable(), "{hidden} is never returned");
        }
        assert!(!field(&m, "users", "email").writable(), "email changes through /auth only");
        assert!(field(&m, "users", "name").writable());
        let users = m.resource("users").unwrap();
        assert!(!users.operations.create && users.operations.update);
        assert_eq!(users.data, DataClass::Accounts);
    }

    #[test]
    fn a_users_table_without_a_password_hash_is_refused() {
        let m = model(
            "CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL);",
            "[tables.users]\nfeatures = { auth = true }\n",
        );
        let d = m.diagnostics();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].message, "users: auth needs a password_hash column");
        assert_eq!((d[0].file.as_str(), d[0].line), ("t.sql", 1));
        assert!(d[0].help.as_deref().unwrap().contains("email and password_hash"));
    }
}
