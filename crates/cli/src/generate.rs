//! `generate` and `explain`.

use crate::input::{self, Source};
use crate::{EXIT_INPUT, EXIT_USAGE, render};
use clap::ArgMatches;
use nest_features::Stage;
use nest_model::{Flags, Model, Selection};
use nest_nest::GenerateOptions;
use nest_write::{Action, Manifest, Options, STATE_DIR};
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
    match manifest.source.get("kind").map(String::as_str) {
        Some("schema") => {
            manifest.source.get("path").map(|p| Source::Offline(p.split('\n').map(|x| out.join(x)).collect()))
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
        && (all
            || manifest.source.get("scope").map(String::as_str) == Some("all")
            || (named.is_empty() && recorded.is_empty()));
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
    for (note, tables) in grouped {
        if tables.len() <= 3 {
            eprintln!("note: {}: {note}", tables.join(", "));
        } else {
            eprintln!("note: {} tables ({}, ...): {note}", tables.len(), tables[..3].join(", "));
        }
    }
}

pub fn generate(m: &ArgMatches, flags: Flags) -> anyhow::Result<ExitCode> {
    let named: Vec<String> = m.get_many::<String>("tables").map(|v| v.cloned().collect()).unwrap_or_default();
    let all = m.get_flag("all");
    run(m, flags, &named, all, &[])
}

/// `remove TABLE ...`: regenerate without the tables; their files go (edited ones stay).
pub fn remove(m: &ArgMatches) -> anyhow::Result<ExitCode> {
    let tables: Vec<String> = m.get_many::<String>("tables").map(|v| v.cloned().collect()).unwrap_or_default();
    run(m, Flags::default(), &[], false, &tables)
}

fn run(m: &ArgMatches, flags: Flags, named: &[String], all: bool, removed: &[String]) -> anyhow::Result<ExitCode> {
    let cwd_is_project = Path::new(STATE_DIR).join("manifest.json").exists();
    // The config can name the output folder, so read it first (from the current folder).
    let pre = input::resolve_with(m, None, Some(Source::Offline(vec![PathBuf::from(".")])));
    let out: PathBuf = match (m.get_one::<String>("out"), &pre) {
        (Some(o), _) => PathBuf::from(o),
        (None, Ok(r)) if r.config.out.is_some() => {
            r.config_dir.clone().unwrap_or_default().join(r.config.out.as_deref().unwrap_or("."))
        }
        _ if cwd_is_project => PathBuf::from("."),
        _ => {
            eprintln!(
                "error: no output folder: pass --out DIR, set `out` in nest-generator.toml, or run inside a generated project"
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let manifest = match nest_write::read_manifest(&out) {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    let resolved = match input::resolve_with(m, Some(&out), recorded_source(&manifest, &out)) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let catalog = match input::load(&resolved.source) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    if catalog.has_errors() {
        render::diagnostics(&catalog, false);
        eprintln!("nothing was written: fix the input first");
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    render::diagnostics(&catalog, false);
    for r in removed {
        if !manifest.tables.keys().any(|k| k == r || k.rsplit('.').next() == Some(r.as_str())) {
            eprintln!(
                "error: {r} is not a table of this project (its tables: {})",
                manifest.tables.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    let sel = selection(named, all, flags, &manifest, &catalog, removed);
    if !removed.is_empty() && sel.tables.is_empty() {
        eprintln!(
            "error: removing {} would leave the project without tables; delete the folder instead",
            removed.join(", ")
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let mut config = resolved.config.clone();
    if config.project.name.is_none() {
        let name = std::fs::canonicalize(&out)
            .ok()
            .or_else(|| std::env::current_dir().ok().map(|d| d.join(&out)))
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_else(|| "nest-api".into());
        config.project.name = Some(nest_model::names::kebab(&name));
    }
    // Where the schema is, relative to the project, for later runs inside it.
    let schema_paths: Option<Vec<String>> = match &resolved.source {
        Source::Offline(paths) => {
            Some(paths.iter().map(|p| relative(&out, p).to_string_lossy().replace('\\', "/")).collect())
        }
        _ => None,
    };
    let options = GenerateOptions {
        template_dir: m.get_one::<String>("templates").map(PathBuf::from),
        schema_setting: schema_paths.as_ref().map(|rels| {
            if rels.len() == 1 {
                serde_json::Value::String(rels[0].clone()).to_string()
            } else {
                serde_json::Value::from(rels.clone()).to_string()
            }
        }),
    };
    let generated = match nest_features::run(&catalog, &config, &sel, Stage::Files(&options)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    let model = &generated.model;
    if !model.errors.is_empty() {
        render::model_errors(model);
        eprintln!("nothing was written");
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    if model.resources.is_empty() {
        eprintln!("error: no table to generate");
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    print_notes(model);
    for n in &generated.sql_notes {
        eprintln!("note: db/01-schema.sql: {n}");
    }
    let tree = generated.tree.clone();
    let mut extra = Manifest::default();
    extra.source.insert("scope".into(), if sel.tables.is_empty() { "all" } else { "tables" }.into());
    if let Some(rels) = &schema_paths {
        extra.source.insert("kind".into(), "schema".into());
        extra.source.insert("path".into(), rels.join("\n"));
    } else {
        extra.source.insert("kind".into(), "database".into());
    }
    for r in &model.resources {
        let flags = sel.recorded.get(&r.qualified()).map(|f| f.features.clone()).unwrap_or_default();
        let mut flags = flags;
        if sel.tables.is_empty() {
            flags.extend(sel.flags.features.clone());
        }
        extra.tables.insert(r.qualified(), flags);
    }

    let check = m.get_flag("check");
    let dry = m.get_flag("dry-run") || check;
    let wopts = Options { force: m.get_flag("force"), dry_run: dry };
    let (report, diffs) = match nest_write::write(&out, &tree, &extra, &wopts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    if report.recovered {
        eprintln!("note: finished a generation that was interrupted earlier");
    }
    if check {
        let stale = report.changed();
        if stale.is_empty() {
            eprintln!("up to date: {} files", report.actions.len());
            return Ok(ExitCode::SUCCESS);
        }
        for p in &stale {
            println!("{p}");
        }
        eprintln!("{} stale file(s); run nest-generator generate", stale.len());
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    if dry {
        for d in &diffs {
            let (path, old, new) = (&d.path, &d.old, &d.new);
            let patch = diffy::create_patch(old, new);
            println!("--- a/{path}\n+++ b/{path}");
            let text = patch.to_string();
            for line in text.lines().skip_while(|l| l.starts_with("---") || l.starts_with("+++")) {
                println!("{line}");
            }
        }
        eprintln!("dry run: {} file(s) would change, nothing written", report.changed().len());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{}: {} resources; {} created, {} updated, {} merged, {} unchanged, {} user files kept, {} deleted",
        out.display(),
        model.resources.len(),
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

pub fn explain(m: &ArgMatches, flags: Flags) -> anyhow::Result<ExitCode> {
    let (resolved, catalog) = match crate::load_catalog(m) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    if catalog.has_errors() {
        render::diagnostics(&catalog, false);
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    let named: Vec<String> = m.get_many::<String>("tables").map(|v| v.cloned().collect()).unwrap_or_default();
    // The whole schema decides cross-table settings (who signs in, RBAC, the audit trail); the
    // flags apply to the named tables, and only those are printed.
    let mut recorded = BTreeMap::new();
    let mut wanted = Vec::new();
    for spec in &named {
        let Some(t) = catalog.find_table(spec) else {
            let d = nest_catalog::Diagnostic::error(
                nest_catalog::codes::UNKNOWN_TABLE,
                &nest_catalog::Location::default(),
                format!("table `{spec}` is not in the schema"),
            );
            eprintln!("{}", render::format_diagnostic(&d, None));
            return Ok(ExitCode::from(EXIT_INPUT));
        };
        recorded.insert(format!("{}.{}", t.schema, t.name), flags.clone());
        wanted.push((t.schema.clone(), t.name.clone()));
    }
    let sel = if named.is_empty() {
        Selection { tables: Vec::new(), flags, recorded }
    } else {
        Selection { tables: Vec::new(), flags: Flags::default(), recorded }
    };
    let mut model = match nest_features::run(&catalog, &resolved.config, &sel, Stage::Model) {
        Ok(g) => g.model,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    if !model.errors.is_empty() {
        render::model_errors(&model);
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    if !wanted.is_empty() {
        model.resources.retain(|r| wanted.iter().any(|(s, t)| *s == r.schema && *t == r.table));
    }
    print!("{}", render::explain(&model));
    Ok(ExitCode::SUCCESS)
}
