//! Recognising a time series and its rollups from the schema: the time column, the values, the
//! series name, tags and dimensions of a table; the bucket, groups and aggregates of a
//! materialized view that rolls one up.

use nest_catalog::{QualifiedName, Table, TableKind};
use serde::Serialize;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, SelectItem, SetExpr, Statement, TableFactor,
    Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use std::collections::BTreeMap;

/// Column roles that `[tables.<t>] time_series = { ... }` may name.
pub const ROLES: &[&str] = &["time", "values", "name", "tags", "partition", "retention"];

/// Names a time column goes by (first match wins).
const TIME_NAMES: &[&str] =
    &["time", "ts", "timestamp", "recorded_at", "observed_at", "measured_at", "sampled_at", "event_time", "bucket"];
const VALUE_NAMES: &[&str] = &["value", "val", "measurement", "reading"];
const NAME_NAMES: &[&str] = &["metric_name", "metric", "series", "series_name", "measurement_name", "name"];
const TAG_NAMES: &[&str] = &["tags", "labels", "attributes", "dimensions"];

/// Role overrides from the config, by role.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub time: Option<String>,
    pub values: Option<Vec<String>>,
    pub name: Option<String>,
    pub tags: Option<String>,
    pub partition: Option<String>,
    pub retention: Option<String>,
}

impl Overrides {
    pub fn from_toml(v: Option<&toml::Value>) -> Overrides {
        let Some(t) = v.and_then(toml::Value::as_table) else { return Overrides::default() };
        let s = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_string);
        Overrides {
            time: s("time"),
            values: t.get("values").map(|v| match v {
                toml::Value::String(one) => vec![one.clone()],
                toml::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            }),
            name: s("name"),
            tags: s("tags"),
            partition: s("partition"),
            retention: s("retention"),
        }
    }
}

fn is_time_type(ty: &str) -> bool {
    matches!(ty, "timestamp with time zone" | "timestamp without time zone")
}

fn is_number_type(ty: &str) -> bool {
    matches!(ty, "double precision" | "real" | "numeric" | "smallint" | "integer" | "bigint")
}

fn is_text_type(ty: &str) -> bool {
    matches!(ty, "text" | "character varying" | "character" | "citext")
}

/// Types a series can be grouped and filtered by.
fn is_dimension_type(ty: &str) -> bool {
    is_text_type(ty) || matches!(ty, "uuid" | "smallint" | "integer" | "bigint" | "boolean" | "date")
}

/// The roles of a time-series table's columns.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesColumns {
    pub time: String,
    /// Numeric columns a series query may aggregate (the first is the default).
    pub values: Vec<String>,
    /// The column `metric=` filters on.
    pub name: Option<String>,
    /// A JSON object column `tags=` filters on by containment.
    pub tags: Option<String>,
    /// Columns a series may be grouped by and filtered on (besides the name).
    pub dimensions: Vec<String>,
}

/// The time column: configured, declared to TimescaleDB, or by name (timestamptz only); for a
/// table asked to be a series (`asked`), also the column it is range-partitioned on, or its one
/// required timestamptz column that is no bookkeeping (created/updated/deleted).
pub fn time_column(t: &Table, o: &Overrides, asked: bool) -> Result<Option<String>, String> {
    if let Some(c) = &o.time {
        return match t.column(c) {
            Some(col) if is_time_type(&col.ty.name) && !col.ty.array => Ok(Some(c.clone())),
            Some(col) => Err(format!("time column `{c}` is {}, not a timestamp", col.ty)),
            None => Err(format!("no column `{c}` (the configured time column)")),
        };
    }
    if let Some(h) = &t.hypertable
        && t.column(&h.time_column).is_some_and(|c| is_time_type(&c.ty.name))
    {
        return Ok(Some(h.time_column.clone()));
    }
    let named = TIME_NAMES
        .iter()
        .filter_map(|n| t.column(n))
        .find(|c| c.ty.name == "timestamp with time zone" && !c.ty.array)
        .map(|c| c.name.clone());
    if named.is_some() || !asked {
        return Ok(named);
    }
    if let Some(c) = t.partition_by.as_deref().and_then(range_column).and_then(|c| t.column(&c))
        && is_time_type(&c.ty.name)
        && !c.ty.array
    {
        return Ok(Some(c.name.clone()));
    }
    let bookkeeping = |n: &str| {
        let n = n.to_ascii_lowercase();
        ["created", "updated", "deleted", "modified", "expires", "expired", "verified", "last_"]
            .iter()
            .any(|p| n.starts_with(p))
    };
    let required: Vec<_> = t
        .columns
        .iter()
        .filter(|c| c.ty.name == "timestamp with time zone" && !c.ty.array && !c.nullable && !bookkeeping(&c.name))
        .collect();
    Ok(match required.as_slice() {
        [one] => Some(one.name.clone()),
        _ => None,
    })
}

