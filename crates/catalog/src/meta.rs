//! The metadata schema the tool reads (`meta.table_metadata`, `meta.enterprise_features`,
//! `meta.column_metadata`) and the rows read from it.
//!
//! One definition serves three uses: `nest-generator sql meta` prints the DDL from it, offline
//! replay fills columns an INSERT left out with these defaults, and live introspection reads
//! the same columns, so both give equal [`Metadata`].
//!
//! Every setting is nullable and defaults to NULL, meaning "not set here": the generator then
//! falls back to the config file and to inference from the schema.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaType {
    Text,
    Boolean,
    Integer,
    TextArray,
    Jsonb,
}

impl MetaType {
    pub fn sql(self) -> &'static str {
        match self {
            MetaType::Text => "text",
            MetaType::Boolean => "boolean",
            MetaType::Integer => "integer",
            MetaType::TextArray => "text[]",
            MetaType::Jsonb => "jsonb",
        }
    }
}

pub struct MetaColumn {
    pub name: &'static str,
    pub ty: MetaType,
    /// SQL default; `None` is NULL.
    pub default: Option<&'static str>,
    /// Allowed values for a text setting (a CHECK constraint).
    pub allowed: &'static [&'static str],
    pub doc: &'static str,
}

impl MetaColumn {
    /// The default as a JSON value (what an INSERT that leaves the column out stores).
    pub fn default_json(&self) -> Value {
        match (self.default, self.ty) {
            (None, _) => Value::Null,
            (Some(d), MetaType::Boolean) => Value::Bool(d == "true"),
            (Some(d), MetaType::Integer) => d.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            (Some(d), _) => Value::String(d.trim_matches('\'').to_string()),
        }
    }
}

const fn col(name: &'static str, ty: MetaType, doc: &'static str) -> MetaColumn {
    MetaColumn { name, ty, default: None, allowed: &[], doc }
}

const fn choice(name: &'static str, allowed: &'static [&'static str], doc: &'static str) -> MetaColumn {
    MetaColumn { name, ty: MetaType::Text, default: None, allowed, doc }
}

use MetaType::*;

/// Per-table settings (`meta.table_metadata`), keyed by `(schema_name, table_name)`.
pub const TABLE_METADATA: &[MetaColumn] = &[
    col("table_purpose", Text, "What the table is for; used in generated docs."),
    col("display_name", Text, "Human name of the resource in OpenAPI."),
    col("module_name", Text, "Override of the generated module/file name."),
    col("route_path", Text, "Override of the HTTP route (default: kebab-case table name)."),
    MetaColumn {
        name: "is_active",
        ty: Boolean,
        default: Some("true"),
        allowed: &[],
        doc: "false: the table is not generated.",
    },
    col("is_readonly", Boolean, "Only read routes are generated."),
    col("has_soft_delete", Boolean, "DELETE sets deleted_at; restore route. NULL: inferred from a deleted_at column."),
    col("cache_enabled", Boolean, "Cache read responses."),
    col("cache_ttl", Integer, "Cache lifetime in seconds."),
    col("enable_swagger", Boolean, "Document the routes in OpenAPI (default true)."),
    col("enable_versioning", Boolean, "Serve routes under a version prefix (/v1)."),
    col("enable_rbac", Boolean, "Require <resource>:<action> permissions on every route."),
    col("enable_auth", Boolean, "This table holds the users that log in (password hash column)."),
    col("enable_audit", Boolean, "Record every change in audit_logs."),
    col("default_page_size", Integer, "Rows per page when the client sends no limit."),
    col("max_page_size", Integer, "Largest limit a client may ask for."),
    choice("count_mode", &["exact", "estimated", "none"], "Default total count on list routes."),
];

/// Enterprise features per table (`meta.enterprise_features`), linked by `table_metadata_id`.
pub const ENTERPRISE_FEATURES: &[MetaColumn] = &[
    col("enable_tenant_isolation", Boolean, "Rows belong to a tenant; RLS + application filter."),
    col("tenant_column_name", Text, "Column holding the tenant id (default organization_id)."),
    col("enable_audit", Boolean, "Record every change in audit_logs."),
    choice("audit_mode", &["application", "trigger"], "Where audit rows are written."),
    col("audit_sensitive_columns", TextArray, "Columns masked in audit rows, besides inferred secrets."),
    col("enable_event_sourcing", Boolean, "Append-only event stream table."),
    col("enable_time_series", Boolean, "Time-series table (bucketed aggregates)."),
    col("time_column_name", Text, "Time column of a time-series table."),
    col("enable_file_upload", Boolean, "File storage routes (upload, download)."),
    col("enable_notifications", Boolean, "Notification delivery."),
    col("enable_queue", Boolean, "Deliver through a job queue."),
    col("enable_realtime", Boolean, "Push changes to connected clients."),
];

/// Per-column settings (`meta.column_metadata`), linked by `table_metadata_id` + `column_name`.
pub const COLUMN_METADATA: &[MetaColumn] = &[
    col("display_name", Text, "Human name of the field in OpenAPI."),
    col("description", Text, "Field description in OpenAPI."),
    col("example", Text, "Example value in OpenAPI."),
    col("is_hidden", Boolean, "Never returned in responses."),
    col("is_sensitive", Boolean, "Write-only secret: never returned, masked in audit rows."),
    col("is_readonly", Boolean, "Not accepted from clients."),
    col("is_searchable", Boolean, "Included in the full-text `q` search."),
    col("is_filterable", Boolean, "Filter operators are allowed on the field."),
    col("is_sortable", Boolean, "Allowed in `sort`."),
    col("filter_operators", TextArray, "Operators allowed on the field (default: by type)."),
    col("validation", Jsonb, "Extra validation: {\"min\":..,\"max\":..,\"pattern\":..,\"format\":..}."),
];

/// The metadata tables, by name, with their settings columns.
pub const META_TABLES: &[(&str, &[MetaColumn])] = &[
    ("table_metadata", TABLE_METADATA),
    ("enterprise_features", ENTERPRISE_FEATURES),
    ("column_metadata", COLUMN_METADATA),
];

pub fn settings_of(table: &str) -> Option<&'static [MetaColumn]> {
    META_TABLES.iter().find(|(n, _)| *n == table).map(|(_, c)| *c)
}

