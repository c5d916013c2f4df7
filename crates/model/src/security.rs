//! Authentication and RBAC: which table holds the users that sign in, and which tables hold
//! roles, permissions and their assignments (seed scenario 2's shape, found by name and
//! foreign keys).

use nest_catalog::{Catalog, Table};

/// Columns of the users table the auth runtime needs. Optional ones enable their feature
/// (lockout, status, second factor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthModel {
    pub schema: String,
    pub table: String,
    pub id: String,
    /// Type of the id, for casts (`uuid`, `bigint`).
    pub id_type: String,
    pub email: String,
    pub password_hash: String,
    pub status: Option<String>,
    pub failed_logins: Option<String>,
    pub locked_until: Option<String>,
    pub two_factor_enabled: Option<String>,
    pub two_factor_secret: Option<String>,
    pub last_login_at: Option<String>,
    pub deleted_at: Option<String>,
    /// Columns only the auth runtime writes (never through the users CRUD routes).
    pub managed: Vec<String>,
    /// Where "this email address is verified" is kept.
    pub verified: Verified,
    /// The second-factor secret goes in `two_factor_secret` (encrypted) when the column can hold
    /// it; otherwise in `nestgen.accounts`.
    pub two_factor_secret_fits: bool,
    /// Columns each sign-in changes (failure count, lock, last sign-in): not audited.
    pub bookkeeping: Vec<String>,
}

/// Where an account's email verification is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// A timestamp column of the users table (`email_verified_at`, `confirmed_at`).
    Timestamp(String),
    /// A boolean column (`email_verified`, `is_verified`).
    Bool(String),
    /// No such column: `nestgen.accounts.email_verified_at`.
    Nestgen,
}

/// Length an encrypted second-factor secret needs (`v1.<kid>.<base64url>` of a 20-byte secret).
pub const SEALED_SECRET_LENGTH: u32 = 80;

fn verified_column(t: &Table, email: &str) -> Verified {
    let stamps = [
        format!("{email}_verified_at"),
        "email_verified_at".into(),
        format!("{email}_confirmed_at"),
        "email_confirmed_at".into(),
        "confirmed_at".into(),
        "verified_at".into(),
    ];
    for c in &stamps {
        if let Some(col) = t.column(c)
            && col.ty.name.starts_with("timestamp")
            && !col.ty.array
        {
            return Verified::Timestamp(c.clone());
        }
    }
    let flags = [
        format!("{email}_verified"),
        "email_verified".into(),
        "is_email_verified".into(),
        "email_confirmed".into(),
        "is_verified".into(),
        "verified".into(),
    ];
    for c in &flags {
        if let Some(col) = t.column(c)
            && col.ty.name == "boolean"
            && !col.ty.array
        {
            return Verified::Bool(c.clone());
        }
    }
    Verified::Nestgen
}

/// A table by schema and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub schema: String,
    pub table: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbacModel {
    pub roles: TableRef,
    pub role_id: String,
    pub role_slug: String,
    pub role_parent: Option<String>,
    pub role_name: Option<String>,
    pub role_level: Option<String>,
    pub permissions: TableRef,
    pub permission_id: String,
    /// SQL expression (over alias `p`) giving `resource:action`.
    pub permission_slug_sql: String,
    /// Columns to fill when seeding permissions: (column, what) with what in slug/name/resource/action.
    pub permission_seed_columns: Vec<(String, String)>,
    pub role_permissions: TableRef,
    pub rp_role: String,
    pub rp_permission: String,
    pub user_roles: TableRef,
    pub ur_user: String,
    pub ur_role: String,
    pub ur_expires: Option<String>,
    pub ur_assigned_by: Option<String>,
    pub user_permissions: Option<TableRef>,
    pub up_user: String,
    pub up_permission: String,
    pub up_granted: Option<String>,
    pub up_expires: Option<String>,
    pub up_granted_by: Option<String>,
}

