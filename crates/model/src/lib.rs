//! Catalog + metadata + config + flags → Model: per table the resolved settings, names,
//! fields with their TypeScript shape and validation, and what clients may do; per feature its
//! own typed state. The Model is the contract between reading and emitting: emitters read it
//! and nothing else, and it serializes (snapshot tests pin it per seed scenario).
//!
//! The core inference rules (names, fields, operations, paging, soft delete) live here; each
//! feature's rules live in its folder of the `nest-features` crate and run through [`Resolve`].

mod error;
pub mod feature;
mod fields;
pub mod names;
mod resource;
pub mod search;
pub mod settings;

pub use error::{FeatureError, ModelError};
pub use feature::{FeatureDef, FeatureState, FeatureStates, MetaSwitch, ModelCx, Resolve};
pub use fields::{Access, Field, FieldKind, Format, ServerSet, is_sensitive_name};
pub use nest_catalog::QualifiedName;
pub use settings::{Config, Flags, Setting, Source, Vocabulary};

use nest_catalog::{Catalog, Diagnostic, Table, TableKind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Table,
    View,
    MaterializedView,
}

/// How keyset pagination breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TieBreaker {
    Key,
    Ctid,
    None,
}

impl TieBreaker {
    pub fn as_str(self) -> &'static str {
        match self {
            TieBreaker::Key => "key",
            TieBreaker::Ctid => "ctid",
            TieBreaker::None => "none",
        }
    }
}

/// Names of one resource in every convention it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Singular PascalCase base of class names: `OrganizationUser`.
    pub class: String,
    /// Plural PascalCase for module, controller, service: `OrganizationUsers`.
    pub plural_class: String,
    /// kebab-case folder and file stem: `organization-users`.
    pub file: String,
    /// kebab-case singular for DTO files: `organization-user`.
    pub singular_file: String,
    /// URL path: `organization-users`.
    pub route: String,
    /// Constant name of the resource spec: `ORGANIZATION_USERS`.
    pub constant: String,
    /// Human singular: `organization user`.
    pub human: String,
    /// Permission resource slug: `organization_users`.
    pub permission: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Operations {
    pub list: bool,
    pub get: bool,
    pub create: bool,
    pub bulk_create: bool,
    pub update: bool,
    pub delete: bool,
    pub restore: bool,
}

/// Whose data a table holds, as the feature that knows decides (the strongest claim wins). RBAC's
/// default roles follow it: deny by default extends to data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataClass {
    /// Ordinary data: each default role its actions in a single-tenant project; platform data
    /// (no default role) in a multi-tenant one.
    #[default]
    Plain,
    /// One tenant's rows.
    Tenant,
    /// Rows that belong to users (own-rows scope): each user manages their own.
    Owned,
    /// The accounts that sign in.
    Accounts,
    /// What decides who may do what (roles, permissions); `Assignments`: who holds them.
    Powers,
    Assignments,
    /// What decides how long the change trail keeps rows.
    TrailPolicy,
    /// The change trail itself.
    Trail,
}

/// How the generated schema stores a table or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "as", rename_all = "kebab-case")]
pub enum Storage {
    /// As the input declares it.
    #[default]
    AsDeclared,
    /// A time series: a hypertable where TimescaleDB is installed, partitioned by range on
    /// `column` elsewhere.
    TimePartitioned { column: String },
    /// A rollup of a time series (a materialized view): a continuous aggregate where TimescaleDB
    /// is installed, a table the app refreshes elsewhere.
    RollupTable,
}

impl Storage {
    pub fn is_as_declared(&self) -> bool {
        *self == Storage::AsDeclared
    }
}

/// A permission a feature defines besides the `<resource>:<action>` of resources' core routes
/// (its own routes' permissions, powers such as acting in any tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// `resource:action`.
    pub slug: String,
    /// Which of RBAC's default roles hold it.
    pub grant: Grant,
}

