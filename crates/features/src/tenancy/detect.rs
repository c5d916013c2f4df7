//! The tenant table (organizations) and the membership table that says who belongs to which
//! tenant (organization_users), found from a tenant-scoped table's tenant column.

use crate::schema::{bare_type, fk_to, has, opt, single_key};
use nest_catalog::{Catalog, QualifiedName, Table};
use serde::Serialize;

/// Multi-tenancy: the tenant table (organizations), the membership table that says who belongs
/// to which tenant (organization_users), and the setting the RLS policies read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenancyModel {
    pub tenant: QualifiedName,
    pub tenant_id: String,
    pub tenant_id_type: String,
    pub tenant_status: Option<String>,
    /// When the tenant's subscription runs out: past it, the tenant is treated as `expired`.
    pub tenant_expires: Option<String>,
    pub tenant_deleted_at: Option<String>,
    pub members: QualifiedName,
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
    /// Tables whose rows belong to a tenant, and their tenant column (the tenant table itself,
    /// by its key: a member sees only their own organization).
    pub scoped: Vec<Scoped>,
    /// Foreign keys from one tenant table to another: checked to stay inside one tenant.
    pub same_tenant: Vec<SameTenant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scoped {
    pub table: QualifiedName,
    pub column: String,
    /// A view: filtered by the app only (row-level security cannot apply).
    pub view: bool,
}

/// `table.column` references `referenced.referenced_column`; both tables carry a tenant column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SameTenant {
    pub name: String,
    pub table: QualifiedName,
    pub column: String,
    /// The tenant column of `table`.
    pub own: String,
    pub referenced: QualifiedName,
    pub referenced_column: String,
    /// The tenant column of `referenced`.
    pub theirs: String,
}

impl TenancyModel {
    /// The tenant column of a table, when its rows belong to a tenant.
    pub fn column_of(&self, table: &QualifiedName) -> Option<&str> {
        self.scoped.iter().find(|s| s.table == *table).map(|s| s.column.as_str())
    }
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
    let tenant_id_type = bare_type(tenant, &tenant_id, "uuid");
    // Membership: a table referencing the tenant that also identifies a user.
    let members = catalog
        .tables
        .iter()
        .filter(|t| !t.kind.is_view() && t.partition_of.is_none())
        .filter(|t| t.foreign_keys.iter().any(|f| f.references == tenant.qualified_name()))
        .filter(|t| {
            has(t, "email") || users.is_some_and(|u| t.foreign_keys.iter().any(|f| f.references == u.qualified_name()))
        })
        .max_by_key(|t| (t.name.contains("user") || t.name.contains("member"), has(t, "role")))
        .ok_or_else(|| {
            format!("no membership table: a table referencing {} with an email or a users foreign key", tenant.name)
        })?;
    let member_tenant = fk_to(members, tenant).ok_or("membership table without tenant key")?;
    let member_user = users.and_then(|u| fk_to(members, u));
    let singular = nest_model::names::singular_words(&tenant.name).join("_");
    Ok(TenancyModel {
        tenant: tenant.qualified_name(),
        tenant_id,
        tenant_id_type,
        tenant_status: opt(tenant, "status"),
        tenant_expires: opt(tenant, "subscription_expires_at")
            .or_else(|| opt(tenant, "subscription_ends_at"))
            .or_else(|| opt(tenant, "expires_at")),
        tenant_deleted_at: opt(tenant, "deleted_at"),
        members: members.qualified_name(),
        member_tenant,
        member_email: opt(members, "email"),
        member_user,
        member_role: opt(members, "role"),
        member_status: opt(members, "status"),
        member_deleted_at: opt(members, "deleted_at"),
        member_key: single_key(members).map(|c| {
            let ty = bare_type(members, &c, "text");
            (c, ty)
        }),
        setting: format!("app.current_{singular}_id"),
        scoped: Vec::new(),
        same_tenant: Vec::new(),
    })
}
