//! Role-based access control (seed scenario 2): every route requires `<resource>:<action>`;
//! roles inherit from their parent role; direct grants and revokes; default roles guest ← user ←
//! manager ← admin and super-admin, whose permissions follow whose data a table holds (deny by
//! default extends to data). Once any table asks for RBAC, every table has it unless a flag or
//! the config turns it off explicitly; the role and permission tables always have it.
//!
//! State: [`RbacModel`]. Needs sign-in (the auth feature's state).

mod detect;
mod view;

pub use detect::RbacModel;

use crate::auth::AuthModel;
use nest_catalog::quote as sql;
use nest_model::{
    DataClass, FeatureDef, FeatureError, MetaSwitch, Model, ModelCx, ModelError, Resolve, Resource, Setting, Source,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, Decorator, FeatureFile, Ownership, RenderError, Rendered,
    ResourceContributions, Route, SpecExtension, TestSetup,
};
use serde::Serialize;

pub struct Rbac;

pub static DEF: FeatureDef = FeatureDef {
    id: "rbac",
    about: "every route requires a <resource>:<action> permission",
    meta: MetaSwitch::TableMetadata("enable_rbac"),
    implemented: true,
};

#[derive(Debug, thiserror::Error)]
enum RbacError {
    #[error("RBAC needs a users table to sign in (email and password_hash columns); none was found")]
    NoUsers,
    #[error("RBAC: {0}")]
    Tables(String),
}

impl FeatureError for RbacError {
    fn help(&self) -> String {
        match self {
            RbacError::NoUsers => "include a users table in the input and generate it with --features.auth=true, or turn RBAC off with --features.rbac=false",
            RbacError::Tables(_) => "RBAC reads roles, permissions, role_permissions, user_roles and user_permissions tables shaped as seed scenario 2",
        }
        .into()
    }
}

impl Resolve for Rbac {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if !cx.resources.iter().any(|r| r.feature(DEF.id)) {
            return;
        }
        let Some(a) = cx.state::<AuthModel>() else {
            // A users table that could not be used was reported already.
            if !cx.errors.iter().any(|e| matches!(e, ModelError::Feature { feature: "auth", .. })) {
                cx.error(ModelError::feature(DEF.id, None, RbacError::NoUsers));
            }
            return;
        };
        let Some(users) = cx.catalog.table(&a.schema, &a.table) else { return };
        let r = match detect::detect_rbac(cx.catalog, users) {
            Ok(r) => r,
            Err(e) => {
                cx.error(ModelError::feature(DEF.id, None, RbacError::Tables(e)));
                return;
            }
        };
        // Deny by default: once the project has RBAC, every route needs a permission, unless a
        // flag or the config file turns RBAC off for that table. The role and permission tables
        // are always guarded.
        let guarded = r.tables();
        for res in cx.resources.iter_mut() {
            let core = guarded.iter().any(|t| res.is(t));
            if core {
                let assignments = res.is(&r.user_roles) || r.user_permissions.as_ref().is_some_and(|t| res.is(t));
                res.classify(if assignments { DataClass::Assignments } else { DataClass::Powers });
            }
            let explicit_off =
                res.features.get(DEF.id).is_some_and(|s| !s.value && matches!(s.source, Source::Flag | Source::Config));
            if res.feature(DEF.id) || (explicit_off && !core) {
                continue;
            }
            let why = if core {
                "role and permission tables are always guarded"
            } else {
                "the project uses RBAC: every route needs a permission (deny by default)"
            };
            if explicit_off {
                res.note(DEF.id, format!("{}: RBAC cannot be turned off for a role or permission table", res.table));
            }
            res.features.insert(DEF.id.into(), Setting::new(true, Source::Inferred(why.into())));
        }
        cx.states.insert(DEF.id, r);
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates!["templates", "rbac"; "rbac.tables.ts.j2", "rbac.sql.j2", "env.j2", "readme.md.j2", "test-rbac.ts.j2", "rbac.test.ts.j2"];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/rbac/rbac.controller.ts",
    "src/core/rbac/rbac.module.ts",
    "src/core/rbac/rbac.service.ts",
    "src/core/rbac/read-permission.ts",
];

