//! SQL the generated application needs, from the Catalog.
//!
//! [`schema_sql`] writes DDL that loads on plain PostgreSQL 15+: types, then tables with their
//! keys and checks (foreign keys come last, so forward references such as the seed's
//! `files → folders` load), partitions after their parents (a parent the input forgot to
//! declare partitioned is declared `PARTITION BY RANGE`), indexes, foreign keys, views,
//! row-level security and comments. TimescaleDB statements run only where the extension exists;
//! elsewhere continuous aggregates become plain materialized views over `date_bin`.
//!
//! [`schema_sql_with`] also takes a [`Storage`] plan (decided by the features): time-series
//! tables become hypertables with TimescaleDB and range-partitioned tables without; their
//! rollups continuous aggregates with TimescaleDB and tables (refreshed by the app) without.

use nest_catalog::quote::{self as sql, ident};
use nest_catalog::{Catalog, Column, FkAction, Identity, QualifiedName, Table, TableKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

pub mod migrate;

/// How some tables are stored beyond what the input declares: decided by the features that
/// serve them, the same plan whoever writes db/01-schema.sql.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// Time-series tables and their time column: a hypertable where TimescaleDB is installed,
    /// `PARTITION BY RANGE (<column>)` elsewhere (the partitions are the feature's).
    pub time_partitioned: Vec<(QualifiedName, String)>,
    /// Materialized views that roll a time series up: a continuous aggregate where TimescaleDB is
    /// installed, a table with the view's columns elsewhere (the feature refreshes it).
    pub rollup_tables: Vec<QualifiedName>,
}

impl Storage {
    fn partitioned_on(&self, t: &Table) -> Option<&str> {
        self.time_partitioned.iter().find(|(q, _)| q.schema == t.schema && q.name == t.name).map(|(_, c)| c.as_str())
    }

    fn rollup(&self, t: &Table) -> bool {
        self.rollup_tables.iter().any(|q| q.schema == t.schema && q.name == t.name)
    }
}

/// A decision the emitter took that the user should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(pub String);

/// `name` in `public`, `schema.name` elsewhere (as the input wrote them).
fn qn(schema: &str, name: &str) -> String {
    if schema == "public" { ident(name) } else { nest_catalog::quote::qualified(schema, name) }
}

/// The multi-line statements of the schema file (TimescaleDB's guarded blocks), as templates.
const TEMPLATES: &[(&str, &str)] = &[
    ("timescaledb.sql.j2", include_str!("../templates/timescaledb.sql.j2")),
    ("hypertables.sql.j2", include_str!("../templates/hypertables.sql.j2")),
    ("continuous-aggregate.sql.j2", include_str!("../templates/continuous-aggregate.sql.j2")),
    ("time-partitioned.sql.j2", include_str!("../templates/time-partitioned.sql.j2")),
];

/// Render one of [`TEMPLATES`]. They are part of the binary and their contexts are built here,
/// so a failure is a bug in this crate.
fn render(name: &str, ctx: minijinja::Value) -> String {
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("syntax");
    env.set_syntax(syntax);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (n, src) in TEMPLATES {
        env.add_template(n, src).expect("built-in template");
    }
    env.get_template(name).and_then(|t| t.render(ctx)).unwrap_or_else(|e| panic!("template {name}: {e:#}"))
}

#[derive(serde::Serialize)]
struct Hypertable {
    table: String,
    column: String,
    /// `ALTER TABLE ... SET (timescaledb.compress, ...)`, as a string literal.
    compress: Option<String>,
    compress_after: Option<String>,
    retention: Option<String>,
}

/// An interval argument of a TimescaleDB call: `INTERVAL '90 days'`, or the digits of an
/// integer time.
fn interval_sql(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.to_string()
    } else {
        format!("INTERVAL {}", sql::string(text))
    }
}

