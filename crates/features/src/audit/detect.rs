//! The audit trail's tables (seed scenario 3): the table that stores one row per change
//! (`audit_logs`), the table with one row per changed field (`field_changes`), retention
//! policies, and what each audited table needs (its key, secrets, column types).

use crate::schema::{bare_type, first as opt, has, single_key};
use nest_catalog::{Catalog, QualifiedName, Table};
use nest_model::Resource;
use serde::Serialize;

/// Where audit rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditMode {
    /// The app writes them, in the transaction of the change (default).
    Application,
    /// An AFTER row trigger writes them (changes made outside the app are recorded too).
    Trigger,
}

impl AuditMode {
    pub fn parse(s: &str) -> Option<AuditMode> {
        match s {
            "application" | "app" => Some(AuditMode::Application),
            "trigger" | "database" => Some(AuditMode::Trigger),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AuditMode::Application => "application",
            AuditMode::Trigger => "trigger",
        }
    }
}

/// How a row's key becomes `audit_logs.record_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordId {
    /// A single uuid key into a uuid column.
    Direct,
    /// Any other key into a uuid column: `md5(jsonb_build_array(k1, k2, ...)::text)::uuid`.
    Hash,
    /// A single key into a text column, as text.
    Text,
    /// A composite key into a text column: `jsonb_build_array(k1, k2, ...)::text`.
    Json,
}

