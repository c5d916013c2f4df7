//! Live reader: a PostgreSQL catalog read into a [`Catalog`].
//!
//! Two round trips whatever the size of the schema: one for the server version, the schema
//! list and which optional parts exist; then every catalog query at once, pipelined on one
//! connection (tokio-postgres sends them without waiting for each answer). Values go through
//! the same normalization as offline DDL ([`SqlType::parse`], [`canonical`]), so the same
//! schema read both ways gives equal catalogs.

use futures_util::future::try_join_all;
use nest_catalog::expr::canonical;
use nest_catalog::meta::meta_row;
use nest_catalog::{
    Catalog, Check, Column, CompositeType, Domain, EnumType, Extension, FkAction, ForeignKey, Function, Hypertable,
    Identity, Index, IndexElement, KeyConstraint, Metadata, PartitionOf, Policy, QualifiedName, Sequence, SqlType,
    Table, TableKind, Trigger,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::{Client, NoTls, Row};

#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("catalog query failed: {0}")]
    Query(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
    #[error("schema `{0}` does not exist in the database")]
    NoSuchSchema(String),
}

const SCHEMAS: &str = include_str!("../sql/schemas.sql");
const RELATIONS: &str = include_str!("../sql/relations.sql");
const COLUMNS: &str = include_str!("../sql/columns.sql");
const CONSTRAINTS: &str = include_str!("../sql/constraints.sql");
const INDEXES: &str = include_str!("../sql/indexes.sql");
const POLICIES: &str = include_str!("../sql/policies.sql");
const TRIGGERS: &str = include_str!("../sql/triggers.sql");
const TYPES: &str = include_str!("../sql/types.sql");
const SEQUENCES: &str = include_str!("../sql/sequences.sql");
const FUNCTIONS: &str = include_str!("../sql/functions.sql");
const EXTENSIONS: &str = include_str!("../sql/extensions.sql");
const META_PRESENT: &str = include_str!("../sql/meta_present.sql");

fn qerr(e: tokio_postgres::Error) -> IntrospectError {
    IntrospectError::Query(match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    })
}

/// Read the catalog of `url`, blocking the calling thread.
pub fn introspect_blocking(url: &str, schemas: &[String]) -> Result<Catalog, IntrospectError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| IntrospectError::Runtime(e.to_string()))?;
    rt.block_on(introspect(url, schemas))
}

/// Read the catalog of `url`; `schemas` empty means every user schema but `meta`.
pub async fn introspect(url: &str, schemas: &[String]) -> Result<Catalog, IntrospectError> {
    let (client, connection) =
        tokio_postgres::connect(url, NoTls).await.map_err(|e| IntrospectError::Connect(e.to_string()))?;
    let conn = tokio::spawn(connection);
    let result = read(&client, schemas).await;
    drop(client);
    let _ = conn.await;
    result
}

fn kind_of(relkind: &str, is_partition: bool) -> TableKind {
    match relkind {
        "v" => TableKind::View,
        "m" => TableKind::MaterializedView,
        _ if is_partition => TableKind::Partition,
        _ => TableKind::Table,
    }
}

