//! Who a row belongs to and who acts on it, decided by the server from the signed-in user:
//!
//! - actor columns (`owner_id`, `created_by`, `uploaded_by`, `updated_by`, ...) are set from the
//!   signed-in user and never taken from the client;
//! - the own-rows scope: a user reads and changes only rows whose owner column is theirs
//!   (`notifications.user_id`), unless they hold `<resource>:all`; the users table is scoped to
//!   the signed-in user's own row the same way, and its privileged columns (status, role, plan,
//!   ...) are changed only by holders of `users:all`.
//!
//! Actor columns are recognised by name and by pointing at the users table: a foreign key to it,
//! or (schemas that leave the key out, like the seed's `files.owner_id`) no foreign key at all and
//! the users table's id type. Config: `[tables.t.columns.c] actor = true|false`,
//! `[tables.t] owner_column = "..."`, `--features.own-rows=true|false`.
//!
//! State: [`OwnRowsState`]. Needs sign-in.

use crate::auth::AuthModel;
use crate::tenancy::TenancyModel;
use nest_catalog::{QualifiedName, Table};
use nest_model::settings::{ConfigKey, KeyScope};
use nest_model::{
    Access, DataClass, FeatureDef, Grant, MetaSwitch, Model, ModelCx, Permission, Resolve, Resource, ResourceKind,
    ServerSet, Setting, Source,
};
use nest_nestjs::quote as ts;
use nest_nestjs::{
    Assets, Contribute, Contributions, DbFile, Decorator, RenderError, Rendered, ResourceContributions, SpecExtension,
};
use serde::Serialize;

pub struct OwnRows;

pub static DEF: FeatureDef = FeatureDef {
    id: "own-rows",
    about: "each user sees and changes only the rows they own (user_id, owner_id, or owner_column)",
    meta: MetaSwitch::None,
    implemented: true,
};

fn string_value(v: &toml::Value) -> Result<(), String> {
    v.as_str().map(|_| ()).ok_or_else(|| "write a column name in quotes".into())
}

fn bool_value(v: &toml::Value) -> Result<(), String> {
    v.as_bool().map(|_| ()).ok_or_else(|| "write true or false".into())
}

static KEYS: &[ConfigKey] = &[
    // `[tables.t] owner_column = "..."`: the column naming the user who owns a row.
    ConfigKey { scope: KeyScope::Table, name: "owner_column", check: string_value },
    // `[tables.t.columns.c] actor = true|false`: set from the signed-in user on create, or not.
    ConfigKey { scope: KeyScope::Column, name: "actor", check: bool_value },
];

/// The own-rows scope of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerScope {
    pub table: QualifiedName,
    /// The column naming the owner (the key itself on the users table).
    pub column: String,
    /// Its type, for casts.
    pub column_type: String,
    /// Permission that lifts the scope: `<resource>:all`.
    pub bypass: String,
    /// The users table: the scope is the user's own row (the key), not an owner column.
    pub is_self: bool,
    /// The users table with tenancy: owners and admins of the current tenant also read its members.
    pub members: bool,
    /// Row-level security enforces it too (tables; not the users table, which sign-in reads
    /// before anyone is known).
    pub rls: bool,
    /// No permissive policy on the table yet (from the schema or tenancy): db/06-owner.sql adds
    /// one that its restrictive owner policy narrows.
    pub needs_permissive: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct OwnRowsState {
    pub scopes: Vec<OwnerScope>,
}

impl OwnRowsState {
    pub fn scope_of(&self, table: &QualifiedName) -> Option<&OwnerScope> {
        self.scopes.iter().find(|s| s.table == *table)
    }
}

const ON_CREATE: &[&str] = &[
    "owner_id",
    "owner_user_id",
    "owned_by",
    "created_by",
    "created_by_id",
    "created_by_user_id",
    "creator_id",
    "author_id",
    "actor_id",
    "uploaded_by",
    "uploaded_by_id",
    "uploader_id",
    "shared_by",
    "shared_by_id",
    "assigned_by",
    "granted_by",
    "invited_by",
    "added_by",
    "submitted_by",
    "requested_by",
    "posted_by",
    "reported_by",
];
const ON_UPDATE: &[&str] =
    &["updated_by", "updated_by_id", "modified_by", "modified_by_id", "last_modified_by", "edited_by", "changed_by"];