impl RbacModel {
    /// The tables that decide who may do what: writing to them grants power.
    pub fn tables(&self) -> Vec<&TableRef> {
        let mut v = vec![&self.roles, &self.permissions, &self.role_permissions, &self.user_roles];
        v.extend(self.user_permissions.as_ref());
        v
    }
}

fn has(t: &Table, c: &str) -> bool {
    t.column(c).is_some()
}

fn opt(t: &Table, c: &str) -> Option<String> {
    has(t, c).then(|| c.to_string())
}

/// The users table that signs in: an email column and a password hash column.
pub fn detect_auth(catalog: &Catalog, t: &Table) -> Result<AuthModel, String> {
    let email = ["email", "email_address", "username", "login"]
        .iter()
        .find(|c| has(t, c))
        .ok_or_else(|| format!("{}: auth needs an email (or username) column", t.name))?;
    let password_hash = ["password_hash", "password_digest", "hashed_password", "encrypted_password", "password"]
        .iter()
        .find(|c| has(t, c))
        .ok_or_else(|| format!("{}: auth needs a password_hash column", t.name))?;
    let pk = t
        .primary_key
        .as_ref()
        .filter(|k| k.columns.len() == 1)
        .ok_or_else(|| format!("{}: auth needs a single-column primary key", t.name))?;
    let id = pk.columns[0].clone();
    let id_type = t
        .column(&id)
        .map(|c| nest_catalog::SqlType { modifiers: vec![], typmod: None, ..c.ty.clone() }.to_string())
        .unwrap_or_default();
    let _ = catalog;
    let mut m = AuthModel {
        schema: t.schema.clone(),
        table: t.name.clone(),
        id,
        id_type,
        email: email.to_string(),
        password_hash: password_hash.to_string(),
        status: opt(t, "status"),
        failed_logins: opt(t, "failed_login_attempts").or_else(|| opt(t, "failed_logins")),
        locked_until: opt(t, "locked_until"),
        two_factor_enabled: opt(t, "two_factor_enabled").or_else(|| opt(t, "mfa_enabled")),
        two_factor_secret: opt(t, "two_factor_secret").or_else(|| opt(t, "mfa_secret")),
        last_login_at: opt(t, "last_login_at"),
        deleted_at: opt(t, "deleted_at"),
        managed: Vec::new(),
        verified: verified_column(t, email),
        two_factor_secret_fits: false,
        bookkeeping: Vec::new(),
    };
    m.two_factor_secret_fits = m.two_factor_secret.as_ref().and_then(|c| t.column(c)).is_some_and(|c| {
        !c.ty.array
            && match c.ty.name.as_str() {
                "text" | "citext" => true,
                "character varying" => c.ty.max_length().is_none_or(|n| n >= SEALED_SECRET_LENGTH),
                _ => false,
            }
    });
    m.bookkeeping =
        [m.failed_logins.clone(), m.locked_until.clone(), m.last_login_at.clone()].into_iter().flatten().collect();
    // Email is who signs in and, with tenancy, which memberships match: it changes only through
    // auth. Verification stamps prove something the CRUD routes cannot.
    let verified = t
        .columns
        .iter()
        .filter(|c| c.name.ends_with("_verified_at") || c.name.ends_with("_verified") || c.name == "verified_at")
        .map(|c| Some(c.name.clone()));
    m.managed = [
        Some(m.email.clone()),
        Some(m.password_hash.clone()),
        m.failed_logins.clone(),
        m.locked_until.clone(),
        m.two_factor_enabled.clone(),
        m.two_factor_secret.clone(),
        m.last_login_at.clone(),
    ]
    .into_iter()
    .chain(verified)
    .flatten()
    .collect();
    if let Verified::Timestamp(c) | Verified::Bool(c) = &m.verified
        && !m.managed.contains(c)
    {
        m.managed.push(c.clone());
    }
    Ok(m)
}

