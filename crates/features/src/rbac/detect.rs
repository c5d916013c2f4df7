//! The RBAC tables (seed scenario 2's shape), found by name and foreign keys: roles (with an
//! optional parent role), permissions (a slug, or resource + action), role_permissions,
//! user_roles and user_permissions.

use crate::schema::{bare_type, fk_to, has, opt, single_key};
use nest_catalog::{Catalog, QualifiedName, Table};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RbacModel {
    pub roles: QualifiedName,
    pub role_id: String,
    /// Type of the role key, for casts.
    pub role_id_type: String,
    pub role_slug: String,
    pub role_parent: Option<String>,
    pub role_name: Option<String>,
    pub role_level: Option<String>,
    pub permissions: QualifiedName,
    pub permission_id: String,
    pub permission_id_type: String,
    /// SQL expression (over alias `p`) giving `resource:action`.
    pub permission_slug_sql: String,
    /// Columns to fill when seeding permissions: (column, what) with what in slug/name/resource/action.
    pub permission_seed_columns: Vec<(String, String)>,
    pub role_permissions: QualifiedName,
    pub role_permission_role: String,
    pub role_permission_permission: String,
    pub user_roles: QualifiedName,
    pub user_role_user: String,
    pub user_role_role: String,
    pub user_role_expires: Option<String>,
    pub user_role_assigned_by: Option<String>,
    pub user_permissions: Option<QualifiedName>,
    pub user_permission_user: String,
    pub user_permission_permission: String,
    pub user_permission_granted: Option<String>,
    pub user_permission_expires: Option<String>,
    pub user_permission_granted_by: Option<String>,
}

impl RbacModel {
    /// The tables that decide who may do what: writing to them grants power.
    pub fn tables(&self) -> Vec<&QualifiedName> {
        let mut v = vec![&self.roles, &self.permissions, &self.role_permissions, &self.user_roles];
        v.extend(self.user_permissions.as_ref());
        v
    }
}

fn find<'a>(catalog: &'a Catalog, names: &[&str]) -> Option<&'a Table> {
    names.iter().find_map(|n| catalog.find_table(n)).filter(|t| !t.kind.is_view())
}

/// Roles, permissions and assignment tables, by name and foreign keys.
pub fn detect_rbac(catalog: &Catalog, users: &Table) -> Result<RbacModel, String> {
    let roles = find(catalog, &["roles", "role"]).ok_or("RBAC needs a roles table")?;
    let perms = find(catalog, &["permissions", "permission"]).ok_or("RBAC needs a permissions table")?;
    let rp = find(catalog, &["role_permissions", "roles_permissions", "permission_roles"])
        .ok_or("RBAC needs a role_permissions table")?;
    let ur = find(catalog, &["user_roles", "users_roles", "role_users"]).ok_or("RBAC needs a user_roles table")?;
    let up = find(catalog, &["user_permissions", "users_permissions"]);
    let role_id = single_key(roles).ok_or("roles needs a single-column primary key")?;
    let permission_id = single_key(perms).ok_or("permissions needs a single-column primary key")?;
    let role_slug = opt(roles, "slug").or_else(|| opt(roles, "name")).ok_or("roles needs a slug or name column")?;
    let (permission_slug_sql, mut seed) = if has(perms, "slug") {
        ("p.slug".to_string(), vec![("slug".to_string(), "slug".to_string())])
    } else if has(perms, "resource") && has(perms, "action") {
        ("(p.resource || ':' || p.action)".to_string(), Vec::new())
    } else if has(perms, "name") {
        ("p.name".to_string(), vec![("name".to_string(), "slug".to_string())])
    } else {
        return Err("permissions needs a slug column (or resource and action)".into());
    };
    for (c, what) in [("name", "name"), ("resource", "resource"), ("action", "action")] {
        if has(perms, c) && !seed.iter().any(|(x, _)| x == c) {
            seed.push((c.to_string(), what.to_string()));
        }
    }
    let role_permission_role = fk_to(rp, roles).ok_or("role_permissions needs a foreign key to roles")?;
    let role_permission_permission = fk_to(rp, perms).ok_or("role_permissions needs a foreign key to permissions")?;
    let user_role_user = fk_to(ur, users).ok_or("user_roles needs a foreign key to the users table")?;
    let user_role_role = fk_to(ur, roles).ok_or("user_roles needs a foreign key to roles")?;
    let (user_permission_user, user_permission_permission) = match up {
        Some(t) => (
            fk_to(t, users).ok_or("user_permissions needs a foreign key to the users table")?,
            fk_to(t, perms).ok_or("user_permissions needs a foreign key to permissions")?,
        ),
        None => (String::new(), String::new()),
    };
    let role_parent = roles
        .foreign_keys
        .iter()
        .find(|f| f.references.name == roles.name && f.columns.len() == 1)
        .map(|f| f.columns[0].clone());
    Ok(RbacModel {
        roles: roles.qualified_name(),
        role_id_type: bare_type(roles, &role_id, "text"),
        role_id,
        role_slug,
        role_parent,
        role_name: opt(roles, "name"),
        role_level: opt(roles, "level"),
        permissions: perms.qualified_name(),
        permission_id_type: bare_type(perms, &permission_id, "text"),
        permission_id,
        permission_slug_sql,
        permission_seed_columns: seed,
        role_permissions: rp.qualified_name(),
        role_permission_role,
        role_permission_permission,
        user_roles: ur.qualified_name(),
        user_role_user,
        user_role_role,
        user_role_expires: opt(ur, "expires_at"),
        user_role_assigned_by: opt(ur, "assigned_by"),
        user_permission_granted: up.and_then(|t| opt(t, "granted")),
        user_permission_expires: up.and_then(|t| opt(t, "expires_at")),
        user_permission_granted_by: up.and_then(|t| opt(t, "granted_by")),
        user_permissions: up.map(Table::qualified_name),
        user_permission_user,
        user_permission_permission,
    })
}

/// Permission actions of a resource's routes.
pub fn actions(ops: &nest_model::Operations) -> Vec<&'static str> {
    let mut out = vec!["read"];
    if ops.create {
        out.push("create");
    }
    if ops.bulk_create {
        out.push("bulk-create");
    }
    if ops.update {
        out.push("update");
    }
    if ops.delete {
        out.push("delete");
    }
    if ops.restore {
        out.push("restore");
    }
    out
}
