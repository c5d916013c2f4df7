//! The tables of a notification system, by shape: the notifications themselves (a recipient, a
//! message, a status), and, when the schema has them, templates (a unique name and a body),
//! preferences (one row per user) and deliveries (one row per attempt, referencing a
//! notification).

use nest_catalog::{Catalog, Column, QualifiedName, Table};
use serde::Serialize;

fn text(c: &Column) -> bool {
    matches!(c.ty.name.as_str(), "text" | "character varying" | "character" | "citext") && !c.ty.array
}

fn int(c: &Column) -> bool {
    matches!(c.ty.name.as_str(), "integer" | "bigint" | "smallint") && !c.ty.array
}

fn time(c: &Column) -> bool {
    c.ty.name.starts_with("timestamp") && !c.ty.array
}

fn json(c: &Column) -> bool {
    matches!(c.ty.name.as_str(), "jsonb" | "json") && !c.ty.array
}

fn boolean(c: &Column) -> bool {
    c.ty.name == "boolean" && !c.ty.array
}

fn find(t: &Table, names: &[&str], ok: fn(&Column) -> bool) -> Option<String> {
    names.iter().filter_map(|n| t.column(n)).find(|c| ok(c)).map(|c| c.name.clone())
}

/// The notifications table: who it is for, what it says, where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationTable {
    pub table: QualifiedName,
    pub id: String,
    pub id_type: String,
    pub recipient: String,
    pub message: String,
    pub status: String,
    pub channel: Option<String>,
    pub title: Option<String>,
    pub data: Option<String>,
    pub sent_at: Option<String>,
    pub read_at: Option<String>,
    pub failed_reason: Option<String>,
    pub retry_count: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: Option<String>,
}

impl NotificationTable {
    /// Columns the server writes: what the notification says comes from a template, where it
    /// stands from the worker.
    pub fn server_columns(&self) -> Vec<&str> {
        let mut v = vec![self.message.as_str(), self.status.as_str()];
        for c in [
            &self.channel,
            &self.title,
            &self.sent_at,
            &self.read_at,
            &self.failed_reason,
            &self.retry_count,
            &self.priority,
            &self.category,
            &self.expires_at,
        ]
        .into_iter()
        .flatten()
        {
            v.push(c);
        }
        v
    }
}

/// The shape of a notifications table, or what it lacks.
pub fn notification_table(t: &Table) -> Result<NotificationTable, Vec<String>> {
    let mut missing = Vec::new();
    let key = t.primary_key.as_ref().filter(|k| k.columns.len() == 1).map(|k| k.columns[0].clone());
    if key.is_none() {
        missing.push("a single-column primary key".to_string());
    }
    let recipient = find(t, &["user_id", "recipient_id", "recipient_user_id"], |c| !c.ty.array);
    if recipient.is_none() {
        missing.push("a recipient column (user_id or recipient_id)".into());
    }
    let message = find(t, &["message", "body", "content"], text);
    if message.is_none() {
        missing.push("a message column (message, body or content; text)".into());
    }
    let status = find(t, &["status", "state"], text);
    if status.is_none() {
        missing.push("a status column (status; text)".into());
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let id = key.unwrap();
    Ok(NotificationTable {
        table: QualifiedName::new(&t.schema, &t.name),
        id_type: t.column(&id).map(|c| c.ty.name.clone()).unwrap_or_else(|| "text".into()),
        id,
        recipient: recipient.unwrap(),
        message: message.unwrap(),
        status: status.unwrap(),
        channel: find(t, &["channel", "type"], text),
        title: find(t, &["title", "subject"], text),
        data: find(t, &["data", "payload", "metadata"], json),
        sent_at: find(t, &["sent_at", "delivered_at"], time),
        read_at: find(t, &["read_at", "seen_at"], time),
        failed_reason: find(t, &["failed_reason", "failure_reason", "error_message", "error"], text),
        retry_count: find(t, &["retry_count", "attempts", "retries"], int),
        priority: find(t, &["priority"], int),
        category: find(t, &["category", "topic"], text),
        expires_at: find(t, &["expires_at"], time),
        created_at: find(t, &["created_at"], time),
    })
}

/// Templates: a unique name and a Handlebars body.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateTable {
    pub table: QualifiedName,
    pub name: String,
    pub body: String,
    pub subject: Option<String>,
    pub channel: Option<String>,
    pub active: Option<String>,
}

