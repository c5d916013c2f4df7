//! Time series (seed scenario 5): streaming ingest (a JSON array, NDJSON or CSV body, validated
//! row by row, written through `COPY`), bucketed queries (`time_bucket` with TimescaleDB,
//! `date_bin` without; avg/min/max/sum/count and percentiles; grouping, tag containment, gap
//! filling), rollups used automatically when they cover a query, and storage that works on
//! stock PostgreSQL: the table partitioned by range on its time column, partitions made ahead
//! and dropped past the retention by the app's maintenance job, rollups kept as tables refreshed
//! bucket by bucket. Where TimescaleDB is installed the same SQL makes a hypertable, a
//! continuous aggregate and TimescaleDB's own policies instead.
//!
//! Recognised by shape (a timestamptz time column on a table without a key, or one declared to
//! TimescaleDB, with a numeric value), by `--features.time-series` or `enable_time_series`;
//! column roles can be named in the config (`[tables.<t>] time_series = { time = "..." }`).
//!
//! State: [`TimeSeriesState`].

mod detect;
mod view;

pub use detect::{RollupShape, SeriesColumns};

use crate::tenancy::TenancyModel;
use nest_catalog::QualifiedName;
use nest_model::settings::{ConfigKey, KeyScope};
use nest_model::{
    DataClass, FeatureDef, FeatureError, Grant, MetaSwitch, Model, ModelCx, ModelError, Permission, Resolve, Resource,
    ResourceKind, Setting, Source, Storage,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, ExtraController, FeatureFile, Import, Ownership, Package,
    RenderError, Rendered, ResourceContributions, Route,
};
use serde::Serialize;
use std::collections::BTreeMap;

pub struct TimeSeries;

pub static DEF: FeatureDef = FeatureDef {
    id: "time-series",
    about: "time series: streaming ingest, bucketed queries, rollups, partitions and retention",
    meta: MetaSwitch::EnterpriseFeatures("enable_time_series"),
    implemented: true,
};

/// Partitions one day wide unless the schema or the config says otherwise.
const PARTITION: u64 = 86_400;
/// Partitions made ahead of now.
const PREMAKE: u32 = 7;

fn fixed_interval(v: &toml::Value) -> Result<(), String> {
    v.as_str()
        .and_then(detect::interval_seconds)
        .map(|_| ())
        .ok_or_else(|| "write a fixed interval, e.g. \"1 day\", \"6 hours\" (months and years vary in length)".into())
}

fn retention(v: &toml::Value) -> Result<(), String> {
    if v.as_str() == Some("none") {
        return Ok(());
    }
    fixed_interval(v).map_err(|e| format!("{e}, or \"none\""))
}

fn count(max: i64) -> impl Fn(&toml::Value) -> Result<(), String> {
    move |v| {
        v.as_integer()
            .filter(|n| (1..=max).contains(n))
            .map(|_| ())
            .ok_or_else(|| format!("write a number from 1 to {max}"))
    }
}

fn premake(v: &toml::Value) -> Result<(), String> {
    count(366)(v)
}

fn max_buckets(v: &toml::Value) -> Result<(), String> {
    count(1_000_000)(v)
}

fn ingest_max_rows(v: &toml::Value) -> Result<(), String> {
    count(1_000_000_000)(v)
}

fn ingest_max_bytes(v: &toml::Value) -> Result<(), String> {
    count(1 << 40)(v)
}

fn roles(v: &toml::Value) -> Result<(), String> {
    let t = v.as_table().ok_or("write an inline table, e.g. { time = \"recorded_at\", values = [\"reading\"] }")?;
    for (k, x) in t {
        if !detect::ROLES.contains(&k.as_str()) {
            return Err(format!("unknown role `{k}` (roles: {})", detect::ROLES.join(", ")));
        }
        match k.as_str() {
            "values" if x.as_str().is_none() && x.as_array().is_none_or(|a| a.iter().any(|c| c.as_str().is_none())) => {
                return Err("values: a column name or a list of them".into());
            }
            "partition" => fixed_interval(x).map_err(|e| format!("partition: {e}"))?,
            "retention" => retention(x).map_err(|e| format!("retention: {e}"))?,
            "values" => {}
            _ if x.as_str().is_none() => return Err(format!("{k}: write a column name in quotes")),
            _ => {}
        }
    }
    Ok(())
}

