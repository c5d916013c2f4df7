//! Reading shapes off catalog tables, shared by the features that detect their tables by name
//! and foreign keys.

use nest_catalog::Table;

pub fn has(t: &Table, column: &str) -> bool {
    t.column(column).is_some()
}

/// `column` if `t` has it.
pub fn opt(t: &Table, column: &str) -> Option<String> {
    has(t, column).then(|| column.to_string())
}

/// The first of `columns` that `t` has.
pub fn first(t: &Table, columns: &[&str]) -> Option<String> {
    columns.iter().find(|c| has(t, c)).map(|c| c.to_string())
}

/// The column's type without modifiers (`character varying`, not `character varying(20)`), for
/// casts that never truncate; `fallback` when the column is missing.
pub fn bare_type(t: &Table, column: &str, fallback: &str) -> String {
    t.column(column)
        .map(|c| nest_catalog::SqlType { modifiers: vec![], typmod: None, ..c.ty.clone() }.to_string())
        .unwrap_or_else(|| fallback.into())
}

/// The single-column primary key of `t`.
pub fn single_key(t: &Table) -> Option<String> {
    t.primary_key.as_ref().filter(|k| k.columns.len() == 1).map(|k| k.columns[0].clone())
}

/// The column of `t` that references `target`. When several do (`user_id` and `assigned_by`
/// both point at users), the one in the primary key wins, then `<target>_id`.
pub fn fk_to(t: &Table, target: &Table) -> Option<String> {
    let candidates: Vec<String> = t
        .foreign_keys
        .iter()
        .filter(|f| f.references == target.qualified_name() && f.columns.len() == 1)
        .map(|f| f.columns[0].clone())
        .collect();
    let in_pk = |c: &String| t.primary_key.as_ref().is_some_and(|k| k.columns.contains(c));
    let singular = nest_model::names::singular_words(&target.name).join("_");
    candidates
        .iter()
        .find(|c| in_pk(c))
        .or_else(|| candidates.iter().find(|c| **c == format!("{singular}_id")))
        .or_else(|| candidates.first())
        .cloned()
}

/// Every set of columns `t` keeps unique: the primary key, UNIQUE constraints and unique indexes
/// without a predicate (over plain columns).
pub fn unique_keys(t: &Table) -> Vec<Vec<String>> {
    t.primary_key
        .iter()
        .chain(t.unique.iter())
        .map(|k| k.columns.clone())
        .chain(
            t.indexes
                .iter()
                .filter(|x| x.unique && x.predicate.is_none())
                .filter_map(|x| x.column_names().map(|c| c.into_iter().map(str::to_string).collect::<Vec<_>>())),
        )
        .filter(|cols| !cols.is_empty())
        .collect()
}

/// The column's type name (`integer`, `jsonb`, `uuid`), without array marks or modifiers.
pub fn type_name<'a>(t: &'a Table, column: &str) -> Option<&'a str> {
    t.column(column).filter(|c| !c.ty.array).map(|c| c.ty.name.as_str())
}

/// A JavaScript regular expression (source) for well-formed ids of an SQL type: a malformed id
/// is refused before it reaches a query.
pub fn id_pattern(ty: &str) -> &'static str {
    match ty {
        "uuid" => "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        "smallint" | "integer" | "bigint" => "^-?[0-9]{1,19}$",
        _ => "^[0-9A-Za-z_.:-]{1,100}$",
    }
}