fn find<'a>(catalog: &'a Catalog, names: &[&str]) -> Option<&'a Table> {
    names.iter().find_map(|n| catalog.find_table(n)).filter(|t| !t.kind.is_view())
}

/// The column of `t` that references `target`. When several do (`user_id` and `assigned_by`
/// both point at users), the one in the primary key wins, then `<target>_id`.
fn fk_to(t: &Table, target: &Table) -> Option<String> {
    let candidates: Vec<String> = t
        .foreign_keys
        .iter()
        .filter(|f| f.references.name == target.name && f.references.schema == target.schema && f.columns.len() == 1)
        .map(|f| f.columns[0].clone())
        .collect();
    let in_pk = |c: &String| t.primary_key.as_ref().is_some_and(|k| k.columns.contains(c));
    let singular = crate::names::singular_words(&target.name).join("_");
    candidates
        .iter()
        .find(|c| in_pk(c))
        .or_else(|| candidates.iter().find(|c| **c == format!("{singular}_id")))
        .or_else(|| candidates.first())
        .cloned()
}

fn rt(t: &Table) -> TableRef {
    TableRef { schema: t.schema.clone(), table: t.name.clone() }
}

/// Roles, permissions and assignment tables, by name and foreign keys.
pub fn detect_rbac(catalog: &Catalog, users: &Table) -> Result<RbacModel, String> {
    let roles = find(catalog, &["roles", "role"]).ok_or("RBAC needs a roles table")?;
    let perms = find(catalog, &["permissions", "permission"]).ok_or("RBAC needs a permissions table")?;
    let rp = find(catalog, &["role_permissions", "roles_permissions", "permission_roles"])
        .ok_or("RBAC needs a role_permissions table")?;
    let ur = find(catalog, &["user_roles", "users_roles", "role_users"]).ok_or("RBAC needs a user_roles table")?;
    let up = find(catalog, &["user_permissions", "users_permissions"]);
    let single_pk = |t: &Table| t.primary_key.as_ref().filter(|k| k.columns.len() == 1).map(|k| k.columns[0].clone());
    let role_id = single_pk(roles).ok_or("roles needs a single-column primary key")?;
    let permission_id = single_pk(perms).ok_or("permissions needs a single-column primary key")?;
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
    let rp_role = fk_to(rp, roles).ok_or("role_permissions needs a foreign key to roles")?;
    let rp_permission = fk_to(rp, perms).ok_or("role_permissions needs a foreign key to permissions")?;
    let ur_user = fk_to(ur, users).ok_or("user_roles needs a foreign key to the users table")?;
    let ur_role = fk_to(ur, roles).ok_or("user_roles needs a foreign key to roles")?;
    let (up_user, up_permission) = match up {
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
        roles: rt(roles),
        role_id,
        role_slug,
        role_parent,
        role_name: opt(roles, "name"),
        role_level: opt(roles, "level"),
        permissions: rt(perms),
        permission_id,
        permission_slug_sql,
        permission_seed_columns: seed,
        role_permissions: rt(rp),
        rp_role,
        rp_permission,
        user_roles: rt(ur),
        ur_user,
        ur_role,
        ur_expires: opt(ur, "expires_at"),
        ur_assigned_by: opt(ur, "assigned_by"),
        up_granted: up.and_then(|t| opt(t, "granted")),
        up_expires: up.and_then(|t| opt(t, "expires_at")),
        up_granted_by: up.and_then(|t| opt(t, "granted_by")),
        user_permissions: up.map(rt),
        up_user,
        up_permission,
    })
}

/// Permission actions of a resource's routes.
pub fn actions(ops: &crate::Operations) -> Vec<&'static str> {
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

