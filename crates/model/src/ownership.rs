//! Who a row belongs to and who acts on it, decided by the server from the signed-in user:
//!
//! - actor columns (`owner_id`, `created_by`, `uploaded_by`, `updated_by`, ...) are set from the
//!   signed-in user and never taken from the client;
//! - the own-rows scope: a user reads and changes only rows whose owner column is theirs
//!   (`notifications.user_id`), unless they hold `<resource>:all`; the users table is scoped to
//!   the signed-in user's own row the same way.
//!
//! Actor columns are recognised by name and by pointing at the users table: a foreign key to it,
//! or (schemas that leave the key out, like the seed's `files.owner_id`) no foreign key at all and
//! the users table's id type. Config: `[tables.t.columns.c] actor = true|false`,
//! `[tables.t] owner_column = "..."`, `--features.own-rows=true|false`.

use crate::fields::ServerSet;
use crate::security::{AuthModel, RbacModel, TenancyModel};
use crate::settings::{Config, Setting, Source};
use crate::{Access, Resource, ResourceKind};
use nest_catalog::{Catalog, Table};

/// The own-rows scope of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerScope {
    /// Index into `fields` of the column naming the owner (the key itself on the users table).
    pub field: usize,
    /// Permission that lifts the scope: `<resource>:all`.
    pub bypass: String,
    /// The users table: the scope is the user's own row (the key), not an owner column.
    pub is_self: bool,
    /// The users table with tenancy: owners and admins of the current tenant also read its members.
    pub members: bool,
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
    fks.iter().any(|f| f.columns.len() == 1 && f.references.schema == auth.schema && f.references.name == auth.table)
}

/// Tables whose rows are not a user's own data even when they carry a user id: the users table,
/// RBAC assignments, the membership table, the audit trail.
fn structural(
    r: &Resource,
    auth: &AuthModel,
    rbac: Option<&RbacModel>,
    tenancy: Option<&TenancyModel>,
    audit_store: &dyn Fn(&Resource) -> bool,
) -> bool {
    (r.schema == auth.schema && r.table == auth.table)
        || rbac.is_some_and(|m| m.tables().iter().any(|t| t.schema == r.schema && t.table == r.table))
        || tenancy.is_some_and(|m| {
            (m.members.schema == r.schema && m.members.table == r.table)
                || (m.tenant.schema == r.schema && m.tenant.table == r.table)
        })
        || audit_store(r)
}

pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub config: &'a Config,
    pub auth: &'a AuthModel,
    pub rbac: Option<&'a RbacModel>,
    pub tenancy: Option<&'a TenancyModel>,
}

