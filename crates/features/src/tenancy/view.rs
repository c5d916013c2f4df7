//! What the tenancy templates see: the statements the tenancy runtime runs
//! (`tenancy.tables.ts`) and db/04-tenancy.sql (row-level security, membership bound to
//! identity, same-tenant foreign keys).
//!
//! A membership row counts for a user when it is linked to them: a users foreign key on the
//! membership table, or an accepted invitation in `nestgen.member_links`. A row linked to no one
//! is an invitation: the user whose *verified* email it names may accept it (which links it).
//! Nothing else: an address, verified or not, never makes anyone a member without their consent,
//! and an unverified one cannot even accept.

use super::detect::TenancyModel;
use crate::auth::{AuthModel, verified_sql};
use crate::schema::id_pattern;
use nest_catalog::quote as sql;
use nest_model::Model;
use nest_nestjs::layout::{self, Doc};
use nest_nestjs::quote as ts;
use serde::Serialize;

/// Permission that lets a user act in any organization with the X-Organization-Id header.
pub const CROSS_TENANT_PERMISSION: &str = "tenants:cross";

/// How membership rows are tied to users.
enum Binding<'a> {
    /// A users foreign key on the membership table, and an email for rows not linked yet.
    Column {
        user: &'a str,
        email: Option<&'a str>,
    },
    /// Email only: accepted invitations are linked in `nestgen.member_links` (by the row's key).
    Email {
        email: &'a str,
        key: Option<&'a str>,
    },
    None,
}

fn binding(t: &TenancyModel) -> Binding<'_> {
    match (&t.member_user, &t.member_email) {
        (Some(u), e) => Binding::Column { user: u, email: e.as_deref() },
        (None, Some(e)) => Binding::Email { email: e, key: t.member_key.as_ref().map(|(k, _)| k.as_str()) },
        (None, None) => Binding::None,
    }
}

/// SQL: membership row (columns prefixed by `p`, e.g. `m.`) belongs to user `user` (an SQL
/// expression): it is linked to them. A row linked to no one is an invitation, not a membership.
pub fn member_match(t: &TenancyModel, p: &str, user: &str) -> String {
    match binding(t) {
        Binding::Column { user: col, .. } => format!("{p}{} = {user}", sql::ident(col)),
        Binding::Email { key: Some(k), .. } => format!("nestgen.member_matches({p}{}, {user})", sql::ident(k)),
        // No key to link by: the verified address is all there is.
        Binding::Email { email, key: None } => format!("nestgen.email_verified_user({p}{}, {user})", sql::ident(email)),
        Binding::None => "false".into(),
    }
}

/// SQL: membership row waits for user `user` (linked to no one, their verified email), or None
/// when the table cannot link invitations.
fn member_pending(t: &TenancyModel, p: &str, user: &str) -> Option<String> {
    match binding(t) {
        Binding::Column { user: col, email: Some(e) } => Some(format!(
            "{p}{col} IS NULL AND nestgen.email_verified_user({p}{e}, {user})",
            col = sql::ident(col),
            e = sql::ident(e)
        )),
        Binding::Email { email, key: Some(k) } => {
            Some(format!("nestgen.member_pending({p}{}, {p}{}, {user})", sql::ident(k), sql::ident(email)))
        }
        _ => None,
    }
}

fn live(t: &TenancyModel, p: &str) -> String {
    let mut s = String::new();
    if let Some(c) = &t.member_status {
        s.push_str(&format!(" AND ({p}{0} IS NULL OR {p}{0} = 'active')", sql::ident(c)));
    }
    if let Some(d) = &t.member_deleted_at {
        s.push_str(&format!(" AND {p}{} IS NULL", sql::ident(d)));
    }
    s
}

/// The users table's condition "this user is a member of tenant `$T`" (for owners and admins
/// who list their members); `$R` is the users row as the statement names it (an alias, or the
/// table), set by the runtime.
pub fn members_condition(a: &AuthModel, t: &TenancyModel) -> String {
    let user = format!("$R.{}", sql::ident(&a.id));
    format!(
        "EXISTS (SELECT 1 FROM {} m WHERE m.{} = $T::{}{} AND {})",
        sql::table(&t.members),
        sql::ident(&t.member_tenant),
        t.tenant_id_type,
        live(t, "m."),
        member_match(t, "m.", &user)
    )
}

#[derive(Serialize)]
pub struct TenancyView {
    pub setting: String,
    pub setting_ts: String,
    pub tenant_id_pattern: String,
    pub member_id_pattern: String,
    pub member_sql: String,
    pub tenant_status_sql: String,
    pub default_tenant_sql: String,
    pub list_tenants_sql: String,
    pub invitations_sql: Option<String>,
    pub accept_sql: Option<String>,
    /// `{ table, emailProperty, keyProperty, tenantProperty, userProperty }` of the membership
    /// resource, when memberships added through the API are invitations.
    pub invite: Option<String>,
    pub cross_permission: String,
    pub active_status: String,
}

