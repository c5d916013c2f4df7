//! A migration between two catalogs: the statements that move a database holding the first
//! schema to the second, in an order PostgreSQL accepts, with the steps that lose data marked.
//!
//! Order: renames the caller names (tables, then columns), new schemas, extensions and types,
//! functions (created or replaced, bodies checked when called), views that must be rebuilt
//! dropped, then per changed table what goes (triggers, policies, keys, checks, indexes),
//! its columns (added, altered, dropped), new tables and the rebuilt views, what each changed
//! table gains, and last the tables and types that go. Constraints and indexes whose definition
//! is unchanged but whose name changed are renamed, not rebuilt.

use crate::{
    cols, column_sql, composite_sql, domain_sql, enum_sql, extension_sql, fk_sql, index_create, policy_sql, qn,
    schema_sql, sequence_sql, statement,
};
use nest_catalog::quote::{self as sql, ident};
use nest_catalog::{Catalog, Column, ForeignKey, Identity, SqlType, Table, TableKind};
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write;

/// Renames the caller asserts (a drop plus an add would lose the data).
#[derive(Debug, Clone, Default)]
pub struct Renames {
    /// `(schema, old name, new name)`.
    pub tables: Vec<(String, String, String)>,
    /// `(schema, table as the new schema names it, old column, new column)`.
    pub columns: Vec<(String, String, String, String)>,
}

/// One statement; `destructive` says what data it loses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub sql: String,
    pub destructive: Option<String>,
}

#[derive(Debug, Default)]
pub struct Migration {
    pub steps: Vec<Step>,
    /// What the migration does not do, or what may fail on existing rows.
    pub notes: Vec<String>,
    /// Likely renames: a column dropped and one of the same type added in one table.
    pub hints: Vec<String>,
}

impl Migration {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn destructive(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.destructive.is_some())
    }

    /// The migration as a file: `header` lines (comments), notes, then the statements.
    pub fn text(&self, header: &[String]) -> String {
        let mut s = String::new();
        for h in header {
            let _ = writeln!(s, "-- {h}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "-- note: {n}");
        }
        s.push('\n');
        for step in &self.steps {
            if let Some(why) = &step.destructive {
                let _ = writeln!(s, "-- DESTRUCTIVE: {why}");
            }
            s.push_str(step.sql.trim_end());
            s.push('\n');
        }
        s
    }

    fn push(&mut self, sql: String) {
        self.steps.push(Step { sql, destructive: None });
    }

    fn push_destructive(&mut self, sql: String, why: String) {
        self.steps.push(Step { sql, destructive: Some(why) });
    }
}

fn key(t: &Table) -> (String, String) {
    (t.schema.clone(), t.name.clone())
}

/// Whether a column of type `from` converts to `to` without losing anything.
fn widens(from: &SqlType, to: &SqlType) -> bool {
    if from == to {
        return true;
    }
    if from.array != to.array || from.schema.is_some() || to.schema.is_some() {
        return false;
    }
    let (a, b) = (from.name.as_str(), to.name.as_str());
    let first = |t: &SqlType| t.modifiers.first().copied();
    let chars = ["character varying", "character", "text"];
    match (a, b) {
        // A longer or unbounded text type.
        (x, "text") if chars.contains(&x) => true,
        (x, "character varying") if chars[..2].contains(&x) => match (first(from), first(to)) {
            (_, None) => true,
            (Some(n), Some(m)) => m >= n,
            (None, Some(_)) => false,
        },
        ("smallint", "integer" | "bigint" | "numeric") | ("integer", "bigint" | "numeric") | ("bigint", "numeric") => {
            to.modifiers.is_empty()
        }
        ("real", "double precision") => true,
        ("numeric", "numeric") => match (from.modifiers.as_slice(), to.modifiers.as_slice()) {
            (_, []) => true,
            ([p, s], [p2, s2]) => s2 >= s && p2 - s2 >= p - s,
            ([p], [p2, s2]) => p2 - s2 >= *p,
            _ => false,
        },
        ("timestamp without time zone" | "timestamp with time zone", x) if x == a => {
            first(to).is_none() || first(from).is_some_and(|p| first(to).is_some_and(|q| q >= p))
        }
        _ => false,
    }
}

/// A definition's text with runs of white space made one space (for comparing sources).
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `CREATE [OR REPLACE] FUNCTION ...` as `CREATE OR REPLACE FUNCTION ...`.
fn or_replace(src: &str) -> String {
    let text = statement(src);
    let lower = text.to_ascii_lowercase();
    for head in ["create function", "create procedure", "create aggregate"] {
        if lower.starts_with(head) {
            return format!("CREATE OR REPLACE {}", &text["create ".len()..]);
        }
    }
    text
}

