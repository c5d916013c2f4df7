//! Full-text search of a table (`q=` on its list, export and aggregate): what the rows are
//! matched against, chosen by the config (`[tables.<t>] search = ["title", "body"]`,
//! `search_config = "english"`) or found in the schema (a `tsvector` column, trigram indexes).

use crate::{FeatureError, FieldKind, ModelError, Resource};
use nest_catalog::{Catalog, Table};
use serde::Serialize;

/// How a table's rows are searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Search {
    /// A `tsvector` column the table keeps (a trigger, a generated column): matched as it is,
    /// ranked with `ts_rank_cd`; the query parsed with `config` (the database's
    /// default_text_search_config when none is set).
    Vector { column: String, config: Option<String> },
    /// Text columns chosen in the config, matched as `to_tsvector(config, a || ' ' || b)`; the
    /// generated SQL indexes that expression (GIN), so the query uses it.
    Text { columns: Vec<String>, config: String },
    /// Text columns with a trigram index (pg_trgm, `gin_trgm_ops`/`gist_trgm_ops`): matched as
    /// a substring (case-insensitive, the index answers ILIKE), earlier matches first.
    Trigram { columns: Vec<String> },
}

impl Search {
    /// The index the generated SQL adds (`Text`): its name and definition after `ON <table>`.
    pub fn index(&self, r: &Resource) -> Option<(String, String)> {
        let Search::Text { columns, config } = self else { return None };
        let name: String = format!("{}_search", r.table).chars().take(63).collect();
        Some((name, format!("USING gin (({}))", text_document(columns, config))))
    }
}

/// `to_tsvector('english'::regconfig, coalesce("a", '') || ' ' || coalesce("b", ''))`: the same
/// text in the index and in the runtime's statements (core/crud/search.ts builds it alike).
pub fn text_document(columns: &[String], config: &str) -> String {
    let parts: Vec<String> =
        columns.iter().map(|c| format!("coalesce({}, '')", nest_catalog::quote::ident(c))).collect();
    format!("to_tsvector('{config}'::regconfig, {})", parts.join(" || ' ' || "))
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct SearchError {
    message: String,
    help: String,
}

impl FeatureError for SearchError {
    fn help(&self) -> String {
        self.help.clone()
    }
}

fn config_name(raw: &str) -> bool {
    let word = |w: &str| {
        !w.is_empty()
            && w.len() <= 63
            && w.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    match raw.split_once('.') {
        Some((s, n)) => word(s) && word(n),
        None => word(raw),
    }
}

/// Choose each resource's search; config mistakes are errors naming the table.
pub(crate) fn resolve(
    catalog: &Catalog,
    config: &crate::Config,
    resources: &mut [Resource],
    errors: &mut Vec<ModelError>,
) {
    for r in resources.iter_mut() {
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let tcfg = config.table(&r.schema, &r.table);
        let chosen = tcfg.and_then(|c| c.search.clone());
        let lang = tcfg.and_then(|c| c.search_config.clone());
        let fail = |errors: &mut Vec<ModelError>, message: String, help: &str| {
            errors.push(ModelError::feature("search", Some(t), SearchError { message, help: help.into() }));
        };
        if let Some(l) = &lang
            && !config_name(l)
        {
            fail(
                errors,
                format!("[tables.{}] search_config = {l:?} is not a text search configuration name", r.table),
                "write a configuration's name, e.g. search_config = \"english\" or \"simple\" (SELECT cfgname FROM pg_ts_config)",
            );
            continue;
        }
        r.search = match chosen {
            Some(columns) if columns.is_empty() => None,
            Some(columns) => {
                let mut ok = true;
                for c in &columns {
                    let field = r.fields.iter().find(|f| &f.column == c);
                    let problem = match field {
                        None => Some("is not a column of the table"),
                        Some(f) if !f.readable() => Some("is hidden from clients (searching it would reveal it)"),
                        Some(f) if f.kind != FieldKind::Text || f.array => Some("is not a text column"),
                        _ => None,
                    };
                    if let Some(p) = problem {
                        fail(
                            errors,
                            format!("[tables.{}] search: {c} {p}", r.table),
                            "list text columns clients can read, e.g. search = [\"title\", \"description\"]; search = [] turns search off",
                        );
                        ok = false;
                    }
                }
                ok.then(|| Search::Text { columns, config: lang.clone().unwrap_or_else(|| "simple".into()) })
            }
            None => detect(t, r, lang),
        };
    }
}

/// A `tsvector` column, else text columns with trigram indexes, else nothing.
fn detect(t: &Table, r: &Resource, config: Option<String>) -> Option<Search> {
    if let Some(c) = t.columns.iter().find(|c| c.ty.name == "tsvector" && !c.ty.array) {
        return Some(Search::Vector { column: c.name.clone(), config });
    }
    let readable_text =
        |name: &str| r.fields.iter().any(|f| f.column == name && f.readable() && f.kind == FieldKind::Text && !f.array);
    let mut columns: Vec<String> = Vec::new();
    for ix in t.indexes.iter().filter(|ix| ix.predicate.is_none() && matches!(ix.method.as_str(), "gin" | "gist")) {
        for e in &ix.columns {
            let trgm =
                e.opclass.as_deref().is_some_and(|o| o.ends_with("gin_trgm_ops") || o.ends_with("gist_trgm_ops"));
            if trgm && e.is_column && readable_text(&e.expr) && !columns.contains(&e.expr) {
                columns.push(e.expr.clone());
            }
        }
    }
    (!columns.is_empty()).then_some(Search::Trigram { columns })
}

#[cfg(test)]
mod tests {
    #[test]
    fn configuration_names() {
        for ok in ["english", "simple", "pg_catalog.english", "my_cfg2"] {
            assert!(super::config_name(ok), "{ok}");
        }
        for bad in ["", "English", "english'--", "a.b.c", "x y", "1abc"] {
            assert!(!super::config_name(bad), "{bad}");
        }
    }
}