const ON_DELETE: &[&str] = &["deleted_by", "deleted_by_id", "removed_by"];

/// What a column's name says about who writes it (without looking at its type).
pub fn actor_kind(column: &str) -> Option<ServerSet> {
    let c = column.to_ascii_lowercase();
    if ON_CREATE.contains(&c.as_str()) {
        Some(ServerSet::ActorOnCreate)
    } else if ON_UPDATE.contains(&c.as_str()) {
        Some(ServerSet::ActorOnUpdate)
    } else if ON_DELETE.contains(&c.as_str()) {
        Some(ServerSet::ActorOnDelete)
    } else if c.ends_with("_by") || c.ends_with("_by_id") {
        Some(ServerSet::SelfOnly)
    } else {
        None
    }
}

/// Does `column` of `t` hold a user id: a foreign key to the users table, or no foreign key and
/// the users id type. `strict` (names that are only actors by convention, `*_by`) needs the key.
fn points_at_users(t: &Table, column: &str, auth: &AuthModel, cast_type: &str, strict: bool) -> bool {
    let fks: Vec<_> = t.foreign_keys.iter().filter(|f| f.columns.iter().any(|c| c == column)).collect();
    if fks.is_empty() {
        return !strict && cast_type == auth.id_type;
    }
    fks.iter().any(|f| f.columns.len() == 1 && f.references == auth.users())
}

/// Columns of an account that say what it may do or what it is worth: a user must not set them
/// on their own account (status, role, is_admin, plan, credits, ...).
pub fn is_privileged_name(column: &str) -> bool {
    const EXACT: &[&str] = &[
        "status",
        "state",
        "role",
        "roles",
        "role_id",
        "is_admin",
        "admin",
        "is_superuser",
        "superuser",
        "is_super_admin",
        "super_admin",
        "is_staff",
        "staff",
        "permissions",
        "permission",
        "scopes",
        "level",
        "plan",
        "plan_id",
        "tier",
        "is_active",
        "active",
        "enabled",
        "is_enabled",
        "disabled",
        "is_disabled",
        "banned",
        "is_banned",
        "blocked",
        "is_blocked",
        "locked",
        "is_locked",
        "suspended",
        "is_suspended",
        "credits",
        "balance",
        "karma",
        "reputation",
        "verified",
        "is_verified",
        "approved",
        "is_approved",
        "deleted",
        "is_deleted",
        "type",
        "kind",
        "account_type",
        "user_type",
        "group_id",
    ];
    let c = column.to_ascii_lowercase();
    EXACT.contains(&c.as_str())
        || ["subscription", "billing", "quota", "trial_", "stripe_", "customer_id"].iter().any(|p| c.starts_with(p))
        || ["_role", "_status", "_level", "_tier", "_plan", "_verified", "_approved", "_quota"]
            .iter()
            .any(|s| c.ends_with(s))
}

/// Tables whose rows are not a user's own data even when they carry a user id: the users table,
/// RBAC's tables, the membership and tenant tables, the audit trail.
fn structural(r: &Resource, cx: &ModelCx) -> bool {
    matches!(r.data, DataClass::Accounts | DataClass::Powers | DataClass::Assignments | DataClass::Trail)
        || cx.state::<TenancyModel>().is_some_and(|m| r.is(&m.members) || r.is(&m.tenant))
}

/// Mark a table's actor columns (not in the audit trail's own tables: their rows are written by
/// the audit).
fn mark_actors(r: &mut Resource, t: &Table, auth: &AuthModel, tcfg: Option<&nest_model::settings::TableConfig>) {
    for f in r.fields.iter_mut() {
        if f.is_key {
            continue;
        }
        let configured = tcfg.and_then(|c| c.columns.get(&f.column)).and_then(|c| c.bool("actor"));
        let kind = match configured {
            Some(false) => continue,
            Some(true) => {
                Some(actor_kind(&f.column).filter(|k| *k != ServerSet::SelfOnly).unwrap_or(ServerSet::ActorOnCreate))
            }
            None => actor_kind(&f.column)
                .filter(|k| points_at_users(t, &f.column, auth, &f.cast_type, *k == ServerSet::SelfOnly) && !f.array),
        };
        let Some(kind) = kind else { continue };
        if f.cast_type != auth.id_type {
            continue;
        }
        f.server = Some(kind);
        match kind {
            ServerSet::SelfOnly => {
                f.why = Some("names a user: clients may set it only to themselves".into());
            }
            _ => {
                f.access = if f.readable() { Access::ReadOnly } else { Access::None };
                f.required_on_create = false;
                f.why = Some(
                    match kind {
                        ServerSet::ActorOnCreate => "set from the signed-in user on create",
                        ServerSet::ActorOnUpdate => "set from the signed-in user on every change",
                        _ => "set from the signed-in user on delete",
                    }
                    .into(),
                );
            }
        }
    }
    r.operations.update = r.operations.update && r.fields.iter().any(|f| f.writable() && !f.is_key);
}