impl RecordId {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordId::Direct => "direct",
            RecordId::Hash => "hash",
            RecordId::Text => "text",
            RecordId::Json => "json",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedTable {
    pub schema: String,
    pub table: String,
    /// What `audit_logs.table_name` says: the table name, schema-qualified outside `public`.
    pub log_name: String,
    pub key: Vec<String>,
    pub record_id: RecordId,
    /// Columns whose values are masked.
    pub sensitive: Vec<String>,
    /// Columns whose change alone is not a change (the updated_at stamp).
    pub ignored: Vec<String>,
    pub mode: AuditMode,
    /// Triggers already on the table that write audit rows (the seed's `audit_users`): dropped,
    /// or every change would be recorded twice.
    pub replaced_triggers: Vec<String>,
    /// Every column's SQL type (`jsonb_build_object` of db/05-audit.sql: secrets and unknown
    /// columns are masked).
    pub column_types: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChanges {
    pub table: QualifiedName,
    pub audit_id: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub data_type: Option<String>,
    pub is_sensitive: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub table: QualifiedName,
    pub table_name: String,
    pub days: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditModel {
    pub logs: QualifiedName,
    pub id: String,
    pub id_type: String,
    pub table_name: String,
    pub record_id: String,
    pub record_id_type: String,
    pub operation: String,
    pub user_id: Option<String>,
    pub user_id_type: String,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub old_values: Option<String>,
    pub new_values: Option<String>,
    pub changed_fields: Option<String>,
    pub reason: Option<String>,
    pub correlation_id: Option<String>,
    pub correlation_id_type: String,
    pub request_id: Option<String>,
    pub created_at: Option<String>,
    /// Monthly partitions by this column, when the log table is partitioned.
    pub partition_column: Option<String>,
    pub changes: Option<FieldChanges>,
    pub retention: Option<Retention>,
    pub audited: Vec<AuditedTable>,
    /// Users table and its display-name column, for `user_name`.
    pub users_name: Option<(QualifiedName, String, String)>,
}

/// The audit log table: `table_name`, `record_id`, `operation` and old or new values.
pub fn find_log_table(catalog: &Catalog) -> Option<&Table> {
    let shaped = |t: &&Table| {
        !t.kind.is_view()
            && t.partition_of.is_none()
            && has(t, "table_name")
            && has(t, "record_id")
            && has(t, "operation")
            && (has(t, "old_values") || has(t, "new_values"))
    };
    let all: Vec<&Table> = catalog.tables.iter().filter(shaped).collect();
    all.iter().find(|t| t.name == "audit_logs" || t.name == "audit_log").or(all.first()).copied()
}

/// The log table, its companions, and what each audited resource needs (`audited`: the
/// resources with their audit mode).
pub fn detect(
    catalog: &Catalog,
    logs: &Table,
    audited: &[(&Resource, AuditMode)],
    users: Option<&Table>,
) -> AuditModel {
    let changes = catalog.tables.iter().filter(|t| !t.kind.is_view() && has(t, "field_name")).find_map(|t| {
        // By foreign key, or (when partitioning dropped it) by a column named <log>_id.
        let fk = t
            .foreign_keys
            .iter()
            .find(|f| f.references.name == logs.name && f.columns.len() == 1)
            .map(|f| f.columns[0].clone())
            .or_else(|| opt(t, &["audit_log_id", "audit_id", "log_id"]))?;
        Some(FieldChanges {
            table: t.qualified_name(),
            audit_id: fk,
            field: "field_name".into(),
            old_value: opt(t, &["old_value"]),
            new_value: opt(t, &["new_value"]),
            data_type: opt(t, &["data_type"]),
            is_sensitive: opt(t, &["is_sensitive"]),
        })
    });
    let retention =
        catalog.tables.iter().find(|t| !t.kind.is_view() && has(t, "table_name") && has(t, "retention_days")).map(
            |t| Retention { table: t.qualified_name(), table_name: "table_name".into(), days: "retention_days".into() },
        );
    let partitioned = logs.partition_by.is_some()
        || catalog.tables.iter().any(|p| p.partition_of.as_ref().is_some_and(|o| o.parent == logs.qualified_name()));
    let created_at = opt(logs, &["created_at"]);
    let record_uuid = logs.column("record_id").is_some_and(|c| c.ty.name == "uuid" && !c.ty.array);
    let tables = audited
        .iter()
        .filter_map(|&(r, mode)| {
            let t = catalog.table(&r.schema, &r.table)?;
            let key: Vec<String> = r.key_fields().iter().map(|f| f.column.clone()).collect();
            if key.is_empty() {
                return None;
            }
            let single_uuid = key.len() == 1 && t.column(&key[0]).is_some_and(|c| c.ty.name == "uuid" && !c.ty.array);
            let record_id = match (record_uuid, single_uuid, key.len()) {
                (true, true, _) => RecordId::Direct,
                (true, false, _) => RecordId::Hash,
                (false, _, 1) => RecordId::Text,
                (false, _, _) => RecordId::Json,
            };
            let mut sensitive: Vec<String> =
                r.fields.iter().filter(|f| f.sensitive).map(|f| f.column.clone()).collect();
            if let Some(extra) = catalog
                .metadata
                .features(&r.schema, &r.table)
                .and_then(|m| m.get("audit_sensitive_columns"))
                .and_then(|v| v.as_array())
            {
                sensitive.extend(extra.iter().filter_map(|v| v.as_str()).map(str::to_string));
            }
            sensitive.sort();
            sensitive.dedup();
            let ignored = r.updated_at.map(|i| vec![r.fields[i].column.clone()]).unwrap_or_default();
            let replaced_triggers = t
                .triggers
                .iter()
                .filter(|g| g.function.name.to_ascii_lowercase().contains("audit"))
                .map(|g| g.name.clone())
                .collect();
            Some(AuditedTable {
                schema: r.schema.clone(),
                table: r.table.clone(),
                log_name: if r.schema == "public" { r.table.clone() } else { format!("{}.{}", r.schema, r.table) },
                key,
                record_id,
                sensitive,
                ignored,
                mode,
                replaced_triggers,
                column_types: t.columns.iter().map(|c| (c.name.clone(), c.ty.to_string())).collect(),
            })
        })
        .collect();
    let users_name = users.and_then(|u| {
        let name = opt(u, &["name", "full_name", "display_name", "username"])?;
        let id = single_key(u)?;
        Some((u.qualified_name(), id, name))
    });
    AuditModel {
        logs: logs.qualified_name(),
        id: opt(logs, &["id"]).unwrap_or_else(|| "id".into()),
        id_type: bare_type(logs, "id", "text"),
        table_name: "table_name".into(),
        record_id: "record_id".into(),
        record_id_type: bare_type(logs, "record_id", "text"),
        operation: "operation".into(),
        user_id: opt(logs, &["user_id", "actor_id"]),
        user_id_type: opt(logs, &["user_id", "actor_id"])
            .map(|c| bare_type(logs, &c, "text"))
            .unwrap_or_else(|| "text".into()),
        user_email: opt(logs, &["user_email", "actor_email"]),
        user_name: opt(logs, &["user_name", "actor_name"]),
        ip: opt(logs, &["ip_address", "ip"]),
        user_agent: opt(logs, &["user_agent"]),
        old_values: opt(logs, &["old_values"]),
        new_values: opt(logs, &["new_values"]),
        changed_fields: opt(logs, &["changed_fields"]),
        reason: opt(logs, &["reason"]),
        correlation_id: opt(logs, &["correlation_id"]),
        correlation_id_type: bare_type(logs, "correlation_id", "text"),
        request_id: opt(logs, &["request_id"]),
        partition_column: if partitioned { created_at.clone() } else { None },
        created_at,
        changes,
        retention,
        audited: tables,
        users_name,
    }
}

impl AuditedTable {
    pub fn name(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.table)
    }
}

impl AuditModel {
    /// The tables that hold the trail itself (served read-only, never audited).
    pub fn store(&self) -> Vec<QualifiedName> {
        std::iter::once(self.logs.clone()).chain(self.changes.iter().map(|c| c.table.clone())).collect()
    }

    pub fn audited(&self, table: &QualifiedName) -> Option<&AuditedTable> {
        self.audited.iter().find(|t| t.name() == *table)
    }
}