/// Whether `definition` names `table` (qualified or not) as a word.
fn mentions(definition: &str, schema: &str, table: &str) -> bool {
    let lower = definition.to_ascii_lowercase();
    let bare = table.to_ascii_lowercase();
    let qualified = format!("{}.{bare}", schema.to_ascii_lowercase());
    let word = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    [bare.as_str(), qualified.as_str()].iter().any(|needle| {
        lower
            .match_indices(needle)
            .any(|(at, _)| word(lower[..at].chars().next_back()) && word(lower[at + needle.len()..].chars().next()))
    })
}

/// A sequence owned by `old_owner` (`schema.table.column`) in the old catalog that the new one has
/// under another name for `new_owner`: renamed (the database keeps its position), and the old
/// catalog's defaults follow.
fn rename_owned_sequences(old: &mut Catalog, new: &Catalog, old_owner: &str, new_owner: &str, m: &mut Migration) {
    let q = nest_catalog::sqltype::quote_ident_if_needed;
    let Some(target) = new.sequences.iter().find(|x| x.owned_by.as_deref() == Some(new_owner)) else { return };
    let Some(i) = old.sequences.iter().position(|x| x.owned_by.as_deref() == Some(old_owner)) else { return };
    let (schema, from) = (old.sequences[i].schema.clone(), old.sequences[i].name.clone());
    if from != target.name {
        m.push(format!("ALTER SEQUENCE {} RENAME TO {};", qn(&schema, &from), ident(&target.name)));
        for t in &mut old.tables {
            for c in &mut t.columns {
                if let Some(d) = &mut c.default
                    && d.starts_with("nextval(")
                {
                    *d = d
                        .replace(&format!("'{}'", q(&from)), &format!("'{}'", q(&target.name)))
                        .replace(&format!(".{}'", q(&from)), &format!(".{}'", q(&target.name)));
                }
            }
        }
        old.sequences[i].name = target.name.clone();
    }
    old.sequences[i].owned_by = Some(new_owner.to_string());
}

/// Apply the caller's renames to a copy of the old catalog, returning their statements.
fn apply_renames(old: &mut Catalog, new: &Catalog, renames: &Renames, m: &mut Migration) -> Result<(), String> {
    for (schema, from, to) in &renames.tables {
        if old.table(schema, from).is_none() {
            return Err(format!("--rename-table {from}={to}: the old schema has no table {schema}.{from}"));
        }
        if new.table(schema, to).is_none() {
            return Err(format!("--rename-table {from}={to}: the new schema has no table {schema}.{to}"));
        }
        for t in &mut old.tables {
            if t.schema == *schema && t.name == *from {
                t.name = to.clone();
            }
            for fk in &mut t.foreign_keys {
                if fk.references.schema == *schema && fk.references.name == *from {
                    fk.references.name = to.clone();
                }
            }
            if let Some(p) = &mut t.partition_of
                && p.parent.schema == *schema
                && p.parent.name == *from
            {
                p.parent.name = to.clone();
            }
        }
        m.push(format!("ALTER TABLE {} RENAME TO {};", qn(schema, from), ident(to)));
        let columns: Vec<String> =
            old.table(schema, to).map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        for c in columns {
            rename_owned_sequences(old, new, &format!("{schema}.{from}.{c}"), &format!("{schema}.{to}.{c}"), m);
        }
    }
    for (schema, table, from, to) in &renames.columns {
        let what = format!("--rename-column {table}.{from}={to}");
        let Some(nt) = new.table(schema, table) else {
            return Err(format!("{what}: the new schema has no table {schema}.{table}"));
        };
        if nt.column(to).is_none() {
            return Err(format!("{what}: {schema}.{table} has no column {to} in the new schema"));
        }
        let Some(t) = old.tables.iter_mut().find(|t| t.schema == *schema && t.name == *table) else {
            return Err(format!("{what}: the old schema has no table {schema}.{table}"));
        };
        let Some(c) = t.column_mut(from) else {
            return Err(format!("{what}: {schema}.{table} has no column {from} in the old schema"));
        };
        c.name = to.clone();
        let rename = |list: &mut Vec<String>| {
            for c in list.iter_mut().filter(|c| *c == from) {
                *c = to.clone();
            }
        };
        if let Some(pk) = &mut t.primary_key {
            rename(&mut pk.columns);
        }
        for u in &mut t.unique {
            rename(&mut u.columns);
        }
        for fk in &mut t.foreign_keys {
            rename(&mut fk.columns);
        }
        for i in &mut t.indexes {
            for e in i.columns.iter_mut().filter(|e| e.is_column && e.expr == *from) {
                e.expr = to.clone();
            }
            rename(&mut i.include);
        }
        let (tschema, tname) = (t.schema.clone(), t.name.clone());
        for other in &mut old.tables {
            for fk in &mut other.foreign_keys {
                if fk.references.schema == tschema && fk.references.name == tname {
                    rename(&mut fk.referenced_columns);
                }
            }
        }
        m.push(format!("ALTER TABLE {} RENAME COLUMN {} TO {};", qn(schema, table), ident(from), ident(to)));
        rename_owned_sequences(old, new, &format!("{schema}.{table}.{from}"), &format!("{schema}.{table}.{to}"), m);
    }
    Ok(())
}

