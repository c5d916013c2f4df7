//! Auth and RBAC output: the users-table mapping, the RBAC statements the runtime runs, the
//! register DTO, and the SQL files (refresh tokens; permission and role seeds; change triggers).

use crate::dto::{self, DtoKind, Imports};
use crate::view::ts_string;
use nest_catalog::Catalog;
use nest_catalog::quote::ident as q;
use nest_model::security::{AuthModel, RbacModel, TableRef, Verified, actions};
use nest_model::{Access, Field, FieldKind, Format, Model};
use serde::Serialize;

/// The permission that guards the RBAC admin routes.
pub const MANAGE_PERMISSION: &str = "roles:manage";
pub const NOTIFY_CHANNEL: &str = "nestgen_rbac";

pub(crate) use nest_catalog::quote::qualified as qt;

pub(crate) fn qtab(t: &TableRef) -> String {
    qt(&t.schema, &t.table)
}

fn col_type(c: &Catalog, t: &TableRef, column: &str) -> String {
    c.table(&t.schema, &t.table)
        .and_then(|tab| tab.column(column))
        .map(|col| nest_catalog::SqlType { modifiers: vec![], typmod: None, ..col.ty.clone() }.to_string())
        .unwrap_or_else(|| "text".into())
}

#[derive(Serialize)]
pub struct AuthView {
    pub users_import: String,
    pub users_constant: String,
    pub table: String,
    pub id: String,
    pub id_type: String,
    pub id_property: String,
    pub email: String,
    pub email_property: String,
    pub email_column: String,
    pub password_hash: String,
    pub password_hash_column: String,
    pub status: String,
    pub active_status: String,
    pub failed_logins: String,
    pub locked_until: String,
    pub two_factor_enabled: String,
    pub two_factor_enabled_column: String,
    pub tfa_secret_sql: String,
    pub tfa_secret_column: String,
    pub verified_sql: String,
    pub verified_column: String,
    pub verified_kind: String,
    pub last_login_at: String,
    pub deleted_at: String,
    pub register_imports: Vec<dto::ImportLine>,
    pub register_props: Vec<dto::Prop>,
}

fn opt_ident(c: &Option<String>) -> String {
    c.as_ref().map(|x| ts_string(&q(x))).unwrap_or_else(|| "null".into())
}