static KEYS: &[ConfigKey] = &[
    // `[time_series] partition = "1 day"`: width of a partition without TimescaleDB.
    ConfigKey { scope: KeyScope::Section("time_series"), name: "partition", check: fixed_interval },
    // `[time_series] premake = 7`: partitions made ahead of now.
    ConfigKey { scope: KeyScope::Section("time_series"), name: "premake", check: premake },
    // `[time_series] retention = "90 days"`: rows older than this are dropped ("none": kept).
    ConfigKey { scope: KeyScope::Section("time_series"), name: "retention", check: retention },
    // `[time_series] max_buckets = 10000`: most buckets one series query may return per group.
    ConfigKey { scope: KeyScope::Section("time_series"), name: "max_buckets", check: max_buckets },
    // `[time_series] max_range = "366 days"`: the longest time range one series query may cover.
    ConfigKey { scope: KeyScope::Section("time_series"), name: "max_range", check: fixed_interval },
    // `[time_series] ingest_max_rows = 5000000`, `ingest_max_bytes = 1073741824`: one ingest request.
    ConfigKey { scope: KeyScope::Section("time_series"), name: "ingest_max_rows", check: ingest_max_rows },
    ConfigKey { scope: KeyScope::Section("time_series"), name: "ingest_max_bytes", check: ingest_max_bytes },
    // `[time_series] maintenance_every = "5 minutes"`: how often the app makes partitions, drops
    // expired ones and refreshes rollups.
    ConfigKey { scope: KeyScope::Section("time_series"), name: "maintenance_every", check: fixed_interval },
    // `[tables.<t>] time_series = { time = "...", values = [...], name = "...", tags = "...", partition = "...", retention = "..." }`.
    ConfigKey { scope: KeyScope::Table, name: "time_series", check: roles },
];

#[derive(Debug, thiserror::Error)]
#[error("{table}: time series asked ({asked_by}) but the table is no time series: {}", missing.join("; "))]
struct NotASeries {
    table: String,
    asked_by: String,
    missing: Vec<String>,
}

impl FeatureError for NotASeries {
    fn help(&self) -> String {
        "name the columns in nest-generator.toml: [tables.<table>] time_series = { time = \"...\", values = [\"...\"] }, or turn it off with --features.time-series=false".into()
    }
}

/// Where a series' rows live without TimescaleDB (with it: a hypertable, whatever this says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SeriesStorage {
    /// db/01-schema.sql declares it partitioned by range on the time column; the maintenance
    /// job makes partitions ahead and drops expired ones.
    Partitioned,
    /// The input declares it range-partitioned on the time column already; the job adds
    /// partitions like its own.
    InputPartitioned,
    /// A plain table (retention deletes rows in batches).
    Plain { why: String },
}

/// A rollup of a series.
#[derive(Debug, Clone, Serialize)]
pub struct Rollup {
    pub shape: RollupShape,
    /// Without TimescaleDB a table the maintenance job refreshes (false: left as the input's
    /// materialized view, and not used by queries).
    pub maintained: bool,
    /// Series queries read it when it covers them (false when a caller's row scope cannot be
    /// applied to it).
    pub queried: bool,
    /// Buckets newer than this many seconds are not materialized yet.
    pub end_offset: u64,
    /// Row-level security the rollup table gets: the tenant column and its check.
    pub tenant_check: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub table: QualifiedName,
    pub columns: SeriesColumns,
    pub storage: SeriesStorage,
    pub partition_seconds: u64,
    pub premake: u32,
    pub retention_seconds: Option<u64>,
    pub rollups: Vec<Rollup>,
    /// Default expressions of NOT NULL columns with one (a row without them gets the default).
    pub defaults: BTreeMap<String, String>,
}

/// Limits of the runtime (defaults of the .env settings).
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub max_buckets: u64,
    pub max_range_seconds: u64,
    pub ingest_max_rows: u64,
    pub ingest_max_bytes: u64,
    pub maintenance_seconds: u64,
}

#[derive(Debug, Serialize)]
pub struct TimeSeriesState {
    pub series: Vec<Series>,
    pub limits: Limits,
}