/// Named parts of one kind on an old and a new table, compared: the renamed (same definition,
/// new name), the gone or changed (old), and the new or changed (new).
struct Parts<'a, T> {
    renamed: Vec<(&'a T, &'a T)>,
    gone: Vec<&'a T>,
    added: Vec<&'a T>,
}

fn parts<'a, T: PartialEq>(
    old: &'a [T],
    new: &'a [T],
    name: impl Fn(&T) -> &str,
    same: impl Fn(&T, &T) -> bool,
) -> Parts<'a, T> {
    let mut gone: Vec<&'a T> = old.iter().filter(|o| !new.iter().any(|n| name(n) == name(o) && n == *o)).collect();
    let mut added: Vec<&'a T> = new.iter().filter(|n| !old.iter().any(|o| name(o) == name(n) && o == *n)).collect();
    let mut renamed: Vec<(&'a T, &'a T)> = Vec::new();
    // Same definition, another name, and the old name not kept: a rename.
    let mut i = 0;
    while i < gone.len() {
        let o: &'a T = gone[i];
        let kept = new.iter().any(|n| name(n) == name(o));
        let twin =
            if kept { None } else { added.iter().position(|n| same(o, n) && !old.iter().any(|x| name(x) == name(n))) };
        match twin {
            Some(j) => {
                renamed.push((o, added.remove(j)));
                gone.remove(i);
            }
            None => i += 1,
        }
    }
    Parts { renamed, gone, added }
}

