//! What the notification templates see: column names as TypeScript literals (the runtime quotes
//! them), tables quoted for SQL.

use super::{NotificationSystem, NotificationsState};
use nest_catalog::quote as sql;
use nest_model::{Model, Resource};
use nest_nestjs::layout::{self, Doc};
use nest_nestjs::quote as ts;
use serde::Serialize;

/// `{ table: '"schema"."name"', key: 'column', ... }` of the roles present.
fn fields(table: &nest_catalog::QualifiedName, pairs: &[(&str, Option<&String>)]) -> Doc {
    let table = ("table", Doc::string(&sql::qualified_always(&table.schema, &table.name)));
    let present = pairs.iter().filter_map(|(k, v)| v.map(|v| (*k, Doc::string(v))));
    Doc::object_of(std::iter::once(table).chain(present), false)
}

#[derive(Serialize)]
pub struct SystemView {
    pub key_ts: String,
    pub def: String,
    /// Quoted for SQL: the notifications table and its recipient and read columns.
    pub table: String,
    pub recipient: String,
    pub read_at: Option<String>,
    pub index_name: String,
}

#[derive(Serialize)]
pub struct View {
    pub systems: Vec<SystemView>,
    pub route: String,
}

fn system_view(m: &Model, s: &NotificationSystem, r: &Resource) -> SystemView {
    let n = &s.notifications;
    let a = m.state::<crate::auth::AuthModel>();
    let notifications = [
        ("id", Some(&n.id)),
        ("idType", Some(&n.id_type)),
        ("recipient", Some(&n.recipient)),
        ("message", Some(&n.message)),
        ("status", Some(&n.status)),
        ("channel", n.channel.as_ref()),
        ("title", n.title.as_ref()),
        ("data", n.data.as_ref()),
        ("sentAt", n.sent_at.as_ref()),
        ("readAt", n.read_at.as_ref()),
        ("failedReason", n.failed_reason.as_ref()),
        ("retryCount", n.retry_count.as_ref()),
        ("priority", n.priority.as_ref()),
        ("category", n.category.as_ref()),
        ("expiresAt", n.expires_at.as_ref()),
        ("createdAt", n.created_at.as_ref()),
    ];
    let mut parts = vec![("notifications", fields(&n.table, &notifications))];
    if let Some(t) = &s.templates {
        let columns = [
            ("name", Some(&t.name)),
            ("body", Some(&t.body)),
            ("subject", t.subject.as_ref()),
            ("channel", t.channel.as_ref()),
            ("active", t.active.as_ref()),
        ];
        parts.push(("templates", fields(&t.table, &columns)));
    }
    if let Some(p) = &s.preferences {
        let channels = Doc::object_of(p.channels.iter().map(|(c, col)| (c.as_str(), Doc::string(col))), false);
        let mut props = vec![
            ("table", Doc::string(&sql::qualified_always(&p.table.schema, &p.table.name))),
            ("channels", channels),
        ];
        let columns = [
            ("user", Some(&p.user)),
            ("categories", p.categories.as_ref()),
            ("quietStart", p.quiet_start.as_ref()),
            ("quietEnd", p.quiet_end.as_ref()),
            ("timezone", p.timezone.as_ref()),
        ];
        props.extend(columns.iter().filter_map(|(k, v)| v.map(|v| (*k, Doc::string(v)))));
        parts.push(("preferences", Doc::object_of(props, false)));
    }
    if let Some(d) = &s.deliveries {
        let columns = [
            ("id", Some(&d.id)),
            ("notification", Some(&d.notification)),
            ("status", Some(&d.status)),
            ("provider", d.provider.as_ref()),
            ("providerId", d.provider_id.as_ref()),
            ("deliveredAt", d.delivered_at.as_ref()),
            ("error", d.error.as_ref()),
        ];
        parts.push(("deliveries", fields(&d.table, &columns)));
    }
    if let Some(a) = a {
        let users = nest_catalog::QualifiedName::new(&a.schema, &a.table);
        // Email goes only to addresses their owner confirmed (an SQL condition on users `u`).
        let verified = crate::auth::verified_sql(a, "u");
        let columns = [
            ("id", Some(&a.id)),
            ("email", Some(&a.email)),
            ("deletedAt", a.deleted_at.as_ref()),
            ("verifiedSql", Some(&verified)),
        ];
        parts.push(("users", fields(&users, &columns)));
    }
    if let Some(t) = m.state::<crate::tenancy::TenancyModel>()
        && let Some(c) = t.column_of(&n.table)
    {
        let tenant = [
            ("column", Doc::string(c)),
            ("setting", Doc::string(&t.setting)),
            ("type", Doc::string(&t.tenant_id_type)),
        ];
        parts.push(("tenant", Doc::object_of(tenant, false)));
    }
    parts.push(("realtime", Doc::text(s.realtime.to_string())));
    parts.push(("permission", Doc::string(&format!("{}:send", r.names.permission))));
    let key_ts = ts::key(&r.names.file);
    let def = layout::print(&Doc::object_of(parts, true), 2, 2 + key_ts.chars().count() + 2, ",");
    SystemView {
        key_ts,
        def,
        table: sql::qualified_always(&n.table.schema, &n.table.name),
        recipient: sql::ident_always(&n.recipient),
        read_at: n.read_at.as_deref().map(sql::ident_always),
        index_name: sql::ident_always(&format!("{}_unread_idx", n.table.name.chars().take(40).collect::<String>())),
    }
}

impl View {
    pub fn new(m: &Model, s: &NotificationsState) -> View {
        let systems: Vec<SystemView> = s
            .systems
            .iter()
            .filter_map(|x| m.resource_of(&x.notifications.table).map(|r| system_view(m, x, r)))
            .collect();
        let route = s
            .systems
            .first()
            .and_then(|x| m.resource_of(&x.notifications.table))
            .map(|r| r.names.route.clone())
            .unwrap_or_default();
        View { systems, route }
    }
}

/// A notifications table's extra routes.
#[derive(Serialize)]
pub struct ControllerView {
    pub key_ts: String,
    pub route: String,
    pub response_dto: String,
}

impl ControllerView {
    pub fn new(r: &Resource, _s: &NotificationSystem) -> ControllerView {
        ControllerView {
            key_ts: ts::string(&r.names.file),
            route: r.names.route.clone(),
            response_dto: format!("{}ResponseDto", r.names.class),
        }
    }
}
