//! Multi-tenancy (seed scenario 1): rows belong to an organization. Every statement on a
//! tenant-scoped table runs with the request's tenant set for row-level security and filtered by
//! the tenant column; membership is bound to identity (a linked users row or an accepted
//! invitation, never a typed-in email); foreign keys between tenant tables stay inside a tenant.
//! Deny by default: with tenancy on, every table that carries the tenant column is tenant data.
//!
//! State: [`TenancyModel`]. Needs sign-in (the tenant comes from the caller's membership).

mod detect;
mod view;

pub use detect::{SameTenant, Scoped, TenancyModel};
pub use view::{members_condition, tenant_check};

/// The tenant-scoped controllers' documented header (short enough for one line at width 140).
pub(crate) const ORGANIZATION_HEADER: &str = "@ApiHeader({ name: 'X-Organization-Id', required: false, description: 'Act in another organization (tenants:cross, or be a member)' })";

use crate::auth::AuthModel;
use nest_catalog::QualifiedName;
use nest_model::{
    Access, DataClass, FeatureDef, FeatureError, Grant, MetaSwitch, Model, ModelCx, ModelError, Permission, Resolve,
    Resource, ResourceKind, Setting, Source,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, Decorator, FeatureFile, Ownership, RenderError, Rendered,
    ResourceContributions, Route, SpecExtension,
};
use std::collections::BTreeSet;

pub struct Tenancy;

pub static DEF: FeatureDef = FeatureDef {
    id: "tenant-scoped",
    about: "rows belong to an organization; row-level security plus an application filter",
    meta: MetaSwitch::EnterpriseFeatures("enable_tenant_isolation"),
    implemented: true,
};

#[derive(Debug, thiserror::Error)]
enum TenancyError {
    #[error(
        "tenant scoping ({0}) needs signed-in users, since the tenant comes from the user's membership, and no users table (email and password_hash columns) is being generated"
    )]
    NoUsers(String),
    #[error("{table}: tenant-scoped but has no column {column}")]
    NoColumn { table: String, column: String },
    #[error("{table}: a second tenant table ({tenant})")]
    SecondTenant { table: String, tenant: String },
    #[error("{0}")]
    NoTenantKey(String),
}

impl FeatureError for TenancyError {
    fn help(&self) -> String {
        match self {
            TenancyError::NoUsers(_) => "include a users table in the input and generate it with --features.auth=true, or turn tenant scoping off with --features.tenant-scoped=false",
            TenancyError::NoColumn { .. } => "set meta.enterprise_features.tenant_column_name",
            TenancyError::SecondTenant { .. } => "one project has one kind of tenant",
            TenancyError::NoTenantKey(_) => "a tenant-scoped table needs a foreign key to its tenant table (organizations)",
        }
        .into()
    }
}

