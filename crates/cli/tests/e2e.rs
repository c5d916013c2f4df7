//! End to end: generate the seed project with the binary, type-check it with tsc, build it,
//! load its own SQL (db/00-meta.sql, db/01-schema.sql) into a throwaway PostgreSQL database,
//! boot it, and drive it over HTTP with the Node test suites in e2e/tests.
//!
//! npm packages come from e2e/package-lock.json (the versions generated projects pin); they are
//! installed once with `npm ci` and reused while the lockfile does not change.

mod common;

use common::{node_modules, root, run};
use nest_testdb::TestDb;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn generate(out: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nest-generator"));
    cmd.arg("generate").args(args).arg("--out").arg(out).current_dir(root()).env_remove("DATABASE_URL");
    run(&mut cmd, "nest-generator generate")
}

fn link_node_modules(project: &Path) {
    let nm = node_modules();
    let link = project.join("node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(&nm, &link).unwrap();
    }
}

fn tsc(project: &Path, args: &[&str]) -> String {
    let tsc = project.join("node_modules/.bin/tsc");
    run(Command::new(tsc).args(["-p", "tsconfig.json"]).args(args).current_dir(project), "tsc")
}

/// Run every generated db/*.sql file, in name order, as the owner (what the README says to do).
fn load_db(project: &Path, db: &TestDb) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(project.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for f in files {
        let sql = std::fs::read_to_string(&f).unwrap();
        db.execute(&sql).unwrap_or_else(|e| panic!("PostgreSQL rejected the generated {}: {e}", f.display()));
    }
}

fn boot(project: &Path, db: &TestDb) -> (App, String) {
    boot_env(project, &db.url, &[])
}

fn boot_env(project: &Path, db_url: &str, env: &[(&str, &str)]) -> (App, String) {
    let port = free_port();
    let mut child = Command::new("node")
        .arg("dist/main.js")
        .current_dir(project)
        .envs(env.iter().copied())
        .env("DATABASE_URL", db_url)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[app] {line}");
        }
    });
    let app = App(child);
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the app did not start listening within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    (app, base)
}

fn node_test(project_env: (&str, &str), files: &[&str]) {
    node_test_env(project_env, files, &[])
}

fn node_test_env(project_env: (&str, &str), files: &[&str], env: &[(&str, &str)]) {
    let e2e = root().join("e2e");
    let out = Command::new("node")
        .envs(env.iter().copied())
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg("--test-reporter=spec")
        .args(files.iter().map(|f| format!("tests/{f}")))
        .current_dir(&e2e)
        .env("BASE_URL", project_env.0)
        .env("DATABASE_URL", project_env.1)
        .output()
        .expect("node --test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "HTTP tests failed:\n{text}");
}

/// The generated package.json pins exactly the versions the tests install.
fn assert_pinned_versions(project: &Path) {
    let generated: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("package.json")).unwrap()).unwrap();
    let e2e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("e2e/package.json")).unwrap()).unwrap();
    // e2e/package.json is the superset every kind of project draws from, at the same versions.
    for key in ["dependencies", "devDependencies"] {
        for (name, version) in generated[key].as_object().unwrap() {
            assert_eq!(
                &e2e[key][name], version,
                "{key} {name}: the generated version is not the one the tests install"
            );
        }
    }
}

