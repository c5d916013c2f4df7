//! One module per subcommand. A command returns its exit code, or stops with [`Stop`] after
//! saying why.

mod explain;
mod generate;
mod inspect;
mod sql;

pub use explain::explain;
pub use generate::{generate, remove};
pub use inspect::inspect;
pub use sql::sql;

use crate::input;
use crate::{EXIT_INPUT, EXIT_USAGE};
use clap::ArgMatches;
use std::fmt::Display;
use std::process::ExitCode;

/// Writes `text` to standard output. A reader that has gone away (`inspect | head`) ends the
/// program quietly, as Unix tools end, instead of a panic about a broken pipe.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

/// A command stopped: the reason is printed, the process exits with the code.
pub struct Stop(pub u8);

impl Stop {
    /// An error in the input (the schema, the settings, a merge): exit 1.
    pub fn input(msg: impl Display) -> Self {
        eprintln!("error: {msg}");
        Stop(EXIT_INPUT)
    }

    /// A usage error (arguments): exit 2.
    pub fn usage(msg: impl Display) -> Self {
        eprintln!("error: {msg}");
        Stop(EXIT_USAGE)
    }
}

pub type Outcome = Result<ExitCode, Stop>;

/// The `TABLE ...` arguments.
fn tables_arg(m: &ArgMatches) -> Vec<String> {
    m.get_many::<String>("tables").map(|v| v.cloned().collect()).unwrap_or_default()
}

/// Load the catalog named by the input arguments.
fn load_catalog(m: &ArgMatches) -> Result<(input::Resolved, nest_catalog::Catalog), Stop> {
    let resolved = input::resolve(m, None).map_err(Stop::usage)?;
    let catalog = input::load(&resolved.source).map_err(Stop::input)?;
    Ok((resolved, catalog))
}