pub fn tenancy_view(m: &Model, a: &AuthModel, t: &TenancyModel) -> TenancyView {
    let members = sql::table(&t.members);
    let tid = &t.tenant_id_type;
    let uid = &a.id_type;
    let mt = sql::ident(&t.member_tenant);
    let role =
        t.member_role.as_ref().map(|r| format!("m.{}::text", sql::ident(r))).unwrap_or_else(|| "NULL::text".into());
    let alive = live(t, "m.");
    let member_sql = format!(
        "SELECT {role} AS role FROM {members} m WHERE m.{mt} = $1::{tid} AND {}{alive} LIMIT 1",
        member_match(t, "m.", &format!("$2::{uid}"))
    );
    let mine = member_match(t, "m.", &format!("$1::{uid}"));
    let default_tenant_sql =
        format!("SELECT m.{mt}::text AS tenant FROM {members} m WHERE {mine}{alive} ORDER BY 1 LIMIT 1");
    let list_tenants_sql =
        format!("SELECT m.{mt}::text AS id, {role} AS role FROM {members} m WHERE {mine}{alive} ORDER BY 1");
    let key = t.member_key.as_ref();
    let invitations_sql = member_pending(t, "m.", &format!("$1::{uid}")).zip(key).map(|(pending, (k, _))| {
        format!(
            "SELECT m.{}::text AS id, m.{mt}::text AS \"organizationId\", {role} AS role FROM {members} m WHERE {pending}{alive} ORDER BY 2, 1",
            sql::ident(k)
        )
    });
    let accept_sql = match (binding(t), key) {
        (Binding::Column { user, email: Some(_) }, Some((k, kt))) => Some(format!(
            "UPDATE {members} m SET {user} = $2::{uid} WHERE m.{k} = $1::{kt} AND {}{alive} RETURNING m.{k}::text AS id",
            member_pending(t, "m.", &format!("$2::{uid}")).unwrap_or_default(),
            user = sql::ident(user),
            k = sql::ident(k),
        )),
        (Binding::Email { key: Some(_), .. }, Some((k, kt))) => Some(format!(
            "INSERT INTO nestgen.member_links (member_id, user_id) SELECT m.{k}, $2::{uid} FROM {members} m WHERE m.{k} = $1::{kt} AND {}{alive} ON CONFLICT DO NOTHING RETURNING member_id::text AS id",
            member_pending(t, "m.", &format!("$2::{uid}")).unwrap_or_default(),
            k = sql::ident(k),
        )),
        _ => None,
    };
    let tenant = sql::table(&t.tenant);
    let mut status =
        t.tenant_status.as_ref().map(|s| format!("{}::text", sql::ident(s))).unwrap_or_else(|| "NULL::text".into());
    if let Some(e) = &t.tenant_expires {
        status =
            format!("CASE WHEN {e} IS NOT NULL AND {e} < now() THEN 'expired' ELSE {status} END", e = sql::ident(e));
    }
    let alive_tenant =
        t.tenant_deleted_at.as_ref().map(|d| format!(" AND {} IS NULL", sql::ident(d))).unwrap_or_default();
    let tenant_status_sql =
        format!("SELECT {status} AS status FROM {tenant} WHERE {} = $1::{tid}{alive_tenant}", sql::ident(&t.tenant_id));
    let invite = accept_sql.as_ref().and_then(|_| {
        let r = m.resource_of(&t.members)?;
        let prop = |c: &str| r.fields.iter().find(|f| f.column == c).map(|f| ts::string(&f.property));
        let (key, _) = t.member_key.as_ref()?;
        let props = [
            ("table", ts::string(&format!("{}.{}", sql::ident_always(&r.schema), sql::ident_always(&r.table)))),
            ("emailProperty", prop(t.member_email.as_deref()?)?),
            ("keyProperty", prop(key)?),
            ("tenantProperty", prop(&t.member_tenant)?),
            ("userProperty", t.member_user.as_deref().and_then(prop).unwrap_or_else(|| "null".into())),
        ];
        let doc = Doc::object_of(props.map(|(k, v)| (k, Doc::Text(v))), false);
        Some(layout::print(&doc, 2, "  invite: ".len(), ","))
    });
    TenancyView {
        invite,
        tenant_id_pattern: id_pattern(tid).into(),
        member_id_pattern: id_pattern(t.member_key.as_ref().map(|(_, ty)| ty.as_str()).unwrap_or("text")).into(),
        setting: ts::template(&t.setting),
        setting_ts: ts::string(&t.setting),
        member_sql: ts::template(&member_sql),
        tenant_status_sql: ts::template(&tenant_status_sql),
        default_tenant_sql: ts::template(&default_tenant_sql),
        list_tenants_sql: ts::template(&list_tenants_sql),
        invitations_sql: invitations_sql.map(|s| ts::template(&s)),
        accept_sql: accept_sql.map(|s| ts::template(&s)),
        cross_permission: CROSS_TENANT_PERMISSION.into(),
        active_status: "active".into(),
    }
}

