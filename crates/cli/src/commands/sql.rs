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
    let (_, catalog) = load_catalog(m)?;
    if catalog.has_errors() {
        render::diagnostics(&catalog, false);
        return Ok(ExitCode::from(crate::EXIT_INPUT));
    }
    let (sql, notes) = nest_sql::schema_sql(&catalog);
    print!("{sql}");
    for n in notes {
        eprintln!("note: {}", n.0);
    }
    Ok(ExitCode::SUCCESS)
}