/// Which default roles hold a feature's permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    /// The `admin` role in a single-tenant project; with tenants it is a platform power (only
    /// super-admins and explicit grants).
    Admin,
    /// No default role: super-admins and explicit grants only.
    Nobody,
    /// As `action` on `table` (RBAC's rule for that table's routes, by the data it holds).
    Like { table: QualifiedName, action: String },
}

/// Something the generator decided that the user should know (printed by `generate`, listed by
/// `explain`, written into the README).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Who decided: `core` or a feature id.
    pub by: &'static str,
    pub message: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub schema: String,
    pub table: String,
    pub kind: ResourceKind,
    pub names: Names,
    pub description: Option<String>,
    pub fields: Vec<Field>,
    /// Indexes into `fields` of the primary key, in key order.
    pub key: Vec<usize>,
    pub tie_breaker: TieBreaker,
    pub default_sort: Vec<String>,
    pub soft_delete: Option<usize>,
    pub updated_at: Option<usize>,
    /// A creation timestamp without a default: set to now() on insert.
    pub created_at: Option<usize>,
    pub operations: Operations,
    pub readonly: Setting<bool>,
    pub versioned: Setting<bool>,
    pub swagger: Setting<bool>,
    pub default_limit: Setting<u32>,
    pub max_limit: Setting<u32>,
    pub count_mode: Setting<String>,
    /// Changes need `If-Match` (optimistic concurrency required; 428 without it).
    pub require_if_match: bool,
    /// `q=`: what the rows are searched by (config or schema), if anything.
    pub search: Option<search::Search>,
    /// Every feature asked for, with where from (including ones this version does not build yet).
    pub features: BTreeMap<String, Setting<bool>>,
    /// Settings the app sets (SET LOCAL) in every transaction on this table, for its row-level
    /// security policies (filled by the features that set them).
    pub app_settings: BTreeSet<String>,
    /// Other tables whose rows change what a read of this one answers (its row-level security
    /// policies or the app's row scopes look at them), filled by the features that add such
    /// conditions: a cache of its reads must follow their changes too.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub reads_from: BTreeSet<QualifiedName>,
    pub data: DataClass,
    /// The table's foreign keys (what a row needs to exist first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// CHECK constraints' expressions (those on one column's allowed values are also `values`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// `PARTITION BY ...` of a partitioned table, as declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitioned_by: Option<String>,
    /// How db/01-schema.sql stores the table, when a feature decides beyond the input.
    #[serde(skip_serializing_if = "Storage::is_as_declared")]
    pub storage: Storage,
    pub notes: Vec<Note>,
}

/// A foreign key: these columns of the table hold the key of a row of another.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    /// The constraint's name.
    pub name: String,
    pub columns: Vec<String>,
    pub table: QualifiedName,
    pub referenced: Vec<String>,
}

