//! What the audit templates see: db/05-audit.sql (the writer function both modes share, the
//! trigger, the per-table settings, partitions ahead, retention) and the statements the runtime
//! runs (`src/core/audit/audit.tables.ts`).

use super::detect::{AuditMode, AuditModel};
use nest_catalog::quote as sql;
use nest_nestjs::quote as ts;
use serde::Serialize;

/// Monthly partitions are named like the seed's: `audit_logs_2024_01`.
const PARTITIONS_AHEAD: u32 = 3;

#[derive(Serialize)]
struct AuditedTableSql {
    schema: String,
    table: String,
    log_name: String,
    key: String,
    record_id: String,
    sensitive: String,
    ignored: String,
    /// `'column', 'type', ...` for jsonb_build_object.
    types: String,
}

#[derive(Serialize)]
struct NameLookup {
    name: String,
    users: String,
    id: String,
}

#[derive(Serialize)]
struct ChangesSql {
    table: String,
    audit_id: String,
    columns: String,
    values: String,
}

#[derive(Serialize)]
struct ReplacedTrigger {
    name: String,
    ident: String,
}

#[derive(Serialize)]
struct TriggerSql {
    table: String,
    name: String,
    /// Mode "trigger": the generated trigger writes the rows.
    trigger: bool,
    replaced: Vec<ReplacedTrigger>,
}

#[derive(Serialize)]
struct RetentionSql {
    table: String,
    table_name: String,
    days: String,
}

#[derive(Serialize)]
struct PartitionSql {
    /// The log table's qualified name inside an SQL string literal.
    logs_literal: String,
    name_prefix: String,
    schema: String,
    column: String,
    ahead: u32,
}

/// What db/05-audit.sql (template `audit/audit.sql.j2`) needs.
#[derive(Serialize)]
pub struct AuditSqlView {
    tables: Vec<AuditedTableSql>,
    keep: String,
    logs: String,
    id: String,
    id_type: String,
    uid_type: String,
    has_user_id: bool,
    uname: Option<NameLookup>,
    log_columns: String,
    log_values: String,
    log_table_name: String,
    created: String,
    changes: Option<ChangesSql>,
    triggers: Vec<TriggerSql>,
    retention: Option<RetentionSql>,
    partitioned: Option<PartitionSql>,
}

