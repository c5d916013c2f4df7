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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// `nest-generator <args>` run inside a generated project (what a user does after the first
/// `generate`), one command after another; each must succeed.
fn generate_inside(project: &Path, commands: &[&[&str]]) {
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
            .args(*args)
            .current_dir(project)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
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
    boot_with(project, Some(db_url), env)
}

/// `node dist/main.js` of a built project, on a port of its own choosing, with `env`; DATABASE_URL
/// from `db_url`, or (None) from the project's `.env`.
fn app_command(project: &Path, db_url: Option<&str>, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("node");
    // NESTGEN_NO_APP_FILTERS=1 (tests only): preload e2e/without-app-filters.mjs, which drops
    // the app's own row filters so row-level security is attacked alone.
    if env.iter().any(|(k, v)| *k == "NESTGEN_NO_APP_FILTERS" && *v == "1") {
        cmd.arg("--import").arg(root().join("e2e/without-app-filters.mjs"));
    }
    cmd.arg("dist/main.js")
        .current_dir(project)
        .env_remove("DATABASE_URL")
        // Suites send hundreds of requests from one address: rate limits are tested on their own.
        .env("RATE_LIMIT_PER_MINUTE", "0")
        .env("AUTH_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE", "1000000")
        .envs(env.iter().copied())
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = db_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// Start the built app on a port of its own choosing (PORT=0) and wait for the line that says
/// where it listens. `db_url: None` leaves DATABASE_URL to the project's `.env`.
fn boot_with(project: &Path, db_url: Option<&str>, env: &[(&str, &str)]) -> (App, String) {
    let mut cmd = app_command(project, db_url, env);
    let mut child = cmd.spawn().expect("node");
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[app] {line}");
        }
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // NESTGEN_TEST_LOG=path (tests only): the app's output is also kept in that file, for suites
    // that check what it logs.
    let mut log_file = env
        .iter()
        .find(|(k, _)| *k == "NESTGEN_TEST_LOG")
        .map(|(_, v)| std::fs::OpenOptions::new().create(true).append(true).open(v).expect("test log file"));
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && let Some(url) = line.split("listening on ").nth(1) {
                let url = url.split_whitespace().next().unwrap_or("").trim_end_matches(['"', ',']).to_string();
                let _ = tx.send(url);
                sent = true;
            }
            if let Some(f) = log_file.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            eprintln!("[app] {line}");
        }
    });
    let mut app = App(child);
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => (app, url.replace("[::1]", "127.0.0.1")),
        Err(_) => {
            let status = app.0.try_wait().ok().flatten();
            panic!("the app did not say where it listens within 60 s (exit: {status:?})")
        }
    }
}

