//! View models: what templates see. Everything is precomputed text, so templates only place it.

use crate::dto::{self, DtoKind, Imports};
use nest_model::security::actions;
use nest_model::{FieldKind, Model, Resource, ResourceKind};
use serde::Serialize;

pub use crate::quote::string as ts_string;
pub(crate) use nest_catalog::quote::ident_always as quote_ident;

#[derive(Serialize)]
pub struct KeyView {
    pub property: String,
    pub column: String,
    pub swagger_type: String,
    pub swagger_format: Option<String>,
}

/// One entry of a spec's `extensions`: `factory(arg)`, imported from `from`.
#[derive(Serialize)]
pub struct ExtensionView {
    pub factory: String,
    pub from: String,
    pub arg: String,
}

#[derive(Serialize)]
pub struct OpsView {
    pub list: bool,
    pub get: bool,
    pub create: bool,
    pub bulk: bool,
    pub update: bool,
    pub delete: bool,
    pub restore: bool,
}

#[derive(Serialize)]
pub struct ResourceView {
    pub class: String,
    pub plural_class: String,
    pub file: String,
    pub singular_file: String,
    pub route: String,
    pub constant: String,
    pub human: String,
    pub description: String,
    pub table_literal: String,
    pub qualified: String,
    pub is_view: bool,
    pub versioned: bool,
    pub swagger: bool,
    pub key: Vec<KeyView>,
    pub key_path: String,
    pub key_object: String,
    pub ops: OpsView,
    pub soft_delete: bool,
    pub spec_fields: Vec<String>,
    pub key_list: String,
    pub tie_breaker: String,
    pub default_sort: String,
    pub soft_delete_column: Option<String>,
    pub updated_at_column: Option<String>,
    pub created_at_column: Option<String>,
    pub default_limit: u32,
    pub max_limit: u32,
    pub count_mode: String,
    pub read_imports: Vec<dto::ImportLine>,
    pub read_props: Vec<dto::Prop>,
    pub create_imports: Vec<dto::ImportLine>,
    pub create_props: Vec<dto::Prop>,
    pub update_imports: Vec<dto::ImportLine>,
    pub update_props: Vec<dto::Prop>,
    pub notes: Vec<String>,
    /// The project signs users in: routes need a bearer token.
    pub auth: bool,
    /// Routes need `<permission>:<action>`.
    pub rbac: bool,
    pub permission: String,
    /// The spec's extensions (row scopes, change recording), in the order they apply.
    pub extensions: Vec<ExtensionView>,
    /// A tenant-scoped table.
    pub tenant_spec: Option<String>,
    /// The membership table: writes need an owner or admin of the organization.
    pub members: bool,
    /// `{ schema, table, mode }` of an audited table (it gets GET /:key/history).
    pub audit_spec: Option<String>,
    /// Permission that reads the audit trail (and so the history route).
    pub audit_permission: String,
    /// `{ column, type, bypass, ... }` of the own-rows scope.
    pub owner_spec: Option<String>,
    /// Permission that lifts the own-rows scope (`<resource>:all`), with RBAC.
    pub owner_bypass: Option<String>,
    /// `?withDeleted=true` needs this permission (the resource's restore).
    pub with_deleted_permission: Option<String>,
    /// The users table with tenancy: the caller's organization is used when there is one.
    pub tenant_optional: bool,
}

/// The permission that reads the audit trail: `<audit log resource>:read`.
pub fn audit_read_permission(m: &Model) -> Option<String> {
    let a = m.audit.as_ref()?;
    let name = m
        .resources
        .iter()
        .find(|r| r.schema == a.logs.schema && r.table == a.logs.table)
        .map(|r| r.names.permission.clone())
        .unwrap_or_else(|| a.logs.table.clone());
    Some(format!("{name}:read"))
}

fn spec_field(f: &nest_model::Field) -> String {
    let mut parts = vec![
        format!("column: {}", ts_string(&f.column)),
        format!("property: {}", ts_string(&f.property)),
        format!("filterKey: {}", ts_string(&f.filter_key)),
        format!("kind: '{}'", f.kind.runtime_name()),
        format!("array: {}", f.array),
        format!("nullable: {}", f.nullable),
        format!("sqlType: {}", ts_string(&f.cast_type)),
        format!("ops: [{}]", f.ops.iter().map(|o| format!("'{o}'")).collect::<Vec<_>>().join(", ")),
        format!("sortable: {}", f.sortable),
        format!("readable: {}", f.readable()),
        format!("writable: {}", f.writable()),
    ];
    if let Some(c) = &f.read_cast {
        parts.push(format!("readCast: {}", ts_string(c)));
    }
    if !f.values.is_empty() {
        parts.push(format!("values: [{}]", f.values.iter().map(|v| ts_string(v)).collect::<Vec<_>>().join(", ")));
    }
    if let Some(sv) = f.server {
        parts.push(format!("server: '{}'", sv.runtime_name()));
    }
    if f.privileged {
        parts.push("privileged: true".into());
    }
    format!("{{ {} }}", parts.join(", "))
}