pub fn template_table(catalog: &Catalog, schema: &str) -> Option<TemplateTable> {
    let mut found = catalog.tables.iter().filter(|t| t.schema == schema).filter_map(|t| {
        let name = find(t, &["name", "key", "slug"], text)?;
        let unique = t.unique.iter().any(|u| u.columns == [name.clone()])
            || t.primary_key.as_ref().is_some_and(|k| k.columns == [name.clone()]);
        if !unique || !t.name.contains("template") {
            return None;
        }
        Some(TemplateTable {
            table: QualifiedName::new(&t.schema, &t.name),
            name,
            body: find(t, &["body_template", "body", "template", "content"], text)?,
            subject: find(t, &["subject", "title", "subject_template"], text),
            channel: find(t, &["type", "channel"], text),
            active: find(t, &["is_active", "active", "enabled"], boolean),
        })
    });
    found.next()
}

/// Preferences: one row per user; channels on or off, categories, quiet hours.
#[derive(Debug, Clone, Serialize)]
pub struct PreferenceTable {
    pub table: QualifiedName,
    pub user: String,
    /// (channel, its boolean column): `email_enabled` → ("email", ...); `in_app_enabled` → "in-app".
    pub channels: Vec<(String, String)>,
    pub categories: Option<String>,
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    pub timezone: Option<String>,
}

pub fn preference_table(catalog: &Catalog, schema: &str, notifications: &QualifiedName) -> Option<PreferenceTable> {
    catalog.tables.iter().filter(|t| t.schema == schema && t.name != notifications.name).find_map(|t| {
        if !t.name.contains("preference") {
            return None;
        }
        let user = find(t, &["user_id", "recipient_id"], |_| true)?;
        let unique = t.primary_key.as_ref().is_some_and(|k| k.columns == [user.clone()])
            || t.unique.iter().any(|u| u.columns == [user.clone()]);
        if !unique {
            return None;
        }
        let channels = t
            .columns
            .iter()
            .filter(|c| boolean(c))
            .filter_map(|c| c.name.strip_suffix("_enabled").map(|ch| (ch.replace('_', "-"), c.name.clone())))
            .collect();
        let tod = |c: &Column| c.ty.name.starts_with("time") && !c.ty.name.starts_with("timestamp");
        Some(PreferenceTable {
            table: QualifiedName::new(&t.schema, &t.name),
            user,
            channels,
            categories: find(t, &["preferences", "categories", "settings"], json),
            quiet_start: find(t, &["quiet_hours_start", "quiet_start"], tod),
            quiet_end: find(t, &["quiet_hours_end", "quiet_end"], tod),
            timezone: find(t, &["quiet_hours_timezone", "timezone", "time_zone"], text),
        })
    })
}

/// Deliveries: one row per attempt, referencing a notification.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryTable {
    pub table: QualifiedName,
    /// Its single-column key: an attempt's row is written when it starts and settled when it ends.
    pub id: String,
    pub notification: String,
    pub status: String,
    pub provider: Option<String>,
    pub provider_id: Option<String>,
    pub delivered_at: Option<String>,
    pub error: Option<String>,
}

pub fn delivery_table(catalog: &Catalog, notifications: &QualifiedName) -> Option<DeliveryTable> {
    catalog.tables.iter().find_map(|t| {
        let fk = t.foreign_keys.iter().find(|fk| fk.columns.len() == 1 && &fk.references == notifications)?;
        let id = t.primary_key.as_ref().filter(|k| k.columns.len() == 1)?.columns[0].clone();
        Some(DeliveryTable {
            table: QualifiedName::new(&t.schema, &t.name),
            id,
            notification: fk.columns[0].clone(),
            status: find(t, &["status", "state"], text)?,
            provider: find(t, &["provider", "channel"], text),
            provider_id: find(t, &["provider_message_id", "provider_id", "external_id", "message_id"], text),
            delivered_at: find(t, &["delivered_at", "sent_at"], time),
            error: find(t, &["error_message", "error", "failure_reason"], text),
        })
    })
}
