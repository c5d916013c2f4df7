//! Golden snapshots for each seed scenario and for the whole seed: the generated tree (`<name>.snap`:
//! every generated path with its content; verbatim runtime files are listed by path only) and the
//! Model it was rendered from (`<name>.model.json`: the contract between reading and emitting,
//! every resource and every feature's state). `BLESS=1 cargo test -p nest-features --test golden`
//! rewrites them; read the diff before committing.

use nest_ddl::{parse_sources, source};
use nest_features::Stage;
use nest_model::Selection;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The tree snapshot and the Model snapshot.
fn snapshot_text(files: &[&str], config_toml: &str) -> String {
    snapshots(files, config_toml).0
}

fn snapshots(files: &[&str], config_toml: &str) -> (String, String) {
    let mut sources = Vec::new();
    for f in files {
        let mut loaded = source::load(&root().join(f)).unwrap();
        for s in &mut loaded {
            s.name = f.to_string();
        }
        sources.extend(loaded);
    }
    let catalog = parse_sources(&sources);
    assert!(!catalog.has_errors(), "{:#?}", catalog.diagnostics);
    let mut config = nest_features::parse_config(config_toml).unwrap();
    config.project =
        nest_model::settings::ProjectConfig { name: Some("seed-api".into()), title: None, lazy_modules: None };
    let options = nest_nestjs::GenerateOptions::default();
    let g = nest_features::run(&catalog, &config, &Selection::default(), Stage::Files(&options)).unwrap();
    let model = serde_json::to_string_pretty(&g.model).unwrap() + "\n";
    let statics = nest_features::runtime_paths();
    let mut out = String::new();
    // What the CLI would refuse to write (and why) is part of the snapshot.
    for d in &g.model.diagnostics() {
        out.push_str(&format!("# {}[{}]: {}\n", d.severity, d.code, d.message));
    }
    for n in &g.sql_notes {
        out.push_str(&format!("# note: {n}\n"));
    }
    for (path, file) in &g.tree {
        if statics.contains(&path.as_str()) {
            out.push_str(&format!("=== {path} (runtime file, verbatim)\n"));
        } else {
            out.push_str(&format!("=== {path} ({:?})\n{}", file.ownership, file.content));
            if !file.content.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    (out, model)
}

fn check(name: &str, files: &[&str]) {
    check_with(name, files, "");
}

fn check_with(name: &str, files: &[&str], config_toml: &str) {
    let (tree, model) = snapshots(files, config_toml);
    compare(&format!("{name}.snap"), &tree, "generated tree");
    compare(&format!("{name}.model.json"), &model, "model");
}

fn compare(file: &str, actual: &str, what: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(file);
    let name = file;
    if std::env::var("BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}; run with BLESS=1", path.display()));
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name}: {what} differs from the snapshot at line {}\n  expected: {}\n  actual:   {}\n(BLESS=1 to accept)",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>")
        );
    }
}

/// Scenario 1 alone has no users table, so its tenant isolation cannot be built: the snapshot
/// records the refusal. With scenario 2's users it is built.
#[test]
fn multi_tenancy() {
    check("01-multi-tenancy", &["fixtures/seed/01-multi-tenancy.sql", "fixtures/seed/01b-multi-tenancy-metadata.sql"]);
    check(
        "01-multi-tenancy-with-users",
        &[
            "fixtures/seed/02-rbac.sql",
            "fixtures/seed/01-multi-tenancy.sql",
            "fixtures/seed/01b-multi-tenancy-metadata.sql",
        ],
    );
}

/// Scenario 3 with auditing asked for in the config file (as `--features.audit=true` would):
/// the writer, the trigger for the table in trigger mode, retention and partitions.
#[test]
fn audit_with_audited_tables() {
    check_with(
        "03-audit-audited",
        &[
            "fixtures/seed/02-rbac.sql",
            "fixtures/seed/03-audit.sql",
            "fixtures/seed/03b-audit-trigger.sql",
            "fixtures/pg/audit-extra.sql",
        ],
        "[features]\nrbac = true\n[tables.users]\nfeatures = { auth = true, audit = true }\n\
         [tables.documents]\nfeatures = { audit = true }\naudit_mode = \"trigger\"\n\
         [tables.document_tags]\nfeatures = { audit = true }\n",
    );
}

#[test]
fn rbac() {
    check("02-rbac", &["fixtures/seed/02-rbac.sql"]);
}

#[test]
fn audit() {
    check("03-audit", &["fixtures/seed/03-audit.sql"]);
}

#[test]
fn event_sourcing() {
    check("04-event-sourcing", &["fixtures/seed/04-event-sourcing.sql"]);
}

#[test]
fn time_series() {
    check("05-time-series", &["fixtures/seed/05-time-series.sql"]);
}

#[test]
fn files() {
    check("06-files", &["fixtures/seed/06-files.sql"]);
}

/// Scenario 6 as its seed command asks (`generate files --features.file-upload=true
/// --features.rbac=true`, with sign-in): the file store's controller, runtime and settings.
#[test]
fn files_as_a_store() {
    check_with(
        "06-files-store",
        &["fixtures/seed/02-rbac.sql", "fixtures/seed/06-files.sql"],
        "[features]\nrbac = true\n[tables.users]\nfeatures = { auth = true }\n[tables.files]\nfeatures = { file-upload = true }\n",
    );
}

#[test]
fn notifications() {
    check("07-notifications", &["fixtures/seed/07-notifications.sql"]);
}

#[test]
fn whole_seed() {
    check("seed-all", &["fixtures/seed"]);
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(snapshot_text(&["fixtures/seed"], ""), snapshot_text(&["fixtures/seed"], ""));
}
