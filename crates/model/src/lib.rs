//! Catalog + metadata + config + flags → Model: per table the resolved settings, names,
//! fields with their TypeScript shape and validation, and what clients may do. Every inference
//! rule of the generator lives here; later stages only render.

pub mod audit;
mod fields;
pub mod names;
pub mod ownership;
pub mod registry;
pub mod security;
pub mod settings;

pub use fields::{Access, Field, FieldKind, Format, ServerSet};
pub use settings::{Config, Flags, Setting, Source};

use nest_catalog::{Catalog, Diagnostic, Location, Table, TableKind, codes};
use std::collections::{BTreeMap, BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Table,
    View,
    MaterializedView,
}

/// How keyset pagination breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Operations {
    pub list: bool,
    pub get: bool,
    pub create: bool,
    pub bulk_create: bool,
    pub update: bool,
    pub delete: bool,
    pub restore: bool,
}

#[derive(Debug, Clone)]
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
    /// Every feature asked for, with where from (including ones this version does not build yet).
    pub features: BTreeMap<String, Setting<bool>>,
    /// Notes for `explain` and for the generate report.
    pub notes: Vec<String>,
    /// Index into `fields` of the tenant column, for tenant-scoped tables.
    pub tenant_column: Option<usize>,
    /// `application` or `trigger`, for audited tables.
    pub audit_mode: Setting<String>,
    /// Rows belong to users: each user sees and changes only their own (own-rows).
    pub owner: Option<ownership::OwnerScope>,
    /// The audit trail's own table (log or field changes): read-only, and read only by those
    /// allowed to read the trail.
    pub audit_store: bool,
}