/// The own-rows scope of a table other than the users table, if it has one.
fn table_scope(
    r: &mut Resource,
    t: &Table,
    auth: &AuthModel,
    owner_column: Option<String>,
    structural: bool,
) -> Option<OwnerScope> {
    let setting = r.features.get(DEF.id).cloned();
    if setting.as_ref().is_some_and(|s| !s.value) {
        return None;
    }
    let explicit = setting.is_some() || owner_column.is_some();
    if !explicit && structural {
        return None;
    }
    let candidate = |name: &str| {
        r.fields.iter().position(|f| {
            f.column == name
                && !f.array
                && f.cast_type == auth.id_type
                && points_at_users(t, name, auth, &f.cast_type, false)
        })
    };
    let found = match &owner_column {
        Some(c) => {
            let at = r.fields.iter().position(|f| &f.column == c && !f.array && f.cast_type == auth.id_type);
            if at.is_none() {
                let note = format!(
                    "owner_column = \"{c}\": {} has no column {c} of the users id type ({}); no own-rows scope",
                    r.table, auth.id_type
                );
                r.note(DEF.id, note);
                return None;
            }
            at
        }
        None if explicit => {
            ["user_id", "owner_id", "owner_user_id", "recipient_id", "created_by"].iter().find_map(|c| candidate(c))
        }
        // Inferred: a required user_id (notifications.user_id, notification_preferences.user_id).
        None => candidate("user_id").filter(|&i| !r.fields[i].nullable),
    };
    let Some(idx) = found else {
        if explicit {
            let note = format!(
                "own-rows asked by {} but {} has no column naming its owner; set owner_column in nest-generator.toml",
                setting.map(|s| s.source.to_string()).unwrap_or_else(|| "nest-generator.toml".into()),
                r.table
            );
            r.note(DEF.id, note);
        }
        return None;
    };
    if setting.is_none() {
        let source = match &owner_column {
            Some(_) => Source::Config,
            None => Source::Inferred(format!("{} names the user the row belongs to", r.fields[idx].column)),
        };
        r.features.insert(DEF.id.into(), Setting::new(true, source));
    }
    // The owner is the signed-in user, set by the server — a key column too (one row per user,
    // such as preferences keyed by user_id: the client names no id, the session does).
    let f = &mut r.fields[idx];
    f.server = Some(ServerSet::ActorOnCreate);
    f.access = Access::ReadOnly;
    f.required_on_create = false;
    f.why = Some("the owner: the signed-in user".into());
    let (column, column_type) = (f.column.clone(), f.cast_type.clone());
    let note = format!(
        "{}: each user sees and changes only rows whose {column} is theirs (holders of {}:all see every row)",
        r.table, r.names.permission
    );
    r.note(DEF.id, note);
    r.operations.update = r.fields.iter().any(|f| f.writable() && !f.is_key) && !r.readonly.value;
    r.classify(DataClass::Owned);
    Some(OwnerScope {
        table: r.qname(),
        column,
        column_type,
        bypass: format!("{}:all", r.names.permission),
        is_self: false,
        members: false,
        rls: r.kind == ResourceKind::Table,
        needs_permissive: false,
    })
}