/// The migration from `from` to `to`. Errors: a rename that names nothing, or a change
/// PostgreSQL cannot make in place (an enum value removed).
pub fn migration(from: &Catalog, to: &Catalog, renames: &Renames) -> Result<Migration, String> {
    let mut m = Migration::default();
    let mut old = from.clone();
    apply_renames(&mut old, to, renames, &mut m)?;

    for s in to.schemas.iter().filter(|s| !old.schemas.contains(s) && *s != "public") {
        m.push(format!("CREATE SCHEMA IF NOT EXISTS {};", ident(s)));
    }
    for e in to.extensions.iter().filter(|e| !old.extensions.iter().any(|o| o.name == e.name)) {
        m.push(extension_sql(e));
    }
    for e in &to.enums {
        let name = qn(&e.schema, &e.name);
        match old.enums.iter().find(|o| o.schema == e.schema && o.name == e.name) {
            None => m.push(enum_sql(e)),
            Some(o) => {
                let kept: Vec<&String> = e.values.iter().filter(|v| o.values.contains(v)).collect();
                if o.values.iter().any(|v| !e.values.contains(v)) || kept.iter().copied().ne(o.values.iter()) {
                    return Err(format!(
                        "enum {name}: values removed or reordered ({} -> {}); PostgreSQL cannot drop or move an enum value \
                         in place: create a new type, convert the columns (ALTER COLUMN ... TYPE new USING col::text::new) \
                         and drop the old one by hand",
                        o.values.join(", "),
                        e.values.join(", ")
                    ));
                }
                for (i, v) in e.values.iter().enumerate().filter(|(_, v)| !o.values.contains(v)) {
                    let place = match e.values[..i].last() {
                        Some(prev) => format!(" AFTER {}", sql::string(prev)),
                        None => format!(" BEFORE {}", sql::string(&e.values[1])),
                    };
                    m.push(format!("ALTER TYPE {name} ADD VALUE IF NOT EXISTS {}{place};", sql::string(v)));
                }
            }
        }
    }
    for d in to.domains.iter() {
        match old.domains.iter().find(|o| o.schema == d.schema && o.name == d.name) {
            None => m.push(domain_sql(d)),
            Some(o) if o != d => {
                m.notes.push(format!("domain {}.{} changed: not migrated, change it by hand", d.schema, d.name))
            }
            Some(_) => {}
        }
    }
    for ct in &to.composite_types {
        match old.composite_types.iter().find(|o| o.schema == ct.schema && o.name == ct.name) {
            None if !ct.attributes.is_empty() => m.push(composite_sql(ct)),
            Some(o) if o != ct => m
                .notes
                .push(format!("composite type {}.{} changed: not migrated, change it by hand", ct.schema, ct.name)),
            _ => {}
        }
    }
    for seq in to.sequences.iter().filter(|s| !old.sequences.iter().any(|o| o.schema == s.schema && o.name == s.name)) {
        m.push(sequence_sql(seq));
    }
    // Functions: new or changed, created or replaced (bodies are checked when called).
    let mut functions = Vec::new();
    for f in &to.functions {
        let before =
            old.functions.iter().find(|o| o.schema == f.schema && o.name == f.name && o.arguments == f.arguments);
        let changed = match (before, &f.source.0) {
            (None, _) => true,
            (Some(o), Some(src)) => o.source.0.as_deref().is_none_or(|s| squeeze(s) != squeeze(src)),
            (Some(_), None) => false,
        };
        if !changed {
            continue;
        }
        match &f.source.0 {
            Some(src) => functions.push(or_replace(src)),
            None => {
                m.notes.push(format!("function {}.{}: no definition in the new schema; not created", f.schema, f.name))
            }
        }
    }
    if !functions.is_empty() {
        m.push("SET check_function_bodies = false;".into());
        for f in functions {
            m.push(f);
        }
    }

    let new_key: HashSet<(String, String)> = to.tables.iter().map(key).collect();
    let old_tables: Vec<&Table> = old.tables.iter().collect();
    // Tables whose columns change shape: views reading them are rebuilt.
    let mut reshaped: BTreeSet<(String, String)> =
        renames.tables.iter().map(|(s, _, n)| (s.clone(), n.clone())).collect();
    for (s, t, _, _) in &renames.columns {
        reshaped.insert((s.clone(), t.clone()));
    }
    for o in old_tables.iter().filter(|o| !o.kind.is_view()) {
        let Some(n) = to.table(&o.schema, &o.name) else {
            reshaped.insert(key(o));
            continue;
        };
        let reshapes =
            o.columns.iter().any(|c| n.column(&c.name).is_none_or(|nc| nc.ty != c.ty || nc.generated != c.generated));
        if reshapes {
            reshaped.insert(key(o));
        }
    }
    let rebuilt: Vec<&Table> = old_tables
        .iter()
        .copied()
        .filter(|o| o.kind.is_view())
        .filter(|o| {
            let now = to.table(&o.schema, &o.name);
            now.is_none_or(|n| n.definition != o.definition || n.kind != o.kind)
                || reshaped.iter().any(|(s, t)| o.definition.as_deref().is_some_and(|d| mentions(d, s, t)))
        })
        .collect();
    // Views reading a rebuilt view are rebuilt with it.
    let mut rebuilt = rebuilt;
    loop {
        let more: Vec<&Table> = old_tables
            .iter()
            .copied()
            .filter(|o| o.kind.is_view() && !rebuilt.iter().any(|r| key(r) == key(o)))
            .filter(|o| {
                rebuilt.iter().any(|r| o.definition.as_deref().is_some_and(|d| mentions(d, &r.schema, &r.name)))
            })
            .collect();
        if more.is_empty() {
            break;
        }
        rebuilt.extend(more);
    }
    rebuilt.sort_by_key(|v| old_tables.iter().position(|o| key(o) == key(v)));
    for v in rebuilt.iter().rev() {
        let kind = if v.kind == TableKind::MaterializedView { "MATERIALIZED VIEW" } else { "VIEW" };
        m.push(format!("DROP {kind} IF EXISTS {};", qn(&v.schema, &v.name)));
    }

    // Changed tables: what goes first.
    let pairs: Vec<(&Table, &Table)> = old_tables
        .iter()
        .filter(|o| !o.kind.is_view())
        .filter_map(|o| to.table(&o.schema, &o.name).filter(|n| !n.kind.is_view()).map(|n| (*o, n)))
        .collect();
    let mut adds: Vec<Step> = Vec::new();
    for (o, n) in &pairs {
        let name = qn(&n.schema, &n.name);
        let triggers = parts(&o.triggers, &n.triggers, |t| &t.name, |_, _| false);
        // A trigger whose statement changed is rebuilt too.
        let mut trigger_gone = triggers.gone;
        let mut trigger_added = triggers.added;
        for nt in &n.triggers {
            if let Some(ot) = o.triggers.iter().find(|ot| ot.name == nt.name && *ot == nt)
                && let (Some(a), Some(b)) = (&ot.source.0, &nt.source.0)
                && squeeze(a) != squeeze(b)
            {
                trigger_gone.push(ot);
                trigger_added.push(nt);
            }
        }
        for t in trigger_gone {
            m.push(format!("DROP TRIGGER IF EXISTS {} ON {name};", ident(&t.name)));
        }
        for t in trigger_added {
            match &t.source.0 {
                Some(src) => adds.push(Step { sql: statement(src), destructive: None }),
                None => m
                    .notes
                    .push(format!("trigger {} on {}: no definition in the new schema; not created", t.name, n.name)),
            }
        }
        let policies = parts(&o.policies, &n.policies, |p| &p.name, |_, _| false);
        for p in policies.gone {
            m.push(format!("DROP POLICY IF EXISTS {} ON {name};", ident(&p.name)));
        }
        for p in policies.added {
            adds.push(Step { sql: policy_sql(n, p), destructive: None });
        }
        let fks = parts(
            &o.foreign_keys,
            &n.foreign_keys,
            |f| &f.name,
            |a, b| ForeignKey { name: b.name.clone(), ..a.clone() } == *b,
        );
        for f in fks.gone {
            m.push(format!("ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {};", ident(&f.name)));
        }
        for (a, b) in fks.renamed {
            m.push(format!("ALTER TABLE {name} RENAME CONSTRAINT {} TO {};", ident(&a.name), ident(&b.name)));
        }
        for f in fks.added {
            adds.push(Step { sql: fk_sql(n, f), destructive: None });
        }
        let checks = parts(&o.checks, &n.checks, |c| &c.name, |a, b| squeeze(&a.expression) == squeeze(&b.expression));
        for c in checks.gone {
            m.push(format!("ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {};", ident(&c.name)));
        }
        for (a, b) in checks.renamed {
            m.push(format!("ALTER TABLE {name} RENAME CONSTRAINT {} TO {};", ident(&a.name), ident(&b.name)));
        }
        for c in checks.added {
            adds.push(Step {
                sql: format!("ALTER TABLE {name} ADD CONSTRAINT {} CHECK ({});", ident(&c.name), c.expression),
                destructive: None,
            });
        }
        let keys_old: Vec<_> = o.unique.iter().chain(&o.primary_key).cloned().collect();
        let keys_new: Vec<_> = n.unique.iter().chain(&n.primary_key).cloned().collect();
        let is_pk =
            |t: &Table, k: &nest_catalog::KeyConstraint| t.primary_key.as_ref().is_some_and(|p| p.name == k.name);
        let keys = parts(
            &keys_old,
            &keys_new,
            |k| &k.name,
            |a, b| a.columns == b.columns && a.nulls_not_distinct == b.nulls_not_distinct && is_pk(o, a) == is_pk(n, b),
        );
        for k in keys.gone {
            m.push(format!("ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {};", ident(&k.name)));
        }
        for (a, b) in keys.renamed {
            m.push(format!("ALTER TABLE {name} RENAME CONSTRAINT {} TO {};", ident(&a.name), ident(&b.name)));
        }
        for k in keys.added {
            let kind = if is_pk(n, k) {
                "PRIMARY KEY".to_string()
            } else if k.nulls_not_distinct {
                "UNIQUE NULLS NOT DISTINCT".to_string()
            } else {
                "UNIQUE".to_string()
            };
            adds.push(Step {
                sql: format!("ALTER TABLE {name} ADD CONSTRAINT {} {kind} ({});", ident(&k.name), cols(&k.columns)),
                destructive: None,
            });
        }
        let indexes = parts(
            &o.indexes,
            &n.indexes,
            |i| &i.name,
            |a, b| a.unique == b.unique && a.definition_sql() == b.definition_sql(),
        );
        for i in indexes.gone {
            m.push(format!("DROP INDEX IF EXISTS {};", qn(&o.schema, &i.name)));
        }
        for (a, b) in indexes.renamed {
            m.push(format!("ALTER INDEX IF EXISTS {} RENAME TO {};", qn(&o.schema, &a.name), ident(&b.name)));
        }
        for i in indexes.added {
            adds.push(Step { sql: index_create(n, i, true), destructive: None });
        }
        // Row-level security switches.
        if o.rls_enabled != n.rls_enabled {
            let on = if n.rls_enabled { "ENABLE" } else { "DISABLE" };
            adds.push(Step { sql: format!("ALTER TABLE {name} {on} ROW LEVEL SECURITY;"), destructive: None });
        }
        if o.rls_forced != n.rls_forced {
            let on = if n.rls_forced { "FORCE" } else { "NO FORCE" };
            adds.push(Step { sql: format!("ALTER TABLE {name} {on} ROW LEVEL SECURITY;"), destructive: None });
        }
        if o.comment != n.comment {
            let c = n.comment.as_deref().map_or("NULL".to_string(), sql::string);
            adds.push(Step { sql: format!("COMMENT ON TABLE {name} IS {c};"), destructive: None });
        }
        if o.partition_by != n.partition_by {
            m.notes.push(format!(
                "{}: partitioning changed; not migrated (a table cannot be repartitioned in place)",
                n.name
            ));
        }
        columns(&mut m, &mut adds, o, n);
    }

    // New tables, and the views rebuilt or new, through the schema writer.
    let mut fresh = Catalog::default();
    for t in &to.tables {
        let existed = old.table(&t.schema, &t.name).is_some();
        let rebuild = rebuilt.iter().any(|v| v.schema == t.schema && v.name == t.name);
        if !existed || (t.kind.is_view() && rebuild) {
            if let Some(p) = &t.partition_of
                && old.table(&p.parent.schema, &p.parent.name).is_some()
            {
                m.push(format!(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} {};",
                    qn(&t.schema, &t.name),
                    qn(&p.parent.schema, &p.parent.name),
                    p.bound
                ));
                continue;
            }
            fresh.tables.push(t.clone());
        }
    }
    if !fresh.tables.is_empty() {
        let (text, notes) = schema_sql(&fresh);
        let body: String =
            text.lines().skip_while(|l| l.starts_with("--") || l.trim().is_empty()).collect::<Vec<_>>().join("\n");
        m.push(body);
        m.notes.extend(notes.into_iter().map(|n| n.0));
    }
    m.steps.extend(adds);

    // What goes last: tables, then types.
    for o in old_tables.iter().filter(|o| !o.kind.is_view() && !new_key.contains(&key(o))) {
        if let Some(p) = &o.partition_of
            && !new_key.contains(&(p.parent.schema.clone(), p.parent.name.clone()))
        {
            continue; // dropped with its parent
        }
        m.push_destructive(
            format!("DROP TABLE IF EXISTS {};", qn(&o.schema, &o.name)),
            format!("drops table {}.{} and its rows", o.schema, o.name),
        );
    }
    for e in old.enums.iter().filter(|e| !to.enums.iter().any(|n| n.schema == e.schema && n.name == e.name)) {
        m.push_destructive(
            format!("DROP TYPE IF EXISTS {};", qn(&e.schema, &e.name)),
            format!("drops enum {}.{}", e.schema, e.name),
        );
    }
    for d in old.domains.iter().filter(|d| !to.domains.iter().any(|n| n.schema == d.schema && n.name == d.name)) {
        m.push_destructive(
            format!("DROP DOMAIN IF EXISTS {};", qn(&d.schema, &d.name)),
            format!("drops domain {}.{}", d.schema, d.name),
        );
    }
    for f in old.functions.iter().filter(|f| {
        !to.functions.iter().any(|n| n.schema == f.schema && n.name == f.name && n.arguments == f.arguments)
    }) {
        m.push(format!("DROP FUNCTION IF EXISTS {}({});", qn(&f.schema, &f.name), f.arguments.join(", ")));
    }
    Ok(m)
}