impl Resource {
    pub fn key_fields(&self) -> Vec<&Field> {
        self.key.iter().map(|&i| &self.fields[i]).collect()
    }
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
    pub fn feature(&self, name: &str) -> bool {
        self.features.get(name).is_some_and(|s| s.value)
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub project: Project,
    pub resources: Vec<Resource>,
    /// The users table that signs in, when any table asked for auth or RBAC.
    pub auth: Option<security::AuthModel>,
    /// Roles, permissions and assignments, when any table asked for RBAC.
    pub rbac: Option<security::RbacModel>,
    /// Tenant and membership tables, when any table is tenant-scoped.
    pub tenancy: Option<security::TenancyModel>,
    /// The audit trail, when any table is audited.
    pub audit: Option<audit::AuditModel>,
    /// Tables seen but not served, and why (partitions, excluded).
    pub skipped: Vec<(String, String)>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Model {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.table == name || r.qualified() == name)
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

/// Build the model for `selection` of `catalog`.
pub fn build(catalog: &Catalog, config: &Config, selection: &Selection) -> Model {
    let mut diagnostics = Vec::new();
    let mut skipped = Vec::new();
    let wanted: Vec<&Table> = if selection.tables.is_empty() {
        catalog.tables.iter().collect()
    } else {
        let mut out = Vec::new();
        for spec in &selection.tables {
            match catalog.find_table(spec) {
                Some(t) => out.push(t),
                None => diagnostics.push(
                    Diagnostic::error(
                        codes::UNKNOWN_TABLE,
                        &Location::default(),
                        format!("table `{spec}` is not in the schema"),
                    )
                    .with_help(format!(
                        "known tables: {}",
                        catalog.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                ),
            }
        }
        // The catalog's order, whatever order the tables were named in: same input, same output.
        out.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        out.dedup_by(|a, b| a.schema == b.schema && a.name == b.name);
        out
    };
    // Class and route names must be unique across the project.
    let mut taken_class = HashSet::new();
    let mut taken_route = HashSet::new();
    let mut resources = Vec::new();
    // Tables of `public` choose names first: `public.users` is /users, `app.users` /app-users.
    let mut wanted = wanted;
    wanted.sort_by_key(|t| t.schema != "public");
    for t in wanted {
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
        let flags = selection.recorded.get(&format!("{}.{}", t.schema, t.name)).cloned().unwrap_or_default();
        let mut merged = flags.clone();
        let selected = selection.tables.is_empty()
            || selection.tables.iter().any(|s| s == &t.name || *s == format!("{}.{}", t.schema, t.name));
        if selected {
            merged.features.extend(selection.flags.features.clone());
        }
        let r = resource(catalog, t, kind, config, &tcfg, &merged, &mut taken_class, &mut taken_route);
        resources.push(r);
    }
    resources.sort_by(|a: &Resource, b: &Resource| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    let (auth, rbac) = security_for(catalog, &mut resources, &mut diagnostics);
    let tenancy = tenancy_for(catalog, &mut resources, auth.as_ref(), &mut diagnostics);
    if let Some(a) = &auth {
        let cx = ownership::Context { catalog, config, auth: a, rbac: rbac.as_ref(), tenancy: tenancy.as_ref() };
        ownership::resolve(&cx, &mut resources);
    }
    let audit = audit_for(catalog, &mut resources, auth.as_ref(), &mut diagnostics);
    policy_notes(catalog, &mut resources, tenancy.as_ref());
    let name = config.project.name.clone().unwrap_or_else(|| "nest-api".into());
    let title = config.project.title.clone().unwrap_or_else(|| format!("{name} API"));
    Model { project: Project { name, title }, resources, auth, rbac, tenancy, audit, skipped, diagnostics }
}

fn unique(base: String, taken: &mut HashSet<String>, prefix: &str) -> String {
    let mut candidate = base.clone();
    if taken.contains(&candidate) {
        candidate = format!("{prefix}{base}");
    }
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

fn names_for(
    t: &Table,
    route_override: Option<&str>,
    taken_class: &mut HashSet<String>,
    taken_route: &mut HashSet<String>,
) -> Names {
    let singular = names::singular_words(&t.name);
    let schema_prefix = names::pascal(&t.schema);
    let base_class = names::pascal(&singular.join("_"));
    let class = unique(base_class.clone(), taken_class, &schema_prefix);
    // Module, controller and service take the table's (plural) name; a schema prefix or number
    // added to the class for uniqueness goes there too.
    let plural_class = match class.strip_suffix(&base_class) {
        Some(prefix) => format!("{prefix}{}", names::pascal(&t.name)),
        None => class.clone(),
    };
    let base_route = route_override.map(str::to_string).unwrap_or_else(|| names::kebab(&t.name));
    let route = unique(base_route, taken_route, &format!("{}-", names::kebab(&t.schema)));
    let file = route.replace('/', "-");
    let singular_file = {
        let s = names::kebab(&singular.join("_"));
        if s == file { format!("{s}-item") } else { s }
    };
    Names {
        constant: names::words(&file).join("_").to_uppercase(),
        human: singular.join(" "),
        permission: t.name.clone(),
        class,
        plural_class,
        file,
        singular_file,
        route,
    }
}

#[allow(clippy::too_many_arguments)]
fn resource(
    catalog: &Catalog,
    t: &Table,
    kind: ResourceKind,
    config: &Config,
    tcfg: &settings::TableConfig,
    flags: &Flags,
    taken_class: &mut HashSet<String>,
    taken_route: &mut HashSet<String>,
) -> Resource {
    let md = catalog.metadata.table(&t.schema, &t.name);
    let ef = catalog.metadata.features(&t.schema, &t.name);
    let names = names_for(t, tcfg.route.as_deref(), taken_class, taken_route);
    let mut notes = Vec::new();

    // Features: flag > config table > config global > metadata > inference.
    let mut features: BTreeMap<String, Setting<bool>> = BTreeMap::new();
    let meta_feature = |def: &registry::FeatureDef| -> Option<(bool, String)> {
        use registry::MetaSwitch;
        let (row, table, col) = match def.meta {
            MetaSwitch::TableMetadata(c) => (md, "table_metadata", c),
            MetaSwitch::EnterpriseFeatures(c) => (ef, "enterprise_features", c),
            MetaSwitch::Either(c) if md.and_then(|r| r.get(c)).is_some() => (md, "table_metadata", c),
            MetaSwitch::Either(c) => (ef, "enterprise_features", c),
            MetaSwitch::None => return None,
        };
        row.and_then(|r| r.bool(col)).map(|v| (v, format!("{table}.{col}")))
    };
    for def in registry::FEATURES {
        let name = def.id;
        let s = if let Some(v) = flags.features.get(name) {
            Some(Setting::new(*v, Source::Flag))
        } else if let Some(v) = tcfg.features.get(name).or_else(|| config.features.get(name)) {
            Some(Setting::new(*v, Source::Config))
        } else {
            meta_feature(def).map(|(v, col)| Setting::new(v, Source::Metadata(col)))
        };
        if let Some(s) = s {
            features.insert(name.to_string(), s);
        }
    }

    let fields = fields::build_fields(catalog, t, tcfg, &mut notes);
    let key: Vec<usize> = t
        .primary_key
        .as_ref()
        .map(|pk| pk.columns.iter().filter_map(|c| fields.iter().position(|f| &f.column == c)).collect())
        .unwrap_or_default();
    let is_view = kind != ResourceKind::Table;

    // Soft delete: a deleted_at timestamp column, unless switched off.
    let deleted_at = fields.iter().position(|f| f.column == "deleted_at" && f.kind == FieldKind::Timestamp);
    let soft_setting = features.get("soft-delete").cloned();
    let soft_delete = match (&soft_setting, deleted_at) {
        (Some(s), _) if !s.value => None,
        (Some(s), None) if s.value => {
            notes.push(format!(
                "soft delete asked by {} but the table has no deleted_at timestamp column; deletes are hard",
                s.source
            ));
            None
        }
        (_, d) if !is_view => d,
        _ => None,
    };
    if soft_delete.is_some() {
        // A unique key over all rows keeps a soft-deleted row's values taken.
        let whole_table: Vec<String> = t
            .unique
            .iter()
            .map(|u| u.columns.join(", "))
            .chain(
                t.indexes
                    .iter()
                    .filter(|i| i.unique && i.predicate.is_none())
                    .filter_map(|i| i.column_names().map(|c| c.join(", "))),
            )
            .filter(|cols| !cols.is_empty())
            .collect();
        for cols in whole_table {
            notes.push(format!(
                "{}: UNIQUE ({cols}) also counts soft-deleted rows, so their values stay taken (409) until purged; a partial unique index WHERE deleted_at IS NULL frees them",
                t.name
            ));
        }
    }
    if soft_setting.is_none() && soft_delete.is_some() {
        features.insert("soft-delete".into(), Setting::new(true, Source::Inferred("deleted_at column".into())));
    }
    let updated_at = fields
        .iter()
        .position(|f| matches!(f.column.as_str(), "updated_at" | "modified_at") && f.kind == FieldKind::Timestamp);
    // A creation stamp the database does not fill: the app stamps it on insert.
    let created_at = fields.iter().position(|f| {
        matches!(f.column.as_str(), "created_at" | "inserted_at")
            && f.kind == FieldKind::Timestamp
            && f.access == Access::ReadOnly
            && !f.has_default
    });

    let readonly = match features.get("readonly") {
        Some(s) => s.clone(),
        None if is_view => Setting::new(true, Source::Inferred("a view".into())),
        None => Setting::new(false, Source::Default),
    };
    let readonly_value = readonly.value || is_view;
    let has_key = !key.is_empty();
    let operations = Operations {
        list: true,
        get: has_key,
        create: !readonly_value,
        bulk_create: !readonly_value,
        update: !readonly_value && has_key && fields.iter().any(|f| f.writable() && !f.is_key),
        delete: !readonly_value && has_key,
        restore: !readonly_value && has_key && soft_delete.is_some(),
    };
    if !has_key && kind == ResourceKind::Table {
        notes.push(
            "no primary key: list and append-only create; pages break ties on the row's physical position (ctid)"
                .into(),
        );
    }
    let tie_breaker = if has_key {
        TieBreaker::Key
    } else if kind == ResourceKind::View {
        TieBreaker::None
    } else {
        TieBreaker::Ctid
    };
    let default_sort: Vec<String> = if has_key {
        key.iter().map(|&i| fields[i].property.clone()).collect()
    } else {
        let time = t
            .hypertable
            .as_ref()
            .and_then(|h| fields.iter().find(|f| f.column == h.time_column))
            .or_else(|| fields.iter().find(|f| f.kind == FieldKind::Timestamp && f.sortable && !f.array));
        match time {
            Some(f) => vec![f.property.clone()],
            None => fields.iter().find(|f| f.sortable).map(|f| vec![f.property.clone()]).unwrap_or_default(),
        }
    };

    let versioned = features.get("versioning").cloned().unwrap_or(Setting::new(false, Source::Default));
    let swagger = features.get("swagger").cloned().unwrap_or(Setting::new(true, Source::Default));
    let default_limit = tcfg
        .default_page_size
        .map(|v| Setting::new(v, Source::Config))
        .or_else(|| {
            md.and_then(|r| r.int("default_page_size")).map(|v| {
                Setting::new(v.clamp(1, 10_000) as u32, Source::Metadata("table_metadata.default_page_size".into()))
            })
        })
        .unwrap_or(Setting::new(20, Source::Default));
    let max_limit = tcfg
        .max_page_size
        .map(|v| Setting::new(v, Source::Config))
        .or_else(|| {
            md.and_then(|r| r.int("max_page_size")).map(|v| {
                Setting::new(v.clamp(1, 10_000) as u32, Source::Metadata("table_metadata.max_page_size".into()))
            })
        })
        .unwrap_or(Setting::new(100.max(default_limit.value), Source::Default));
    let count_mode = tcfg
        .count
        .clone()
        .map(|v| Setting::new(v, Source::Config))
        .or_else(|| {
            md.and_then(|r| r.str("count_mode"))
                .map(|v| Setting::new(v.to_string(), Source::Metadata("table_metadata.count_mode".into())))
        })
        .unwrap_or(Setting::new("none".into(), Source::Default));
    let audit_mode = tcfg
        .audit_mode
        .clone()
        .map(|v| Setting::new(v, Source::Config))
        .or_else(|| config.audit.mode.clone().map(|v| Setting::new(v, Source::Config)))
        .or_else(|| {
            ef.and_then(|r| r.str("audit_mode"))
                .filter(|v| audit::AuditMode::parse(v).is_some())
                .map(|v| Setting::new(v.to_string(), Source::Metadata("enterprise_features.audit_mode".into())))
        })
        .unwrap_or(Setting::new("application".into(), Source::Default));

    for (name, s) in &features {
        if s.value && !registry::is_implemented(name) {
            notes.push(format!(
                "feature `{name}` (from {}) is not generated by this version yet; the module is plain CRUD",
                s.source
            ));
        }
    }
    let description = md.and_then(|r| r.str("table_purpose")).map(str::to_string).or_else(|| t.comment.clone());
    Resource {
        schema: t.schema.clone(),
        table: t.name.clone(),
        kind,
        names,
        description,
        fields,
        key,
        tie_breaker,
        default_sort,
        soft_delete,
        updated_at,
        created_at,
        operations,
        readonly,
        versioned,
        swagger,
        default_limit,
        max_limit,
        count_mode,
        features,
        notes,
        tenant_column: None,
        audit_mode,
        owner: None,
        audit_store: false,
    }
}

fn security_error(diagnostics: &mut Vec<Diagnostic>, msg: String, help: &str) {
    diagnostics.push(Diagnostic::error(codes::BAD_METADATA, &Location::default(), msg).with_help(help));
}

/// Find the users table and the RBAC tables; adjust the users resource for auth.
fn security_for(
    catalog: &Catalog,
    resources: &mut [Resource],
    diagnostics: &mut Vec<Diagnostic>,
) -> (Option<security::AuthModel>, Option<security::RbacModel>) {
    let wants_rbac = resources.iter().any(|r| r.feature("rbac"));
    let mut auth_idx = resources.iter().position(|r| r.feature("auth"));
    if auth_idx.is_none() && wants_rbac {
        // RBAC needs someone to sign in: the table user_roles' key points at (not roles).
        let target =
            ["user_roles", "users_roles", "role_users"].iter().find_map(|n| catalog.find_table(n)).and_then(|ur| {
                ur.foreign_keys
                    .iter()
                    .filter(|f| f.columns.len() == 1 && !matches!(f.references.name.as_str(), "roles" | "role"))
                    .find(|f| ur.primary_key.as_ref().is_some_and(|k| k.columns.contains(&f.columns[0])))
                    .map(|f| f.references.clone())
            });
        auth_idx = resources.iter().position(|r| {
            target.as_ref().is_some_and(|q| q.schema == r.schema && q.name == r.table)
                && catalog.table(&r.schema, &r.table).is_some_and(|t| security::detect_auth(catalog, t).is_ok())
        });
    }
    let wants_tenancy = resources.iter().any(|r| r.feature("tenant-scoped"));
    if auth_idx.is_none() && (wants_rbac || wants_tenancy) {
        // Otherwise the one table shaped like a users table (email + password hash), if unambiguous.
        let shaped: Vec<usize> = (0..resources.len())
            .filter(|&i| {
                catalog
                    .table(&resources[i].schema, &resources[i].table)
                    .is_some_and(|t| security::detect_auth(catalog, t).is_ok())
            })
            .collect();
        if let [only] = shaped[..] {
            auth_idx = Some(only);
        }
    }
    let users_table = auth_idx.and_then(|i| catalog.table(&resources[i].schema, &resources[i].table));
    let auth = match (auth_idx, users_table) {
        (Some(_), Some(t)) => match security::detect_auth(catalog, t) {
            Ok(a) => Some(a),
            Err(e) => {
                security_error(
                    diagnostics,
                    e,
                    "auth signs users in with an email and an argon2 password hash; name them email and password_hash",
                );
                None
            }
        },
        (None, _) if wants_rbac => {
            security_error(
                diagnostics,
                "RBAC needs a users table to sign in (email and password_hash columns); none was found".into(),
                "include a users table in the input and generate it with --features.auth=true, or turn RBAC off with --features.rbac=false",
            );
            None
        }
        _ => None,
    };
    let rbac = match (&auth, users_table, wants_rbac) {
        (Some(_), Some(u), true) => match security::detect_rbac(catalog, u) {
            Ok(r) => Some(r),
            Err(e) => {
                security_error(
                    diagnostics,
                    format!("RBAC: {e}"),
                    "RBAC reads roles, permissions, role_permissions, user_roles and user_permissions tables shaped as seed scenario 2",
                );
                None
            }
        },
        _ => None,
    };
    if let Some(r) = &rbac {
        // Deny by default: once the project has RBAC, every route needs a permission, unless a
        // flag or the config file turns RBAC off for that table. The role and permission tables
        // are always guarded.
        let guarded = r.tables();
        for res in resources.iter_mut() {
            let core = guarded.iter().any(|t| t.schema == res.schema && t.table == res.table);
            let explicit_off =
                res.features.get("rbac").is_some_and(|s| !s.value && matches!(s.source, Source::Flag | Source::Config));
            if res.feature("rbac") || (explicit_off && !core) {
                continue;
            }
            let why = if core {
                "role and permission tables are always guarded"
            } else {
                "the project uses RBAC: every route needs a permission (deny by default)"
            };
            if explicit_off {
                res.notes.push(format!("{}: RBAC cannot be turned off for a role or permission table", res.table));
            }
            res.features.insert("rbac".into(), Setting::new(true, Source::Inferred(why.into())));
        }
    }
    if let (Some(a), Some(i)) = (&auth, auth_idx) {
        let r = &mut resources[i];
        if !r.feature("auth") {
            r.features.insert(
                "auth".into(),
                Setting::new(
                    true,
                    Source::Inferred(
                        if wants_rbac {
                            "RBAC needs a users table to sign in"
                        } else {
                            "tenant scoping needs signed-in users"
                        }
                        .into(),
                    ),
                ),
            );
        }
        for f in r.fields.iter_mut().filter(|f| a.managed.contains(&f.column)) {
            let secret = f.column == a.password_hash || Some(&f.column) == a.two_factor_secret.as_ref();
            // The failure count and lock are the sign-in's own state, nobody's business to read.
            let internal = Some(&f.column) == a.failed_logins.as_ref() || Some(&f.column) == a.locked_until.as_ref();
            f.access = if secret || internal { Access::None } else { Access::ReadOnly };
            f.required_on_create = false;
            f.ops.retain(|_| !secret && !internal);
            f.sortable = f.sortable && !secret && !internal;
            f.why = Some(if internal { "sign-in state: never returned" } else { "kept by the auth routes" }.into());
        }
        r.operations.create = false;
        r.operations.bulk_create = false;
        r.operations.update = r.fields.iter().any(|f| f.writable() && !f.is_key);
        r.notes.push(
            "users sign up through POST /auth/register; password and second factor change only through /auth".into(),
        );
    }
    (auth, rbac)
}

/// Tenant-scoped tables: find the tenant column (metadata `tenant_column_name`, else
/// `organization_id`, else the column referencing the tenant table), make it server-set and
/// unfilterable, and find the tenant and membership tables.
fn tenancy_for(
    catalog: &Catalog,
    resources: &mut [Resource],
    auth: Option<&security::AuthModel>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<security::TenancyModel> {
    let scoped: Vec<usize> = (0..resources.len()).filter(|&i| resources[i].feature("tenant-scoped")).collect();
    if scoped.is_empty() {
        return None;
    }
    let Some(a) = auth else {
        let tables = scoped.iter().map(|&i| resources[i].table.as_str()).collect::<Vec<_>>().join(", ");
        security_error(
            diagnostics,
            format!(
                "tenant scoping ({tables}) needs signed-in users, since the tenant comes from the user's membership, \
                 and no users table (email and password_hash columns) is being generated"
            ),
            "include a users table in the input and generate it with --features.auth=true, or turn tenant scoping off with --features.tenant-scoped=false",
        );
        return None;
    };
    let users = catalog.table(&a.schema, &a.table);
    let mut model: Option<security::TenancyModel> = None;
    // (resource, tenant column index); tables whose tenant column has no foreign key wait until
    // another table has shown what the tenant is.
    let mut accepted: Vec<(usize, usize)> = Vec::new();
    let mut unkeyed: Vec<(usize, usize, String)> = Vec::new();
    for i in scoped {
        let r = &resources[i];
        let column = catalog
            .metadata
            .features(&r.schema, &r.table)
            .and_then(|f| f.str("tenant_column_name"))
            .map(str::to_string)
            .unwrap_or_else(|| "organization_id".into());
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let Some(idx) = r.fields.iter().position(|f| f.column == column) else {
            security_error(
                diagnostics,
                format!("{}: tenant-scoped but has no column {column}", r.table),
                "set meta.enterprise_features.tenant_column_name",
            );
            continue;
        };
        match security::detect_tenancy(catalog, t, &column, users) {
            Ok(m) => {
                if model.as_ref().is_some_and(|x| x.tenant != m.tenant) {
                    security_error(
                        diagnostics,
                        format!("{}: a second tenant table ({})", r.table, m.tenant.table),
                        "one project has one kind of tenant",
                    );
                    continue;
                }
                model.get_or_insert(m);
                accepted.push((i, idx));
            }
            Err(e) => unkeyed.push((i, idx, e)),
        }
    }
    for (i, idx, e) in unkeyed {
        let fits = model.as_ref().is_some_and(|m| resources[i].fields[idx].cast_type == m.tenant_id_type);
        if fits {
            accepted.push((i, idx));
        } else {
            security_error(
                diagnostics,
                e,
                "a tenant-scoped table needs a foreign key to its tenant table (organizations)",
            );
        }
    }
    // Deny by default: with tenancy on, every other table that carries the tenant column is
    // tenant data too, unless a flag, the config or metadata says otherwise.
    if let Some(m) = &model {
        let names: BTreeSet<String> =
            accepted.iter().map(|&(i, idx)| resources[i].fields[idx].column.clone()).collect();
        let audit_store = audit::find_log_table(catalog).map(|l| audit::detect(catalog, l, &[], None));
        for (i, r) in resources.iter_mut().enumerate() {
            if accepted.iter().any(|&(j, _)| j == i) || (r.schema == m.tenant.schema && r.table == m.tenant.table) {
                continue;
            }
            let Some(idx) =
                r.fields.iter().position(|f| names.contains(&f.column) && !f.array && f.cast_type == m.tenant_id_type)
            else {
                continue;
            };
            let column = r.fields[idx].column.clone();
            if let Some(s) = r.features.get("tenant-scoped").filter(|s| !s.value) {
                r.notes.push(format!(
                    "{}: carries {column} but tenant scoping is off ({}): every tenant's rows are served",
                    r.table, s.source
                ));
                continue;
            }
            if r.schema == a.schema && r.table == a.table {
                r.notes.push(format!(
                    "{}: the users table carries {column} but is not tenant-scoped (sign-in reads it before a tenant is known); accounts are scoped to their owner instead",
                    r.table
                ));
                continue;
            }
            if audit_store.as_ref().is_some_and(|s| audit::is_store(s, &r.schema, &r.table)) {
                r.notes.push(format!(
                    "{}: audit rows carry {column}, but the trail is read by platform admins only in this version",
                    r.table
                ));
                continue;
            }
            r.features.insert(
                "tenant-scoped".into(),
                Setting::new(true, Source::Inferred(format!("carries the tenant column {column} (deny by default)"))),
            );
            accepted.push((i, idx));
        }
    }
    for &(i, idx) in &accepted {
        // A unique key that leaves the tenant column out spans tenants: its 409 tells one tenant
        // that another holds the value.
        let tenant_col = resources[i].fields[idx].column.clone();
        if let Some(t) = catalog.table(&resources[i].schema, &resources[i].table) {
            let keys: Vec<Vec<String>> =
                t.unique
                    .iter()
                    .map(|u| u.columns.clone())
                    .chain(t.indexes.iter().filter(|x| x.unique && x.predicate.is_none()).filter_map(|x| {
                        x.column_names().map(|c| c.into_iter().map(str::to_string).collect::<Vec<_>>())
                    }))
                    .filter(|cols| !cols.is_empty() && !cols.contains(&tenant_col))
                    .collect();
            for cols in keys {
                resources[i].notes.push(format!(
                    "{}: UNIQUE ({}) spans tenants, so a conflict (409) tells one tenant that another holds the value; make it UNIQUE ({tenant_col}, {})",
                    resources[i].table,
                    cols.join(", "),
                    cols.join(", ")
                ));
            }
        }
        let r = &mut resources[i];
        let f = &mut r.fields[idx];
        f.access = Access::ReadOnly;
        f.required_on_create = false;
        f.ops.clear();
        f.why = Some("set from the signed-in user's organization".into());
        r.tenant_column = Some(idx);
        r.operations.update = r.operations.update && r.fields.iter().any(|f| f.writable() && !f.is_key);
        if r.kind != ResourceKind::Table {
            r.notes.push(format!(
                "{}: a view: filtered by the app to the caller's organization (row-level security cannot apply to views)",
                r.table
            ));
        }
    }
    if let Some(t) = &model
        && t.member_user.is_none()
        && t.member_key.is_none()
        && let Some(r) = resources.iter_mut().find(|r| r.schema == t.members.schema && r.table == t.members.table)
    {
        r.notes.push(format!(
            "{}: no users foreign key and no single-column key to link accepted invitations by: a row counts for whoever verified its email",
            r.table
        ));
    }
    // The tenant table itself: a member sees and changes only their own organization.
    if let Some(t) = &model
        && let Some(r) = resources.iter_mut().find(|r| r.schema == t.tenant.schema && r.table == t.tenant.table)
        && let Some(idx) = r.fields.iter().position(|f| f.column == t.tenant_id)
    {
        r.tenant_column = Some(idx);
        r.operations.create = false;
        r.operations.bulk_create = false;
        // Status and billing are the platform's, not the tenant's: an owner must not un-suspend
        // their organization or extend their own subscription.
        let platform = |c: &str| {
            Some(c) == t.tenant_status.as_deref()
                || Some(c) == t.tenant_expires.as_deref()
                || ["subscription", "plan", "billing", "trial", "quota", "seats"].iter().any(|w| c.contains(w))
        };
        for f in r.fields.iter_mut().filter(|f| platform(&f.column) && f.writable()) {
            f.access = Access::ReadOnly;
            f.required_on_create = false;
            f.why = Some("set by the platform (SQL or a super-admin), not by the tenant".into());
        }
        r.operations.update = r.fields.iter().any(|f| f.writable() && !f.is_key);
        r.notes.push(format!(
            "{}: members see only their own tenant row; new tenants are created in SQL (or by a platform admin), not through this route",
            r.table
        ));
    }
    model
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
fn policy_notes(catalog: &Catalog, resources: &mut [Resource], tenancy: Option<&security::TenancyModel>) {
    for r in resources.iter_mut() {
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let tenant_setting = tenancy.filter(|_| r.tenant_column.is_some()).map(|m| m.setting.as_str());
        for p in &t.policies {
            let read: Vec<String> = p.using.iter().chain(p.with_check.iter()).flat_map(|e| settings_read(e)).collect();
            for name in read {
                if Some(name.as_str()) == tenant_setting || name.starts_with("nestgen.") {
                    continue;
                }
                let hint = match tenancy.map(|m| m.setting.as_str()) {
                    Some(s) if s == name => " (it is the tenant setting: make the table tenant-scoped)",
                    _ => "",
                };
                let note = format!(
                    "{}: row-level security policy {} reads the setting {name}, which the app does not set for this table{hint}; through the app's own role its rows stay hidden (or the query fails)",
                    r.table, p.name
                );
                if !r.notes.contains(&note) {
                    r.notes.push(note);
                }
            }
        }
    }
}

/// Audited tables: find the audit log table and its companions; the log and field-change tables
/// are the trail itself, served read-only whatever the flags say.
fn audit_for(
    catalog: &Catalog,
    resources: &mut [Resource],
    auth: Option<&security::AuthModel>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<audit::AuditModel> {
    let logs = audit::find_log_table(catalog);
    // A table the schema already audits with its own trigger (the seed's audit_users): the
    // generated audit takes over, whether or not anything else asked for auditing. The
    // schema's trigger would store secrets (password hashes) in the clear and write past the
    // app role's rights.
    if let Some(l) = logs {
        let store = audit::detect(catalog, l, &[], None);
        for r in resources.iter_mut().filter(|r| !audit::is_store(&store, &r.schema, &r.table) && !r.key.is_empty()) {
            let own_trigger = catalog.table(&r.schema, &r.table).and_then(|t| {
                t.triggers
                    .iter()
                    .find(|g| g.function.name.to_ascii_lowercase().contains("audit") && g.function.schema != "nestgen")
            });
            if let Some(g) = own_trigger
                && !r.features.contains_key("audit")
            {
                r.features.insert(
                    "audit".into(),
                    Setting::new(true, Source::Inferred(format!("the schema's trigger {} audits it", g.name))),
                );
            }
        }
    }
    let wanted = resources.iter().any(|r| r.feature("audit"));
    if !wanted {
        // An audit trail kept by the database's own triggers is still read-only through the API.
        if let Some(logs) = logs {
            let store = audit::detect(catalog, logs, &[], None);
            for r in resources.iter_mut().filter(|r| audit::is_store(&store, &r.schema, &r.table)) {
                r.audit_store = true;
                r.operations = Operations { list: true, get: true, ..Operations::default() };
                r.notes.push(format!("{}: an audit trail is read-only through the API", r.table));
            }
        }
        return None;
    }
    let Some(logs) = logs else {
        let tables = resources.iter().filter(|r| r.feature("audit")).map(|r| r.table.as_str()).collect::<Vec<_>>();
        security_error(
            diagnostics,
            format!(
                "audit ({}) needs an audit log table (columns table_name, record_id, operation, old_values/new_values); none is in the input",
                tables.join(", ")
            ),
            "add seed scenario 3's audit_logs table to the input, or turn auditing off with --features.audit=false",
        );
        return None;
    };
    let users = auth.and_then(|a| catalog.table(&a.schema, &a.table));
    // Placeholder model to tell store tables apart; the audited list is built below.
    let store = audit::detect(catalog, logs, &[], users);
    let mut audited = Vec::new();
    for r in resources.iter_mut() {
        if audit::is_store(&store, &r.schema, &r.table) {
            r.audit_store = true;
            r.operations = Operations { list: true, get: true, ..Operations::default() };
            r.notes.push(format!(
                "{}: the audit trail is read-only through the API (rows are written by the audit)",
                r.table
            ));
            continue;
        }
        let policies = store.retention.as_ref().is_some_and(|p| p.table.schema == r.schema && p.table.table == r.table);
        if policies && !r.feature("audit") && !r.key.is_empty() {
            // Who shortened a retention policy is part of the trail.
            r.features.insert(
                "audit".into(),
                Setting::new(true, Source::Inferred("retention policies decide what the trail keeps".into())),
            );
        }
        if !r.feature("audit") {
            continue;
        }
        if r.key.is_empty() || matches!(r.kind, ResourceKind::View | ResourceKind::MaterializedView) {
            r.notes.push(format!("{}: not audited: rows without a primary key cannot be traced", r.table));
            continue;
        }
        audited.push(r.clone());
    }
    let refs: Vec<&Resource> = audited.iter().collect();
    let mut model = audit::detect(catalog, logs, &refs, users);
    // What every sign-in changes (failure count, lock, last sign-in) is bookkeeping, not a
    // change worth a trail row.
    if let Some(a) = auth {
        for t in model.audited.iter_mut().filter(|t| t.schema == a.schema && t.table == a.table) {
            for c in &a.bookkeeping {
                if !t.ignored.contains(c) {
                    t.ignored.push(c.clone());
                }
            }
        }
    }
    Some(model)
}

/// Every table a resource's foreign keys point to (for module ordering and docs).
pub fn referenced_tables(catalog: &Catalog, r: &Resource) -> BTreeSet<String> {
    catalog
        .table(&r.schema, &r.table)
        .map(|t| t.foreign_keys.iter().map(|f| f.references.to_string()).collect())
        .unwrap_or_default()
}
