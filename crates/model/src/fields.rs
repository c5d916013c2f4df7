//! Columns → API fields: TypeScript shape, validation, what clients may read, write and filter.

use crate::names;
use crate::settings::TableConfig;
use nest_catalog::expr::parse_expr;
use nest_catalog::{Catalog, Column, SqlType, Table, TypeRef};
use serde::Serialize;
use sqlparser::ast::{Expr, InTarget, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Uuid,
    Text,
    Int,
    BigInt,
    Decimal,
    Float,
    Bool,
    Date,
    Timestamp,
    Time,
    Json,
    Bytes,
    Interval,
    Enum,
    Other,
}

impl FieldKind {
    /// The name the TypeScript runtime uses (`core/crud/resource.ts`).
    pub fn runtime_name(self) -> &'static str {
        match self {
            FieldKind::Uuid => "uuid",
            FieldKind::Text => "text",
            FieldKind::Int => "int",
            FieldKind::BigInt => "bigint",
            FieldKind::Decimal => "decimal",
            FieldKind::Float => "float",
            FieldKind::Bool => "bool",
            FieldKind::Date => "date",
            FieldKind::Timestamp => "timestamp",
            FieldKind::Time => "time",
            FieldKind::Json => "json",
            FieldKind::Bytes => "bytes",
            FieldKind::Interval => "interval",
            FieldKind::Enum => "enum",
            FieldKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Email,
    Url,
    Phone,
}

/// A value the server writes from the request, never the client (actor and owner columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerSet {
    /// The signed-in user's id, on insert (`owner_id`, `created_by`, `uploaded_by`, ...).
    ActorOnCreate,
    /// The signed-in user's id, on insert and on every update (`updated_by`).
    ActorOnUpdate,
    /// The signed-in user's id, on (soft) delete (`deleted_by`).
    ActorOnDelete,
    /// Clients may set it, but only to their own id or null (`approved_by`, `reviewed_by`).
    SelfOnly,
}

impl ServerSet {
    /// The name the TypeScript runtime uses.
    pub fn runtime_name(self) -> &'static str {
        match self {
            ServerSet::ActorOnCreate => "create",
            ServerSet::ActorOnUpdate => "update",
            ServerSet::ActorOnDelete => "delete",
            ServerSet::SelfOnly => "self",
        }
    }
}

/// What clients may do with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Returned, but set by the server (ids with defaults, created_at, identity, generated).
    ReadOnly,
    /// Accepted, never returned (password hashes, secrets, tokens).
    WriteOnly,
    /// Neither.
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub column: String,
    pub property: String,
    pub filter_key: String,
    /// Type of the column as PostgreSQL prints it.
    pub sql_type: SqlType,
    /// Type for casting parameters: without modifiers, so a cast never rounds or truncates.
    pub cast_type: String,
    /// Cast applied when reading: arrays of enums and other user types come back as `text[]`
    /// (node-postgres only parses arrays of types it knows).
    pub read_cast: Option<String>,
    pub kind: FieldKind,
    pub array: bool,
    pub nullable: bool,
    pub has_default: bool,
    pub required_on_create: bool,
    pub access: Access,
    pub is_key: bool,
    pub max_length: Option<u32>,
    /// Shortest text accepted (a password's minimum).
    pub min_length: Option<u32>,
    /// numeric(precision, scale)
    pub precision: Option<(u32, u32)>,
    /// Time zone on time and timestamp types.
    pub with_zone: bool,
    pub int_bits: u8,
    /// Allowed values: enum labels or a `CHECK (col IN (...))`.
    pub values: Vec<String>,
    pub format: Option<Format>,
    pub ops: Vec<&'static str>,
    pub sortable: bool,
    pub description: Option<String>,
    /// Why the field's access is what it is (for `explain`).
    pub why: Option<String>,
    /// A secret: masked in audit rows (by name, column metadata `is_sensitive` or config).
    pub sensitive: bool,
    /// Written by the server from the signed-in user (see [`ServerSet`]).
    pub server: Option<ServerSet>,
    /// On a row its owner may change (their own account): only holders of the resource's
    /// `:all` permission may set it (status, role, is_admin, plan, ...).
    pub privileged: bool,
}

