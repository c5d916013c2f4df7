//! The generator's features, one folder each, and the pipeline that runs them.
//!
//! A feature folder (`src/<name>/`) holds everything the feature is: `mod.rs` (its definition,
//! its resolution — which tables, which settings, its typed state in the Model — and its
//! contributions to the generated project), `templates/` (its SQL and TypeScript templates),
//! `runtime/` (TypeScript copied verbatim into projects, at the path it has under `runtime/`)
//! and its tests. [`registry`] lists the features; flags, config keys, the CLI help, `explain`
//! and the metadata columns that switch features on all derive from that list.
//!
//! Adding a feature: see CONTRIBUTING.md ("Add a feature").

mod audit;
mod auth;
mod cache;
mod event_sourcing;
mod files;
mod notifications;
mod own_rows;
mod rbac;
pub mod registry;
mod schema;
mod switches;
mod tenancy;
#[cfg(test)]
mod testing;
mod time_series;

use nest_catalog::Catalog;
use nest_model::{Config, Model, Resolve, Selection, Vocabulary};
use nest_nestjs::{Contribute, FileTree, GenerateOptions, RenderError};

pub use registry::FEATURES;

/// A feature: its model side and its emit side.
pub trait Feature: Resolve + Contribute {}

impl<T: Resolve + Contribute> Feature for T {}

fn resolvers() -> Vec<&'static dyn Resolve> {
    FEATURES.iter().map(|f| *f as &dyn Resolve).collect()
}

fn contributors() -> Vec<&'static dyn Contribute> {
    FEATURES.iter().map(|f| *f as &dyn Contribute).collect()
}

/// Every feature name and config key the generator knows.
pub fn vocabulary() -> Vocabulary {
    Vocabulary {
        features: FEATURES.iter().map(|f| f.def()).collect(),
        keys: FEATURES.iter().flat_map(|f| f.config_keys().iter()).collect(),
    }
}

