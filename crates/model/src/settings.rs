//! Where per-table settings come from, strongest first: CLI flags (`--features.rbac=true`),
//! the config file (`nest-generator.toml`), `meta.*` rows, inference from the schema.

use crate::feature::FeatureDef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where a resolved setting came from (for `explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", content = "why", rename_all = "lowercase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
pub struct ColumnConfig {
    pub hidden: Option<bool>,
    pub sensitive: Option<bool>,
    pub readonly: Option<bool>,
    pub filterable: Option<bool>,
    pub sortable: Option<bool>,
    pub description: Option<String>,
    /// Keys features read (checked against their [`ConfigKey`]s when the file is read).
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

/// `[tables.<name>]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TableConfig {
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    pub route: Option<String>,
    pub exclude: Option<bool>,
    pub default_page_size: Option<u32>,
    pub max_page_size: Option<u32>,
    pub count: Option<String>,
    /// `require_if_match = true`: PATCH, DELETE and restore without `If-Match` are refused (428).
    pub require_if_match: Option<bool>,
    /// `search = ["title", "body"]`: text columns `q=` searches (full-text; the generated SQL
    /// indexes them); `[]` turns search off. Unset: a `tsvector` column or trigram indexes.
    pub search: Option<Vec<String>>,
    /// The text search configuration of `q=` (`english`, `simple`...).
    pub search_config: Option<String>,
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnConfig>,
    /// Keys features read (`audit_mode`, `owner_column`, ...), checked against their [`ConfigKey`]s.
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

impl TableConfig {
    /// A feature's string key.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(toml::Value::as_str)
    }
}

impl ColumnConfig {
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.extra.get(key).and_then(toml::Value::as_bool)
    }
}

/// Where a feature's config key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// `[<section>] <name> = ...`, for the whole project.
    Section(&'static str),
    /// `[tables.<t>] <name> = ...`.
    Table,
    /// `[tables.<t>.columns.<c>] <name> = ...`.
    Column,
}

/// A config key a feature reads, and how its value is checked.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    pub scope: KeyScope,
    pub name: &'static str,
    /// `Err(what to write instead)` for a value the feature cannot use.
    pub check: fn(&toml::Value) -> Result<(), String>,
}

/// Every feature and config key the generator knows (from the feature registry): flags and the
/// config file are checked against it.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub features: Vec<&'static FeatureDef>,
    pub keys: Vec<&'static ConfigKey>,
}

impl Vocabulary {
    pub fn is_feature(&self, id: &str) -> bool {
        self.features.iter().any(|f| f.id == id)
    }

    /// `auth, rbac, ...` for messages and the CLI help.
    pub fn feature_list(&self) -> String {
        self.features.iter().map(|f| f.id).collect::<Vec<_>>().join(", ")
    }

    fn check(&self, place: Place, name: &str, value: &toml::Value, at: &str) -> Result<(), String> {
        let Some(key) = self.keys.iter().find(|k| place.holds(k.scope) && k.name == name) else {
            let known: Vec<&str> = self.keys.iter().filter(|k| place.holds(k.scope)).map(|k| k.name).collect();
            return Err(format!(
                "{at}: unknown key `{name}`{}",
                if known.is_empty() { String::new() } else { format!(" (feature keys here: {})", known.join(", ")) }
            ));
        };
        (key.check)(value).map_err(|e| format!("{at}.{name}: {e}"))
    }
}

/// Where in the file a key was found.
#[derive(Clone, Copy)]
enum Place<'a> {
    Section(&'a str),
    Table,
    Column,
}

impl Place<'_> {
    fn holds(self, scope: KeyScope) -> bool {
        match (self, scope) {
            (Place::Section(a), KeyScope::Section(b)) => a == b,
            (Place::Table, KeyScope::Table) | (Place::Column, KeyScope::Column) => true,
            _ => false,
        }
    }
}

/// `[project]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub name: Option<String>,
    pub title: Option<String>,
    /// `true`, `false` or `"auto"` (the default): tables' modules loaded on their first request.
    pub lazy_modules: Option<toml::Value>,
}

/// Tables at which `lazy_modules = "auto"` loads their modules on first request: below it the
/// app boots in well under a second with every module; above it boot time and memory grow
/// with every table (500 tables: about 4 s and 370 MB eagerly, 1.4 s and 155 MB lazily).
pub const LAZY_MODULES_FROM: usize = 100;