impl Field {
    pub fn readable(&self) -> bool {
        matches!(self.access, Access::ReadWrite | Access::ReadOnly)
    }
    pub fn writable(&self) -> bool {
        matches!(self.access, Access::ReadWrite | Access::WriteOnly)
    }
}

/// Query parameters the list route reserves; a field with one of these names is filtered as `name_`.
pub const CONTROL_PARAMS: &[&str] = &["limit", "offset", "cursor", "sort", "count", "withDeleted"];

const SERVER_TIMESTAMPS: &[&str] = &["created_at", "updated_at", "deleted_at", "inserted_at", "modified_at"];

/// Names that hold secrets: write-only, never returned, never filterable.
pub fn is_sensitive_name(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    const EXACT: &[&str] =
        &["password", "passwd", "pass", "secret", "token", "api_key", "apikey", "salt", "private_key", "pin", "otp"];
    const SUFFIX: &[&str] = &["_password", "_secret", "_token", "_api_key", "_apikey", "_private_key", "_salt", "_otp"];
    EXACT.contains(&c.as_str())
        || SUFFIX.iter().any(|s| c.ends_with(s))
        || c.contains("password")
        || c.contains("passwd")
        // pass_crypt, crypted_password, encrypted_otp; pass_hash; password_digest, remember_digest
        || c.contains("crypt")
        || c.starts_with("pass_")
        || c.ends_with("_digest")
        || c.ends_with("_pin")
}

fn format_of(column: &str) -> Option<Format> {
    let c = column.to_ascii_lowercase();
    if c == "email" || c.ends_with("_email") || c == "email_address" {
        Some(Format::Email)
    } else if c == "url" || c.ends_with("_url") || c == "website" || c == "homepage" {
        Some(Format::Url)
    } else if c == "phone" || c.ends_with("_phone") || c.starts_with("phone_number") || c == "mobile" {
        Some(Format::Phone)
    } else {
        None
    }
}

/// Kind of a (non-array) type, following domains to their base type.
fn kind_of(catalog: &Catalog, t: &SqlType, depth: u8) -> (FieldKind, Vec<String>, bool) {
    match catalog.resolve_type(t) {
        TypeRef::Enum(e) => return (FieldKind::Enum, e.values.clone(), true),
        TypeRef::Domain(d) if depth < 8 => {
            let (k, mut values, nullable) = kind_of(catalog, &d.ty, depth + 1);
            for c in &d.checks {
                if let Some(v) = in_list(&c.expression, "value") {
                    values = v;
                }
            }
            return (k, values, nullable && d.nullable);
        }
        TypeRef::Extension("citext") => return (FieldKind::Text, Vec::new(), true),
        _ => {}
    }
    let k = match t.name.as_str() {
        "uuid" => FieldKind::Uuid,
        "text" | "character varying" | "character" | "bpchar" | "name" | "citext" => FieldKind::Text,
        "smallint" | "integer" => FieldKind::Int,
        "bigint" => FieldKind::BigInt,
        "numeric" | "money" => FieldKind::Decimal,
        "real" | "double precision" => FieldKind::Float,
        "boolean" => FieldKind::Bool,
        "date" => FieldKind::Date,
        "timestamp without time zone" | "timestamp with time zone" => FieldKind::Timestamp,
        "time without time zone" | "time with time zone" => FieldKind::Time,
        "json" | "jsonb" => FieldKind::Json,
        "bytea" => FieldKind::Bytes,
        n if n.starts_with("interval") => FieldKind::Interval,
        _ => FieldKind::Other,
    };
    (k, Vec::new(), true)
}

/// `col IN ('a', 'b')` (canonical text) → ["a", "b"] when `col` is `column`.
pub fn in_list(expression: &str, column: &str) -> Option<Vec<String>> {
    in_list_of(expression).and_then(|(name, values)| (name == column.to_lowercase()).then_some(values))
}

