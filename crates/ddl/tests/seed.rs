//! The seed scenarios (fixtures/seed, copied from the product's seed document) read offline:
//! golden Catalog snapshots per file and for the folder, and the facts the issue names.
//! `BLESS=1 cargo test -p nest-ddl --test seed` rewrites the snapshots.

use nest_catalog::{Catalog, Severity, TableKind, codes};
use nest_ddl::{SourceFile, parse_sources, source};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Files named relative to the repository root, so snapshots do not depend on the checkout path.
fn load(rel: &str) -> Vec<SourceFile> {
    let mut files = source::load(&root().join(rel)).expect("fixture readable");
    let prefix = root().join("").display().to_string();
    for f in &mut files {
        f.name = f.name.strip_prefix(&prefix).unwrap_or(&f.name).trim_start_matches('/').to_string();
        f.name = f.name.replace("crates/ddl/../../", "");
    }
    files
}

fn snapshot(name: &str, c: &Catalog) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.json"));
    let actual = c.to_json() + "\n";
    if std::env::var("BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing snapshot {}; run with BLESS=1 to create it", path.display()));
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "snapshot {name} differs at line {}:\n  expected: {}\n  actual:   {}\n(BLESS=1 to accept)",
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

const SEED_FILES: &[&str] = &[
    "01-multi-tenancy.sql",
    "01b-multi-tenancy-metadata.sql",
    "02-rbac.sql",
    "03-audit.sql",
    "03b-audit-trigger.sql",
    "04-event-sourcing.sql",
    "05-time-series.sql",
    "06-files.sql",
    "07-notifications.sql",
];

#[test]
fn each_seed_file_alone_matches_its_snapshot() {
    for f in SEED_FILES {
        let c = parse_sources(&load(&format!("fixtures/seed/{f}")));
        snapshot(&format!("seed-{}", f.trim_end_matches(".sql")), &c);
    }
}

#[test]
fn seed_folder_matches_its_snapshot() {
    snapshot("seed-folder", &parse_sources(&load("fixtures/seed")));
}

fn seed() -> Catalog {
    parse_sources(&load("fixtures/seed"))
}

#[test]
fn folder_has_all_26_tables_and_no_errors() {
    let c = seed();
    let tables: Vec<&str> = c
        .tables
        .iter()
        .filter(|t| matches!(t.kind, TableKind::Table | TableKind::Partition))
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(tables.len(), 26, "{tables:?}");
    for name in [
        "organizations",
        "organization_users",
        "projects",
        "users",
        "roles",
        "permissions",
        "role_permissions",
        "user_roles",
        "user_permissions",
        "audit_logs",
        "audit_logs_2024_01",
        "field_changes",
        "audit_retention_policies",
        "events",
        "aggregate_snapshots",
        "user_summary",
        "event_processors",
        "metrics",
        "files",
        "folders",
        "file_shares",
        "file_versions",
        "notification_templates",
        "notifications",
        "notification_preferences",
        "notification_deliveries",
    ] {
        assert!(tables.contains(&name), "missing {name}");
    }
    assert_eq!(c.find_table("metrics_hourly").unwrap().kind, TableKind::MaterializedView);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
}

#[test]
fn forward_and_self_references_resolve() {
    let c = seed();
    let files = c.find_table("files").unwrap();
    let fk = files.foreign_keys.iter().find(|f| f.columns == ["folder_id"]).unwrap();
    assert_eq!((fk.references.name.as_str(), fk.referenced_columns.clone()), ("folders", vec!["id".to_string()]));
    let roles = c.find_table("roles").unwrap();
    assert_eq!(roles.foreign_keys[0].columns, ["parent_role_id"]);
    assert_eq!(roles.foreign_keys[0].references.name, "roles");
    let folders = c.find_table("folders").unwrap();
    assert_eq!(folders.foreign_keys[0].references.name, "folders");
}

#[test]
fn composite_keys() {
    let c = seed();
    for (t, cols) in [
        ("role_permissions", vec!["role_id", "permission_id"]),
        ("user_roles", vec!["user_id", "role_id"]),
        ("user_permissions", vec!["user_id", "permission_id"]),
    ] {
        let pk = c.find_table(t).unwrap().primary_key.clone().unwrap();
        assert_eq!(pk.columns, cols);
        assert_eq!(pk.name, format!("{t}_pkey"));
        // Key columns are NOT NULL even though the DDL does not say so.
        assert!(cols.iter().all(|col| !c.find_table(t).unwrap().column(col).unwrap().nullable));
    }
    let ur = c.find_table("user_roles").unwrap();
    let fk = ur.foreign_keys.iter().find(|f| f.name == "user_roles_user_id_fkey").unwrap();
    assert_eq!(fk.on_delete, nest_catalog::FkAction::Cascade);
}