/// Column changes of one table: added, altered, dropped (in that order).
fn columns(m: &mut Migration, adds: &mut Vec<Step>, o: &Table, n: &Table) {
    let name = qn(&n.schema, &n.name);
    for c in n.columns.iter().filter(|c| o.column(&c.name).is_none()) {
        if !c.nullable && c.default.is_none() && c.identity.is_none() && c.generated.is_none() {
            m.notes.push(format!(
                "{}.{} is NOT NULL without a default: adding it fails on a table with rows (give it a DEFAULT, \
                 or add it nullable, fill it, then SET NOT NULL)",
                n.name, c.name
            ));
        }
        m.push(format!("ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {};", column_sql(c)));
        if let Some(cm) = &c.comment {
            adds.push(Step {
                sql: format!("COMMENT ON COLUMN {name}.{} IS {};", ident(&c.name), sql::string(cm)),
                destructive: None,
            });
        }
    }
    for oc in &o.columns {
        let Some(nc) = n.column(&oc.name) else { continue };
        alter_column(m, adds, &name, n, oc, nc);
    }
    let gone: Vec<&Column> = o.columns.iter().filter(|c| n.column(&c.name).is_none()).collect();
    let added: Vec<&Column> = n.columns.iter().filter(|c| o.column(&c.name).is_none()).collect();
    for c in &gone {
        if let Some(a) = added.iter().find(|a| a.ty == c.ty) {
            m.hints.push(format!(
                "{}.{} is dropped and {}.{} ({}) added: if it is a rename, pass --rename-column {}.{}={}",
                n.name, c.name, n.name, a.name, a.ty, n.name, c.name, a.name
            ));
        }
        m.push_destructive(
            format!("ALTER TABLE {name} DROP COLUMN IF EXISTS {};", ident(&c.name)),
            format!("drops column {}.{} and its values", n.name, c.name),
        );
    }
}