fn hypertable(t: &Table, column: &str) -> Hypertable {
    let name = qn(&t.schema, &t.name);
    let h = t.hypertable.as_ref();
    let compression = h.and_then(|h| h.compression.as_ref());
    Hypertable {
        table: sql::string(&name),
        column: sql::string(column),
        compress: compression.map(|c| {
            let mut opts = vec!["timescaledb.compress".to_string()];
            if let Some(sb) = &c.segment_by {
                opts.push(format!("timescaledb.compress_segmentby = {}", sql::string(sb)));
            }
            if let Some(ob) = &c.order_by {
                opts.push(format!("timescaledb.compress_orderby = {}", sql::string(ob)));
            }
            sql::string(&format!("ALTER TABLE {name} SET ({})", opts.join(", ")))
        }),
        compress_after: compression.and_then(|c| c.after.as_deref()).map(interval_sql),
        retention: h.and_then(|h| h.retention.as_deref()).map(interval_sql),
    }
}

fn column_sql(c: &Column) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.ty);
    if let Some(g) = &c.generated {
        let _ = write!(s, " GENERATED ALWAYS AS ({g}) STORED");
    }
    match c.identity {
        Some(Identity::Always) => s.push_str(" GENERATED ALWAYS AS IDENTITY"),
        Some(Identity::ByDefault) => s.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
        None => {}
    }
    if let (Some(d), None, None) = (&c.default, &c.generated, c.identity) {
        let _ = write!(s, " DEFAULT {d}");
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    s
}

fn cols(list: &[String]) -> String {
    list.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

/// How partitioned parents will be declared: the catalog's `PARTITION BY`, or one inferred for
/// a parent that has partitions but was not declared partitioned.
fn partition_keys(c: &Catalog, notes: &mut Vec<Note>) -> HashMap<(String, String), (String, String)> {
    let mut out = HashMap::new();
    let parents: BTreeSet<(String, String)> = c
        .tables
        .iter()
        .filter_map(|t| t.partition_of.as_ref().map(|p| (p.parent.schema.clone(), p.parent.name.clone())))
        .collect();
    for t in &c.tables {
        let key = (t.schema.clone(), t.name.clone());
        if let Some(pb) = &t.partition_by {
            let column =
                pb.split_once('(').map(|(_, r)| r.trim_end_matches(')').trim().to_string()).unwrap_or_default();
            out.insert(key, (pb.clone(), column));
        } else if parents.contains(&key) {
            let col = t
                .columns
                .iter()
                .find(|c| c.name == "created_at")
                .or_else(|| t.columns.iter().find(|c| c.ty.name.starts_with("timestamp") || c.ty.name == "date"));
            match col {
                Some(col) => {
                    notes.push(Note(format!(
                        "{} has partitions but was not declared partitioned: declared PARTITION BY RANGE ({})",
                        t.name, col.name
                    )));
                    out.insert(key, (format!("RANGE ({})", ident(&col.name)), col.name.clone()));
                }
                None => notes.push(Note(format!(
                    "{} has partitions but no time column to partition by; its partitions are created as plain tables",
                    t.name
                ))),
            }
        }
    }
    out
}

/// Tables ordered so that a table comes after the tables its foreign keys reference (cycles
/// and self references are fine: foreign keys are added at the end).
fn dependency_order(c: &Catalog) -> Vec<&Table> {
    let index: HashMap<(String, String), usize> =
        c.tables.iter().enumerate().map(|(i, t)| ((t.schema.clone(), t.name.clone()), i)).collect();
    let mut visited = vec![0u8; c.tables.len()];
    let mut out = Vec::new();
    fn visit<'a>(
        i: usize,
        c: &'a Catalog,
        index: &HashMap<(String, String), usize>,
        visited: &mut Vec<u8>,
        out: &mut Vec<&'a Table>,
    ) {
        if visited[i] != 0 {
            return;
        }
        visited[i] = 1;
        let t = &c.tables[i];
        let mut deps: Vec<(String, String)> =
            t.foreign_keys.iter().map(|f| (f.references.schema.clone(), f.references.name.clone())).collect();
        if let Some(p) = &t.partition_of {
            deps.push((p.parent.schema.clone(), p.parent.name.clone()));
        }
        for d in deps {
            if let Some(&j) = index.get(&d)
                && j != i
            {
                visit(j, c, index, visited, out);
            }
        }
        visited[i] = 2;
        out.push(t);
    }
    for i in 0..c.tables.len() {
        visit(i, c, &index, &mut visited, &mut out);
    }
    out
}

