//! `explain [TABLE ...]`: what the pipeline resolved for tables, and why.

use super::{Outcome, Stop, load_catalog, tables_arg};
use crate::render;
use clap::ArgMatches;
use nest_features::Stage;
use nest_model::{Flags, QualifiedName, Selection};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

pub fn explain(m: &ArgMatches, flags: Flags) -> Outcome {
    let (resolved, catalog) = load_catalog(m)?;
    if catalog.has_errors() {
        render::diagnostics(&catalog, false);
        return Ok(ExitCode::from(crate::EXIT_INPUT));
    }
    // The whole schema decides cross-table settings (who signs in, RBAC, the audit trail); the
    // flags apply to the named tables, and only those are printed. Inside a project, the flags
    // it was generated with (its manifest) count too, as `generate` applies them.
    let manifest = nest_write::read_manifest(Path::new(".")).ok().flatten().unwrap_or_default();
    let mut recorded: BTreeMap<String, Flags> = manifest
        .tables
        .iter()
        .filter(|(t, _)| catalog.find_table(t).is_some())
        .map(|(t, f)| (t.clone(), Flags { features: f.clone() }))
        .collect();
    let mut wanted: Vec<QualifiedName> = Vec::new();
    for spec in tables_arg(m) {
        let Some(t) = catalog.find_table(&spec) else {
            let known = catalog.tables.iter().map(|t| t.name.clone()).collect();
            let d = nest_model::ModelError::UnknownTable { spec, known }.to_diagnostic();
            eprintln!("{}", render::format_diagnostic(&d, None));
            return Err(Stop(crate::EXIT_INPUT));
        };
        let key = t.qualified_name().to_string();
        let key = recorded.keys().find(|k| **k == key || **k == t.name).cloned().unwrap_or(key);
        recorded.entry(key).or_default().features.extend(flags.features.clone());
        wanted.push(t.qualified_name());
    }
    let flags = if wanted.is_empty() { flags } else { Flags::default() };
    let sel = Selection { tables: Vec::new(), flags, recorded };
    let mut model = nest_features::run(&catalog, &resolved.config, &sel, Stage::Model).map_err(Stop::input)?.model;
    if !model.errors.is_empty() {
        render::model_errors(&model);
        return Ok(ExitCode::from(crate::EXIT_INPUT));
    }
    if !wanted.is_empty() {
        model.resources.retain(|r| wanted.iter().any(|q| r.is(q)));
    }
    super::out(&render::explain(&model));
    Ok(ExitCode::SUCCESS)
}
