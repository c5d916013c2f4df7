//! Table clauses of PostgreSQL 16-18 (fixtures/pg/grammar-pg18.sql), which the PostgreSQL 15
//! of the live tests cannot run: read offline into the catalog a newer server would report,
//! never a skipped table (issue 20's grammar sweep).

use nest_catalog::Severity;
use std::path::Path;

#[test]
fn postgresql_16_to_18_table_clauses_are_read() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pg/grammar-pg18.sql");
    let c = nest_ddl::parse_path(&path);
    let bad: Vec<_> = c.diagnostics.iter().filter(|d| d.severity != Severity::Info).collect();
    assert!(bad.is_empty(), "{bad:#?}");
    let notes = c.table("public", "notes").expect("STORAGE and COMPRESSION on a column");
    assert_eq!(notes.columns.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["id", "body", "storage"]);
    let m = c.table("public", "measures").expect("virtual generated column, NOT NULL constraints");
    let nullable = |name: &str| m.column(name).unwrap().nullable;
    assert!(!nullable("width") && !nullable("height") && !nullable("label"), "NOT NULL in every spelling");
    assert_eq!(m.column("area").unwrap().generated.as_deref(), Some("width * height"), "read-only, computed");
    let rooms = c.table("public", "rooms").unwrap();
    assert_eq!(rooms.primary_key.as_ref().unwrap().columns, ["id", "valid"], "a temporal key's columns");
    let bookings = c.table("public", "bookings").unwrap();
    assert_eq!(bookings.foreign_keys[0].columns, ["room_id", "valid"]);
    assert_eq!(bookings.foreign_keys[0].referenced_columns, ["id", "valid"]);
    let prices = c.table("public", "prices").unwrap();
    assert_eq!(prices.column("gross").unwrap().generated.as_deref(), Some("net * 1.25"), "SET EXPRESSION");
}