fn alter_column(m: &mut Migration, adds: &mut Vec<Step>, name: &str, n: &Table, oc: &Column, nc: &Column) {
    let col = ident(&nc.name);
    if oc.generated != nc.generated {
        m.push_destructive(
            format!("ALTER TABLE {name} DROP COLUMN {col};"),
            format!("{}.{}: its generation changed; the column is made again", n.name, nc.name),
        );
        m.push(format!("ALTER TABLE {name} ADD COLUMN {};", column_sql(nc)));
        return;
    }
    if oc.ty != nc.ty {
        let sql = format!("ALTER TABLE {name} ALTER COLUMN {col} TYPE {} USING {col}::{};", nc.ty, nc.ty);
        if widens(&oc.ty, &nc.ty) {
            m.push(sql);
        } else {
            m.push_destructive(sql, format!("{}.{}: {} to {} may fail or lose values", n.name, nc.name, oc.ty, nc.ty));
        }
    }
    if oc.identity != nc.identity {
        let kind = |i: Identity| if i == Identity::Always { "ALWAYS" } else { "BY DEFAULT" };
        m.push(match (oc.identity, nc.identity) {
            (None, Some(i)) => format!("ALTER TABLE {name} ALTER COLUMN {col} ADD GENERATED {} AS IDENTITY;", kind(i)),
            (Some(_), None) => format!("ALTER TABLE {name} ALTER COLUMN {col} DROP IDENTITY IF EXISTS;"),
            (_, Some(i)) => format!("ALTER TABLE {name} ALTER COLUMN {col} SET GENERATED {};", kind(i)),
            (None, None) => unreachable!(),
        });
    }
    if oc.default != nc.default && nc.identity.is_none() && nc.generated.is_none() {
        m.push(match &nc.default {
            Some(d) => format!("ALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {d};"),
            None => format!("ALTER TABLE {name} ALTER COLUMN {col} DROP DEFAULT;"),
        });
    }
    if oc.nullable != nc.nullable {
        if nc.nullable {
            m.push(format!("ALTER TABLE {name} ALTER COLUMN {col} DROP NOT NULL;"));
        } else {
            m.notes.push(format!("{}.{} becomes NOT NULL: fails while a row holds NULL there", n.name, nc.name));
            m.push(format!("ALTER TABLE {name} ALTER COLUMN {col} SET NOT NULL;"));
        }
    }
    if oc.comment != nc.comment {
        let c = nc.comment.as_deref().map_or("NULL".to_string(), sql::string);
        adds.push(Step { sql: format!("COMMENT ON COLUMN {name}.{col} IS {c};"), destructive: None });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(sql: &str) -> Catalog {
        let c = nest_ddl::parse_str("test.sql", sql);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        c
    }

    #[test]
    fn columns_constraints_indexes_and_policies_move_in_order() {
        let from =
            cat("CREATE TABLE users (id int PRIMARY KEY, phone text, age smallint, name varchar(20) NOT NULL);\n\
             CREATE INDEX users_name ON users (name);\n\
             ALTER TABLE users ENABLE ROW LEVEL SECURITY;\n\
             CREATE POLICY own ON users USING (id = 1);");
        let to =
            cat("CREATE TABLE users (id int PRIMARY KEY, phone_number text, age integer, name varchar(40) NOT NULL, \
             email text DEFAULT 'x');\n\
             CREATE INDEX users_name_idx ON users (name);\n\
             CREATE INDEX users_email ON users (email);\n\
             ALTER TABLE users ENABLE ROW LEVEL SECURITY;\n\
             CREATE POLICY own ON users USING (id = 2);");
        let renames = Renames {
            columns: vec![("public".into(), "users".into(), "phone".into(), "phone_number".into())],
            ..Default::default()
        };
        let m = migration(&from, &to, &renames).unwrap();
        let sql: Vec<&str> = m.steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "ALTER TABLE users RENAME COLUMN phone TO phone_number;",
                "DROP POLICY IF EXISTS own ON users;",
                "ALTER INDEX IF EXISTS users_name RENAME TO users_name_idx;",
                "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text DEFAULT 'x';",
                "ALTER TABLE users ALTER COLUMN age TYPE integer USING age::integer;",
                "ALTER TABLE users ALTER COLUMN name TYPE character varying(40) USING name::character varying(40);",
                "CREATE POLICY own ON users AS PERMISSIVE FOR ALL USING (id = 2);",
                "CREATE INDEX IF NOT EXISTS users_email ON users USING btree (email);",
            ]
        );
        assert_eq!(m.destructive().count(), 0, "widening and renames lose nothing");
    }

    #[test]
    fn drops_and_narrowing_are_destructive_and_a_likely_rename_is_named() {
        let from = cat("CREATE TABLE a (id int PRIMARY KEY, phone text, n bigint);\nCREATE TABLE gone (id int);");
        let to = cat("CREATE TABLE a (id int PRIMARY KEY, mobile text, n integer);");
        let m = migration(&from, &to, &Renames::default()).unwrap();
        let why: Vec<&str> = m.destructive().filter_map(|s| s.destructive.as_deref()).collect();
        assert_eq!(why.len(), 3, "{why:?}");
        assert!(why.iter().any(|w| w.contains("drops column a.phone")));
        assert!(why.iter().any(|w| w.contains("bigint to integer")));
        assert!(why.iter().any(|w| w.contains("drops table public.gone")));
        assert!(m.hints.iter().any(|h| h.contains("--rename-column a.phone=mobile")), "{:?}", m.hints);
    }

    #[test]
    fn new_tables_enum_values_and_views_reading_changed_tables() {
        let from = cat("CREATE TYPE mood AS ENUM ('sad', 'happy');\n\
             CREATE TABLE p (id int PRIMARY KEY, m mood, x int);\n\
             CREATE VIEW v AS SELECT id, x FROM p;");
        let to = cat("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\n\
             CREATE TABLE p (id int PRIMARY KEY, m mood, x bigint);\n\
             CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));\n\
             CREATE VIEW v AS SELECT id, x FROM p;");
        let m = migration(&from, &to, &Renames::default()).unwrap();
        let text = m.text(&[]);
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no `{s}` in:\n{text}"));
        assert!(at("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'ok' AFTER 'sad';") < at("DROP VIEW IF EXISTS v;"));
        assert!(at("DROP VIEW IF EXISTS v;") < at("ALTER COLUMN x TYPE bigint"));
        assert!(at("ALTER COLUMN x TYPE bigint") < at("CREATE TABLE c"));
        assert!(at("CREATE TABLE c") < at("CREATE VIEW v AS"));
        assert!(at("FOREIGN KEY (p_id) REFERENCES p (id)") > at("CREATE TABLE c"));
        let removed = cat("CREATE TYPE mood AS ENUM ('sad');");
        assert!(
            migration(&from, &removed, &Renames::default()).unwrap_err().contains("cannot drop or move an enum value")
        );
    }

    #[test]
    fn a_renamed_serial_keeps_its_sequence() {
        let from = cat("CREATE TABLE customers (id serial PRIMARY KEY, name text);");
        let to = cat("CREATE TABLE clients (id serial PRIMARY KEY, name text);");
        let renames =
            Renames { tables: vec![("public".into(), "customers".into(), "clients".into())], ..Default::default() };
        let m = migration(&from, &to, &renames).unwrap();
        let sql: Vec<&str> = m.steps.iter().map(|s| s.sql.as_str()).collect();
        assert!(sql.contains(&"ALTER SEQUENCE customers_id_seq RENAME TO clients_id_seq;"), "{sql:?}");
        assert!(!sql.iter().any(|s| s.contains("CREATE SEQUENCE") || s.contains("SET DEFAULT")), "{sql:?}");
    }

    #[test]
    fn a_mixed_case_serial_names_its_sequence_quoted() {
        let c = cat("CREATE SCHEMA app;\nCREATE TABLE app.\"Member\" (id serial PRIMARY KEY);");
        let id = &c.table("app", "Member").unwrap().columns[0];
        assert_eq!(id.default.as_deref(), Some("nextval('app.\"Member_id_seq\"')"));
    }

    #[test]
    fn same_schema_means_no_steps() {
        let c = cat("CREATE TABLE a (id int PRIMARY KEY, b text UNIQUE);\nCREATE INDEX a_b ON a (lower(b));");
        assert!(migration(&c, &c, &Renames::default()).unwrap().is_empty());
    }

    #[test]
    fn widening() {
        let t = |s: &str| SqlType::parse(s).unwrap();
        assert!(widens(&t("varchar(10)"), &t("varchar(20)")));
        assert!(widens(&t("varchar(10)"), &t("text")));
        assert!(!widens(&t("varchar(20)"), &t("varchar(10)")));
        assert!(widens(&t("integer"), &t("bigint")));
        assert!(!widens(&t("bigint"), &t("integer")));
        assert!(widens(&t("numeric(10,2)"), &t("numeric(12,2)")));
        assert!(!widens(&t("numeric(10,2)"), &t("numeric(10,1)")));
        assert!(!widens(&t("text"), &t("integer")));
    }
}