impl Resource {
    pub fn key_fields(&self) -> Vec<&Field> {
        self.key.iter().map(|&i| &self.fields[i]).collect()
    }
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
    pub fn qname(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.table)
    }
    /// This resource serves table `q`.
    pub fn is(&self, q: &QualifiedName) -> bool {
        self.schema == q.schema && self.table == q.name
    }
    pub fn feature(&self, name: &str) -> bool {
        self.features.get(name).is_some_and(|s| s.value)
    }
    /// `select=` on its list and get (the `select` switch, on unless turned off).
    pub fn selectable(&self) -> bool {
        self.features.get("select").is_none_or(|s| s.value)
    }
    /// `GET /<route>/aggregate` (the `aggregate` switch, on unless turned off; tables with a list).
    pub fn aggregates(&self) -> bool {
        self.operations.list && self.features.get("aggregate").is_none_or(|s| s.value)
    }
    /// `GET /<route>/export` (the `export` switch, on unless turned off; tables with a list).
    pub fn exports(&self) -> bool {
        self.operations.list && self.features.get("export").is_none_or(|s| s.value)
    }
    pub fn field(&self, column: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.column == column)
    }
    /// Claim the table's data for `class` (a stronger claim already made stays).
    pub fn classify(&mut self, class: DataClass) {
        self.data = self.data.max(class);
    }
    /// Add a note (once).
    pub fn note(&mut self, by: &'static str, message: impl Into<String>) {
        let message = message.into();
        if !self.notes.iter().any(|n| n.message == message) {
            self.notes.push(Note { by, message });
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub name: String,
    pub title: String,
    /// Tables' modules are loaded on their first request (`[project] lazy_modules`).
    pub lazy_modules: bool,
}

#[derive(Debug, Serialize)]
pub struct Model {
    pub project: Project,
    pub resources: Vec<Resource>,
    /// The state of every feature the project uses, by feature id.
    pub features: FeatureStates,
    /// Permissions features define besides those of the routes (`tenants:cross`, reading the trail).
    pub permissions: Vec<Permission>,
    /// Tables seen but not served, and why (partitions, excluded).
    pub skipped: Vec<(String, String)>,
    /// Why the model cannot be built as asked (nothing is written then).
    #[serde(skip)]
    pub errors: Vec<ModelError>,
}

impl Model {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.table == name || r.qualified() == name)
    }
    /// The resource serving table `q`.
    pub fn resource_of(&self, q: &QualifiedName) -> Option<&Resource> {
        self.resources.iter().find(|r| r.is(q))
    }
    /// A feature's state, by its type.
    pub fn state<T: 'static>(&self) -> Option<&T> {
        self.features.get::<T>()
    }
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.errors.iter().map(ModelError::to_diagnostic).collect()
    }
}

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Tables (`name` or `schema.name`) to generate; empty means all.
    pub tables: Vec<String>,
    /// Flags for the selected tables.
    pub flags: Flags,
    /// Flags recorded for tables generated before (`generate TABLE` into an existing project).
    pub recorded: BTreeMap<String, Flags>,
}

fn table_kind(t: &Table) -> Option<ResourceKind> {
    match t.kind {
        TableKind::Table => Some(ResourceKind::Table),
        TableKind::View => Some(ResourceKind::View),
        TableKind::MaterializedView => Some(ResourceKind::MaterializedView),
        TableKind::Partition => None,
    }
}

/// The tables `selection` names (all when it names none), in catalog order.
fn wanted<'c>(catalog: &'c Catalog, selection: &Selection, errors: &mut Vec<ModelError>) -> Vec<&'c Table> {
    if selection.tables.is_empty() {
        return catalog.tables.iter().collect();
    }
    let mut out = Vec::new();
    for spec in &selection.tables {
        match catalog.find_table(spec) {
            Some(t) => out.push(t),
            None => errors.push(ModelError::UnknownTable {
                spec: spec.clone(),
                known: catalog.tables.iter().map(|t| t.name.clone()).collect(),
            }),
        }
    }
    // The catalog's order, whatever order the tables were named in: same input, same output.
    out.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    out.dedup_by(|a, b| a.schema == b.schema && a.name == b.name);
    out
}

