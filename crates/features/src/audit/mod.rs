//! Audit trail (seed scenario 3): every change to an audited table is recorded in `audit_logs`
//! (and per field in `field_changes`) in the change's own transaction, by the app (`application`
//! mode) or by a trigger (`trigger` mode), through one SECURITY DEFINER writer; the trail is
//! read-only through the API and to the app's role; `GET /<resource>/<key>/history`; retention
//! and monthly partitions kept by a maintenance job.
//!
//! State: [`AuditModel`]. Config: `[audit] mode`, `[tables.t] audit_mode`.

mod detect;
mod view;

pub use detect::{AuditMode, AuditModel};

use crate::auth::AuthModel;
use nest_catalog::{Catalog, QualifiedName};
use nest_model::settings::{ConfigKey, KeyScope};
use nest_model::{
    DataClass, FeatureDef, FeatureError, Grant, MetaSwitch, Model, ModelCx, ModelError, Operations, Permission,
    Resolve, Resource, ResourceKind, Setting, Source,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, Decorator, ExtraController, FeatureFile, Import, Ownership,
    RenderError, Rendered, ResourceContributions, Route, SpecExtension,
};
use serde::Serialize;

pub struct Audit;

pub static DEF: FeatureDef = FeatureDef {
    id: "audit",
    about: "every change is recorded in audit_logs",
    meta: MetaSwitch::Either("enable_audit"),
    implemented: true,
};

fn mode_value(v: &toml::Value) -> Result<(), String> {
    v.as_str().and_then(AuditMode::parse).map(|_| ()).ok_or_else(|| "write \"application\" or \"trigger\"".into())
}

static KEYS: &[ConfigKey] = &[
    // `[audit] mode`: who writes audit rows, for every audited table.
    ConfigKey { scope: KeyScope::Section("audit"), name: "mode", check: mode_value },
    // `[tables.t] audit_mode`: the same for one table.
    ConfigKey { scope: KeyScope::Table, name: "audit_mode", check: mode_value },
];

#[derive(Debug, thiserror::Error)]
#[error(
    "audit ({0}) needs an audit log table (columns table_name, record_id, operation, old_values/new_values); none is in the input"
)]
struct NoLogTable(String);

impl FeatureError for NoLogTable {
    fn help(&self) -> String {
        "add seed scenario 3's audit_logs table to the input, or turn auditing off with --features.audit=false".into()
    }
}

/// The tables that hold an audit trail in this catalog (log and field changes), whether or not
/// anything is audited: never a user's or a tenant's data, never written through the API.
fn store_tables(catalog: &Catalog) -> Vec<QualifiedName> {
    detect::find_log_table(catalog).map(|l| detect::detect(catalog, l, &[], None).store()).unwrap_or_default()
}

/// Who writes a table's audit rows: config table > config `[audit]` > metadata > application.
fn mode_of(cx: &ModelCx, r: &Resource) -> Setting<AuditMode> {
    let table = cx.config.table(&r.schema, &r.table).and_then(|t| t.str("audit_mode"));
    let project = cx.config.section_value("audit", "mode").and_then(toml::Value::as_str);
    let meta = cx.catalog.metadata.features(&r.schema, &r.table).and_then(|f| f.str("audit_mode"));
    match (table.or(project).and_then(AuditMode::parse), meta.and_then(AuditMode::parse)) {
        (Some(m), _) => Setting::new(m, Source::Config),
        (None, Some(m)) => Setting::new(m, Source::Metadata("enterprise_features.audit_mode".into())),
        (None, None) => Setting::new(AuditMode::Application, Source::Default),
    }
}