#[test]
fn seed_project_compiles_boots_and_serves_every_table() {
    let tmp = tempdir("seed");
    let project = tmp.join("api");
    // The seed's metadata asks for RBAC and tenant isolation on its multi-tenancy tables; this
    // test is about CRUD, so it switches those off (the auth and tenancy tests cover them).
    let report =
        generate(&project, &["--schema", "fixtures/seed", "--features.rbac=false", "--features.tenant-scoped=false"]);
    assert!(report.contains("26 resources"), "{report}");
    assert_pinned_versions(&project);
    link_node_modules(&project);
    tsc(&project, &["--noEmit"]);
    tsc(&project, &[]);

    let db = TestDb::create("e2e_seed");
    for f in ["db/00-meta.sql", "db/01-schema.sql"] {
        let sql = std::fs::read_to_string(project.join(f)).unwrap();
        db.execute(&sql).unwrap_or_else(|e| panic!("PostgreSQL rejected the generated {f}: {e}"));
    }
    let (_app, base) = boot(&project, &db);
    node_test((&base, &db.url), &["crud.test.mjs", "injection.test.mjs"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ng-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The seed document's commands, as written, run inside a project: each adds its module,
/// registers it, and the project still compiles.
#[test]
fn seed_commands_work_as_written_inside_a_project() {
    let tmp = tempdir("commands");
    let project = tmp.join("api");
    // Start a project with one table; it records where the schema is.
    generate(&project, &["--schema", "fixtures/seed", "users"]);
    let toml = std::fs::read_to_string(project.join("nest-generator.toml")).unwrap();
    assert!(toml.contains("schema = \""), "{toml}");
    let commands: &[&[&str]] = &[
        &["organizations", "--features.rbac=true", "--features.audit=true"],
        &["organization_users", "--features.rbac=true", "--features.tenant-scoped=true"],
        &["users", "--features.auth=true", "--features.rbac=true"],
        &["roles", "--features.rbac=true"],
        &["permissions", "--features.rbac=true"],
        &["audit_logs", "--features.audit=true", "--features.readonly=true"],
        &["events", "--features.event-sourcing=true", "--features.readonly=true"],
        &["files", "--features.file-upload=true", "--features.rbac=true"],
        &["notifications", "--features.queue=true", "--features.realtime=true"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
            .arg("generate")
            .args(*args)
            .current_dir(&project)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "nest-generator generate {}: {text}", args.join(" "));
    }
    let app_module = std::fs::read_to_string(project.join("src/app.module.ts")).unwrap();
    for m in [
        "UsersModule",
        "OrganizationsModule",
        "OrganizationUsersModule",
        "RolesModule",
        "PermissionsModule",
        "AuditLogsModule",
        "EventsModule",
        "FilesModule",
        "NotificationsModule",
    ] {
        assert!(app_module.contains(m), "{m} not registered:\n{app_module}");
    }
    assert!(!app_module.contains("MetricsModule"), "only the tables asked for");
    // --features.readonly=true: no write routes.
    let audit = std::fs::read_to_string(project.join("src/modules/audit-logs/audit-logs.controller.ts")).unwrap();
    assert!(!audit.contains("@Post(") && !audit.contains("@Patch(") && !audit.contains("@Delete("), "{audit}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join(".nest-generator/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tables"]["public.users"]["auth"], true, "flags are remembered per table");
    assert_eq!(manifest["tables"]["public.audit_logs"]["readonly"], true);
    // A second run with no arguments regenerates the same tables and changes nothing.
    let out =
        Command::new(env!("CARGO_BIN_EXE_nest-generator")).arg("generate").current_dir(&project).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 0 created, 0 updated, 0 merged"), "{text}");
    link_node_modules(&project);
    tsc(&project, &["--noEmit"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A schema with the types and shapes of real databases compiles, loads and serves.
#[test]
fn rich_schema_project_serves_every_type() {
    let tmp = tempdir("rich");
    let project = tmp.join("api");
    generate(&project, &["--schema", "fixtures/pg/rich.sql"]);
    link_node_modules(&project);
    tsc(&project, &[]);
    let db = TestDb::create("e2e_rich");
    for f in ["db/00-meta.sql", "db/01-schema.sql"] {
        let sql = std::fs::read_to_string(project.join(f)).unwrap();
        db.execute(&sql).unwrap_or_else(|e| panic!("PostgreSQL rejected the generated {f}: {e}"));
    }
    let (_app, base) = boot(&project, &db);
    node_test((&base, &db.url), &["rich.test.mjs"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Names that trip generators (fixtures/pg/names.sql) still give a project that compiles,
/// with the `public` table unprefixed and the other schema's prefixed.
#[test]
fn tricky_names_compile() {
    let tmp = tempdir("names");
    let project = tmp.join("api");
    generate(&project, &["--schema", "fixtures/pg/names.sql"]);
    for m in ["users", "app-users", "order", "data", "news", "people", "statuses"] {
        assert!(project.join("src/modules").join(m).is_dir(), "module {m}");
    }
    let spec = std::fs::read_to_string(project.join("src/modules/users/users.resource.ts")).unwrap();
    assert!(
        spec.contains("filterKey: 'limit_'") && spec.contains("filterKey: 'count_'"),
        "list parameters are not shadowed"
    );
    assert!(spec.contains("property: 'constructorValue'") && spec.contains("property: 'userId2'"));
    link_node_modules(&project);
    tsc(&project, &["--noEmit"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Auth and RBAC, with the seed's commands, over HTTP.
#[test]
fn auth_and_rbac_enforced_on_every_route() {
    let tmp = tempdir("auth");
    let project = tmp.join("api");
    generate(
        &project,
        &["--schema", "fixtures/seed/02-rbac.sql", "users", "--features.auth=true", "--features.rbac=true"],
    );
    for args in [&["roles", "--features.rbac=true"][..], &["permissions", "--features.rbac=true"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
            .arg("generate")
            .args(args)
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_pinned_versions(&project);
    link_node_modules(&project);
    tsc(&project, &[]);
    let db = TestDb::create("e2e_auth");
    for f in ["db/00-meta.sql", "db/01-schema.sql", "db/02-auth.sql", "db/03-rbac.sql"] {
        let sql = std::fs::read_to_string(project.join(f)).unwrap();
        db.execute(&sql).unwrap_or_else(|e| panic!("PostgreSQL rejected the generated {f}: {e}"));
    }
    let secret = "e2e-secret-0123456789-0123456789-abcdef";
    let env = [("AUTH_JWT_SECRET", secret), ("AUTH_MAX_FAILED_LOGINS", "3"), ("AUTH_LOCK_MINUTES", "5")];
    let (_app, base) = boot_env(&project, &db.url, &env);
    node_test_env((&base, &db.url), &["auth.test.mjs"], &env);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Multi-tenancy, with the seed's commands, attacked over HTTP and in SQL.
#[test]
fn tenants_are_isolated_by_the_app_and_by_row_level_security() {
    let tmp = tempdir("tenancy");
    let project = tmp.join("api");
    generate(
        &project,
        &[
            "--schema",
            "fixtures/seed/02-rbac.sql",
            "--schema",
            "fixtures/seed/01-multi-tenancy.sql",
            "--schema",
            "fixtures/seed/01b-multi-tenancy-metadata.sql",
            "--schema",
            "fixtures/pg/tenancy-extra.sql",
            "users",
            "--features.auth=true",
            "--features.rbac=true",
        ],
    );
    let commands: &[&[&str]] = &[
        &["organizations", "--features.rbac=true"],
        &["organization_users", "--features.rbac=true", "--features.tenant-scoped=true"],
        &["projects"],
        &["project_tags"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
            .arg("generate")
            .args(*args)
            .current_dir(&project)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_tenancy");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let secret = "tenancy-secret-0123456789-0123456789-abc";
    let (_app, base) = boot_env(&project, &app_url, &[("AUTH_JWT_SECRET", secret)]);
    let (_nofilter, base_nofilter) =
        boot_env(&project, &app_url, &[("AUTH_JWT_SECRET", secret), ("NESTGEN_TEST_TENANT_APP_FILTER", "off")]);
    node_test_env(
        (&base, &db.url),
        &["tenancy.test.mjs"],
        &[("AUTH_JWT_SECRET", secret), ("DATABASE_URL_APP", &app_url), ("BASE_URL_NOFILTER", &base_nofilter)],
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// pg_dump output of real public databases (fixtures/real, provenance in each SOURCE.md)
/// generates without errors and compiles; pagila is then loaded exactly as dumped and the
/// project made from the same file serves it (e2e/tests/pagila.test.mjs).
#[test]
fn real_pg_dump_schemas_generate_compile_and_serve() {
    let tmp = tempdir("real");
    for (name, resources) in [("chinook", 11), ("northwind", 14), ("supabase", 9), ("danbooru", 64), ("pagila", 23)] {
        let project = tmp.join(name);
        let schema = format!("fixtures/real/{name}/schema.sql");
        let report = generate(&project, &["--schema", &schema]);
        assert!(report.contains(&format!("{resources} resources")), "{name}: {report}");
        assert!(!report.contains("error["), "{name}: {report}");
        link_node_modules(&project);
        tsc(&project, if name == "pagila" { &[] } else { &["--noEmit"] });
    }
    let project = tmp.join("pagila");
    let db = TestDb::create("e2e_pagila");
    let dump = std::fs::read_to_string(root().join("fixtures/real/pagila/schema.sql")).unwrap();
    db.execute(&dump).unwrap_or_else(|e| panic!("PostgreSQL rejected pagila's own dump: {e}"));
    let (_app, base) = boot(&project, &db);
    node_test((&base, &db.url), &["pagila.test.mjs"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Audit trail (seed scenario 3) in both modes: the same HTTP requests against a project whose
/// app writes the audit rows and one whose database triggers do; each run checks every mutation
/// kind, masking, failures, read-only routes and retention (e2e/tests/audit.test.mjs), and the
/// two runs must leave identical audit rows.
#[test]
fn audit_trail_in_both_modes_writes_the_same_rows() {
    let tmp = tempdir("audit");
    let mut traces = Vec::new();
    for mode in ["application", "trigger"] {
        let project = tmp.join(format!("api-{mode}"));
        generate(
            &project,
            &[
                "--schema",
                "fixtures/seed/02-rbac.sql",
                "--schema",
                "fixtures/seed/03-audit.sql",
                "--schema",
                "fixtures/seed/03b-audit-trigger.sql",
                "--schema",
                "fixtures/pg/audit-extra.sql",
                "users",
                "--features.auth=true",
                "--features.rbac=true",
            ],
        );
        if mode == "trigger" {
            let toml = project.join("nest-generator.toml");
            let text = std::fs::read_to_string(&toml).unwrap();
            std::fs::write(&toml, format!("{text}\n[audit]\nmode = \"trigger\"\n")).unwrap();
        }
        let commands: &[&[&str]] = &[
            &["audit_logs", "--features.audit=true", "--features.readonly=true"],
            &["field_changes", "audit_retention_policies"],
            &["documents", "document_tags", "counters", "--features.audit=true"],
        ];
        for args in commands {
            let out = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
                .arg("generate")
                .args(*args)
                .current_dir(&project)
                .env_remove("DATABASE_URL")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let audit_sql = std::fs::read_to_string(project.join("db/05-audit.sql")).unwrap();
        assert_eq!(
            audit_sql.contains("CREATE TRIGGER nestgen_audit AFTER INSERT OR UPDATE OR DELETE ON public.documents"),
            mode == "trigger",
            "{mode}: trigger only in trigger mode"
        );
        link_node_modules(&project);
        tsc(&project, &[]);
        let mut db = TestDb::create(&format!("e2e_audit_{mode}"));
        load_db(&project, &db);
        let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
        let secret = "audit-secret-0123456789-0123456789-abcdef";
        let (_app, base) =
            boot_env(&project, &app_url, &[("AUTH_JWT_SECRET", secret), ("AUDIT_MAINTENANCE_MINUTES", "0")]);
        let trace = tmp.join(format!("trace-{mode}.json"));
        node_test_env(
            (&base, &db.url),
            &["audit.test.mjs"],
            &[("AUDIT_MODE", mode), ("DATABASE_URL_APP", &app_url), ("AUDIT_TRACE_OUT", trace.to_str().unwrap())],
        );
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
        traces.push(v["trace"].clone());
        // The app's own job: an instance that boots with maintenance on removes an expired row.
        if mode == "application" {
            db.execute(
                "INSERT INTO audit_logs (table_name, record_id, operation, created_at) \
                 VALUES ('documents', '00000000-0000-0000-0000-0000000000aa', 'INSERT', now() - interval '400 days')",
            )
            .unwrap();
            let count = "SELECT count(*) FROM audit_logs WHERE record_id = '00000000-0000-0000-0000-0000000000aa'";
            assert_eq!(db.query_text(count).unwrap().as_deref(), Some("1"));
            let (_job, _) =
                boot_env(&project, &app_url, &[("AUTH_JWT_SECRET", secret), ("AUDIT_MAINTENANCE_MINUTES", "60")]);
            let started = Instant::now();
            while db.query_text(count).unwrap().as_deref() != Some("0") {
                assert!(started.elapsed() < Duration::from_secs(20), "the scheduled audit job did not run");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    assert!(traces[0].as_array().is_some_and(|t| t.len() >= 10));
    if traces[0] != traces[1] {
        let a = traces[0].as_array().unwrap();
        let b = traces[1].as_array().unwrap();
        let at = a.iter().zip(b.iter()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        panic!(
            "trigger mode wrote other audit rows than application mode ({} vs {} rows); first difference at {at}:\napplication: {}\ntrigger:     {}",
            a.len(),
            b.len(),
            a.get(at).map(|x| x.to_string()).unwrap_or_default(),
            b.get(at).map(|x| x.to_string()).unwrap_or_default()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
