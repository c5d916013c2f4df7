//! `sql meta` and `sql schema`: SQL the generated application relies on.

use super::{Outcome, load_catalog};
use crate::render;
use clap::ArgMatches;
use std::process::ExitCode;

pub fn sql(m: &ArgMatches) -> Outcome {
    match m.subcommand() {
        Some(("meta", _)) => {
            print!("{}", nest_catalog::meta::meta_schema_sql());
            Ok(ExitCode::SUCCESS)
        }
        Some(("schema", s)) => schema(s),
        _ => Ok(ExitCode::from(crate::EXIT_USAGE)),
    }
}

fn schema(m: &ArgMatches) -> Outcome {
    let (resolved, catalog) = load_catalog(m)?;
    if catalog.has_errors() {
        render::diagnostics(&catalog, false);
        return Ok(ExitCode::from(crate::EXIT_INPUT));
    }
    // The same storage decisions as generate's db/01-schema.sql (time series partitioned, ...).
    let sel = nest_model::Selection::default();
    let model = nest_features::run(&catalog, &resolved.config, &sel, nest_features::Stage::Model)
        .map_err(super::Stop::input)?
        .model;
    if !model.errors.is_empty() {
        render::model_errors(&model);
        return Ok(ExitCode::from(crate::EXIT_INPUT));
    }
    let (sql, notes) = nest_sql::schema_sql_with(&catalog, &nest_features::storage_plan(&model));
    print!("{sql}");
    for n in notes {
        eprintln!("note: {}", n.0);
    }
    Ok(ExitCode::SUCCESS)
}
