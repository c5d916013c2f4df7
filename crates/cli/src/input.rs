//! Where the schema comes from: offline SQL (default) or a live database.

use clap::ArgMatches;
use nest_catalog::Catalog;
use std::path::PathBuf;

pub enum Source {
    Offline(PathBuf),
    Live { url: String, schemas: Vec<String> },
}

impl Source {
    pub fn from_args(m: &ArgMatches) -> Result<Source, String> {
        let schema = m.get_one::<String>("schema");
        let url = m.get_one::<String>("database-url");
        let schemas: Vec<String> = m.get_many::<String>("schemas").map(|v| v.cloned().collect()).unwrap_or_default();
        match (schema, url) {
            (Some(p), _) => Ok(Source::Offline(PathBuf::from(p))),
            (None, Some(u)) => Ok(Source::Live { url: u.clone(), schemas }),
            (None, None) => {
                Err("no input: pass --schema PATH (a .sql file or a folder of migrations) or --database-url URL".into())
            }
        }
    }
}

pub fn load(source: &Source) -> Result<Catalog, String> {
    match source {
        Source::Offline(p) => Ok(nest_ddl::parse_path(p)),
        Source::Live { url, schemas } => nest_introspect::introspect_blocking(url, schemas).map_err(|e| e.to_string()),
    }
}
