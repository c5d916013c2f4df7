//! What the RBAC templates see: the statements the runtime runs (`src/core/rbac/rbac.tables.ts`)
//! and db/03-rbac.sql (a permission per route, the default roles and what they grant).

use super::detect::{RbacModel, actions};
use crate::auth::AuthModel;
use nest_catalog::quote as sql;
use nest_model::{DataClass, Grant, Model, Permission};
use serde::Serialize;

/// The permission that guards the RBAC admin routes.
pub const MANAGE_PERMISSION: &str = "roles:manage";
pub const NOTIFY_CHANNEL: &str = "nestgen_rbac";

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
    pub user_role_user: String,
    pub user_role_role: String,
    pub user_role_live: String,
    pub uid: String,
    pub permissions: String,
    pub permission_id: String,
    /// The permission's `resource:action` over alias `p`.
    pub slug_sql: String,
    pub role_permissions: String,
    pub role_permission_role: String,
    pub role_permission_permission: String,
    pub direct: Option<DirectGrants>,
}

use nest_nestjs::quote as ts;

fn args(list: &[&str]) -> String {
    nest_nestjs::quote::string_array(list)
}

pub fn rbac_view(a: &AuthModel, r: &RbacModel) -> RbacView {
    let uid = &a.id_type;
    let role_id_type = r.role_id_type.clone();
    let perm_id_type = r.permission_id_type.clone();
    let idents = RbacIdents {
        roles: ts::template(&sql::table(&r.roles)),
        role_id: ts::template(&sql::ident(&r.role_id)),
        role_id_type: ts::template(&role_id_type),
        role_slug: ts::template(&sql::ident(&r.role_slug)),
        parent: r.role_parent.as_ref().map(|p| ts::template(&sql::ident(p))),
        user_roles: ts::template(&sql::table(&r.user_roles)),
        user_role_user: ts::template(&sql::ident(&r.user_role_user)),
        user_role_role: ts::template(&sql::ident(&r.user_role_role)),
        user_role_live: ts::template(
            &r.user_role_expires
                .as_ref()
                .map(|e| format!(" AND (ur.{0} IS NULL OR ur.{0} > now())", sql::ident(e)))
                .unwrap_or_default(),
        ),
        uid: ts::template(uid),
        permissions: ts::template(&sql::table(&r.permissions)),
        permission_id: ts::template(&sql::ident(&r.permission_id)),
        slug_sql: ts::template(&r.permission_slug_sql),
        role_permissions: ts::template(&sql::table(&r.role_permissions)),
        role_permission_role: ts::template(&sql::ident(&r.role_permission_role)),
        role_permission_permission: ts::template(&sql::ident(&r.role_permission_permission)),
        direct: r.user_permissions.as_ref().map(|up| DirectGrants {
            table: ts::template(&sql::table(up)),
            user: ts::template(&sql::ident(&r.user_permission_user)),
            permission: ts::template(&sql::ident(&r.user_permission_permission)),
            granted: ts::template(
                &r.user_permission_granted
                    .as_ref()
                    .map(|g| format!("COALESCE(up.{}, true)", sql::ident(g)))
                    .unwrap_or_else(|| "true".into()),
            ),
            live: ts::template(
                &r.user_permission_expires
                    .as_ref()
                    .map(|e| format!(" AND (up.{0} IS NULL OR up.{0} > now())", sql::ident(e)))
                    .unwrap_or_default(),
            ),
        }),
    };
    let slug = r.permission_slug_sql.clone();
    let perms = sql::table(&r.permissions);
    let ur = sql::table(&r.user_roles);

    let users = sql::qualified(&a.schema, &a.table);
    let alive = a.deleted_at.as_ref().map(|d| format!(" AND {} IS NULL", sql::ident(d))).unwrap_or_default();
    let user_exists_sql = format!("SELECT 1 FROM {users} WHERE {} = $1::{uid}{alive}", sql::ident(&a.id));

    let mut cols = vec![sql::ident(&r.user_role_user), sql::ident(&r.user_role_role)];
    let mut vals = vec![format!("$1::{uid}"), format!("$2::{role_id_type}")];
    let mut a_args = vec!["userId", "roleId"];
    let mut n = 3;
    if let Some(e) = &r.user_role_expires {
        cols.push(sql::ident(e));
        vals.push(format!("${n}::timestamptz"));
        a_args.push("expiresAt");
        n += 1;
    }
    if let Some(b) = &r.user_role_assigned_by {
        cols.push(sql::ident(b));
        vals.push(format!("${n}::{uid}"));
        a_args.push("by");
    }
    let on_conflict = match &r.user_role_expires {
        Some(e) => {
            format!(
                " ON CONFLICT ({}, {}) DO UPDATE SET {e} = EXCLUDED.{e}",
                sql::ident(&r.user_role_user),
                sql::ident(&r.user_role_role),
                e = sql::ident(e)
            )
        }
        None => " ON CONFLICT DO NOTHING".into(),
    };
    let assign_role = Stmt {
        sql: format!("INSERT INTO {ur} ({}) VALUES ({}){on_conflict}", cols.join(", "), vals.join(", ")),
        args: args(&a_args),
    };
    let unassign_role_sql = format!(
        "DELETE FROM {ur} WHERE {} = $1::{uid} AND {} = $2::{role_id_type}",
        sql::ident(&r.user_role_user),
        sql::ident(&r.user_role_role)
    );
    let (grant, ungrant_sql) = match &r.user_permissions {
        Some(up) => {
            let mut cols = vec![sql::ident(&r.user_permission_user), sql::ident(&r.user_permission_permission)];
            let mut vals = vec![format!("$1::{uid}"), format!("$2::{perm_id_type}")];
            let mut g_args = vec!["userId", "permissionId"];
            let mut sets = Vec::new();
            let mut n = 3;
            for (col, arg, ty) in [
                (&r.user_permission_granted, "granted", "boolean".to_string()),
                (&r.user_permission_expires, "expiresAt", "timestamptz".to_string()),
                (&r.user_permission_granted_by, "by", uid.clone()),
            ] {
                if let Some(c) = col {
                    cols.push(sql::ident(c));
                    vals.push(format!("${n}::{ty}"));
                    g_args.push(arg);
                    if arg != "by" {
                        sets.push(format!("{0} = EXCLUDED.{0}", sql::ident(c)));
                    }
                    n += 1;
                }
            }
            let conflict = if sets.is_empty() {
                " ON CONFLICT DO NOTHING".to_string()
            } else {
                format!(
                    " ON CONFLICT ({}, {}) DO UPDATE SET {}",
                    sql::ident(&r.user_permission_user),
                    sql::ident(&r.user_permission_permission),
                    sets.join(", ")
                )
            };
            (
                Some(Stmt {
                    sql: format!(
                        "INSERT INTO {} ({}) VALUES ({}){conflict}",
                        sql::table(up),
                        cols.join(", "),
                        vals.join(", ")
                    ),
                    args: args(&g_args),
                }),
                Some(format!(
                    "DELETE FROM {} WHERE {} = $1::{uid} AND {} = $2::{perm_id_type}",
                    sql::table(up),
                    sql::ident(&r.user_permission_user),
                    sql::ident(&r.user_permission_permission)
                )),
            )
        }
        None => (None, None),
    };
    let permission_slug_sql = format!(
        "SELECT ({slug})::text AS slug FROM {perms} p WHERE p.{} = $1::{perm_id_type}",
        sql::ident(&r.permission_id)
    );
    RbacView {
        permission_slug_sql: ts::template(&permission_slug_sql),
        q: idents,
        user_exists_sql: ts::template(&user_exists_sql),
        assign_role: Stmt { sql: ts::template(&assign_role.sql), args: assign_role.args },
        unassign_role_sql: ts::template(&unassign_role_sql),
        grant: grant.map(|g| Stmt { sql: ts::template(&g.sql), args: g.args }),
        ungrant_sql: ungrant_sql.map(|s| ts::template(&s)),
        manage_permission: MANAGE_PERMISSION.into(),
        notify_channel: NOTIFY_CHANNEL.into(),
    }
}