/// Audited tables: find the audit log table and its companions; the log and field-change tables
/// are the trail itself, served read-only whatever the flags say.
fn resolve(cx: &mut ModelCx) -> Option<AuditModel> {
    let catalog = cx.catalog;
    let logs = detect::find_log_table(catalog);
    let store = store_tables(catalog);
    // A table the schema already audits with its own trigger (the seed's audit_users): the
    // generated audit takes over, whether or not anything else asked for auditing. The
    // schema's trigger would store secrets (password hashes) in the clear and write past the
    // app role's rights.
    if logs.is_some() {
        for r in cx.resources.iter_mut().filter(|r| !store.iter().any(|s| r.is(s)) && !r.key.is_empty()) {
            let own_trigger = catalog.table(&r.schema, &r.table).and_then(|t| {
                t.triggers
                    .iter()
                    .find(|g| g.function.name.to_ascii_lowercase().contains("audit") && g.function.schema != "nestgen")
            });
            if let Some(g) = own_trigger
                && !r.features.contains_key(DEF.id)
            {
                let why = format!("the schema's trigger {} audits it", g.name);
                r.features.insert(DEF.id.into(), Setting::new(true, Source::Inferred(why)));
            }
        }
    }
    let wanted = cx.resources.iter().any(|r| r.feature(DEF.id));
    // The trail is read-only through the API, even when the database's own triggers keep it.
    for r in cx.resources.iter_mut().filter(|r| store.iter().any(|s| r.is(s))) {
        r.classify(DataClass::Trail);
        r.operations = Operations { list: true, get: true, ..Operations::default() };
        let note = if wanted {
            format!("{}: the audit trail is read-only through the API (rows are written by the audit)", r.table)
        } else {
            format!("{}: an audit trail is read-only through the API", r.table)
        };
        r.note(DEF.id, note);
    }
    if !wanted {
        return None;
    }
    let Some(logs) = logs else {
        let tables = cx.resources.iter().filter(|r| r.feature(DEF.id)).map(|r| r.table.as_str()).collect::<Vec<_>>();
        cx.error(ModelError::feature(DEF.id, None, NoLogTable(tables.join(", "))));
        return None;
    };
    let auth = cx.state::<AuthModel>().cloned();
    let users = auth.as_ref().and_then(|a| catalog.table(&a.schema, &a.table));
    let retention = detect::detect(catalog, logs, &[], users).retention.map(|p| p.table);
    let mut audited = Vec::new();
    for i in 0..cx.resources.len() {
        let mode = mode_of(cx, &cx.resources[i]);
        let r = &mut cx.resources[i];
        if store.iter().any(|s| r.is(s)) {
            continue;
        }
        if retention.as_ref().is_some_and(|p| r.is(p)) {
            r.classify(DataClass::TrailPolicy);
            if !r.feature(DEF.id) && !r.key.is_empty() {
                // Who shortened a retention policy is part of the trail.
                let why = "retention policies decide what the trail keeps";
                r.features.insert(DEF.id.into(), Setting::new(true, Source::Inferred(why.into())));
            }
        }
        if !r.feature(DEF.id) {
            continue;
        }
        if r.key.is_empty() || matches!(r.kind, ResourceKind::View | ResourceKind::MaterializedView) {
            r.note(DEF.id, format!("{}: not audited: rows without a primary key cannot be traced", r.table));
            continue;
        }
        audited.push((i, mode.value));
    }
    let refs: Vec<(&Resource, AuditMode)> = audited.iter().map(|&(i, m)| (&cx.resources[i], m)).collect();
    let mut model = detect::detect(catalog, logs, &refs, users);
    // What every sign-in changes (failure count, lock, last sign-in) is bookkeeping, not a
    // change worth a trail row.
    if let Some(a) = &auth {
        for t in model.audited.iter_mut().filter(|t| t.name() == a.users()) {
            for c in &a.bookkeeping {
                if !t.ignored.contains(c) {
                    t.ignored.push(c.clone());
                }
            }
        }
    }
    // Reading the trail (and so every audited row's history), even when the log table has no
    // routes of its own here.
    cx.permissions.push(Permission { slug: read_permission(&cx.resources, &model), grant: Grant::Admin });
    Some(model)
}

/// The permission that reads the audit trail: `<audit log resource>:read`.
fn read_permission(resources: &[Resource], a: &AuditModel) -> String {
    let name = resources.iter().find(|r| r.is(&a.logs)).map(|r| r.names.permission.clone());
    format!("{}:read", name.unwrap_or_else(|| a.logs.name.clone()))
}