/// Start the app and expect it to refuse: it exits non-zero within 60 s and its output says
/// each of `expected`.
fn refuses_to_boot(project: &Path, db_url: Option<&str>, env: &[(&str, &str)], expected: &[&str]) {
    let mut cmd = app_command(project, db_url, env);
    let child = cmd.spawn().expect("node");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out =
        rx.recv_timeout(Duration::from_secs(60)).expect("the app neither refused nor stopped within 60 s").unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the app started when it should have refused ({expected:?}):\n{text}");
    for e in expected {
        assert!(text.contains(e), "the refusal does not say `{e}`:\n{text}");
    }
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
    // Settings from a config file: the templates table requires If-Match on every change
    // (conditional.test.mjs; no other suite changes templates).
    std::fs::create_dir_all(&tmp).unwrap();
    let config = tmp.join("seed.toml");
    // And users answer whole rows (select off): the typed client of openapi-client.test.mjs reads
    // them as such, select.test.mjs checks the switch.
    // The tables' modules load on their first request (as "auto" does from 100 tables), so every
    // suite below goes through core/http/lazy-modules.ts; the other projects load them at boot.
    std::fs::write(
        &config,
        "[project]\nlazy_modules = true\n[tables.notification_templates]\nrequire_if_match = true\n[tables.users]\nfeatures = { select = false }\n",
    )
    .unwrap();
    let report = generate(
        &project,
        &[
            "--schema",
            "fixtures/seed",
            "--config",
            config.to_str().unwrap(),
            "--features.rbac=false",
            "--features.tenant-scoped=false",
        ],
    );
    assert!(report.contains("26 resources"), "{report}");
    assert_pinned_versions(&project);
    link_node_modules(&project);
    tsc(&project, &["--noEmit"]);
    tsc(&project, &[]);

    let db = TestDb::create("e2e_seed");
    load_db(&project, &db);
    // A trap for injected SQL: an unqualified pg_sleep() now resolves to public.pg_sleep, which
    // only counts its calls (e2e/tests/injection.test.mjs asserts the count stays 0).
    db.execute(&format!(
        "CREATE TABLE injection_trap (called_at timestamptz NOT NULL DEFAULT now());\n\
         CREATE FUNCTION public.pg_sleep(double precision) RETURNS void LANGUAGE sql AS $$ INSERT INTO public.injection_trap DEFAULT VALUES $$;\n\
         ALTER DATABASE {} SET search_path = public, pg_catalog;",
        db.name
    ))
    .unwrap();
    // As the superuser, on purpose: the seed's own policy on projects reads a setting only
    // tenancy sets, so its rows are for tenants (the security suite covers that). This suite is
    // about CRUD; the development override lets the app start, and says so in its log.
    // A small XLSX cap, which export.test.mjs goes over, and a short stall (it waits one out).
    // The log kept in a file: lazy.test.mjs reads the access log.
    let log = tmp.join("app.log");
    let (_app, base) = boot_env(
        &project,
        &db.url,
        &[
            ("ALLOW_UNSAFE_DATABASE_ROLE", "true"),
            ("EXPORT_XLSX_MAX_ROWS", "25"),
            ("EXPORT_STALL_MS", "1500"),
            ("NESTGEN_TEST_LOG", log.to_str().unwrap()),
        ],
    );
    // First, while no table's module is loaded yet.
    node_test_env(
        (&base, &db.url),
        &["lazy.test.mjs"],
        &[("PROJECT_DIR", project.to_str().unwrap()), ("APP_LOG", log.to_str().unwrap())],
    );
    // The generated client calls what the project's own tests call, with their samples.
    let tsc_bin = project.join("node_modules/.bin/tsc");
    run(Command::new(tsc_bin).args(["-p", "tsconfig.test.json"]).current_dir(&project), "tsc tests");
    node_test_env(
        (&base, &db.url),
        &[
            "crud.test.mjs",
            "injection.test.mjs",
            "openapi-client.test.mjs",
            "select.test.mjs",
            "aggregate.test.mjs",
            "export.test.mjs",
        ],
        &[("PROJECT_DIR", project.to_str().unwrap())],
    );
    // After them (it adds users their listings would count).
    node_test((&base, &db.url), &["conditional.test.mjs"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A 1,000,000-row table exported as CSV (and NDJSON to a slow reader) through the generated
/// app: every row arrives, and the app's memory stays flat (e2e/tests/export-memory.test.mjs
/// samples it from /proc).
#[test]
fn export_streams_a_million_rows_in_bounded_memory() {
    let tmp = tempdir("export-memory");
    let project = tmp.join("api");
    generate(&project, &["--schema", "fixtures/bench/orders.sql"]);
    link_node_modules(&project);
    tsc(&project, &[]);
    let db = TestDb::create("e2e_export_memory");
    load_db(&project, &db);
    db.execute(
        "INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;\n\
         INSERT INTO orders (customer_id, status, total) SELECT 1 + g % 1000, (ARRAY['open', 'paid', 'shipped'])[1 + g % 3], (g % 1000) + 0.99 FROM generate_series(1, 1000000) g;\n\
         ANALYZE orders;",
    )
    .unwrap();
    let (app, base) = boot(&project, &db);
    let pid = app.0.id().to_string();
    node_test_env((&base, &db.url), &["export-memory.test.mjs"], &[("APP_PID", &pid)]);
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A settings file whose project loads its tables' modules on their first request
/// (core/http/lazy-modules.ts), as projects of 100 tables or more do by default.
fn lazy_settings(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("lazy.toml");
    std::fs::write(&path, "[project]\nlazy_modules = true\n").unwrap();
    path.display().to_string()
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
    // And the tables of search.test.mjs: full text of the columns this config names.
    std::fs::create_dir_all(&tmp).unwrap();
    let config = tmp.join("search.toml");
    std::fs::write(&config, "[tables.articles]\nsearch = [\"title\", \"body\"]\nsearch_config = \"english\"\n")
        .unwrap();
    generate(
        &project,
        &[
            "--schema",
            "fixtures/pg/rich.sql",
            "--schema",
            "fixtures/pg/search.sql",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    link_node_modules(&project);
    tsc(&project, &[]);
    let db = TestDb::create("e2e_rich");
    for f in ["db/00-meta.sql", "db/01-schema.sql", "db/80-search.sql"] {
        let sql = std::fs::read_to_string(project.join(f)).unwrap();
        db.execute(&sql).unwrap_or_else(|e| panic!("PostgreSQL rejected the generated {f}: {e}"));
    }
    // Indexes of an earlier `search = [...]` (the unhashed name of older versions, another
    // hash) go when the file runs again; the current one and a user's own index stay.
    db.execute(
        "CREATE INDEX articles_search ON app.articles USING gin (to_tsvector('simple', title));
         CREATE INDEX articles_search_0badc0de ON app.articles USING gin (to_tsvector('simple', body));
         CREATE INDEX articles_search_by_title ON app.articles (title);
         CREATE INDEX articles_search_20240101 ON app.articles (title);",
    )
    .unwrap();
    db.execute(&std::fs::read_to_string(project.join("db/80-search.sql")).unwrap()).unwrap();
    let names = db
        .query_text(
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes
              WHERE schemaname = 'app' AND tablename = 'articles' AND indexname LIKE 'articles_search%'",
        )
        .unwrap()
        .unwrap_or_default();
    let users = ["articles_search_by_title", "articles_search_20240101"];
    let kept: Vec<&str> = names.split(',').filter(|n| !users.contains(n)).collect();
    assert!(users.iter().all(|u| names.contains(u)), "the user's indexes stay: {names}");
    assert_eq!(kept.len(), 1, "one search index is left: {names}");
    assert!(kept[0].len() == "articles_search_".len() + 8 && kept[0] != "articles_search_0badc0de", "{names}");
    // fixtures/pg/rich.sql gives app.people policies of its own that hide rows from a
    // non-owner role (a reader test); the suite checks types, so it runs as the owner.
    let (_app, base) = boot_env(&project, &db.url, &[("ALLOW_UNSAFE_DATABASE_ROLE", "true")]);
    node_test((&base, &db.url), &["rich.test.mjs", "search.test.mjs"]);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `npm run start:dev` (scripts/dev.mjs): compiles, starts the app, and after a change to a
/// source file builds and starts it again; Ctrl-C (SIGINT) stops both.
#[test]
fn start_dev_rebuilds_and_restarts_on_a_change() {
    let tmp = tempdir("startdev");
    let project = tmp.join("api");
    generate(&project, &["--schema", "fixtures/bench/items.sql", "--features.rbac=false"]);
    link_node_modules(&project);
    let db = TestDb::create("e2e_startdev");
    load_db(&project, &db);
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("package.json")).unwrap()).unwrap();
    assert_eq!(package["scripts"]["start:dev"], "node scripts/dev.mjs");
    let mut child = Command::new("node")
        .arg("scripts/dev.mjs")
        .current_dir(&project)
        .env("DATABASE_URL", &db.url)
        .env("ALLOW_UNSAFE_DATABASE_ROLE", "true")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("[dev] {line}");
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str, secs: u64| -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
                && line.contains(what)
            {
                return line;
            }
        }
        panic!("`{what}` not seen within {secs} s");
    };
    wait_for("listening on", 120);
    // A change: the user's service gains a method; the app is built and started again.
    let service = project.join("src/modules/items/items.service.ts");
    let text = std::fs::read_to_string(&service).unwrap();
    // Code, not a comment: the build drops comments.
    let changed = format!("{text}\nexport const CHANGED = 'changed while start:dev runs';\n");
    std::fs::write(&service, changed).unwrap();
    wait_for("Found 0 errors", 120);
    wait_for("listening on", 60);
    let built = std::fs::read_to_string(project.join("dist/modules/items/items.service.js")).unwrap();
    assert!(built.contains("changed while start:dev runs"), "the change was built");
    // Ctrl-C stops the watcher and the app.
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let end = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "start:dev did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    drop(db);
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

/// `npm run lint` (ESLint, typescript-eslint's recommended rules, no warnings allowed),
/// `npm run format:check` (Prettier), `docker compose config` and `npm test` (the project's own
/// generated tests, signed in where the project has sign-in, in an organization where it has
/// tenants) pass on generated projects: one with every feature of the seed (each feature's
/// runtime and templates; its compose.yaml runs Redis and the notification workers), one with
/// awkward names, the real pg_dump schemas, and the seed's multi-tenancy project.
/// Seed names lengthened to near PostgreSQL's limit of 63 characters.
const LONG_NAMES: [(&str, &str); 6] = [
    ("organizations", "organizations_of_the_platform_with_a_rather_long_name_here"),
    ("notifications", "notifications_sent_to_people_with_a_rather_long_name_ok"),
    ("metrics", "metrics_measured_by_sensors_with_a_rather_long_name_ok"),
    ("files", "files_uploaded_by_people_with_a_rather_long_name_here"),
    ("events", "events_of_the_domain_with_a_rather_long_name_here_ok"),
    ("unit", "unit_of_the_measurement_reported_by_the_sensor_long_column"),
];

/// The seed's SQL files with `LONG_NAMES` in place of those words, written to `dir`.
fn long_names_seed(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for entry in std::fs::read_dir(root().join("fixtures/seed")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in LONG_NAMES {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(i) = rest.find(from) {
                let before = rest[..i].chars().last().or_else(|| out.chars().last());
                let after = rest[i + from.len()..].chars().next();
                out.push_str(&rest[..i]);
                out.push_str(if before.is_some_and(word) || after.is_some_and(word) { from } else { to });
                rest = &rest[i + from.len()..];
            }
            out.push_str(rest);
            text = out;
        }
        std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn generated_projects_pass_their_checks_and_their_own_tests() {
    let tmp = tempdir("lint");
    let all = tmp.join("all");
    let mut args: Vec<String> = Vec::new();
    for f in ["01-multi-tenancy", "01b-multi-tenancy-metadata", "02-rbac", "03-audit", "03b-audit-trigger"] {
        args.extend(["--schema".into(), format!("fixtures/seed/{f}.sql")]);
    }
    for f in ["04-event-sourcing", "05-time-series", "06-files", "07-notifications"] {
        args.extend(["--schema".into(), format!("fixtures/seed/{f}.sql")]);
    }
    args.extend(["users", "--features.auth=true", "--features.rbac=true"].map(String::from));
    generate(&all, &args.iter().map(String::as_str).collect::<Vec<_>>());
    generate_inside(
        &all,
        &[
            &["generate", "notifications", "--features.queue=true", "--features.realtime=true"],
            &["generate", "files", "--features.file-upload=true"],
            &["generate", "organizations", "--features.cache=true"],
            &["generate", "events", "metrics", "audit_logs"],
        ],
    );
    let names = tmp.join("names");
    generate(&names, &["--schema", "fixtures/pg/names.sql"]);
    // The whole seed as the CRUD test makes it (event projections and every table).
    let seed = tmp.join("seed");
    generate(&seed, &["--schema", "fixtures/seed", "--features.rbac=false", "--features.tenant-scoped=false"]);
    // Every feature again, with table and column names near PostgreSQL's 63 characters: the
    // layouts that depend on names' lengths (imports, decorators, signatures, objects) break
    // where Prettier breaks them.
    let long = tmp.join("long");
    let schema = long_names_seed(&tmp.join("long-schema"));
    let mut args: Vec<String> = Vec::new();
    for f in ["01-multi-tenancy", "01b-multi-tenancy-metadata", "02-rbac", "03-audit", "03b-audit-trigger"] {
        args.extend(["--schema".into(), schema.join(format!("{f}.sql")).display().to_string()]);
    }
    for f in ["04-event-sourcing", "05-time-series", "06-files", "07-notifications"] {
        args.extend(["--schema".into(), schema.join(format!("{f}.sql")).display().to_string()]);
    }
    args.extend(["users", "--features.auth=true", "--features.rbac=true"].map(String::from));
    // Its tables' modules load on their first request (core/http/lazy-modules.ts): its own tests
    // below go through them, and LAZY_MODULES's long entries are laid out as Prettier does.
    args.extend(["--config".into(), lazy_settings(&tmp)]);
    generate(&long, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        std::fs::read_to_string(long.join("src/app.module.ts"))
            .unwrap()
            .contains("export const LAZY_MODULES: readonly LazyModule[] = [\n"),
        "the long-names project loads its tables' modules lazily"
    );
    let (notifications, files, events, metrics) = (LONG_NAMES[1].1, LONG_NAMES[3].1, LONG_NAMES[4].1, LONG_NAMES[2].1);
    generate_inside(
        &long,
        &[
            &["generate", notifications, "--features.queue=true", "--features.realtime=true"],
            &["generate", files, "--features.file-upload=true"],
            &["generate", events, metrics, "audit_logs"],
        ],
    );
    link_node_modules(&long);
    run(
        Command::new(long.join("node_modules/.bin/tsc")).args(["--noEmit", "-p", "tsconfig.json"]).current_dir(&long),
        "tsc",
    );
    let mut projects = vec![all, names, seed, long];
    for name in ["chinook", "northwind", "supabase", "danbooru", "pagila"] {
        let project = tmp.join(name);
        generate(&project, &["--schema", &format!("fixtures/real/{name}/schema.sql")]);
        projects.push(project);
    }
    // A Compose implementation to check compose.yaml with (scripts/ensure-compose.sh).
    let compose = std::env::var("NESTGEN_COMPOSE").unwrap_or_else(|_| {
        run(Command::new(root().join("scripts/ensure-compose.sh")).current_dir(root()), "ensure-compose")
            .trim()
            .to_string()
    });
    let compose = compose.lines().last().unwrap_or_default().to_string();
    for project in &projects {
        link_node_modules(project);
        let bin = |b: &str| project.join("node_modules/.bin").join(b);
        run(Command::new(bin("eslint")).args(["--max-warnings", "0", "."]).current_dir(project), "eslint");
        run(Command::new(bin("prettier")).args(["--check", "."]).current_dir(project), "prettier --check");
        // compose.yaml is valid, with the settings its comment says to write.
        std::fs::write(project.join(".env"), "").unwrap();
        std::fs::write(project.join("compose.env"), "POSTGRES_PASSWORD=owner-secret\nAPP_DB_PASSWORD=app-secret\n")
            .unwrap();
        let mut words = compose.split_whitespace();
        let config = run(
            Command::new(words.next().unwrap())
                .args(words)
                .args(["--env-file", "compose.env", "-f", "compose.yaml", "config"])
                .current_dir(project),
            "compose config",
        );
        for service in ["db:", "migrate:", "app:"] {
            assert!(config.contains(&format!("\n  {service}")), "{service} in {}:\n{config}", project.display());
        }
        assert!(config.contains("postgres://app_runtime:app-secret@db:5432/"), "{config}");
    }
    // `npm test`: each project's own generated tests, on databases they make and drop. Not
    // supabase's dump (it needs extensions only Supabase has), nor the seed without tenancy: its
    // projects table keeps the seed's own policy on a setting only tenancy sets, so as the
    // runtime role its reads fail (the generator says so when it generates).
    let tenancy = tmp.join("tenancy");
    generate(
        &tenancy,
        &[
            "--schema",
            "fixtures/seed/02-rbac.sql",
            "--schema",
            "fixtures/seed/01-multi-tenancy.sql",
            "--schema",
            "fixtures/seed/01b-multi-tenancy-metadata.sql",
            "users",
            "--features.auth=true",
            "--features.rbac=true",
        ],
    );
    generate_inside(
        &tenancy,
        &[
            &["generate", "organizations", "--features.rbac=true"],
            &["generate", "organization_users", "--features.rbac=true", "--features.tenant-scoped=true"],
            &["generate", "projects", "roles", "permissions", "role_permissions"],
        ],
    );
    link_node_modules(&tenancy);
    let redis = redis_url();
    for project in projects.iter().filter(|p| !p.ends_with("supabase") && !p.ends_with("seed")).chain([&tenancy]) {
        let out = run(
            Command::new("npm")
                .args(["test", "--silent"])
                .current_dir(project)
                .env("TEST_DATABASE_URL", nest_testdb::admin_url())
                .env("REDIS_URL", &redis)
                .env_remove("DATABASE_URL"),
            &format!("npm test in {}", project.display()),
        );
        let count = |label: &str| -> usize {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("# {label} ")))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0)
        };
        assert!(count("pass") >= 5 && count("fail") == 0, "{}:\n{out}", project.display());
    }
    // Its tests sign in as a super-admin in an organization of their own, check that no token
    // and a forged one are 401, that a caller with no role is 403, and that another
    // organization does not see the rows made in the first.
    let read = |f: &str| std::fs::read_to_string(tenancy.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let setup = read("test/support/setup.ts");
    let steps = "superAdmin(h);\n  await signIn(h);\n  await enterOrganization(h);";
    assert!(setup.contains(steps), "the setup steps in order in test/support/setup.ts:\n{setup}");
    assert!(read("test/api.test.ts").contains("rowPath('role-permissions'"));
    assert!(read("test/auth.test.ts").contains("'/v1/projects'"));
    assert!(read("test/rbac.test.ts").contains("'/v1/projects'"));
    assert!(read("test/tenancy.test.ts").contains("const SCOPED = ['organization-users', 'projects']"));
    let all_config = std::fs::read_to_string(projects[0].join("compose.yaml")).unwrap();
    for part in ["\n  redis:", "\n  worker:", "REDIS_URL: redis://redis:6379", "files-data:/app/storage"] {
        assert!(all_config.contains(part), "{part} in the every-feature compose.yaml:\n{all_config}");
    }
    // Every rendered file (each table's, the features' under src/core, the app module, the README,
    // compose.yaml, the tests) is laid out as Prettier does (crates/nestjs/src/layout.rs,
    // markdown.rs): `prettier --check` above covered them all, none is left to .prettierignore.
    for project in &projects {
        let ignored = std::fs::read_to_string(project.join(".prettierignore")).unwrap();
        let rendered: Vec<&str> = ignored
            .lines()
            .filter(|l| !l.starts_with('#') && (l.starts_with("src/") || l.starts_with("test/") || *l == "README.md"))
            .collect();
        assert!(rendered.is_empty(), "{}: Prettier skips {rendered:?}", project.display());
    }
    let pkg = std::fs::read_to_string(projects[0].join("package.json")).unwrap();
    assert!(
        pkg.contains("\"lint\": \"eslint --max-warnings 0 .\"")
            && pkg.contains("\"format:check\": \"prettier --check .\"")
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The migration workflow the generated README describes: `npm run migrate` installs the schema
/// on an empty database; after the schema changes (a column renamed, one added, an index added,
/// the policy changed), `nest-generator sql migrate` inside the project writes a reviewable
/// migration (refusing, with a hint, to drop the renamed column's data), and `npm run migrate`
/// applies it once on a database holding rows, losing none of them.
#[test]
fn schema_changes_migrate_a_database_holding_rows() {
    let tmp = tempdir("migrate");
    std::fs::create_dir_all(&tmp).unwrap();
    let schema = tmp.join("schema.sql");
    std::fs::copy(root().join("fixtures/seed/01-multi-tenancy.sql"), &schema).unwrap();
    let project = tmp.join("api");
    generate(&project, &["--schema", schema.to_str().unwrap()]);
    link_node_modules(&project);
    let nest = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nest-generator"))
            .args(args)
            .current_dir(&project)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let db = TestDb::create("e2e_migrate");
    let migrate = |db: &TestDb, args: &[&str]| {
        run(
            Command::new("node")
                .arg("scripts/migrate.mjs")
                .args(args)
                .current_dir(&project)
                .env("MIGRATE_DATABASE_URL", &db.url)
                .env_remove("DATABASE_URL"),
            "npm run migrate",
        )
    };
    let out = migrate(&db, &[]);
    assert!(out.contains("installed: db/00-meta.sql, db/01-schema.sql"), "{out}");
    db.execute(
        "INSERT INTO organizations (id, name, slug) VALUES ('0190a000-0000-7000-8000-000000000001', 'Acme', 'acme');
         INSERT INTO projects (organization_id, name, description)
           SELECT '0190a000-0000-7000-8000-000000000001', 'p' || g, 'about ' || g FROM generate_series(1, 50) g;",
    )
    .unwrap();

    // The schema changes.
    let text = std::fs::read_to_string(&schema).unwrap();
    let changed =
        text.replace("  description TEXT,\n", "  summary TEXT,\n  priority INTEGER NOT NULL DEFAULT 0,\n").replace(
            "current_setting('app.current_organization_id')::UUID);",
            "current_setting('app.current_organization_id', true)::UUID)\n  \
             WITH CHECK (organization_id = current_setting('app.current_organization_id', true)::UUID);\n\
             CREATE INDEX idx_projects_status ON projects(status) WHERE deleted_at IS NULL;",
        );
    assert_ne!(text, changed);
    std::fs::write(&schema, changed).unwrap();
    // Without the rename, dropping `description` would lose its values: refused, nothing written.
    let refused = nest(&["sql", "migrate", "--out", "db/migrations"]);
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("drops column projects.description"), "{said}");
    assert!(said.contains("--rename-column projects.description=summary"), "{said}");
    assert!(
        !project.join("db/migrations").exists()
            || std::fs::read_dir(project.join("db/migrations")).unwrap().next().is_none()
    );
    let wrote = nest(&[
        "sql",
        "migrate",
        "--rename-column",
        "projects.description=summary",
        "--out",
        "db/migrations",
        "--name",
        "projects",
    ]);
    assert!(wrote.status.success(), "{}", String::from_utf8_lossy(&wrote.stderr));
    let files: Vec<_> = std::fs::read_dir(project.join("db/migrations")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file_name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(file_name.ends_with("_projects.sql"), "{file_name}");
    let sql = std::fs::read_to_string(&files[0]).unwrap();
    assert!(sql.contains("ALTER TABLE projects RENAME COLUMN description TO summary;"), "{sql}");
    assert!(!sql.contains("DESTRUCTIVE"), "{sql}");
    // Regenerate (the app now serves `summary`), then apply.
    generate_inside(&project, &[&["generate"]]);
    let dry = migrate(&db, &["--dry-run"]);
    assert!(dry.contains(&format!("would run: db/migrations/{file_name}")), "{dry}");
    let out = migrate(&db, &[]);
    assert!(out.contains(&format!("migrated: db/migrations/{file_name}, db/00-meta.sql")), "{out}");
    let q = |sql: &str| db.query_text(sql).unwrap().unwrap_or_default();
    assert_eq!(
        q(
            "SELECT count(*) || ' ' || count(*) FILTER (WHERE summary = 'about ' || substr(name, 2)) || ' ' || min(priority) FROM projects"
        ),
        "50 50 0",
        "every row and the renamed column's values are kept"
    );
    assert_eq!(q("SELECT count(*)::text FROM pg_indexes WHERE indexname = 'idx_projects_status'"), "1");
    assert_eq!(
        q("SELECT (with_check IS NOT NULL)::text FROM pg_policies WHERE policyname = 'projects_isolation'"),
        "true"
    );
    // Applied once: a second run applies no migration; a changed applied file is refused.
    let again = migrate(&db, &[]);
    assert!(!again.contains("db/migrations/"), "{again}");
    assert_eq!(q("SELECT count(*)::text FROM nestgen.schema_migrations"), "1");
    std::fs::write(&files[0], format!("{sql}\nSELECT 1;\n")).unwrap();
    let tampered = Command::new("node")
        .arg("scripts/migrate.mjs")
        .current_dir(&project)
        .env("MIGRATE_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!tampered.status.success());
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("changed since"), "{tampered:?}");
    std::fs::write(&files[0], &sql).unwrap();
    // An empty database gets the new schema at once, the migration recorded as already in it.
    let fresh = TestDb::create("e2e_migrate_fresh");
    let out = migrate(&fresh, &[]);
    assert!(out.contains("installed:"), "{out}");
    assert_eq!(fresh.query_text("SELECT count(*)::text FROM nestgen.schema_migrations").unwrap().as_deref(), Some("1"));
    assert!(fresh.execute("SELECT summary, priority FROM projects").is_ok());
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
    let mut db = TestDb::create("e2e_auth");
    load_db(&project, &db);
    // The app's own role: grants are part of what is tested.
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let secret = "e2e-secret-0123456789-0123456789-abcdef";
    let env = [
        ("AUTH_JWT_SECRET", secret),
        ("AUTH_ENCRYPTION_KEY", "e2e-encryption-key-0123456789-0123456789"),
        ("AUTH_MAX_FAILED_LOGINS", "3"),
        ("AUTH_ACCOUNT_LOCK_AFTER", "6"),
        ("AUTH_LOCK_MINUTES", "5"),
        ("TRUST_PROXY", "true"),
    ];
    let (_app, base) = boot_env(&project, &app_url, &env);
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
    let key = ("AUTH_ENCRYPTION_KEY", "tenancy-encryption-key-0123456789-0123456789");
    // Memberships cached half a second (the revocation test waits for it); a pool wait long
    // enough for 300 requests at once on a busy machine.
    let common = [("AUTH_JWT_SECRET", secret), key, ("TENANT_CACHE_TTL_MS", "500"), ("DB_POOL_TIMEOUT_MS", "60000")];
    let log = tmp.join("app.log");
    let mut logged = common.to_vec();
    logged.push(("NESTGEN_TEST_LOG", log.to_str().unwrap()));
    let (_app, base) = boot_env(&project, &app_url, &logged);
    let mut nofilter_env = common.to_vec();
    nofilter_env.push(("NESTGEN_NO_APP_FILTERS", "1"));
    let (_nofilter, base_nofilter) = boot_env(&project, &app_url, &nofilter_env);
    node_test_env(
        (&base, &db.url),
        &["tenancy.test.mjs"],
        &[
            ("AUTH_JWT_SECRET", secret),
            ("DATABASE_URL_APP", &app_url),
            ("BASE_URL_NOFILTER", &base_nofilter),
            ("APP_LOG", log.to_str().unwrap()),
        ],
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

    // The same dump with `payment` (range-partitioned by month) served as a time series: the
    // database as pg_dump wrote it, plus the project's own time-series file and grants.
    let series = tmp.join("pagila-series");
    generate(&series, &["--schema", "fixtures/real/pagila/schema.sql", "payment", "--features.time-series=true"]);
    link_node_modules(&series);
    tsc(&series, &[]);
    let mut db = TestDb::create("e2e_pagila_series");
    db.execute(&dump).unwrap();
    for f in ["00-meta.sql", "08-time-series.sql", "90-app-role.sql"] {
        let sql = std::fs::read_to_string(series.join("db").join(f)).unwrap();
        db.execute(&sql).unwrap_or_else(|e| panic!("PostgreSQL rejected {f} on pagila's dump: {e}"));
    }
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let (_series_app, series_base) = boot_env(&series, &app_url, &[("TS_MAINTENANCE", "off")]);
    node_test((&series_base, &db.url), &["pagila-series.test.mjs"]);
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
        let key = ("AUTH_ENCRYPTION_KEY", "audit-encryption-key-0123456789-0123456789");
        let (_app, base) =
            boot_env(&project, &app_url, &[("AUTH_JWT_SECRET", secret), key, ("AUDIT_MAINTENANCE_MINUTES", "0")]);
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
                boot_env(&project, &app_url, &[("AUTH_JWT_SECRET", secret), key, ("AUDIT_MAINTENANCE_MINUTES", "60")]);
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

/// A child process killed when the test ends.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The SMTP sink of e2e/smtp-sink.mjs, writing messages to `dir`: (process, smtp URL).
fn smtp_sink(dir: &Path) -> (Background, String) {
    let mut child = Command::new("node")
        .arg(root().join("e2e/smtp-sink.mjs"))
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node e2e/smtp-sink.mjs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("smtp sink said {line:?}")).to_string();
    (Background(child), format!("smtp://127.0.0.1:{port}"))
}

/// The machine's Redis (scripts/ensure-redis.sh starts it for the suite).
fn redis_url() -> String {
    let url = std::env::var("NEST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url.trim_start_matches("redis://").split('/').next().unwrap_or("127.0.0.1:6379").to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "no Redis at {url}: run scripts/ensure-redis.sh (or set NEST_TEST_REDIS_URL)"
    );
    url
}

/// The fenced ```sh block of `readme` that contains `marker`.
fn readme_block(readme: &str, marker: &str) -> String {
    readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("\n```").next().unwrap_or("").to_string())
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("the generated README has no sh block with `{marker}`"))
}

/// `KEY=value` lines of a .env file.
fn dotenv(path: &Path) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

/// Drops a database and roles made outside TestDb (by the README's own commands).
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for sql in &self.0 {
            let _ = nest_testdb::execute(&nest_testdb::admin_url(), sql);
        }
    }
}

/// The whole seed, generated with defaults, set up by running the generated README's setup block
/// verbatim, then attacked over HTTP (e2e/tests/security.test.mjs); and the boot checks: the
/// app refuses to run as a superuser, a BYPASSRLS role or a table owner, or without a secret.
#[test]
fn seed_defaults_set_up_by_the_readme_resist_attacks() {
    let tmp = tempdir("security");
    let project = tmp.join("secapi");
    generate(&project, &["--schema", "fixtures/seed"]);
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    // The README's build block, as written: npm ci from the shipped lockfile, then tsc.
    node_modules(); // (a warm npm cache for it)
    run(
        Command::new("bash").args(["-euo", "pipefail", "-c", &readme_block(&readme, "npm ci")]).current_dir(&project),
        "the README's build block",
    );
    let mail_dir = tmp.join("mail");
    let (_sink, smtp) = smtp_sink(&mail_dir);
    let redis = redis_url();

    // The README's setup block, as written, with psql pointed at the test server.
    let admin = nest_testdb::admin_url();
    let rest = admin.trim_start_matches("postgres://").trim_start_matches("postgresql://");
    let (user, hostpart) = rest.split_once('@').unwrap_or(("postgres", rest));
    let hostport = hostpart.split('/').next().unwrap_or("127.0.0.1:5432");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    let db_name = format!("ngt_readme_{}", std::process::id());
    let app_role = format!("{db_name}_app");
    let _cleanup = Cleanup(vec![
        format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS {app_role}"),
        format!("DROP ROLE IF EXISTS {db_name}_bypass"),
        format!("DROP ROLE IF EXISTS {db_name}_owner"),
    ]);
    // Leftovers of an interrupted run.
    drop(Cleanup(vec![
        format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS {app_role}"),
    ]));
    let block = readme_block(&readme, "createdb");
    run(
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &block])
            .current_dir(&project)
            .env("DB_NAME", &db_name)
            .env("PGHOST", host)
            .env("PGPORT", port)
            .env("PGUSER", user.split(':').next().unwrap_or(user)),
        "the README's setup block",
    );
    let env = dotenv(&project.join(".env"));
    let app_url = env.get("DATABASE_URL").expect(".env has DATABASE_URL").clone();
    let secret = env.get("AUTH_JWT_SECRET").expect(".env has AUTH_JWT_SECRET").clone();
    let db_url = nest_testdb::with_db(&admin, &db_name);

    // The app takes DATABASE_URL and the secrets from .env.
    let quiet = [
        ("SMTP_URL", smtp.as_str()),
        ("AUTH_STATE_CACHE_MS", "0"),
        ("TENANT_CACHE_TTL_MS", "0"),
        ("RBAC_CACHE_TTL_MS", "0"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "100000"),
        ("AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE", "100000"),
    ];
    let (_app, base) = boot_with(&project, None, &quiet);
    let mut nofilter_env = quiet.to_vec();
    nofilter_env.push(("NESTGEN_NO_APP_FILTERS", "1"));
    let (_nofilter, base_nofilter) = boot_with(&project, None, &nofilter_env);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("ngt-{}-{nanos}:", std::process::id());
    let new_secret = "a-rotated-secret-0123456789-0123456789-xyz";
    let limited = [
        ("SMTP_URL", smtp.as_str()),
        ("RATE_LIMIT_PER_MINUTE", "30"),
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
        ("TRUST_PROXY", "true"),
        ("AUTH_MAX_FAILED_LOGINS", "3"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "100"),
        ("AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE", "10"),
        ("AUTH_JWT_SECRET", new_secret),
        ("AUTH_JWT_PREVIOUS_SECRETS", secret.as_str()),
    ];
    let (_limited_a, base_a) = boot_with(&project, None, &limited);
    let (_limited_b, base_b) = boot_with(&project, None, &limited);
    node_test_env(
        (&base, &db_url),
        &["security.test.mjs"],
        &[
            ("BASE_URL_NOFILTER", &base_nofilter),
            ("BASE_URL_LIMITED_A", &base_a),
            ("BASE_URL_LIMITED_B", &base_b),
            ("DATABASE_URL_APP", &app_url),
            ("APP_ROLE", &app_role),
            ("MAIL_DIR", mail_dir.to_str().unwrap()),
        ],
    );

    // Boot safety: connections that would switch row-level security off are refused.
    refuses_to_boot(&project, Some(&db_url), &[("SMTP_URL", &smtp)], &["a superuser"]);
    let bypass = format!("{db_name}_bypass");
    nest_testdb::execute(&admin, &format!("CREATE ROLE {bypass} LOGIN NOSUPERUSER BYPASSRLS")).unwrap();
    refuses_to_boot(
        &project,
        Some(&format!("postgres://{bypass}@{hostport}/{db_name}")),
        &[("SMTP_URL", &smtp)],
        &["BYPASSRLS"],
    );
    let owner = format!("{db_name}_owner");
    nest_testdb::execute(&admin, &format!("CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS")).unwrap();
    nest_testdb::execute(
        &db_url,
        &format!(
            "CREATE TABLE owner_probe (id int); ALTER TABLE owner_probe ENABLE ROW LEVEL SECURITY; ALTER TABLE owner_probe OWNER TO {owner}"
        ),
    )
    .unwrap();
    refuses_to_boot(
        &project,
        Some(&format!("postgres://{owner}@{hostport}/{db_name}")),
        &[("SMTP_URL", &smtp)],
        &["owns tables with row-level security"],
    );
    nest_testdb::execute(&db_url, "DROP TABLE owner_probe").unwrap();
    // The development override lets a superuser through (loudly), never in production.
    let (_unsafe, _) =
        boot_with(&project, Some(&db_url), &[("SMTP_URL", &smtp), ("ALLOW_UNSAFE_DATABASE_ROLE", "true")]);
    refuses_to_boot(
        &project,
        Some(&db_url),
        &[("SMTP_URL", &smtp), ("ALLOW_UNSAFE_DATABASE_ROLE", "true"), ("NODE_ENV", "production")],
        &["a superuser"],
    );
    // Secrets: missing or short.
    refuses_to_boot(&project, None, &[("SMTP_URL", &smtp), ("AUTH_JWT_SECRET", "")], &["AUTH_JWT_SECRET is not set"]);
    refuses_to_boot(
        &project,
        None,
        &[("SMTP_URL", &smtp), ("AUTH_JWT_SECRET", "short")],
        &["AUTH_JWT_SECRET must be at least 32"],
    );
    refuses_to_boot(
        &project,
        None,
        &[("SMTP_URL", &smtp), ("AUTH_ENCRYPTION_KEY", "")],
        &["AUTH_ENCRYPTION_KEY is not set"],
    );
    refuses_to_boot(&project, None, &[("NODE_ENV", "production")], &["SMTP_URL is not set"]);
    // Every bad setting is named in one refusal, with what it must be.
    refuses_to_boot(
        &project,
        None,
        &[("SMTP_URL", &smtp), ("DB_POOL_MAX", "many"), ("AUTH_ACCESS_TTL_SECONDS", "5"), ("JSON_MAX_DEPTH", "1")],
        &[
            "invalid configuration",
            "DB_POOL_MAX must be an integer between 1 and 1000, got \"many\"",
            "AUTH_ACCESS_TTL_SECONDS must be an integer between 10 and 86400, got \"5\"",
            "JSON_MAX_DEPTH must be an integer between 2 and 1000, got \"1\"",
        ],
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

fn nats_url() -> String {
    let url = std::env::var("NEST_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let addr = url.trim_start_matches("nats://").split(',').next().unwrap_or("127.0.0.1:4222").to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "no NATS at {url}: run scripts/ensure-nats.sh (or set NEST_TEST_NATS_URL)"
    );
    url
}

/// Seed scenario 4 as its command says (`generate events --features.event-sourcing=true
/// --features.readonly=true`), with sign-in, snapshots every 5 events and the NATS outbox: the
/// suite e2e/tests/events.test.mjs drives appends, the feed, snapshots, projections and processors
/// (it starts and kills processor instances itself), and reads what reached JetStream.
#[test]
fn event_store_appends_reads_projects_and_publishes() {
    let tmp = tempdir("events");
    let project = tmp.join("api");
    let schema = ["--schema", "fixtures/seed/02-rbac.sql", "--schema", "fixtures/seed/04-event-sourcing.sql"];
    generate(&project, &[&schema[..], &["users", "--features.auth=true"]].concat());
    let toml = project.join("nest-generator.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[event_sourcing]\nsnapshot_every = 5\npublish = \"nats\"\n")).unwrap();
    let commands: &[&[&str]] = &[
        &["events", "--features.event-sourcing=true", "--features.readonly=true"],
        &["aggregate_snapshots", "user_summary", "event_processors"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_nest-generator"))
            .arg("generate")
            .args(*args)
            .current_dir(&project)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "generate {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    // The projection is the user's file: the suite's own counts orders, so a double count shows.
    std::fs::copy(
        root().join("e2e/projections/user-summary.projection.ts"),
        project.join("src/events/projections/user-summary.projection.ts"),
    )
    .unwrap();
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_events");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let nats = nats_url();
    let stream = format!("E2E_EVENTS_{}", std::process::id());
    let prefix = format!("e2e{}", std::process::id());
    let env: Vec<(&str, &str)> = vec![
        ("AUTH_JWT_SECRET", "events-secret-0123456789-0123456789-abcdef"),
        ("AUTH_ENCRYPTION_KEY", "events-encryption-key-0123456789-0123456789"),
        ("NATS_URL", &nats),
        ("NATS_STREAM", &stream),
        ("NATS_SUBJECT_PREFIX", &prefix),
        ("DATABASE_URL", &app_url),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1000000"),
    ];
    let mut main_env = env.clone();
    main_env.push(("EVENT_PROCESSORS", "off"));
    let (_app, base) = boot_env(&project, &app_url, &main_env);
    let app_env: serde_json::Map<String, serde_json::Value> =
        env.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    node_test_env(
        (&base, &db.url),
        &["events.test.mjs"],
        &[
            ("PROJECT_DIR", project.to_str().unwrap()),
            ("APP_ENV_JSON", &serde_json::Value::Object(app_env).to_string()),
            ("DATABASE_URL_APP", &app_url),
            ("SNAPSHOT_EVERY", "5"),
        ],
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Seed scenario 5 with multi-tenancy on stock PostgreSQL (the series range-partitioned by the
/// app, the rollup a table it refreshes): e2e/tests/timeseries.test.mjs streams a million NDJSON
/// rows in (TS_ROWS to change it) and checks the answers against SQL.
#[test]
fn time_series_ingests_a_million_rows_and_answers_like_sql() {
    let tmp = tempdir("series");
    let project = tmp.join("api");
    let schema = [
        "--schema",
        "fixtures/seed/02-rbac.sql",
        "--schema",
        "fixtures/seed/01-multi-tenancy.sql",
        "--schema",
        "fixtures/seed/01b-multi-tenancy-metadata.sql",
        "--schema",
        "fixtures/seed/05-time-series.sql",
    ];
    // Its tables' modules load on their first request: the streamed ingest's route config
    // (`@RouteConfig(STREAM_BODY)`, read by the body parser) must reach it all the same.
    let lazy = lazy_settings(&tmp);
    let report = generate(&project, &[&schema[..], &["--all", "--config", &lazy]].concat());
    assert!(report.contains("partitioned by range on time"), "{report}");
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_series");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let env = [
        ("AUTH_JWT_SECRET", "series-secret-0123456789-0123456789-abcdef"),
        ("AUTH_ENCRYPTION_KEY", "series-encryption-key-0123456789-0123456789"),
        // The suite runs the maintenance itself.
        ("TS_MAINTENANCE", "off"),
        // A heap far smaller than the streamed body: an app that held it would die.
        ("NODE_OPTIONS", "--max-old-space-size=128"),
        // Small limits the suite reaches: points of a filled series, ingests at once, idle clients.
        ("TS_MAX_POINTS", "5000"),
        ("TS_INGEST_CONCURRENCY", "2"),
        ("TS_INGEST_IDLE_SECONDS", "2"),
    ];
    let (app, base) = boot_env(&project, &app_url, &env);
    let pid = app.0.id().to_string();
    let rows = std::env::var("TS_ROWS").unwrap_or_else(|_| "1000000".into());
    node_test_env(
        (&base, &db.url),
        &["timeseries.test.mjs"],
        &[("APP_PID", &pid), ("DATABASE_URL_APP", &app_url), ("TS_ROWS", &rows)],
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Seed scenario 6's file store on local disk, generated with the seed's own command
/// (`generate files --features.file-upload=true --features.rbac=true`) in a project with sign-in:
/// e2e/tests/files.test.mjs uploads 200 MB through an app whose heap is capped at 128 MB.
#[test]
fn files_upload_stream_scan_and_download() {
    let tmp = tempdir("files");
    let project = tmp.join("api");
    // Its tables' modules load on their first request: the uploads' route config
    // (`@RouteConfig(UPLOAD_BODY)`, read by the body parser) must reach them all the same.
    // (files-tenancy.test.mjs uploads through modules loaded at boot.)
    let lazy = lazy_settings(&tmp);
    generate(
        &project,
        &[
            "--schema",
            "fixtures/seed/02-rbac.sql",
            "--schema",
            "fixtures/seed/06-files.sql",
            "users",
            "--features.auth=true",
            "--config",
            &lazy,
        ],
    );
    // The seed's command, then the folders the files point into (their tree kept by
    // db/09-files.sql), the versions and the share links.
    generate_inside(
        &project,
        &[
            &["generate", "files", "--features.file-upload=true", "--features.rbac=true"],
            &["generate", "folders", "file_versions", "file_shares"],
        ],
    );
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_files");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let store = tmp.join("store");
    let store_dir = store.to_str().unwrap();
    let max = "262144000";
    let quota = "230000000";
    let env = [
        ("AUTH_JWT_SECRET", "files-secret-0123456789-0123456789-abcdef"),
        ("AUTH_ENCRYPTION_KEY", "files-encryption-key-0123456789-0123456789"),
        ("FILES_DIR", store_dir),
        ("FILES_MAX_BYTES", max),
        ("FILES_QUOTA_BYTES", quota),
        ("NODE_OPTIONS", "--max-old-space-size=128"),
        // Short, for the sweep test (entries there are backdated); longer than any upload here.
        ("FILES_ORPHAN_SECONDS", "60"),
        ("FILES_SWEEP_SECONDS", "1"),
    ];
    let (app, base) = boot_env(&project, &app_url, &env);
    let pid = app.0.id().to_string();
    node_test_env(
        (&base, &db.url),
        &["files.test.mjs"],
        &[("APP_PID", &pid), ("FILES_DIR", store_dir), ("FILES_MAX_BYTES", max), ("FILES_QUOTA_BYTES", quota)],
    );
    drop(app);

    // The same suite on S3: moto's server mode, a bucket of its own, a fresh database.
    let (_moto, endpoint) = moto_server();
    let bucket = format!("nestgen-files-{}", std::process::id());
    run(
        Command::new("node")
            .args(["--input-type=module", "-e"])
            .arg(format!(
                "const {{ S3Client, CreateBucketCommand }} = await import('@aws-sdk/client-s3');                 await new S3Client({{ region: 'us-east-1', endpoint: '{endpoint}', forcePathStyle: true }}).send(new CreateBucketCommand({{ Bucket: '{bucket}' }}));"
            ))
            .current_dir(root().join("e2e"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test"),
        "create the test bucket",
    );
    let mut db = TestDb::create("e2e_files_s3");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let mut s3_env = env.to_vec();
    s3_env.extend([
        ("FILES_STORAGE", "s3"),
        ("FILES_S3_BUCKET", bucket.as_str()),
        ("FILES_S3_ENDPOINT", endpoint.as_str()),
        ("FILES_S3_FORCE_PATH_STYLE", "true"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]);
    let (app, base) = boot_env(&project, &app_url, &s3_env);
    let pid = app.0.id().to_string();
    node_test_env(
        (&base, &db.url),
        &["files.test.mjs"],
        &[
            ("APP_PID", &pid),
            ("FILES_MAX_BYTES", max),
            ("FILES_QUOTA_BYTES", quota),
            ("FILES_S3_BUCKET", &bucket),
            ("FILES_S3_ENDPOINT", &endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The file store under tenancy (seed scenarios 1 and 6): files and folders belong to an
/// organization and an owner; their versions and share links follow the file; a share link made
/// in one organization opens outside any; a quota per organization.
#[test]
fn files_under_tenancy_versions_and_shares_follow_their_file() {
    let tmp = tempdir("files-tenancy");
    let project = tmp.join("api");
    generate(
        &project,
        &[
            "--schema",
            "fixtures/seed/01-multi-tenancy.sql",
            "--schema",
            "fixtures/seed/01b-multi-tenancy-metadata.sql",
            "--schema",
            "fixtures/seed/02-rbac.sql",
            "--schema",
            "fixtures/seed/06-files.sql",
            "users",
            "--features.auth=true",
        ],
    );
    generate_inside(
        &project,
        &[
            &["generate", "organizations", "organization_users"],
            &["generate", "files", "--features.file-upload=true", "--features.rbac=true"],
            &["generate", "folders", "file_versions", "file_shares"],
        ],
    );
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_files_tenancy");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let store = tmp.join("store");
    let env = [
        ("AUTH_JWT_SECRET", "files-tenancy-secret-0123456789-0123456789"),
        ("AUTH_ENCRYPTION_KEY", "files-tenancy-encryption-key-0123456789-0123"),
        ("FILES_DIR", store.to_str().unwrap()),
        ("FILES_TENANT_QUOTA_BYTES", "1000"),
        // The other choice for a name that says another type than the bytes (files.test.mjs: store).
        ("FILES_TYPE_MISMATCH", "refuse"),
        // Memberships and accounts read fresh: a link dies the moment its maker leaves (in
        // production within TENANT_CACHE_TTL_MS / AUTH_STATE_CACHE_MS).
        ("TENANT_CACHE_TTL_MS", "0"),
        ("AUTH_STATE_CACHE_MS", "0"),
    ];
    let (app, base) = boot_env(&project, &app_url, &env);
    node_test_env((&base, &db.url), &["files-tenancy.test.mjs"], &[("APP_DATABASE_URL", &app_url)]);
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Notifications (seed scenario 7) with the seed's command: sent from templates, delivered by a
/// worker process of their own (`node dist/worker.js`, the API's workers off) through Redis to an
/// SMTP sink; preferences, quiet hours, retries then dead, the recipient's own routes.
#[test]
fn notifications_sent_from_templates_delivered_by_the_worker() {
    let tmp = tempdir("notify");
    let project = tmp.join("api");
    generate(
        &project,
        &[
            "--schema",
            "fixtures/seed/02-rbac.sql",
            "--schema",
            "fixtures/seed/07-notifications.sql",
            "users",
            "--features.auth=true",
            "--features.rbac=true",
        ],
    );
    generate_inside(
        &project,
        &[
            &["generate", "notifications", "--features.queue=true", "--features.realtime=true"],
            &["generate", "notification_templates", "notification_preferences", "notification_deliveries"],
        ],
    );
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_notify");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let mail = tmp.join("mail");
    let (_sink, smtp) = smtp_sink(&mail);
    let redis = redis_url();
    let prefix = format!("nestgen-e2e-notify-{}:", std::process::id());
    let env = [
        ("AUTH_JWT_SECRET", "notify-secret-0123456789-0123456789-abcdef"),
        ("AUTH_ENCRYPTION_KEY", "notify-encryption-key-0123456789-0123456789"),
        ("SMTP_URL", smtp.as_str()),
        ("MAIL_FROM", "notify@example.test"),
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
        ("NOTIFY_ATTEMPTS", "3"),
        ("NOTIFY_BACKOFF_MS", "200"),
        ("NOTIFY_RELAY_MS", "200"),
        // A killed worker's job goes to another within seconds (the kill test).
        ("NOTIFY_LOCK_MS", "2000"),
        // SMS through the log test double; push has no provider (and must fail, not vanish).
        ("NOTIFY_SMS", "log"),
        // One job at a time: the priority test keeps the worker busy and watches the order.
        ("NOTIFY_CONCURRENCY", "1"),
    ];
    let mut api_env = env.to_vec();
    api_env.push(("NOTIFY_WORKER", "off"));
    let (app, base) = boot_env(&project, &app_url, &api_env);
    // The workers: a process of their own.
    let worker = Background(
        Command::new("node")
            .arg("dist/worker.js")
            .current_dir(&project)
            .env("DATABASE_URL", &app_url)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node dist/worker.js"),
    );
    // The test kills this worker in the middle of a delivery and starts another with the same
    // environment.
    let mut worker_env: serde_json::Map<String, serde_json::Value> =
        env.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    worker_env.insert("DATABASE_URL".into(), app_url.clone().into());
    let worker_env = serde_json::Value::Object(worker_env).to_string();
    let worker_pid = worker.0.id().to_string();
    node_test_env(
        (&base, &db.url),
        &["notifications.test.mjs"],
        &[
            ("MAIL_DIR", mail.to_str().unwrap()),
            ("PROJECT_DIR", project.to_str().unwrap()),
            ("WORKER_PID", &worker_pid),
            ("WORKER_ENV", &worker_env),
        ],
    );
    drop(worker);
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The read cache (issue 17) on the seed's cached tables (tenancy, RBAC) plus a cached parent
/// and child with ON DELETE CASCADE: the stale-read matrix of e2e/tests/cache.test.mjs against
/// two instances sharing the machine's Redis and a third whose Redis the test pauses and stops.
#[test]
fn cached_reads_stay_fresh_after_every_write() {
    let tmp = tempdir("cache");
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
            "fixtures/cache/boards.sql",
            "users",
            "--features.auth=true",
            "--features.rbac=true",
        ],
    );
    generate_inside(
        &project,
        &[
            &["generate", "organizations", "--features.rbac=true"],
            &["generate", "organization_users", "--features.rbac=true", "--features.tenant-scoped=true"],
            &["generate", "projects", "boards", "board_cards", "--features.rbac=true"],
        ],
    );
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_cache");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let redis = redis_url();
    let prefix = format!("nestgen-e2e-cache-{}:", std::process::id());
    let own_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let own_redis = format!("redis://127.0.0.1:{own_port}");
    let secret = "cache-secret-0123456789-0123456789-abcdef";
    let common = [
        ("AUTH_JWT_SECRET", secret),
        ("AUTH_ENCRYPTION_KEY", "cache-encryption-key-0123456789-0123456789"),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let shared = [common.as_slice(), &[("REDIS_URL", redis.as_str())]].concat();
    let own = [common.as_slice(), &[("REDIS_URL", own_redis.as_str())]].concat();
    let (_app, base) = boot_env(&project, &app_url, &shared);
    let (_app2, base2) = boot_env(&project, &app_url, &shared);
    let (_app3, base3) = boot_env(&project, &app_url, &own);
    node_test_env(
        (&base, &db.url),
        &["cache.test.mjs"],
        &[
            ("BASE_URL_2", &base2),
            ("BASE_URL_OWN", &base3),
            ("OWN_REDIS_PORT", &own_port),
            ("REDIS_URL", &redis),
            ("REDIS_PREFIX", &prefix),
        ],
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Notifications under tenancy: a notifications table with the tenant column is the request's
/// organization's — recipients must be members, rows carry the organization, workers deliver
/// inside it, and neither the app nor row-level security shows them elsewhere.
#[test]
fn notifications_under_tenancy_stay_in_their_organization() {
    let tmp = tempdir("notify-tenancy");
    let project = tmp.join("api");
    generate(
        &project,
        &[
            "--schema",
            "fixtures/seed/01-multi-tenancy.sql",
            "--schema",
            "fixtures/seed/01b-multi-tenancy-metadata.sql",
            "--schema",
            "fixtures/seed/02-rbac.sql",
            "--schema",
            "fixtures/notifications/tenant-notifications.sql",
            "users",
            "--features.auth=true",
            "--features.rbac=true",
        ],
    );
    generate_inside(
        &project,
        &[
            &["generate", "organizations", "organization_users"],
            &["generate", "notifications", "--features.queue=true", "--features.realtime=true"],
            &["generate", "notification_templates", "notification_deliveries"],
        ],
    );
    link_node_modules(&project);
    tsc(&project, &[]);
    let mut db = TestDb::create("e2e_notify_tenancy");
    load_db(&project, &db);
    let app_url = db.app_role("SELECT nestgen.grant_app_role('{role}')");
    let redis = redis_url();
    let prefix = format!("nestgen-e2e-notify-tenancy-{}:", std::process::id());
    let env = [
        ("AUTH_JWT_SECRET", "notify-tenancy-secret-0123456789-0123456789"),
        ("AUTH_ENCRYPTION_KEY", "notify-tenancy-encryption-key-0123456789-01"),
        ("MAIL_TRANSPORT", "log"),
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
        ("NOTIFY_RELAY_MS", "200"),
        ("TENANT_CACHE_TTL_MS", "0"),
    ];
    let (app, base) = boot_env(&project, &app_url, &env);
    node_test_env((&base, &db.url), &["notifications-tenancy.test.mjs"], &[("APP_DATABASE_URL", &app_url)]);
    drop(app);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// moto's S3 server on a free port (scripts/ensure-moto.sh installs it): (process, endpoint).
fn moto_server() -> (Background, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (pip install 'moto[server]'; scripts/ensure-moto.sh)");
    let moto = Background(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not listen within 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    (moto, format!("http://127.0.0.1:{port}"))
}