/// `col IN ('a', 'b')` (canonical text) → (`col` in lower case, ["a", "b"]).
fn in_list_of(expression: &str) -> Option<(String, Vec<String>)> {
    let e = parse_expr(expression)?;
    let e = match e {
        Expr::Nested(inner) => *inner,
        e => e,
    };
    match e {
        Expr::In { expr, target: InTarget::List(list), negated: false, .. } => {
            let name = match *expr {
                Expr::Identifier(i) => i.value.to_lowercase(),
                _ => return None,
            };
            let values = list
                .iter()
                .map(|x| match x {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => Some(s.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((name, values))
        }
        _ => None,
    }
}

fn ops_for(kind: FieldKind, array: bool, has_values: bool) -> Vec<&'static str> {
    if array {
        return vec!["cs", "cd", "ov", "is"];
    }
    match kind {
        FieldKind::Uuid => vec!["eq", "neq", "in", "is"],
        FieldKind::Text if has_values => vec!["eq", "neq", "in", "is"],
        FieldKind::Text => vec!["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is"],
        FieldKind::Enum => vec!["eq", "neq", "in", "is"],
        FieldKind::Int
        | FieldKind::BigInt
        | FieldKind::Decimal
        | FieldKind::Float
        | FieldKind::Date
        | FieldKind::Timestamp
        | FieldKind::Time => vec!["eq", "neq", "gt", "gte", "lt", "lte", "in", "is"],
        FieldKind::Interval => vec!["eq", "neq", "gt", "gte", "lt", "lte", "is"],
        FieldKind::Bool => vec!["eq", "neq", "is"],
        FieldKind::Json => vec!["cs", "cd", "is"],
        FieldKind::Bytes => vec!["is"],
        FieldKind::Other => vec!["eq", "neq", "in", "is"],
    }
}

fn is_server_default(default: Option<&str>) -> bool {
    default.is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        d.starts_with("nextval(") || d.contains("uuid_generate") || d.contains("gen_random_uuid") || d.contains("uuidv")
    })
}

fn access_for(col: &Column, kind: FieldKind, sensitive: bool) -> (Access, Option<String>) {
    if col.generated.is_some() {
        return (Access::ReadOnly, Some("generated column".into()));
    }
    if col.identity.is_some() {
        return (Access::ReadOnly, Some("identity column".into()));
    }
    if is_server_default(col.default.as_deref()) {
        return (Access::ReadOnly, Some(format!("default {}", col.default.as_deref().unwrap_or(""))));
    }
    if SERVER_TIMESTAMPS.contains(&col.name.as_str())
        && kind == FieldKind::Timestamp
        && (col.default.is_some() || col.nullable)
    {
        return (Access::ReadOnly, Some("timestamp kept by the server".into()));
    }
    if sensitive {
        return (Access::WriteOnly, Some("secret: write-only, never returned".into()));
    }
    if let Some(why) = server_state(col, kind) {
        return (Access::ReadOnly, Some(why));
    }
    (Access::ReadWrite, None)
}

/// Counters and activity stamps the server keeps (`download_count`, `retry_count`,
/// `last_accessed_at`): clients must not set them. Only where an insert can leave them out.
fn server_state(col: &Column, kind: FieldKind) -> Option<String> {
    let c = col.name.to_ascii_lowercase();
    let omittable = col.default.is_some() || col.nullable;
    if !omittable || col.ty.array {
        return None;
    }
    if matches!(kind, FieldKind::Int | FieldKind::BigInt) && (c.ends_with("_count") || c.ends_with("_counter")) {
        return Some("counter kept by the server".into());
    }
    if kind == FieldKind::Timestamp && c.starts_with("last_") && c.ends_with("_at") {
        return Some("activity stamp kept by the server".into());
    }
    None
}