/// Multi-tenancy: the tenant table (organizations), the membership table that says who belongs
/// to which tenant (organization_users), and the setting the RLS policies read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenancyModel {
    pub tenant: TableRef,
    pub tenant_id: String,
    pub tenant_id_type: String,
    pub tenant_status: Option<String>,
    /// When the tenant's subscription runs out: past it, the tenant is treated as `expired`.
    pub tenant_expires: Option<String>,
    pub tenant_deleted_at: Option<String>,
    pub members: TableRef,
    /// Column of the membership table that references the tenant.
    pub member_tenant: String,
    /// How a member row is matched to the signed-in user: by email, or by a users foreign key.
    pub member_email: Option<String>,
    pub member_user: Option<String>,
    pub member_role: Option<String>,
    pub member_status: Option<String>,
    pub member_deleted_at: Option<String>,
    /// The membership table's single-column key and its type (invitations are linked by it).
    pub member_key: Option<(String, String)>,
    /// PostgreSQL setting the policies compare with (`app.current_<tenant>_id`).
    pub setting: String,
}

/// Find the tenant and membership tables from a tenant-scoped table's tenant column.
pub fn detect_tenancy(
    catalog: &Catalog,
    scoped: &Table,
    tenant_column: &str,
    users: Option<&Table>,
) -> Result<TenancyModel, String> {
    let fk = scoped.foreign_keys.iter().find(|f| f.columns == [tenant_column.to_string()]).ok_or_else(|| {
        format!("{}.{tenant_column} must be a foreign key to the tenant table (e.g. organizations)", scoped.name)
    })?;
    let tenant = catalog
        .table(&fk.references.schema, &fk.references.name)
        .ok_or_else(|| format!("tenant table {} not found", fk.references.name))?;
    let tenant_id = fk.referenced_columns.first().cloned().unwrap_or_else(|| "id".into());
    let tenant_id_type = tenant
        .column(&tenant_id)
        .map(|c| nest_catalog::SqlType { modifiers: vec![], typmod: None, ..c.ty.clone() }.to_string())
        .unwrap_or_else(|| "uuid".into());
    // Membership: a table referencing the tenant that also identifies a user.
    let members = catalog
        .tables
        .iter()
        .filter(|t| !t.kind.is_view() && t.partition_of.is_none())
        .filter(|t| {
            t.foreign_keys.iter().any(|f| f.references.name == tenant.name && f.references.schema == tenant.schema)
        })
        .filter(|t| {
            has(t, "email")
                || users.is_some_and(|u| {
                    t.foreign_keys.iter().any(|f| f.references.name == u.name && f.references.schema == u.schema)
                })
        })
        .max_by_key(|t| (t.name.contains("user") || t.name.contains("member"), has(t, "role")))
        .ok_or_else(|| {
            format!("no membership table: a table referencing {} with an email or a users foreign key", tenant.name)
        })?;
    let member_tenant = fk_to(members, tenant).ok_or("membership table without tenant key")?;
    let member_user = users.and_then(|u| fk_to(members, u));
    let singular = crate::names::singular_words(&tenant.name).join("_");
    Ok(TenancyModel {
        tenant: rt(tenant),
        tenant_id,
        tenant_id_type,
        tenant_status: opt(tenant, "status"),
        tenant_expires: opt(tenant, "subscription_expires_at")
            .or_else(|| opt(tenant, "subscription_ends_at"))
            .or_else(|| opt(tenant, "expires_at")),
        tenant_deleted_at: opt(tenant, "deleted_at"),
        members: rt(members),
        member_tenant,
        member_email: opt(members, "email"),
        member_user,
        member_role: opt(members, "role"),
        member_status: opt(members, "status"),
        member_deleted_at: opt(members, "deleted_at"),
        member_key: members.primary_key.as_ref().filter(|k| k.columns.len() == 1).map(|k| {
            let c = k.columns[0].clone();
            let ty = members
                .column(&c)
                .map(|col| nest_catalog::SqlType { modifiers: vec![], typmod: None, ..col.ty.clone() }.to_string())
                .unwrap_or_else(|| "text".into());
            (c, ty)
        }),
        setting: format!("app.current_{singular}_id"),
    })
}
