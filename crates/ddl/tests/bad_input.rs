//! Bad input: located diagnostics with the right severity, and nothing else lost.

use nest_catalog::{Catalog, Severity, codes};
use nest_ddl::parse_str;

fn diag(c: &Catalog, code: &str) -> (Severity, u32, u32, String) {
    let d = c
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} diagnostic in {:#?}", c.diagnostics));
    (d.severity, d.line, d.column, d.message.clone())
}

#[test]
fn unreadable_statement_is_a_located_warning_and_the_rest_is_kept() {
    let sql = "CREATE TABLE a (id int PRIMARY KEY);\n\nCREATE TABLE b (id int PRIMARY KEY,\n  name text NOT NULL DEFALT 'x');\nCREATE TABLE c (id int PRIMARY KEY);\n";
    let c = parse_str("bad.sql", sql);
    let (sev, line, col, msg) = diag(&c, codes::UNPARSED_STATEMENT);
    assert_eq!(sev, Severity::Warning);
    assert_eq!((line, col), (4, 22), "{msg}");
    assert!(msg.contains("DEFALT"), "{msg}");
    assert!(c.find_table("a").is_some() && c.find_table("c").is_some() && c.find_table("b").is_none());
    assert!(!c.has_errors());
}

#[test]
fn duplicate_table_is_an_error_at_the_second_definition() {
    let c = parse_str(
        "dup.sql",
        "CREATE TABLE t (id int);\nCREATE TABLE  t (id int);\nCREATE TABLE IF NOT EXISTS t (x int);",
    );
    let (sev, line, col, _) = diag(&c, codes::DUPLICATE_OBJECT);
    assert_eq!((sev, line, col), (Severity::Error, 2, 15));
    assert_eq!(
        c.diagnostics.iter().filter(|d| d.severity == Severity::Error).count(),
        1,
        "IF NOT EXISTS is not an error"
    );
}

#[test]
fn foreign_key_to_a_table_that_never_appears() {
    let c = parse_str("fk.sql", "CREATE TABLE a (\n  id int PRIMARY KEY,\n  b_id int REFERENCES missing(id)\n);");
    let (sev, line, col, msg) = diag(&c, codes::UNKNOWN_FK_TARGET);
    assert_eq!((sev, line, col), (Severity::Error, 3, 23));
    assert!(msg.contains("missing"));
}

#[test]
fn foreign_key_to_a_missing_column() {
    let c = parse_str("fk2.sql", "CREATE TABLE a (id int PRIMARY KEY);\nCREATE TABLE b (a_id int REFERENCES a(nope));");
    let (sev, line, _, msg) = diag(&c, codes::UNKNOWN_COLUMN);
    assert_eq!((sev, line), (Severity::Error, 2));
    assert!(msg.contains("nope"));
}

#[test]
fn unknown_type_is_an_error_unless_an_extension_may_provide_it() {
    let c = parse_str("ty.sql", "CREATE TABLE a (\n  id int PRIMARY KEY,\n  loc geografy\n);");
    let (sev, line, _, msg) = diag(&c, codes::UNKNOWN_TYPE);
    assert_eq!((sev, line), (Severity::Error, 1));
    assert!(msg.contains("a.loc") && msg.contains("geografy"), "{msg}");

    let c = parse_str("ty.sql", "CREATE EXTENSION postgis;\nCREATE TABLE a (id int PRIMARY KEY, loc geography);");
    assert!(!c.has_errors(), "postgis provides geography: {:#?}", c.diagnostics);

    let c = parse_str("ty.sql", "CREATE EXTENSION some_ext;\nCREATE TABLE a (id int PRIMARY KEY, v some_type);");
    assert_eq!(diag(&c, codes::UNKNOWN_TYPE).0, Severity::Warning);
}

#[test]
fn statements_on_missing_tables_and_columns() {
    let c = parse_str("alter.sql", "ALTER TABLE ghost ADD COLUMN x int;");
    assert_eq!(diag(&c, codes::UNKNOWN_TABLE).0, Severity::Error);
    let c = parse_str("idx.sql", "CREATE TABLE t (id int);\nCREATE INDEX i ON t (nope);");
    assert_eq!(diag(&c, codes::UNKNOWN_COLUMN).1, 2);
    let c = parse_str("pk.sql", "CREATE TABLE t (id int, PRIMARY KEY (idd));");
    assert_eq!(diag(&c, codes::UNKNOWN_COLUMN).0, Severity::Error);
    let c = parse_str("ok.sql", "ALTER TABLE IF EXISTS ghost ADD COLUMN x int; DROP TABLE IF EXISTS ghost;");
    assert!(!c.has_errors());
}

#[test]
fn bad_metadata_rows() {
    let c = parse_str(
        "meta.sql",
        "INSERT INTO meta.enterprise_features (table_metadata_id, enable_tenant_isolation) VALUES ('nope', true);",
    );
    assert_eq!(diag(&c, codes::BAD_METADATA).0, Severity::Error);
    let c = parse_str("meta.sql", "INSERT INTO meta.table_metadata (table_name, cache_ttl) VALUES ('t', 'soon');");
    let (_, _, _, msg) = diag(&c, codes::BAD_METADATA);
    assert!(msg.contains("cache_ttl"), "{msg}");
    let c = parse_str(
        "meta.sql",
        "INSERT INTO meta.table_metadata (table_name) VALUES ('t');\nINSERT INTO meta.table_metadata (table_name) VALUES ('t');",
    );
    assert_eq!(diag(&c, codes::BAD_METADATA).1, 2);
    // An upsert is fine, and the later value wins.
    let c = parse_str(
        "meta.sql",
        "INSERT INTO meta.table_metadata (table_name, cache_ttl) VALUES ('t', 1);\n\
         INSERT INTO meta.table_metadata (table_name, cache_ttl) VALUES ('t', 2) ON CONFLICT (schema_name, table_name) DO UPDATE SET cache_ttl = EXCLUDED.cache_ttl;\n\
         UPDATE meta.table_metadata SET enable_rbac = 'yes' WHERE table_name = 't';",
    );
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let row = c.metadata.table("public", "t").unwrap();
    assert_eq!((row.int("cache_ttl"), row.bool("enable_rbac")), (Some(2), Some(true)));
}

#[test]
fn migrations_replayed_in_order() {
    let sql = "CREATE TABLE t (id serial PRIMARY KEY, a text, b int);\n\
               ALTER TABLE t RENAME COLUMN a TO title;\n\
               ALTER TABLE t DROP COLUMN b;\n\
               ALTER TABLE t ADD COLUMN done boolean NOT NULL DEFAULT false;\n\
               CREATE INDEX t_title ON t (title);\n\
               ALTER TABLE t RENAME TO todo;\n\
               ALTER INDEX t_title RENAME TO todo_title;\n\
               CREATE TABLE gone (id int);\n\
               DROP TABLE gone;";
    let c = parse_str("migrations.sql", sql);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    let t = c.find_table("todo").unwrap();
    assert_eq!(t.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["id", "title", "done"]);
    assert_eq!(t.indexes[0].name, "todo_title");
    assert_eq!(t.indexes[0].columns[0].expr, "title");
    assert_eq!(t.column("id").unwrap().default.as_deref(), Some("nextval('t_id_seq')"));
    assert!(c.find_table("gone").is_none());
}
