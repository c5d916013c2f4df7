//! Full-text search of a table (`q=` on its list, export and aggregate): what the rows are
//! matched against, chosen by the config (`[tables.<t>] search = ["title", "body"]`,
//! `search_config = "english"`) or found in the schema (a `tsvector` column, trigram indexes).

use crate::{FeatureError, FieldKind, ModelError, Resource};
use nest_catalog::naming::{MAX_IDENT, clip};
use nest_catalog::{Catalog, Column, Table};
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
    /// The name ends in a hash of the definition (`articles_search_1a2b3c4d`), so a changed
    /// `search = [...]` makes a new index rather than keeping one on the old expression (see
    /// [`index_family`] for the ones it replaces).
    pub fn index(&self, r: &Resource) -> Option<(String, String)> {
        let Search::Text { columns, config } = self else { return None };
        let def = format!("USING gin (({}))", text_document(columns, config));
        let hash = fnv1a(format!("{}.{} {def}", r.schema, r.table).as_bytes());
        let name = format!("{}_{hash:08x}", index_prefix(&r.table));
        Some((name, def))
    }
}

/// `<table>_search`, cut so a name with its 9-character hash suffix fits PostgreSQL's 63 bytes.
fn index_prefix(table: &str) -> String {
    format!("{}_search", clip(table, MAX_IDENT - "_search".len() - 9))
}

/// A regular expression (PostgreSQL's `~`) matching the names of the search indexes the
/// generator made for `table`, in any version: `<table>_search` and `<table>_search_<hash>`.
/// Nothing else a user might name an index (`<table>_search_by_title`) matches; the SQL also
/// drops only full-text GIN indexes, so a user's `<table>_search_20240101` on a column stays.
pub fn index_family(table: &str) -> String {
    let mut re = String::from("^");
    for c in index_prefix(table).chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            re.push('\\');
        }
        re.push(c);
    }
    re.push_str("(_[0-9a-f]{8})?$");
    re
}

/// The name this generator gave the index before names carried a hash (dropped like the others).
pub fn legacy_index_name(table: &str) -> String {
    // PostgreSQL cuts names at 63 bytes (on a character boundary).
    clip(&format!("{table}_search"), MAX_IDENT).to_string()
}

/// 32-bit FNV-1a: a stable hash (names must not change between runs or versions).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// `to_tsvector('english'::regconfig, coalesce("a", '') || ' ' || coalesce("b", ''))`: the same
/// text in the index and in the runtime's statements (the spec's `search.document`).
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
            // One tsvector column, named on purpose: searched as it is (its sources, when they
            // can be told, must be readable).
            Some(columns) if columns.len() == 1 && t.column(&columns[0]).is_some_and(is_vector) => {
                let c = t.column(&columns[0]).expect("checked");
                match vector_sources(t, c).map(|s| hidden_sources(r, &s)) {
                    Some(hidden) if !hidden.is_empty() => {
                        fail(
                            errors,
                            format!(
                                "[tables.{}] search: {} is built from {}, which clients cannot read: searching it would reveal them",
                                r.table,
                                c.name,
                                hidden.join(", ")
                            ),
                            "search columns clients can read instead, e.g. search = [\"title\", \"description\"]",
                        );
                        None
                    }
                    _ => Some(Search::Vector { column: c.name.clone(), config: lang.clone() }),
                }
            }
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

fn is_vector(c: &Column) -> bool {
    c.ty.name == "tsvector" && !c.ty.array
}

/// The columns a tsvector column is built from, when the schema says: a generated column's
/// expression, or the arguments of `tsvector_update_trigger[_column]` in a trigger.
fn vector_sources(t: &Table, c: &Column) -> Option<Vec<String>> {
    let others = |text: &str| -> Vec<String> {
        identifiers(text).into_iter().filter(|w| w != &c.name && t.column(w).is_some()).collect()
    };
    if let Some(expr) = &c.generated {
        let found = others(expr);
        return (!found.is_empty()).then_some(found);
    }
    for g in &t.triggers {
        let Some(src) = &g.source.0 else { continue };
        let lower = src.to_lowercase();
        let Some(at) = lower.find("tsvector_update_trigger") else { continue };
        let rest = &src[at..];
        let (Some(open), Some(close)) = (rest.find('('), rest.rfind(')')) else { continue };
        if close <= open {
            continue;
        }
        let args: Vec<String> = rest[open + 1..close]
            .split(',')
            .map(|a| a.trim().trim_matches('\'').trim_matches('"').to_string())
            .collect();
        if args.first().is_some_and(|a| a == &c.name) && args.len() > 2 {
            return Some(args[2..].to_vec());
        }
    }
    None
}

