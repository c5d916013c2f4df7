//! Audit trail output: db/05-audit.sql (the writer function both modes share, the trigger, the
//! per-table settings, partitions ahead, retention) and the statements the runtime runs.

use crate::view::ts_string;
use nest_catalog::Catalog;
use nest_catalog::quote::ident as q;
use nest_model::Model;
use nest_model::audit::{AuditMode, AuditModel};
use nest_model::security::TableRef;
use serde::Serialize;
use std::fmt::Write;

fn qt(t: &TableRef) -> String {
    nest_catalog::quote::qualified(&t.schema, &t.table)
}

use nest_catalog::quote::{string as sql_str, text_array as sql_array};

/// Monthly partitions are named like the seed's: `audit_logs_2024_01`.
const PARTITIONS_AHEAD: u32 = 3;

/// db/05-audit.sql.
pub fn audit_sql(c: &Catalog, m: &Model, a: &AuditModel) -> String {
    let mut s = String::from(
        "-- Audit trail. Every change to an audited table writes one row to the audit log (who, what,\n\
         -- when, from where, old and new values with secrets masked, changed fields) and one row per\n\
         -- changed field, in the transaction of the change. The app (mode \"application\") or an AFTER\n\
         -- trigger (mode \"trigger\") calls nestgen.audit_record(); both write the same rows. The app\n\
         -- passes the request context with set_config('nestgen.audit_context', <json>, true).\n\
         -- The app role may only read the trail (see db/90-app-role.sql). Safe to run again.\n\n\
         CREATE SCHEMA IF NOT EXISTS nestgen;\n\n\
         CREATE TABLE IF NOT EXISTS nestgen.audit_tables (\n  \
           schema_name text NOT NULL,\n  \
           table_name text NOT NULL,\n  \
           log_name text NOT NULL,\n  \
           key_columns text[] NOT NULL,\n  \
           record_id text NOT NULL CHECK (record_id IN ('direct', 'hash', 'text', 'json')),\n  \
           sensitive text[] NOT NULL DEFAULT '{}',\n  \
           ignored text[] NOT NULL DEFAULT '{}',\n  \
           column_types jsonb NOT NULL DEFAULT '{}',\n  \
           PRIMARY KEY (schema_name, table_name)\n);\n\n",
    );
    for t in &a.audited {
        let types: Vec<String> = c
            .table(&t.schema, &t.table)
            .map(|tab| {
                tab.columns
                    .iter()
                    .map(|col| format!("{}, {}", sql_str(&col.name), sql_str(&col.ty.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "INSERT INTO nestgen.audit_tables VALUES ({}, {}, {}, {}, {}, {}, {}, jsonb_build_object({}))\n  \
             ON CONFLICT (schema_name, table_name) DO UPDATE SET log_name = EXCLUDED.log_name, key_columns = EXCLUDED.key_columns,\n    \
             record_id = EXCLUDED.record_id, sensitive = EXCLUDED.sensitive, ignored = EXCLUDED.ignored, column_types = EXCLUDED.column_types;",
            sql_str(&t.schema),
            sql_str(&t.table),
            sql_str(&t.log_name),
            sql_array(&t.key),
            sql_str(t.record_id.as_str()),
            sql_array(&t.sensitive),
            sql_array(&t.ignored),
            types.join(", "),
        );
    }
    let keep: Vec<String> =
        a.audited.iter().map(|t| format!("({}, {})", sql_str(&t.schema), sql_str(&t.table))).collect();
    if keep.is_empty() {
        s.push_str("DELETE FROM nestgen.audit_tables;\n\n");
    } else {
        let _ = writeln!(
            s,
            "DELETE FROM nestgen.audit_tables WHERE (schema_name, table_name) NOT IN ({});\n",
            keep.join(", ")
        );
    }

    let logs = qt(&a.logs);
    let uid_type = &a.user_id_type;
    s.push_str(
        "-- The request's context for this transaction; changes made outside the app fall back to\n\
         -- app.current_user_id (an empty setting counts as none).\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_context() RETURNS jsonb LANGUAGE sql STABLE AS $$\n  \
           SELECT COALESCE(\n    \
             NULLIF(current_setting('nestgen.audit_context', true), '')::jsonb,\n    \
             jsonb_strip_nulls(jsonb_build_object('userId', NULLIF(current_setting('app.current_user_id', true), ''))))\n$$;\n\n\
         -- A row's key as the log's record id: the uuid itself, an md5 uuid of the key values\n\
         -- (other or composite keys into a uuid column), the value as text, or a JSON array.\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_record_id(kind text, keys text[], r jsonb) RETURNS text\n  \
           LANGUAGE sql IMMUTABLE AS $$\n  \
           SELECT CASE kind\n    \
             WHEN 'direct' THEN r ->> keys[1]\n    \
             WHEN 'text' THEN r ->> keys[1]\n    \
             WHEN 'hash' THEN md5((SELECT jsonb_agg(r -> k ORDER BY i) FROM unnest(keys) WITH ORDINALITY AS u(k, i))::text)::uuid::text\n    \
             ELSE (SELECT jsonb_agg(r -> k ORDER BY i) FROM unnest(keys) WITH ORDINALITY AS u(k, i))::text\n  \
           END\n$$;\n\n\
         -- For reading: numbers JavaScript would round (fractions, beyond 2^53) become strings.\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_json_exact(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$\n  \
           SELECT CASE WHEN r IS NULL OR jsonb_typeof(r) <> 'object' THEN r ELSE (\n    \
             SELECT COALESCE(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'number'\n      \
               AND (v::text ~ '[.eE]' OR abs(v::text::numeric) > 9007199254740991) THEN to_jsonb(v::text) ELSE v END), '{}'::jsonb)\n    \
             FROM jsonb_each(r) AS e(k, v)) END\n$$;\n\n\
         -- Secrets, and columns added after generation (not yet known to be safe), become \"***\".\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_mask(r jsonb, sensitive text[], known jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$\n  \
           SELECT CASE WHEN r IS NULL THEN NULL ELSE r || COALESCE(\n    \
             (SELECT jsonb_object_agg(k, '\"***\"'::jsonb) FROM jsonb_object_keys(r) AS k\n      \
               WHERE (k = ANY (sensitive) OR NOT known ? k) AND r -> k <> 'null'::jsonb),\n    \
             '{}'::jsonb) END\n$$;\n\n",
    );

    // The writer: both modes call it, so both write the same rows.
    let mut cols = vec![q(&a.table_name), q(&a.record_id), q(&a.operation)];
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
            cols.push(q(c));
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
    let uname = match (&a.users_name, &a.user_name) {
        (Some((users, id, name)), Some(_)) => format!(
            "  IF uid IS NOT NULL THEN\n    SELECT u.{name}::text INTO uname FROM {users} u WHERE u.{id} = uid;\n  END IF;\n",
            name = q(name),
            users = qt(users),
            id = q(id)
        ),
        _ => String::new(),
    };
    let changes = a
        .changes
        .as_ref()
        .map(|fc| {
            let mut ccols = vec![q(&fc.audit_id), q(&fc.field)];
            let mut cvals = vec!["log_id".to_string(), "f".to_string()];
            let masked = |side: &str| {
                format!(
                    "CASE WHEN {side}_raw IS NULL OR {side}_raw -> f IS NULL OR {side}_raw -> f = 'null'::jsonb THEN NULL \
                     WHEN f = ANY (cfg.sensitive) OR NOT cfg.column_types ? f THEN '***' ELSE {side}_raw ->> f END"
                )
            };
            if let Some(c) = &fc.old_value {
                ccols.push(q(c));
                cvals.push(masked("o"));
            }
            if let Some(c) = &fc.new_value {
                ccols.push(q(c));
                cvals.push(masked("n"));
            }
            if let Some(c) = &fc.data_type {
                ccols.push(q(c));
                cvals.push("cfg.column_types ->> f".into());
            }
            if let Some(c) = &fc.is_sensitive {
                ccols.push(q(c));
                cvals.push("f = ANY (cfg.sensitive) OR NOT cfg.column_types ? f".into());
            }
            format!(
                "    INSERT INTO {} ({})\n      SELECT {} FROM unnest(changed) AS f;\n",
                qt(&fc.table),
                ccols.join(", "),
                cvals.join(", ")
            )
        })
        .unwrap_or_default();
    let uid_decl = if a.user_id.is_some() { format!("  uid {uid_type};\n") } else { "  uid text;\n".to_string() };
    // A user id of another type than the log's column is recorded as unknown, not an error that
    // would undo the change.
    let uid_set = if a.user_id.is_some() {
        format!(
            "  BEGIN\n    uid := NULLIF(ctx ->> 'userId', '')::{uid_type};\n  EXCEPTION WHEN others THEN\n    uid := NULL;\n  END;\n"
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "-- p_rows: [{{\"old\": <row or null>, \"new\": <row or null>}}, ...] as to_jsonb() gives rows.\n\
         -- An UPDATE that changes nothing but ignored columns (updated_at) is not recorded.\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_record(p_schema text, p_table text, p_op text, p_rows jsonb)\n  \
           RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$\n\
         DECLARE\n  \
           cfg nestgen.audit_tables;\n  \
           ctx jsonb := nestgen.audit_context();\n\
         {uid_decl}  \
           uname text;\n  \
           item jsonb;\n  \
           o_raw jsonb;\n  \
           n_raw jsonb;\n  \
           changed text[];\n  \
           log_id {id_type};\n  \
           written integer := 0;\n\
         BEGIN\n  \
           SELECT * INTO cfg FROM nestgen.audit_tables WHERE schema_name = p_schema AND table_name = p_table;\n  \
           IF NOT FOUND THEN\n    RETURN 0;\n  END IF;\n  \
           IF p_op IS NULL OR p_op NOT IN ('INSERT', 'UPDATE', 'DELETE', 'RESTORE') THEN\n    \
             RAISE EXCEPTION 'audit_record: unknown operation %', p_op USING ERRCODE = 'invalid_parameter_value';\n  \
           END IF;\n\
         {uid_set}{uname}  \
           FOR item IN SELECT value FROM jsonb_array_elements(p_rows) LOOP\n    \
             o_raw := NULLIF(item -> 'old', 'null'::jsonb);\n    \
             n_raw := NULLIF(item -> 'new', 'null'::jsonb);\n    \
             SELECT COALESCE(array_agg(k ORDER BY k), '{{}}') INTO changed\n      \
               FROM jsonb_object_keys(COALESCE(o_raw, '{{}}'::jsonb) || COALESCE(n_raw, '{{}}'::jsonb)) AS k\n     \
              WHERE COALESCE(o_raw -> k, 'null'::jsonb) IS DISTINCT FROM COALESCE(n_raw -> k, 'null'::jsonb);\n    \
             IF p_op = 'UPDATE' AND NOT EXISTS (SELECT 1 FROM unnest(changed) AS c WHERE c <> ALL (cfg.ignored)) THEN\n      \
               CONTINUE;\n    \
             END IF;\n    \
             INSERT INTO {logs} ({cols})\n      VALUES ({vals})\n      RETURNING {id} INTO log_id;\n\
         {changes}    \
             written := written + 1;\n  \
           END LOOP;\n  \
           RETURN written;\n\
         END\n$$;\n",
        id_type = a.id_type,
        cols = cols.join(", "),
        vals = vals.join(", "),
        id = q(&a.id),
    );

    s.push_str(
        "-- Mode \"trigger\": every change, from the app or not, through the same writer. The app marks\n\
         -- a soft delete or a restore (an UPDATE to PostgreSQL) in the context.\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_trigger() RETURNS trigger\n  \
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$\n\
         DECLARE\n  \
           op text := TG_OP;\n  \
           ctx jsonb := nestgen.audit_context();\n\
         BEGIN\n  \
           IF TG_OP = 'UPDATE' AND ctx ->> 'op' IN ('DELETE', 'RESTORE') AND ctx ->> 'opTable' = TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME THEN\n    \
             op := ctx ->> 'op';\n  \
           END IF;\n  \
           PERFORM nestgen.audit_record(TG_TABLE_SCHEMA, TG_TABLE_NAME, op, jsonb_build_array(jsonb_build_object(\n    \
             'old', CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,\n    \
             'new', CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END)));\n  \
           RETURN NULL;\n\
         END\n$$;\n\n",
    );
    for t in &a.audited {
        let table = format!("{}.{}", q(&t.schema), q(&t.table));
        for old in &t.replaced_triggers {
            let _ = writeln!(
                s,
                "-- {old} also writes audit rows: replaced by the generated audit, or every change would be recorded twice.\n\
                 DROP TRIGGER IF EXISTS {} ON {table};",
                q(old)
            );
        }
        match t.mode {
            AuditMode::Trigger => {
                let _ = writeln!(
                    s,
                    "DROP TRIGGER IF EXISTS nestgen_audit ON {table};\n\
                     CREATE TRIGGER nestgen_audit AFTER INSERT OR UPDATE OR DELETE ON {table}\n  \
                       FOR EACH ROW EXECUTE FUNCTION nestgen.audit_trigger();\n"
                );
            }
            AuditMode::Application => {
                let _ = writeln!(
                    s,
                    "-- {}: written by the app.\nDROP TRIGGER IF EXISTS nestgen_audit ON {table};\n",
                    t.table
                );
            }
        }
    }

    // Retention and partitions.
    let created = a.created_at.as_ref().map(|c| q(c)).unwrap_or_else(|| "created_at".into());
    let retention_loop = a
        .retention
        .as_ref()
        .map(|r| {
            let delete_changes = a
                .changes
                .as_ref()
                .map(|fc| {
                    format!(
                        ",\n    fc AS (DELETE FROM {} WHERE {} IN (SELECT id FROM gone))",
                        qt(&fc.table),
                        q(&fc.audit_id)
                    )
                })
                .unwrap_or_default();
            format!(
                "  FOR p IN SELECT {tn}::text AS table_name, {days}::integer AS days FROM {rt} WHERE {days} >= 1 LOOP\n    \
                   WITH gone AS (DELETE FROM {logs} WHERE {ltn} = p.table_name AND {created} < now() - make_interval(days => p.days) RETURNING {id} AS id){delete_changes}\n    \
                   SELECT count(*) INTO n FROM gone;\n    \
                   deleted := deleted + n;\n    \
                   shortest := LEAST(shortest, p.days);\n  \
                 END LOOP;\n",
                tn = q(&r.table_name),
                days = q(&r.days),
                rt = qt(&r.table),
                ltn = q(&a.table_name),
                id = q(&a.id),
            )
        })
        .unwrap_or_default();
    let drop_partitions = if a.partition_column.is_some() {
        format!(
            "  -- Partitions wholly older than the shortest retention that hold no row any more.\n  \
             IF shortest IS NOT NULL THEN\n    \
               FOR part IN SELECT c.oid::regclass AS rel, pg_get_expr(c.relpartbound, c.oid) AS bound\n        \
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '{logs}'::regclass LOOP\n      \
                 upper := substring(part.bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz;\n      \
                 CONTINUE WHEN upper IS NULL OR upper > now() - make_interval(days => shortest);\n      \
                 EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', part.rel) INTO empty;\n      \
                 IF empty THEN\n        \
                   EXECUTE format('DROP TABLE %s', part.rel);\n        \
                   dropped := dropped + 1;\n      \
                 END IF;\n    \
               END LOOP;\n  \
             END IF;\n",
            logs = logs.replace('\'', "''")
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "-- Retention: rows older than their table's policy go (with their field changes), then\n\
         -- partitions that are past and empty. Returns what it did.\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_retention() RETURNS jsonb\n  \
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$\n\
         DECLARE\n  p record;\n  part record;\n  n bigint;\n  deleted bigint := 0;\n  dropped integer := 0;\n  \
           shortest integer;\n  upper timestamptz;\n  empty boolean;\n\
         BEGIN\n{retention_loop}{drop_partitions}  \
           RETURN jsonb_build_object('deletedRows', deleted, 'droppedPartitions', dropped);\n\
         END\n$$;\n"
    );
    if let Some(pc) = &a.partition_column {
        let name_prefix = a.logs.table.replace('\'', "''");
        let _ = writeln!(
            s,
            "-- Monthly partitions ({name_prefix}_YYYY_MM) for this month and the next ones, made ahead of\n\
             -- time so no row lands in the default partition.\n\
             CREATE OR REPLACE FUNCTION nestgen.audit_partitions_ahead(months integer DEFAULT {PARTITIONS_AHEAD}) RETURNS integer\n  \
               LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$\n\
             DECLARE\n  m date;\n  made integer := 0;\n  part text;\n\
             BEGIN\n  \
               FOR i IN 0..months LOOP\n    \
                 m := (date_trunc('month', now()) + make_interval(months => i))::date;\n    \
                 part := format('%s_%s', '{name_prefix}', to_char(m, 'YYYY_MM'));\n    \
                 CONTINUE WHEN to_regclass(format('%I.%I', {schema}, part)) IS NOT NULL;\n    \
                 BEGIN\n      \
                   EXECUTE format('CREATE TABLE %I.%I PARTITION OF {logs_lit} FOR VALUES FROM (%L) TO (%L)', {schema}, part, m, (m + interval '1 month')::date);\n      \
                   made := made + 1;\n    \
                 EXCEPTION WHEN check_violation OR invalid_object_definition OR duplicate_table THEN\n      \
                   RAISE NOTICE 'audit partition % not created: %', part, SQLERRM;\n    \
                 END;\n  \
               END LOOP;\n  \
               RETURN made;\n\
             END\n$$;\n\
             -- ({pc} is the partition key.)\n\
             DO $$ BEGIN PERFORM nestgen.audit_partitions_ahead(); END $$;\n",
            schema = sql_str(&a.logs.schema),
            logs_lit = logs.replace('\'', "''"),
        );
    }
    let ahead = if a.partition_column.is_some() { "nestgen.audit_partitions_ahead()" } else { "0" };
    let _ = writeln!(
        s,
        "-- What the app's scheduled job runs (one instance at a time).\n\
         CREATE OR REPLACE FUNCTION nestgen.audit_maintenance() RETURNS jsonb\n  \
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$\n\
         BEGIN\n  \
           IF NOT pg_try_advisory_xact_lock(hashtext('nestgen.audit_maintenance')) THEN\n    \
             RETURN jsonb_build_object('skipped', true);\n  \
           END IF;\n  \
           RETURN jsonb_build_object('partitionsMade', {ahead}) || nestgen.audit_retention();\n\
         END\n$$;\n\n\
         -- Only roles given them (db/90-app-role.sql) may run the writers: nobody else can add,\n\
         -- forge or purge audit rows through these SECURITY DEFINER functions.\n\
         REVOKE EXECUTE ON FUNCTION nestgen.audit_record(text, text, text, jsonb), nestgen.audit_retention(),\n  \
           nestgen.audit_maintenance(){revoke_ahead} FROM PUBLIC;",
        revoke_ahead = if a.partition_column.is_some() { ", nestgen.audit_partitions_ahead(integer)" } else { "" }
    );
    let _ = m;
    s
}

#[derive(Serialize)]
pub struct AuditView {
    pub history_sql: String,
}

/// The statements the audit runtime runs.
pub fn audit_view(a: &AuditModel) -> AuditView {
    let opt = |c: &Option<String>, alias: &str| match c {
        Some(c) => format!("l.{} AS \"{alias}\"", q(c)),
        None => format!("NULL AS \"{alias}\""),
    };
    let exact = |c: &Option<String>, alias: &str| match c {
        Some(c) => format!("nestgen.audit_json_exact(l.{}) AS \"{alias}\"", q(c)),
        None => format!("NULL AS \"{alias}\""),
    };
    let changes = a
        .changes
        .as_ref()
        .map(|fc| {
            let v = |c: &Option<String>| c.as_ref().map(|c| format!("c.{}", q(c))).unwrap_or_else(|| "NULL".into());
            format!(
                "COALESCE((SELECT jsonb_agg(jsonb_build_object('field', c.{field}, 'oldValue', {old}, 'newValue', {new}, 'dataType', {dt}, 'isSensitive', {sens}) ORDER BY c.{field})\n      FROM {t} c WHERE c.{aid} = l.{id}), '[]'::jsonb)",
                field = q(&fc.field),
                old = v(&fc.old_value),
                new = v(&fc.new_value),
                dt = v(&fc.data_type),
                sens = v(&fc.is_sensitive),
                t = qt(&fc.table),
                aid = q(&fc.audit_id),
                id = q(&a.id),
            )
        })
        .unwrap_or_else(|| "'[]'::jsonb".into());
    let created = a.created_at.as_ref().map(|c| format!("l.{}", q(c))).unwrap_or_else(|| format!("l.{}", q(&a.id)));
    let sql = format!(
        "WITH cfg AS (SELECT log_name, record_id, key_columns FROM nestgen.audit_tables WHERE schema_name = $1 AND table_name = $2)\n\
         SELECT l.{id}::text AS \"id\", l.{op} AS \"operation\", {uid}, {email}, {name}, {ip}, {ua}, {reason}, {req}, {corr},\n    \
         {changed}, {old}, {new}, {created} AS \"at\",\n    {changes} AS \"changes\"\n  \
         FROM {logs} l, cfg\n \
         WHERE l.{tn} = cfg.log_name AND l.{rid} = nestgen.audit_record_id(cfg.record_id, cfg.key_columns, $3::jsonb)::{rtype}\n \
         ORDER BY {created} DESC, l.{id} DESC\n \
         LIMIT $4 OFFSET $5",
        id = q(&a.id),
        op = q(&a.operation),
        uid = opt(&a.user_id, "userId"),
        email = opt(&a.user_email, "userEmail"),
        name = opt(&a.user_name, "userName"),
        ip = opt(&a.ip, "ipAddress"),
        ua = opt(&a.user_agent, "userAgent"),
        reason = opt(&a.reason, "reason"),
        req = opt(&a.request_id, "requestId"),
        corr = opt(&a.correlation_id, "correlationId"),
        changed = opt(&a.changed_fields, "changedFields"),
        old = exact(&a.old_values, "oldValues"),
        new = exact(&a.new_values, "newValues"),
        logs = qt(&a.logs),
        tn = q(&a.table_name),
        rid = q(&a.record_id),
        rtype = a.record_id_type,
    );
    AuditView { history_sql: ts_string(&sql) }
}