fn fk_action(c: &str) -> FkAction {
    match c {
        "r" => FkAction::Restrict,
        "c" => FkAction::Cascade,
        "n" => FkAction::SetNull,
        "d" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}

fn parse_type(text: &str) -> SqlType {
    SqlType::parse(text).unwrap_or_else(|_| SqlType::simple(text))
}

/// `FOR VALUES FROM ('2024-01-01 00:00:00+00') TO (...)` with midnight timestamps shortened to
/// dates, as the offline reader writes them.
fn canonical_bound(bound: &str) -> String {
    let mut out = String::new();
    let mut rest = bound;
    while let Some(start) = rest.find('\'') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('\'') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let lit = &after[..end];
        let short = if let Some((date, tail)) = lit.split_at_checked(10)
            && !tail.is_empty()
            && date.chars().filter(|c| *c == '-').count() == 2
        {
            let tail = tail.trim();
            if ["00:00:00", "00:00:00+00", "00:00:00+00:00", "00:00:00Z"].contains(&tail) { date } else { lit }
        } else {
            lit
        };
        out.push('\'');
        out.push_str(short);
        out.push('\'');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn query(client: &Client, sql: &str, schemas: &[String]) -> Result<Vec<Row>, IntrospectError> {
    if sql.contains("$1") {
        client.query(sql, &[&schemas]).await.map_err(qerr)
    } else {
        client.query(sql, &[]).await.map_err(qerr)
    }
}

async fn read(client: &Client, wanted: &[String]) -> Result<Catalog, IntrospectError> {
    // Qualified names everywhere, as pg_dump prints them; and a consistent snapshot.
    client
        .batch_execute(
            "SET search_path = pg_catalog; SET TIME ZONE 'UTC'; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )
        .await
        .map_err(qerr)?;

    let (version, present, all_schemas) = {
        let v = client.query_one("SELECT current_setting('server_version_num')::int4", &[]);
        let p = client.query_one(META_PRESENT, &[]);
        let s = client.query(SCHEMAS, &[]);
        let (v, p, s) = futures_util::future::try_join3(v, p, s).await.map_err(qerr)?;
        (v.get::<_, i32>(0), p, s.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<String>>())
    };
    let schemas: Vec<String> = if wanted.is_empty() {
        all_schemas
    } else {
        let exists: Vec<String> = client
            .query("SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)", &[&wanted])
            .await
            .map_err(qerr)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(missing) = wanted.iter().find(|w| !exists.contains(w)) {
            return Err(IntrospectError::NoSuchSchema(missing.clone()));
        }
        wanted.to_vec()
    };
    let constraints_sql = if version < 150000 {
        CONSTRAINTS.replace(
            "COALESCE((SELECT ix.indnullsnotdistinct FROM pg_catalog.pg_index ix WHERE ix.indexrelid = con.conindid), false)",
            "false",
        )
    } else {
        CONSTRAINTS.to_string()
    };
    let (has_tm, has_ef, has_cm, has_tsdb): (bool, bool, bool, bool) =
        (present.get(0), present.get(1), present.get(2), present.get(3));
    let mut sqls: Vec<String> = vec![
        RELATIONS.into(),
        COLUMNS.into(),
        constraints_sql,
        INDEXES.into(),
        POLICIES.into(),
        TRIGGERS.into(),
        TYPES.into(),
        SEQUENCES.into(),
        FUNCTIONS.into(),
        EXTENSIONS.into(),
    ];
    let meta_sql = |t: &str, ok: bool| {
        if ok { format!("SELECT to_jsonb(t)::text FROM meta.{t} t") } else { "SELECT NULL::text WHERE false".into() }
    };
    sqls.push(meta_sql("table_metadata", has_tm));
    sqls.push(meta_sql("enterprise_features", has_ef));
    sqls.push(meta_sql("column_metadata", has_cm));
    sqls.push(if has_tsdb {
        include_str!("../sql/hypertables.sql").into()
    } else {
        "SELECT NULL::text, NULL::text, NULL::text, NULL::text WHERE false".into()
    });
    // All queries go out together: tokio-postgres pipelines them on the one connection.
    let results = try_join_all(sqls.iter().map(|s| query(client, s, &schemas))).await?;
    client.batch_execute("COMMIT").await.map_err(qerr)?;
    let mut it = results.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (relations, columns, constraints, indexes, policies, triggers, types, sequences, functions, extensions) =
        (next(), next(), next(), next(), next(), next(), next(), next(), next(), next());
    let (tm, ef, cm, hyper) = (next(), next(), next(), next());

    let mut c = Catalog { schemas: schemas.clone(), ..Default::default() };
    if !c.schemas.iter().any(|s| s == "public") && wanted.is_empty() {
        c.schemas.push("public".into());
    }

    let mut by_oid: HashMap<i64, usize> = HashMap::new();
    for r in &relations {
        let oid: i64 = r.get(0);
        let mut t = Table::new(r.get::<_, &str>(1), r.get::<_, &str>(2), kind_of(r.get(3), r.get(4)));
        t.rls_enabled = r.get(5);
        t.rls_forced = r.get(6);
        t.comment = r.get(7);
        t.partition_by = r.get::<_, Option<String>>(8).map(|p| canonical_partkey(&p));
        if let (Some(bound), Some(ps), Some(pn)) =
            (r.get::<_, Option<String>>(9), r.get::<_, Option<String>>(10), r.get::<_, Option<String>>(11))
        {
            t.partition_of = Some(PartitionOf {
                parent: QualifiedName::new(ps, pn),
                bound: canonical_bound(&canonical_bound_exprs(&bound)),
            });
        }
        t.definition = r.get(12);
        by_oid.insert(oid, c.tables.len());
        c.tables.push(t);
    }
    for r in &columns {
        let Some(&i) = by_oid.get(&r.get::<_, i64>(0)) else {
            continue;
        };
        let ty = parse_type(r.get(2));
        let default: Option<String> = r.get(4);
        let identity = match r.get::<_, &str>(5) {
            "a" => Some(Identity::Always),
            "d" => Some(Identity::ByDefault),
            _ => None,
        };
        let t = &mut c.tables[i];
        let is_view = t.kind.is_view();
        t.columns.push(Column {
            name: r.get(1),
            default: default.map(|d| canonical(&d, Some(&ty))),
            ty,
            nullable: !r.get::<_, bool>(3),
            identity,
            generated: r.get::<_, Option<String>>(6).map(|g| canonical(&g, None)),
            comment: if is_view { None } else { r.get(7) },
        });
    }
    for r in &constraints {
        let Some(&i) = by_oid.get(&r.get::<_, i64>(0)) else {
            continue;
        };
        let name: String = r.get(1);
        let cols: Vec<String> = r.get(3);
        let t = &mut c.tables[i];
        match r.get::<_, &str>(2) {
            "p" => t.primary_key = Some(KeyConstraint { name, columns: cols, nulls_not_distinct: false }),
            "u" => t.unique.push(KeyConstraint { name, columns: cols, nulls_not_distinct: r.get(11) }),
            "f" => t.foreign_keys.push(ForeignKey {
                name,
                columns: cols,
                references: QualifiedName::new(
                    r.get::<_, Option<String>>(4).unwrap_or_default(),
                    r.get::<_, Option<String>>(5).unwrap_or_default(),
                ),
                referenced_columns: r.get(6),
                on_delete: fk_action(r.get(7)),
                on_update: fk_action(r.get(8)),
                deferrable: r.get(9),
            }),
            "c" => t
                .checks
                .push(Check { name, expression: canonical(&r.get::<_, Option<String>>(10).unwrap_or_default(), None) }),
            _ => {}
        }
    }
    for r in &indexes {
        let Some(&i) = by_oid.get(&r.get::<_, i64>(0)) else {
            continue;
        };
        let nkey = r.get::<_, i32>(5) as usize;
        let exprs: Vec<String> = r.get(6);
        let is_col: Vec<bool> = r.get(7);
        let opts: Vec<i32> = r.get(8);
        let opclasses: Vec<String> = r.get(9);
        let mut elements = Vec::new();
        let mut include = Vec::new();
        for (k, e) in exprs.iter().enumerate() {
            if k >= nkey {
                include.push(e.trim_matches('"').to_string());
                continue;
            }
            let column = is_col.get(k).copied().unwrap_or(false);
            let descending = opts.get(k).is_some_and(|o| o & 1 != 0);
            let nulls_first = opts.get(k).map(|o| o & 2 != 0).filter(|nf| *nf != descending);
            elements.push(IndexElement {
                expr: if column { unquote(e) } else { canonical(e, None) },
                is_column: column,
                descending,
                nulls_first,
                opclass: opclasses.get(k).filter(|o| !o.is_empty()).cloned(),
            });
        }
        c.tables[i].indexes.push(Index {
            name: r.get(1),
            columns: elements,
            method: r.get(2),
            unique: r.get(3),
            predicate: r.get::<_, Option<String>>(4).map(|p| canonical(&p, None)),
            include,
        });
    }
    for r in &policies {
        let Some(&i) = by_oid.get(&r.get::<_, i64>(0)) else {
            continue;
        };
        c.tables[i].policies.push(Policy {
            name: r.get(1),
            command: match r.get::<_, &str>(2) {
                "r" => "select",
                "a" => "insert",
                "w" => "update",
                "d" => "delete",
                _ => "all",
            }
            .into(),
            permissive: r.get(3),
            roles: r.get(4),
            using: r.get::<_, Option<String>>(5).map(|e| canonical(&e, None)),
            with_check: r.get::<_, Option<String>>(6).map(|e| canonical(&e, None)),
        });
    }
    for r in &triggers {
        let Some(&i) = by_oid.get(&r.get::<_, i64>(0)) else {
            continue;
        };
        let tgtype: i32 = r.get(2);
        // TRIGGER_TYPE_* bits from PostgreSQL's pg_trigger.h.
        let timing = if tgtype & (1 << 6) != 0 {
            "instead of"
        } else if tgtype & (1 << 1) != 0 {
            "before"
        } else {
            "after"
        };
        let mut events = Vec::new();
        for (bit, name) in [(2, "insert"), (4, "update"), (3, "delete"), (5, "truncate")] {
            if tgtype & (1 << bit) != 0 {
                events.push(name.to_string());
            }
        }
        c.tables[i].triggers.push(Trigger {
            name: r.get(1),
            timing: timing.into(),
            events,
            for_each_row: tgtype & 1 != 0,
            function: QualifiedName::new(r.get::<_, String>(3), r.get::<_, String>(4)),
            source: nest_catalog::SourceText(r.get::<_, Option<String>>(5)),
        });
    }
    for r in &types {
        let (schema, name): (String, String) = (r.get(0), r.get(1));
        match r.get::<_, &str>(2) {
            "e" => c.enums.push(EnumType { schema, name, values: r.get(3) }),
            "d" => {
                let ty = parse_type(&r.get::<_, Option<String>>(4).unwrap_or_default());
                let names: Vec<String> = r.get(7);
                let exprs: Vec<String> = r.get(8);
                c.domains.push(Domain {
                    schema,
                    name,
                    default: r.get::<_, Option<String>>(6).map(|d| canonical(&d, Some(&ty))),
                    ty,
                    nullable: !r.get::<_, bool>(5),
                    checks: names
                        .into_iter()
                        .zip(exprs)
                        .map(|(n, e)| Check { name: n, expression: canonical(&e, None) })
                        .collect(),
                });
            }
            _ => {
                let names: Vec<String> = r.get(9);
                let tys: Vec<String> = r.get(10);
                c.composite_types.push(CompositeType {
                    schema,
                    name,
                    attributes: names.into_iter().zip(tys.iter().map(|t| parse_type(t))).collect(),
                });
            }
        }
    }
    for r in &sequences {
        c.sequences.push(Sequence { schema: r.get(0), name: r.get(1), ty: parse_type(r.get(2)), owned_by: r.get(3) });
    }
    for r in &functions {
        let args: Vec<String> = r.get(2);
        let ret: String = r.get(3);
        let returns = match ret.strip_prefix("setof ") {
            Some(t) => format!("setof {}", parse_type(t)),
            None => parse_type(&ret).to_string(),
        };
        c.functions.push(Function {
            schema: r.get(0),
            name: r.get(1),
            arguments: args.iter().map(|a| parse_type(a).to_string()).collect(),
            returns: if ret == "unknown" { ret.clone() } else { returns },
            language: r.get(4),
            source: nest_catalog::SourceText(r.get::<_, Option<String>>(5)),
        });
    }
    for r in &extensions {
        let schema: String = r.get(1);
        c.extensions.push(Extension { name: r.get(0), schema: (schema != "public").then_some(schema) });
    }
    for r in &hyper {
        let (s, n, col, iv): (String, String, String, Option<String>) = (r.get(0), r.get(1), r.get(2), r.get(3));
        if let Some(t) = c.tables.iter_mut().find(|t| t.schema == s && t.name == n) {
            t.hypertable = Some(Hypertable {
                time_column: col,
                chunk_time_interval: iv.map(|i| canonical(&format!("'{i}'::interval"), None)),
                ..Hypertable::default()
            });
        }
    }
    c.metadata = metadata(&tm, &ef, &cm);
    c.sort();
    Ok(c)
}

fn unquote(s: &str) -> String {
    if s.starts_with('"') && s.ends_with('"') && s.len() >= 2 {
        s[1..s.len() - 1].replace("\"\"", "\"")
    } else {
        s.to_string()
    }
}

/// `RANGE (created_at)` as the offline reader writes it.
fn canonical_partkey(p: &str) -> String {
    match p.split_once(' ') {
        Some((strategy, rest)) => {
            let inner = rest.trim().trim_start_matches('(').trim_end_matches(')');
            let args = inner.split(',').map(|a| canonical(a.trim(), None)).collect::<Vec<_>>().join(", ");
            format!("{} ({args})", strategy.to_uppercase())
        }
        None => p.to_string(),
    }
}

/// Partition bounds through the expression canonicalizer, value by value.
fn canonical_bound_exprs(b: &str) -> String {
    if b == "DEFAULT" {
        return b.to_string();
    }
    let canon_list = |s: &str| {
        s.split(", ")
            .map(|v| if v == "MINVALUE" || v == "MAXVALUE" { v.to_string() } else { canonical(v, None) })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(rest) = b.strip_prefix("FOR VALUES FROM (")
        && let Some((from, to)) = rest.split_once(") TO (")
    {
        return format!("FOR VALUES FROM ({}) TO ({})", canon_list(from), canon_list(to.trim_end_matches(')')));
    }
    if let Some(rest) = b.strip_prefix("FOR VALUES IN (") {
        return format!("FOR VALUES IN ({})", canon_list(rest.trim_end_matches(')')));
    }
    b.to_string()
}

fn metadata(tm: &[Row], ef: &[Row], cm: &[Row]) -> Metadata {
    let parse = |rows: &[Row]| -> Vec<BTreeMap<String, Value>> {
        rows.iter()
            .filter_map(|r| r.get::<_, Option<String>>(0))
            .filter_map(|j| serde_json::from_str::<BTreeMap<String, Value>>(&j).ok())
            .collect()
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let mut md = Metadata::default();
    let mut by_id: HashMap<String, (String, String)> = HashMap::new();
    for row in parse(tm) {
        let (Some(schema), Some(table)) = (text(row.get("schema_name")), text(row.get("table_name"))) else {
            continue;
        };
        if let Some(id) = row.get("id") {
            by_id.insert(id.to_string(), (schema.clone(), table.clone()));
        }
        md.table_metadata.push(meta_row("table_metadata", schema, table, None, &row));
    }
    for (name, rows) in [("enterprise_features", ef), ("column_metadata", cm)] {
        for row in parse(rows) {
            let Some((schema, table)) = row.get("table_metadata_id").and_then(|id| by_id.get(&id.to_string())).cloned()
            else {
                continue;
            };
            let column = text(row.get("column_name"));
            let r = meta_row(name, schema, table, column, &row);
            if name == "enterprise_features" {
                md.enterprise_features.push(r);
            } else {
                md.column_metadata.push(r);
            }
        }
    }
    md.sort();
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_bounds_match_offline_form() {
        assert_eq!(
            canonical_bound(&canonical_bound_exprs(
                "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')"
            )),
            "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
        );
        assert_eq!(canonical_partkey("RANGE (created_at)"), "RANGE (created_at)");
    }
}