#[derive(Serialize)]
pub struct PolicyView {
    pub table: String,
    /// `tenant column = current tenant`.
    pub check: String,
    /// The membership table: its own rows are readable from any tenant (`self_match`).
    pub self_match: Option<String>,
}

#[derive(Serialize)]
pub struct SameTenantView {
    pub func: String,
    pub table: String,
    pub column: String,
    pub own: String,
    pub referenced: String,
    pub referenced_column: String,
    pub theirs: String,
    pub constraint: String,
    pub message: String,
    pub detail: String,
}

/// What db/04-tenancy.sql needs.
#[derive(Serialize)]
pub struct TenancySqlView {
    pub setting: String,
    pub users: String,
    pub user_id: String,
    pub user_id_type: String,
    pub user_email: String,
    /// `u` is verified (an SQL condition over alias `u`).
    pub verified: String,
    pub user_alive: String,
    /// Email binding with a single-column key: the link table.
    pub links: Option<LinksView>,
    pub members: String,
    pub policies: Vec<PolicyView>,
    pub same_tenant: Vec<SameTenantView>,
}

#[derive(Serialize)]
pub struct LinksView {
    pub key: String,
    pub key_type: String,
}

/// The condition a tenant-scoped row meets: its tenant column equals the transaction's tenant
/// setting (row-level security policies).
pub fn tenant_check(setting: &str, column: &str, cast: &str) -> String {
    format!("{} = nullif(current_setting('{setting}', true), '')::{cast}", sql::ident(column))
}

pub fn tenancy_sql_view(m: &Model, a: &AuthModel, t: &TenancyModel) -> TenancySqlView {
    let current_user = format!("nullif(current_setting('nestgen.user_id', true), '')::{}", a.id_type);
    let mut policies = Vec::new();
    // The tenant table is filtered by the app only: the membership and status checks read it
    // before a tenant is set. Views cannot have row-level security.
    for s in t.scoped.iter().filter(|s| !s.view && s.table != t.tenant) {
        let Some(col) = m.resource_of(&s.table).and_then(|r| r.field(&s.column)) else { continue };
        let is_members = s.table == t.members;
        policies.push(PolicyView {
            table: sql::table(&s.table),
            check: tenant_check(&t.setting, &col.column, &col.cast_type),
            // One's own memberships, and invitations to one's verified email (to list and accept them).
            self_match: is_members.then(|| match member_pending(t, "", &current_user) {
                Some(pending) => format!("{} OR {pending}", member_match(t, "", &current_user)),
                None => member_match(t, "", &current_user),
            }),
        });
    }
    // Foreign keys ignore row-level security: without a check, a row could point at another
    // tenant's row (and its id would be confirmed by the answer).
    let same_tenant = t
        .same_tenant
        .iter()
        .map(|fk| {
            let func = nest_catalog::naming::make_object_name(&fk.table.name, Some(&fk.name), Some("same_tenant"));
            SameTenantView {
                func: sql::ident(&func),
                table: sql::table(&fk.table),
                column: sql::ident(&fk.column),
                own: sql::ident(&fk.own),
                referenced: sql::table(&fk.referenced),
                referenced_column: sql::ident(&fk.referenced_column),
                theirs: sql::ident(&fk.theirs),
                constraint: sql::string(&fk.name),
                message: sql::string(&format!(
                    "{} must reference a row of the same tenant ({})",
                    fk.table.name, t.tenant.name
                )),
                detail: sql::string(&format!(
                    "Key ({})=(%s) is not present in table {}.",
                    fk.column, fk.referenced.name
                )),
            }
        })
        .collect();
    let links = match binding(t) {
        Binding::Email { key: Some(_), .. } => {
            t.member_key.as_ref().map(|(k, kt)| LinksView { key: sql::ident(k), key_type: kt.clone() })
        }
        _ => None,
    };
    TenancySqlView {
        setting: t.setting.clone(),
        users: sql::qualified(&a.schema, &a.table),
        user_id: sql::ident(&a.id),
        user_id_type: a.id_type.clone(),
        user_email: sql::ident(&a.email),
        verified: verified_sql(a, "u"),
        user_alive: a.deleted_at.as_ref().map(|d| format!(" AND u.{} IS NULL", sql::ident(d))).unwrap_or_default(),
        links,
        members: sql::table(&t.members),
        policies,
        same_tenant,
    }
}