impl Resolve for Audit {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn config_keys(&self) -> &'static [ConfigKey] {
        KEYS
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if let Some(m) = resolve(cx) {
            cx.states.insert(DEF.id, m);
        }
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(t) = m.state::<AuditModel>().and_then(|a| a.audited(&r.qname())) else { return Vec::new() };
        let mut line = format!("audited: {} mode", t.mode.as_str());
        if !t.sensitive.is_empty() {
            line.push_str(&format!("; masked: {}", t.sensitive.join(", ")));
        }
        vec![line]
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "audit";
    "audit.tables.ts.j2",
    "audit.sql.j2",
    "app-role.sql.j2",
    "history.controller.ts.j2",
    "env.j2",
    "readme.md.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/audit/audit-trail.ts",
    "src/core/audit/audit.dto.ts",
    "src/core/audit/audit.module.ts",
    "src/core/audit/audit.service.ts",
];

#[derive(Serialize)]
struct ReadmeView {
    /// Audited tables and who writes their audit rows.
    audited: Vec<(String, String)>,
    audit_log_table: String,
    audit_permission: String,
    audit_partitioned: bool,
    audit_retention_table: String,
}

#[derive(Serialize)]
struct AppRoleView {
    read_only: String,
    audit_writer: bool,
    partitions_of: Option<String>,
}

/// db/90-app-role.sql: read-only access to the audit trail; the audit writer only where the app
/// writes audit rows itself (application mode), since whoever can call it can add rows.
fn app_role_view(a: &AuditModel) -> AppRoleView {
    let qt = |t: &QualifiedName| nest_catalog::quote::qualified(&t.schema, &t.name);
    let mut read_only: Vec<String> = a.store().iter().map(qt).collect();
    read_only.push("nestgen.audit_tables".into());
    AppRoleView {
        read_only: read_only.iter().map(|t| nest_catalog::quote::string(t)).collect::<Vec<_>>().join(", "),
        audit_writer: a.audited.iter().any(|t| t.mode == AuditMode::Application),
        partitions_of: a.partition_column.as_ref().map(|_| nest_catalog::quote::string(&qt(&a.logs))),
    }
}

#[derive(Serialize)]
struct HistoryView {
    permission: String,
}

