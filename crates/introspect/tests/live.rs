//! Live introspection against a throwaway PostgreSQL database: the same schema read offline,
//! read live, and read back from `pg_dump --schema-only` gives the same Catalog.

use nest_catalog::meta::meta_schema_sql;
use nest_catalog::{Catalog, Severity, TableKind};
use nest_ddl::{SourceFile, parse_sources, parse_str};
use nest_testdb::TestDb;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(rel: &str) -> SourceFile {
    let p = root().join(rel);
    SourceFile {
        name: rel.to_string(),
        text: std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    }
}

fn meta_file() -> SourceFile {
    SourceFile { name: "meta.sql".into(), text: meta_schema_sql() }
}

/// The parts of a catalog both readers must agree on: everything but diagnostics (only the
/// offline reader has input positions) and view query text (PostgreSQL rewrites it).
fn comparable(c: &Catalog) -> serde_json::Value {
    let mut c = c.clone();
    c.diagnostics.clear();
    for t in &mut c.tables {
        t.definition = None;
    }
    serde_json::to_value(&c).unwrap()
}

fn assert_same(what: &str, expected: &Catalog, actual: &Catalog) {
    let (e, a) = (comparable(expected), comparable(actual));
    if e != a {
        let es = serde_json::to_string_pretty(&e).unwrap();
        let as_ = serde_json::to_string_pretty(&a).unwrap();
        let diff: Vec<String> = es
            .lines()
            .zip(as_.lines())
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .take(15)
            .map(|(i, (x, y))| format!("line {}:\n  expected {x}\n  actual   {y}", i + 1))
            .collect();
        panic!("{what}: catalogs differ\n{}", diff.join("\n"));
    }
}

fn no_problems(what: &str, c: &Catalog) {
    let bad: Vec<String> =
        c.diagnostics.iter().filter(|d| d.severity != Severity::Info).map(|d| d.to_string()).collect();
    assert!(bad.is_empty(), "{what}: unexpected diagnostics:\n{}", bad.join("\n"));
}