pub fn auth_view(m: &Model, a: &AuthModel) -> AuthView {
    let users = m.resources.iter().find(|r| r.schema == a.schema && r.table == a.table).expect("auth resource");
    let prop =
        |col: &str| users.fields.iter().find(|f| f.column == col).map(|f| f.property.clone()).unwrap_or_default();
    // Sign-up takes the email, the profile fields clients may write (not the account status),
    // and a password.
    let mut fields: Vec<Field> = users
        .fields
        .iter()
        .filter(|f| f.column == a.email || (f.writable() && !f.privileged && Some(&f.column) != a.status.as_ref()))
        .cloned()
        .map(|mut f| {
            if f.column == a.email {
                f.access = Access::ReadWrite;
                f.required_on_create = true;
            }
            f
        })
        .collect();
    fields.push(Field {
        column: "password".into(),
        property: "password".into(),
        filter_key: "password".into(),
        sql_type: nest_catalog::SqlType::simple("text"),
        cast_type: "text".into(),
        read_cast: None,
        kind: FieldKind::Text,
        array: false,
        nullable: false,
        has_default: false,
        required_on_create: true,
        access: Access::WriteOnly,
        is_key: false,
        max_length: Some(256),
        min_length: Some(8),
        precision: None,
        with_zone: false,
        int_bits: 32,
        values: Vec::new(),
        format: None,
        ops: Vec::new(),
        sortable: false,
        description: Some("At least 8 characters".into()),
        why: None,
        sensitive: true,
        server: None,
        privileged: false,
    });
    let refs: Vec<&Field> = fields.iter().collect();
    let mut imports = Imports::default();
    let props = dto::write_dto(&refs, DtoKind::Create, &mut imports);
    // Emails need a format.
    if !users.fields.iter().any(|f| f.column == a.email && f.format == Some(Format::Email)) {
        imports.validator.insert("IsEmail");
    }
    AuthView {
        users_import: format!("../../modules/{}/{}.resource.js", users.names.file, users.names.file),
        users_constant: users.names.constant.clone(),
        table: ts_string(&qt(&a.schema, &a.table)),
        id: ts_string(&q(&a.id)),
        id_type: ts_string(&a.id_type),
        id_property: ts_string(&prop(&a.id)),
        email: ts_string(&q(&a.email)),
        email_property: ts_string(&prop(&a.email)),
        email_column: ts_string(&a.email),
        password_hash: ts_string(&q(&a.password_hash)),
        password_hash_column: ts_string(&a.password_hash),
        status: opt_ident(&a.status),
        active_status: ts_string("active"),
        failed_logins: opt_ident(&a.failed_logins),
        locked_until: opt_ident(&a.locked_until),
        two_factor_enabled: opt_ident(&a.two_factor_enabled),
        two_factor_enabled_column: a.two_factor_enabled.as_ref().map(|c| ts_string(c)).unwrap_or_else(|| "null".into()),
        tfa_secret_sql: ts_string(&match (&a.two_factor_secret, a.two_factor_secret_fits) {
            (Some(c), true) => format!("u.{}", q(c)),
            _ => format!("(SELECT sa.totp_secret FROM nestgen.accounts sa WHERE sa.user_id = u.{})", q(&a.id)),
        }),
        tfa_secret_column: match (&a.two_factor_secret, a.two_factor_secret_fits) {
            (Some(c), true) => ts_string(c),
            _ => "null".into(),
        },
        verified_sql: ts_string(&crate::tenancy::verified_sql(a, "u")),
        verified_column: match &a.verified {
            Verified::Timestamp(c) | Verified::Bool(c) => ts_string(c),
            Verified::Nestgen => "null".into(),
        },
        verified_kind: ts_string(match &a.verified {
            Verified::Bool(_) => "bool",
            _ => "timestamp",
        }),
        last_login_at: opt_ident(&a.last_login_at),
        deleted_at: opt_ident(&a.deleted_at),
        register_imports: imports.lines("../crud"),
        register_props: props,
    }
}

#[derive(Serialize)]
pub struct Stmt {
    pub sql: String,
    pub args: String,
}

#[derive(Serialize)]
pub struct RbacView {
    /// Identifiers and one-line fragments of the recursive queries in `rbac/rbac.tables.ts.j2`
    /// (escaped for a TypeScript template literal).
    pub q: RbacIdents,
    pub user_exists_sql: String,
    pub assign_role: Stmt,
    pub unassign_role_sql: String,
    pub grant: Option<Stmt>,
    pub ungrant_sql: Option<String>,
    /// $1 = permission id → its `resource:action`.
    pub permission_slug_sql: String,
    pub manage_permission: String,
    pub notify_channel: String,
}

#[derive(Serialize)]
pub struct DirectGrants {
    pub table: String,
    pub user: String,
    pub permission: String,
    /// `COALESCE(up.granted, true)` or `true`.
    pub granted: String,
    /// ` AND (up.expires_at IS NULL OR up.expires_at > now())` or nothing.
    pub live: String,
}

#[derive(Serialize)]
pub struct RbacIdents {
    pub roles: String,
    pub role_id: String,
    pub role_id_type: String,
    pub role_slug: String,
    pub parent: Option<String>,
    pub user_roles: String,
    pub ur_user: String,
    pub ur_role: String,
    pub ur_live: String,
    pub uid: String,
    pub permissions: String,
    pub permission_id: String,
    /// The permission's `resource:action` over alias `p`.
    pub slug_sql: String,
    pub role_permissions: String,
    pub rp_role: String,
    pub rp_permission: String,
    pub direct: Option<DirectGrants>,
}