/// `{ column, type, bypass, self, rls, members? }` of a resource with the own-rows scope.
fn owner_spec(m: &Model, r: &Resource) -> Option<String> {
    let o = r.owner.as_ref()?;
    let f = &r.fields[o.field];
    let members = match (&m.auth, &m.tenancy) {
        (Some(a), Some(t)) if o.members => format!(
            ", members: {{ sql: {}, setting: {}, type: {} }}",
            ts_string(&crate::tenancy::members_condition(a, t)),
            ts_string(&t.setting),
            ts_string(&t.tenant_id_type)
        ),
        _ => String::new(),
    };
    Some(format!(
        "{{ column: {}, type: {}, bypass: {}, self: {}, rls: {}{members} }}",
        ts_string(&f.column),
        ts_string(&f.cast_type),
        ts_string(&o.bypass),
        o.is_self,
        !o.is_self && r.kind == ResourceKind::Table,
    ))
}

#[derive(Serialize)]
pub struct OwnedTableView {
    pub table: String,
    pub column: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// No permissive policy on the table yet (from the schema or tenancy): add one that the
    /// restrictive owner policy narrows.
    pub needs_permissive: bool,
}

#[derive(Serialize)]
pub struct OwnerSqlView {
    pub tables: Vec<OwnedTableView>,
}

/// db/06-owner.sql: row-level security for tables with the own-rows scope.
pub fn owner_sql_view(c: &nest_catalog::Catalog, m: &Model) -> OwnerSqlView {
    let tables = m
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Table && r.owner.as_ref().is_some_and(|o| !o.is_self))
        .map(|r| {
            let o = r.owner.as_ref().expect("filtered");
            let f = &r.fields[o.field];
            let tenant_policies = m.tenancy.is_some() && r.tenant_column.is_some();
            let own_permissive = c.table(&r.schema, &r.table).is_some_and(|t| t.policies.iter().any(|p| p.permissive));
            OwnedTableView {
                table: format!("{}.{}", quote_ident(&r.schema), quote_ident(&r.table)),
                column: quote_ident(&f.column),
                ty: f.cast_type.clone(),
                needs_permissive: !tenant_policies && !own_permissive,
            }
        })
        .collect();
    OwnerSqlView { tables }
}