impl TimeSeriesState {
    pub fn series_of(&self, r: &Resource) -> Option<&Series> {
        self.series.iter().find(|s| r.is(&s.table))
    }

    pub fn rollup_of(&self, r: &Resource) -> Option<(&Series, &Rollup)> {
        self.series.iter().find_map(|s| s.rollups.iter().find(|x| r.is(&x.shape.view)).map(|x| (s, x)))
    }
}

fn section_interval(cx: &ModelCx, key: &str) -> Option<u64> {
    cx.config.section_value("time_series", key).and_then(toml::Value::as_str).and_then(detect::interval_seconds)
}

fn section_int(cx: &ModelCx, key: &str) -> Option<u64> {
    cx.config.section_value("time_series", key).and_then(toml::Value::as_integer).map(|n| n as u64)
}

/// Retention in seconds: `Some(None)` when explicitly none.
fn retention_of(text: Option<&str>) -> Option<Option<u64>> {
    match text {
        Some("none") => Some(None),
        Some(t) => detect::interval_seconds(t).map(Some),
        None => None,
    }
}

fn resolve(cx: &mut ModelCx) -> Option<TimeSeriesState> {
    let (catalog, config) = (cx.catalog, cx.config);
    let mut series: Vec<Series> = Vec::new();
    let section_partition = section_interval(cx, "partition");
    let section_retention =
        retention_of(cx.config.section_value("time_series", "retention").and_then(toml::Value::as_str));
    let premake = section_int(cx, "premake").map(|n| n as u32).unwrap_or(PREMAKE);
    for r in cx.resources.iter_mut().filter(|r| r.kind == ResourceKind::Table) {
        let asked = r.features.get(DEF.id).cloned();
        if asked.as_ref().is_some_and(|s| !s.value) {
            continue;
        }
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let o =
            detect::Overrides::from_toml(config.table(&r.schema, &r.table).and_then(|c| c.extra.get("time_series")));
        let found = detect::series_columns(t, &o, asked.is_some());
        let keyless = t.primary_key.is_none() && t.unique.is_empty();
        let shaped = t.hypertable.is_some() || (keyless && o.time.is_none() && found.is_ok());
        let columns = match (found, &asked) {
            (Err(missing), Some(s)) => {
                let e = NotASeries { table: r.table.clone(), asked_by: s.source.to_string(), missing };
                cx.errors.push(ModelError::feature(DEF.id, Some(t), e));
                continue;
            }
            (Err(missing), None) if t.hypertable.is_some() => {
                r.note(
                    DEF.id,
                    format!(
                        "{}: a TimescaleDB hypertable, but not served as a time series: {}",
                        r.table,
                        missing.join("; ")
                    ),
                );
                continue;
            }
            (Err(_), None) => continue,
            (Ok(_), None) if !shaped => continue,
            (Ok(c), _) => c,
        };
        if asked.is_none() {
            let why = if t.hypertable.is_some() {
                format!("a TimescaleDB hypertable on {}", columns.time)
            } else {
                format!("no key, a {} timestamp and numbers ({})", columns.time, columns.values.join(", "))
            };
            r.features.insert(DEF.id.into(), Setting::new(true, Source::Inferred(why)));
        }
        let storage = match (&t.partition_by, detect::partitionable(t, &columns.time)) {
            (Some(pb), _) => {
                if detect::range_column(pb).as_deref() == Some(columns.time.as_str()) {
                    SeriesStorage::InputPartitioned
                } else {
                    SeriesStorage::Plain { why: format!("the input partitions it by {pb}") }
                }
            }
            (None, Ok(())) => SeriesStorage::Partitioned,
            (None, Err(why)) => SeriesStorage::Plain { why },
        };
        let partition_seconds = o
            .partition
            .as_deref()
            .and_then(detect::interval_seconds)
            .or_else(|| {
                t.hypertable.as_ref().and_then(|h| h.chunk_time_interval.as_deref()).and_then(detect::interval_seconds)
            })
            .or(section_partition)
            .unwrap_or(PARTITION);
        let retention_seconds = retention_of(o.retention.as_deref())
            .or(section_retention)
            .or_else(|| {
                t.hypertable.as_ref().and_then(|h| h.retention.as_deref()).and_then(detect::interval_seconds).map(Some)
            })
            .flatten();
        match &storage {
            SeriesStorage::Partitioned => {
                r.storage = Storage::TimePartitioned { column: columns.time.clone() };
                r.note(DEF.id, format!(
                    "{}: partitioned by {} on {} without TimescaleDB (a hypertable with it); partitions of {} are made ahead by the app",
                    r.table, "range", columns.time, detect::interval_text(partition_seconds)
                ));
            }
            SeriesStorage::InputPartitioned => {}
            SeriesStorage::Plain { why } => r.note(
                DEF.id,
                format!("{}: stored as a plain table: {why}; retention deletes rows in batches", r.table),
            ),
        }
        series.push(Series {
            table: r.qname(),
            columns,
            storage,
            partition_seconds,
            premake,
            retention_seconds,
            rollups: Vec::new(),
            defaults: t
                .columns
                .iter()
                .filter(|c| !c.nullable && c.identity.is_none() && c.generated.is_none())
                .filter_map(|c| c.default.clone().map(|d| (c.name.clone(), d)))
                .collect(),
        });
    }
    if series.is_empty() {
        return None;
    }
    // Rollups: materialized views over a series.
    let times: BTreeMap<QualifiedName, String> =
        series.iter().map(|s| (s.table.clone(), s.columns.time.clone())).collect();
    let tenancy = cx.state::<TenancyModel>();
    let scope_of = |q: &QualifiedName| tenancy.and_then(|t| t.column_of(q).map(|c| (c.to_string(), t.setting.clone())));
    let mut rollups: Vec<(usize, Rollup)> = Vec::new();
    let mut view_notes: Vec<(QualifiedName, String, Storage)> = Vec::new();
    for r in cx.resources.iter().filter(|r| r.kind == ResourceKind::MaterializedView) {
        let Some(v) = catalog.table(&r.schema, &r.table) else { continue };
        let reads = v
            .definition
            .as_deref()
            .is_some_and(|d| times.keys().any(|q| d.to_ascii_lowercase().contains(&q.name.to_ascii_lowercase())));
        let shape = match detect::rollup_shape(v, &times) {
            Ok(s) => s,
            Err(why) => {
                if reads {
                    view_notes.push((
                        r.qname(),
                        format!("{}: not used as a rollup of a time series: {why}", r.table),
                        Storage::AsDeclared,
                    ));
                }
                continue;
            }
        };
        let si = series.iter().position(|s| s.table == shape.source).expect("a series");
        let s = &series[si];
        let Some(source) = cx.resources.iter().find(|x| x.is(&s.table)) else { continue };
        let scoped_rows =
            source.data == DataClass::Tenant || source.data == DataClass::Owned || !source.app_settings.is_empty();
        let raw = catalog.table(&s.table.schema, &s.table.name);
        let maintained = match &s.storage {
            SeriesStorage::Plain { .. } => !(scoped_rows || raw.is_some_and(|t| t.rls_forced)),
            _ => true,
        };
        // A caller's scope applies to the rollup as to the series: only the tenant column
        // (same name in both) can be.
        let tenant = scope_of(&s.table);
        let queried = maintained
            && match (&tenant, source.app_settings.len()) {
                (_, 0) => true,
                (Some((col, setting)), 1) if source.app_settings.contains(setting) => {
                    shape.groups.iter().any(|(vc, sc)| vc == col && sc == col)
                }
                _ => false,
            };
        let tenant_check = scope_of(&r.qname()).and_then(|(col, setting)| {
            r.field(&col).map(|f| crate::tenancy::tenant_check(&setting, &f.column, &f.cast_type))
        });
        let end_offset = v
            .refresh_policy
            .as_ref()
            .and_then(|p| p.end_offset.as_deref())
            .and_then(detect::interval_seconds)
            .unwrap_or(0);
        let storage = if maintained { Storage::RollupTable } else { Storage::AsDeclared };
        let note = match (maintained, queried) {
            (true, true) => format!(
                "{}: a rollup of {} by {} ({}); kept by the app without TimescaleDB, used by series queries it covers",
                r.table,
                s.table.name,
                detect::interval_text(shape.bucket_seconds),
                shape.aggregates.iter().map(|a| a.1.name()).collect::<Vec<_>>().join(", ")
            ),
            (true, false) => format!(
                "{}: a rollup of {}, kept by the app, but series queries do not read it: it lacks the column that scopes the caller's rows",
                r.table, s.table.name
            ),
            (false, _) => format!(
                "{}: a rollup of {}, but {} is a plain table whose rows row-level security hides from the app's maintenance: left as a materialized view",
                r.table, s.table.name, s.table.name
            ),
        };
        let note = if maintained && tenant_check.is_some() {
            format!("{note}; row-level security also applies to it (each organization reads only its own buckets)")
        } else {
            note
        };
        view_notes.push((r.qname(), note, storage));
        rollups.push((si, Rollup { shape, maintained, queried, end_offset, tenant_check }));
    }
    for (q, note, storage) in view_notes {
        if let Some(r) = cx.resources.iter_mut().find(|r| r.is(&q)) {
            if storage == Storage::RollupTable {
                // Tenancy's note on views (row-level security cannot apply) no longer holds: the
                // rollup is a table, and db/08-time-series.sql gives it the tenant policy.
                r.notes.retain(|n| {
                    !(n.by == crate::tenancy::DEF.id && n.message.contains("row-level security cannot apply to views"))
                });
            }
            r.note(DEF.id, note);
            r.storage = storage;
        }
    }
    for (si, r) in rollups {
        series[si].rollups.push(r);
    }
    for s in &series {
        let perm = cx.resources.iter().find(|r| r.is(&s.table)).map(|r| r.names.permission.clone()).unwrap_or_default();
        cx.permissions.push(Permission { slug: format!("{perm}:manage"), grant: Grant::Admin });
    }
    let limits = Limits {
        max_buckets: section_int(cx, "max_buckets").unwrap_or(10_000),
        max_range_seconds: section_interval(cx, "max_range").unwrap_or(366 * 86_400),
        ingest_max_rows: section_int(cx, "ingest_max_rows").unwrap_or(5_000_000),
        ingest_max_bytes: section_int(cx, "ingest_max_bytes").unwrap_or(1 << 30),
        maintenance_seconds: section_interval(cx, "maintenance_every").unwrap_or(300),
    };
    Some(TimeSeriesState { series, limits })
}