pub(crate) use crate::quote::template as lit;

fn args(list: &[&str]) -> String {
    crate::quote::string_array(list)
}

pub fn rbac_view(c: &Catalog, a: &AuthModel, r: &RbacModel) -> RbacView {
    let uid = &a.id_type;
    let role_id_type = col_type(c, &r.roles, &r.role_id);
    let perm_id_type = col_type(c, &r.permissions, &r.permission_id);
    let idents = RbacIdents {
        roles: lit(&qtab(&r.roles)),
        role_id: lit(&q(&r.role_id)),
        role_id_type: lit(&role_id_type),
        role_slug: lit(&q(&r.role_slug)),
        parent: r.role_parent.as_ref().map(|p| lit(&q(p))),
        user_roles: lit(&qtab(&r.user_roles)),
        ur_user: lit(&q(&r.ur_user)),
        ur_role: lit(&q(&r.ur_role)),
        ur_live: lit(&r
            .ur_expires
            .as_ref()
            .map(|e| format!(" AND (ur.{0} IS NULL OR ur.{0} > now())", q(e)))
            .unwrap_or_default()),
        uid: lit(uid),
        permissions: lit(&qtab(&r.permissions)),
        permission_id: lit(&q(&r.permission_id)),
        slug_sql: lit(&r.permission_slug_sql),
        role_permissions: lit(&qtab(&r.role_permissions)),
        rp_role: lit(&q(&r.rp_role)),
        rp_permission: lit(&q(&r.rp_permission)),
        direct: r.user_permissions.as_ref().map(|up| DirectGrants {
            table: lit(&qtab(up)),
            user: lit(&q(&r.up_user)),
            permission: lit(&q(&r.up_permission)),
            granted: lit(&r
                .up_granted
                .as_ref()
                .map(|g| format!("COALESCE(up.{}, true)", q(g)))
                .unwrap_or_else(|| "true".into())),
            live: lit(&r
                .up_expires
                .as_ref()
                .map(|e| format!(" AND (up.{0} IS NULL OR up.{0} > now())", q(e)))
                .unwrap_or_default()),
        }),
    };
    let slug = r.permission_slug_sql.clone();
    let perms = qtab(&r.permissions);
    let ur = qtab(&r.user_roles);

    let users = qt(&a.schema, &a.table);
    let alive = a.deleted_at.as_ref().map(|d| format!(" AND {} IS NULL", q(d))).unwrap_or_default();
    let user_exists_sql = format!("SELECT 1 FROM {users} WHERE {} = $1::{uid}{alive}", q(&a.id));

    let mut cols = vec![q(&r.ur_user), q(&r.ur_role)];
    let mut vals = vec![format!("$1::{uid}"), format!("$2::{role_id_type}")];
    let mut a_args = vec!["userId", "roleId"];
    let mut n = 3;
    if let Some(e) = &r.ur_expires {
        cols.push(q(e));
        vals.push(format!("${n}::timestamptz"));
        a_args.push("expiresAt");
        n += 1;
    }
    if let Some(b) = &r.ur_assigned_by {
        cols.push(q(b));
        vals.push(format!("${n}::{uid}"));
        a_args.push("by");
    }
    let on_conflict = match &r.ur_expires {
        Some(e) => {
            format!(" ON CONFLICT ({}, {}) DO UPDATE SET {e} = EXCLUDED.{e}", q(&r.ur_user), q(&r.ur_role), e = q(e))
        }
        None => " ON CONFLICT DO NOTHING".into(),
    };
    let assign_role = Stmt {
        sql: format!("INSERT INTO {ur} ({}) VALUES ({}){on_conflict}", cols.join(", "), vals.join(", ")),
        args: args(&a_args),
    };
    let unassign_role_sql =
        format!("DELETE FROM {ur} WHERE {} = $1::{uid} AND {} = $2::{role_id_type}", q(&r.ur_user), q(&r.ur_role));
    let (grant, ungrant_sql) = match &r.user_permissions {
        Some(up) => {
            let mut cols = vec![q(&r.up_user), q(&r.up_permission)];
            let mut vals = vec![format!("$1::{uid}"), format!("$2::{perm_id_type}")];
            let mut g_args = vec!["userId", "permissionId"];
            let mut sets = Vec::new();
            let mut n = 3;
            for (col, arg, ty) in [
                (&r.up_granted, "granted", "boolean".to_string()),
                (&r.up_expires, "expiresAt", "timestamptz".to_string()),
                (&r.up_granted_by, "by", uid.clone()),
            ] {
                if let Some(c) = col {
                    cols.push(q(c));
                    vals.push(format!("${n}::{ty}"));
                    g_args.push(arg);
                    if arg != "by" {
                        sets.push(format!("{0} = EXCLUDED.{0}", q(c)));
                    }
                    n += 1;
                }
            }
            let conflict = if sets.is_empty() {
                " ON CONFLICT DO NOTHING".to_string()
            } else {
                format!(" ON CONFLICT ({}, {}) DO UPDATE SET {}", q(&r.up_user), q(&r.up_permission), sets.join(", "))
            };
            (
                Some(Stmt {
                    sql: format!(
                        "INSERT INTO {} ({}) VALUES ({}){conflict}",
                        qtab(up),
                        cols.join(", "),
                        vals.join(", ")
                    ),
                    args: args(&g_args),
                }),
                Some(format!(
                    "DELETE FROM {} WHERE {} = $1::{uid} AND {} = $2::{perm_id_type}",
                    qtab(up),
                    q(&r.up_user),
                    q(&r.up_permission)
                )),
            )
        }
        None => (None, None),
    };
    let permission_slug_sql =
        format!("SELECT ({slug})::text AS slug FROM {perms} p WHERE p.{} = $1::{perm_id_type}", q(&r.permission_id));
    RbacView {
        permission_slug_sql: lit(&permission_slug_sql),
        q: idents,
        user_exists_sql: lit(&user_exists_sql),
        assign_role: Stmt { sql: lit(&assign_role.sql), args: assign_role.args },
        unassign_role_sql: lit(&unassign_role_sql),
        grant: grant.map(|g| Stmt { sql: lit(&g.sql), args: g.args }),
        ungrant_sql: ungrant_sql.map(|s| lit(&s)),
        manage_permission: MANAGE_PERMISSION.into(),
        notify_channel: NOTIFY_CHANNEL.into(),
    }
}