pub fn resource_view(m: &Model, r: &Resource) -> ResourceView {
    let readable: Vec<_> = r.fields.iter().filter(|f| f.readable()).collect();
    let creatable: Vec<_> = r.fields.iter().filter(|f| f.writable()).collect();
    let updatable: Vec<_> = r.fields.iter().filter(|f| f.writable() && !f.is_key).collect();
    let mut ri = Imports::default();
    let read_props = dto::read_dto(&readable, &mut ri);
    let mut ci = Imports::default();
    let create_props = dto::write_dto(&creatable, DtoKind::Create, &mut ci);
    let mut ui = Imports::default();
    let update_props = dto::write_dto(&updatable, DtoKind::Update, &mut ui);
    let core = "../../../core/crud";
    let key: Vec<KeyView> = r
        .key_fields()
        .iter()
        .map(|f| {
            let (t, fmt) = match f.kind {
                FieldKind::Uuid => ("String", Some("uuid")),
                FieldKind::Int => ("Number", Some("int32")),
                // bigint keys are strings in responses (JSON numbers lose digits past 2^53).
                FieldKind::BigInt => ("String", Some("int64")),
                FieldKind::Timestamp => ("String", Some("date-time")),
                FieldKind::Date => ("String", Some("date")),
                _ => ("String", None),
            };
            KeyView {
                property: f.property.clone(),
                column: f.column.clone(),
                swagger_type: t.into(),
                swagger_format: fmt.map(str::to_string),
            }
        })
        .collect();
    let key_path = key.iter().map(|k| format!(":{}", k.property)).collect::<Vec<_>>().join("/");
    let key_object = format!("{{ {} }}", key.iter().map(|k| k.property.clone()).collect::<Vec<_>>().join(", "));
    let tenant_spec = match (&m.tenancy, r.tenant_column) {
        (Some(t), Some(i)) => Some(format!(
            "{{ column: {}, type: {}, setting: {} }}",
            ts_string(&r.fields[i].column),
            ts_string(&r.fields[i].cast_type),
            ts_string(&t.setting)
        )),
        _ => None,
    };
    let audit_spec = m.audit.as_ref().and_then(|a| {
        a.audited.iter().find(|t| t.schema == r.schema && t.table == r.table).map(|t| {
            format!(
                "{{ schema: {}, table: {}, mode: '{}' }}",
                ts_string(&t.schema),
                ts_string(&t.table),
                t.mode.as_str()
            )
        })
    });
    let owner = owner_spec(m, r);
    let extension = |factory: &str, from: &str, arg: &String| ExtensionView {
        factory: factory.into(),
        from: format!("../../core/{from}.js"),
        arg: arg.clone(),
    };
    let extensions = [
        tenant_spec.as_ref().map(|a| extension("tenantScope", "tenancy/tenant-scope", a)),
        owner.as_ref().map(|a| extension("ownRows", "auth/own-rows", a)),
        audit_spec.as_ref().map(|a| extension("auditTrail", "audit/audit-trail", a)),
    ]
    .into_iter()
    .flatten()
    .collect();
    ResourceView {
        class: r.names.class.clone(),
        plural_class: r.names.plural_class.clone(),
        file: r.names.file.clone(),
        singular_file: r.names.singular_file.clone(),
        route: r.names.route.clone(),
        constant: r.names.constant.clone(),
        human: r.names.human.clone(),
        description: r.description.clone().unwrap_or_default(),
        table_literal: ts_string(&format!("{}.{}", quote_ident(&r.schema), quote_ident(&r.table))),
        qualified: format!("{}.{}", r.schema, r.table),
        is_view: r.kind != ResourceKind::Table,
        versioned: r.versioned.value,
        swagger: r.swagger.value,
        key_path,
        key_object,
        key_list: format!("[{}]", r.key_fields().iter().map(|f| ts_string(&f.property)).collect::<Vec<_>>().join(", ")),
        key,
        ops: OpsView {
            list: r.operations.list,
            get: r.operations.get,
            create: r.operations.create,
            bulk: r.operations.bulk_create,
            update: r.operations.update,
            delete: r.operations.delete,
            restore: r.operations.restore,
        },
        soft_delete: r.soft_delete.is_some(),
        spec_fields: r.fields.iter().map(spec_field).collect(),
        tie_breaker: r.tie_breaker.as_str().into(),
        default_sort: format!("[{}]", r.default_sort.iter().map(|s| ts_string(s)).collect::<Vec<_>>().join(", ")),
        soft_delete_column: r.soft_delete.map(|i| ts_string(&r.fields[i].column)),
        updated_at_column: r.updated_at.map(|i| ts_string(&r.fields[i].column)),
        created_at_column: r.created_at.map(|i| ts_string(&r.fields[i].column)),
        default_limit: r.default_limit.value,
        max_limit: r.max_limit.value,
        count_mode: r.count_mode.value.clone(),
        read_imports: ri.lines(core),
        read_props,
        create_imports: ci.lines(core),
        create_props,
        update_imports: ui.lines(core),
        update_props,
        notes: r.notes.clone(),
        auth: m.auth.is_some(),
        rbac: m.rbac.is_some() && r.feature("rbac"),
        permission: r.names.permission.clone(),
        extensions,
        tenant_spec,
        members: m.tenancy.as_ref().is_some_and(|t| {
            (t.members.schema == r.schema && t.members.table == r.table)
                || (t.tenant.schema == r.schema && t.tenant.table == r.table)
        }),
        audit_spec,
        audit_permission: audit_read_permission(m).unwrap_or_default(),
        owner_spec: owner,
        owner_bypass: r.owner.as_ref().map(|o| o.bypass.clone()),
        with_deleted_permission: (r.soft_delete.is_some() && m.rbac.is_some() && r.feature("rbac"))
            .then(|| format!("{}:restore", r.names.permission)),
        tenant_optional: r.owner.as_ref().is_some_and(|o| o.members) && m.tenancy.is_some(),
    }
}

#[derive(Serialize)]
pub struct ModuleRef {
    pub plural_class: String,
    pub file: String,
}

#[derive(Serialize)]
pub struct PackageView {
    pub name: String,
    pub version: String,
}

