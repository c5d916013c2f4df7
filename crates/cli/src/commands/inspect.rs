//! `inspect`: what the generator sees in a schema (a summary, or the catalog as JSON).

use super::{Outcome, load_catalog};
use crate::render;
use clap::ArgMatches;
use std::process::ExitCode;

pub fn inspect(m: &ArgMatches) -> Outcome {
    let (_, catalog) = load_catalog(m)?;
    if m.get_flag("json") {
        super::out(&format!("{}\n", catalog.to_json()));
        render::diagnostics_summary_stderr(&catalog);
    } else {
        super::out(&render::summary(&catalog));
        render::diagnostics(&catalog, false);
    }
    Ok(if catalog.has_errors() { ExitCode::from(crate::EXIT_INPUT) } else { ExitCode::SUCCESS })
}
