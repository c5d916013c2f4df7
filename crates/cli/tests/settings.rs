//! Settings precedence (flag > nest-generator.toml > meta.* rows > inference), `explain`,
//! `--templates DIR`, reading a live database (`--database-url` and `DATABASE_URL`), and the note
//! for features this version does not build. Each claim is checked in what is generated, not
//! only in what `explain` says.

use nest_testdb::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ng-settings-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nest-generator"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run nest-generator")
}

fn ok(o: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    text
}

const SCHEMA: &str = "CREATE TABLE items (id uuid PRIMARY KEY, name text NOT NULL, deleted_at timestamptz);\n";

/// The line of `explain` for a feature.
fn feature_line(explain: &str, feature: &str) -> String {
    explain
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("feature {feature}:")))
        .unwrap_or_else(|| panic!("no `feature {feature}` in:\n{explain}"))
        .trim()
        .to_string()
}

/// Generate into `out` and tell whether items got a restore route (soft delete on).
fn has_restore(dir: &Path, out: &str, extra: &[&str]) -> bool {
    let mut args = vec!["generate", "--schema", "schema.sql", "--out", out];
    args.extend_from_slice(extra);
    ok(&run_in(dir, &args, &[]));
    std::fs::read_to_string(dir.join(out).join("src/modules/items/items.controller.ts")).unwrap().contains("/restore")
}

