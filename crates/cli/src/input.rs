//! Where the schema and settings come from.
//!
//! Input, first found wins: `--schema`, `--database-url`, the config file's `schema` or
//! `database_url`, what the project's manifest recorded, then `DATABASE_URL`.

use clap::ArgMatches;
use nest_catalog::Catalog;
use nest_model::Config;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub enum Source {
    /// SQL files or folders, read in order.
    Offline(Vec<PathBuf>),
    Live {
        url: String,
        schemas: Vec<String>,
    },
}

pub struct Resolved {
    pub source: Source,
    pub config: Config,
    /// Folder of the config file (paths in it are relative to it).
    pub config_dir: Option<PathBuf>,
}

fn read_config(m: &ArgMatches, project_dir: Option<&Path>) -> Result<(Config, Option<PathBuf>), String> {
    let explicit = m.get_one::<String>("config").map(PathBuf::from);
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p],
        None => {
            let mut v = vec![PathBuf::from("nest-generator.toml")];
            if let Some(d) = project_dir {
                v.push(d.join("nest-generator.toml"));
            }
            v
        }
    };
    for (i, path) in candidates.iter().enumerate() {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let c = nest_features::parse_config(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let dir =
                    path.parent().map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() });
                return Ok((c, dir));
            }
            Err(e) if i == 0 && m.get_one::<String>("config").is_some() => {
                return Err(format!("{}: {e}", path.display()));
            }
            Err(_) => continue,
        }
    }
    Ok((Config::default(), None))
}

/// Resolve the input and settings; `recorded` is the source a project's manifest remembers.
pub fn resolve_with(m: &ArgMatches, project_dir: Option<&Path>, recorded: Option<Source>) -> Result<Resolved, String> {
    let (config, config_dir) = read_config(m, project_dir)?;
    let schemas: Vec<String> =
        m.get_many::<String>("schemas").map(|v| v.cloned().collect()).unwrap_or_else(|| config.schemas.clone());
    let rel = |p: &str| -> PathBuf {
        let p = PathBuf::from(p);
        match (&config_dir, p.is_absolute()) {
            (Some(d), false) => d.join(p),
            _ => p,
        }
    };
    let source = if let Some(ps) = m.get_many::<String>("schema") {
        Source::Offline(ps.map(PathBuf::from).collect())
    } else if let Some(u) = m.get_one::<String>("database-url") {
        Source::Live { url: u.clone(), schemas }
    } else if let Some(ps) = &config.schema {
        Source::Offline(ps.iter().map(|p| rel(p)).collect())
    } else if let Some(u) = &config.database_url {
        Source::Live { url: u.clone(), schemas }
    } else if let Some(r) = recorded {
        r
    } else if let Ok(u) = std::env::var("DATABASE_URL") {
        Source::Live { url: u, schemas }
    } else {
        return Err("no input: pass --schema PATH (a .sql file or a folder of migrations) or --database-url URL, \
                    or set `schema` in nest-generator.toml"
            .into());
    };
    Ok(Resolved { source, config, config_dir })
}

pub fn resolve(m: &ArgMatches, project_dir: Option<&Path>) -> Result<Resolved, String> {
    resolve_with(m, project_dir, None)
}

pub fn load(source: &Source) -> Result<Catalog, String> {
    match source {
        Source::Offline(paths) => Ok(nest_ddl::parse_paths(paths)),
        Source::Live { url, schemas } => nest_introspect::introspect_blocking(url, schemas).map_err(|e| e.to_string()),
    }
}