/// The users table: a user sees and changes their own row; tenant owners and admins read the
/// members of their tenant; `users:all` lifts the scope (platform admins).
fn users_scope(r: &mut Resource, tenancy: bool) -> Option<OwnerScope> {
    // Not settable at sign-up either (the register DTO leaves them out).
    for f in r.fields.iter_mut().filter(|f| f.writable() && is_privileged_name(&f.column)) {
        f.privileged = true;
        f.why = Some(format!("only holders of {}:all change it (not on one's own account)", r.names.permission));
    }
    if r.features.get(DEF.id).is_some_and(|s| !s.value) {
        let note =
            format!("{}: own-rows turned off: holders of {}:read read every account", r.table, r.names.permission);
        r.note(DEF.id, note);
        return None;
    }
    let &key = r.key.first().filter(|_| r.key.len() == 1)?;
    if !r.features.contains_key(DEF.id) {
        r.features.insert(
            DEF.id.into(),
            Setting::new(true, Source::Inferred("accounts: each user sees their own row".into())),
        );
    }
    let note = format!(
        "{}: a user reads and changes their own account{}; holders of {}:all see every account",
        r.table,
        if tenancy { ", and owners and admins of a tenant read its members" } else { "" },
        r.names.permission
    );
    r.note(DEF.id, note);
    Some(OwnerScope {
        table: r.qname(),
        column: r.fields[key].column.clone(),
        column_type: r.fields[key].cast_type.clone(),
        bypass: format!("{}:all", r.names.permission),
        is_self: true,
        members: tenancy,
        rls: false,
        needs_permissive: false,
    })
}