#[derive(serde::Serialize)]
struct ReadmeView {
    tenancy: bool,
    /// `resource:action` of every guarded route.
    permissions: Vec<String>,
    /// The SQL that makes a signed-up account the first super-admin.
    first_admin: String,
}

/// The project has tenants.
fn tenanted(m: &Model) -> bool {
    m.features.ids().any(|id| id == crate::tenancy::DEF.id)
}

impl Contribute for Rbac {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: &[] }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        #[derive(Serialize)]
        struct TestView {
            role_sql: String,
        }
        let (Some(a), Some(r)) = (m.state::<AuthModel>(), m.state::<RbacModel>()) else { return Ok(()) };
        out.runtime.extend(RUNTIME);
        out.files.push(FeatureFile {
            path: "src/core/rbac/rbac.tables.ts".into(),
            body: Rendered::new("rbac/rbac.tables.ts.j2", view::rbac_view(a, r))?,
            ownership: Ownership::Generated,
        });
        out.db.push(DbFile {
            name: "03-rbac.sql".into(),
            body: Rendered::new("rbac/rbac.sql.j2", view::rbac_sql_view(m, r, tenanted(m)))?,
            doc: "permissions, default roles and grants, change notifications.".into(),
        });
        out.modules.push(AppModule { class: "RbacModule".into(), module: "core/rbac/rbac.module".into() });
        out.env.push(Rendered::new("rbac/env.j2", ())?);
        // The generated tests' account holds the super-admin role.
        let role_sql = format!(
            "SELECT {} AS id FROM {} WHERE {} = $1",
            nest_catalog::quote::ident(&r.role_id),
            nest_catalog::quote::qualified(&r.roles.schema, &r.roles.name),
            nest_catalog::quote::ident(&r.role_slug)
        );
        out.files.push(FeatureFile {
            path: "test/support/rbac.ts".into(),
            body: Rendered::new("rbac/test-rbac.ts.j2", TestView { role_sql })?,
            ownership: Ownership::Generated,
        });
        let guarded = nest_nestjs::testgen::list_routes(m.resources.iter().filter(|x| x.feature(DEF.id)));
        if !guarded.is_empty() {
            out.files.push(nest_nestjs::testgen::list_test_file(
                "test/rbac.test.ts",
                "rbac/rbac.test.ts.j2",
                &guarded,
            )?);
        }
        out.test_setup.push(TestSetup {
            order: 10,
            import: "import { superAdmin } from './rbac.js';".into(),
            call: "superAdmin(h);".into(),
        });
        // The same list db/03-rbac.sql seeds: the routes' permissions and the features' own.
        let permissions = view::all_permissions(m, tenanted(m)).into_iter().map(|(slug, ..)| slug).collect();
        let first_admin = format!(
            "INSERT INTO {} ({}, {}) SELECT u.{}, r.{} FROM {} u, {} r WHERE u.{} = 'you@example.com' AND r.{} = 'super-admin';",
            sql::table(&r.user_roles),
            sql::ident(&r.user_role_user),
            sql::ident(&r.user_role_role),
            sql::ident(&a.id),
            sql::ident(&r.role_id),
            sql::qualified(&a.schema, &a.table),
            sql::table(&r.roles),
            sql::ident(&a.email),
            sql::ident(&r.role_slug),
        );
        out.readme
            .push(Rendered::new("rbac/readme.md.j2", ReadmeView { tenancy: tenanted(m), permissions, first_admin })?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        if m.state::<RbacModel>().is_none() || !r.feature(DEF.id) {
            return Ok(());
        }
        // Embedding the resource's rows in another answer takes its list route's permission.
        if let Some(list) = nest_nestjs::core_routes(r).into_iter().find(|x| x.id == "list") {
            out.extensions.push(SpecExtension {
                factory: "readPermission".into(),
                module: "core/rbac/read-permission".into(),
                arg: format!("{{ permission: {} }}", nest_nestjs::quote::string(&list.permission)),
            });
        }
        Ok(())
    }

    fn route(&self, m: &Model, r: &Resource, route: &Route, out: &mut Vec<Decorator>) {
        use nest_nestjs::layout::Doc;
        if m.state::<RbacModel>().is_none() || !r.feature(DEF.id) {
            return;
        }
        let p = &route.permission;
        let decorators = "../../core/rbac/permission.decorator.js";
        let swagger = "@nestjs/swagger";
        out.push(Decorator::new(format!("@RequirePermission('{p}')"), &[("RequirePermission", decorators)]));
        out.push(Decorator::new(
            format!("@ApiExtension('x-required-permission', '{p}')"),
            &[("ApiExtension", swagger)],
        ));
        // At a method's indent, as Prettier breaks it when a long permission makes it too wide.
        let forbidden = nest_nestjs::layout::Doc::object_of(
            [
                ("type", Doc::text("ErrorResponseDto")),
                ("description", Doc::string(&format!("Requires permission {p}"))),
            ],
            false,
        );
        out.push(Decorator::new(
            nest_nestjs::layout::print(&Doc::call("@ApiForbiddenResponse", vec![forbidden]), 2, 2, ""),
            &[("ApiForbiddenResponse", swagger), ("ErrorResponseDto", "../../core/crud/dto.js")],
        ));
        // Soft-deleted rows need the table's restore permission too.
        if r.soft_delete.is_some() && matches!(route.id.as_str(), "list" | "get" | "aggregate" | "export") {
            let restore = format!("{}:restore", r.names.permission);
            out.push(Decorator::new(
                format!("@WithDeletedPermission('{restore}')"),
                &[("WithDeletedPermission", decorators)],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::view::default_role;
    use crate::testing::seed;
    use nest_model::Model;

    fn who(m: &Model, table: &str, action: &str) -> Option<&'static str> {
        let res = m.resource(table).unwrap_or_else(|| panic!("{table}"));
        default_role(super::tenanted(m), res.data, action)
    }

    #[test]
    fn with_tenancy_default_roles_stay_inside_tenants_and_own_rows() {
        let m = seed(&["."], "");
        assert!(super::tenanted(&m));
        assert_eq!(who(&m, "projects", "read"), Some("guest"));
        assert_eq!(who(&m, "projects", "delete"), Some("admin"));
        assert_eq!(who(&m, "files", "create"), Some("user"), "files carry the tenant column");
        assert_eq!(who(&m, "notifications", "delete"), Some("user"), "own rows: users manage theirs");
        assert_eq!(who(&m, "notifications", "all"), None, "every row: platform admins only");
        assert_eq!(who(&m, "users", "read"), Some("guest"), "one's own account");
        assert_eq!(who(&m, "users", "all"), None);
        for platform in ["roles", "user_roles", "audit_logs", "notification_templates", "events", "file_shares"] {
            assert_eq!(who(&m, platform, "read"), None, "{platform} is platform data");
        }
        let v = super::view::rbac_sql_view(&m, m.state::<super::RbacModel>().expect("rbac"), true);
        let admin = v.grant("'admin'").expect("admin grants");
        assert!(!admin.contains("'roles:manage'") && !admin.contains(":all'"), "{admin}");
    }

    #[test]
    fn without_tenancy_admin_reads_assignments_and_the_trail() {
        let m = seed(
            &["02-rbac.sql", "03-audit.sql", "03b-audit-trigger.sql", "07-notifications.sql"],
            "[features]\nrbac = true\n",
        );
        assert!(!super::tenanted(&m));
        assert_eq!(who(&m, "roles", "read"), Some("guest"));
        assert_eq!(who(&m, "roles", "create"), None, "role tables are never written by a default role");
        assert_eq!(who(&m, "user_roles", "read"), Some("admin"));
        assert_eq!(who(&m, "audit_logs", "read"), Some("admin"));
        assert_eq!(who(&m, "users", "all"), Some("admin"));
        assert_eq!(who(&m, "notifications", "all"), Some("admin"));
        assert_eq!(who(&m, "notification_templates", "create"), Some("user"));
        let v = super::view::rbac_sql_view(&m, m.state::<super::RbacModel>().expect("rbac"), false);
        let admin = v.grant("'admin'").expect("admin grants");
        for p in ["'roles:manage'", "'users:all'", "'notifications:all'", "'audit_logs:read'"] {
            assert!(admin.contains(p), "{p}: {admin}");
        }
    }
}
