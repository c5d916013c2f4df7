//! pg_dump output of real public databases (fixtures/real, provenance in each SOURCE.md):
//! read without errors, with the facts that trip readers.

use nest_catalog::Severity;
use nest_ddl::parse_path;
use std::path::Path;

fn read(name: &str) -> nest_catalog::Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real").join(name).join("schema.sql");
    let c = parse_path(&path);
    let bad: Vec<_> = c.diagnostics.iter().filter(|d| d.severity != Severity::Info).collect();
    assert!(bad.is_empty(), "{name}: {bad:#?}");
    c
}

#[test]
fn pagila() {
    let c = read("pagila");
    assert_eq!(c.tables.iter().filter(|t| t.schema == "public").count(), 30);
    let film = c.table("public", "film").unwrap();
    // EXECUTE FUNCTION tsvector_update_trigger('fulltext', ...): arguments sqlparser cannot read.
    let trig = film.triggers.iter().find(|t| t.name == "film_fulltext_trigger").expect("trigger with arguments");
    assert_eq!(
        (trig.timing.as_str(), trig.events.clone(), trig.for_each_row),
        ("before", vec!["insert".into(), "update".into()], true)
    );
    assert_eq!(film.column("fulltext").unwrap().ty.to_string(), "tsvector");
    assert_eq!(film.column("release_year").unwrap().ty.to_string(), "year");
    let payment = c.table("public", "payment").unwrap();
    assert!(payment.partition_by.is_some());
    assert_eq!(
        c.tables.iter().filter(|t| t.partition_of.as_ref().is_some_and(|p| p.parent.name == "payment")).count(),
        7
    );
    assert!(c.domains.iter().any(|d| d.name == "bıgınt"), "non-ASCII quoted domain");
}

#[test]
fn northwind_bpchar() {
    let c = read("northwind");
    assert_eq!(c.tables.len(), 14);
    assert_eq!(c.table("public", "customers").unwrap().column("customer_id").unwrap().ty.to_string(), "bpchar");
}

#[test]
fn chinook_danbooru_supabase() {
    assert_eq!(read("chinook").tables.len(), 11);
    assert_eq!(read("danbooru").tables.len(), 64);
    assert_eq!(read("supabase").tables.len(), 9);
}

#[test]
fn extension_types_with_word_modifiers() {
    let c = nest_ddl::parse_str(
        "postgis.sql",
        "CREATE SCHEMA postgis;\nCREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA postgis;\n\
         CREATE TABLE m (id bigint PRIMARY KEY, location postgis.geography(Point,4326));\n\
         CREATE INDEX m_loc ON m USING gist (location);\n",
    );
    let bad: Vec<_> = c.diagnostics.iter().filter(|d| d.severity != Severity::Info).collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(
        c.table("public", "m").unwrap().column("location").unwrap().ty.to_string(),
        "postgis.geography(point,4326)"
    );
}