/// The roles of `t`'s columns, or what it lacks to be a time series. `foreign`: columns that
/// reference other tables (dimensions, never values).
pub fn series_columns(t: &Table, o: &Overrides, asked: bool) -> Result<SeriesColumns, Vec<String>> {
    let mut missing = Vec::new();
    let time = match time_column(t, o, asked) {
        Ok(Some(c)) => Some(c),
        Ok(None) => {
            missing.push("a timestamptz time column (time, ts, recorded_at, ...), or [tables.<t>] time_series = { time = \"...\" }".to_string());
            None
        }
        Err(e) => {
            missing.push(e);
            None
        }
    };
    let keyed: Vec<&str> = t
        .primary_key
        .iter()
        .chain(t.unique.iter())
        .flat_map(|k| k.columns.iter().map(String::as_str))
        .chain(t.foreign_keys.iter().flat_map(|f| f.columns.iter().map(String::as_str)))
        .collect();
    // Identifiers are never measures: `id`, `*_id`, and columns numbered by a sequence.
    let identifier = |c: &nest_catalog::Column| {
        let n = c.name.to_ascii_lowercase();
        n == "id"
            || n.ends_with("_id")
            || c.identity.is_some()
            || c.default.as_deref().is_some_and(|d| d.starts_with("nextval("))
    };
    let numeric = |c: &&nest_catalog::Column| {
        is_number_type(&c.ty.name) && !c.ty.array && !keyed.contains(&c.name.as_str()) && !identifier(c)
    };
    let values: Vec<String> = match &o.values {
        Some(list) => {
            for v in list {
                match t.column(v) {
                    Some(c) if is_number_type(&c.ty.name) && !c.ty.array => {}
                    Some(c) => missing.push(format!("value column `{v}` is {}, not a number", c.ty)),
                    None => missing.push(format!("no column `{v}` (a configured value column)")),
                }
            }
            list.clone()
        }
        None => {
            let mut v: Vec<String> = t.columns.iter().filter(numeric).map(|c| c.name.clone()).collect();
            // The one named like a value first.
            if let Some(i) = v.iter().position(|c| VALUE_NAMES.contains(&c.as_str())) {
                let first = v.remove(i);
                v.insert(0, first);
            }
            v
        }
    };
    if values.is_empty() && o.values.is_none() {
        missing.push("a numeric value column (double precision, numeric, integer, ...)".into());
    }
    let name = match &o.name {
        Some(n) => {
            if t.column(n).is_none_or(|c| !is_text_type(&c.ty.name)) {
                missing.push(format!("series name column `{n}` is missing or not text"));
            }
            Some(n.clone())
        }
        None => NAME_NAMES
            .iter()
            .filter_map(|n| t.column(n))
            .find(|c| is_text_type(&c.ty.name) && !c.ty.array)
            .map(|c| c.name.clone()),
    };
    let tags = match &o.tags {
        Some(n) => {
            if t.column(n).is_none_or(|c| c.ty.name != "jsonb") {
                missing.push(format!("tags column `{n}` is missing or not jsonb"));
            }
            Some(n.clone())
        }
        None => TAG_NAMES.iter().filter_map(|n| t.column(n)).find(|c| c.ty.name == "jsonb").map(|c| c.name.clone()),
    };
    let Some(time) = time.filter(|_| missing.is_empty()) else { return Err(missing) };
    let dimensions = t
        .columns
        .iter()
        .filter(|c| c.name != time && !values.contains(&c.name) && Some(&c.name) != name.as_ref())
        .filter(|c| Some(&c.name) != tags.as_ref() && is_dimension_type(&c.ty.name) && !c.ty.array)
        .filter(|c| !nest_model::is_sensitive_name(&c.name))
        // A row's own generated key (a sequence, an identity, a generated uuid) is no dimension.
        .filter(|c| !(keyed.contains(&c.name.as_str()) && generated_key(c)))
        .map(|c| c.name.clone())
        .collect();
    Ok(SeriesColumns { time, values, name, tags, dimensions })
}

