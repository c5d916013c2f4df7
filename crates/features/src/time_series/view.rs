//! What the time-series templates see: identifiers quoted for SQL (`sql`) or placed in
//! TypeScript string literals (`ts`), SQL the maintenance functions run (built from the
//! schema's names only), and the facts the runtime checks rows and queries against.

use super::detect::{Agg, interval_text};
use super::{Limits, Rollup, Series, SeriesStorage, TimeSeriesState};
use nest_catalog::QualifiedName;
use nest_catalog::quote as sql;
use nest_model::{Model, Resource};
use nest_nestjs::quote as ts;
use serde::Serialize;

/// The origin of every bucket and partition (TimescaleDB's `time_bucket` origin).
pub const ORIGIN: &str = "2000-01-03 00:00:00+00";

fn qualified(q: &QualifiedName) -> String {
    sql::qualified_always(&q.schema, &q.name)
}

/// `public.metrics`: a series' or rollup's name in the registry tables, quoted where PostgreSQL
/// needs it (as `regclass` prints it), so `name::regclass` is always this table.
fn registry_name(q: &QualifiedName) -> String {
    sql::table(q)
}

#[derive(Serialize)]
pub struct ColumnView {
    pub column: String,
    pub property: String,
    /// TS literals: the quoted identifier and the JSON property.
    pub column_ts: String,
    pub property_ts: String,
    /// `column` and `property` as (name, TS literal) pairs, for `ts_object`.
    pub pairs: Vec<(&'static str, String)>,
}

impl ColumnView {
    fn new(r: &Resource, column: &str) -> ColumnView {
        let property = r.field(column).map(|f| f.property.clone()).unwrap_or_else(|| nest_model::names::camel(column));
        let (column_ts, property_ts) = (ts::string(&sql::ident_always(column)), ts::string(&property));
        ColumnView {
            column: sql::ident_always(column),
            pairs: vec![("column", column_ts.clone()), ("property", property_ts.clone())],
            column_ts,
            property_ts,
            property,
        }
    }
}

/// A column an ingested row may carry.
#[derive(Serialize)]
pub struct IngestColumnView {
    pub column_ts: String,
    pub property_ts: String,
    pub kind_ts: String,
    /// The column's type (TS literal), for the cast from the staged text.
    pub sql_type_ts: String,
    pub nullable: bool,
    /// NOT NULL without a default: every row needs it.
    pub required: bool,
    /// NOT NULL with a default (TS literal of the schema's default expression): a row without it
    /// gets the default.
    pub default_ts: Option<String>,
    pub max_length: Option<u32>,
    pub int_bits: u8,
    /// The allowed values (TS literals).
    pub values: Vec<String>,
    pub array: bool,
    /// Server-set from the signed-in user (`create`, `update`, `self`), as the CRUD runtime.
    pub server_ts: Option<String>,
}

#[derive(Serialize)]
pub struct AggregateView {
    /// The source value column (TS literal, quoted identifier).
    pub source_ts: String,
    pub avg: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub sum: Option<String>,
    pub count: Option<String>,
}

impl AggregateView {
    /// `{ source, avg, ... }` as (name, TS literal) pairs, for `ts_object`.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let named =
            [("avg", &self.avg), ("min", &self.min), ("max", &self.max), ("sum", &self.sum), ("count", &self.count)];
        std::iter::once(("source", self.source_ts.clone()))
            .chain(named.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))))
            .collect()
    }
}