/// Words of an expression that could name columns: bare identifiers (lowercased, as PostgreSQL
/// folds them) and quoted ones.
fn identifiers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '"' {
            let mut w = String::new();
            while let Some(x) = chars.next() {
                if x == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        w.push('"');
                        continue;
                    }
                    break;
                }
                w.push(x);
            }
            out.push(w);
        } else if ch == '\'' {
            // A string literal ('english'): not a column.
            while let Some(x) = chars.next() {
                if x == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        continue;
                    }
                    break;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let mut w = ch.to_lowercase().to_string();
            while let Some(&x) = chars.peek() {
                if x.is_alphanumeric() || x == '_' || x == '$' {
                    w.extend(x.to_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(w);
        }
    }
    out
}

/// Sources clients cannot read (a source that is no field at all counts as hidden).
fn hidden_sources(r: &Resource, sources: &[String]) -> Vec<String> {
    sources.iter().filter(|s| !r.fields.iter().any(|f| &&f.column == s && f.readable())).cloned().collect()
}

/// A `tsvector` column whose sources clients can read, else text columns with trigram indexes,
/// else nothing. A vector built from hidden columns, or from sources the schema does not say, is
/// left alone: `q=` would answer questions about what it holds.
fn detect(t: &Table, r: &mut Resource, config: Option<String>) -> Option<Search> {
    if let Some(c) = t.columns.iter().find(|c| is_vector(c)) {
        match vector_sources(t, c).map(|s| hidden_sources(r, &s)) {
            Some(hidden) if hidden.is_empty() => return Some(Search::Vector { column: c.name.clone(), config }),
            Some(hidden) => r.note(
                "search",
                format!(
                    "{}: q= does not search {} (built from {}, which clients cannot read); name readable columns with search = [...]",
                    r.table,
                    c.name,
                    hidden.join(", ")
                ),
            ),
            None => r.note(
                "search",
                format!(
                    "{}: q= does not search {} (what it is built from is not in the schema); search = [\"{}\"] searches it, or name text columns",
                    r.table, c.name, c.name
                ),
            ),
        }
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
    fn index_names_follow_the_expression_fit_postgres_and_are_found_again() {
        let name = |table: &str, columns: &[&str]| {
            let def = format!(
                "USING gin (({}))",
                super::text_document(&columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(), "simple")
            );
            format!("{}_{:08x}", super::index_prefix(table), super::fnv1a(format!("public.{table} {def}").as_bytes()))
        };
        let a = name("articles", &["title", "body"]);
        assert_eq!(a, name("articles", &["title", "body"]), "stable");
        assert_ne!(a, name("articles", &["title"]), "another expression, another name");
        let family = regex_lite(&super::index_family("articles"));
        assert!(family(&a) && family("articles_search") && !family("articles_search_by_title"));
        let long = "t".repeat(63);
        let n = name(&long, &["a"]);
        assert!(n.len() <= 63, "{n}");
        assert!(regex_lite(&super::index_family(&long))(&n));
        assert_ne!(n, name(&format!("{long}x"), &["a"]), "tables alike in their first 47 bytes differ");
        assert_eq!(super::legacy_index_name(&"é".repeat(40)).len(), 62, "cut at 63 bytes, on a character");
        assert!(super::index_family("a.b$c").starts_with("^a\\.b\\$c_search"));
    }

    /// Enough of a regular expression for `^<literal>(_[0-9a-f]{8})?$`.
    fn regex_lite(re: &str) -> impl Fn(&str) -> bool + use<> {
        let literal = re.trim_start_matches('^').trim_end_matches("(_[0-9a-f]{8})?$").replace('\\', "");
        move |s: &str| {
            s.strip_prefix(literal.as_str()).is_some_and(|rest| {
                rest.is_empty()
                    || (rest.len() == 9 && rest.starts_with('_') && rest[1..].chars().all(|c| c.is_ascii_hexdigit()))
            })
        }
    }

    #[test]
    fn identifiers_of_an_expression() {
        let words = super::identifiers("to_tsvector('english', coalesce(title, '') || ' ' || \"Body\" || it''s)");
        assert_eq!(words, ["to_tsvector", "coalesce", "title", "Body", "it", "s"]);
    }

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