/// What db/02-auth.sql needs.
#[derive(Serialize)]
pub struct AuthSqlView {
    pub users: String,
    pub id: String,
    pub id_type: String,
    pub email: String,
    pub email_index: String,
    pub verified_here: bool,
    pub secret_in_users: bool,
}

pub fn auth_sql_view(a: &AuthModel) -> AuthSqlView {
    AuthSqlView {
        users: qt(&a.schema, &a.table),
        id: q(&a.id),
        id_type: a.id_type.clone(),
        email: q(&a.email),
        email_index: q(&nest_catalog::naming::make_object_name(
            &a.table,
            Some(&format!("lower_{}", a.email)),
            Some("idx"),
        )),
        verified_here: a.verified == nest_model::security::Verified::Nestgen,
        secret_in_users: a.two_factor_secret_fits,
    }
}

/// The lowest default role that gets a permission (roles above inherit it), or None: only
/// super-admin and explicit grants. Deny by default extends to data:
/// - tenant data: each role its actions (guest reads, user creates, manager updates, admin
///   deletes and restores), always inside the caller's tenant;
/// - own rows: guest reads and user writes their own;
/// - accounts: guest reads and user updates their own; admin deletes; reading every account
///   (`users:all`) is admin's in a single-tenant project and no one's with tenancy;
/// - role and permission tables: never written by a default role; read by guest (assignments
///   by admin) without tenancy, by no default role with it;
/// - the audit trail: admin reads it without tenancy; with tenancy its rows carry no tenant,
///   so only platform admins (super-admin) read it;
/// - any other table: by action without tenancy; with tenancy it is platform data, so nobody.
fn default_role(m: &Model, r: &RbacModel, res: &nest_model::Resource, action: &str) -> Option<&'static str> {
    let tenancy = m.tenancy.is_some();
    let by_action = |a: &str| match a {
        "read" => Some("guest"),
        "create" => Some("user"),
        "update" | "bulk-create" => Some("manager"),
        "delete" | "restore" | "manage" => Some("admin"),
        _ => None,
    };
    let is = |t: &TableRef| t.schema == res.schema && t.table == res.table;
    let audit_store = res.audit_store;
    let retention = m.audit.as_ref().and_then(|a| a.retention.as_ref()).is_some_and(|p| is(&p.table));
    let users = m.auth.as_ref().is_some_and(|a| a.schema == res.schema && a.table == res.table);
    if audit_store {
        return (action == "read" && !tenancy).then_some("admin");
    }
    if retention {
        // A shorter retention deletes audit rows: super-admin (or an explicit grant) only.
        return None;
    }
    if r.tables().into_iter().any(is) {
        let assignments = is(&r.user_roles) || r.user_permissions.as_ref().is_some_and(is);
        return match (action, tenancy) {
            ("read", false) => Some(if assignments { "admin" } else { "guest" }),
            _ => None,
        };
    }
    if users {
        return match action {
            "read" => Some("guest"),
            "update" => Some("user"),
            "delete" | "restore" => Some("admin"),
            "all" => (!tenancy).then_some("admin"),
            _ => None,
        };
    }
    if res.owner.is_some() {
        // Users manage their own rows; every row is the admin's only without tenancy.
        return match action {
            "all" => (!tenancy).then_some("admin"),
            "read" => Some("guest"),
            _ => Some("user"),
        };
    }
    if res.tenant_column.is_some() || res.owner.is_some() || !tenancy {
        return by_action(action);
    }
    None
}