fn generated_key(c: &nest_catalog::Column) -> bool {
    c.identity.is_some()
        || c.default.as_deref().is_some_and(|d| {
            let d = d.to_ascii_lowercase();
            d.starts_with("nextval(") || d.contains("gen_random_uuid") || d.contains("uuid_generate")
        })
}

/// Whether the table can be range-partitioned on `time`: every unique key includes it.
pub fn partitionable(t: &Table, time: &str) -> Result<(), String> {
    for k in t.primary_key.iter().chain(t.unique.iter()) {
        if !k.columns.iter().any(|c| c == time) {
            return Err(format!(
                "its key {} ({}) does not include {time}, so it cannot be partitioned by time",
                k.name,
                k.columns.join(", ")
            ));
        }
    }
    Ok(())
}

/// `RANGE ("time")` → `time`; None for other partitioning.
pub fn range_column(partition_by: &str) -> Option<String> {
    let rest = partition_by.trim();
    if !rest.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("range")) {
        return None;
    }
    let inner = rest[5..].trim().strip_prefix('(')?.strip_suffix(')')?.trim();
    if inner.contains(',') || inner.contains('(') {
        return None;
    }
    Some(if inner.starts_with('"') { inner.trim_matches('"').replace("\"\"", "\"") } else { inner.to_lowercase() })
}

/// Seconds in a fixed-width interval (`1 day`, `30 minutes`, `1h`, `01:00:00`); None for
/// months, years, or what cannot be read.
pub fn interval_seconds(text: &str) -> Option<u64> {
    let s = text.trim().trim_matches('\'').trim();
    let s = s.strip_prefix("INTERVAL ").or_else(|| s.strip_prefix("interval ")).unwrap_or(s).trim_matches('\'');
    if let Some((h, rest)) = s.split_once(':') {
        let mut parts = std::iter::once(h).chain(rest.split(':'));
        let hours: u64 = parts.next()?.trim().parse().ok()?;
        let minutes: u64 = parts.next()?.trim().parse().ok()?;
        let seconds: u64 = parts.next().map(|p| p.trim().parse().ok()).unwrap_or(Some(0))?;
        return Some(hours * 3600 + minutes * 60 + seconds).filter(|n| *n > 0);
    }
    // `1h`, `15m`, `30s`, `2d`, `1w` as well as `1 hour 30 minutes`.
    let mut total = 0u64;
    let mut tokens: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        let split = word.find(|c: char| !c.is_ascii_digit()).filter(|i| *i > 0);
        match split {
            Some(i) => {
                tokens.push(word[..i].to_string());
                tokens.push(word[i..].to_string());
            }
            None => tokens.push(word.to_string()),
        }
    }
    if tokens.is_empty() || !tokens.len().is_multiple_of(2) {
        return None;
    }
    for pair in tokens.chunks(2) {
        let n: u64 = pair[0].parse().ok()?;
        let unit = match pair[1].to_ascii_lowercase().trim_end_matches('s') {
            "" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hr" | "hour" => 3600,
            "d" | "day" => 86_400,
            "w" | "week" => 604_800,
            _ => return None,
        };
        total += n * unit;
    }
    Some(total).filter(|n| *n > 0)
}