/// The settings of a file given with `--config`, for a new project's own nest-generator.toml
/// (so regenerating from the project keeps them): the text as written, with the top-level
/// `schema`, `database_url` and `out` commented out (the project names its own input and is
/// its own output), and whether it has a `[project]` table. None when the text is no valid
/// TOML (it was read with the same parser already) or holds nothing else.
pub fn kept_settings(text: &str) -> Option<(String, bool)> {
    let table: toml::Table = text.parse().ok()?;
    let mut out = String::new();
    let mut top = true;
    let mut open = 0i32;
    let mut kept = 0usize;
    for line in text.lines() {
        let t = line.trim_start();
        if open == 0 && t.starts_with('[') {
            top = false;
        }
        let key = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        let skip = open > 0 || (top && t.contains('=') && ["schema", "database_url", "out"].contains(&key));
        if skip {
            open += line.matches('[').count() as i32 - line.matches(']').count() as i32;
            out.push_str("# ");
        } else if !t.is_empty() && !t.starts_with('#') {
            kept += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    // What is left must still read as TOML (a value this simple scan misjudged: keep nothing).
    if kept == 0 || out.parse::<toml::Table>().is_err() {
        return None;
    }
    Some((out, table.contains_key("project")))
}

/// `nest-generator.toml`, checked against the registry.
pub fn parse_config(text: &str) -> Result<Config, String> {
    Config::parse(text, &vocabulary())
}

/// Catalog + settings → Model: the core resources, then every feature's resolution.
pub fn build_model(catalog: &Catalog, config: &Config, selection: &Selection) -> Model {
    nest_model::build(catalog, config, selection, &resolvers())
}

/// What `explain` prints about a resource besides its core settings, from every feature.
pub fn explain_lines(m: &Model, r: &nest_model::Resource) -> Vec<String> {
    FEATURES.iter().flat_map(|f| f.explain(m, r)).collect()
}

/// Everything `generate` produces for a catalog, in memory.
pub struct Generated {
    pub model: Model,
    pub tree: FileTree,
    /// Decisions taken while writing db/01-schema.sql.
    pub sql_notes: Vec<String>,
}

/// How far the pipeline runs.
pub enum Stage<'a> {
    /// The Model only (`explain`).
    Model,
    /// The Model and the project's files (`generate`).
    Files(&'a GenerateOptions),
}

/// The one pipeline `generate` and `explain` run: Catalog + settings → Model (core, then every
/// feature's resolution) → files (core templates and runtime, every feature's contributions,
/// and db/00-meta.sql, db/01-schema.sql written from the input itself). No disk access besides
/// reading a user template folder when one is given. The tree is empty when the Model has
/// errors or the stage is [`Stage::Model`].
pub fn run(catalog: &Catalog, config: &Config, selection: &Selection, stage: Stage) -> Result<Generated, RenderError> {
    let model = build_model(catalog, config, selection);
    let Stage::Files(options) = stage else {
        return Ok(Generated { model, tree: FileTree::new(), sql_notes: Vec::new() });
    };
    if !model.errors.is_empty() {
        return Ok(Generated { model, tree: FileTree::new(), sql_notes: Vec::new() });
    }
    let (schema_sql, notes) = nest_sql::schema_sql_with(catalog, &storage_plan(&model));
    let db = vec![
        ("db/00-meta.sql".to_string(), nest_catalog::meta::meta_schema_sql()),
        ("db/01-schema.sql".to_string(), schema_sql),
    ];
    let tree = nest_nestjs::render(&model, &contributors(), db, options)?;
    Ok(Generated { model, tree, sql_notes: notes.into_iter().map(|n| n.0).collect() })
}

/// The features' storage decisions, for the schema writer.
pub fn storage_plan(m: &Model) -> nest_sql::Storage {
    let mut plan = nest_sql::Storage::default();
    for r in &m.resources {
        match &r.storage {
            nest_model::Storage::AsDeclared => {}
            nest_model::Storage::TimePartitioned { column } => plan.time_partitioned.push((r.qname(), column.clone())),
            nest_model::Storage::RollupTable => plan.rollup_tables.push(r.qname()),
        }
    }
    plan
}

/// Paths of the files every project copies verbatim (the core's and every feature's runtime,
/// and the lockfile): snapshots list them by path only.
pub fn runtime_paths() -> Vec<&'static str> {
    nest_nestjs::static_paths()
        .chain(FEATURES.iter().flat_map(|f| f.assets().runtime.iter().map(|(p, _)| *p)))
        .collect()
}

/// Every npm package a project lists.
pub fn packages() -> Vec<nest_nestjs::Package> {
    nest_nestjs::packages(&contributors())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The shipped lockfile is the lockfile of exactly the packages of the core and every
    /// registered feature: `npm ci` accepts it in every project.
    #[test]
    fn lockfile_matches_the_pinned_packages() {
        let lock: serde_json::Value = serde_json::from_str(nest_nestjs::LOCKFILE).unwrap();
        let root = &lock["packages"][""];
        for (key, dev) in [("dependencies", false), ("devDependencies", true)] {
            let wanted: BTreeMap<String, String> = packages()
                .iter()
                .filter(|p| p.dev == dev)
                .map(|p| (p.name.to_string(), p.version.to_string()))
                .collect();
            let locked: BTreeMap<String, String> = root[key]
                .as_object()
                .unwrap()
                .iter()
                .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string()))
                .collect();
            assert_eq!(
                locked, wanted,
                "{key} of e2e/package-lock.json and the packages of the core and features differ"
            );
            for (name, version) in &wanted {
                assert_eq!(
                    lock["packages"][format!("node_modules/{name}")]["version"],
                    version.as_str(),
                    "{name} installed"
                );
            }
        }
    }
}

#[cfg(test)]
mod kept_settings_tests {
    #[test]
    fn a_config_file_is_kept_without_its_locations() {
        let text = "schema = [\n  \"a.sql\",\n  \"b.sql\",\n]\nout = \"api\"\n[tables.users]\nsearch = [\"name\"]\n";
        let (kept, project) = super::kept_settings(text).unwrap();
        assert!(!project);
        assert_eq!(
            kept,
            "# schema = [\n#   \"a.sql\",\n#   \"b.sql\",\n# ]\n# out = \"api\"\n[tables.users]\nsearch = [\"name\"]\n"
        );
        assert_eq!(super::kept_settings("schema = \"x.sql\"\n# only a comment\n"), None);
        assert!(super::kept_settings("[project]\nname = \"x\"\n").unwrap().1);
    }
}
