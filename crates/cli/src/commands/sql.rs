//! `sql meta`, `sql schema` and `sql migrate`: SQL the generated application relies on.

use super::{Outcome, Stop, load_catalog};
use crate::input::{self, Source};
use crate::render;
use clap::ArgMatches;
use nest_catalog::Catalog;
use nest_model::Config;
use nest_sql::migrate::{Renames, migration};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn sql(m: &ArgMatches) -> Outcome {
    match m.subcommand() {
        Some(("meta", _)) => {
            super::out(&nest_catalog::meta::meta_schema_sql());
            Ok(ExitCode::SUCCESS)
        }
        Some(("schema", s)) => schema(s),
        Some(("migrate", s)) => migrate(s),
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
    super::out(&sql);
    for n in notes {
        eprintln!("note: {}", n.0);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--from`/`--to` values: one live database URL, or SQL files and folders.
fn source_of(values: &[String], schemas: Vec<String>) -> Source {
    match values {
        [url] if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Source::Live { url: url.clone(), schemas }
        }
        _ => Source::Offline(values.iter().map(PathBuf::from).collect()),
    }
}

fn describe(source: &Source) -> String {
    match source {
        Source::Offline(paths) => paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        Source::Live { .. } => "a live database".into(),
    }
}

fn read(source: &Source, what: &str) -> Result<Catalog, Stop> {
    let c = input::load(source).map_err(|e| Stop::input(format!("{what}: {e}")))?;
    let unread = c
        .diagnostics
        .iter()
        .any(|d| d.code == nest_catalog::codes::UNPARSED_STATEMENT && d.severity != nest_catalog::Severity::Info);
    if c.has_errors() || unread {
        render::diagnostics(&c, false);
        let why = if c.has_errors() {
            "has errors".to_string()
        } else {
            "has statements the reader could not read: a migration from or to it would drop or miss what they \
             declare; fix them first"
                .to_string()
        };
        return Err(Stop::input(format!("{what} ({}) {why}", describe(source))));
    }
    Ok(c)
}

/// The schema as a fresh install of the project holds it: written out as db/01-schema.sql is
/// (the features' storage decisions: time series partitioned, ...) and read back, so both sides
/// of a migration are compared in the same form.
fn as_installed(c: Catalog, config: &Config) -> Catalog {
    let sel = nest_model::Selection::default();
    let Ok(run) = nest_features::run(&c, config, &sel, nest_features::Stage::Model) else { return c };
    if !run.model.errors.is_empty() {
        return c;
    }
    let (sql, _) = nest_sql::schema_sql_with(&c, &nest_features::storage_plan(&run.model));
    let written = nest_ddl::parse_str("01-schema.sql", &sql);
    if written.has_errors() { c } else { written }
}

/// The app's own schemas, which the project's db/*.sql files keep (not the schema's).
fn without_own_schemas(mut c: Catalog) -> Catalog {
    let own = |s: &str| s == "meta" || s == "nestgen";
    c.tables.retain(|t| !own(&t.schema));
    c.functions.retain(|f| !own(&f.schema));
    c.enums.retain(|e| !own(&e.schema));
    c.domains.retain(|d| !own(&d.schema));
    c.sequences.retain(|x| !own(&x.schema));
    c.schemas.retain(|s| !own(s));
    c
}

fn renames(m: &ArgMatches, to: &Catalog) -> Result<Renames, Stop> {
    let mut r = Renames::default();
    let values = |name: &str| m.get_many::<String>(name).map(|v| v.cloned().collect::<Vec<_>>()).unwrap_or_default();
    for v in values("rename-table") {
        let Some((old, new)) = v.split_once('=') else {
            return Err(Stop::usage(format!("--rename-table {v}: expected [SCHEMA.]OLD=NEW")));
        };
        let (schema, old) = old.rsplit_once('.').unwrap_or(("public", old));
        r.tables.push((schema.to_string(), old.to_string(), new.to_string()));
    }
    for v in values("rename-column") {
        let parsed = v.split_once('=').and_then(|(left, new)| {
            let parts: Vec<&str> = left.split('.').collect();
            match parts.as_slice() {
                [table, old] => {
                    // The table's schema: the one the new schema has it in (public when several).
                    let mut found = to.tables.iter().filter(|t| t.name == *table).map(|t| t.schema.as_str());
                    let schema = match (found.next(), found.next()) {
                        (Some(s), None) => s,
                        _ => "public",
                    };
                    Some((schema.to_string(), table.to_string(), old.to_string(), new.to_string()))
                }
                [schema, table, old] => Some((schema.to_string(), table.to_string(), old.to_string(), new.to_string())),
                _ => None,
            }
        });
        match parsed {
            Some(x) => r.columns.push(x),
            None => return Err(Stop::usage(format!("--rename-column {v}: expected [SCHEMA.]TABLE.OLD=NEW"))),
        }
    }
    Ok(r)
}

/// `YYYYMMDDHHMMSS` in UTC.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

fn migrate(m: &ArgMatches) -> Outcome {
    let name = m.get_one::<String>("name").map_or("migration", String::as_str);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Stop::usage(format!("--name {name}: letters, digits, - and _ only")));
    }
    // The schema to move to, as for generate (or --to).
    let resolved = input::resolve(m, None);
    let to_source = match m.get_many::<String>("to") {
        Some(v) => source_of(&v.cloned().collect::<Vec<_>>(), Vec::new()),
        None => resolved.as_ref().map_err(|e| Stop::usage(e.clone()))?.source.clone(),
    };
    let config = resolved.map(|r| r.config).unwrap_or_default();
    let to = without_own_schemas(as_installed(read(&to_source, "the new schema")?, &config));
    let default_from = Path::new("db/01-schema.sql");
    let from_source = match m.get_many::<String>("from") {
        Some(v) => {
            let mut schemas: Vec<String> = to.tables.iter().map(|t| t.schema.clone()).collect();
            schemas.push("public".into());
            schemas.sort();
            schemas.dedup();
            source_of(&v.cloned().collect::<Vec<_>>(), schemas)
        }
        None if default_from.is_file() => Source::Offline(vec![default_from.to_path_buf()]),
        None => {
            return Err(Stop::usage(
                "no --from: name the schema the database has now (SQL files, or postgres://...), or run this in a \
                 project folder, whose db/01-schema.sql is the schema as last generated",
            ));
        }
    };
    let from_raw = read(&from_source, "the previous schema")?;
    let from = match (&from_source, m.get_many::<String>("from")) {
        (Source::Offline(_), Some(_)) => as_installed(from_raw, &config),
        _ => from_raw,
    };
    let from = without_own_schemas(from);
    let renames = renames(m, &to)?;
    let plan = migration(&from, &to, &renames).map_err(Stop::input)?;
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    if plan.is_empty() {
        eprintln!("no changes between {} and {}: nothing written", describe(&from_source), describe(&to_source));
        return Ok(ExitCode::SUCCESS);
    }
    let destructive: Vec<&str> = plan.destructive().filter_map(|s| s.destructive.as_deref()).collect();
    if !destructive.is_empty() && !m.get_flag("allow-destructive") {
        let mut msg = String::from("the migration loses data; nothing was written:\n");
        for d in &destructive {
            msg.push_str(&format!("  - {d}\n"));
        }
        for h in &plan.hints {
            msg.push_str(&format!("  hint: {h}\n"));
        }
        msg.push_str(
            "  review these, then pass --allow-destructive (or name renames with --rename-column / --rename-table)",
        );
        return Err(Stop::input(msg));
    }
    let header = vec![
        format!("Migration made by nest-generator {}", env!("CARGO_PKG_VERSION")),
        format!("from: {}", describe(&from_source)),
        format!("to:   {}", describe(&to_source)),
        "Review it, then `npm run migrate` applies it once, in one transaction with db/*.sql's feature files.".into(),
        format!("Statements: {}, of which destructive: {}.", plan.steps.len(), destructive.len()),
    ];
    let text = plan.text(&header);
    match m.get_one::<String>("out") {
        None => super::out(&text),
        Some(dir) => {
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir).map_err(|e| Stop::input(format!("{}: {e}", dir.display())))?;
            let path = dir.join(format!("{}_{name}.sql", timestamp()));
            // Whole or not at all, and never over another file: written aside, then linked.
            let aside = dir.join(format!(".{}_{name}.sql.{}", timestamp(), std::process::id()));
            let written = std::fs::write(&aside, &text).and_then(|()| std::fs::hard_link(&aside, &path));
            let _ = std::fs::remove_file(&aside);
            written.map_err(|e| Stop::input(format!("{}: {e} (nothing written)", path.display())))?;
            eprintln!(
                "wrote {}: {} statements ({} destructive); review it, then `npm run migrate`",
                path.display(),
                plan.steps.len(),
                destructive.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