/// Tenant-scoped tables: find the tenant column (metadata `tenant_column_name`, else
/// `organization_id`, else the column referencing the tenant table), make it server-set and
/// unfilterable, and find the tenant and membership tables.
fn resolve(cx: &mut ModelCx) -> Option<TenancyModel> {
    let asked: Vec<usize> = (0..cx.resources.len()).filter(|&i| cx.resources[i].feature(DEF.id)).collect();
    if asked.is_empty() {
        return None;
    }
    let Some(a) = cx.state::<AuthModel>().cloned() else {
        let tables = asked.iter().map(|&i| cx.resources[i].table.as_str()).collect::<Vec<_>>().join(", ");
        cx.error(ModelError::feature(DEF.id, None, TenancyError::NoUsers(tables)));
        return None;
    };
    let users = cx.catalog.table(&a.schema, &a.table);
    let mut model: Option<TenancyModel> = None;
    // (resource, tenant column index); tables whose tenant column has no foreign key wait until
    // another table has shown what the tenant is.
    let mut accepted: Vec<(usize, usize)> = Vec::new();
    let mut unkeyed: Vec<(usize, usize, String)> = Vec::new();
    for i in asked {
        let r = &cx.resources[i];
        let column = cx
            .catalog
            .metadata
            .features(&r.schema, &r.table)
            .and_then(|f| f.str("tenant_column_name"))
            .map(str::to_string)
            .unwrap_or_else(|| "organization_id".into());
        let Some(t) = cx.table(r) else { continue };
        let Some(idx) = r.fields.iter().position(|f| f.column == column) else {
            let e = TenancyError::NoColumn { table: r.table.clone(), column };
            cx.error(ModelError::feature(DEF.id, Some(t), e));
            continue;
        };
        match detect::detect_tenancy(cx.catalog, t, &column, users) {
            Ok(m) => {
                if model.as_ref().is_some_and(|x| x.tenant != m.tenant) {
                    let e = TenancyError::SecondTenant { table: r.table.clone(), tenant: m.tenant.name.clone() };
                    cx.error(ModelError::feature(DEF.id, Some(t), e));
                    continue;
                }
                model.get_or_insert(m);
                accepted.push((i, idx));
            }
            Err(e) => unkeyed.push((i, idx, e)),
        }
    }
    for (i, idx, e) in unkeyed {
        let fits = model.as_ref().is_some_and(|m| cx.resources[i].fields[idx].cast_type == m.tenant_id_type);
        if fits {
            accepted.push((i, idx));
        } else {
            let t = cx.table(&cx.resources[i]);
            let e = ModelError::feature(DEF.id, t, TenancyError::NoTenantKey(e));
            cx.error(e);
        }
    }
    let mut m = model?;
    // Deny by default: with tenancy on, every other table that carries the tenant column is
    // tenant data too, unless a flag, the config or metadata says otherwise.
    let names: BTreeSet<String> = accepted.iter().map(|&(i, idx)| cx.resources[i].fields[idx].column.clone()).collect();
    for (i, r) in cx.resources.iter_mut().enumerate() {
        if accepted.iter().any(|&(j, _)| j == i) || r.is(&m.tenant) {
            continue;
        }
        let Some(idx) =
            r.fields.iter().position(|f| names.contains(&f.column) && !f.array && f.cast_type == m.tenant_id_type)
        else {
            continue;
        };
        let column = r.fields[idx].column.clone();
        if let Some(s) = r.features.get(DEF.id).filter(|s| !s.value) {
            let note = format!(
                "{}: carries {column} but tenant scoping is off ({}): every tenant's rows are served",
                r.table, s.source
            );
            r.note(DEF.id, note);
            continue;
        }
        if r.is(&a.users()) {
            r.note(DEF.id, format!(
                "{}: the users table carries {column} but is not tenant-scoped (sign-in reads it before a tenant is known); accounts are scoped to their owner instead",
                r.table
            ));
            continue;
        }
        if r.data == DataClass::Trail {
            r.note(
                DEF.id,
                format!(
                    "{}: audit rows carry {column}, but the trail is read by platform admins only in this version",
                    r.table
                ),
            );
            continue;
        }
        r.features.insert(
            DEF.id.into(),
            Setting::new(true, Source::Inferred(format!("carries the tenant column {column} (deny by default)"))),
        );
        accepted.push((i, idx));
    }
    for &(i, idx) in &accepted {
        // A unique key that leaves the tenant column out spans tenants: its 409 tells one tenant
        // that another holds the value.
        let tenant_col = cx.resources[i].fields[idx].column.clone();
        if let Some(t) = cx.catalog.table(&cx.resources[i].schema, &cx.resources[i].table) {
            let keys: Vec<Vec<String>> =
                t.unique
                    .iter()
                    .map(|u| u.columns.clone())
                    .chain(t.indexes.iter().filter(|x| x.unique && x.predicate.is_none()).filter_map(|x| {
                        x.column_names().map(|c| c.into_iter().map(str::to_string).collect::<Vec<_>>())
                    }))
                    .filter(|cols| !cols.is_empty() && !cols.contains(&tenant_col))
                    .collect();
            let r = &mut cx.resources[i];
            for cols in keys {
                r.note(DEF.id, format!(
                    "{}: UNIQUE ({}) spans tenants, so a conflict (409) tells one tenant that another holds the value; make it UNIQUE ({tenant_col}, {})",
                    r.table,
                    cols.join(", "),
                    cols.join(", ")
                ));
            }
        }
        let r = &mut cx.resources[i];
        let f = &mut r.fields[idx];
        f.access = Access::ReadOnly;
        f.required_on_create = false;
        f.ops.clear();
        f.why = Some("set from the signed-in user's organization".into());
        m.scoped.push(Scoped { table: r.qname(), column: tenant_col, view: r.kind != ResourceKind::Table });
        r.operations.update = r.operations.update && r.fields.iter().any(|f| f.writable() && !f.is_key);
        if r.kind != ResourceKind::Table {
            r.note(
                DEF.id,
                format!(
                    "{}: a view: filtered by the app to the caller's organization (row-level security cannot apply to views)",
                    r.table
                ),
            );
        }
    }
    if m.member_user.is_none()
        && m.member_key.is_none()
        && let Some(r) = cx.resources.iter_mut().find(|r| r.is(&m.members))
    {
        r.note(DEF.id, format!(
            "{}: no users foreign key and no single-column key to link accepted invitations by: a row counts for whoever verified its email",
            r.table
        ));
    }
    // The tenant table itself: a member sees and changes only their own organization.
    if let Some(r) = cx.resources.iter_mut().find(|r| r.is(&m.tenant))
        && r.fields.iter().any(|f| f.column == m.tenant_id)
    {
        m.scoped.push(Scoped { table: r.qname(), column: m.tenant_id.clone(), view: r.kind != ResourceKind::Table });
        r.operations.create = false;
        r.operations.bulk_create = false;
        // Status and billing are the platform's, not the tenant's: an owner must not un-suspend
        // their organization or extend their own subscription.
        let platform = |c: &str| {
            Some(c) == m.tenant_status.as_deref()
                || Some(c) == m.tenant_expires.as_deref()
                || ["subscription", "plan", "billing", "trial", "quota", "seats"].iter().any(|w| c.contains(w))
        };
        for f in r.fields.iter_mut().filter(|f| platform(&f.column) && f.writable()) {
            f.access = Access::ReadOnly;
            f.required_on_create = false;
            f.why = Some("set by the platform (SQL or a super-admin), not by the tenant".into());
        }
        r.operations.update = r.fields.iter().any(|f| f.writable() && !f.is_key);
        r.note(DEF.id, format!(
            "{}: members see only their own tenant row; new tenants are created in SQL (or by a platform admin), not through this route",
            r.table
        ));
    }
    m.scoped.sort_by(|a, b| a.table.cmp(&b.table));
    for r in cx.resources.iter_mut().filter(|r| m.column_of(&r.qname()).is_some()) {
        r.classify(DataClass::Tenant);
        r.app_settings.insert(m.setting.clone());
    }
    m.same_tenant = same_tenant(cx, &m);
    cx.setting_hints.insert(m.setting.clone(), "it is the tenant setting: make the table tenant-scoped".into());
    cx.permissions.push(Permission { slug: view::CROSS_TENANT_PERMISSION.into(), grant: Grant::Nobody });
    Some(m)
}

