//! The core of one resource: names, fields, key, paging, soft delete, operations and the
//! feature settings asked for (flag > config > metadata); features adjust it afterwards.

use crate::feature::{FeatureDef, MetaSwitch};
use crate::settings::{Config, Flags, Setting, Source, TableConfig};
use crate::{Access, DataClass, FieldKind, Names, Note, Operations, Resource, ResourceKind, TieBreaker, fields, names};
use nest_catalog::{Catalog, Table};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Class and route names taken so far: they must be unique across the project.
#[derive(Default)]
pub(crate) struct Namer {
    class: HashSet<String>,
    route: HashSet<String>,
}

impl Namer {
    /// The app's own routes are taken: a table called `docs` or `health` gets another route
    /// (`public-docs`), not one the API docs or the health check already answer.
    pub(crate) fn reserving_core_routes() -> Self {
        let mut n = Namer::default();
        for r in ["docs", "docs-json", "health"] {
            n.route.insert(r.to_string());
        }
        n
    }
}

/// What one resource is built from.
pub(crate) struct Input<'a> {
    pub catalog: &'a Catalog,
    pub table: &'a Table,
    pub kind: ResourceKind,
    pub config: &'a Config,
    pub tcfg: &'a TableConfig,
    pub flags: &'a Flags,
    pub features: &'a [&'a FeatureDef],
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

fn names_for(t: &Table, route_override: Option<&str>, namer: &mut Namer) -> Names {
    let singular = names::singular_words(&t.name);
    let schema_prefix = names::pascal(&t.schema);
    let base_class = names::pascal(&singular.join("_"));
    let class = unique(base_class.clone(), &mut namer.class, &schema_prefix);
    // Module, controller and service take the table's (plural) name; a schema prefix or number
    // added to the class for uniqueness goes there too.
    let plural_class = match class.strip_suffix(&base_class) {
        Some(prefix) => format!("{prefix}{}", names::pascal(&t.name)),
        None => class.clone(),
    };
    let base_route = route_override.map(str::to_string).unwrap_or_else(|| names::kebab(&t.name));
    let route = unique(base_route, &mut namer.route, &format!("{}-", names::kebab(&t.schema)));
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

/// Features asked for a table: flag > config table > config global > metadata (inference
/// comes later, from the features themselves).
fn asked_features(input: &Input) -> BTreeMap<String, Setting<bool>> {
    let Input { catalog, table: t, config, tcfg, flags, .. } = input;
    let md = catalog.metadata.table(&t.schema, &t.name);
    let ef = catalog.metadata.features(&t.schema, &t.name);
    let mut features: BTreeMap<String, Setting<bool>> = BTreeMap::new();
    let meta_feature = |def: &FeatureDef| -> Option<(bool, String)> {
        let (row, table, col) = match def.meta {
            MetaSwitch::TableMetadata(c) => (md, "table_metadata", c),
            MetaSwitch::EnterpriseFeatures(c) => (ef, "enterprise_features", c),
            MetaSwitch::Either(c) if md.and_then(|r| r.get(c)).is_some() => (md, "table_metadata", c),
            MetaSwitch::Either(c) => (ef, "enterprise_features", c),
            MetaSwitch::None => return None,
        };
        row.and_then(|r| r.bool(col)).map(|v| (v, format!("{table}.{col}")))
    };
    for def in input.features {
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
    features
}

pub(crate) fn build(input: &Input, namer: &mut Namer) -> Resource {
    let Input { catalog, table: t, kind, tcfg, .. } = *input;
    let md = catalog.metadata.table(&t.schema, &t.name);
    let names = names_for(t, tcfg.route.as_deref(), namer);
    let mut features = asked_features(input);
    let mut notes = Vec::new();
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
                "UNIQUE ({cols}) also counts soft-deleted rows, so their values stay taken (409) until purged; a partial unique index WHERE deleted_at IS NULL frees them"
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
    for (name, s) in &features {
        if s.value && input.features.iter().any(|d| d.id == name && !d.implemented) {
            notes.push(format!(
                "feature `{name}` (from {}) is not generated by this version yet: nothing of it is in the generated code",
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
        require_if_match: tcfg.require_if_match.unwrap_or(false),
        search: None,
        features,
        app_settings: BTreeSet::new(),
        reads_from: BTreeSet::new(),
        data: DataClass::Plain,
        references: t
            .foreign_keys
            .iter()
            .map(|f| crate::Reference {
                name: f.name.clone(),
                columns: f.columns.clone(),
                table: f.references.clone(),
                referenced: f.referenced_columns.clone(),
            })
            .collect(),
        checks: t.checks.iter().map(|c| c.expression.clone()).collect(),
        partitioned_by: t.partition_by.clone(),
        storage: crate::Storage::AsDeclared,
        notes: notes.into_iter().map(|message| Note { by: "core", message }).collect(),
    }
}