impl Resolve for TimeSeries {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn config_keys(&self) -> &'static [ConfigKey] {
        KEYS
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if let Some(s) = resolve(cx) {
            cx.states.insert(DEF.id, s);
        }
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(s) = m.state::<TimeSeriesState>() else { return Vec::new() };
        if let Some(x) = s.series_of(r) {
            let c = &x.columns;
            let mut out = vec![format!(
                "time series: time {}, values {}{}{}{}",
                c.time,
                c.values.join(", "),
                c.name.as_ref().map(|n| format!(", name {n}")).unwrap_or_default(),
                c.tags.as_ref().map(|n| format!(", tags {n}")).unwrap_or_default(),
                if c.dimensions.is_empty() {
                    String::new()
                } else {
                    format!(", dimensions {}", c.dimensions.join(", "))
                }
            )];
            out.push(match &x.storage {
                SeriesStorage::Partitioned | SeriesStorage::InputPartitioned => format!(
                    "storage: a hypertable with TimescaleDB; without, range partitions of {} ({} made ahead)",
                    detect::interval_text(x.partition_seconds),
                    x.premake
                ),
                SeriesStorage::Plain { why } => format!("storage: a plain table ({why})"),
            });
            out.push(match x.retention_seconds {
                Some(sec) => format!("retention: {}", detect::interval_text(sec)),
                None => "retention: none (rows are kept)".into(),
            });
            for ru in &x.rollups {
                out.push(format!(
                    "rollup: {} by {}{}",
                    ru.shape.view,
                    detect::interval_text(ru.shape.bucket_seconds),
                    if ru.queried { "" } else { " (not read by series queries)" }
                ));
            }
            return out;
        }
        if let Some((x, ru)) = s.rollup_of(r) {
            return vec![format!(
                "rollup of {}: {} buckets on {}, groups {}, aggregates {}",
                x.table,
                detect::interval_text(ru.shape.bucket_seconds),
                ru.shape.bucket_column,
                ru.shape.groups.iter().map(|g| g.0.clone()).collect::<Vec<_>>().join(", "),
                ru.shape.aggregates.iter().map(|a| format!("{}={}", a.0, a.1.name())).collect::<Vec<_>>().join(", ")
            )];
        }
        Vec::new()
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "time-series";
    "time-series.sql.j2",
    "app-role.sql.j2",
    "timeseries.tables.ts.j2",
    "series.controller.ts.j2",
    "env.j2",
    "readme.md.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/timeseries/body.ts",
    "src/core/timeseries/copy.ts",
    "src/core/timeseries/ingest.ts",
    "src/core/timeseries/parsers.ts",
    "src/core/timeseries/series.ts",
    "src/core/timeseries/maintenance.ts",
    "src/core/timeseries/timeseries.dto.ts",
    "src/core/timeseries/timeseries.module.ts",
    "src/core/timeseries/timeseries.settings.ts",
    "src/core/timeseries/time.ts",
    "src/core/timeseries/types.ts",
];