/// Build the model for `selection` of `catalog`: the core resources, then each feature's
/// resolution in `features` order (the registry's), then the checks that need them all.
pub fn build(catalog: &Catalog, config: &Config, selection: &Selection, features: &[&dyn Resolve]) -> Model {
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    let defs: Vec<&FeatureDef> = features.iter().map(|f| f.def()).collect();
    let mut namer = resource::Namer::reserving_core_routes();
    let mut resources = Vec::new();
    // Tables of `public` choose names first: `public.users` is /users, `app.users` /app-users.
    let mut tables = wanted(catalog, selection, &mut errors);
    tables.sort_by_key(|t| t.schema != "public");
    for t in tables {
        let Some(kind) = table_kind(t) else {
            skipped.push((
                format!("{}.{}", t.schema, t.name),
                format!(
                    "partition of {}: served through its parent",
                    t.partition_of.as_ref().map(|p| p.parent.name.as_str()).unwrap_or("?")
                ),
            ));
            continue;
        };
        let tcfg = config.table(&t.schema, &t.name).cloned().unwrap_or_default();
        if tcfg.exclude == Some(true) {
            skipped.push((format!("{}.{}", t.schema, t.name), "excluded in nest-generator.toml".into()));
            continue;
        }
        if let Some(row) = catalog.metadata.table(&t.schema, &t.name)
            && row.bool("is_active") == Some(false)
        {
            skipped.push((format!("{}.{}", t.schema, t.name), "meta.table_metadata.is_active = false".into()));
            continue;
        }
        let mut flags = selection.recorded.get(&format!("{}.{}", t.schema, t.name)).cloned().unwrap_or_default();
        let selected = selection.tables.is_empty()
            || selection.tables.iter().any(|s| s == &t.name || *s == format!("{}.{}", t.schema, t.name));
        if selected {
            flags.features.extend(selection.flags.features.clone());
        }
        let input = resource::Input { catalog, table: t, kind, config, tcfg: &tcfg, flags: &flags, features: &defs };
        resources.push(resource::build(&input, &mut namer));
    }
    resources.sort_by(|a: &Resource, b: &Resource| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    let mut cx = ModelCx {
        catalog,
        config,
        resources,
        states: FeatureStates::default(),
        errors,
        setting_hints: BTreeMap::new(),
        permissions: Vec::new(),
    };
    for f in features {
        f.resolve(&mut cx);
    }
    unseen_fields_are_no_keys(&mut cx.resources);
    search::resolve(cx.catalog, config, &mut cx.resources, &mut cx.errors);
    policy_notes(&mut cx);
    let name = config.project.name.clone().unwrap_or_else(|| "nest-api".into());
    let title = config.project.title.clone().unwrap_or_else(|| format!("{name} API"));
    Model {
        project: Project { name, title, lazy_modules: config.project.lazy_modules(cx.resources.len()) },
        resources: cx.resources,
        features: cx.states,
        permissions: cx.permissions,
        skipped,
        errors: cx.errors,
    }
}

/// A column clients never see is no sort key and no filter either, whichever feature hid it: a
/// sort or a filter on it would answer questions about its values (one character at a time), and
/// a cursor could not carry them.
fn unseen_fields_are_no_keys(resources: &mut [Resource]) {
    for f in resources.iter_mut().flat_map(|r| r.fields.iter_mut()).filter(|f| !f.readable()) {
        f.sortable = false;
        f.ops.clear();
    }
}

/// Settings a policy reads: `current_setting('name'` → name.
fn settings_read(expr: &str) -> Vec<String> {
    expr.split("current_setting(")
        .skip(1)
        .filter_map(|rest| {
            rest.trim_start().strip_prefix('\'').and_then(|r| r.split_once('\'')).map(|(n, _)| n.to_string())
        })
        .collect()
}

/// The schema's own row-level security policies that read a setting the app never sets for
/// that table: through the app's (non-owner) role such a policy hides every row or fails.
fn policy_notes(cx: &mut ModelCx) {
    for r in cx.resources.iter_mut() {
        let Some(t) = cx.catalog.table(&r.schema, &r.table) else { continue };
        for p in &t.policies {
            let read: Vec<String> = p.using.iter().chain(p.with_check.iter()).flat_map(|e| settings_read(e)).collect();
            for name in read {
                if r.app_settings.contains(&name) || name.starts_with("nestgen.") {
                    continue;
                }
                let hint = cx.setting_hints.get(&name).map(|h| format!(" ({h})")).unwrap_or_default();
                r.note(
                    "core",
                    format!(
                        "{}: row-level security policy {} reads the setting {name}, which the app does not set for this table{hint}; through the app's own role its rows stay hidden (or the query fails)",
                        r.table, p.name
                    ),
                );
            }
        }
    }
}

/// Every table a resource's foreign keys point to (for module ordering and docs).
pub fn referenced_tables(catalog: &Catalog, r: &Resource) -> BTreeSet<String> {
    catalog
        .table(&r.schema, &r.table)
        .map(|t| t.foreign_keys.iter().map(|f| f.references.to_string()).collect())
        .unwrap_or_default()
}