/// Single-column foreign keys between two tenant tables (not the tenant table): without a check a
/// row could point at another tenant's row, since foreign keys ignore row-level security.
fn same_tenant(cx: &ModelCx, m: &TenancyModel) -> Vec<SameTenant> {
    let tenant_col = |q: &QualifiedName| -> Option<String> {
        cx.resources
            .iter()
            .find(|r| r.is(q) && r.kind == ResourceKind::Table)
            .and_then(|_| m.column_of(q).map(str::to_string))
            .filter(|_| *q != m.tenant)
    };
    let mut out = Vec::new();
    for r in &cx.resources {
        let Some(own) = tenant_col(&r.qname()) else { continue };
        let Some(table) = cx.table(r) else { continue };
        for fk in table.foreign_keys.iter().filter(|f| f.columns.len() == 1) {
            let Some(theirs) = tenant_col(&fk.references) else { continue };
            if fk.columns[0] == own {
                continue;
            }
            out.push(SameTenant {
                name: fk.name.clone(),
                table: r.qname(),
                column: fk.columns[0].clone(),
                own: own.clone(),
                referenced: fk.references.clone(),
                referenced_column: fk.referenced_columns[0].clone(),
                theirs,
            });
        }
    }
    out
}

impl Resolve for Tenancy {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if let Some(m) = resolve(cx) {
            cx.states.insert(DEF.id, m);
        }
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(t) = m.state::<TenancyModel>() else { return Vec::new() };
        match t.column_of(&r.qname()) {
            Some(c) if r.is(&t.tenant) => vec![format!("tenant table: members see their own row ({c})")],
            Some(c) => vec![format!("tenant column: {c} (setting {})", t.setting)],
            None => Vec::new(),
        }
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates!["templates", "tenancy"; "tenancy.tables.ts.j2", "tenancy.sql.j2", "env.j2", "readme.md.j2", "test-tenancy.ts.j2", "tenancy.test.ts.j2"];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/tenancy/tenant-scope.ts",
    "src/core/tenancy/tenancy.controller.ts",
    "src/core/tenancy/tenancy.module.ts",
    "src/core/tenancy/tenancy.service.ts",
];