/// Default roles (the seed's), each inheriting from the next: guest ← user ← manager ← admin.
/// super-admin bypasses every check. (name, slug, level, parent slug).
type RoleSeed = (&'static str, &'static str, i32, Option<&'static str>);

const ROLES: &[RoleSeed] = &[
    ("Super Admin", "super-admin", 100, None),
    ("Admin", "admin", 50, Some("manager")),
    ("Manager", "manager", 30, Some("user")),
    ("User", "user", 10, Some("guest")),
    ("Guest", "guest", 0, None),
];

pub(crate) use nest_catalog::quote::string as sql_str;

/// db/03-rbac.sql: one permission per resource and action, the default roles and what they
/// grant, and triggers that tell running apps to drop their permission cache.
#[derive(Serialize)]
pub struct ParentLink {
    slug: String,
    parent: String,
}

#[derive(Serialize)]
pub struct RoleGrant {
    role: String,
    /// `'a:read', 'b:read'`.
    permissions: String,
}

/// What db/03-rbac.sql (template `sql/rbac.sql.j2`) needs.
#[derive(Serialize)]
pub struct RbacSqlView {
    permissions: String,
    permission_columns: String,
    permission_rows: Vec<String>,
    roles: String,
    role_columns: String,
    role_rows: Vec<String>,
    role_id: String,
    role_slug: String,
    parent_column: String,
    parents: Vec<ParentLink>,
    role_permissions: String,
    rp_role: String,
    rp_permission: String,
    permission_id: String,
    permission_slug_sql: String,
    grants: Vec<RoleGrant>,
    notify_channel: String,
    notifying: Vec<String>,
}

/// db/03-rbac.sql: one permission per resource and action, the default roles and what they
/// grant, and triggers that tell running apps to drop their permission cache.
pub fn rbac_sql_view(m: &Model, r: &RbacModel) -> RbacSqlView {
    // (slug, resource, action, the lowest default role that holds it).
    let mut all: Vec<(String, String, String, Option<&'static str>)> = Vec::new();
    for res in m.resources.iter().filter(|x| x.feature("rbac")) {
        let mut acts = actions(&res.operations);
        if res.owner.is_some() {
            // Every row, not only the caller's own.
            acts.push("all");
        }
        for a in acts {
            let who = default_role(m, r, res, a);
            all.push((format!("{}:{a}", res.names.permission), res.names.permission.clone(), a.to_string(), who));
        }
    }
    let tenancy = m.tenancy.is_some();
    // Managing roles crosses tenants: a platform power with tenancy.
    all.push((MANAGE_PERMISSION.into(), "roles".into(), "manage".into(), (!tenancy).then_some("admin")));
    // Reading the audit trail (and so every audited row's history), even when the log table has
    // no routes of its own here.
    if let Some(p) = crate::view::audit_read_permission(m) {
        let (resource, action) = p.split_once(':').unwrap_or((p.as_str(), "read"));
        all.push((p.clone(), resource.to_string(), action.to_string(), (!tenancy).then_some("admin")));
    }
    if tenancy {
        all.push((CROSS_TENANT_PERMISSION.into(), "tenants".into(), "cross".into(), None));
    }
    all.sort();
    all.dedup_by(|a, b| a.0 == b.0);
    let cols = &r.permission_seed_columns;
    let permission_rows = if cols.is_empty() {
        Vec::new()
    } else {
        all.iter()
            .map(|(slug, resource, action, _)| {
                cols.iter()
                    .map(|(_, what)| match what.as_str() {
                        "slug" => sql_str(slug),
                        "name" => sql_str(&format!("{resource}: {action}")),
                        "resource" => sql_str(resource),
                        _ => sql_str(action),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect()
    };
    let named = r.role_name.as_ref().filter(|n| **n != r.role_slug);
    let mut role_columns = vec![q(&r.role_slug)];
    role_columns.extend(named.map(|n| q(n)));
    role_columns.extend(r.role_level.as_ref().map(|l| q(l)));
    let role_rows = ROLES
        .iter()
        .map(|(name, slug, level, _)| {
            let mut v = vec![sql_str(slug)];
            if named.is_some() {
                v.push(sql_str(name));
            }
            if r.role_level.is_some() {
                v.push(level.to_string());
            }
            v.join(", ")
        })
        .collect();
    let parents = match &r.role_parent {
        Some(_) => ROLES
            .iter()
            .filter_map(|(_, slug, _, parent)| parent.map(|p| ParentLink { slug: sql_str(slug), parent: sql_str(p) }))
            .collect(),
        None => Vec::new(),
    };
    let grants = ROLES
        .iter()
        .filter_map(|(_, slug, _, _)| {
            let wanted: Vec<String> =
                all.iter().filter(|(_, _, _, who)| *who == Some(*slug)).map(|(sl, _, _, _)| sql_str(sl)).collect();
            (!wanted.is_empty()).then(|| RoleGrant { role: sql_str(slug), permissions: wanted.join(", ") })
        })
        .collect();
    RbacSqlView {
        permissions: qtab(&r.permissions),
        permission_columns: cols.iter().map(|(c, _)| q(c)).collect::<Vec<_>>().join(", "),
        permission_rows,
        roles: qtab(&r.roles),
        role_columns: role_columns.join(", "),
        role_rows,
        role_id: q(&r.role_id),
        role_slug: q(&r.role_slug),
        parent_column: r.role_parent.as_ref().map(|p| q(p)).unwrap_or_default(),
        parents,
        role_permissions: qtab(&r.role_permissions),
        rp_role: q(&r.rp_role),
        rp_permission: q(&r.rp_permission),
        permission_id: q(&r.permission_id),
        permission_slug_sql: r.permission_slug_sql.clone(),
        grants,
        notify_channel: NOTIFY_CHANNEL.into(),
        notifying: r.tables().into_iter().map(qtab).collect(),
    }
}

/// Permission that lets a user act in any organization with the X-Organization-Id header.
pub const CROSS_TENANT_PERMISSION: &str = "tenants:cross";

/// What db/90-app-role.sql (template `sql/app-role.sql.j2`) needs.
#[derive(Serialize)]
pub struct AppRoleView {
    schemas: String,
    read_only: String,
    audit: bool,
    audit_writer: bool,
    partitions_of: Option<String>,
}

/// db/90-app-role.sql: `nestgen.grant_app_role(role)` gives the role the app connects as the data
/// rights it needs and nothing more: no ownership (so row-level security applies), and read-only
/// access to the audit trail; the audit writer only where the app writes audit rows itself
/// (application mode), since whoever can call it can add rows.
pub fn app_role_view(m: &Model) -> AppRoleView {
    let mut schemas: Vec<&str> = m.resources.iter().map(|r| r.schema.as_str()).collect();
    schemas.push("nestgen");
    schemas.sort();
    schemas.dedup();
    let mut read_only: Vec<String> = Vec::new();
    if let Some(a) = &m.audit {
        read_only.push(qtab(&a.logs));
        if let Some(c) = &a.changes {
            read_only.push(qtab(&c.table));
        }
        read_only.push("nestgen.audit_tables".into());
    }
    AppRoleView {
        schemas: schemas.iter().map(|x| sql_str(x)).collect::<Vec<_>>().join(", "),
        read_only: read_only.iter().map(|t| sql_str(t)).collect::<Vec<_>>().join(", "),
        audit: m.audit.is_some(),
        audit_writer: m
            .audit
            .as_ref()
            .is_some_and(|a| a.audited.iter().any(|t| t.mode == nest_model::audit::AuditMode::Application)),
        partitions_of: m.audit.as_ref().filter(|a| a.partition_column.is_some()).map(|a| sql_str(&qtab(&a.logs))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nest_model::{Config, Selection};

    fn seed(files: &[&str], config: &str) -> Model {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed");
        let paths: Vec<std::path::PathBuf> = files.iter().map(|f| root.join(f)).collect();
        let catalog = nest_ddl::parse_paths(&paths);
        nest_model::build(&catalog, &Config::parse(config).unwrap(), &Selection::default())
    }

    fn who(m: &Model, table: &str, action: &str) -> Option<&'static str> {
        let res = m.resource(table).unwrap_or_else(|| panic!("{table}"));
        default_role(m, m.rbac.as_ref().expect("rbac"), res, action)
    }

    #[test]
    fn with_tenancy_default_roles_stay_inside_tenants_and_own_rows() {
        let m = seed(&["."], "");
        assert!(m.tenancy.is_some());
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
        let v = rbac_sql_view(&m, m.rbac.as_ref().unwrap());
        let admin = v.grants.iter().find(|g| g.role == "'admin'").expect("admin grants");
        assert!(
            !admin.permissions.contains("'roles:manage'") && !admin.permissions.contains(":all'"),
            "{}",
            admin.permissions
        );
    }

    #[test]
    fn without_tenancy_admin_reads_assignments_and_the_trail() {
        let m = seed(
            &["02-rbac.sql", "03-audit.sql", "03b-audit-trigger.sql", "07-notifications.sql"],
            "[features]\nrbac = true\n",
        );
        assert!(m.tenancy.is_none());
        assert_eq!(who(&m, "roles", "read"), Some("guest"));
        assert_eq!(who(&m, "roles", "create"), None, "role tables are never written by a default role");
        assert_eq!(who(&m, "user_roles", "read"), Some("admin"));
        assert_eq!(who(&m, "audit_logs", "read"), Some("admin"));
        assert_eq!(who(&m, "users", "all"), Some("admin"));
        assert_eq!(who(&m, "notifications", "all"), Some("admin"));
        assert_eq!(who(&m, "notification_templates", "create"), Some("user"));
    }
}