/// Rewrite `time_bucket(w, ts)` as `date_bin(w, ts, '2000-01-03 00:00:00+00')` (TimescaleDB's
/// origin: the same buckets for widths up to a week, whatever the session's time zone) so a
/// continuous aggregate becomes a plain materialized view.
fn time_bucket_to_date_bin(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.to_ascii_lowercase().find("time_bucket(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "time_bucket(".len()..];
        let mut depth = 1;
        let mut end = after.len();
        let mut in_str = false;
        for (j, ch) in after.char_indices() {
            match ch {
                '\'' => in_str = !in_str,
                '(' if !in_str => depth += 1,
                ')' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push_str("date_bin(");
        out.push_str(&after[..end]);
        out.push_str(", '2000-01-03 00:00:00+00')");
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn fk_action(a: FkAction) -> String {
    if a == FkAction::NoAction { String::new() } else { format!(" {}", a.sql()) }
}

fn index_sql(s: &mut String, t: &Table) {
    for i in &t.indexes {
        let _ = writeln!(s, "{}", index_create(t, i, false));
    }
}

/// `CREATE EXTENSION IF NOT EXISTS name [WITH SCHEMA s];`
fn extension_sql(e: &nest_catalog::Extension) -> String {
    match &e.schema {
        Some(sc) => format!("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {};", ident(&e.name), ident(sc)),
        None => format!("CREATE EXTENSION IF NOT EXISTS {};", ident(&e.name)),
    }
}

/// `CREATE TYPE name AS ENUM (...);`
fn enum_sql(e: &nest_catalog::EnumType) -> String {
    let values = e.values.iter().map(|v| sql::string(v)).collect::<Vec<_>>().join(", ");
    format!("CREATE TYPE {} AS ENUM ({values});", qn(&e.schema, &e.name))
}

/// `CREATE DOMAIN name AS type [DEFAULT ...] [NOT NULL] [CONSTRAINT c CHECK (...)]...;`
fn domain_sql(d: &nest_catalog::Domain) -> String {
    let mut s = format!("CREATE DOMAIN {} AS {}", qn(&d.schema, &d.name), d.ty);
    if let Some(def) = &d.default {
        let _ = write!(s, " DEFAULT {def}");
    }
    if !d.nullable {
        s.push_str(" NOT NULL");
    }
    for k in &d.checks {
        let _ = write!(s, " CONSTRAINT {} CHECK ({})", ident(&k.name), k.expression);
    }
    s.push(';');
    s
}

/// `CREATE TYPE name AS (attribute type, ...);`
fn composite_sql(ct: &nest_catalog::CompositeType) -> String {
    let attrs = ct.attributes.iter().map(|(n, t)| format!("{} {t}", ident(n))).collect::<Vec<_>>().join(", ");
    format!("CREATE TYPE {} AS ({attrs});", qn(&ct.schema, &ct.name))
}

/// `CREATE SEQUENCE IF NOT EXISTS name AS type;`
fn sequence_sql(seq: &nest_catalog::Sequence) -> String {
    format!("CREATE SEQUENCE IF NOT EXISTS {} AS {};", qn(&seq.schema, &seq.name), seq.ty)
}

/// `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON table ...;`
fn index_create(t: &Table, i: &nest_catalog::Index, if_not_exists: bool) -> String {
    format!(
        "CREATE {}INDEX {}{} ON {} {};",
        if i.unique { "UNIQUE " } else { "" },
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        ident(&i.name),
        qn(&t.schema, &t.name),
        i.definition_sql()
    )
}

/// `ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (...) REFERENCES ... [actions] [DEFERRABLE];`
fn fk_sql(t: &Table, fk: &nest_catalog::ForeignKey) -> String {
    let action = |label: &str, a: FkAction| {
        if a == FkAction::NoAction { String::new() } else { format!(" {label}{}", fk_action(a)) }
    };
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}{}{};",
        qn(&t.schema, &t.name),
        ident(&fk.name),
        cols(&fk.columns),
        qn(&fk.references.schema, &fk.references.name),
        cols(&fk.referenced_columns),
        action("ON DELETE", fk.on_delete),
        action("ON UPDATE", fk.on_update),
        if fk.deferrable { " DEFERRABLE" } else { "" }
    )
}

/// `CREATE POLICY name ON table AS ... FOR ... [TO ...] [USING (...)] [WITH CHECK (...)];`
fn policy_sql(t: &Table, p: &nest_catalog::Policy) -> String {
    let mut s = format!(
        "CREATE POLICY {} ON {} AS {} FOR {}",
        ident(&p.name),
        qn(&t.schema, &t.name),
        if p.permissive { "PERMISSIVE" } else { "RESTRICTIVE" },
        p.command.to_uppercase()
    );
    if p.roles != ["public"] {
        let _ = write!(s, " TO {}", p.roles.iter().map(|r| ident(r)).collect::<Vec<_>>().join(", "));
    }
    if let Some(u) = &p.using {
        let _ = write!(s, " USING ({u})");
    }
    if let Some(w) = &p.with_check {
        let _ = write!(s, " WITH CHECK ({w})");
    }
    s.push(';');
    s
}

/// DDL for the whole catalog. Returns the SQL and the decisions taken.
pub fn schema_sql(c: &Catalog) -> (String, Vec<Note>) {
    schema_sql_with(c, &Storage::default())
}

/// DDL for the whole catalog with the features' storage plan.
pub fn schema_sql_with(c: &Catalog, storage: &Storage) -> (String, Vec<Note>) {
    let mut notes = Vec::new();
    let mut s = String::new();
    let part_keys = partition_keys(c, &mut notes);
    let _ = writeln!(s, "-- Schema generated by nest-generator from the catalog. Loads on PostgreSQL 15+.");
    let _ = writeln!(s, "-- Needs uuid_generate_v7() where tables use it: load 00-meta.sql first.\n");

    for schema in c.schemas.iter().filter(|s| *s != "public") {
        let _ = writeln!(s, "CREATE SCHEMA IF NOT EXISTS {};", ident(schema));
    }
    let timescale = c.extensions.iter().any(|e| e.name == "timescaledb");
    for e in c.extensions.iter().filter(|e| e.name != "timescaledb") {
        let _ = writeln!(s, "{}", extension_sql(e));
    }
    if timescale {
        s.push_str(&render("timescaledb.sql.j2", minijinja::Value::UNDEFINED));
    }
    for e in &c.enums {
        let _ = writeln!(s, "\n{}", enum_sql(e));
    }
    for d in &c.domains {
        let _ = writeln!(s, "\n{}", domain_sql(d));
    }
    for ct in c.composite_types.iter().filter(|ct| !ct.attributes.is_empty()) {
        let _ = writeln!(s, "\n{}", composite_sql(ct));
    }
    for seq in &c.sequences {
        let _ = writeln!(s, "\n{}", sequence_sql(seq));
    }
    // Functions and aggregates as the input wrote them: those whose signature names no table
    // first (defaults, checks and indexes may call them), the rest after the tables.
    let relation_names: std::collections::HashSet<String> =
        c.tables.iter().flat_map(|t| [t.name.clone(), format!("{}.{}", t.schema, t.name)]).collect();
    let names_table = |f: &nest_catalog::Function| {
        f.arguments.iter().chain(std::iter::once(&f.returns)).any(|ty| {
            let base = ty.trim_start_matches("setof ").trim_end_matches("[]").trim_matches('"');
            relation_names.contains(base)
        })
    };
    let mut late_functions = Vec::new();
    let mut wrote_functions = false;
    for f in &c.functions {
        let Some(src) = &f.source.0 else {
            notes.push(Note(format!(
                "function {}.{}: the catalog has no definition for it; not created",
                f.schema, f.name
            )));
            continue;
        };
        if names_table(f) {
            late_functions.push(src);
            continue;
        }
        if !wrote_functions {
            s.push_str("\n-- Functions (bodies are checked when called, as pg_dump does)\nSET check_function_bodies = false;\n");
            wrote_functions = true;
        }
        let _ = writeln!(s, "\n{}", statement(src));
    }

    let ordered = dependency_order(c);
    // Foreign keys that cannot exist once a parent became partitioned.
    let mut dropped_fks: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for t in &ordered {
        if t.kind.is_view() {
            continue;
        }
        let key = (t.schema.clone(), t.name.clone());
        let _ = writeln!(s, "\n-- {}.{}", t.schema, t.name);
        if let Some(p) = &t.partition_of {
            let parent_key = (p.parent.schema.clone(), p.parent.name.clone());
            if part_keys.contains_key(&parent_key) {
                let _ = writeln!(
                    s,
                    "CREATE TABLE {} PARTITION OF {} {};",
                    qn(&t.schema, &t.name),
                    qn(&p.parent.schema, &p.parent.name),
                    p.bound
                );
                continue;
            }
        }
        let mut lines: Vec<String> = t.columns.iter().map(column_sql).collect();
        let part = part_keys.get(&key);
        let extend = |columns: &[String]| -> Vec<String> {
            let mut v = columns.to_vec();
            if let Some((_, pc)) = part
                && !pc.is_empty()
                && !v.contains(pc)
            {
                v.push(pc.clone());
            }
            v
        };
        if let Some(pk) = &t.primary_key {
            let columns = extend(&pk.columns);
            if columns != pk.columns {
                notes.push(Note(format!(
                    "{}: primary key ({}) extended to ({}) because a partitioned table's keys include the partition column",
                    t.name,
                    pk.columns.join(", "),
                    columns.join(", ")
                )));
                for other in &c.tables {
                    for fk in &other.foreign_keys {
                        if fk.references.schema == t.schema && fk.references.name == t.name {
                            dropped_fks.insert(
                                (other.schema.clone(), other.name.clone(), fk.name.clone()),
                                format!(
                                    "{} references {} ({}), which is no longer unique by itself",
                                    fk.name,
                                    t.name,
                                    fk.referenced_columns.join(", ")
                                ),
                            );
                        }
                    }
                }
            }
            lines.push(format!("CONSTRAINT {} PRIMARY KEY ({})", ident(&pk.name), cols(&columns)));
        }
        for u in &t.unique {
            let nnd = if u.nulls_not_distinct { " NULLS NOT DISTINCT" } else { "" };
            lines.push(format!("CONSTRAINT {} UNIQUE{nnd} ({})", ident(&u.name), cols(&extend(&u.columns))));
        }
        for k in &t.checks {
            lines.push(format!("CONSTRAINT {} CHECK ({})", ident(&k.name), k.expression));
        }
        // One line per column and constraint, as the input lists them.
        let body = lines.join(",\n  ");
        let create = ["CREATE TABLE ", &qn(&t.schema, &t.name), " (\n  ", &body, "\n)"].concat();
        match (part, storage.partitioned_on(t)) {
            (None, Some(column)) => {
                let partitioned = format!("{create} PARTITION BY RANGE ({})", ident(column));
                s.push_str(&render(
                    "time-partitioned.sql.j2",
                    minijinja::context! {
                        name => qn(&t.schema, &t.name),
                        column => column,
                        plain => sql::string(&create),
                        partitioned => sql::string(&partitioned),
                    },
                ));
            }
            _ => {
                s.push_str(&create);
                if let Some((pb, _)) = part {
                    let _ = write!(s, " PARTITION BY {pb}");
                }
                s.push_str(";\n");
            }
        }
        if part.is_some()
            && t.partition_by.is_none()
            && !c
                .tables
                .iter()
                .any(|p| p.partition_of.as_ref().is_some_and(|po| po.parent.name == t.name && po.bound == "DEFAULT"))
        {
            let default_name = nest_catalog::naming::make_object_name(&t.name, None, Some("default"));
            let _ =
                writeln!(s, "-- The input declared no partitioning; rows outside its partitions' ranges land here.");
            let _ = writeln!(
                s,
                "CREATE TABLE {} PARTITION OF {} DEFAULT;",
                qn(&t.schema, &default_name),
                qn(&t.schema, &t.name)
            );
        }
        if let Some(cm) = &t.comment {
            let _ = writeln!(s, "COMMENT ON TABLE {} IS {};", qn(&t.schema, &t.name), sql::string(cm));
        }
        for col in t.columns.iter().filter(|c| c.comment.is_some()) {
            let _ = writeln!(
                s,
                "COMMENT ON COLUMN {}.{} IS {};",
                qn(&t.schema, &t.name),
                ident(&col.name),
                sql::string(col.comment.as_deref().unwrap_or(""))
            );
        }
    }
    for seq in c.sequences.iter().filter(|s| s.owned_by.is_some()) {
        let owned = seq.owned_by.as_deref().unwrap_or("");
        let parts: Vec<&str> = owned.splitn(3, '.').collect();
        if let [sch, tab, col] = parts.as_slice() {
            let _ =
                writeln!(s, "ALTER SEQUENCE {} OWNED BY {}.{};", qn(&seq.schema, &seq.name), qn(sch, tab), ident(col));
        }
    }

    s.push_str("\n-- Indexes\n");
    for t in ordered.iter().filter(|t| !t.kind.is_view()) {
        index_sql(&mut s, t);
    }

    s.push_str("\n-- Foreign keys (after every table, so references may point forward)\n");
    for t in &ordered {
        for fk in &t.foreign_keys {
            if let Some(why) = dropped_fks.get(&(t.schema.clone(), t.name.clone(), fk.name.clone())) {
                let _ = writeln!(s, "-- not created: {why}");
                notes.push(Note(format!("foreign key {} not created: {why}", fk.name)));
                continue;
            }
            let _ = writeln!(s, "{}", fk_sql(t, fk));
        }
    }

    if !late_functions.is_empty() {
        s.push_str("\n-- Functions that take or return table rows\n");
        s.push_str("SET check_function_bodies = false;\n");
        for src in late_functions {
            let _ = writeln!(s, "\n{}", statement(src));
        }
    }

    // Hypertables, then views (a continuous aggregate needs its hypertable).
    let list: Vec<Hypertable> = ordered
        .iter()
        .filter(|t| !t.kind.is_view())
        .filter_map(|t| {
            let column = storage
                .partitioned_on(t)
                .filter(|_| !part_keys.contains_key(&(t.schema.clone(), t.name.clone())))
                .or(t.hypertable.as_ref().map(|h| h.time_column.as_str()))?;
            Some(hypertable(t, column))
        })
        .collect();
    if !list.is_empty() {
        s.push_str(&render(
            "hypertables.sql.j2",
            minijinja::context! { hypertables => minijinja::Value::from(minijinja::value::Serde(&list)) },
        ));
    }
    for t in ordered.iter().filter(|t| t.kind.is_view()) {
        let Some(def) = &t.definition else {
            notes.push(Note(format!("view {} has no definition in the catalog; not created", t.name)));
            continue;
        };
        let name = qn(&t.schema, &t.name);
        let def = def.trim().trim_end_matches(';');
        let continuous = t.kind == TableKind::MaterializedView && def.to_ascii_lowercase().contains("time_bucket(");
        let rollup = t.kind == TableKind::MaterializedView && storage.rollup(t);
        if continuous || rollup {
            let comment =
                |kind: &str| t.comment.as_ref().map(|cm| format!("COMMENT ON {kind} {name} IS {}", sql::string(cm)));
            let mut with_timescale = vec![if continuous {
                format!("CREATE MATERIALIZED VIEW {name} WITH (timescaledb.continuous) AS {def} WITH NO DATA")
            } else {
                format!("CREATE MATERIALIZED VIEW {name} AS {def}")
            }];
            with_timescale.extend(comment("MATERIALIZED VIEW"));
            let plain = time_bucket_to_date_bin(def);
            let mut without = vec![if rollup {
                format!("CREATE TABLE {name} AS {plain} WITH NO DATA")
            } else {
                format!("CREATE MATERIALIZED VIEW {name} AS {plain}")
            }];
            without.extend(comment(if rollup { "TABLE" } else { "MATERIALIZED VIEW" }));
            let policy = t.refresh_policy.as_ref().filter(|_| continuous).map(|p| {
                let arg = |v: &Option<String>| v.as_deref().map(interval_sql).unwrap_or_else(|| "NULL".into());
                format!(
                    "{}, start_offset => {}, end_offset => {}, schedule_interval => {}",
                    sql::string(&name),
                    arg(&p.start_offset),
                    arg(&p.end_offset),
                    p.schedule_interval.as_deref().map(interval_sql).unwrap_or_else(|| "INTERVAL '1 hour'".into())
                )
            });
            let literals = |v: Vec<String>| v.iter().map(|x| sql::string(x)).collect::<Vec<_>>();
            s.push_str(&render(
                "continuous-aggregate.sql.j2",
                minijinja::context! {
                    name => &name,
                    rollup => rollup,
                    with_timescale => literals(with_timescale),
                    without => literals(without),
                    policy => policy,
                },
            ));
            notes.push(Note(if rollup {
                format!("{}: a continuous aggregate with TimescaleDB; without, a table the app refreshes", t.name)
            } else {
                format!("{}: continuous aggregate falls back to date_bin() without TimescaleDB", t.name)
            }));
        } else {
            let kind = if t.kind == TableKind::MaterializedView { "MATERIALIZED VIEW" } else { "VIEW" };
            let _ = writeln!(s, "\nCREATE {kind} {name} AS {def};");
            if let Some(cm) = &t.comment {
                let _ = writeln!(s, "COMMENT ON {kind} {name} IS {};", sql::string(cm));
            }
        }
    }

    for t in ordered.iter().filter(|t| t.kind == TableKind::MaterializedView) {
        index_sql(&mut s, t);
    }

    let secured: Vec<&Table> = ordered.iter().copied().filter(|t| t.rls_enabled || !t.policies.is_empty()).collect();
    if !secured.is_empty() {
        s.push_str("\n-- Row-level security\n");
    }
    for t in secured {
        let name = qn(&t.schema, &t.name);
        if t.rls_enabled {
            let _ = writeln!(s, "ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;");
        }
        if t.rls_forced {
            let _ = writeln!(s, "ALTER TABLE {name} FORCE ROW LEVEL SECURITY;");
        }
        for p in &t.policies {
            let _ = writeln!(s, "{}", policy_sql(t, p));
        }
    }
    let triggers: Vec<(&Table, &nest_catalog::Trigger)> =
        ordered.iter().flat_map(|t| t.triggers.iter().map(move |tr| (*t, tr))).collect();
    if !triggers.is_empty() {
        s.push_str("\n-- Triggers\n");
    }
    for (t, tr) in triggers {
        let defined = c.functions.iter().any(|f| f.name == tr.function.name && f.source.0.is_some())
            || !c.functions.iter().any(|f| f.name == tr.function.name);
        match (&tr.source.0, defined) {
            (Some(src), true) => {
                let _ = writeln!(s, "{}", statement(src));
            }
            _ => notes.push(Note(format!(
                "trigger {} on {} not created: the catalog has no definition for it or for {}()",
                tr.name, t.name, tr.function.name
            ))),
        }
    }
    (s, notes)
}

/// A statement as written, ending in one semicolon.
fn statement(src: &str) -> String {
    format!("{};", src.trim().trim_end_matches(';').trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_bin_rewrite() {
        assert_eq!(
            time_bucket_to_date_bin("SELECT time_bucket('1 hour', time) AS hour, avg(x) FROM m"),
            "SELECT date_bin('1 hour', time, '2000-01-03 00:00:00+00') AS hour, avg(x) FROM m"
        );
    }
}
