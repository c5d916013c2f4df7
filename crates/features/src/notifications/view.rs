//! What the notification templates see: column names as TypeScript literals (the runtime quotes
//! them), tables quoted for SQL.

use super::{NotificationSystem, NotificationsState};
use nest_catalog::quote as sql;
use nest_model::{Model, Resource};
use nest_nestjs::quote as ts;
use serde::Serialize;

/// `key: 'column', ...` of the roles present (the inside of an object literal).
fn fields(pairs: &[(&str, Option<&String>)]) -> String {
    let body: Vec<String> = pairs.iter().filter_map(|(k, v)| v.map(|v| format!("{k}: {}", ts::string(v)))).collect();
    body.join(", ")
}

fn table_ts(q: &nest_catalog::QualifiedName) -> String {
    ts::string(&sql::qualified_always(&q.schema, &q.name))
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
    let mut parts = vec![format!(
        "notifications: {{ table: {}, {} }}",
        table_ts(&n.table),
        fields(&[
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
        ])
    )];
    if let Some(t) = &s.templates {
        parts.push(format!(
            "templates: {{ table: {}, {} }}",
            table_ts(&t.table),
            fields(&[
                ("name", Some(&t.name)),
                ("body", Some(&t.body)),
                ("subject", t.subject.as_ref()),
                ("channel", t.channel.as_ref()),
                ("active", t.active.as_ref()),
            ])
        ));
    }
    if let Some(p) = &s.preferences {
        let channels: Vec<String> =
            p.channels.iter().map(|(c, col)| format!("{}: {}", ts::string(c), ts::string(col))).collect();
        parts.push(format!(
            "preferences: {{ table: {}, channels: {{ {} }}, {} }}",
            table_ts(&p.table),
            channels.join(", "),
            fields(&[
                ("user", Some(&p.user)),
                ("categories", p.categories.as_ref()),
                ("quietStart", p.quiet_start.as_ref()),
                ("quietEnd", p.quiet_end.as_ref()),
                ("timezone", p.timezone.as_ref()),
            ])
        ));
    }
    if let Some(d) = &s.deliveries {
        parts.push(format!(
            "deliveries: {{ table: {}, {} }}",
            table_ts(&d.table),
            fields(&[
                ("id", Some(&d.id)),
                ("notification", Some(&d.notification)),
                ("status", Some(&d.status)),
                ("provider", d.provider.as_ref()),
                ("providerId", d.provider_id.as_ref()),
                ("deliveredAt", d.delivered_at.as_ref()),
                ("error", d.error.as_ref()),
            ])
        ));
    }
    if let Some(a) = a {
        let users = nest_catalog::QualifiedName::new(&a.schema, &a.table);
        // Email goes only to addresses their owner confirmed (an SQL condition on users `u`).
        let verified = crate::auth::verified_sql(a, "u");
        parts.push(format!(
            "users: {{ table: {}, {} }}",
            table_ts(&users),
            fields(&[
                ("id", Some(&a.id)),
                ("email", Some(&a.email)),
                ("deletedAt", a.deleted_at.as_ref()),
                ("verifiedSql", Some(&verified)),
            ])
        ));
    }
    if let Some(t) = m.state::<crate::tenancy::TenancyModel>()
        && let Some(c) = t.column_of(&n.table)
    {
        parts.push(format!(
            "tenant: {{ column: {}, setting: {}, type: {} }}",
            ts::string(c),
            ts::string(&t.setting),
            ts::string(&t.tenant_id_type)
        ));
    }
    parts.push(format!("realtime: {}", s.realtime));
    parts.push(format!("permission: {}", ts::string(&format!("{}:send", r.names.permission))));
    SystemView {
        key_ts: ts::string(&r.names.file),
        def: format!("{{\n    {},\n  }}", parts.join(",\n    ")),
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