/// The lowest default role that gets a permission (roles above inherit it), or None: only
/// super-admin and explicit grants. Deny by default extends to data, by whose data a table holds
/// (decided by the feature that knows: [`DataClass`]):
/// - tenant data: each role its actions (guest reads, user creates, manager updates, admin
///   deletes and restores), always inside the caller's tenant;
/// - own rows: guest reads and user writes their own;
/// - accounts: guest reads and user updates their own; admin deletes; reading every account
///   (`users:all`) is admin's in a single-tenant project and no one's with tenancy;
/// - role and permission tables: never written by a default role; read by guest (assignments
///   by admin) without tenancy, by no default role with it;
/// - the change trail: admin reads it without tenancy; with tenancy its rows carry no tenant,
///   so only platform admins (super-admin) read it; what decides how long it keeps rows, no one;
/// - any other table: by action without tenancy; with tenancy it is platform data, so nobody.
pub fn default_role(tenancy: bool, class: DataClass, action: &str) -> Option<&'static str> {
    let by_action = |a: &str| match a {
        "read" => Some("guest"),
        "create" => Some("user"),
        "update" | "bulk-create" => Some("manager"),
        "delete" | "restore" | "manage" => Some("admin"),
        _ => None,
    };
    match class {
        DataClass::Trail => (action == "read" && !tenancy).then_some("admin"),
        // A shorter retention deletes audit rows: super-admin (or an explicit grant) only.
        DataClass::TrailPolicy => None,
        DataClass::Powers => (action == "read" && !tenancy).then_some("guest"),
        DataClass::Assignments => (action == "read" && !tenancy).then_some("admin"),
        DataClass::Accounts => match action {
            "read" => Some("guest"),
            "update" => Some("user"),
            "delete" | "restore" => Some("admin"),
            "all" => (!tenancy).then_some("admin"),
            _ => None,
        },
        // Users manage their own rows; every row is the admin's only without tenancy.
        DataClass::Owned => match action {
            "all" => (!tenancy).then_some("admin"),
            "read" => Some("guest"),
            _ => Some("user"),
        },
        DataClass::Tenant => by_action(action),
        DataClass::Plain => by_action(action).filter(|_| !tenancy),
    }
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

