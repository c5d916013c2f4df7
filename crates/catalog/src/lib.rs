//! The Catalog: what a PostgreSQL database contains, as plain data.
//!
//! Produced by offline DDL replay (`nest-ddl`) and by live introspection (`nest-introspect`);
//! both must produce equal values for the same schema. Everything is sorted and normalized
//! (types through [`SqlType`], expressions through [`expr::canonical`]) so that equality and
//! snapshots are meaningful.

pub mod diagnostic;
pub mod expr;
pub mod keywords;
pub mod meta;
pub mod naming;
pub mod quote;
pub mod sqltype;

pub use diagnostic::{Diagnostic, Location, Severity, codes};
pub use meta::{MetaRow, Metadata};
pub use sqltype::SqlType;

use serde::{Deserialize, Serialize};
use std::fmt;

/// `schema.name` of a relation, type or function.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName { schema: schema.into(), name: name.into() }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Table,
    Partition,
    View,
    MaterializedView,
}

impl TableKind {
    pub fn is_view(self) -> bool {
        matches!(self, TableKind::View | TableKind::MaterializedView)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    Always,
    ByDefault,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: SqlType,
    pub nullable: bool,
    /// Canonical SQL text of the default expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Expression of a `GENERATED ALWAYS AS (...) STORED` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A primary key or unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyConstraint {
    pub name: String,
    pub columns: Vec<String>,
    /// `UNIQUE NULLS NOT DISTINCT` (PostgreSQL 15+).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub references: QualifiedName,
    pub referenced_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferrable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexElement {
    /// A column name, or the canonical text of an expression.
    pub expr: String,
    /// True when `expr` names a column of the table.
    pub is_column: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub descending: bool,
    /// Set only when it differs from the default for the direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls_first: Option<bool>,
    /// Set only for an operator class other than the type's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<IndexElement>,
    pub method: String,
    pub unique: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

impl Index {
    /// What follows `CREATE [UNIQUE] INDEX name ON table`: `USING method (elements)`, then
    /// `INCLUDE (...)` and `WHERE predicate` when it has them.
    pub fn definition_sql(&self) -> String {
        use crate::quote::ident;
        let elems: Vec<String> = self
            .columns
            .iter()
            .map(|e| {
                let mut x = if e.is_column { ident(&e.expr) } else { format!("({})", e.expr) };
                if let Some(o) = &e.opclass {
                    x.push(' ');
                    x.push_str(o);
                }
                if e.descending {
                    x.push_str(" DESC");
                }
                match e.nulls_first {
                    Some(true) => x.push_str(" NULLS FIRST"),
                    Some(false) => x.push_str(" NULLS LAST"),
                    None => {}
                }
                x
            })
            .collect();
        let mut s = format!("USING {} ({})", self.method, elems.join(", "));
        if !self.include.is_empty() {
            let cols: Vec<String> = self.include.iter().map(|c| ident(c)).collect();
            s.push_str(&format!(" INCLUDE ({})", cols.join(", ")));
        }
        if let Some(p) = &self.predicate {
            s.push_str(&format!(" WHERE {p}"));
        }
        s
    }

    /// Column names when every element is a plain column.
    pub fn column_names(&self) -> Option<Vec<&str>> {
        self.columns.iter().map(|e| e.is_column.then_some(e.expr.as_str())).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    /// `all`, `select`, `insert`, `update` or `delete`.
    pub command: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    /// `before`, `after` or `instead of`.
    pub timing: String,
    /// `insert`, `update`, `delete`, `truncate`, in that order.
    pub events: Vec<String>,
    pub for_each_row: bool,
    pub function: QualifiedName,
    #[serde(skip)]
    pub source: SourceText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOf {
    pub parent: QualifiedName,
    /// `FOR VALUES ...` or `DEFAULT`, canonical text.
    pub bound: String,
}

/// A TimescaleDB hypertable, recorded from `create_hypertable(...)`, with the policies the input
/// adds to it (`add_retention_policy`, `ALTER TABLE ... SET (timescaledb.compress ...)`,
/// `add_compression_policy`). Intervals are kept as the text of the interval (`90 days`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hypertable {
    pub time_column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_time_interval: Option<String>,
    /// Rows older than this are dropped (`add_retention_policy(..., drop_after)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
}

/// TimescaleDB native compression of a hypertable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Compression {
    /// `timescaledb.compress_segmentby`, as written (`metric_name, organization_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<String>,
    /// `timescaledb.compress_orderby`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// Chunks older than this are compressed (`add_compression_policy(..., compress_after)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The refresh policy of a continuous aggregate (`add_continuous_aggregate_policy`): the window
/// `[now - start_offset, now - end_offset)` is refreshed every `schedule_interval`. A missing
/// start offset is unbounded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RefreshPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_offset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_offset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_interval: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub kind: TableKind,
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<KeyConstraint>,
    #[serde(default)]
    pub unique: Vec<KeyConstraint>,
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    #[serde(default)]
    pub indexes: Vec<Index>,
    #[serde(default)]
    pub checks: Vec<Check>,
    pub rls_enabled: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rls_forced: bool,
    #[serde(default)]
    pub policies: Vec<Policy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `RANGE (created_at)` for a partitioned parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<PartitionOf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypertable: Option<Hypertable>,
    /// A continuous aggregate's refresh policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,
    /// The query of a view, as written (not normalized).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Where the table was defined, for later diagnostics. Not part of equality or JSON.
    #[serde(skip)]
    pub origin: Option<Location>,
}

impl Table {
    pub fn new(schema: &str, name: &str, kind: TableKind) -> Table {
        Table {
            schema: schema.to_string(),
            name: name.to_string(),
            kind,
            columns: Vec::new(),
            primary_key: None,
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
            rls_enabled: false,
            rls_forced: false,
            policies: Vec::new(),
            triggers: Vec::new(),
            comment: None,
            partition_by: None,
            partition_of: None,
            hypertable: None,
            refresh_policy: None,
            definition: None,
            origin: None,
        }
    }

    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    /// Names of every constraint and index on the table (for choosing new names).
    pub fn constraint_names(&self) -> impl Iterator<Item = &str> {
        self.primary_key
            .iter()
            .map(|k| k.name.as_str())
            .chain(self.unique.iter().map(|k| k.name.as_str()))
            .chain(self.foreign_keys.iter().map(|k| k.name.as_str()))
            .chain(self.checks.iter().map(|k| k.name.as_str()))
    }

    /// Sort the parts that have no meaningful order, for stable output.
    pub fn sort(&mut self) {
        self.unique.sort_by(|a, b| a.name.cmp(&b.name));
        self.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        self.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        self.checks.sort_by(|a, b| a.name.cmp(&b.name));
        self.policies.sort_by(|a, b| a.name.cmp(&b.name));
        self.triggers.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    pub schema: String,
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub schema: String,
    pub name: String,
    #[serde(rename = "type")]
    pub ty: SqlType,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeType {
    pub schema: String,
    pub name: String,
    pub attributes: Vec<(String, SqlType)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    #[serde(rename = "type")]
    pub ty: SqlType,
    /// `table.column` that owns the sequence (serial columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub schema: String,
    pub name: String,
    /// Input argument types, normalized.
    pub arguments: Vec<String>,
    /// Result type, normalized; `setof x` for set-returning functions.
    pub returns: String,
    /// `sql`, `plpgsql`, ... or `aggregate` for CREATE AGGREGATE.
    pub language: String,
    #[serde(skip)]
    pub source: SourceText,
}

/// A statement as the input wrote it (function and trigger definitions), carried so the schema
/// can be written out again. Not a fact about the database: it compares equal whatever it
/// holds, so catalogs from different readers still compare equal, and it is not in `--json`.
#[derive(Debug, Clone, Default)]
pub struct SourceText(pub Option<String>);

impl PartialEq for SourceText {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for SourceText {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    /// `WITH SCHEMA s`, when not `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub schemas: Vec<String>,
    pub extensions: Vec<Extension>,
    pub enums: Vec<EnumType>,
    pub domains: Vec<Domain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub composite_types: Vec<CompositeType>,
    pub sequences: Vec<Sequence>,
    pub tables: Vec<Table>,
    pub functions: Vec<Function>,
    pub metadata: Metadata,
    pub diagnostics: Vec<Diagnostic>,
}

/// What a column type refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeRef<'a> {
    Builtin,
    Enum(&'a EnumType),
    Domain(&'a Domain),
    Composite(&'a CompositeType),
    /// A type an installed extension provides (citext, hstore, geometry ...).
    Extension(&'static str),
    Unknown,
}

/// Types provided by well-known extensions, by extension name.
pub const EXTENSION_TYPES: &[(&str, &[&str])] = &[
    ("citext", &["citext"]),
    ("hstore", &["hstore"]),
    ("ltree", &["ltree", "lquery", "ltxtquery"]),
    ("cube", &["cube"]),
    ("seg", &["seg"]),
    ("isn", &["ean13", "isbn", "isbn13", "ismn", "ismn13", "issn", "issn13", "upc"]),
    ("postgis", &["geometry", "geography", "box2d", "box3d", "spheroid"]),
    ("vector", &["vector", "halfvec", "sparsevec"]),
    ("timescaledb", &[]),
    ("pg_trgm", &["gtrgm"]),
    ("uuid-ossp", &[]),
    ("pgcrypto", &[]),
];

impl Catalog {
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.schema == schema && t.name == name)
    }

    /// Find a table by `name` or `schema.name`.
    pub fn find_table(&self, spec: &str) -> Option<&Table> {
        match spec.split_once('.') {
            Some((s, n)) => self.table(s, n),
            None => self
                .tables
                .iter()
                .find(|t| t.name == spec && t.schema == "public")
                .or_else(|| self.tables.iter().find(|t| t.name == spec)),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// Resolve a column type to what it refers to.
    pub fn resolve_type(&self, t: &SqlType) -> TypeRef<'_> {
        if t.is_builtin() {
            return TypeRef::Builtin;
        }
        let schema = t.schema.as_deref().unwrap_or("public");
        if let Some(e) = self.enums.iter().find(|e| e.schema == schema && e.name == t.name) {
            return TypeRef::Enum(e);
        }
        if let Some(d) = self.domains.iter().find(|d| d.schema == schema && d.name == t.name) {
            return TypeRef::Domain(d);
        }
        if let Some(c) = self.composite_types.iter().find(|c| c.schema == schema && c.name == t.name) {
            return TypeRef::Composite(c);
        }
        for (ext, types) in EXTENSION_TYPES {
            if types.contains(&t.name.as_str()) && self.extensions.iter().any(|e| e.name == *ext) {
                return TypeRef::Extension(ext);
            }
        }
        // A table's row type is a valid column type too.
        if self.table(schema, &t.name).is_some() {
            return TypeRef::Builtin;
        }
        TypeRef::Unknown
    }

    /// Put every list in its canonical order.
    pub fn sort(&mut self) {
        self.schemas.sort();
        self.schemas.dedup();
        self.extensions.sort_by(|a, b| a.name.cmp(&b.name));
        self.enums.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.domains.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.composite_types.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.sequences.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        for t in &mut self.tables {
            t.sort();
        }
        self.functions.sort_by(|a, b| (&a.schema, &a.name, &a.arguments).cmp(&(&b.schema, &b.name, &b.arguments)));
        self.metadata.sort();
    }

    /// Stable JSON document (`inspect --json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("catalog serializes")
    }
}