/// `3600` → `1 hour`, `86400` → `1 day`, `5400` → `5400 seconds`.
pub fn interval_text(seconds: u64) -> String {
    for (unit, n) in [("week", 604_800), ("day", 86_400), ("hour", 3600), ("minute", 60)] {
        if seconds.is_multiple_of(n) {
            let k = seconds / n;
            return format!("{k} {unit}{}", if k == 1 { "" } else { "s" });
        }
    }
    format!("{seconds} second{}", if seconds == 1 { "" } else { "s" })
}

/// An aggregate a rollup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Agg {
    Avg,
    Min,
    Max,
    Sum,
    Count,
}

impl Agg {
    fn parse(name: &str) -> Option<Agg> {
        Some(match name {
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "sum" => Agg::Sum,
            "count" => Agg::Count,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Sum => "sum",
            Agg::Count => "count",
        }
    }
}

/// A materialized view that rolls a time series up: `SELECT time_bucket('1 hour', time) AS
/// hour, <group columns>, avg(value), ... FROM <series> GROUP BY ...`.
#[derive(Debug, Clone, Serialize)]
pub struct RollupShape {
    pub view: QualifiedName,
    pub source: QualifiedName,
    /// The view's bucket column and the width of its buckets.
    pub bucket_column: String,
    pub bucket_seconds: u64,
    /// Source time column.
    pub time: String,
    /// (view column, source column).
    pub groups: Vec<(String, String)>,
    /// (view column, aggregate, source column; None for count(*)).
    pub aggregates: Vec<(String, Agg, Option<String>)>,
}

impl RollupShape {
    /// The view column holding `agg` of `source` (count(*) counts any column's rows).
    pub fn column_of(&self, agg: Agg, source: &str) -> Option<&str> {
        self.aggregates
            .iter()
            .find(|(_, a, s)| *a == agg && (s.as_deref() == Some(source) || (agg == Agg::Count && s.is_none())))
            .map(|(c, _, _)| c.as_str())
    }
}

fn lit_string(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Interval(i) => {
            let v = lit_string(&i.value)?;
            Some(match &i.leading_field {
                Some(f) => format!("{v} {f}"),
                None => v,
            })
        }
        Expr::Cast { expr, .. } | Expr::Nested(expr) => lit_string(expr),
        _ => None,
    }
}

fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(if i.quote_style.is_some() { i.value.clone() } else { i.value.to_lowercase() }),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| if i.quote_style.is_some() { i.value.clone() } else { i.value.to_lowercase() })
        }
        Expr::Nested(e) => column_name(e),
        _ => None,
    }
}