#[derive(serde::Serialize)]
struct ReadmeView {
    tenant_table: String,
    member_table: String,
    tenant_setting: String,
    /// Tenant-scoped tables and their tenant column.
    tenant_scoped: Vec<(String, String)>,
}

/// The membership table and the tenant table: writes need an owner or admin of the organization.
fn members_or_tenant(t: &TenancyModel, r: &Resource) -> bool {
    r.is(&t.members) || r.is(&t.tenant)
}

impl Contribute for Tenancy {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: &[] }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let (Some(a), Some(t)) = (m.state::<AuthModel>(), m.state::<TenancyModel>()) else { return Ok(()) };
        out.runtime.extend(RUNTIME);
        out.files.push(FeatureFile {
            path: "src/core/tenancy/tenancy.tables.ts".into(),
            body: Rendered::new("tenancy/tenancy.tables.ts.j2", view::tenancy_view(m, a, t))?,
            ownership: Ownership::Generated,
        });
        #[derive(serde::Serialize)]
        struct TestView<'a> {
            schema: &'a str,
            table: &'a str,
            id: &'a str,
            status: Option<&'a str>,
            active: &'a str,
        }
        let test_view = TestView {
            schema: &t.tenant.schema,
            table: &t.tenant.name,
            id: &t.tenant_id,
            status: t.tenant_status.as_deref(),
            active: "active",
        };
        out.files.push(FeatureFile {
            path: "test/support/tenancy.ts".into(),
            body: Rendered::new("tenancy/test-tenancy.ts.j2", test_view)?,
            ownership: Ownership::Generated,
        });
        // The isolation test: the scoped tables whose rows the generated tests can make.
        let makeable = nest_nestjs::testgen::makeable(m);
        let scoped: Vec<String> = t
            .scoped
            .iter()
            .filter(|s| !s.view)
            .filter_map(|s| m.resource_of(&s.table))
            .map(|r| r.names.file.clone())
            .filter(|name| makeable.contains(name))
            .collect();
        if !scoped.is_empty() {
            out.files.push(nest_nestjs::testgen::list_test_file(
                "test/tenancy.test.ts",
                "tenancy/tenancy.test.ts.j2",
                &scoped,
            )?);
        }
        out.test_setup.push(nest_nestjs::TestSetup {
            order: 60,
            import: "import { enterOrganization } from './tenancy.js';".into(),
            call: "await enterOrganization(h);".into(),
        });
        out.db.push(DbFile {
            name: "04-tenancy.sql".into(),
            body: Rendered::new("tenancy/tenancy.sql.j2", view::tenancy_sql_view(m, a, t))?,
            doc: "row-level security policies, membership bound to identity, same-tenant foreign key checks.".into(),
        });
        out.modules.push(AppModule { class: "TenancyModule".into(), module: "core/tenancy/tenancy.module".into() });
        out.env.push(Rendered::new("tenancy/env.j2", ())?);
        let tenant_scoped = t
            .scoped
            .iter()
            .filter(|s| s.table != t.tenant)
            .map(|s| (s.table.to_string(), s.column.clone()))
            .collect::<Vec<_>>();
        let v = ReadmeView {
            tenant_table: t.tenant.name.clone(),
            member_table: t.members.name.clone(),
            tenant_setting: t.setting.clone(),
            tenant_scoped,
        };
        out.readme.push(Rendered::new("tenancy/readme.md.j2", v)?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(t) = m.state::<TenancyModel>() else { return Ok(()) };
        let decorators = "../../core/tenancy/tenant.decorator.js";
        if let Some(column) = t.column_of(&r.qname()) {
            let Some(f) = r.field(column) else { return Ok(()) };
            out.extensions.push(SpecExtension {
                factory: "tenantScope".into(),
                module: "core/tenancy/tenant-scope".into(),
                arg: format!(
                    "{{ column: {}, type: {}, setting: {} }}",
                    nest_nestjs::quote::string(&f.column),
                    nest_nestjs::quote::string(&f.cast_type),
                    nest_nestjs::quote::string(&t.setting)
                ),
            });
            out.class_decorators.push(Decorator::new("@TenantScoped()", &[("TenantScoped", decorators)]));
            out.class_decorators.push(Decorator::new(ORGANIZATION_HEADER, &[("ApiHeader", "@nestjs/swagger")]));
        }
        Ok(())
    }

    fn route(&self, m: &Model, r: &Resource, route: &Route, out: &mut Vec<Decorator>) {
        let Some(t) = m.state::<TenancyModel>() else { return };
        if members_or_tenant(t, r) && route.action != "read" {
            out.push(Decorator::new(
                "@TenantRoles('owner', 'admin')",
                &[("TenantRoles", "../../core/tenancy/tenant.decorator.js")],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{field, model};

    const SCHEMA: &str = "
        CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL);
        CREATE TABLE orgs (id uuid PRIMARY KEY, name text NOT NULL, status text, plan text);
        CREATE TABLE members (id uuid PRIMARY KEY, org_id uuid NOT NULL REFERENCES orgs(id), email text NOT NULL, role text);
        CREATE TABLE docs (id uuid PRIMARY KEY, org_id uuid NOT NULL REFERENCES orgs(id), slug text NOT NULL UNIQUE);
        CREATE TABLE pages (id uuid PRIMARY KEY, org_id uuid NOT NULL REFERENCES orgs(id), doc_id uuid REFERENCES docs(id));
        CREATE TABLE tags (id uuid PRIMARY KEY, org_id uuid, name text NOT NULL);
        CREATE TABLE audit_logs (id uuid PRIMARY KEY, org_id uuid, table_name text, record_id uuid, operation text, old_values jsonb, new_values jsonb);
        INSERT INTO meta.table_metadata (schema_name, table_name) VALUES ('public', 'docs');
        INSERT INTO meta.enterprise_features (table_metadata_id, enable_tenant_isolation, tenant_column_name)
          SELECT id, true, 'org_id' FROM meta.table_metadata WHERE table_name = 'docs';
    ";

    fn scoped(m: &Model, name: &str) -> Option<String> {
        let t = m.state::<TenancyModel>()?;
        t.column_of(&m.resource(name).unwrap().qname()).map(str::to_string)
    }

    #[test]
    fn tables_with_the_tenant_column_are_tenant_data_unless_excluded() {
        let m = model(SCHEMA, "");
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let t = m.state::<TenancyModel>().expect("tenancy from docs' metadata");
        assert_eq!((t.tenant.name.as_str(), t.members.name.as_str()), ("orgs", "members"));
        assert_eq!(t.setting, "app.current_org_id");
        // pages and tags carry org_id (tags without a foreign key): scoped by default.
        for name in ["docs", "pages", "tags", "members"] {
            assert_eq!(scoped(&m, name).as_deref(), Some("org_id"), "{name} is tenant data");
            assert_eq!(m.resource(name).unwrap().data, DataClass::Tenant);
            assert!(m.resource(name).unwrap().app_settings.contains("app.current_org_id"));
        }
        assert!(matches!(m.resource("tags").unwrap().features["tenant-scoped"].source, Source::Inferred(_)));
        // The tenant column is the server's; the tenant table is scoped by its key and its
        // billing columns are the platform's.
        assert!(!field(&m, "docs", "org_id").writable() && field(&m, "docs", "org_id").ops.is_empty());
        assert_eq!(scoped(&m, "orgs").as_deref(), Some("id"));
        assert!(!field(&m, "orgs", "plan").writable() && !field(&m, "orgs", "status").writable());
        assert!(!m.resource("orgs").unwrap().operations.create);
        // Never: the users table, the audit trail.
        assert!(scoped(&m, "users").is_none());
        assert!(scoped(&m, "audit_logs").is_none());
        assert!(m.resource("audit_logs").unwrap().notes.iter().any(|n| n.by == DEF.id));
        // An explicit "no" wins, and says so.
        let m = model(SCHEMA, "[tables.tags]\nfeatures = { tenant-scoped = false }\n");
        assert!(scoped(&m, "tags").is_none());
        assert!(m.resource("tags").unwrap().notes.iter().any(|n| n.message.contains("tenant scoping is off")));
    }

    #[test]
    fn cross_tenant_keys_and_references_are_caught() {
        let m = model(SCHEMA, "");
        let t = m.state::<TenancyModel>().unwrap();
        let fk: Vec<(String, String, String)> =
            t.same_tenant.iter().map(|s| (s.table.name.clone(), s.column.clone(), s.referenced.name.clone())).collect();
        assert_eq!(fk, [("pages".to_string(), "doc_id".to_string(), "docs".to_string())]);
        let docs = m.resource("docs").unwrap();
        assert!(
            docs.notes
                .iter()
                .any(|n| n.message.contains("UNIQUE (slug) spans tenants")
                    && n.message.contains("UNIQUE (org_id, slug)")),
            "{:?}",
            docs.notes
        );
        assert!(m.permissions.iter().any(|p| p.slug == "tenants:cross" && p.grant == Grant::Nobody));
    }

    #[test]
    fn without_users_or_a_tenant_key_tenancy_is_refused_where_the_table_is() {
        let sql = SCHEMA
            .replace("CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL);", "");
        let m = model(&sql, "");
        let d = m.diagnostics();
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("tenant scoping (docs) needs signed-in users"), "{}", d[0].message);
        assert!(d[0].help.as_deref().unwrap_or_default().contains("--features.tenant-scoped=false"));
        let m = model(SCHEMA, "[tables.users]\nfeatures = { tenant-scoped = true }\n");
        let d = m.diagnostics();
        assert!(d.iter().any(|d| d.message == "users: tenant-scoped but has no column organization_id"), "{d:?}");
        assert!(d.iter().all(|d| d.file == "t.sql" && d.line > 0), "located at the table's definition: {d:?}");
    }
}
