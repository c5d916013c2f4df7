//! `generate [TABLE ...]` and `remove TABLE ...`: the pipeline's files written into a project.

use super::{Outcome, Stop, tables_arg};
use crate::input::{self, Source};
use crate::{EXIT_INPUT, fingerprint, render};
use clap::ArgMatches;
use nest_catalog::Catalog;
use nest_features::{Generated, Stage};
use nest_model::{Config, Flags, Model, Selection};
use nest_nestjs::{FileTree, GenerateOptions};
use nest_write::{Action, Manifest, Options, RecordedSource, STATE_DIR, Scope, SourceKind};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// `to` relative to the folder `from` (both made absolute first).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    };
    let (f, t) = (abs(from), abs(to));
    let fc: Vec<_> = f.components().collect();
    let tc: Vec<_> = t.components().collect();
    let common = fc.iter().zip(&tc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..fc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

fn recorded_source(manifest: &Manifest, out: &Path) -> Option<Source> {
    match manifest.source.kind {
        Some(SourceKind::Schema) if !manifest.source.paths.is_empty() => {
            Some(Source::Offline(manifest.source.paths.iter().map(|x| out.join(x)).collect()))
        }
        _ => None,
    }
}

/// What to generate: named tables (plus the project's recorded ones), everything, or the
/// recorded set; minus removed tables and tables the schema no longer has.
fn selection(
    named: &[String],
    all: bool,
    flags: Flags,
    manifest: &Manifest,
    catalog: &nest_catalog::Catalog,
    removed: &[String],
) -> Selection {
    let matches = |key: &str, n: &str| key == n || key.rsplit('.').next() == Some(n);
    let mut recorded: BTreeMap<String, Flags> = BTreeMap::new();
    for (t, f) in &manifest.tables {
        if removed.iter().any(|r| matches(t, r)) {
            continue;
        }
        if catalog.find_table(t).is_none() {
            eprintln!(
                "note: {t} is no longer in the schema: its generated files are removed (files you edited are kept)"
            );
            continue;
        }
        recorded.insert(t.clone(), Flags { features: f.clone() });
    }
    // A project generated for the whole schema follows it: new tables are picked up.
    let whole_schema = removed.is_empty()
        && (all || manifest.source.scope == Some(Scope::All) || (named.is_empty() && recorded.is_empty()));
    let tables = if whole_schema {
        Vec::new()
    } else {
        let mut t: Vec<String> = recorded.keys().cloned().collect();
        for n in named {
            if !t.iter().any(|x| matches(x, n)) {
                t.push(n.clone());
            }
        }
        t
    };
    // Flags apply to the named tables, or to everything when none is named.
    let mut sel = Selection { tables, flags: Flags::default(), recorded };
    if named.is_empty() {
        sel.flags = flags;
    } else {
        for n in named {
            let key = sel.recorded.keys().find(|k| matches(k, n)).cloned();
            let key = key.unwrap_or_else(|| match catalog.find_table(n) {
                Some(t) => format!("{}.{}", t.schema, t.name),
                None => n.clone(),
            });
            sel.recorded.entry(key).or_default().features.extend(flags.features.clone());
        }
    }
    sel
}

/// Notes per resource; the same note for many tables is printed once with a count.
fn print_notes(model: &Model) {
    let mut grouped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &model.resources {
        for n in &r.notes {
            grouped.entry(n.message.as_str()).or_default().push(r.qualified());
        }
    }
    // One write: thousands of unbuffered lines to a pipe or terminal take a tenth of a second.
    let mut text = String::new();
    for (note, tables) in grouped {
        if tables.len() <= 3 {
            text.push_str(&format!("note: {}: {note}\n", tables.join(", ")));
        } else {
            text.push_str(&format!("note: {} tables ({}, ...): {note}\n", tables.len(), tables[..3].join(", ")));
        }
    }
    eprint!("{text}");
}

pub fn generate(m: &ArgMatches, flags: Flags) -> Outcome {
    run(m, flags, &tables_arg(m), m.get_flag("all"), &[])
}

/// `remove TABLE ...`: regenerate without the tables; their files go (edited ones stay).
pub fn remove(m: &ArgMatches) -> Outcome {
    run(m, Flags::default(), &[], false, &tables_arg(m))
}

fn run(m: &ArgMatches, flags: Flags, named: &[String], all: bool, removed: &[String]) -> Outcome {
    let out = output_dir(m)?;
    let manifest = nest_write::read_manifest(&out).map_err(Stop::input)?.unwrap_or_default();
    let resolved = input::resolve_with(m, Some(&out), recorded_source(&manifest, &out)).map_err(Stop::usage)?;
    let config = project_config(&resolved.config, &out);
    let schema_paths = schema_paths(&resolved.source, &out);
    let options = GenerateOptions {
        template_dir: m.get_one::<String>("templates").map(PathBuf::from),
        schema_setting: schema_paths.as_ref().map(|rels| toml_value(rels)),
        kept_settings: m
            .get_one::<String>("config")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| nest_features::kept_settings(&text)),
    };
    // Schema files are read once: hashed for the up-to-date check, then parsed.
    let sources = match &resolved.source {
        Source::Offline(paths) => read_sources(paths),
        Source::Live { .. } => None,
    };
    // What decides the output besides the schema's bytes: the merged settings (where the schema
    // and the project are is not among them: a new project's own nest-generator.toml names
    // them, and the next run must see the same settings), the arguments, the options.
    let output_settings = Config { schema: None, database_url: None, out: None, ..config.clone() };
    let settings =
        format!("{output_settings:?}\n{flags:?}\n{named:?}\n{all}\n{removed:?}\n{:?}", options.schema_setting);
    let inputs = sources.as_ref().and_then(|s| fingerprint::inputs(s, &settings, options.template_dir.as_deref()));
    let plain = !(m.get_flag("check") || m.get_flag("dry-run") || m.get_flag("force"));
    if plain
        && removed.is_empty()
        && let Some(i) = &inputs
        && fingerprint::up_to_date(&out, &manifest, i)
    {
        eprintln!(
            "{}: up to date: schema, settings, templates and generator are those of the last generation, \
             and its {} files are in place; nothing written",
            out.display(),
            manifest.files.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = match sources {
        Some(files) => nest_ddl::parse_sources(&files),
        None => input::load(&resolved.source).map_err(Stop::input)?,
    };
    render::diagnostics(&catalog, false);
    if catalog.has_errors() {
        eprintln!("nothing was written: fix the input first");
        return Err(Stop(EXIT_INPUT));
    }
    check_removed(removed, &manifest)?;
    let sel = selection(named, all, flags, &manifest, &catalog, removed);
    if !removed.is_empty() && sel.tables.is_empty() {
        return Err(Stop::usage(format!(
            "removing {} would leave the project without tables; delete the folder instead",
            removed.join(", ")
        )));
    }
    let generated = pipeline(&catalog, &config, &sel, &options)?;
    let mut record = manifest_record(&generated.model, &sel, schema_paths);
    record.fingerprint = inputs.map(|i| fingerprint::with_record(&i, &record));
    write(m, &out, &generated.tree, &record, generated.model.resources.len())
}

/// Every schema file of the offline input, or None when one cannot be read (the reader then
/// reports it where it is).
fn read_sources(paths: &[PathBuf]) -> Option<Vec<nest_ddl::SourceFile>> {
    let mut files = Vec::new();
    for p in paths {
        files.extend(nest_ddl::source::load(p).ok()?);
    }
    Some(files)
}

/// The project folder: `--out`, the config's `out`, or the current folder when it is a project.
fn output_dir(m: &ArgMatches) -> Result<PathBuf, Stop> {
    if let Some(o) = m.get_one::<String>("out") {
        return Ok(PathBuf::from(o));
    }
    // The config can name the output folder, so read it first (from the current folder).
    let pre = input::resolve_with(m, None, Some(Source::Offline(vec![PathBuf::from(".")])));
    if let Ok(r) = &pre
        && let Some(o) = &r.config.out
    {
        return Ok(r.config_dir.clone().unwrap_or_default().join(o));
    }
    if Path::new(STATE_DIR).join("manifest.json").exists() {
        return Ok(PathBuf::from("."));
    }
    Err(Stop::usage(
        "no output folder: pass --out DIR, set `out` in nest-generator.toml, or run inside a generated project",
    ))
}

fn check_removed(removed: &[String], manifest: &Manifest) -> Result<(), Stop> {
    for r in removed {
        if !manifest.tables.keys().any(|k| k == r || k.rsplit('.').next() == Some(r.as_str())) {
            return Err(Stop::usage(format!(
                "{r} is not a table of this project (its tables: {})",
                manifest.tables.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// The config, with the project named after its folder when the config does not name it.
fn project_config(config: &Config, out: &Path) -> Config {
    let mut config = config.clone();
    if config.project.name.is_none() {
        let name = std::fs::canonicalize(out)
            .ok()
            .or_else(|| std::env::current_dir().ok().map(|d| d.join(out)))
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_else(|| "nest-api".into());
        config.project.name = Some(nest_model::names::kebab(&name));
    }
    config
}

/// Where the schema is, relative to the project, for later runs inside it (files only).
fn schema_paths(source: &Source, out: &Path) -> Option<Vec<String>> {
    match source {
        Source::Offline(paths) => {
            Some(paths.iter().map(|p| relative(out, p).to_string_lossy().replace('\\', "/")).collect())
        }
        _ => None,
    }
}

/// `"../db"` or `["a.sql", "b.sql"]`: the `schema` value of a new project's nest-generator.toml.
fn toml_value(paths: &[String]) -> String {
    match paths {
        [one] => serde_json::Value::String(one.clone()).to_string(),
        _ => serde_json::Value::from(paths.to_vec()).to_string(),
    }
}

/// The pipeline, with the model's errors and notes printed.
fn pipeline(catalog: &Catalog, config: &Config, sel: &Selection, options: &GenerateOptions) -> Result<Generated, Stop> {
    let generated = nest_features::run(catalog, config, sel, Stage::Files(options)).map_err(Stop::input)?;
    let model = &generated.model;
    if !model.errors.is_empty() {
        render::model_errors(model);
        eprintln!("nothing was written");
        return Err(Stop(EXIT_INPUT));
    }
    if model.resources.is_empty() {
        return Err(Stop::input("no table to generate"));
    }
    print_notes(model);
    if model.project.lazy_modules && config.project.lazy_modules.is_none() {
        eprintln!(
            "note: {} tables: each table's module is loaded on the first request to its routes, not at boot \
             (lazy_modules = \"auto\" from {}; [project] lazy_modules = false in nest-generator.toml imports them all in AppModule)",
            model.resources.len(),
            nest_model::settings::LAZY_MODULES_FROM
        );
    }
    for n in &generated.sql_notes {
        eprintln!("note: db/01-schema.sql: {n}");
    }
    Ok(generated)
}

/// What the project records about this run: its tables with their flags, where the schema is.
fn manifest_record(model: &Model, sel: &Selection, schema_paths: Option<Vec<String>>) -> Manifest {
    let mut record = Manifest {
        source: RecordedSource {
            kind: Some(if schema_paths.is_some() { SourceKind::Schema } else { SourceKind::Database }),
            paths: schema_paths.unwrap_or_default(),
            scope: Some(if sel.tables.is_empty() { Scope::All } else { Scope::Tables }),
        },
        ..Manifest::default()
    };
    for r in &model.resources {
        let mut flags = sel.recorded.get(&r.qualified()).map(|f| f.features.clone()).unwrap_or_default();
        if sel.tables.is_empty() {
            flags.extend(sel.flags.features.clone());
        }
        record.tables.insert(r.qualified(), flags);
    }
    record
}

/// Write the tree (or, with --dry-run / --check, say what would change) and report.
fn write(m: &ArgMatches, out: &Path, tree: &FileTree, record: &Manifest, resources: usize) -> Outcome {
    let check = m.get_flag("check");
    let dry = m.get_flag("dry-run") || check;
    let options = Options { force: m.get_flag("force"), dry_run: dry };
    let (report, diffs) = nest_write::write(out, tree, record, &options).map_err(Stop::input)?;
    if report.recovered {
        eprintln!("note: finished a generation that was interrupted earlier");
    }
    if check {
        let stale = report.changed();
        if stale.is_empty() {
            eprintln!("up to date: {} files", report.actions.len());
            return Ok(ExitCode::SUCCESS);
        }
        super::out(&stale.iter().map(|p| format!("{p}\n")).collect::<String>());
        eprintln!("{} stale file(s); run nest-generator generate", stale.len());
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    if dry {
        for d in &diffs {
            let (path, old, new) = (&d.path, &d.old, &d.new);
            let patch = diffy::create_patch(old, new);
            let text = patch.to_string();
            let mut shown = format!("--- a/{path}\n+++ b/{path}\n");
            for line in text.lines().skip_while(|l| l.starts_with("---") || l.starts_with("+++")) {
                shown.push_str(line);
                shown.push('\n');
            }
            super::out(&shown);
        }
        eprintln!("dry run: {} file(s) would change, nothing written", report.changed().len());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{}: {resources} resources; {} created, {} updated, {} merged, {} unchanged, {} user files kept, {} deleted",
        out.display(),
        report.count(Action::Create),
        report.count(Action::Replace),
        report.count(Action::Merged),
        report.count(Action::Unchanged),
        report.count(Action::KeptUserFile),
        report.count(Action::Delete)
    );
    for p in report.paths(Action::KeptEditedOrphan) {
        eprintln!("kept: {p} is no longer generated but you edited it; delete it when done");
    }
    if report.has_conflicts() {
        for p in report.paths(Action::Conflict) {
            eprintln!("conflict: {p} (resolve the <<<<<<< markers)");
        }
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