/// The view of db/05-audit.sql: identifiers quoted, each SQL fragment one line.
pub fn audit_sql_view(a: &AuditModel) -> AuditSqlView {
    let tables = a
        .audited
        .iter()
        .map(|t| AuditedTableSql {
            schema: sql::string(&t.schema),
            table: sql::string(&t.table),
            log_name: sql::string(&t.log_name),
            key: sql::text_array(&t.key),
            record_id: sql::string(t.record_id.as_str()),
            sensitive: sql::text_array(&t.sensitive),
            ignored: sql::text_array(&t.ignored),
            types: t
                .column_types
                .iter()
                .map(|(name, ty)| format!("{}, {}", sql::string(name), sql::string(ty)))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let keep = a
        .audited
        .iter()
        .map(|t| format!("({}, {})", sql::string(&t.schema), sql::string(&t.table)))
        .collect::<Vec<_>>();
    // The log row: (column, value) for the columns this log table has.
    let mut cols = vec![sql::ident(&a.table_name), sql::ident(&a.record_id), sql::ident(&a.operation)];
    let mut vals = vec![
        "cfg.log_name".to_string(),
        format!(
            "nestgen.audit_record_id(cfg.record_id, cfg.key_columns, COALESCE(n_raw, o_raw))::{}",
            a.record_id_type
        ),
        "p_op".to_string(),
    ];
    let mut push = |col: &Option<String>, val: String| {
        if let Some(c) = col {
            cols.push(sql::ident(c));
            vals.push(val);
        }
    };
    push(&a.user_id, "uid".into());
    push(&a.user_email, "ctx ->> 'email'".into());
    push(&a.user_name, "uname".into());
    push(&a.ip, "ctx ->> 'ip'".into());
    push(&a.user_agent, "ctx ->> 'userAgent'".into());
    push(&a.old_values, "nestgen.audit_mask(o_raw, cfg.sensitive, cfg.column_types)".into());
    push(&a.new_values, "nestgen.audit_mask(n_raw, cfg.sensitive, cfg.column_types)".into());
    push(&a.changed_fields, "changed".into());
    push(&a.reason, "ctx ->> 'reason'".into());
    push(&a.correlation_id, format!("NULLIF(ctx ->> 'correlationId', '')::{}", a.correlation_id_type));
    push(&a.request_id, "ctx ->> 'requestId'".into());
    let changes = a.changes.as_ref().map(|fc| {
        let mut columns = vec![sql::ident(&fc.audit_id), sql::ident(&fc.field)];
        let mut values = vec!["log_id".to_string(), "f".to_string()];
        let masked = |side: &str| {
            format!(
                "CASE WHEN {side}_raw IS NULL OR {side}_raw -> f IS NULL OR {side}_raw -> f = 'null'::jsonb THEN NULL WHEN f = ANY (cfg.sensitive) OR NOT cfg.column_types ? f THEN '***' ELSE {side}_raw ->> f END"
            )
        };
        for (col, val) in [
            (&fc.old_value, masked("o")),
            (&fc.new_value, masked("n")),
            (&fc.data_type, "cfg.column_types ->> f".to_string()),
            (&fc.is_sensitive, "f = ANY (cfg.sensitive) OR NOT cfg.column_types ? f".to_string()),
        ] {
            if let Some(c) = col {
                columns.push(sql::ident(c));
                values.push(val);
            }
        }
        ChangesSql { table: sql::table(&fc.table), audit_id: sql::ident(&fc.audit_id), columns: columns.join(", "), values: values.join(", ") }
    });
    let logs = sql::table(&a.logs);
    AuditSqlView {
        tables,
        keep: keep.join(", "),
        id: sql::ident(&a.id),
        id_type: a.id_type.clone(),
        // A user id of another type than the log's column is recorded as unknown, not an error
        // that would undo the change.
        uid_type: if a.user_id.is_some() { a.user_id_type.clone() } else { "text".into() },
        has_user_id: a.user_id.is_some(),
        uname: match (&a.users_name, &a.user_name) {
            (Some((users, id, name)), Some(_)) => {
                Some(NameLookup { name: sql::ident(name), users: sql::table(users), id: sql::ident(id) })
            }
            _ => None,
        },
        log_columns: cols.join(", "),
        log_values: vals.join(", "),
        log_table_name: sql::ident(&a.table_name),
        created: a.created_at.as_ref().map(|c| sql::ident(c)).unwrap_or_else(|| "created_at".into()),
        changes,
        triggers: a
            .audited
            .iter()
            .map(|t| TriggerSql {
                table: format!("{}.{}", sql::ident(&t.schema), sql::ident(&t.table)),
                name: t.table.clone(),
                trigger: t.mode == AuditMode::Trigger,
                replaced: t
                    .replaced_triggers
                    .iter()
                    .map(|old| ReplacedTrigger { name: old.clone(), ident: sql::ident(old) })
                    .collect(),
            })
            .collect(),
        retention: a.retention.as_ref().map(|r| RetentionSql {
            table: sql::table(&r.table),
            table_name: sql::ident(&r.table_name),
            days: sql::ident(&r.days),
        }),
        partitioned: a.partition_column.as_ref().map(|pc| PartitionSql {
            logs_literal: nest_catalog::quote::string_content(&logs),
            name_prefix: nest_catalog::quote::string_content(&a.logs.name),
            schema: sql::string(&a.logs.schema),
            column: pc.clone(),
            ahead: PARTITIONS_AHEAD,
        }),
        logs,
    }
}

#[derive(Serialize)]
pub struct ChangesRead {
    field: String,
    old: String,
    new: String,
    data_type: String,
    sensitive: String,
    table: String,
    audit_id: String,
}

/// What `audit/audit.tables.ts.j2` needs: identifiers and one-line fragments, escaped for a
/// TypeScript template literal.
#[derive(Serialize)]
pub struct AuditView {
    id: String,
    operation: String,
    /// Who, from where and why: `l."user_id" AS "userId", ...`.
    who: String,
    /// What changed: `l."changed_fields" AS "changedFields", ...`.
    what: String,
    created: String,
    changes: Option<ChangesRead>,
    logs: String,
    table_name: String,
    record_id: String,
    record_id_type: String,
}

/// The statements the audit runtime runs.
pub fn audit_view(a: &AuditModel) -> AuditView {
    let opt = |c: &Option<String>, alias: &str| match c {
        Some(c) => format!("l.{} AS \"{alias}\"", sql::ident(c)),
        None => format!("NULL AS \"{alias}\""),
    };
    let exact = |c: &Option<String>, alias: &str| match c {
        Some(c) => format!("nestgen.audit_json_exact(l.{}) AS \"{alias}\"", sql::ident(c)),
        None => format!("NULL AS \"{alias}\""),
    };
    let who = [
        opt(&a.user_id, "userId"),
        opt(&a.user_email, "userEmail"),
        opt(&a.user_name, "userName"),
        opt(&a.ip, "ipAddress"),
        opt(&a.user_agent, "userAgent"),
        opt(&a.reason, "reason"),
        opt(&a.request_id, "requestId"),
        opt(&a.correlation_id, "correlationId"),
    ];
    let what =
        [opt(&a.changed_fields, "changedFields"), exact(&a.old_values, "oldValues"), exact(&a.new_values, "newValues")];
    let v = |c: &Option<String>| c.as_ref().map(|c| format!("c.{}", sql::ident(c))).unwrap_or_else(|| "NULL".into());
    AuditView {
        id: ts::template(&sql::ident(&a.id)),
        operation: ts::template(&sql::ident(&a.operation)),
        who: ts::template(&who.join(", ")),
        what: ts::template(&what.join(", ")),
        created: ts::template(
            &a.created_at
                .as_ref()
                .map(|c| format!("l.{}", sql::ident(c)))
                .unwrap_or_else(|| format!("l.{}", sql::ident(&a.id))),
        ),
        changes: a.changes.as_ref().map(|fc| ChangesRead {
            field: ts::template(&sql::ident(&fc.field)),
            old: ts::template(&v(&fc.old_value)),
            new: ts::template(&v(&fc.new_value)),
            data_type: ts::template(&v(&fc.data_type)),
            sensitive: ts::template(&v(&fc.is_sensitive)),
            table: ts::template(&sql::table(&fc.table)),
            audit_id: ts::template(&sql::ident(&fc.audit_id)),
        }),
        logs: ts::template(&sql::table(&a.logs)),
        table_name: ts::template(&sql::ident(&a.table_name)),
        record_id: ts::template(&sql::ident(&a.record_id)),
        record_id_type: ts::template(&a.record_id_type),
    }
}
