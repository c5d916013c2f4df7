//! `nest-generator`: the command line. The only crate that prints.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod fingerprint;
mod input;
mod render;

use clap::{Arg, ArgAction, ArgMatches, Command};
use nest_model::Flags;
use std::process::ExitCode;

/// Exit codes: 0 ok, 1 errors in the input (or merge conflicts), 2 usage errors.
pub const EXIT_INPUT: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

fn input_args(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("schema")
            .long("schema")
            .value_name("PATH")
            .action(ArgAction::Append)
            .help("SQL file, or folder of .sql files read in name order (migrations); offline, the default. Repeat to read several in order"),
    )
    .arg(
        Arg::new("database-url")
            .long("database-url")
            .value_name("URL")
            .help("Read a live PostgreSQL catalog instead (postgres://user@host/db); DATABASE_URL is used when nothing else names an input"),
    )
    .arg(
        Arg::new("schemas")
            .long("schemas")
            .value_name("a,b")
            .value_delimiter(',')
            .help("Live only: schemas to read (default: every user schema but `meta`)"),
    )
    .arg(
        Arg::new("config")
            .long("config")
            .value_name("FILE")
            .help("Settings file (default: ./nest-generator.toml when present)"),
    )
}

fn cli() -> Command {
    Command::new("nest-generator")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Turn a PostgreSQL schema into a NestJS backend")
        .after_help(format!(
            "Feature flags: --features.<name>=true|false ({})",
            nest_features::vocabulary().feature_list()
        ))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            input_args(Command::new("inspect").about("Read a schema and print what the generator sees"))
                .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print the catalog as stable, sorted JSON")),
        )
        .subcommand(
            input_args(Command::new("generate").about("Generate a NestJS project, or add tables to one"))
                .arg(Arg::new("tables").value_name("TABLE").num_args(0..).help("Tables to generate (name or schema.name); default: all, or the project's tables"))
                .arg(Arg::new("all").long("all").action(ArgAction::SetTrue).help("Every table of the schema"))
                .arg(Arg::new("out").long("out").short('o').value_name("DIR").help("Project folder (default: config `out`, or the current folder if it is a generated project)"))
                .arg(Arg::new("force").long("force").action(ArgAction::SetTrue).help("Generate into a non-empty folder that is not a generated project (existing files are merged, never overwritten)"))
                .arg(Arg::new("dry-run").long("dry-run").action(ArgAction::SetTrue).help("Print a unified diff of what would change; write nothing"))
                .arg(Arg::new("check").long("check").action(ArgAction::SetTrue).help("Exit 1 and list stale files if the project is not up to date; write nothing"))
                .arg(Arg::new("templates").long("templates").value_name("DIR").help("Folder of .j2 templates overriding the built-in ones by name")),
        )
        .subcommand(
            input_args(Command::new("remove").about("Remove tables' modules from a generated project (edited files are kept)"))
                .arg(Arg::new("tables").value_name("TABLE").num_args(1..).required(true))
                .arg(Arg::new("out").long("out").short('o').value_name("DIR").help("Project folder (default: the current folder)"))
                .arg(Arg::new("force").long("force").action(ArgAction::SetTrue).hide(true))
                .arg(Arg::new("dry-run").long("dry-run").action(ArgAction::SetTrue).help("Print what would change; write nothing"))
                .arg(Arg::new("check").long("check").action(ArgAction::SetTrue).hide(true))
                .arg(Arg::new("templates").long("templates").value_name("DIR").hide(true)),
        )
        .subcommand(
            input_args(Command::new("explain").about("Print what the generator resolved for tables, and why"))
                .arg(Arg::new("tables").value_name("TABLE").num_args(0..)),
        )
        .subcommand(
            Command::new("sql")
                .about("Print SQL the generated application relies on")
                .subcommand_required(true)
                .subcommand(Command::new("meta").about("The metadata schema (meta.*) and uuid_generate_v7()"))
                .subcommand(input_args(Command::new("schema").about("DDL for the schema, loadable on PostgreSQL 15+")))
                .subcommand(
                    input_args(Command::new("migrate").about(
                        "A migration from a previous schema (or a live database) to the schema: reviewable SQL that \
                         `npm run migrate` applies once",
                    ))
                    .arg(
                        Arg::new("from")
                            .long("from")
                            .value_name("PATH|URL")
                            .action(ArgAction::Append)
                            .help("The schema the database has now: SQL files/folders, or postgres://... (default: db/01-schema.sql of the project in the current folder, the schema as last generated)"),
                    )
                    .arg(
                        Arg::new("to")
                            .long("to")
                            .value_name("PATH|URL")
                            .action(ArgAction::Append)
                            .help("The schema to move to (default: the input, as for generate: --schema, the settings file, ...)"),
                    )
                    .arg(
                        Arg::new("rename-table")
                            .long("rename-table")
                            .value_name("[SCHEMA.]OLD=NEW")
                            .action(ArgAction::Append)
                            .help("A table renamed (otherwise it is dropped and another created)"),
                    )
                    .arg(
                        Arg::new("rename-column")
                            .long("rename-column")
                            .value_name("[SCHEMA.]TABLE.OLD=NEW")
                            .action(ArgAction::Append)
                            .help("A column renamed (TABLE as the new schema names it); otherwise it is dropped and another added"),
                    )
                    .arg(
                        Arg::new("allow-destructive")
                            .long("allow-destructive")
                            .action(ArgAction::SetTrue)
                            .help("Write steps that lose data (dropped tables and columns, narrowed types); refused without it"),
                    )
                    .arg(
                        Arg::new("out")
                            .long("out")
                            .value_name("DIR")
                            .help("Write DIR/<UTC timestamp>_<name>.sql (e.g. db/migrations) instead of printing"),
                    )
                    .arg(
                        Arg::new("name")
                            .long("name")
                            .value_name("NAME")
                            .default_value("migration")
                            .help("The file's name after its timestamp (letters, digits, - and _)"),
                    ),
                ),
        )
}

/// Take `--features.x=y` out of the arguments (clap cannot declare open-ended names).
fn split_feature_flags(args: Vec<String>) -> Result<(Vec<String>, Flags), String> {
    let mut flags = Flags::default();
    let mut rest = Vec::new();
    let vocab = nest_features::vocabulary();
    for a in args {
        if a.starts_with("--features.") {
            flags.parse_one(&a, &vocab)?;
        } else {
            rest.push(a);
        }
    }
    Ok((rest, flags))
}

fn main() -> ExitCode {
    let (args, flags) = match split_feature_flags(std::env::args().collect()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let matches = match cli().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    match run(&matches, flags) {
        Ok(code) => code,
        Err(commands::Stop(code)) => ExitCode::from(code),
    }
}

fn run(m: &ArgMatches, flags: Flags) -> commands::Outcome {
    match m.subcommand() {
        Some(("inspect", sub)) => commands::inspect(sub),
        Some(("generate", sub)) => commands::generate(sub, flags),
        Some(("remove", sub)) => commands::remove(sub),
        Some(("explain", sub)) => commands::explain(sub, flags),
        Some(("sql", sub)) => commands::sql(sub),
        _ => Ok(ExitCode::from(EXIT_USAGE)),
    }
}