/// One row of a metadata table, with its table (and column) resolved to names and its
/// surrogate ids removed. `values` holds every settings column, NULL where unset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaRow {
    pub schema_name: String,
    pub table_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_name: Option<String>,
    pub values: BTreeMap<String, Value>,
}

impl MetaRow {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|v| !v.is_null())
    }
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_i64)
    }
}

/// Columns of the meta tables that are keys or bookkeeping, not settings.
pub const KEY_COLUMNS: &[&str] =
    &["id", "schema_name", "table_name", "table_metadata_id", "column_name", "created_at", "updated_at"];

/// A row of meta `table` with every known setting (its default where the row has none) and
/// any extra column the user added to their meta tables.
pub fn meta_row(
    table: &str,
    schema: String,
    name: String,
    column: Option<String>,
    values: &BTreeMap<String, Value>,
) -> MetaRow {
    let mut out = BTreeMap::new();
    for c in settings_of(table).unwrap_or(&[]) {
        out.insert(c.name.to_string(), values.get(c.name).cloned().unwrap_or_else(|| c.default_json()));
    }
    for (k, v) in values {
        if !KEY_COLUMNS.contains(&k.as_str()) && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    MetaRow { schema_name: schema, table_name: name, column_name: column, values: out }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub table_metadata: Vec<MetaRow>,
    pub enterprise_features: Vec<MetaRow>,
    pub column_metadata: Vec<MetaRow>,
}

impl Metadata {
    pub fn sort(&mut self) {
        for rows in [&mut self.table_metadata, &mut self.enterprise_features, &mut self.column_metadata] {
            rows.sort_by(|a, b| {
                (&a.schema_name, &a.table_name, &a.column_name).cmp(&(&b.schema_name, &b.table_name, &b.column_name))
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.table_metadata.is_empty() && self.enterprise_features.is_empty() && self.column_metadata.is_empty()
    }

    pub fn table(&self, schema: &str, table: &str) -> Option<&MetaRow> {
        self.table_metadata.iter().find(|r| r.schema_name == schema && r.table_name == table)
    }

    pub fn features(&self, schema: &str, table: &str) -> Option<&MetaRow> {
        self.enterprise_features.iter().find(|r| r.schema_name == schema && r.table_name == table)
    }

    pub fn column(&self, schema: &str, table: &str, column: &str) -> Option<&MetaRow> {
        self.column_metadata
            .iter()
            .find(|r| r.schema_name == schema && r.table_name == table && r.column_name.as_deref() == Some(column))
    }
}

use crate::quote::string as sql_quote;

fn settings_ddl(out: &mut String, cols: &[MetaColumn]) {
    for c in cols {
        out.push_str(&format!("  {} {}", c.name, c.ty.sql()));
        if let Some(d) = c.default {
            out.push_str(&format!(" NOT NULL DEFAULT {d}"));
        }
        if !c.allowed.is_empty() {
            let list = c.allowed.iter().map(|a| sql_quote(a)).collect::<Vec<_>>().join(", ");
            out.push_str(&format!(" CHECK ({} IN ({list}))", c.name));
        }
        out.push_str(",\n");
    }
}

fn comments(out: &mut String, table: &str, cols: &[MetaColumn]) {
    for c in cols {
        out.push_str(&format!("COMMENT ON COLUMN meta.{table}.{} IS {};\n", c.name, sql_quote(c.doc)));
    }
}

/// `uuid_generate_v7()`: the server's own `uuidv7()` where it exists (PostgreSQL 18), the same
/// layout built from `gen_random_uuid()` before that (RFC 9562: 48-bit Unix milliseconds, version
/// 7, random rest). The function is looked up, not the version guessed; PL/pgSQL resolves
/// `uuidv7()` only when that branch runs, so this loads on any version.
pub const UUID_V7_SQL: &str = include_str!("../sql/uuid_generate_v7.sql");

/// The DDL of the metadata schema, as `nest-generator sql meta` prints it. Idempotent.
pub fn meta_schema_sql() -> String {
    let mut out = String::new();
    out.push_str("-- nest-generator metadata schema. Safe to run more than once.\n");
    out.push_str("-- Every setting is NULL by default, meaning \"not set here\": the generator then uses\n");
    out.push_str("-- nest-generator.toml, then what it infers from the schema. CLI flags override all.\n\n");
    out.push_str(UUID_V7_SQL);
    out.push_str("\nCREATE SCHEMA IF NOT EXISTS meta;\n\n");

    out.push_str("CREATE TABLE IF NOT EXISTS meta.table_metadata (\n");
    out.push_str("  id uuid PRIMARY KEY DEFAULT public.uuid_generate_v7(),\n");
    out.push_str("  schema_name text NOT NULL DEFAULT 'public',\n");
    out.push_str("  table_name text NOT NULL,\n");
    settings_ddl(&mut out, TABLE_METADATA);
    out.push_str("  created_at timestamptz NOT NULL DEFAULT now(),\n");
    out.push_str("  updated_at timestamptz NOT NULL DEFAULT now(),\n");
    out.push_str("  UNIQUE (schema_name, table_name)\n);\n\n");

    out.push_str("CREATE TABLE IF NOT EXISTS meta.enterprise_features (\n");
    out.push_str("  id uuid PRIMARY KEY DEFAULT public.uuid_generate_v7(),\n");
    out.push_str("  table_metadata_id uuid NOT NULL UNIQUE REFERENCES meta.table_metadata (id) ON DELETE CASCADE,\n");
    settings_ddl(&mut out, ENTERPRISE_FEATURES);
    out.push_str("  created_at timestamptz NOT NULL DEFAULT now(),\n");
    out.push_str("  updated_at timestamptz NOT NULL DEFAULT now()\n);\n\n");

    out.push_str("CREATE TABLE IF NOT EXISTS meta.column_metadata (\n");
    out.push_str("  id uuid PRIMARY KEY DEFAULT public.uuid_generate_v7(),\n");
    out.push_str("  table_metadata_id uuid NOT NULL REFERENCES meta.table_metadata (id) ON DELETE CASCADE,\n");
    out.push_str("  column_name text NOT NULL,\n");
    settings_ddl(&mut out, COLUMN_METADATA);
    out.push_str("  created_at timestamptz NOT NULL DEFAULT now(),\n");
    out.push_str("  updated_at timestamptz NOT NULL DEFAULT now(),\n");
    out.push_str("  UNIQUE (table_metadata_id, column_name)\n);\n\n");

    out.push_str("COMMENT ON SCHEMA meta IS 'Settings read by nest-generator';\n");
    comments(&mut out, "table_metadata", TABLE_METADATA);
    comments(&mut out, "enterprise_features", ENTERPRISE_FEATURES);
    comments(&mut out, "column_metadata", COLUMN_METADATA);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_has_the_seed_column_names() {
        let sql = meta_schema_sql();
        for name in [
            "schema_name",
            "table_name",
            "table_purpose",
            "has_soft_delete",
            "cache_enabled",
            "cache_ttl",
            "enable_swagger",
            "enable_versioning",
            "enable_rbac",
            "table_metadata_id",
            "enable_tenant_isolation",
            "tenant_column_name",
        ] {
            assert!(sql.contains(&format!("  {name} ")), "missing {name}");
        }
        assert!(sql.contains("uuid_generate_v7"));
    }

    #[test]
    fn defaults_as_json() {
        let active = TABLE_METADATA.iter().find(|c| c.name == "is_active").unwrap();
        assert_eq!(active.default_json(), Value::Bool(true));
        let ttl = TABLE_METADATA.iter().find(|c| c.name == "cache_ttl").unwrap();
        assert_eq!(ttl.default_json(), Value::Null);
    }
}