#[derive(Serialize)]
pub struct RouteDoc {
    pub route: String,
    pub table: String,
    pub operations: String,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct ProjectView {
    pub name: String,
    /// `schema = ...` of nest-generator.toml (a TOML value), when the input is files.
    pub schema_setting: Option<String>,
    /// Database name the README's setup block creates (snake_case of the project name).
    pub db_name: String,
    /// Own-rows tables and their owner column.
    pub owned: Vec<(String, String)>,
    pub title: String,
    pub title_literal: String,
    pub modules: Vec<ModuleRef>,
    pub dependencies: Vec<PackageView>,
    pub dev_dependencies: Vec<PackageView>,
    pub routes: Vec<RouteDoc>,
    pub skipped: Vec<(String, String)>,
    pub auth: bool,
    pub rbac: bool,
    pub tenancy: bool,
    pub audit: bool,
    /// Audited tables and who writes their audit rows.
    pub audited: Vec<(String, String)>,
    pub audit_log_table: String,
    pub audit_permission: String,
    pub audit_partitioned: bool,
    pub audit_retention_table: String,
    pub tenant_setting: String,
    pub tenant_table: String,
    pub member_table: String,
    /// Tenant-scoped tables and their tenant column.
    pub tenant_scoped: Vec<(String, String)>,
    /// `resource:action` permissions, for the README.
    pub permissions: Vec<String>,
}

pub fn project_view(m: &Model, schema_setting: Option<String>) -> ProjectView {
    let mut modules: Vec<ModuleRef> = m
        .resources
        .iter()
        .map(|r| ModuleRef { plural_class: r.names.plural_class.clone(), file: r.names.file.clone() })
        .collect();
    modules.sort_by(|a, b| a.file.cmp(&b.file));
    let pkgs = |dev: bool| {
        let mut v: Vec<PackageView> = crate::PACKAGES
            .iter()
            .filter(|(_, _, d)| *d == dev)
            .map(|(n, v, _)| PackageView { name: n.to_string(), version: v.to_string() })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    let routes = m
        .resources
        .iter()
        .map(|r| {
            let o = &r.operations;
            let mut ops = Vec::new();
            let k = r.key_fields().iter().map(|f| format!(":{}", f.property)).collect::<Vec<_>>().join("/");
            let base = format!("{}/{}", if r.versioned.value { "/v1" } else { "" }, r.names.route);
            if o.list {
                ops.push(format!("GET {base}"));
            }
            if o.get {
                ops.push(format!("GET {base}/{k}"));
            }
            if o.create {
                ops.push(format!("POST {base}"));
            }
            if o.bulk_create {
                ops.push(format!("POST {base}/bulk"));
            }
            if o.update {
                ops.push(format!("PATCH {base}/{k}"));
            }
            if o.delete {
                ops.push(format!("DELETE {base}/{k}"));
            }
            if o.restore {
                ops.push(format!("POST {base}/{k}/restore"));
            }
            RouteDoc { route: base, table: r.qualified(), operations: ops.join(", "), notes: r.notes.clone() }
        })
        .collect();
    let db_name = {
        let mut n: String = m
            .project
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .collect();
        if !n.starts_with(|c: char| c.is_ascii_lowercase()) {
            n.insert_str(0, "app_");
        }
        n
    };
    ProjectView {
        schema_setting,
        db_name,
        owned: m
            .resources
            .iter()
            .filter_map(|r| {
                r.owner.as_ref().filter(|o| !o.is_self).map(|o| (r.qualified(), r.fields[o.field].column.clone()))
            })
            .collect(),
        name: m.project.name.clone(),
        title: m.project.title.clone(),
        title_literal: ts_string(&m.project.title),
        modules,
        dependencies: pkgs(false),
        dev_dependencies: pkgs(true),
        routes,
        skipped: m.skipped.clone(),
        auth: m.auth.is_some(),
        rbac: m.rbac.is_some(),
        tenancy: m.tenancy.is_some(),
        audit: m.audit.is_some(),
        audited: m
            .audit
            .iter()
            .flat_map(|a| a.audited.iter().map(|t| (format!("{}.{}", t.schema, t.table), t.mode.as_str().to_string())))
            .collect(),
        audit_log_table: m.audit.as_ref().map(|a| a.logs.table.clone()).unwrap_or_default(),
        audit_permission: audit_read_permission(m).unwrap_or_default(),
        audit_partitioned: m.audit.as_ref().is_some_and(|a| a.partition_column.is_some()),
        audit_retention_table: m
            .audit
            .as_ref()
            .and_then(|a| a.retention.as_ref().map(|r| r.table.table.clone()))
            .unwrap_or_default(),
        tenant_setting: m.tenancy.as_ref().map(|t| t.setting.clone()).unwrap_or_default(),
        tenant_table: m.tenancy.as_ref().map(|t| t.tenant.table.clone()).unwrap_or_default(),
        member_table: m.tenancy.as_ref().map(|t| t.members.table.clone()).unwrap_or_default(),
        tenant_scoped: m
            .resources
            .iter()
            .filter(|r| m.tenancy.as_ref().is_some_and(|t| !(t.tenant.schema == r.schema && t.tenant.table == r.table)))
            .filter_map(|r| r.tenant_column.map(|i| (r.qualified(), r.fields[i].column.clone())))
            .collect(),
        permissions: m
            .resources
            .iter()
            .filter(|r| m.rbac.is_some() && r.feature("rbac"))
            .flat_map(|r| actions(&r.operations).into_iter().map(move |a| format!("{}:{a}", r.names.permission)))
            .collect(),
    }
}