impl ProjectConfig {
    /// Whether a project of `tables` modules loads them lazily.
    pub fn lazy_modules(&self, tables: usize) -> bool {
        match &self.lazy_modules {
            Some(toml::Value::Boolean(b)) => *b,
            _ => tables >= LAZY_MODULES_FROM,
        }
    }
}

/// `nest-generator.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// Features' own sections (`[audit]`), checked against their [`ConfigKey`]s.
    #[serde(flatten)]
    pub sections: BTreeMap<String, toml::Value>,
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
    /// Read `nest-generator.toml`, checking feature names and feature keys against `vocab`.
    pub fn parse(text: &str, vocab: &Vocabulary) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        for name in c.features.keys().chain(c.tables.values().flat_map(|t| t.features.keys())) {
            if !vocab.is_feature(name) {
                return Err(format!("unknown feature `{name}`; known: {}", vocab.feature_list()));
            }
        }
        match &c.project.lazy_modules {
            None | Some(toml::Value::Boolean(_)) => {}
            Some(toml::Value::String(s)) if s == "auto" => {}
            Some(other) => {
                let shown = match other {
                    toml::Value::String(s) => format!("\"{s}\""),
                    v if v.type_str().starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {}", v.type_str()),
                    v => format!("a {}", v.type_str()),
                };
                return Err(format!(
                    "[project] lazy_modules = {shown}: write true (tables' modules loaded on their first request), false (all at boot) or \"auto\" (lazily from {LAZY_MODULES_FROM} tables)"
                ));
            }
        }
        for (section, body) in &c.sections {
            let known = vocab.keys.iter().any(|k| Place::Section(section).holds(k.scope));
            let Some(keys) = body.as_table().filter(|_| known) else {
                return Err(format!("unknown key `{section}`"));
            };
            for (k, v) in keys {
                vocab.check(Place::Section(section), k, v, section)?;
            }
        }
        for (t, tc) in &c.tables {
            for (k, v) in &tc.extra {
                vocab.check(Place::Table, k, v, &format!("tables.{t}"))?;
            }
            for (col, cc) in &tc.columns {
                for (k, v) in &cc.extra {
                    vocab.check(Place::Column, k, v, &format!("tables.{t}.columns.{col}"))?;
                }
            }
        }
        Ok(c)
    }

    /// The table section for `schema.table` or `table`.
    pub fn table(&self, schema: &str, table: &str) -> Option<&TableConfig> {
        self.tables.get(&format!("{schema}.{table}")).or_else(|| self.tables.get(table))
    }

    /// `[section] key` of a feature.
    pub fn section_value(&self, section: &str, key: &str) -> Option<&toml::Value> {
        self.sections.get(section).and_then(|s| s.get(key))
    }
}

/// `--features.x=y` flags, for all selected tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub features: BTreeMap<String, bool>,
}