fn pg_dump(db: &TestDb) -> String {
    let out = Command::new("pg_dump")
        .args(["--schema-only", "--dbname", &db.url])
        .output()
        .expect("pg_dump must be installed (PostgreSQL client tools) for this test");
    assert!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Load `files` (after the tool's meta schema) into a fresh database and check that live
/// introspection and the pg_dump round trip both equal the offline reading.
fn three_way(name: &str, files: &[&str]) -> Catalog {
    let mut sources = vec![meta_file()];
    sources.extend(files.iter().map(|f| fixture(f)));
    three_way_sources(name, sources)
}

/// Seed files PostgreSQL refuses as written (a partition of a table not declared partitioned, a
/// foreign key to a table created later, `CREATE EXTENSION timescaledb` on a server without it)
/// are loaded as the tool writes them out (`nest-generator sql schema`, what db/01-schema.sql
/// holds): the reading of that text, live and through pg_dump, must agree too.
fn three_way_written_out(name: &str, files: &[&str]) -> Catalog {
    three_way_written_with(name, files, &nest_sql::Storage::default())
}

/// As `three_way_written_out`, with tables stored as the time-series feature asks.
fn three_way_written_with(name: &str, files: &[&str], storage: &nest_sql::Storage) -> Catalog {
    let mut sources = vec![meta_file()];
    sources.extend(files.iter().map(|f| fixture(f)));
    let original = parse_sources(&sources);
    let (schema, _notes) = nest_sql::schema_sql_with(&original, storage);
    let mut written = vec![meta_file()];
    written.push(SourceFile { name: format!("{name}-schema.sql"), text: schema });
    // The metadata rows, which the schema text does not carry.
    written.extend(files.iter().map(|f| fixture(f)).filter(|f| f.text.contains("INSERT INTO meta.")).map(|mut f| {
        f.text = f
            .text
            .lines()
            .filter(|l| !l.starts_with("CREATE") && !l.starts_with("ALTER"))
            .collect::<Vec<_>>()
            .join("\n");
        f
    }));
    let c = three_way_sources(name, written);
    // Every table of the input is still there, with its columns.
    for t in &original.tables {
        let again =
            c.table(&t.schema, &t.name).unwrap_or_else(|| panic!("{name}: {} lost in the written schema", t.name));
        let cols =
            |x: &nest_catalog::Table| x.columns.iter().map(|k| (k.name.clone(), k.ty.to_string())).collect::<Vec<_>>();
        assert_eq!(cols(again), cols(t), "{name}: columns of {}", t.name);
    }
    c
}

fn three_way_sources(name: &str, sources: Vec<SourceFile>) -> Catalog {
    let offline = parse_sources(&sources);
    no_problems(&format!("{name} offline"), &offline);

    let db = TestDb::create(name);
    for s in &sources {
        db.execute(&s.text).unwrap_or_else(|e| panic!("{name}: PostgreSQL rejected {}: {e}", s.name));
    }
    let live = nest_introspect::introspect_blocking(&db.url, &[]).expect("introspect");
    assert_same(&format!("{name}: offline vs live"), &offline, &live);

    let dump = pg_dump(&db);
    assert!(dump.contains("ALTER TABLE ONLY") || !offline.tables.iter().any(|t| t.primary_key.is_some()));
    let from_dump = parse_str("dump.sql", &dump);
    no_problems(&format!("{name} pg_dump"), &from_dump);
    // pg_dump --schema-only carries no rows, so no meta.* settings: compare without them.
    let mut offline_schema = offline.clone();
    offline_schema.metadata = Default::default();
    assert_same(&format!("{name}: offline vs pg_dump"), &offline_schema, &from_dump);
    offline
}

#[test]
fn seed_multi_tenancy_with_metadata() {
    let c =
        three_way("seed01", &["fixtures/seed/01-multi-tenancy.sql", "fixtures/seed/01b-multi-tenancy-metadata.sql"]);
    assert_eq!(c.metadata.table_metadata.len(), 3);
    assert_eq!(c.metadata.enterprise_features.len(), 2);
    let f = c.metadata.features("public", "projects").unwrap();
    assert_eq!(f.bool("enable_tenant_isolation"), Some(true));
    assert_eq!(f.str("tenant_column_name"), Some("organization_id"));
    let projects = c.find_table("projects").unwrap();
    assert!(projects.rls_enabled);
    assert_eq!(
        projects.policies[0].using.as_deref(),
        Some("organization_id = (current_setting('app.current_organization_id')::uuid)")
    );
}

#[test]
fn seed_rbac() {
    let c = three_way("seed02", &["fixtures/seed/02-rbac.sql"]);
    let rp = c.find_table("role_permissions").unwrap();
    assert_eq!(rp.primary_key.as_ref().unwrap().columns, vec!["role_id", "permission_id"]);
    let roles = c.find_table("roles").unwrap();
    assert_eq!(roles.foreign_keys[0].references.name, "roles");
}

#[test]
fn seed_event_sourcing() {
    let c = three_way("seed04", &["fixtures/seed/04-event-sourcing.sql"]);
    let ev = c.find_table("events").unwrap();
    assert_eq!(ev.unique[0].columns, vec!["aggregate_id", "version"]);
    assert_eq!(ev.unique[0].name, "events_aggregate_id_version_key");
}

#[test]
fn seed_audit_with_its_trigger_written_out() {
    let c = three_way_written_out("seed03", &["fixtures/seed/03-audit.sql", "fixtures/seed/03b-audit-trigger.sql"]);
    let logs = c.find_table("audit_logs").unwrap();
    assert!(logs.partition_by.is_some(), "declared partitioned, so its partition loads");
    assert!(
        c.find_table("users").is_none()
            || c.find_table("users").unwrap().triggers.iter().any(|t| t.name == "audit_users")
    );
    assert!(c.functions.iter().any(|f| f.name == "cleanup_old_audits"), "the input's functions are written out");
}

#[test]
fn seed_time_series_written_out_runs_on_stock_postgresql() {
    // The TimescaleDB statements are guarded: on a server without it the DO blocks take the
    // plain-PostgreSQL path (no hypertable; metrics_hourly a plain materialized view).
    let c = three_way_written_out("seed05", &["fixtures/seed/05-time-series.sql"]);
    assert!(c.find_table("metrics").is_some());
    assert!(c.find_table("metrics_hourly").is_some_and(|v| v.kind == nest_catalog::TableKind::MaterializedView));
}

#[test]
fn seed_time_series_partitioned_with_a_rollup_table_without_timescaledb() {
    // What the time-series feature writes: metrics range-partitioned on time, metrics_hourly a
    // table the app refreshes (CREATE TABLE ... AS ... WITH NO DATA), both behind the same
    // TimescaleDB guard; read back the same offline, live and from pg_dump.
    let q = |n: &str| nest_catalog::QualifiedName { schema: "public".into(), name: n.into() };
    let storage = nest_sql::Storage {
        time_partitioned: vec![(q("metrics"), "time".into())],
        rollup_tables: vec![q("metrics_hourly")],
    };
    let c = three_way_written_with("seed05p", &["fixtures/seed/05-time-series.sql"], &storage);
    assert_eq!(c.find_table("metrics").unwrap().partition_by.as_deref(), Some("RANGE (\"time\")"));
    let hourly = c.find_table("metrics_hourly").unwrap();
    assert_eq!(hourly.kind, TableKind::Table, "the rollup is a table");
    assert_eq!(
        hourly.columns.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["hour", "metric_name", "organization_id", "avg_value", "max_value", "min_value", "count"]
    );
}

#[test]
fn seed_files_written_out_with_forward_references() {
    let c = three_way_written_out("seed06", &["fixtures/seed/06-files.sql"]);
    let files = c.find_table("files").unwrap();
    assert!(files.foreign_keys.iter().any(|f| f.references.name == "folders"), "the forward reference is kept");
}

#[test]
fn seed_notifications() {
    let c = three_way("seed07", &["fixtures/seed/07-notifications.sql"]);
    let prefs = c.find_table("notification_preferences").unwrap();
    assert_eq!(prefs.column("quiet_hours_start").unwrap().ty.to_string(), "time without time zone");
}

#[test]
fn rich_schema_enums_domains_identity_serial_views_partitions() {
    let c = three_way("rich", &["fixtures/pg/rich.sql"]);
    let people = c.table("app", "people").unwrap();
    assert_eq!(people.column("id").unwrap().identity, Some(nest_catalog::Identity::Always));
    assert_eq!(people.column("serial_no").unwrap().default.as_deref(), Some("nextval('app.people_serial_no_seq')"));
    assert!(
        c.sequences
            .iter()
            .any(|s| s.name == "people_serial_no_seq" && s.owned_by.as_deref() == Some("app.people.serial_no"))
    );
    assert_eq!(c.enums[0].values, vec!["happy", "sad", "it's ok"]);
    assert_eq!(c.table("app", "logs_2024").unwrap().kind, TableKind::Partition);
    assert_eq!(c.table("app", "logs").unwrap().partition_by.as_deref(), Some("RANGE (at)"));
    let view = c.table("app", "active_people").unwrap();
    assert_eq!(view.kind, TableKind::View);
    assert_eq!(
        view.columns.iter().map(|c| c.ty.to_string()).collect::<Vec<_>>(),
        vec!["bigint", "app.email", "numeric(10,2)"]
    );
    assert_eq!(c.table("app", "mood_counts").unwrap().column("n").unwrap().ty.to_string(), "bigint");
    assert!(
        people
            .checks
            .iter()
            .any(|k| k.name == "people_status_check" && k.expression == "status IN ('active', 'disabled')")
    );
}

/// Statements of real schema files and migrations (issue 20): CREATE SCHEMA with elements,
/// field-restricted intervals, ALTER CONSTRAINT ... DEFERRABLE, functions with COST and ROWS.
#[test]
fn migration_grammar_reads_as_postgresql_does() {
    let c = three_way("grammar", &["fixtures/pg/grammar.sql", "fixtures/pg/grammar-later.sql"]);
    let line = c.table("sales", "orderline").expect("sales.orderline, created by the schema's elements");
    assert_eq!(line.columns.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["id", "qty", "placed_at", "note"]);
    assert!(line.indexes.iter().any(|i| i.name == "orderline_placed"));
    assert!(c.table("sales", "big_orders").is_some(), "the element view");
    let spans = c.table("public", "spans").unwrap();
    let types: Vec<String> = spans.columns.iter().map(|k| k.ty.to_string()).collect();
    assert_eq!(
        types,
        [
            "integer",
            "interval day to second",
            "interval year to month",
            "interval minute to second(3)",
            "interval(2)",
            "interval hour"
        ]
    );
    assert!(c.table("public", "child").unwrap().foreign_keys[0].deferrable, "ALTER CONSTRAINT made it deferrable");
    assert!(c.functions.iter().any(|f| f.name == "add_one") && c.functions.iter().any(|f| f.name == "numbers"));
    // DROP TABLE legacy CASCADE took both views reading it and keeper's foreign key.
    assert!(c.table("public", "legacy_names_upper").is_none(), "the view of the view went too");
    assert!(c.table("public", "legacy_names").is_some_and(|v| v.columns[0].name == "title"), "re-created");
    assert!(c.table("public", "keeper").unwrap().foreign_keys.is_empty(), "the foreign key went with it");
    // A type found through the database's search_path in a later file is the only one of its name.
    let diary: Vec<String> = c.table("public", "diary").unwrap().columns.iter().map(|k| k.ty.to_string()).collect();
    assert_eq!(diary, ["integer", "app.mood", "app.mood[]"]);
    // (to_pair(t)).* is the composite's fields; (to_pair(t)).a is the field's type.
    let pairs: Vec<(String, String)> =
        c.table("public", "pairs").unwrap().columns.iter().map(|k| (k.name.clone(), k.ty.to_string())).collect();
    assert_eq!(pairs, [("id".into(), "integer".into()), ("a".into(), "integer".into()), ("b".into(), "text".into())]);
    assert_eq!(c.table("public", "pair_firsts").unwrap().columns[0].ty.to_string(), "integer");
    let copy: Vec<String> =
        c.table("public", "priced_copy").unwrap().columns.iter().map(|k| k.ty.to_string()).collect();
    assert_eq!(copy, ["integer", "character varying(40)", "numeric", "text"]);
    // LIKE copies what its options say, keys and indexes named by the default rules.
    let all = c.table("public", "like_all").unwrap();
    assert_eq!(all.primary_key.as_ref().map(|k| k.name.as_str()), Some("like_all_pkey"));
    assert!(all.columns[0].identity.is_some() && all.checks.iter().any(|k| k.name == "like_src_qty_positive"));
    assert_eq!(all.indexes.len(), 1, "{:?}", all.indexes);
    let plain = c.table("public", "like_plain").unwrap();
    assert!(plain.primary_key.is_none() && plain.checks.is_empty() && plain.columns[2].default.is_none());
    assert_eq!(plain.columns.last().unwrap().name, "extra");
    // COMPRESSION, ON DELETE SET NULL (columns), storage-only ALTER TABLE actions (PostgreSQL 15).
    let child = c.table("public", "storage_child").expect("a table with COMPRESSION and SET NULL (cols) is read");
    let names: Vec<&str> = child.columns.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["id", "parent_id", "region", "body", "compression", "extra"]);
    assert_eq!(child.foreign_keys[0].on_delete, nest_catalog::FkAction::SetNull);
    // Views with a CHECK OPTION and a RECURSIVE one; DROP EXPRESSION leaves a plain column.
    assert_eq!(c.table("public", "storage_child_bodies").unwrap().columns.len(), 2);
    assert!(c.table("public", "storage_child_all").is_some());
    assert_eq!(c.table("public", "countdown").unwrap().columns[0].name, "n");
    let totals = c.table("public", "totals").unwrap();
    assert!(
        totals.column("doubled").unwrap().generated.is_some() && totals.column("tripled").unwrap().generated.is_none()
    );
    let types =
        |t: &str| -> Vec<String> { c.table("public", t).unwrap().columns.iter().map(|k| k.ty.to_string()).collect() };
    assert_eq!(types("countdown"), ["integer"], "a recursive view, typed from its first branch");
    assert_eq!(types("priced_doubles"), ["integer", "character varying(40)"], "WITH tables");
    assert_eq!(types("constants"), ["integer", "text"], "VALUES");
}

#[test]
fn meta_schema_is_idempotent_and_takes_the_seed_metadata() {
    let db = TestDb::create("meta");
    db.execute(&meta_schema_sql()).unwrap();
    db.execute(&meta_schema_sql()).expect("running the meta DDL twice must succeed");
    db.execute(&fixture("fixtures/seed/01-multi-tenancy.sql").text).unwrap();
    db.execute(&fixture("fixtures/seed/01b-multi-tenancy-metadata.sql").text).expect("seed metadata INSERTs");
    let c = nest_introspect::introspect_blocking(&db.url, &[]).unwrap();
    assert_eq!(c.metadata.enterprise_features.len(), 2);
    // uuid_generate_v7 gives version-7 UUIDs in time order.
    db.execute(
        "DO $$ DECLARE a uuid := uuid_generate_v7(); b uuid; BEGIN PERFORM pg_sleep(0.002); b := uuid_generate_v7();
           IF substr(a::text, 15, 1) <> '7' OR a >= b THEN RAISE EXCEPTION 'not v7 or not ordered: % %', a, b; END IF; END $$",
    )
    .unwrap();
    // Where the server has its own uuidv7() (PostgreSQL 18), that one is used. This server is
    // older: a stand-in with the same name shows the branch is taken once the function exists.
    db.execute(
        "CREATE FUNCTION pg_catalog.uuidv7() RETURNS uuid LANGUAGE sql AS $$ SELECT '01890000-0000-7000-8000-000000000018'::uuid $$",
    )
    .unwrap();
    assert_eq!(
        db.query_text("SELECT uuid_generate_v7()::text").unwrap().as_deref(),
        Some("01890000-0000-7000-8000-000000000018"),
        "the server's uuidv7() is used where it exists"
    );
}

#[test]
fn schema_filter_reads_only_the_named_schemas() {
    let db = TestDb::create("filter");
    db.execute(
        "CREATE SCHEMA app; CREATE TABLE app.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);",
    )
    .unwrap();
    let c = nest_introspect::introspect_blocking(&db.url, &["app".to_string()]).unwrap();
    assert_eq!(c.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["a"]);
    let err = nest_introspect::introspect_blocking(&db.url, &["nope".to_string()]).unwrap_err();
    assert!(err.to_string().contains("nope"));
}

/// The seed's multi-tenancy schema and a changed copy of it: a column renamed (asserted), one
/// added, a type widened, an index and a table added, the policy changed.
fn seed_and_changed_copy() -> (String, String) {
    let seed = fixture("fixtures/seed/01-multi-tenancy.sql").text;
    let changed = seed
        .replace("  description TEXT,\n", "  summary TEXT,\n  priority INTEGER NOT NULL DEFAULT 0,\n")
        .replace("  name VARCHAR(200) NOT NULL,\n  slug", "  name VARCHAR(300) NOT NULL,\n  slug")
        .replace(
            "current_setting('app.current_organization_id')::UUID);",
            "current_setting('app.current_organization_id', true)::UUID)\n  \
             WITH CHECK (organization_id = current_setting('app.current_organization_id', true)::UUID);\n\n\
             CREATE INDEX idx_projects_status ON projects(status) WHERE deleted_at IS NULL;\n\n\
             CREATE TABLE project_tags (\n  project_id UUID NOT NULL REFERENCES projects(id) ON DELETE CASCADE,\n  \
             tag VARCHAR(50) NOT NULL,\n  PRIMARY KEY (project_id, tag)\n);",
        );
    assert_ne!(seed, changed);
    (seed, changed)
}

/// Columns in name order: a migration adds columns at the end, where the new schema may list
/// them elsewhere.
fn by_column_name(c: &Catalog) -> Catalog {
    let mut c = c.clone();
    for t in &mut c.tables {
        t.columns.sort_by(|a, b| a.name.cmp(&b.name));
    }
    c.metadata = Default::default();
    c
}

/// `sql migrate`'s statements move a database that holds rows from the seed schema to the
/// changed one: read back live, it is the new schema, and no row or value is lost.
#[test]
fn a_migration_moves_a_database_with_rows_to_the_new_schema() {
    let (seed, changed) = seed_and_changed_copy();
    let from = parse_sources(&[meta_file(), SourceFile { name: "seed.sql".into(), text: seed.clone() }]);
    let to = parse_sources(&[meta_file(), SourceFile { name: "changed.sql".into(), text: changed }]);
    no_problems("changed copy", &to);
    let renames = nest_sql::migrate::Renames {
        columns: vec![("public".into(), "projects".into(), "description".into(), "summary".into())],
        ..Default::default()
    };
    let m = nest_sql::migrate::migration(&from, &to, &renames).unwrap();
    assert_eq!(m.destructive().count(), 0, "{}", m.text(&[]));

    let db = TestDb::create("migrate_seed");
    db.execute(&meta_schema_sql()).unwrap();
    db.execute(&seed).unwrap();
    db.execute(
        "INSERT INTO organizations (id, name, slug) VALUES ('0190a000-0000-7000-8000-000000000001', 'Acme', 'acme');
         INSERT INTO projects (organization_id, name, description)
           SELECT '0190a000-0000-7000-8000-000000000001', 'p' || g, 'about ' || g FROM generate_series(1, 50) g;",
    )
    .unwrap();
    let migration = format!("BEGIN;\n{}COMMIT;\n", m.text(&["test".into()]));
    db.execute(&migration).unwrap_or_else(|e| panic!("PostgreSQL rejected the migration: {e}\n{migration}"));
    let live = nest_introspect::introspect_blocking(&db.url, &[]).expect("introspect");
    assert_same("migrated database vs the new schema", &by_column_name(&to), &by_column_name(&live));
    let kept = db
        .query_text(
            "SELECT count(*) || ' ' || count(*) FILTER (WHERE summary = 'about ' || substr(name, 2)) || ' ' || min(priority) \
             FROM projects",
        )
        .unwrap();
    assert_eq!(kept.as_deref(), Some("50 50 0"), "rows and the renamed column's values are kept");
}
