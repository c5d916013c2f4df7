//! `nest-generator`: the command line. The only crate that prints.

mod input;
mod render;

use clap::{Arg, ArgAction, ArgMatches, Command};
use std::process::ExitCode;

/// Exit codes: 0 ok, 1 errors in the input, 2 usage errors.
const EXIT_INPUT: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn input_args(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("schema")
            .long("schema")
            .value_name("PATH")
            .help("SQL file, or folder of .sql files read in name order (migrations); offline, the default"),
    )
    .arg(
        Arg::new("database-url")
            .long("database-url")
            .value_name("URL")
            .env("DATABASE_URL")
            .help("Read a live PostgreSQL catalog instead (postgres://user@host/db)"),
    )
    .arg(
        Arg::new("schemas")
            .long("schemas")
            .value_name("a,b")
            .value_delimiter(',')
            .help("Live only: schemas to read (default: every user schema but `meta`)"),
    )
}

fn cli() -> Command {
    Command::new("nest-generator")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Turn a PostgreSQL schema into a NestJS backend")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(input_args(Command::new("inspect").about("Read a schema and print what the generator sees")).arg(
            Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print the catalog as stable, sorted JSON"),
        ))
        .subcommand(
            Command::new("sql")
                .about("Print SQL the generated application relies on")
                .subcommand_required(true)
                .subcommand(Command::new("meta").about("The metadata schema (meta.*) and uuid_generate_v7()")),
        )
}

fn main() -> ExitCode {
    let matches = match cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    match run(&matches) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}

fn run(m: &ArgMatches) -> anyhow::Result<ExitCode> {
    match m.subcommand() {
        Some(("inspect", sub)) => inspect(sub),
        Some(("sql", sub)) => match sub.subcommand() {
            Some(("meta", _)) => {
                print!("{}", nest_catalog::meta::meta_schema_sql());
                Ok(ExitCode::SUCCESS)
            }
            _ => Ok(ExitCode::from(EXIT_USAGE)),
        },
        _ => Ok(ExitCode::from(EXIT_USAGE)),
    }
}

fn inspect(m: &ArgMatches) -> anyhow::Result<ExitCode> {
    let source = match input::Source::from_args(m) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let catalog = match input::load(&source) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    if m.get_flag("json") {
        println!("{}", catalog.to_json());
        render::diagnostics_summary_stderr(&catalog);
    } else {
        print!("{}", render::summary(&catalog));
        render::diagnostics(&catalog, false);
    }
    Ok(if catalog.has_errors() { ExitCode::from(EXIT_INPUT) } else { ExitCode::SUCCESS })
}