impl Flags {
    /// Parse `features.rbac=true`, `features.rbac` (true), `features.tenant-scoped=false`.
    pub fn parse_one(&mut self, arg: &str, vocab: &Vocabulary) -> Result<(), String> {
        let body = arg.trim_start_matches('-');
        let Some(rest) = body.strip_prefix("features.") else {
            return Err(format!("`{arg}` is not a feature flag (write --features.<name>=true|false)"));
        };
        let (name, value) = match rest.split_once('=') {
            Some((n, v)) => (n, v),
            None => (rest, "true"),
        };
        let name = name.replace('_', "-");
        if !vocab.is_feature(&name) {
            return Err(format!("unknown feature `{name}`; known: {}", vocab.feature_list()));
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
    use crate::feature::MetaSwitch;

    static AUTH: FeatureDef = FeatureDef { id: "auth", about: "", meta: MetaSwitch::None, implemented: true };
    static TENANCY: FeatureDef =
        FeatureDef { id: "tenant-scoped", about: "", meta: MetaSwitch::None, implemented: true };
    static READONLY: FeatureDef = FeatureDef { id: "readonly", about: "", meta: MetaSwitch::None, implemented: true };
    static ES: FeatureDef = FeatureDef { id: "event-sourcing", about: "", meta: MetaSwitch::None, implemented: false };
    static RBAC: FeatureDef = FeatureDef { id: "rbac", about: "", meta: MetaSwitch::None, implemented: true };
    fn mode(v: &toml::Value) -> Result<(), String> {
        matches!(v.as_str(), Some("a" | "b")).then_some(()).ok_or_else(|| "write \"a\" or \"b\"".into())
    }
    static MODE: ConfigKey = ConfigKey { scope: KeyScope::Section("audit"), name: "mode", check: mode };
    static TABLE_MODE: ConfigKey = ConfigKey { scope: KeyScope::Table, name: "audit_mode", check: mode };

    fn vocab() -> Vocabulary {
        Vocabulary { features: vec![&AUTH, &TENANCY, &READONLY, &ES, &RBAC], keys: vec![&MODE, &TABLE_MODE] }
    }

    #[test]
    fn flags_as_the_seed_writes_them() {
        let v = vocab();
        let mut f = Flags::default();
        f.parse_one("--features.auth=true", &v).unwrap();
        f.parse_one("--features.tenant-scoped=true", &v).unwrap();
        f.parse_one("--features.readonly", &v).unwrap();
        f.parse_one("--features.event_sourcing=false", &v).unwrap();
        assert_eq!(f.features.get("tenant-scoped"), Some(&true));
        assert_eq!(f.features.get("event-sourcing"), Some(&false));
        assert!(f.parse_one("--features.nope=true", &v).is_err());
        assert!(f.parse_one("--features.rbac=maybe", &v).is_err());
    }

    #[test]
    fn lazy_modules_true_false_or_auto_from_a_hundred_tables() {
        let v = vocab();
        let lazy = |text: &str, tables: usize| Config::parse(text, &v).map(|c| c.project.lazy_modules(tables));
        assert_eq!(lazy("", LAZY_MODULES_FROM - 1), Ok(false));
        assert_eq!(lazy("", LAZY_MODULES_FROM), Ok(true));
        assert_eq!(lazy("[project]\nlazy_modules = \"auto\"", 500), Ok(true));
        assert_eq!(lazy("[project]\nlazy_modules = true", 3), Ok(true));
        assert_eq!(lazy("[project]\nlazy_modules = false", 500), Ok(false));
        let e = lazy("[project]\nlazy_modules = \"yes\"", 3).unwrap_err();
        assert!(e.contains("lazy_modules = \"yes\"") && e.contains("true") && e.contains("\"auto\""), "{e}");
        let e = lazy("[project]\nlazy_modules = 1", 3).unwrap_err();
        assert!(e.contains("an integer"), "{e}");
    }

    #[test]
    fn config_file() {
        let v = vocab();
        let c = Config::parse(
            "schema = \"db\"\n[features]\nauth = true\n[tables.users]\nfeatures = { auth = true }\nroute = \"members\"\n[tables.users.columns.email]\nhidden = true\n",
            &v,
        )
        .unwrap();
        assert_eq!(c.table("public", "users").unwrap().route.as_deref(), Some("members"));
        assert!(Config::parse("[features]\nbogus = true\n", &v).is_err());
        assert!(Config::parse("nonsense = 1\n", &v).is_err());
    }

    #[test]
    fn feature_keys_are_checked_by_their_feature() {
        let v = vocab();
        let c = Config::parse("[audit]\nmode = \"a\"\n[tables.t]\naudit_mode = \"b\"\n", &v).unwrap();
        assert_eq!(c.section_value("audit", "mode").and_then(|x| x.as_str()), Some("a"));
        assert_eq!(c.table("public", "t").unwrap().str("audit_mode"), Some("b"));
        let e = Config::parse("[audit]\nmode = \"c\"\n", &v).unwrap_err();
        assert!(e.contains("audit.mode") && e.contains("write \"a\""), "{e}");
        let e = Config::parse("[tables.t]\nowner_colum = \"x\"\n", &v).unwrap_err();
        assert!(e.contains("tables.t: unknown key `owner_colum`") && e.contains("audit_mode"), "{e}");
        assert!(Config::parse("[tables.t.columns.c]\nactor = true\n", &v).is_err(), "no feature declares it here");
        assert!(Config::parse("[audit]\nbogus = 1\n", &v).is_err());
        assert!(Config::parse("[nowhere]\nx = 1\n", &v).is_err());
    }
}