#[derive(Serialize)]
pub struct RollupView {
    pub name_sql: String,
    pub name_ts: String,
    pub table: String,
    pub table_ts: String,
    pub bucket: String,
    pub bucket_ts: String,
    pub bucket_seconds: u64,
    pub bucket_interval_sql: String,
    pub end_offset_sql: String,
    /// The refresh: the rollup's columns, and what fills them (SQL string literals).
    pub columns_sql: String,
    pub select_sql: String,
    pub group_sql: String,
    /// (`[source column]`, rollup column), TS literals of quoted identifiers (a computed name).
    pub groups: Vec<(String, String)>,
    pub values: Vec<AggregateView>,
    /// The values' `AggregateView::pairs`.
    pub value_pairs: Vec<Vec<(&'static str, String)>>,
    /// count(*) of the rollup (TS literal), when it has one.
    pub count_any: Option<String>,
    pub maintained: bool,
    pub queried: bool,
    pub tenant_check: Option<String>,
}

#[derive(Serialize)]
pub struct SeriesView {
    pub key_ts: String,
    pub name_sql: String,
    pub name_ts: String,
    pub qualified: String,
    /// For SQL: the quoted table, its schema and name as string literals.
    pub table: String,
    pub table_ts: String,
    pub schema_sql: String,
    pub base_sql: String,
    pub time: ColumnView,
    pub time_sql: String,
    pub naive_time: bool,
    pub values: Vec<ColumnView>,
    pub name: Option<ColumnView>,
    pub tags: Option<ColumnView>,
    pub dimensions: Vec<ColumnView>,
    /// The values' and the dimensions' (the metric name first) `ColumnView::pairs`.
    pub value_pairs: Vec<Vec<(&'static str, String)>>,
    pub dimension_pairs: Vec<Vec<(&'static str, String)>>,
    pub ingest: Vec<IngestColumnView>,
    /// `partitioned` (made by the app), or `plain`; the database decides `timescaledb`.
    pub storage: &'static str,
    pub plain_why: Option<String>,
    pub partition_sql: String,
    pub partition_text: String,
    pub partition_seconds: u64,
    pub premake: u32,
    pub retention_sql: String,
    pub retention_text: Option<String>,
    pub rollups: Vec<RollupView>,
    pub route: String,
    pub permission: String,
}

#[derive(Serialize)]
pub struct View {
    pub series: Vec<SeriesView>,
    pub limits: Limits,
    pub rollups: bool,
    pub origin_sql: String,
    pub origin_ts: String,
    pub maintenance_text: String,
}

fn rollup_view(r: &Rollup, source: &Resource) -> RollupView {
    let shape = &r.shape;
    let q = |c: &str| sql::ident_always(c);
    let bucket_interval = format!("{} seconds", shape.bucket_seconds);
    let mut select = vec![format!(
        "date_bin({}::interval, {}, {}) AS {}",
        sql::string(&bucket_interval),
        q(&shape.time),
        sql::string(ORIGIN),
        q(&shape.bucket_column)
    )];
    let mut columns = vec![q(&shape.bucket_column)];
    for (view_col, src) in &shape.groups {
        select.push(format!("{} AS {}", q(src), q(view_col)));
        columns.push(q(view_col));
    }
    for (view_col, agg, src) in &shape.aggregates {
        let arg = src.as_deref().map(q).unwrap_or_else(|| "*".into());
        select.push(format!("{}({arg}) AS {}", agg.name(), q(view_col)));
        columns.push(q(view_col));
    }
    let group = (1..=shape.groups.len() + 1).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let mut sources: Vec<&str> = shape.aggregates.iter().filter_map(|a| a.2.as_deref()).collect();
    sources.sort();
    sources.dedup();
    let col = |agg: Agg, s: &str| shape.column_of(agg, s).map(|c| ts::string(&q(c)));
    let values: Vec<AggregateView> = sources
        .iter()
        .filter(|s| source.field(s).is_some())
        .map(|s| AggregateView {
            source_ts: ts::string(&q(s)),
            avg: col(Agg::Avg, s),
            min: col(Agg::Min, s),
            max: col(Agg::Max, s),
            sum: col(Agg::Sum, s),
            // count(v) is count(*) when v is NOT NULL.
            count: shape
                .aggregates
                .iter()
                .find(|(_, a, x)| *a == Agg::Count && x.as_deref() == Some(*s))
                .or_else(|| {
                    source
                        .field(s)
                        .is_some_and(|f| !f.nullable)
                        .then(|| shape.aggregates.iter().find(|(_, a, x)| *a == Agg::Count && x.is_none()))
                        .flatten()
                })
                .map(|(c, _, _)| ts::string(&q(c))),
        })
        .collect();
    RollupView {
        name_sql: sql::string(&registry_name(&shape.view)),
        name_ts: ts::string(&registry_name(&shape.view)),
        table: qualified(&shape.view),
        table_ts: ts::string(&qualified(&shape.view)),
        bucket: q(&shape.bucket_column),
        bucket_ts: ts::string(&q(&shape.bucket_column)),
        bucket_seconds: shape.bucket_seconds,
        bucket_interval_sql: sql::string(&bucket_interval),
        end_offset_sql: sql::string(&format!("{} seconds", r.end_offset)),
        columns_sql: sql::string(&columns.join(", ")),
        select_sql: sql::string(&select.join(", ")),
        group_sql: sql::string(&group),
        groups: shape.groups.iter().map(|(v, s)| (format!("[{}]", ts::string(&q(s))), ts::string(&q(v)))).collect(),
        value_pairs: values.iter().map(AggregateView::pairs).collect(),
        values,
        count_any: shape
            .aggregates
            .iter()
            .find(|(_, a, x)| *a == Agg::Count && x.is_none())
            .map(|(c, _, _)| ts::string(&q(c))),
        maintained: r.maintained,
        queried: r.queried,
        tenant_check: r.tenant_check.clone(),
    }
}

fn series_view(s: &Series, r: &Resource) -> SeriesView {
    let c = &s.columns;
    let catalog_default = |column: &str| s.defaults.get(column).cloned();
    let ingest = r
        .fields
        .iter()
        .filter(|f| f.writable() && !f.privileged)
        .map(|f| IngestColumnView {
            column_ts: ts::string(&sql::ident_always(&f.column)),
            property_ts: ts::string(&f.property),
            kind_ts: ts::string(f.kind.runtime_name()),
            sql_type_ts: ts::string(&f.cast_type),
            nullable: f.nullable,
            required: !f.nullable && !f.has_default && f.server.is_none(),
            default_ts: (!f.nullable && f.has_default)
                .then(|| catalog_default(&f.column))
                .flatten()
                .map(|d| ts::string(&d)),
            max_length: f.max_length,
            int_bits: f.int_bits,
            values: f.values.iter().map(|v| ts::string(v)).collect(),
            array: f.array,
            server_ts: f.server.map(|x| ts::string(x.runtime_name())),
        })
        .collect();
    let time_field = r.field(&c.time);
    let values: Vec<ColumnView> = c.values.iter().map(|v| ColumnView::new(r, v)).collect();
    let name = c.name.as_deref().map(|n| ColumnView::new(r, n));
    let dimensions: Vec<ColumnView> = c
        .dimensions
        .iter()
        .filter(|d| r.field(d).is_some_and(|f| f.readable()))
        .map(|d| ColumnView::new(r, d))
        .collect();
    SeriesView {
        key_ts: ts::key(&r.names.file),
        name_sql: sql::string(&registry_name(&s.table)),
        name_ts: ts::string(&registry_name(&s.table)),
        qualified: r.qualified(),
        table: qualified(&s.table),
        table_ts: ts::string(&qualified(&s.table)),
        schema_sql: sql::string(&s.table.schema),
        base_sql: sql::string(&s.table.name),
        time: ColumnView::new(r, &c.time),
        time_sql: sql::string(&c.time),
        naive_time: time_field.is_some_and(|f| !f.with_zone),
        value_pairs: values.iter().map(|v| v.pairs.clone()).collect(),
        dimension_pairs: name.iter().chain(&dimensions).map(|v| v.pairs.clone()).collect(),
        values,
        name,
        tags: c.tags.as_deref().map(|n| ColumnView::new(r, n)),
        dimensions,
        ingest,
        storage: match s.storage {
            SeriesStorage::Partitioned | SeriesStorage::InputPartitioned => "partitioned",
            SeriesStorage::Plain { .. } => "plain",
        },
        plain_why: match &s.storage {
            SeriesStorage::Plain { why } => Some(why.clone()),
            _ => None,
        },
        partition_sql: sql::string(&interval_text(s.partition_seconds)),
        partition_text: interval_text(s.partition_seconds),
        partition_seconds: s.partition_seconds,
        premake: s.premake,
        retention_sql: s
            .retention_seconds
            .map(|r| format!("{}::interval", sql::string(&interval_text(r))))
            .unwrap_or_else(|| "NULL".into()),
        retention_text: s.retention_seconds.map(interval_text),
        rollups: s.rollups.iter().map(|x| rollup_view(x, r)).collect(),
        route: r.names.route.clone(),
        permission: r.names.permission.clone(),
    }
}

impl View {
    pub fn new(m: &Model, s: &TimeSeriesState) -> View {
        let series: Vec<SeriesView> =
            s.series.iter().filter_map(|x| m.resource_of(&x.table).map(|r| series_view(x, r))).collect();
        View {
            rollups: series.iter().any(|x| x.rollups.iter().any(|r| r.maintained)),
            series,
            limits: s.limits.clone(),
            origin_sql: sql::string(ORIGIN),
            origin_ts: ts::string(ORIGIN),
            maintenance_text: interval_text(s.limits.maintenance_seconds),
        }
    }
}

/// The series controller's context.
#[derive(Serialize)]
pub struct ControllerView {
    pub key_ts: String,
    pub create: bool,
    pub route: String,
    pub values: Vec<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Dimensions filtered by a parameter of their name (TS literals): not the name column
    /// (`metric`) nor one named like a control parameter.
    pub filters: Vec<String>,
    pub tags: bool,
}

/// The series route's own parameters (runtime series.ts CONTROL).
const CONTROL: &[&str] = &["from", "to", "bucket", "agg", "field", "metric", "group", "tags", "fill", "via"];

impl ControllerView {
    pub fn new(x: &Series, r: &Resource) -> ControllerView {
        let prop = |c: &str| r.field(c).map(|f| f.property.clone()).unwrap_or_else(|| nest_model::names::camel(c));
        let c = &x.columns;
        ControllerView {
            key_ts: ts::string(&r.names.file),
            create: r.operations.bulk_create,
            route: r.names.route.clone(),
            values: c.values.iter().map(|v| prop(v)).collect(),
            name: c.name.as_deref().map(prop),
            groups: c
                .name
                .iter()
                .chain(c.dimensions.iter().filter(|d| r.field(d).is_some_and(|f| f.readable())))
                .map(|d| prop(d))
                .collect(),
            filters: c
                .dimensions
                .iter()
                .filter(|d| r.field(d).is_some_and(|f| f.readable()) && Some(*d) != c.name.as_ref())
                .map(|d| prop(d))
                .filter(|p| !CONTROL.contains(&p.as_str()))
                .map(|p| ts::string(&p))
                .collect(),
            tags: c.tags.is_some(),
        }
    }
}
