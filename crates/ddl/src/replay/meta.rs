//! Rows written into `meta.*` by INSERT (VALUES or SELECT from another meta table, with
//! ON CONFLICT), UPDATE and DELETE, evaluated offline with a small interpreter.

use super::{Replayer, ident, name_parts, split_name};
use nest_catalog::meta::{MetaType, meta_row, settings_of};
use nest_catalog::{Location, Metadata, codes};
use serde_json::Value;
use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Delete, Expr, FromTable, InTarget, Insert, OnConflictAction, OnInsert, Query,
    SelectItem, SetExpr, TableFactor, TableObject, UnaryOperator, Update, Value as SqlValue,
};
use std::collections::BTreeMap;

/// A metadata row as written, before its links are resolved.
#[derive(Debug, Clone)]
pub(crate) struct StoredRow {
    pub values: BTreeMap<String, Value>,
    pub at: Location,
}

fn conflict_key(table: &str, row: &BTreeMap<String, Value>) -> Vec<Value> {
    let get = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
    match table {
        "table_metadata" => {
            vec![row.get("schema_name").cloned().unwrap_or_else(|| Value::String("public".into())), get("table_name")]
        }
        "enterprise_features" => vec![get("table_metadata_id")],
        "column_metadata" => vec![get("table_metadata_id"), get("column_name")],
        _ => vec![get("id")],
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn sql_compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        // Mixed: compare text forms (e.g. '1' = 1 after implicit casts).
        (x, y) => Some(text_of(x).cmp(&text_of(y))),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Coerce a value to a setting's type, as PostgreSQL's input functions would.
pub(crate) fn coerce(v: Value, ty: MetaType) -> Result<Value, String> {
    Ok(match (ty, v) {
        (_, Value::Null) => Value::Null,
        (MetaType::Boolean, Value::Bool(b)) => Value::Bool(b),
        (MetaType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Value::Bool(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Value::Bool(false),
            _ => return Err(format!("`{s}` is not a boolean")),
        },
        (MetaType::Boolean, Value::Number(n)) => Value::Bool(n.as_i64() != Some(0)),
        (MetaType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => return Err(format!("`{n}` is not an integer")),
        },
        (MetaType::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => return Err(format!("`{s}` is not an integer")),
        },
        (MetaType::Text, Value::String(s)) => Value::String(s),
        (MetaType::Text, other) => Value::String(text_of(&other)),
        (MetaType::Jsonb, Value::String(s)) => serde_json::from_str(&s).map_err(|e| format!("invalid JSON: {e}"))?,
        (MetaType::Jsonb, other) => other,
        (MetaType::TextArray, Value::Array(a)) => {
            Value::Array(a.into_iter().map(|x| Value::String(text_of(&x))).collect())
        }
        (MetaType::TextArray, Value::String(s)) => parse_pg_array(&s)?,
        (t, other) => return Err(format!("`{other}` does not fit a {} setting", t.sql())),
    })
}

/// `{a,b,"c d"}` → ["a","b","c d"].
fn parse_pg_array(s: &str) -> Result<Value, String> {
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(|| format!("`{s}` is not an array literal like '{{a,b}}'"))?;
    if inner.trim().is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' if !quoted => {
                out.push(Value::String(cur.trim().to_string()));
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    out.push(Value::String(cur.trim().to_string()));
    Ok(Value::Array(out))
}

/// Evaluation context: the current row of `FROM meta.x [alias]`, and `EXCLUDED` for upserts.
struct Ctx<'a> {
    row: Option<&'a BTreeMap<String, Value>>,
    alias: Option<&'a str>,
    excluded: Option<&'a BTreeMap<String, Value>>,
}

fn eval(e: &Expr, ctx: &Ctx) -> Result<Value, String> {
    match e {
        Expr::Value(v) => Ok(match &v.value {
            SqlValue::Number(n, _) => serde_json::from_str::<Value>(n).unwrap_or_else(|_| Value::String(n.clone())),
            SqlValue::SingleQuotedString(s) | SqlValue::EscapedStringLiteral(s) => Value::String(s.clone()),
            SqlValue::DollarQuotedString(d) => Value::String(d.value.clone()),
            SqlValue::Boolean(b) => Value::Bool(*b),
            SqlValue::Null => Value::Null,
            other => return Err(format!("cannot evaluate literal {other}")),
        }),
        Expr::Identifier(i) => {
            let n = ident(i);
            ctx.row.and_then(|r| r.get(&n).cloned()).map(Ok).unwrap_or_else(|| {
                if ctx.row.is_some() { Ok(Value::Null) } else { Err(format!("unknown column `{n}`")) }
            })
        }
        Expr::CompoundIdentifier(ids) => {
            let q = ids.first().map(ident).unwrap_or_default();
            let n = ids.last().map(ident).unwrap_or_default();
            if q == "excluded" {
                return Ok(ctx.excluded.and_then(|r| r.get(&n).cloned()).unwrap_or(Value::Null));
            }
            if ctx.alias.is_some_and(|a| a == q) || ctx.row.is_some() {
                return Ok(ctx.row.and_then(|r| r.get(&n).cloned()).unwrap_or(Value::Null));
            }
            Err(format!("unknown column `{q}.{n}`"))
        }
        Expr::Nested(inner) => eval(inner, ctx),
        Expr::Cast { expr, data_type, .. } => {
            let v = eval(expr, ctx)?;
            let t = data_type.to_string().to_lowercase();
            let ty = if t.starts_with("bool") {
                Some(MetaType::Boolean)
            } else if t.starts_with("int") || t == "bigint" || t == "smallint" {
                Some(MetaType::Integer)
            } else if t.starts_with("json") {
                Some(MetaType::Jsonb)
            } else if t.ends_with("[]") {
                Some(MetaType::TextArray)
            } else {
                None
            };
            match ty {
                Some(ty) => coerce(v, ty),
                None => Ok(v),
            }
        }
        Expr::UnaryOp { op: UnaryOperator::Not, expr } => match eval(expr, ctx)? {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            _ => Ok(Value::Null),
        },
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match eval(expr, ctx)? {
            Value::Number(n) => Ok(n
                .as_i64()
                .and_then(i64::checked_neg)
                .map(Value::from)
                .or_else(|| n.as_f64().map(|f| Value::from(-f)))
                .unwrap_or(Value::Null)),
            _ => Err("minus of a non-number".into()),
        },
        Expr::IsNull(x) => Ok(Value::Bool(eval(x, ctx)?.is_null())),
        Expr::IsNotNull(x) => Ok(Value::Bool(!eval(x, ctx)?.is_null())),
        Expr::In { expr, target: InTarget::List(list), negated, .. } => {
            let v = eval(expr, ctx)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let mut found = false;
            for x in list {
                if sql_compare(&v, &eval(x, ctx)?) == Some(std::cmp::Ordering::Equal) {
                    found = true;
                }
            }
            Ok(Value::Bool(found != *negated))
        }
        Expr::BinaryOp { left, op, right } => {
            let (l, r) = (eval(left, ctx)?, eval(right, ctx)?);
            use std::cmp::Ordering::*;
            let cmp = || sql_compare(&l, &r);
            Ok(match op {
                BinaryOperator::And => match (&l, &r) {
                    (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
                    (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                    _ => Value::Null,
                },
                BinaryOperator::Or => match (&l, &r) {
                    (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
                    (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                    _ => Value::Null,
                },
                BinaryOperator::Eq => cmp().map(|o| Value::Bool(o == Equal)).unwrap_or(Value::Null),
                BinaryOperator::NotEq => cmp().map(|o| Value::Bool(o != Equal)).unwrap_or(Value::Null),
                BinaryOperator::Lt => cmp().map(|o| Value::Bool(o == Less)).unwrap_or(Value::Null),
                BinaryOperator::LtEq => cmp().map(|o| Value::Bool(o != Greater)).unwrap_or(Value::Null),
                BinaryOperator::Gt => cmp().map(|o| Value::Bool(o == Greater)).unwrap_or(Value::Null),
                BinaryOperator::GtEq => cmp().map(|o| Value::Bool(o != Less)).unwrap_or(Value::Null),
                BinaryOperator::StringConcat => {
                    if l.is_null() || r.is_null() {
                        Value::Null
                    } else {
                        Value::String(text_of(&l) + &text_of(&r))
                    }
                }
                other => {
                    return Err(format!("operator {other} is not supported in metadata statements"));
                }
            })
        }
        Expr::Array(a) => Ok(Value::Array(a.elem.iter().map(|x| eval(x, ctx)).collect::<Result<_, _>>()?)),
        Expr::Function(f) => {
            let n = f.name.to_string().to_lowercase();
            match n.as_str() {
                // Timestamps and generated ids are not settings.
                "now"
                | "current_timestamp"
                | "clock_timestamp"
                | "gen_random_uuid"
                | "uuid_generate_v7"
                | "meta.uuid_generate_v7"
                | "public.uuid_generate_v7" => Ok(Value::Null),
                _ => Err(format!("function {n}() cannot be evaluated offline")),
            }
        }
        other => Err(format!("expression `{other}` cannot be evaluated offline")),
    }
}

impl Replayer {
    fn meta_table_of(&self, name: &sqlparser::ast::ObjectName) -> Option<String> {
        let (schema, table) = split_name(name);
        match schema.as_deref() {
            Some(s) if Self::is_tool_schema(s) => Some(table),
            None if self.search_path.first().is_some_and(|s| Self::is_tool_schema(s)) => Some(table),
            _ => None,
        }
    }

    fn bad_meta(&mut self, msg: String) {
        let at = self.here();
        self.error(codes::BAD_METADATA, at, msg, "metadata statements are read offline: use literal values, or SELECT from meta.table_metadata with simple WHERE conditions");
    }

    /// Rows produced by the source of an INSERT, as column lists.
    fn source_rows(&mut self, q: &Query) -> Result<Vec<Vec<Value>>, String> {
        match &*q.body {
            SetExpr::Values(v) => {
                let ctx = Ctx { row: None, alias: None, excluded: None };
                v.rows.iter().map(|r| r.iter().map(|e| eval(e, &ctx)).collect()).collect()
            }
            SetExpr::Select(sel) => {
                let items: Vec<&Expr> = sel
                    .projection
                    .iter()
                    .map(|p| match p {
                        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Ok(e),
                        _ => Err("SELECT * is not supported in metadata statements".to_string()),
                    })
                    .collect::<Result<_, _>>()?;
                if sel.from.is_empty() {
                    let ctx = Ctx { row: None, alias: None, excluded: None };
                    return Ok(vec![items.iter().map(|e| eval(e, &ctx)).collect::<Result<_, _>>()?]);
                }
                if sel.from.len() != 1 || !sel.from[0].joins.is_empty() {
                    return Err("only a single meta table can be read in an INSERT ... SELECT".into());
                }
                let TableFactor::Table { name, alias, .. } = &sel.from[0].relation else {
                    return Err("only a meta table can be read in an INSERT ... SELECT".into());
                };
                let Some(src) = self.meta_table_of(name) else {
                    return Err(format!("`{name}` is not a meta table; only meta.* can be read offline"));
                };
                let alias = alias.as_ref().map(|a| ident(&a.name));
                let rows = self.meta_rows.get(&src).cloned().unwrap_or_default();
                let mut out = Vec::new();
                for r in &rows {
                    let ctx =
                        Ctx { row: Some(&r.values), alias: alias.as_deref().or(Some(src.as_str())), excluded: None };
                    let keep = match &sel.selection {
                        Some(w) => truthy(&eval(w, &ctx)?),
                        None => true,
                    };
                    if keep {
                        out.push(items.iter().map(|e| eval(e, &ctx)).collect::<Result<_, _>>()?);
                    }
                }
                Ok(out)
            }
            _ => Err("unsupported INSERT source".into()),
        }
    }

    fn coerce_row(&self, table: &str, row: BTreeMap<String, Value>) -> Result<BTreeMap<String, Value>, String> {
        let settings = settings_of(table);
        let mut out = BTreeMap::new();
        for (k, v) in row {
            let v = match settings.and_then(|s| s.iter().find(|c| c.name == k)) {
                Some(c) => coerce(v, c.ty).map_err(|e| format!("{table}.{k}: {e}"))?,
                None => v,
            };
            out.insert(k, v);
        }
        Ok(out)
    }

    pub(crate) fn insert(&mut self, ins: Insert) {
        let TableObject::TableName(name) = &ins.table else {
            return;
        };
        let Some(table) = self.meta_table_of(name) else {
            self.count_data_statement();
            return;
        };
        let columns: Vec<String> = ins.columns.iter().map(|c| name_parts(c).pop().unwrap_or_default()).collect();
        let Some(src) = &ins.source else { return };
        let rows = match self.source_rows(src) {
            Ok(r) => r,
            Err(e) => return self.bad_meta(format!("INSERT INTO meta.{table}: {e}")),
        };
        for values in rows {
            if !columns.is_empty() && values.len() != columns.len() {
                return self.bad_meta(format!(
                    "INSERT INTO meta.{table}: {} values for {} columns",
                    values.len(),
                    columns.len()
                ));
            }
            let cols: Vec<String> = if columns.is_empty() {
                // Positional insert: the tool's own column order.
                let mut c = vec!["id".to_string()];
                c.extend(settings_of(&table).unwrap_or(&[]).iter().map(|m| m.name.to_string()));
                c
            } else {
                columns.clone()
            };
            let mut row: BTreeMap<String, Value> = cols.into_iter().zip(values).collect();
            if row.get("id").is_none_or(Value::is_null) {
                self.meta_seq += 1;
                row.insert("id".into(), Value::String(format!("offline-{}", self.meta_seq)));
            }
            let row = match self.coerce_row(&table, row) {
                Ok(r) => r,
                Err(e) => return self.bad_meta(format!("INSERT INTO meta.{table}: {e}")),
            };
            let key = conflict_key(&table, &row);
            let at = self.here();
            let existing = self
                .meta_rows
                .get(&table)
                .and_then(|rows| rows.iter().position(|r| conflict_key(&table, &r.values) == key));
            match (existing, &ins.on) {
                (None, _) => self.meta_rows.entry(table.clone()).or_default().push(StoredRow { values: row, at }),
                (Some(_), Some(OnInsert::OnConflict(oc))) if matches!(oc.action, OnConflictAction::DoNothing) => {}
                (Some(i), Some(OnInsert::OnConflict(oc))) => {
                    if let OnConflictAction::DoUpdate(du) = &oc.action {
                        let current = self.meta_rows[&table][i].values.clone();
                        let mut updated = current.clone();
                        for a in &du.assignments {
                            let AssignmentTarget::ColumnName(c) = &a.target else {
                                continue;
                            };
                            let col = name_parts(c).pop().unwrap_or_default();
                            let ctx = Ctx { row: Some(&current), alias: Some(table.as_str()), excluded: Some(&row) };
                            match eval(&a.value, &ctx) {
                                Ok(v) => {
                                    updated.insert(col, v);
                                }
                                Err(e) => {
                                    return self.bad_meta(format!("ON CONFLICT DO UPDATE: {e}"));
                                }
                            }
                        }
                        match self.coerce_row(&table, updated) {
                            Ok(u) => self.meta_rows.get_mut(&table).expect("exists")[i].values = u,
                            Err(e) => return self.bad_meta(e),
                        }
                    }
                }
                (Some(_), _) => {
                    let what = key.iter().map(text_of).collect::<Vec<_>>().join(", ");
                    return self.bad_meta(format!("INSERT INTO meta.{table}: a row for ({what}) already exists; add ON CONFLICT ... DO UPDATE to change it"));
                }
            }
        }
    }

    pub(crate) fn update(&mut self, u: Update) {
        let TableFactor::Table { name, alias, .. } = &u.table.relation else {
            return;
        };
        let Some(table) = self.meta_table_of(name) else {
            self.count_data_statement();
            return;
        };
        let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| table.clone());
        let rows = self.meta_rows.get(&table).cloned().unwrap_or_default();
        let mut new_rows = Vec::new();
        for mut r in rows {
            let ctx = Ctx { row: Some(&r.values), alias: Some(&alias), excluded: None };
            let hit = match &u.selection {
                Some(w) => match eval(w, &ctx) {
                    Ok(v) => truthy(&v),
                    Err(e) => return self.bad_meta(format!("UPDATE meta.{table}: {e}")),
                },
                None => true,
            };
            if hit {
                let mut updated = r.values.clone();
                for a in &u.assignments {
                    let AssignmentTarget::ColumnName(c) = &a.target else {
                        continue;
                    };
                    let col = name_parts(c).pop().unwrap_or_default();
                    match eval(&a.value, &ctx) {
                        Ok(v) => {
                            updated.insert(col, v);
                        }
                        Err(e) => return self.bad_meta(format!("UPDATE meta.{table}: {e}")),
                    }
                }
                match self.coerce_row(&table, updated) {
                    Ok(v) => r.values = v,
                    Err(e) => return self.bad_meta(format!("UPDATE meta.{table}: {e}")),
                }
            }
            new_rows.push(r);
        }
        self.meta_rows.insert(table, new_rows);
    }

    pub(crate) fn delete(&mut self, d: Delete) {
        let from = match &d.from {
            FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
        };
        let Some(TableFactor::Table { name, alias, .. }) = from.first().map(|t| &t.relation) else {
            return;
        };
        let Some(table) = self.meta_table_of(name) else {
            self.count_data_statement();
            return;
        };
        let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| table.clone());
        let rows = self.meta_rows.get(&table).cloned().unwrap_or_default();
        let mut keep = Vec::new();
        let mut removed_ids = Vec::new();
        for r in rows {
            let ctx = Ctx { row: Some(&r.values), alias: Some(&alias), excluded: None };
            let hit = match &d.selection {
                Some(w) => match eval(w, &ctx) {
                    Ok(v) => truthy(&v),
                    Err(e) => return self.bad_meta(format!("DELETE FROM meta.{table}: {e}")),
                },
                None => true,
            };
            if hit {
                removed_ids.push(r.values.get("id").cloned().unwrap_or(Value::Null));
            } else {
                keep.push(r);
            }
        }
        self.meta_rows.insert(table.clone(), keep);
        // ON DELETE CASCADE from table_metadata.
        if table == "table_metadata" {
            for dep in ["enterprise_features", "column_metadata"] {
                if let Some(rows) = self.meta_rows.get_mut(dep) {
                    rows.retain(|r| !removed_ids.contains(r.values.get("table_metadata_id").unwrap_or(&Value::Null)));
                }
            }
        }
    }

    /// Stored rows → [`Metadata`]: links resolved to names, every known setting present.
    pub(crate) fn metadata(&mut self) -> Metadata {
        let mut md = Metadata::default();
        let tm = self.meta_rows.get("table_metadata").cloned().unwrap_or_default();
        let mut by_id: BTreeMap<String, (String, String)> = BTreeMap::new();
        for r in &tm {
            let schema = r.values.get("schema_name").and_then(Value::as_str).unwrap_or("public").to_string();
            let Some(table) = r.values.get("table_name").and_then(Value::as_str).map(str::to_string) else {
                self.error(
                    codes::BAD_METADATA,
                    r.at.clone(),
                    "meta.table_metadata row without table_name",
                    "every row needs table_name",
                );
                continue;
            };
            if let Some(id) = r.values.get("id") {
                by_id.insert(text_of(id), (schema.clone(), table.clone()));
            }
            md.table_metadata.push(meta_row("table_metadata", schema, table, None, &r.values));
        }
        for dep in ["enterprise_features", "column_metadata"] {
            for r in self.meta_rows.get(dep).cloned().unwrap_or_default() {
                let link = r.values.get("table_metadata_id").map(text_of);
                let Some((schema, table)) = link.as_ref().and_then(|l| by_id.get(l)).cloned() else {
                    self.error(
                        codes::BAD_METADATA,
                        r.at.clone(),
                        format!("meta.{dep} row refers to a table_metadata row that does not exist"),
                        "insert the meta.table_metadata row first and link it by id",
                    );
                    continue;
                };
                let column = r.values.get("column_name").and_then(Value::as_str).map(str::to_string);
                let row = meta_row(dep, schema, table, column, &r.values);
                match dep {
                    "enterprise_features" => md.enterprise_features.push(row),
                    _ => md.column_metadata.push(row),
                }
            }
        }
        md.sort();
        md
    }
}
