//! The binary as a user runs it: outputs and exit codes (0 ok, 1 errors in input, 2 usage).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nest-generator"))
        .args(args)
        .current_dir(root())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run nest-generator")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn inspect_seed_folder() {
    let out = run(&["inspect", "--schema", "fixtures/seed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("25 tables, 1 partitions, 0 views, 1 materialized views"), "{stdout}");
    assert!(stdout.contains("public.role_permissions (table, 3 columns)"));
    assert!(stdout.contains("foreign key (folder_id) -> public.folders (id)"));
    // The seed's partition warning is shown with its location.
    assert!(text(&out.stderr).contains("fixtures/seed/03-audit.sql:34:14"));
}

#[test]
fn inspect_json_is_stable() {
    let a = run(&["inspect", "--schema", "fixtures/seed", "--json"]);
    let b = run(&["inspect", "--schema", "fixtures/seed", "--json"]);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout, "same input, same bytes");
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).expect("valid JSON");
    assert_eq!(v["tables"].as_array().unwrap().len(), 27);
    for key in ["enums", "metadata", "diagnostics", "functions", "sequences"] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let t = &v["tables"][0];
    for key in
        ["schema", "name", "kind", "columns", "unique", "foreign_keys", "indexes", "checks", "rls_enabled", "policies"]
    {
        assert!(t.get(key).is_some(), "table misses {key}");
    }
}

#[test]
fn errors_in_input_exit_1_with_location() {
    let dir = std::env::temp_dir().join(format!("ng-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.sql");
    std::fs::write(&f, "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (a_id int REFERENCES nowhere(id));\n")
        .unwrap();
    let out = run(&["inspect", "--schema", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error[unknown-foreign-key-target]"), "{err}");
    assert!(err.contains("bad.sql:2:37"), "{err}");
    assert!(err.contains("help:"), "{err}");
    let missing = run(&["inspect", "--schema", "does/not/exist.sql"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("does/not/exist.sql"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["inspect"]).status.code(), Some(2));
    assert_eq!(run(&["inspect", "--schema"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["--help"]).status.code(), Some(0));
}

#[test]
fn sql_meta_prints_the_metadata_schema() {
    let out = run(&["sql", "meta"]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    assert!(s.contains("CREATE TABLE IF NOT EXISTS meta.table_metadata"));
    assert!(s.contains("CREATE TABLE IF NOT EXISTS meta.enterprise_features"));
    assert!(s.contains("CREATE TABLE IF NOT EXISTS meta.column_metadata"));
    assert!(s.contains("FUNCTION public.uuid_generate_v7()"));
}

/// From 100 tables the app module lists the tables' modules to load on first request (and says
/// so); below, or with `lazy_modules = false`, it imports them; a wrong value is refused.
#[test]
fn lazy_modules_from_a_hundred_tables_or_as_set() {
    let dir = std::env::temp_dir().join(format!("ng-cli-lazy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let schema = |n: usize| {
        let path = dir.join(format!("schema-{n}.sql"));
        let sql: String =
            (0..n).map(|i| format!("CREATE TABLE t{i:03} (id uuid PRIMARY KEY, name text NOT NULL);\n")).collect();
        std::fs::write(&path, sql).unwrap();
        path.display().to_string()
    };
    let settings = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let app_module = |out: &Path| std::fs::read_to_string(out.join("src/app.module.ts")).unwrap();
    let (many, few) = (schema(100), schema(99));

    let out = dir.join("many");
    let run_many = run(&["generate", "--schema", &many, "--out", out.to_str().unwrap()]);
    assert_eq!(run_many.status.code(), Some(0), "{}", text(&run_many.stderr));
    assert!(text(&run_many.stderr).contains("100 tables: each table's module is loaded on the first request"));
    let module = app_module(&out);
    assert!(module.contains("  { path: 't000', load: () => import('./modules/t000/t000.module.js') },\n"), "{module}");
    assert!(module.contains("import './modules/t099/t099.resource.js';\n"), "{module}");
    assert!(!module.contains("T000Module"), "{module}");
    assert!(std::fs::read_to_string(out.join(".env.example")).unwrap().contains("LAZY_MODULES=true"));

    let out = dir.join("few");
    let run_few = run(&["generate", "--schema", &few, "--out", out.to_str().unwrap()]);
    assert_eq!(run_few.status.code(), Some(0), "{}", text(&run_few.stderr));
    assert!(!text(&run_few.stderr).contains("loaded on the first request"));
    let module = app_module(&out);
    assert!(module.contains("import { T000Module } from './modules/t000/t000.module.js';"), "{module}");
    assert!(module.contains("export const LAZY_MODULES: readonly LazyModule[] = [];"), "{module}");

    let out = dir.join("eager");
    let off = settings("off.toml", "[project]\nlazy_modules = false\n");
    let run_off = run(&["generate", "--schema", &many, "--config", &off, "--out", out.to_str().unwrap()]);
    assert_eq!(run_off.status.code(), Some(0), "{}", text(&run_off.stderr));
    assert!(!text(&run_off.stderr).contains("loaded on the first request"));
    assert!(app_module(&out).contains("T099Module,"));

    let out = dir.join("on");
    let on = settings("on.toml", "[project]\nlazy_modules = true\n");
    let run_on = run(&["generate", "--schema", &few, "--config", &on, "--out", out.to_str().unwrap()]);
    assert_eq!(run_on.status.code(), Some(0), "{}", text(&run_on.stderr));
    assert!(app_module(&out).contains("{ path: 't098', load: () => import('./modules/t098/t098.module.js') },"));

    let bad = settings("bad.toml", "[project]\nlazy_modules = \"sometimes\"\n");
    let out = dir.join("bad");
    let run_bad = run(&["generate", "--schema", &few, "--config", &bad, "--out", out.to_str().unwrap()]);
    assert_eq!(run_bad.status.code(), Some(2), "{}", text(&run_bad.stderr));
    assert!(text(&run_bad.stderr).contains("lazy_modules = \"sometimes\""), "{}", text(&run_bad.stderr));
    assert!(!out.exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reader that stops early (`inspect | head -1`) ends the program quietly: no panic about a
/// broken pipe, exit 0.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = std::env::temp_dir().join(format!("ng-cli-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = dir.join("schema.sql");
    let sql: String =
        (0..400).map(|i| format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL);\n")).collect();
    std::fs::write(&schema, sql).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
        .args(["inspect", "--json", "--schema", schema.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader is gone (dropped above) while megabytes are still to be written.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Inside a project, `explain` reports what `generate` applies there: the flags the project was
/// generated with (its manifest) count, as `generate` counts them.
#[test]
fn explain_inside_a_project_applies_its_remembered_flags() {
    let dir = std::env::temp_dir().join(format!("ng-cli-explain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let schema = root().join("fixtures/seed/02-rbac.sql");
    let made = run(&[
        "generate",
        "--schema",
        schema.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "users",
        "--features.auth=true",
        "--features.rbac=true",
    ]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let explain = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
        .args(["explain", "users"])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(explain.status.code(), Some(0), "{}", text(&explain.stderr));
    let shown = text(&explain.stdout);
    assert!(shown.contains("feature auth: true"), "{shown}");
    assert!(shown.contains("feature rbac: true"), "{shown}");
    assert!(shown.contains("password_hash → passwordHash text           hidden"), "{shown}");
    // A flag given to explain itself still counts, on top of what the project remembers.
    let more = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
        .args(["explain", "users", "--features.readonly=true"])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let shown = text(&more.stdout);
    assert!(shown.contains("feature auth: true") && shown.contains("readonly: true"), "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}