pub(crate) fn build_fields(catalog: &Catalog, t: &Table, tcfg: &TableConfig, notes: &mut Vec<String>) -> Vec<Field> {
    let pk: Vec<&str> =
        t.primary_key.as_ref().map(|k| k.columns.iter().map(String::as_str).collect()).unwrap_or_default();
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::new();
    // A BEFORE INSERT row trigger keeps search vectors (pagila's film.fulltext): those are
    // read-only. Other columns it may fill stay required unless marked `readonly` in the config.
    let before_insert =
        t.triggers.iter().find(|g| g.timing == "before" && g.for_each_row && g.events.iter().any(|e| e == "insert"));
    // The table's `col IN (...)` checks, each parsed once (not once per column).
    let check_lists: Vec<(String, Vec<String>)> = t.checks.iter().filter_map(|c| in_list_of(&c.expression)).collect();
    for col in &t.columns {
        let cm = catalog.metadata.column(&t.schema, &t.name, &col.name);
        let cc = tcfg.columns.get(&col.name);
        let array = col.ty.array;
        let element = col.ty.element();
        let (kind, mut values, domain_nullable) = kind_of(catalog, &element, 0);
        if values.is_empty() && !array {
            let name = col.name.to_lowercase();
            for (_, v) in check_lists.iter().filter(|(n, _)| *n == name) {
                values = v.clone();
            }
        }
        let is_key = pk.contains(&col.name.as_str());
        let sensitive = cc
            .and_then(|c| c.sensitive)
            .or_else(|| cm.and_then(|m| m.bool("is_sensitive")))
            .unwrap_or_else(|| is_sensitive_name(&col.name));
        let (mut access, mut why) = access_for(col, kind, sensitive);
        let hidden = cc.and_then(|c| c.hidden).or_else(|| cm.and_then(|m| m.bool("is_hidden"))).unwrap_or(false);
        let readonly_setting = cc.and_then(|c| c.readonly).or_else(|| cm.and_then(|m| m.bool("is_readonly")));
        let readonly = readonly_setting.unwrap_or(false);
        // `readonly = false` makes a column the generator thought server-kept writable (not a
        // generated column or an ALWAYS identity, which PostgreSQL itself refuses to take).
        if readonly_setting == Some(false)
            && access == Access::ReadOnly
            && col.generated.is_none()
            && col.identity != Some(nest_catalog::Identity::Always)
        {
            access = Access::ReadWrite;
            why = Some("writable by settings".into());
        }
        if hidden {
            access = match access {
                Access::ReadWrite | Access::WriteOnly => Access::WriteOnly,
                _ => Access::None,
            };
            why = Some("hidden by settings".into());
        }
        if readonly {
            access = match access {
                Access::ReadWrite | Access::ReadOnly => Access::ReadOnly,
                _ => Access::None,
            };
            why = Some("read-only by settings".into());
        }
        if let Some(g) = before_insert
            && element.name == "tsvector"
            && access == Access::ReadWrite
        {
            access = Access::ReadOnly;
            why = Some(format!("search vector kept by trigger {}", g.name));
        }
        // A search vector holds the words of the columns it is built from (hidden ones too):
        // clients search it with q=, never read it (nor filter on it).
        if element.name == "tsvector" && !is_key {
            access = match access {
                Access::ReadWrite => Access::WriteOnly,
                Access::WriteOnly => Access::WriteOnly,
                _ => Access::None,
            };
            why = Some(format!(
                "search vector{}: searched with q=, never returned (it holds the words of its sources)",
                before_insert.map(|g| format!(" kept by trigger {}", g.name)).unwrap_or_default()
            ));
        }
        if is_key && !matches!(access, Access::ReadWrite | Access::ReadOnly) {
            // A key must be readable to address rows.
            notes.push(format!("column `{}` is part of the primary key, so it stays readable", col.name));
            access = Access::ReadWrite;
        }
        let mut property = names::camel(&col.name);
        // A class property cannot be called `constructor`.
        if property == "constructor" {
            property = "constructorValue".into();
        }
        if !used.insert(property.clone()) {
            let mut n = 2;
            while !used.insert(format!("{property}{n}")) {
                n += 1;
            }
            notes.push(format!(
                "columns `{}` and another both map to `{property}`; this one is `{property}{n}`",
                col.name
            ));
            property = format!("{property}{n}");
        }
        let filter_key =
            if CONTROL_PARAMS.contains(&property.as_str()) { format!("{property}_") } else { property.clone() };
        let readable = matches!(access, Access::ReadWrite | Access::ReadOnly);
        let mut ops = if readable { ops_for(kind, array, !values.is_empty()) } else { Vec::new() };
        let filterable = cc.and_then(|c| c.filterable).or_else(|| cm.and_then(|m| m.bool("is_filterable")));
        if filterable == Some(false) {
            ops.clear();
        }
        if let Some(allowed) = cm.and_then(|m| m.get("filter_operators")).and_then(|v| v.as_array()) {
            let allowed: Vec<&str> = allowed.iter().filter_map(|v| v.as_str()).collect();
            ops.retain(|o| allowed.contains(o));
        }
        let sortable = readable
            && !array
            && !matches!(kind, FieldKind::Json | FieldKind::Bytes)
            && cc.and_then(|c| c.sortable).or_else(|| cm.and_then(|m| m.bool("is_sortable"))).unwrap_or(true);
        let nullable = col.nullable && domain_nullable;
        let has_default = col.default.is_some() || col.identity.is_some() || col.generated.is_some();
        let writable = matches!(access, Access::ReadWrite | Access::WriteOnly);
        let precision = if element.name == "numeric" {
            match element.modifiers.as_slice() {
                [p] => Some((*p, 0)),
                [p, s] => Some((*p, *s)),
                _ => None,
            }
        } else {
            None
        };
        let cast_type = {
            let bare = SqlType { modifiers: Vec::new(), typmod: None, ..col.ty.clone() };
            bare.to_string()
        };
        let description = cc
            .and_then(|c| c.description.clone())
            .or_else(|| cm.and_then(|m| m.str("description")).map(str::to_string))
            .or_else(|| col.comment.clone());
        let user_type = !element.is_builtin() && !matches!(catalog.resolve_type(&element), TypeRef::Extension(_));
        let read_cast =
            (array && (kind == FieldKind::Enum || kind == FieldKind::Other || user_type)).then(|| "text[]".to_string());
        out.push(Field {
            read_cast,
            column: col.name.clone(),
            property,
            filter_key,
            cast_type,
            kind,
            array,
            nullable,
            has_default,
            required_on_create: writable && !nullable && !has_default,
            sensitive,
            access,
            is_key,
            max_length: element.max_length().filter(|_| kind == FieldKind::Text),
            min_length: None,
            precision,
            with_zone: element.name.ends_with("with time zone"),
            int_bits: if element.name == "smallint" { 16 } else { 32 },
            values,
            format: if kind == FieldKind::Text && !array { format_of(&col.name) } else { None },
            ops,
            sortable,
            description,
            why,
            sql_type: col.ty.clone(),
            server: None,
            privileged: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_name() {
        for s in [
            "password_hash",
            "two_factor_secret",
            "share_token",
            "refresh_token",
            "api_key",
            "password",
            "pass_crypt",
            "pass_salt",
            "encrypted_password",
            "remember_digest",
            "otp_secret",
        ] {
            assert!(is_sensitive_name(s), "{s}");
        }
        for s in [
            "checksum",
            "token_count_x",
            "email",
            "secretary_name",
            "file_hash",
            "passenger",
            "passport_country",
            "digest_frequency",
        ] {
            assert!(!is_sensitive_name(s), "{s}");
        }
    }

    #[test]
    fn check_in_lists() {
        assert_eq!(in_list("status IN ('a', 'b')", "status"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(in_list("other IN ('a', 'b')", "status"), None);
        assert_eq!(in_list("status > 'a'", "status"), None);
    }
}
