//! Where per-table settings come from, strongest first: CLI flags (`--features.rbac=true`),
//! the config file (`nest-generator.toml`), `meta.*` rows, inference from the schema.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

pub use crate::registry::{feature_list, is_feature};

/// Where a resolved setting came from (for `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Config,
    Metadata(String),
    Inferred(String),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("command-line flag"),
            Source::Config => f.write_str("nest-generator.toml"),
            Source::Metadata(t) => write!(f, "meta.{t}"),
            Source::Inferred(why) => write!(f, "inferred: {why}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A resolved value and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    pub fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// `[tables.<name>.columns.<column>]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnConfig {
    pub hidden: Option<bool>,
    pub sensitive: Option<bool>,
    pub readonly: Option<bool>,
    pub filterable: Option<bool>,
    pub sortable: Option<bool>,
    pub description: Option<String>,
    /// true: set from the signed-in user on create (an owner or actor column); false: not.
    pub actor: Option<bool>,
}

/// `[tables.<name>]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    pub route: Option<String>,
    pub exclude: Option<bool>,
    pub default_page_size: Option<u32>,
    pub max_page_size: Option<u32>,
    pub count: Option<String>,
    /// `application` or `trigger`: who writes this table's audit rows.
    pub audit_mode: Option<String>,
    /// Column naming the user who owns a row (own-rows scope): `user_id`, `owner_id`, ...
    pub owner_column: Option<String>,
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnConfig>,
}

/// `[audit]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// `application` (default) or `trigger`, for every audited table.
    pub mode: Option<String>,
}

/// `[project]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub name: Option<String>,
    pub title: Option<String>,
}

/// `nest-generator.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// SQL file or folder, or a list of them read in order (relative to the config file).
    #[serde(default, deserialize_with = "one_or_many")]
    pub schema: Option<Vec<String>>,
    pub database_url: Option<String>,
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Output folder (relative to the config file).
    pub out: Option<String>,
    #[serde(default)]
    pub project: ProjectConfig,
    /// Features for every table.
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    #[serde(default)]
    pub tables: BTreeMap<String, TableConfig>,
    #[serde(default)]
    pub audit: AuditConfig,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        for name in c.features.keys().chain(c.tables.values().flat_map(|t| t.features.keys())) {
            if !is_feature(name) {
                return Err(format!("unknown feature `{name}`; known: {}", feature_list()));
            }
        }
        for mode in c.audit.mode.iter().chain(c.tables.values().filter_map(|t| t.audit_mode.as_ref())) {
            if crate::audit::AuditMode::parse(mode).is_none() {
                return Err(format!("audit mode `{mode}`: write \"application\" or \"trigger\""));
            }
        }
        Ok(c)
    }

    /// The table section for `schema.table` or `table`.
    pub fn table(&self, schema: &str, table: &str) -> Option<&TableConfig> {
        self.tables.get(&format!("{schema}.{table}")).or_else(|| self.tables.get(table))
    }
}

/// `--features.x=y` flags, for all selected tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub features: BTreeMap<String, bool>,
}

impl Flags {
    /// Parse `features.rbac=true`, `features.rbac` (true), `features.tenant-scoped=false`.
    pub fn parse_one(&mut self, arg: &str) -> Result<(), String> {
        let body = arg.trim_start_matches('-');
        let Some(rest) = body.strip_prefix("features.") else {
            return Err(format!("`{arg}` is not a feature flag (write --features.<name>=true|false)"));
        };
        let (name, value) = match rest.split_once('=') {
            Some((n, v)) => (n, v),
            None => (rest, "true"),
        };
        let name = name.replace('_', "-");
        if !is_feature(&name) {
            return Err(format!("unknown feature `{name}`; known: {}", feature_list()));
        }
        let value = match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            other => return Err(format!("--features.{name}: `{other}` is not true or false")),
        };
        self.features.insert(name, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_the_seed_writes_them() {
        let mut f = Flags::default();
        f.parse_one("--features.auth=true").unwrap();
        f.parse_one("--features.tenant-scoped=true").unwrap();
        f.parse_one("--features.readonly").unwrap();
        f.parse_one("--features.event_sourcing=false").unwrap();
        assert_eq!(f.features.get("tenant-scoped"), Some(&true));
        assert_eq!(f.features.get("event-sourcing"), Some(&false));
        assert!(f.parse_one("--features.nope=true").is_err());
        assert!(f.parse_one("--features.rbac=maybe").is_err());
    }

    #[test]
    fn config_file() {
        let c = Config::parse(
            "schema = \"db\"\n[features]\nswagger = true\n[tables.users]\nfeatures = { auth = true }\nroute = \"members\"\n[tables.users.columns.email]\nhidden = true\n",
        )
        .unwrap();
        assert_eq!(c.table("public", "users").unwrap().route.as_deref(), Some("members"));
        assert!(Config::parse("[features]\nbogus = true\n").is_err());
        assert!(Config::parse("nonsense = 1\n").is_err());
    }
}