impl Resolve for OwnRows {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn config_keys(&self) -> &'static [ConfigKey] {
        KEYS
    }

    /// Mark actor columns, resolve the own-rows scope of every resource, scope the users table to
    /// the signed-in user.
    fn resolve(&self, cx: &mut ModelCx) {
        let Some(auth) = cx.state::<AuthModel>().cloned() else { return };
        let tenancy = cx.state::<TenancyModel>().cloned();
        let (catalog, config) = (cx.catalog, cx.config);
        let mut state = OwnRowsState::default();
        for i in 0..cx.resources.len() {
            let r = &cx.resources[i];
            let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
            if r.kind != ResourceKind::Table {
                continue;
            }
            let tcfg = config.table(&r.schema, &r.table);
            let is_users = r.is(&auth.users());
            let structural = structural(r, cx);
            let in_trail = r.data == DataClass::Trail;
            let owner_column = tcfg.and_then(|c| c.str("owner_column")).map(str::to_string);
            let own_permissive = t.policies.iter().any(|p| p.permissive);
            let r = &mut cx.resources[i];
            let scope = if is_users {
                users_scope(r, tenancy.is_some())
            } else {
                if !in_trail {
                    mark_actors(r, t, &auth, tcfg);
                }
                table_scope(r, t, &auth, owner_column, structural)
            };
            if let Some(mut s) = scope {
                // Owners and admins read the accounts of their tenant's members: which those
                // are is in the membership table and the accepted invitations.
                if let (true, Some(m)) = (s.members, tenancy.as_ref()) {
                    r.reads_from.insert(m.members.clone());
                    r.reads_from.insert(nest_catalog::QualifiedName::new("nestgen", "member_links"));
                }
                let tenant_policies = tenancy.as_ref().is_some_and(|m| m.column_of(&s.table).is_some());
                s.needs_permissive = !tenant_policies && !own_permissive;
                if r.feature("rbac") {
                    cx.permissions.push(Permission { slug: s.bypass.clone(), grant: Grant::Admin });
                }
                if s.rls {
                    r.app_settings.insert("nestgen.user_id".into());
                }
                state.scopes.push(s);
            }
        }
        cx.states.insert(DEF.id, state);
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(s) = m.state::<OwnRowsState>().and_then(|o| o.scope_of(&r.qname())) else { return Vec::new() };
        vec![format!(
            "own rows: by {}{}; {} sees every row",
            s.column,
            if s.rls { ", also in row-level security" } else { "" },
            s.bypass
        )]
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates!["templates", "own-rows"; "owner.sql.j2", "readme.md.j2"];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files!["runtime"; "src/core/auth/own-rows.ts"];

#[derive(Serialize)]
struct OwnedTableView {
    table: String,
    column: String,
    #[serde(rename = "type")]
    ty: String,
    needs_permissive: bool,
}

#[derive(Serialize)]
struct OwnerSqlView {
    tables: Vec<OwnedTableView>,
}

#[derive(Serialize)]
struct ReadmeView {
    /// Own-rows tables and their owner column.
    owned: Vec<(String, String)>,
    tenancy: bool,
}

/// `{ column, type, bypass, self, rls, members? }` of a resource with the own-rows scope.
fn spec(m: &Model, s: &OwnerScope) -> String {
    let members = match (m.state::<AuthModel>(), m.state::<TenancyModel>()) {
        (Some(a), Some(t)) if s.members => format!(
            ", members: {{ sql: {}, setting: {}, type: {}, table: {} }}",
            ts::string(&crate::tenancy::members_condition(a, t)),
            ts::string(&t.setting),
            ts::string(&t.tenant_id_type),
            ts::string(&nest_catalog::quote::qualified_always(&a.schema, &a.table))
        ),
        _ => String::new(),
    };
    format!(
        "{{ column: {}, type: {}, bypass: {}, self: {}, rls: {}{members} }}",
        ts::string(&s.column),
        ts::string(&s.column_type),
        ts::string(&s.bypass),
        s.is_self,
        s.rls,
    )
}

impl Contribute for OwnRows {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: &[] }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(state) = m.state::<OwnRowsState>() else { return Ok(()) };
        if state.scopes.is_empty() {
            return Ok(());
        }
        out.runtime.extend(RUNTIME);
        let ident = nest_catalog::quote::ident_always;
        let tables: Vec<OwnedTableView> = state
            .scopes
            .iter()
            .filter(|s| s.rls)
            .map(|s| OwnedTableView {
                table: format!("{}.{}", ident(&s.table.schema), ident(&s.table.name)),
                column: ident(&s.column),
                ty: s.column_type.clone(),
                needs_permissive: s.needs_permissive,
            })
            .collect();
        if tables.is_empty() {
            return Ok(());
        }
        out.db.push(DbFile {
            name: "06-owner.sql".into(),
            body: Rendered::new("own-rows/owner.sql.j2", OwnerSqlView { tables })?,
            doc: "row-level security of own-rows tables.".into(),
        });
        let owned =
            state.scopes.iter().filter(|s| !s.is_self).map(|s| (s.table.to_string(), s.column.clone())).collect();
        let tenancy = m.state::<TenancyModel>().is_some();
        out.readme.push(Rendered::new("own-rows/readme.md.j2", ReadmeView { owned, tenancy })?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<OwnRowsState>().and_then(|o| o.scope_of(&r.qname())) else { return Ok(()) };
        out.extensions.push(SpecExtension {
            factory: "ownRows".into(),
            module: "core/auth/own-rows".into(),
            arg: spec(m, s),
        });
        if s.members && m.state::<TenancyModel>().is_some() {
            // The users table: owners and admins read the members of the caller's organization.
            out.class_decorators.push(Decorator::new(
                "@TenantOptional()",
                &[("TenantOptional", "../../core/tenancy/tenant.decorator.js")],
            ));
        }
        out.class_decorators.push(Decorator::new(
            format!("@OwnerScoped('{}')", s.bypass),
            &[("OwnerScoped", "../../core/rbac/permission.decorator.js")],
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::field;

    const SCHEMA: &str = "
        CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL,
          failed_login_attempts int DEFAULT 0, locked_until timestamptz, email_verified_at timestamptz);
        CREATE TABLE orgs (id uuid PRIMARY KEY, name text NOT NULL);
        CREATE TABLE members (id uuid PRIMARY KEY, org_id uuid NOT NULL REFERENCES orgs(id), email text NOT NULL, role text);
        CREATE TABLE docs (id uuid PRIMARY KEY, org_id uuid NOT NULL REFERENCES orgs(id), title text NOT NULL,
          owner_id uuid NOT NULL, created_by uuid REFERENCES users(id), updated_by uuid REFERENCES users(id),
          deleted_by uuid REFERENCES users(id), approved_by uuid REFERENCES users(id), reviewer_by text,
          view_count int DEFAULT 0, last_viewed_at timestamptz, deleted_at timestamptz);
        CREATE TABLE files (id uuid PRIMARY KEY, org_id uuid, name text NOT NULL, uploader uuid);
        CREATE TABLE tags (id uuid PRIMARY KEY, org_id uuid, name text NOT NULL);
        CREATE TABLE inbox (id uuid PRIMARY KEY, user_id uuid NOT NULL, body text NOT NULL);
        CREATE TABLE stats (id uuid PRIMARY KEY, user_id uuid, value int);
    ";

    /// The schema with docs tenant-scoped by metadata.
    fn model(config: &str) -> Model {
        let sql = format!(
            "{SCHEMA}
             INSERT INTO meta.table_metadata (schema_name, table_name, enable_swagger) VALUES ('public', 'docs', true);
             INSERT INTO meta.enterprise_features (table_metadata_id, enable_tenant_isolation, tenant_column_name)
               SELECT id, true, 'org_id' FROM meta.table_metadata WHERE table_name = 'docs';"
        );
        crate::testing::model(&sql, config)
    }

    #[test]
    fn actor_columns_are_set_by_the_server() {
        let m = model("");
        assert!(m.errors.is_empty(), "{:#?}", m.diagnostics());
        // No foreign key, but the users id type and an owner's name.
        assert_eq!(field(&m, "docs", "owner_id").server, Some(ServerSet::ActorOnCreate));
        assert!(!field(&m, "docs", "owner_id").writable());
        assert_eq!(field(&m, "docs", "created_by").server, Some(ServerSet::ActorOnCreate));
        assert_eq!(field(&m, "docs", "updated_by").server, Some(ServerSet::ActorOnUpdate));
        assert_eq!(field(&m, "docs", "deleted_by").server, Some(ServerSet::ActorOnDelete));
        // Another *_by pointing at users: writable, but only to oneself.
        let approved = field(&m, "docs", "approved_by");
        assert_eq!(approved.server, Some(ServerSet::SelfOnly));
        assert!(approved.writable());
        // Not a user id: left alone.
        assert_eq!(field(&m, "docs", "reviewer_by").server, None);
        // Counters and activity stamps.
        assert!(!field(&m, "docs", "view_count").writable());
        assert!(!field(&m, "docs", "last_viewed_at").writable());
        // Sign-in state is never returned.
        assert!(!field(&m, "users", "failed_login_attempts").readable());
        assert!(!field(&m, "users", "locked_until").readable());
    }

    #[test]
    fn config_overrides_actor_inference() {
        let m = model("[tables.docs.columns.owner_id]\nactor = false\n");
        assert_eq!(field(&m, "docs", "owner_id").server, None);
        assert!(field(&m, "docs", "owner_id").writable());
    }

    #[test]
    fn own_rows_from_a_required_user_id_the_users_table_scoped_to_self() {
        let scope = |m: &Model, name: &str| {
            m.state::<OwnRowsState>().and_then(|s| s.scope_of(&m.resource(name).unwrap().qname()).cloned())
        };
        let m = model("");
        let o = scope(&m, "inbox").expect("inbox is owned");
        assert_eq!(o.column, "user_id");
        assert_eq!(o.bypass, "inbox:all");
        assert!(o.rls, "row-level security enforces it too");
        assert!(!field(&m, "inbox", "user_id").writable(), "the owner is the signed-in user");
        assert_eq!(m.resource("inbox").unwrap().data, DataClass::Owned);
        // A nullable user_id is a dimension, not an owner.
        assert!(scope(&m, "stats").is_none());
        let users = scope(&m, "users").expect("accounts are scoped");
        assert!(users.is_self && users.members && !users.rls);
        // Asked for explicitly, with the column named in the config.
        let m = model("[tables.files]\nowner_column = \"uploader\"\n");
        assert_eq!(scope(&m, "files").map(|o| o.column), Some("uploader".into()));
        let m = model("[tables.files]\nowner_column = \"name\"\n");
        assert!(
            scope(&m, "files").is_none()
                && m.resource("files").unwrap().notes.iter().any(|n| n.message.contains("owner_column = \"name\"")),
            "a text column is no owner"
        );
        let m = model("[tables.inbox]\nfeatures = { own-rows = false }\n");
        assert!(scope(&m, "inbox").is_none());
        // A misspelt key is refused when the config is read, naming the keys features accept.
        let e = crate::parse_config("[tables.files]\nowner_colum = \"uploader\"\n").unwrap_err();
        assert!(e.contains("owner_colum") && e.contains("owner_column"), "{e}");
    }
}