#[test]
fn partial_gin_and_descending_indexes() {
    let c = seed();
    let users = c.find_table("users").unwrap();
    let idx = users.indexes.iter().find(|i| i.name == "idx_users_email").unwrap();
    assert_eq!(idx.predicate.as_deref(), Some("deleted_at IS NULL"));
    let metrics = c.find_table("metrics").unwrap();
    let gin = metrics.indexes.iter().find(|i| i.name == "idx_metrics_tags").unwrap();
    assert_eq!(gin.method, "gin");
    let by_time = metrics.indexes.iter().find(|i| i.name == "idx_metrics_name_time").unwrap();
    assert!(by_time.columns[1].descending);
    let ur = c.find_table("user_roles").unwrap();
    assert_eq!(
        ur.indexes.iter().find(|i| i.name == "idx_user_roles_expires").unwrap().predicate.as_deref(),
        Some("expires_at IS NOT NULL")
    );
}

#[test]
fn row_level_security_and_policy() {
    let c = seed();
    let p = c.find_table("projects").unwrap();
    assert!(p.rls_enabled);
    assert_eq!(p.policies.len(), 1);
    assert_eq!(p.policies[0].name, "projects_isolation");
    assert_eq!(p.policies[0].command, "all");
    assert!(p.policies[0].using.as_deref().unwrap().contains("current_setting('app.current_organization_id')"));
}

#[test]
fn partition_of_undeclared_parent_is_kept_with_a_warning() {
    let c = seed();
    let part = c.find_table("audit_logs_2024_01").unwrap();
    assert_eq!(part.kind, TableKind::Partition);
    assert_eq!(part.partition_of.as_ref().unwrap().parent.name, "audit_logs");
    assert_eq!(part.partition_of.as_ref().unwrap().bound, "FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')");
    assert_eq!(part.columns.len(), c.find_table("audit_logs").unwrap().columns.len());
    let w = c.diagnostics.iter().find(|d| d.code == codes::PARENT_NOT_PARTITIONED).expect("warning");
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!((w.file.as_str(), w.line, w.column), ("fixtures/seed/03-audit.sql", 34, 14));
}

#[test]
fn hypertable_functions_and_triggers() {
    let c = seed();
    assert_eq!(c.find_table("metrics").unwrap().hypertable.as_ref().unwrap().time_column, "time");
    assert!(c.extensions.iter().any(|e| e.name == "timescaledb"));
    let names: Vec<&str> = c.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["audit_trigger_func", "cleanup_old_audits"]);
    assert_eq!(c.functions[0].returns, "trigger");
    let t = &c.find_table("users").unwrap().triggers[0];
    assert_eq!(t.name, "audit_users");
    assert_eq!(t.function.name, "audit_trigger_func");
    assert_eq!(t.events, vec!["insert", "update", "delete"]);
    assert!(t.for_each_row);
}

#[test]
fn metadata_rows_including_insert_select() {
    let c = seed();
    let md = &c.metadata;
    assert_eq!(md.table_metadata.len(), 3);
    let orgs = md.table("public", "organizations").unwrap();
    assert_eq!(orgs.str("table_purpose"), Some("Multi-tenant organizations"));
    assert_eq!(orgs.int("cache_ttl"), Some(600));
    assert_eq!(orgs.bool("has_soft_delete"), Some(true));
    // INSERT ... SELECT id, true, 'organization_id' FROM meta.table_metadata WHERE table_name IN (...)
    let mut tenant: Vec<&str> = md.enterprise_features.iter().map(|r| r.table_name.as_str()).collect();
    tenant.sort();
    assert_eq!(tenant, vec!["organization_users", "projects"]);
    assert!(md.enterprise_features.iter().all(|r| r.bool("enable_tenant_isolation") == Some(true)));
    assert!(md.features("public", "organizations").is_none());
}

#[test]
fn each_file_alone_has_its_own_tables() {
    let expect: &[(&str, usize)] = &[
        ("01-multi-tenancy.sql", 3),
        ("01b-multi-tenancy-metadata.sql", 0),
        ("02-rbac.sql", 6),
        ("03-audit.sql", 4),
        ("03b-audit-trigger.sql", 0),
        ("04-event-sourcing.sql", 4),
        ("05-time-series.sql", 1),
        ("06-files.sql", 4),
        ("07-notifications.sql", 4),
    ];
    let mut total = 0;
    for (f, n) in expect {
        let c = parse_sources(&load(&format!("fixtures/seed/{f}")));
        let count = c.tables.iter().filter(|t| !t.kind.is_view()).count();
        assert_eq!(count, *n, "{f}");
        total += count;
    }
    assert_eq!(total, 26);
    // 03b alone puts a trigger on `users`, which only 02 creates: a located error.
    let c = parse_sources(&load("fixtures/seed/03b-audit-trigger.sql"));
    let e = c.diagnostics.iter().find(|d| d.code == codes::UNKNOWN_TABLE).expect("error");
    assert_eq!((e.line, e.column), (51, 39));
    // 06 alone still resolves its forward reference.
    let c = parse_sources(&load("fixtures/seed/06-files.sql"));
    assert!(!c.has_errors());
    // 01b alone: the metadata rows are read even without the tables.
    let c = parse_sources(&load("fixtures/seed/01b-multi-tenancy-metadata.sql"));
    assert_eq!(c.metadata.enterprise_features.len(), 2);
}