const PACKAGES: &[Package] = &[
    Package { name: "pg-copy-streams", version: "7.0.0", dev: false },
    Package { name: "@types/pg-copy-streams", version: "1.2.5", dev: true },
];

impl Contribute for TimeSeries {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: PACKAGES }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<TimeSeriesState>() else { return Ok(()) };
        let v = view::View::new(m, s);
        if v.series.is_empty() {
            return Ok(());
        }
        out.runtime.extend(RUNTIME);
        out.files.push(FeatureFile {
            path: "src/core/timeseries/timeseries.tables.ts".into(),
            body: Rendered::new("time-series/timeseries.tables.ts.j2", &v)?,
            ownership: Ownership::Generated,
        });
        out.db.push(DbFile {
            name: "08-time-series.sql".into(),
            body: Rendered::new("time-series/time-series.sql.j2", &v)?,
            doc: "time series: partitions made ahead and dropped past the retention, rollups refreshed bucket by bucket (or TimescaleDB's own).".into(),
        });
        out.app_role.push(Rendered::new("time-series/app-role.sql.j2", &v)?);
        out.modules
            .push(AppModule { class: "TimeSeriesModule".into(), module: "core/timeseries/timeseries.module".into() });
        out.env.push(Rendered::new("time-series/env.j2", &v)?);
        out.readme.push(Rendered::new("time-series/readme.md.j2", &v)?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<TimeSeriesState>() else { return Ok(()) };
        let Some(series) = s.series_of(r) else { return Ok(()) };
        let n = &r.names;
        let route = |id: &str, action: &str, perm: &str| Route {
            id: id.into(),
            action: action.into(),
            permission: format!("{}:{perm}", n.permission),
        };
        let mut routes = vec![
            route("series", "read", "read"),
            route("maintenance", "manage", "manage"),
            route("storage", "manage", "manage"),
        ];
        // Ingest writes many rows at once: the bulk-create permission, as POST .../bulk.
        if r.operations.bulk_create {
            routes.push(route("ingest", "bulk-create", "bulk-create"));
        }
        let swagger = "@nestjs/swagger";
        let common = "@nestjs/common";
        let mut names: Vec<(&str, &str)> = vec![
            ("Controller", common),
            ("Get", common),
            ("HttpCode", common),
            ("Post", common),
            ("Query", common),
            ("ApiBadRequestResponse", swagger),
            ("ApiOkResponse", swagger),
            ("ApiOperation", swagger),
            ("ApiQuery", swagger),
            ("ApiTags", swagger),
            ("ErrorResponseDto", "../../core/crud/dto.js"),
            ("TimeSeriesService", "../../core/timeseries/series.js"),
            ("IngestService", "../../core/timeseries/ingest.js"),
            ("TimeSeriesMaintenance", "../../core/timeseries/maintenance.js"),
            ("MaintenanceReportDto", "../../core/timeseries/timeseries.dto.js"),
            ("SeriesResponseDto", "../../core/timeseries/timeseries.dto.js"),
            ("StorageReportDto", "../../core/timeseries/timeseries.dto.js"),
            ("SERIES", "../../core/timeseries/timeseries.tables.js"),
        ];
        if r.operations.bulk_create {
            names.extend([
                ("Req", common),
                ("ApiBody", swagger),
                ("ApiConsumes", swagger),
                ("ApiPayloadTooLargeResponse", swagger),
                ("ApiUnprocessableEntityResponse", swagger),
                ("ApiUnsupportedMediaTypeResponse", swagger),
                ("STREAM_BODY", "../../core/timeseries/body.js"),
                ("IngestReportDto", "../../core/timeseries/timeseries.dto.js"),
                ("RouteConfig", "@nestjs/platform-fastify"),
            ]);
        }
        let mut imports: Vec<Import> = names.iter().map(|(name, from)| Import::new(name, from)).collect();
        imports.push(Import::new(&format!("{}Repository", n.plural_class), &format!("./{}.repository.js", n.file)));
        imports.extend((!r.swagger.value).then(|| Import::new("ApiExcludeController", swagger)));
        out.controllers.push(ExtraController {
            class: format!("{}SeriesController", n.plural_class),
            file: format!("{}.series.controller.ts", n.file),
            body: Rendered::new("time-series/series.controller.ts.j2", view::ControllerView::new(series, r))?,
            routes,
            imports,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{model, seed};

    #[test]
    fn the_seed_series_and_its_rollup() {
        let m = seed(&["05-time-series.sql"], "");
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let s = m.state::<TimeSeriesState>().expect("a time series");
        let x = &s.series[0];
        assert_eq!(x.table.name, "metrics");
        assert_eq!((x.columns.time.as_str(), x.columns.values.as_slice()), ("time", &["value".to_string()][..]));
        assert_eq!(x.columns.name.as_deref(), Some("metric_name"));
        assert_eq!(x.columns.tags.as_deref(), Some("tags"));
        assert!(x.columns.dimensions.contains(&"organization_id".to_string()));
        assert_eq!(x.storage, SeriesStorage::Partitioned);
        assert_eq!(x.retention_seconds, Some(90 * 86_400), "the seed's add_retention_policy");
        assert_eq!(m.resource("metrics").unwrap().storage, Storage::TimePartitioned { column: "time".into() });
        let ru = &x.rollups[0];
        assert_eq!((ru.shape.view.name.as_str(), ru.shape.bucket_seconds), ("metrics_hourly", 3600));
        assert!(ru.maintained && ru.queried);
        assert_eq!(ru.end_offset, 3600, "the seed's refresh policy end_offset");
        assert_eq!(m.resource("metrics_hourly").unwrap().storage, Storage::RollupTable);
        let slugs: Vec<&str> = m.permissions.iter().map(|p| p.slug.as_str()).collect();
        assert!(slugs.contains(&"metrics:manage"), "{slugs:?}");
    }

    #[test]
    fn keys_without_time_keep_a_plain_table_and_asking_a_table_without_time_is_an_error() {
        let sql = "CREATE TABLE readings (id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL, reading numeric, sensor text);
                   CREATE TABLE notes (id serial PRIMARY KEY, body text);";
        let m = model(
            sql,
            "[tables.readings]\nfeatures = { time-series = true }\ntime_series = { time = \"recorded_at\" }\n",
        );
        let s = m.state::<TimeSeriesState>().unwrap();
        assert!(
            matches!(&s.series[0].storage, SeriesStorage::Plain { why } if why.contains("readings_pkey")),
            "{:?}",
            s.series[0].storage
        );
        assert_eq!(s.series[0].columns.values, ["reading"]);
        let m = model(sql, "[tables.notes]\nfeatures = { time-series = true }\n");
        let d = m.diagnostics();
        assert!(d.iter().any(|d| d.message.starts_with("notes: time series asked (nest-generator.toml)")), "{d:?}");
        let e = crate::parse_config("[tables.x]\ntime_series = { clock = \"t\" }\n").unwrap_err();
        assert!(e.contains("unknown role `clock`"), "{e}");
        let e = crate::parse_config("[time_series]\npartition = \"1 month\"\n").unwrap_err();
        assert!(e.contains("fixed interval"), "{e}");
    }

    #[test]
    fn with_tenancy_the_rollup_is_scoped_by_the_tenant_column() {
        let m = seed(&["."], "");
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let s = m.state::<TimeSeriesState>().unwrap();
        let ru = &s.series[0].rollups[0];
        assert!(ru.queried, "organization_id is a group of metrics_hourly");
        assert!(ru.tenant_check.as_deref().is_some_and(|c| c.contains("organization_id")), "{:?}", ru.tenant_check);
    }
}
