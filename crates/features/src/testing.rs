//! Helpers of the features' unit tests: a Model from SQL text or from seed fixtures.

use nest_model::{Model, Selection};

/// The Model of `sql` (one file's text) with `config` (nest-generator.toml text).
pub fn model(sql: &str, config: &str) -> Model {
    let catalog = nest_ddl::parse_str("t.sql", sql);
    assert!(!catalog.has_errors(), "{:#?}", catalog.diagnostics);
    crate::build_model(&catalog, &crate::parse_config(config).unwrap(), &Selection::default())
}

/// The Model of seed fixtures (`fixtures/seed/<file>`, `.` for all) with `config`.
pub fn seed(files: &[&str], config: &str) -> Model {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed");
    let paths: Vec<std::path::PathBuf> = files.iter().map(|f| root.join(f)).collect();
    let catalog = nest_ddl::parse_paths(&paths);
    crate::build_model(&catalog, &crate::parse_config(config).unwrap(), &Selection::default())
}

/// The field `column` of table `table`.
pub fn field<'a>(m: &'a Model, table: &str, column: &str) -> &'a nest_model::Field {
    m.resource(table).unwrap_or_else(|| panic!("{table}")).field(column).unwrap_or_else(|| panic!("{column}"))
}