/// Mark actor columns, resolve the own-rows scope of every resource, scope the users table to
/// the signed-in user.
pub fn resolve(cx: &Context, resources: &mut [Resource]) {
    let audit_store = {
        let store = crate::audit::find_log_table(cx.catalog).map(|l| crate::audit::detect(cx.catalog, l, &[], None));
        move |r: &Resource| store.as_ref().is_some_and(|s| crate::audit::is_store(s, &r.schema, &r.table))
    };
    for r in resources.iter_mut() {
        let Some(t) = cx.catalog.table(&r.schema, &r.table) else { continue };
        if r.kind != ResourceKind::Table {
            continue;
        }
        let tcfg = cx.config.table(&r.schema, &r.table);
        let is_users = r.schema == cx.auth.schema && r.table == cx.auth.table;
        if is_users {
            users_scope(cx, r);
            continue;
        }
        // Actor columns (not in the audit trail's own tables: their rows are written by the audit).
        let store = audit_store(r);
        for f in r.fields.iter_mut() {
            if f.is_key || store {
                continue;
            }
            let configured = tcfg.and_then(|c| c.columns.get(&f.column)).and_then(|c| c.actor);
            let kind = match configured {
                Some(false) => continue,
                Some(true) => Some(
                    actor_kind(&f.column).filter(|k| *k != ServerSet::SelfOnly).unwrap_or(ServerSet::ActorOnCreate),
                ),
                None => actor_kind(&f.column).filter(|k| {
                    points_at_users(t, &f.column, cx.auth, &f.cast_type, *k == ServerSet::SelfOnly) && !f.array
                }),
            };
            let Some(kind) = kind else { continue };
            if f.cast_type != cx.auth.id_type {
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

        // Own-rows scope.
        let setting = r.features.get("own-rows").cloned();
        if setting.as_ref().is_some_and(|s| !s.value) {
            continue;
        }
        let configured = tcfg.and_then(|c| c.owner_column.clone());
        let explicit = setting.is_some() || configured.is_some();
        if !explicit && structural(r, cx.auth, cx.rbac, cx.tenancy, &audit_store) {
            continue;
        }
        let candidate = |name: &str| {
            r.fields.iter().position(|f| {
                f.column == name
                    && !f.array
                    && f.cast_type == cx.auth.id_type
                    && points_at_users(t, name, cx.auth, &f.cast_type, false)
            })
        };
        let found = match &configured {
            Some(c) => {
                let at = r.fields.iter().position(|f| &f.column == c && !f.array && f.cast_type == cx.auth.id_type);
                if at.is_none() {
                    r.notes.push(format!(
                        "owner_column = \"{c}\": {} has no column {c} of the users id type ({}); no own-rows scope",
                        r.table, cx.auth.id_type
                    ));
                    continue;
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
                r.notes.push(format!(
                    "own-rows asked by {} but {} has no column naming its owner; set owner_column in nest-generator.toml",
                    setting.map(|s| s.source.to_string()).unwrap_or_else(|| "nest-generator.toml".into()),
                    r.table
                ));
            }
            continue;
        };
        if setting.is_none() {
            let why = match &configured {
                Some(c) => format!("owner_column = \"{c}\""),
                None => format!("{} names the user the row belongs to", r.fields[idx].column),
            };
            let source = if configured.is_some() { Source::Config } else { Source::Inferred(why) };
            r.features.insert("own-rows".into(), Setting::new(true, source));
        }
        let f = &mut r.fields[idx];
        if !f.is_key {
            f.server = Some(ServerSet::ActorOnCreate);
            f.access = Access::ReadOnly;
            f.required_on_create = false;
            f.why = Some("the owner: the signed-in user".into());
        }
        r.owner = Some(OwnerScope {
            field: idx,
            bypass: format!("{}:all", r.names.permission),
            is_self: false,
            members: false,
        });
        r.notes.push(format!(
            "{}: each user sees and changes only rows whose {} is theirs (holders of {}:all see every row)",
            r.table, r.fields[idx].column, r.names.permission
        ));
        r.operations.update = r.fields.iter().any(|f| f.writable() && !f.is_key) && !r.readonly.value;
    }
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

/// The users table: a user sees and changes their own row; tenant owners and admins read the
/// members of their tenant; `users:all` lifts the scope (platform admins).
fn users_scope(cx: &Context, r: &mut Resource) {
    // Not settable at sign-up either (the register DTO leaves them out).
    for f in r.fields.iter_mut().filter(|f| f.writable() && is_privileged_name(&f.column)) {
        f.privileged = true;
        f.why = Some(format!("only holders of {}:all change it (not on one's own account)", r.names.permission));
    }
    if r.features.get("own-rows").is_some_and(|s| !s.value) {
        r.notes.push(format!(
            "{}: own-rows turned off: holders of {}:read read every account",
            r.table, r.names.permission
        ));
        return;
    }
    let Some(&key) = r.key.first().filter(|_| r.key.len() == 1) else { return };
    r.owner = Some(OwnerScope {
        field: key,
        bypass: format!("{}:all", r.names.permission),
        is_self: true,
        members: cx.tenancy.is_some(),
    });
    if !r.features.contains_key("own-rows") {
        r.features.insert(
            "own-rows".into(),
            Setting::new(true, Source::Inferred("accounts: each user sees their own row".into())),
        );
    }
    r.notes.push(format!(
        "{}: a user reads and changes their own account{}; holders of {}:all see every account",
        r.table,
        if cx.tenancy.is_some() { ", and owners and admins of a tenant read its members" } else { "" },
        r.names.permission
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Selection, build};

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

    fn model(config: &str) -> crate::Model {
        let mut sql = SCHEMA.to_string();
        sql.push_str(
            "INSERT INTO meta.table_metadata (schema_name, table_name, enable_swagger) VALUES ('public', 'docs', true);
             INSERT INTO meta.enterprise_features (table_metadata_id, enable_tenant_isolation, tenant_column_name)
               SELECT id, true, 'org_id' FROM meta.table_metadata WHERE table_name = 'docs';",
        );
        let catalog = nest_ddl::parse_str("t.sql", &sql);
        assert!(!catalog.has_errors(), "{:#?}", catalog.diagnostics);
        let config = crate::Config::parse(config).unwrap();
        build(&catalog, &config, &Selection::default())
    }

    fn field<'a>(m: &'a crate::Model, table: &str, column: &str) -> &'a crate::Field {
        m.resource(table).unwrap().fields.iter().find(|f| f.column == column).unwrap()
    }

    #[test]
    fn actor_columns_are_set_by_the_server() {
        let m = model("");
        assert!(m.diagnostics.is_empty(), "{:#?}", m.diagnostics);
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
    fn tenant_column_tables_are_tenant_scoped_unless_excluded() {
        let m = model("");
        let t = m.tenancy.as_ref().expect("tenancy from docs' metadata");
        assert_eq!(t.tenant.table, "orgs");
        // files and tags carry org_id without a foreign key: scoped by default.
        for name in ["docs", "files", "tags", "members"] {
            assert!(m.resource(name).unwrap().tenant_column.is_some(), "{name} is tenant data");
        }
        let files = m.resource("files").unwrap();
        assert!(matches!(files.features["tenant-scoped"].source, Source::Inferred(_)));
        assert!(m.resource("users").unwrap().tenant_column.is_none());
        // An explicit "no" wins.
        let m = model("[tables.tags]\nfeatures = { tenant-scoped = false }\n");
        assert!(m.resource("tags").unwrap().tenant_column.is_none());
        assert!(m.resource("tags").unwrap().notes.iter().any(|n| n.contains("tenant scoping is off")));
    }

    #[test]
    fn own_rows_from_a_required_user_id_the_users_table_scoped_to_self() {
        let m = model("");
        let inbox = m.resource("inbox").unwrap();
        let o = inbox.owner.as_ref().expect("inbox is owned");
        assert_eq!(inbox.fields[o.field].column, "user_id");
        assert_eq!(o.bypass, "inbox:all");
        assert!(!inbox.fields[o.field].writable(), "the owner is the signed-in user");
        // A nullable user_id is a dimension, not an owner.
        assert!(m.resource("stats").unwrap().owner.is_none());
        let users = m.resource("users").unwrap().owner.as_ref().expect("accounts are scoped");
        assert!(users.is_self && users.members);
        // Asked for explicitly, with the column named in the config.
        let m = model("[tables.files]\nowner_column = \"uploader\"\n");
        let files = m.resource("files").unwrap();
        assert_eq!(files.owner.as_ref().map(|o| files.fields[o.field].column.as_str()), Some("uploader"));
        let m = model("[tables.files]\nowner_column = \"name\"\n");
        let files = m.resource("files").unwrap();
        assert!(
            files.owner.is_none() && files.notes.iter().any(|n| n.contains("owner_column = \"name\"")),
            "a text column is no owner"
        );
        let m = model("[tables.inbox]\nfeatures = { own-rows = false }\n");
        assert!(m.resource("inbox").unwrap().owner.is_none());
    }
}