#[test]
fn flag_beats_config_beats_metadata_beats_inference() {
    let dir = tempdir("precedence");
    // Inference: a deleted_at column means soft delete.
    std::fs::write(dir.join("schema.sql"), SCHEMA).unwrap();
    let e = ok(&run_in(&dir, &["explain", "items", "--schema", "schema.sql"], &[]));
    assert_eq!(feature_line(&e, "soft-delete"), "feature soft-delete: true (inferred: deleted_at column)");
    assert!(has_restore(&dir, "a", &[]));
    // Metadata says no.
    std::fs::write(
        dir.join("schema.sql"),
        format!(
            "{SCHEMA}INSERT INTO meta.table_metadata (schema_name, table_name, has_soft_delete) VALUES ('public', 'items', false);\n"
        ),
    )
    .unwrap();
    let e = ok(&run_in(&dir, &["explain", "items", "--schema", "schema.sql"], &[]));
    assert_eq!(feature_line(&e, "soft-delete"), "feature soft-delete: false (meta.table_metadata.has_soft_delete)");
    assert!(!has_restore(&dir, "b", &[]));
    // The config file says yes, over metadata.
    std::fs::write(dir.join("nest-generator.toml"), "[tables.items]\nfeatures = { soft-delete = true }\n").unwrap();
    let e = ok(&run_in(&dir, &["explain", "items", "--schema", "schema.sql"], &[]));
    assert_eq!(feature_line(&e, "soft-delete"), "feature soft-delete: true (nest-generator.toml)");
    assert!(has_restore(&dir, "c", &[]));
    // A flag says no, over the config file.
    let e = ok(&run_in(&dir, &["explain", "items", "--schema", "schema.sql", "--features.soft-delete=false"], &[]));
    assert_eq!(feature_line(&e, "soft-delete"), "feature soft-delete: false (command-line flag)");
    assert!(!has_restore(&dir, "d", &["--features.soft-delete=false"]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_says_what_each_column_is_and_why() {
    let dir = tempdir("explain");
    std::fs::write(
        dir.join("schema.sql"),
        "CREATE TABLE accounts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), api_key text, views_count int DEFAULT 0, created_at timestamptz DEFAULT now());\n",
    )
    .unwrap();
    let e = ok(&run_in(&dir, &["explain", "accounts", "--schema", "schema.sql"], &[]));
    for (column, access, why) in [
        ("api_key", "write-only", "secret: write-only, never returned"),
        ("views_count", "read-only", "counter kept by the server"),
        ("created_at", "read-only", "timestamp kept by the server"),
        ("id", "read-only", "default gen_random_uuid()"),
    ] {
        let line =
            e.lines().find(|l| l.trim_start().starts_with(&format!("{column} →"))).unwrap_or_else(|| panic!("{e}"));
        assert!(line.contains(access) && line.contains(why), "{column}: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_template_folder_overrides_built_in_templates_by_name() {
    let dir = tempdir("templates");
    std::fs::write(dir.join("schema.sql"), SCHEMA).unwrap();
    std::fs::create_dir_all(dir.join("tpl/resource")).unwrap();
    std::fs::write(
        dir.join("tpl/resource/service.base.ts.j2"),
        "// custom base service for {{ qualified }}\nexport abstract class {{ plural_class }}ServiceBase {}\n",
    )
    .unwrap();
    ok(&run_in(&dir, &["generate", "--schema", "schema.sql", "--out", "api", "--templates", "tpl"], &[]));
    let base = std::fs::read_to_string(dir.join("api/src/modules/items/items.service.base.ts")).unwrap();
    assert!(base.contains("// custom base service for public.items"), "{base}");
    // Templates not overridden are the built-in ones.
    let controller = std::fs::read_to_string(dir.join("api/src/modules/items/items.controller.ts")).unwrap();
    assert!(controller.contains("export class ItemsController"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_feature_flag_is_remembered_by_the_project() {
    let dir = tempdir("flagkept");
    std::fs::write(dir.join("schema.sql"), SCHEMA).unwrap();
    let out = ok(&run_in(&dir, &["generate", "--schema", "schema.sql", "--out", "api", "--features.cache=true"], &[]));
    assert!(out.contains("items: reads cached in Redis for 60 s (default)"), "{out}");
    let resource = dir.join("api/src/modules/items/items.resource.ts");
    assert!(std::fs::read_to_string(&resource).unwrap().contains("readCache({ ttl: 60"));
    // Regenerating inside the project keeps what the flag asked for.
    let again = ok(&run_in(&dir.join("api"), &["generate"], &[]));
    assert!(again.contains("items: reads cached in Redis"), "{again}");
    assert!(std::fs::read_to_string(&resource).unwrap().contains("readCache({ ttl: 60"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_live_database_is_read_with_database_url_or_the_environment() {
    let db = TestDb::create("settings_live");
    db.execute(&format!("{SCHEMA}CREATE TABLE tags (id serial PRIMARY KEY, item_id uuid REFERENCES items(id));"))
        .unwrap();
    let dir = tempdir("live");
    let flag = ok(&run_in(&dir, &["inspect", "--database-url", &db.url], &[]));
    assert!(
        flag.contains("public.items (table, 3 columns)") && flag.contains("foreign key (item_id) -> public.items (id)"),
        "{flag}"
    );
    let env = ok(&run_in(&dir, &["inspect"], &[("DATABASE_URL", &db.url)]));
    assert_eq!(env, flag, "DATABASE_URL reads the same catalog");
    // And generation from it.
    ok(&run_in(&dir, &["generate", "--out", "api"], &[("DATABASE_URL", &db.url)]));
    assert!(dir.join("api/src/modules/tags/tags.controller.ts").is_file());
    let bad = run_in(&dir, &["inspect", "--database-url", "postgres://nobody@127.0.0.1:1/none"], &[]);
    assert_ne!(bad.status.code(), Some(0), "an unreachable database is an error");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fenced ```sh block of `readme` that contains `marker`, as lines.
fn sh_block(readme: &str, marker: &str) -> Vec<String> {
    readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap_or(""))
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("no sh block with `{marker}`"))
        .lines()
        .map(str::to_string)
        .collect()
}

/// The repository README's quick start runs the generated README's setup block (which the
/// security end-to-end test runs verbatim), so it stays true when that block changes.
#[test]
fn the_readme_quick_start_is_the_generated_setup_block() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempdir("readme");
    let out = dir.join("seed-api");
    ok(&run_in(&root, &["generate", "--schema", "fixtures/seed", "--out", out.to_str().unwrap()], &[]));
    let generated = sh_block(&std::fs::read_to_string(out.join("README.md")).unwrap(), "createdb");
    let ours = sh_block(&std::fs::read_to_string(root.join("README.md")).unwrap(), "createdb");
    let start = ours.iter().position(|l| *l == generated[0]).expect("the quick start runs the generated setup block");
    assert_eq!(
        &ours[start..start + generated.len()],
        &generated[..],
        "README.md's quick start differs from the generated setup block"
    );
    let build = sh_block(&std::fs::read_to_string(out.join("README.md")).unwrap(), "npm ci");
    assert!(ours.contains(&build[0]), "README.md builds like the generated README: {}", build[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `explain` says what each feature recognised for a table, and a feature's config key is checked
/// by that feature when the file is read (a misspelt key names the keys that exist).
#[test]
fn explain_shows_what_features_recognised_and_feature_keys_are_checked() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed");
    let seed = seed.to_str().unwrap();
    let dir = tempdir("features");
    let e = ok(&run_in(&dir, &["explain", "projects", "notifications", "users", "--schema", seed], &[]));
    let section = |table: &str| -> String {
        let start = e.find(&format!("public.{table} →")).unwrap_or_else(|| panic!("{table} in:\n{e}"));
        e[start..].split("\n\n").next().unwrap().to_string()
    };
    assert!(
        section("projects").contains("tenant column: organization_id (setting app.current_organization_id)"),
        "{e}"
    );
    assert!(
        section("notifications")
            .contains("own rows: by user_id, also in row-level security; notifications:all sees every row"),
        "{e}"
    );
    let users = section("users");
    assert!(users.contains("audited: application mode; masked: "), "{users}");
    assert!(users.contains("own rows: by id; users:all sees every row"), "{users}");

    std::fs::write(dir.join("nest-generator.toml"), "[tables.documents]\naudit_mod = \"trigger\"\n").unwrap();
    let out = run_in(&dir, &["explain", "--schema", seed], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nest-generator.toml") && err.contains("unknown key `audit_mod`") && err.contains("audit_mode"),
        "{err}"
    );
    std::fs::write(dir.join("nest-generator.toml"), "[audit]\nmode = \"sometimes\"\n").unwrap();
    let err = String::from_utf8_lossy(&run_in(&dir, &["explain", "--schema", seed], &[]).stderr).to_string();
    assert!(err.contains("audit.mode: write \"application\" or \"trigger\""), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