/// A default role and the role it inherits from.
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

/// What db/03-rbac.sql (template `rbac/rbac.sql.j2`) needs.
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
    role_permission_role: String,
    role_permission_permission: String,
    permission_id: String,
    permission_slug_sql: String,
    grants: Vec<RoleGrant>,
    notify_channel: String,
    notifying: Vec<String>,
}

impl RbacSqlView {
    /// The permissions (`'a:read', 'b:read'`) a default role (`'admin'`) is granted.
    #[cfg(test)]
    pub fn grant(&self, role: &str) -> Option<&str> {
        self.grants.iter().find(|g| g.role == role).map(|g| g.permissions.as_str())
    }
}

/// db/03-rbac.sql: one permission per resource and action, the default roles and what they
/// grant, and triggers that tell running apps to drop their permission cache.
/// Every permission of the project: (slug, resource, action, the lowest default role that holds
/// it): the routes' own and the features' (`<t>:all`, `<t>:send`, reading the trail, ...).
pub fn all_permissions(m: &Model, tenancy: bool) -> Vec<(String, String, String, Option<&'static str>)> {
    let mut all: Vec<(String, String, String, Option<&'static str>)> = Vec::new();
    for res in m.resources.iter().filter(|x| x.feature("rbac")) {
        for a in actions(&res.operations) {
            let who = default_role(tenancy, res.data, a);
            all.push((format!("{}:{a}", res.names.permission), res.names.permission.clone(), a.to_string(), who));
        }
    }
    // Managing roles crosses tenants: a platform power with tenancy. Features' own permissions
    // (every row of an own-rows table, reading the trail, acting in any tenant) likewise.
    let extra = std::iter::once(Permission { slug: MANAGE_PERMISSION.into(), grant: Grant::Admin })
        .chain(m.permissions.iter().cloned());
    for p in extra {
        let (resource, action) = p.slug.split_once(':').unwrap_or((p.slug.as_str(), "read"));
        let who = match &p.grant {
            Grant::Admin => (!tenancy).then_some("admin"),
            Grant::Nobody => None,
            Grant::Like { table, action } => {
                m.resource_of(table).and_then(|res| default_role(tenancy, res.data, action))
            }
        };
        all.push((p.slug.clone(), resource.to_string(), action.to_string(), who));
    }
    all.sort();
    all.dedup_by(|a, b| a.0 == b.0);
    all
}

pub fn rbac_sql_view(m: &Model, r: &RbacModel, tenancy: bool) -> RbacSqlView {
    let all = all_permissions(m, tenancy);
    let cols = &r.permission_seed_columns;
    let permission_rows = if cols.is_empty() {
        Vec::new()
    } else {
        all.iter()
            .map(|(slug, resource, action, _)| {
                cols.iter()
                    .map(|(_, what)| match what.as_str() {
                        "slug" => sql::string(slug),
                        "name" => sql::string(&format!("{resource}: {action}")),
                        "resource" => sql::string(resource),
                        _ => sql::string(action),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect()
    };
    let named = r.role_name.as_ref().filter(|n| **n != r.role_slug);
    let mut role_columns = vec![sql::ident(&r.role_slug)];
    role_columns.extend(named.map(|n| sql::ident(n)));
    role_columns.extend(r.role_level.as_ref().map(|l| sql::ident(l)));
    let role_rows = ROLES
        .iter()
        .map(|(name, slug, level, _)| {
            let mut v = vec![sql::string(slug)];
            if named.is_some() {
                v.push(sql::string(name));
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
            .filter_map(|(_, slug, _, parent)| {
                parent.map(|p| ParentLink { slug: sql::string(slug), parent: sql::string(p) })
            })
            .collect(),
        None => Vec::new(),
    };
    let grants = ROLES
        .iter()
        .filter_map(|(_, slug, _, _)| {
            let wanted: Vec<String> =
                all.iter().filter(|(_, _, _, who)| *who == Some(*slug)).map(|(sl, _, _, _)| sql::string(sl)).collect();
            (!wanted.is_empty()).then(|| RoleGrant { role: sql::string(slug), permissions: wanted.join(", ") })
        })
        .collect();
    RbacSqlView {
        permissions: sql::table(&r.permissions),
        permission_columns: cols.iter().map(|(c, _)| sql::ident(c)).collect::<Vec<_>>().join(", "),
        permission_rows,
        roles: sql::table(&r.roles),
        role_columns: role_columns.join(", "),
        role_rows,
        role_id: sql::ident(&r.role_id),
        role_slug: sql::ident(&r.role_slug),
        parent_column: r.role_parent.as_ref().map(|p| sql::ident(p)).unwrap_or_default(),
        parents,
        role_permissions: sql::table(&r.role_permissions),
        role_permission_role: sql::ident(&r.role_permission_role),
        role_permission_permission: sql::ident(&r.role_permission_permission),
        permission_id: sql::ident(&r.permission_id),
        permission_slug_sql: r.permission_slug_sql.clone(),
        grants,
        notify_channel: NOTIFY_CHANNEL.into(),
        notifying: r.tables().into_iter().map(sql::table).collect(),
    }
}