impl Contribute for Audit {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: &[] }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(a) = m.state::<AuditModel>() else { return Ok(()) };
        out.runtime.extend(RUNTIME);
        out.files.push(FeatureFile {
            path: "src/core/audit/audit.tables.ts".into(),
            body: Rendered::new("audit/audit.tables.ts.j2", view::audit_view(a))?,
            ownership: Ownership::Generated,
        });
        out.db.push(DbFile {
            name: "05-audit.sql".into(),
            body: Rendered::new("audit/audit.sql.j2", view::audit_sql_view(a))?,
            doc: "the audit writer, trigger, retention and partition functions.".into(),
        });
        out.app_role.push(Rendered::new("audit/app-role.sql.j2", app_role_view(a))?);
        out.modules.push(AppModule { class: "AuditModule".into(), module: "core/audit/audit.module".into() });
        out.env.push(Rendered::new("audit/env.j2", ())?);
        let v = ReadmeView {
            audited: a
                .audited
                .iter()
                .map(|t| (format!("{}.{}", t.schema, t.table), t.mode.as_str().to_string()))
                .collect(),
            audit_log_table: a.logs.name.clone(),
            audit_permission: read_permission(&m.resources, a),
            audit_partitioned: a.partition_column.is_some(),
            audit_retention_table: a.retention.as_ref().map(|r| r.table.name.clone()).unwrap_or_default(),
        };
        out.readme.push(Rendered::new("audit/readme.md.j2", v)?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(a) = m.state::<AuditModel>() else { return Ok(()) };
        let Some(t) = a.audited(&r.qname()) else { return Ok(()) };
        let ts = nest_nestjs::quote::string;
        out.extensions.push(SpecExtension {
            factory: "auditTrail".into(),
            module: "core/audit/audit-trail".into(),
            arg: format!("{{ schema: {}, table: {}, mode: '{}' }}", ts(&t.schema), ts(&t.table), t.mode.as_str()),
        });
        out.class_decorators.push(Decorator::new(
            "@ApiHeader({ name: 'X-Audit-Reason', required: false, description: 'Why the change is made: recorded with it in the audit trail' })",
            &[("ApiHeader", "@nestjs/swagger")],
        ));
        let n = &r.names;
        let permission = read_permission(&m.resources, a);
        let swagger = "@nestjs/swagger";
        let imports = [
            ("Controller", "@nestjs/common"),
            ("Get", "@nestjs/common"),
            ("Param", "@nestjs/common"),
            ("Query", "@nestjs/common"),
            ("ApiBadRequestResponse", swagger),
            ("ApiNotFoundResponse", swagger),
            ("ApiOkResponse", swagger),
            ("ApiOperation", swagger),
            ("ApiParam", swagger),
            ("ApiQuery", swagger),
            ("ApiTags", swagger),
            ("AuditHistoryResponseDto", "../../core/audit/audit.dto.js"),
            ("AuditService", "../../core/audit/audit.service.js"),
            ("ErrorResponseDto", "../../core/crud/dto.js"),
            ("KeyPipe", "../../core/crud/key.pipe.js"),
        ]
        .iter()
        .map(|(name, from)| Import::new(name, from))
        .chain([
            Import::new(&n.constant, &format!("./{}.resource.js", n.file)),
            Import::new(&format!("{}Repository", n.plural_class), &format!("./{}.repository.js", n.file)),
            Import::new(&format!("{}Service", n.plural_class), &format!("./{}.service.js", n.file)),
        ])
        .chain((!r.swagger.value).then(|| Import::new("ApiExcludeController", swagger)))
        .collect();
        out.controllers.push(ExtraController {
            class: format!("{}HistoryController", n.plural_class),
            file: format!("{}.history.controller.ts", n.file),
            body: Rendered::new("audit/history.controller.ts.j2", HistoryView { permission: permission.clone() })?,
            routes: vec![Route { id: "history".into(), action: "read".into(), permission }],
            imports,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed;

    const FILES: &[&str] = &["02-rbac.sql", "03-audit.sql", "03b-audit-trigger.sql"];

    #[test]
    fn the_trail_is_found_by_shape_and_read_only() {
        let m = seed(FILES, "[features]\nrbac = true\n[tables.users]\nfeatures = { audit = true }\n");
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let a = m.state::<AuditModel>().expect("audited");
        assert_eq!(a.logs.name, "audit_logs");
        for store in a.store() {
            let r = m.resource_of(&store).unwrap();
            assert_eq!(r.data, DataClass::Trail);
            let o = r.operations;
            assert!(o.list && o.get && !o.create && !o.update && !o.delete, "{}", r.table);
        }
        let users = a.audited(&m.resource("users").unwrap().qname()).expect("users audited");
        assert_eq!(users.mode, AuditMode::Application);
        assert!(users.sensitive.contains(&"password_hash".to_string()), "{:?}", users.sensitive);
        // Sign-in bookkeeping is not a change worth a trail row.
        assert!(users.ignored.contains(&"last_login_at".to_string()), "{:?}", users.ignored);
        assert!(users.column_types.iter().any(|(c, t)| c == "email" && t.starts_with("character varying")));
        // Retention policies decide what the trail keeps: audited, and no default role's.
        let retention = a.retention.as_ref().expect("retention table").table.clone();
        assert_eq!(m.resource_of(&retention).unwrap().data, DataClass::TrailPolicy);
        assert!(a.audited(&retention).is_some());
        assert!(m.permissions.iter().any(|p| p.slug == "audit_logs:read"));
    }

    #[test]
    fn the_mode_comes_from_the_table_config_then_the_project_config() {
        let m = seed(FILES, "[audit]\nmode = \"trigger\"\n[tables.users]\nfeatures = { audit = true }\n");
        let a = m.state::<AuditModel>().unwrap();
        assert_eq!(a.audited(&m.resource("users").unwrap().qname()).unwrap().mode, AuditMode::Trigger);
        let m = seed(
            FILES,
            "[audit]\nmode = \"trigger\"\n[tables.users]\nfeatures = { audit = true }\naudit_mode = \"application\"\n",
        );
        let a = m.state::<AuditModel>().unwrap();
        assert_eq!(a.audited(&m.resource("users").unwrap().qname()).unwrap().mode, AuditMode::Application);
    }

    #[test]
    fn auditing_without_a_log_table_is_refused() {
        let m = seed(&["02-rbac.sql"], "[tables.users]\nfeatures = { audit = true }\n");
        let d = m.diagnostics();
        assert!(d.iter().any(|d| d.message.starts_with("audit (users) needs an audit log table")), "{d:?}");
        assert!(m.state::<AuditModel>().is_none());
    }
}