fn args(f: &sqlparser::ast::Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                FunctionArg::Named { arg: FunctionArgExpr::Expr(e), .. }
                | FunctionArg::ExprNamed { arg: FunctionArgExpr::Expr(e), .. } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_count_star(f: &sqlparser::ast::Function) -> bool {
    matches!(&f.args, FunctionArguments::List(l) if l.args.len() == 1 && matches!(l.args[0], FunctionArg::Unnamed(FunctionArgExpr::Wildcard)))
}

/// The origin TimescaleDB's `time_bucket` uses, which the generated queries use too.
const ORIGIN_DATE: &str = "2000-01-03";

/// The rollup a materialized view's query describes, or why it is not one the app can keep and
/// use. `series`: time-series tables and their time column.
pub fn rollup_shape(view: &Table, series: &BTreeMap<QualifiedName, String>) -> Result<RollupShape, String> {
    if view.kind != TableKind::MaterializedView {
        return Err("not a materialized view".into());
    }
    let def = view.definition.as_deref().ok_or("its query is not known")?;
    let stmts = sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, def).map_err(|e| e.to_string())?;
    let [Statement::Query(q)] = stmts.as_slice() else { return Err("not a single query".into()) };
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() {
        return Err("a WITH, ORDER BY or LIMIT clause".into());
    }
    let SetExpr::Select(sel) = &*q.body else { return Err("not a plain SELECT".into()) };
    if sel.selection.is_some() || sel.having.is_some() || sel.distinct.is_some() {
        return Err("a WHERE, HAVING or DISTINCT clause (the rollup would not hold every row)".into());
    }
    let [from] = sel.from.as_slice() else { return Err("not one table".into()) };
    if !from.joins.is_empty() {
        return Err("a join".into());
    }
    let TableFactor::Table { name, .. } = &from.relation else { return Err("not reading a table".into()) };
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            let s = p.to_string();
            if s.starts_with('"') { s.trim_matches('"').to_string() } else { s.to_lowercase() }
        })
        .collect();
    let source = match parts.as_slice() {
        [n] => series
            .keys()
            .find(|q| q.name == *n && q.schema == view.schema)
            .or_else(|| series.keys().find(|q| q.name == *n)),
        [s, n] => series.keys().find(|q| q.schema == *s && q.name == *n),
        _ => None,
    }
    .ok_or("it does not read a time series")?
    .clone();
    let time = series[&source].clone();
    let mut bucket: Option<(String, u64)> = None;
    let mut groups = Vec::new();
    let mut aggregates = Vec::new();
    for item in &sel.projection {
        let (e, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => {
                (expr, Some(if alias.quote_style.is_some() { alias.value.clone() } else { alias.value.to_lowercase() }))
            }
            _ => return Err("a * in its select list".into()),
        };
        match e {
            Expr::Function(f) => {
                let fname = f.name.0.last().map(|p| p.to_string().to_lowercase()).unwrap_or_default();
                let a = args(f);
                match fname.as_str() {
                    "time_bucket" | "date_bin" => {
                        let width =
                            a.first().and_then(|w| lit_string(w)).ok_or("a bucket width that is not a literal")?;
                        let secs = interval_seconds(&width)
                            .ok_or(format!("bucket width '{width}' is not fixed (months and years vary)"))?;
                        if a.get(1).and_then(|c| column_name(c)).as_deref() != Some(time.as_str()) {
                            return Err(format!("its buckets are not of {time}"));
                        }
                        let origin_ok = match (fname.as_str(), a.get(2)) {
                            ("time_bucket", None) => true,
                            (_, Some(o)) => lit_string(o).is_some_and(|o| o.starts_with(ORIGIN_DATE)),
                            ("date_bin", None) => false,
                            _ => false,
                        };
                        if !origin_ok {
                            return Err(format!("its buckets do not start at {ORIGIN_DATE} (TimescaleDB's origin)"));
                        }
                        if bucket.is_some() {
                            return Err("two bucket columns".into());
                        }
                        bucket = Some((alias.unwrap_or(fname), secs));
                    }
                    other => {
                        let agg =
                            Agg::parse(other).ok_or(format!("{other}(): not an aggregate the app can combine"))?;
                        if f.filter.is_some() || f.over.is_some() {
                            return Err(format!("{other}() with FILTER or OVER"));
                        }
                        let src = if agg == Agg::Count && is_count_star(f) {
                            None
                        } else {
                            match a.as_slice() {
                                [c] => Some(column_name(c).ok_or(format!("{other}() of an expression"))?),
                                _ => return Err(format!("{other}() with {} arguments", a.len())),
                            }
                        };
                        aggregates.push((alias.unwrap_or_else(|| other.to_string()), agg, src));
                    }
                }
            }
            _ => {
                let c = column_name(e).ok_or("an expression that is neither a column nor an aggregate")?;
                groups.push((alias.unwrap_or_else(|| c.clone()), c));
            }
        }
    }
    let (bucket_column, bucket_seconds) = bucket.ok_or("no time_bucket() or date_bin() column")?;
    let grouped = match &sel.group_by {
        GroupByExpr::Expressions(list, _) => list.len(),
        GroupByExpr::All(_) => groups.len() + 1,
    };
    if grouped != groups.len() + 1 {
        return Err("its GROUP BY is not the bucket and the plain columns".into());
    }
    if aggregates.is_empty() {
        return Err("no aggregate".into());
    }
    Ok(RollupShape { view: view.qualified_name(), source, bucket_column, bucket_seconds, time, groups, aggregates })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(interval_seconds("1 hour"), Some(3600));
        assert_eq!(interval_seconds("INTERVAL '30 minutes'"), Some(1800));
        assert_eq!(interval_seconds("1h"), Some(3600));
        assert_eq!(interval_seconds("2 days"), Some(172_800));
        assert_eq!(interval_seconds("1 day 12 hours"), Some(129_600));
        assert_eq!(interval_seconds("01:30:00"), Some(5400));
        assert_eq!(interval_seconds("1 month"), None);
        assert_eq!(interval_seconds("soon"), None);
        assert_eq!(interval_text(86_400), "1 day");
        assert_eq!(interval_text(7200), "2 hours");
        assert_eq!(interval_text(90), "90 seconds");
    }

    #[test]
    fn asked_for_a_partitioned_table_without_a_named_time_column() {
        // pagila's payment: the time is the range partition key; ids and sequences are no measures.
        let c = nest_ddl::parse_str(
            "t.sql",
            "CREATE TABLE payment (payment_id serial NOT NULL, customer_id int NOT NULL, rental_id int NOT NULL,
               amount numeric(5,2) NOT NULL, payment_date timestamptz NOT NULL, PRIMARY KEY (payment_date, payment_id))
               PARTITION BY RANGE (payment_date);
             CREATE TABLE readings (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sensor text,
               created_at timestamptz NOT NULL DEFAULT now(), taken timestamptz NOT NULL, celsius real);",
        );
        let o = Overrides::default();
        let p = c.find_table("payment").unwrap();
        assert!(series_columns(p, &o, false).is_err(), "not a series unless asked: no time column by name");
        let s = series_columns(p, &o, true).unwrap();
        assert_eq!(s.time, "payment_date");
        assert_eq!(s.values, ["amount"]);
        assert_eq!(s.dimensions, ["customer_id", "rental_id"], "the sequence-numbered key is no dimension");
        // The one required timestamptz that is not bookkeeping.
        let s = series_columns(c.find_table("readings").unwrap(), &o, true).unwrap();
        assert_eq!((s.time.as_str(), s.values.as_slice()), ("taken", &["celsius".to_string()][..]));
        assert_eq!(s.dimensions, ["sensor"]);
    }

    #[test]
    fn seed_rollup_is_read() {
        let c = nest_ddl::parse_str(
            "t.sql",
            "CREATE TABLE m (time timestamptz NOT NULL, name text, org uuid, value float8);
             CREATE MATERIALIZED VIEW h AS SELECT time_bucket('1 hour', time) AS hour, name, org,
               AVG(value) AS a, MAX(value) AS mx, COUNT(*) AS n FROM m GROUP BY hour, name, org;
             CREATE MATERIALIZED VIEW w AS SELECT date_bin('1 day', time, '2001-01-01') AS d, avg(value) FROM m GROUP BY 1;
             CREATE MATERIALIZED VIEW f AS SELECT time_bucket('1 hour', time) AS hour, avg(value) FROM m WHERE name = 'x' GROUP BY 1;",
        );
        let series: BTreeMap<QualifiedName, String> = [(QualifiedName::new("public", "m"), "time".to_string())].into();
        let r = rollup_shape(c.find_table("h").unwrap(), &series).unwrap();
        assert_eq!((r.bucket_column.as_str(), r.bucket_seconds), ("hour", 3600));
        assert_eq!(r.groups, [("name".to_string(), "name".to_string()), ("org".into(), "org".into())]);
        assert_eq!(r.column_of(Agg::Avg, "value"), Some("a"));
        assert_eq!(r.column_of(Agg::Count, "value"), Some("n"));
        assert_eq!(r.column_of(Agg::Min, "value"), None);
        let e = rollup_shape(c.find_table("w").unwrap(), &series).unwrap_err();
        assert!(e.contains("2000-01-03"), "{e}");
        let e = rollup_shape(c.find_table("f").unwrap(), &series).unwrap_err();
        assert!(e.contains("WHERE"), "{e}");
    }
}
