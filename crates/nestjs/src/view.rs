//! View models: what core templates see. Everything is precomputed text, so templates only place
//! it; features' parts arrive as contributions and are placed without being named.

use crate::contribute::{Contributions, Decorator, ExtraController, Package, ResourceContributions, Route};
use crate::dto::{self, DtoKind, Imports};
use crate::imports::{ImportLine, ImportSet};
use crate::layout::{self, Doc};
use crate::quote as ts;
use nest_catalog::quote as sql;
use nest_model::{Model, Resource, ResourceKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Decorators of each route of a resource, by route id.
pub type Decorators = BTreeMap<String, Vec<Decorator>>;

/// The routes of a resource's own controller, with the permission each needs under RBAC.
pub fn core_routes(r: &Resource) -> Vec<Route> {
    let o = &r.operations;
    [
        (o.list, "list", "read"),
        (r.aggregates(), "aggregate", "read"),
        (r.exports(), "export", "read"),
        (o.get, "get", "read"),
        (o.create, "create", "create"),
        (o.bulk_create, "bulk", "bulk-create"),
        (o.update, "update", "update"),
        (o.delete, "delete", "delete"),
        (o.restore, "restore", "restore"),
    ]
    .into_iter()
    .filter(|(on, _, _)| *on)
    .map(|(_, id, action)| Route {
        id: id.into(),
        action: action.into(),
        permission: format!("{}:{action}", r.names.permission),
    })
    .collect()
}

#[derive(Serialize)]
pub struct KeyView {
    pub property: String,
    pub column: String,
    pub swagger_type: String,
    pub swagger_format: Option<String>,
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
    pub aggregate: bool,
    pub export: bool,
}

/// One entry of a spec's `extensions`: `factory(...)`, imported from `from` (the call itself is
/// in `ResourceView::extensions_block`).
#[derive(Serialize)]
pub struct ExtensionView {
    pub factory: String,
    pub from: String,
}

/// A controller's imports and decorators (class and per route), as lines.
#[derive(Serialize)]
pub struct ControllerView {
    pub imports: Vec<ImportLine>,
    pub class_decorators: Vec<String>,
    pub routes: BTreeMap<String, Vec<String>>,
}

impl ControllerView {
    fn new(mut imports: ImportSet, rc: &ResourceContributions, decorators: &Decorators, routes: &[&str]) -> Self {
        imports.extend(rc.class_decorators.iter().flat_map(|d| d.imports.iter()));
        let mut lines = BTreeMap::new();
        for id in routes {
            let list = decorators.get(*id).map(Vec::as_slice).unwrap_or_default();
            imports.extend(list.iter().flat_map(|d| d.imports.iter()));
            lines.insert(id.to_string(), list.iter().map(|d| d.text.clone()).collect());
        }
        // Tables' controllers live in src/modules/<table>/.
        imports.defer_docs("../../core/crud/deferred-docs.js");
        ControllerView {
            imports: imports.lines(),
            class_decorators: rc.class_decorators.iter().map(|d| d.text.clone()).collect(),
            routes: lines,
        }
    }
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
    /// `human` with its article: "an item", "a user".
    pub a_human: String,
    pub description: String,
    pub table_literal: String,
    pub qualified: String,
    pub is_view: bool,
    pub versioned: bool,
    pub swagger: bool,
    pub key: Vec<KeyView>,
    /// `@Param('id', new KeyPipe(SPEC, 'id')) id: string`, one per key field.
    pub key_params: Vec<String>,
    pub key_path: String,
    pub key_object: String,
    pub ops: OpsView,
    pub soft_delete: bool,
    /// `fields: [...],` laid out as Prettier does, from column 2.
    pub fields_block: String,
    /// `extensions: [...],` laid out as Prettier does, from column 2 (empty when none).
    pub extensions_block: String,
    /// `relations: [...]` (foreign keys to and from other resources), or empty.
    pub relations_block: String,
    /// The names `select=` embeds.
    pub embeds: Vec<String>,
    /// `[{ name, type, format, column }, ...]`, the controller's `KEY` constant.
    pub key_array: String,
    pub key_list: String,
    pub tie_breaker: String,
    pub default_sort: String,
    pub soft_delete_column: Option<String>,
    pub updated_at_column: Option<String>,
    pub created_at_column: Option<String>,
    pub default_limit: u32,
    pub max_limit: u32,
    pub count_mode: String,
    pub require_if_match: bool,
    /// `select=` is off (the `select` switch).
    pub no_select: bool,
    /// `search: { ... }` of the spec (`q=`), or empty.
    pub search_block: String,
    pub read_imports: Vec<ImportLine>,
    pub read_props: Vec<dto::Prop>,
    pub create_imports: Vec<ImportLine>,
    pub create_props: Vec<dto::Prop>,
    pub update_imports: Vec<ImportLine>,
    pub update_props: Vec<dto::Prop>,
    pub notes: Vec<String>,
    /// The spec's extensions (row scopes, change recording), in the order they apply.
    pub extensions: Vec<ExtensionView>,
    /// The resource's own controller.
    pub controller: ControllerView,
    /// Controllers features add (class and file stem, for the module).
    pub extra_controllers: Vec<ExtraRef>,
}

#[derive(Serialize)]
pub struct ExtraRef {
    pub class: String,
    pub module: String,
}

fn spec_field(f: &nest_model::Field) -> Doc {
    let strings = |items: Vec<String>| Doc::array(items.into_iter().map(Doc::Text).collect(), false);
    let mut props = vec![
        Doc::prop("column", Doc::text(ts::string(&f.column))),
        Doc::prop("property", Doc::text(ts::string(&f.property))),
        Doc::prop("filterKey", Doc::text(ts::string(&f.filter_key))),
        Doc::prop("kind", Doc::text(format!("'{}'", f.kind.runtime_name()))),
        Doc::prop("array", Doc::text(f.array.to_string())),
        Doc::prop("nullable", Doc::text(f.nullable.to_string())),
        Doc::prop("sqlType", Doc::text(ts::string(&f.cast_type))),
        Doc::prop("ops", strings(f.ops.iter().map(|o| format!("'{o}'")).collect())),
        Doc::prop("sortable", Doc::text(f.sortable.to_string())),
        Doc::prop("readable", Doc::text(f.readable().to_string())),
        Doc::prop("writable", Doc::text(f.writable().to_string())),
    ];
    if let Some(c) = &f.read_cast {
        props.push(Doc::prop("readCast", Doc::text(ts::string(c))));
    }
    if !f.values.is_empty() {
        props.push(Doc::prop("values", strings(f.values.iter().map(|v| ts::string(v)).collect())));
    }
    if let Some(sv) = f.server {
        props.push(Doc::prop("server", Doc::text(format!("'{}'", sv.runtime_name()))));
    }
    if f.privileged {
        props.push(Doc::prop("privileged", Doc::text("true")));
    }
    Doc::object(props, false)
}

/// `{ a: 1, b: [x, y] }` (an object literal a feature wrote on one line) as a layout doc of its
/// properties, or the text as it is when it is not one.
fn object_literal(text: &str) -> Doc {
    let t = text.trim();
    let Some(body) = t.strip_prefix('{').and_then(|b| b.strip_suffix('}')) else {
        return Doc::text(t);
    };
    let mut props = Vec::new();
    let (mut depth, mut start, mut quote) = (0i32, 0usize, None::<char>);
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                props.push(body[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    props.push(body[start..].trim().to_string());
    props.retain(|p| !p.is_empty());
    // A value that is itself an object literal is laid out the same way.
    let prop = |p: String| match p.split_once(": ") {
        Some((k, v)) if v.starts_with('{') && v.ends_with('}') && !k.contains(['{', '\'', '"']) => {
            Doc::prop(k, object_literal(v))
        }
        _ => Doc::Text(p),
    };
    Doc::object(props.into_iter().map(prop).collect(), false)
}

/// Names the core controller's own code uses.
fn core_controller_imports(r: &Resource) -> ImportSet {
    let o = &r.operations;
    let keyed = o.get || o.update || o.delete || o.restore;
    let mut s = ImportSet::default();
    let common = "@nestjs/common";
    let swagger = "@nestjs/swagger";
    let docs = "../../core/crud/openapi.js";
    for (on, name, from) in [
        (true, "Controller", common),
        (true, "Get", common),
        (true, "Query", common),
        (keyed, "Param", common),
        (o.create || o.update, "Body", common),
        (o.create || o.bulk_create || o.restore, "Post", common),
        (o.update, "Patch", common),
        (o.delete, "Delete", common),
        (o.create || o.delete || o.restore, "HttpCode", common),
        (true, "ApiTags", swagger),
        (!r.swagger.value, "ApiExcludeController", swagger),
        (o.update || o.delete || o.restore, "Headers", common),
        (o.update || o.delete || o.restore, "withPrecondition", "../../core/http/precondition.js"),
        (o.bulk_create, "BulkPipe", "../../core/crud/bulk.pipe.js"),
        (!r.key.is_empty(), "KeyPipe", "../../core/crud/key.pipe.js"),
        (keyed, "KeyParam", docs),
        (true, "ListDocs", docs),
        (o.bulk_create, "BulkCreateDocs", docs),
        (o.get, "GetDocs", docs),
        (o.create, "CreateDocs", docs),
        (o.update, "UpdateDocs", docs),
        (o.delete, "DeleteDocs", docs),
        (o.restore, "RestoreDocs", docs),
        (r.aggregates(), "AggregateDocs", docs),
        (r.exports(), "ExportDocs", docs),
        (r.exports(), "StreamableFile", common),
        (r.exports(), "Header", common),
        (r.aggregates(), "AggregateResponseDto", "../../core/crud/dto.js"),
    ] {
        if on {
            s.add(name, from);
        }
    }
    let (class, dto) = (&r.names.class, &r.names.singular_file);
    if o.create || o.bulk_create {
        s.add(&format!("Create{class}Dto"), &format!("./dto/create-{dto}.dto.js"));
    }
    if o.update {
        s.add(&format!("Update{class}Dto"), &format!("./dto/update-{dto}.dto.js"));
    }
    if o.bulk_create {
        s.add(&format!("{class}BulkResponseDto"), &format!("./dto/{dto}.dto.js"));
    }
    s.add(&format!("{class}ListResponseDto"), &format!("./dto/{dto}.dto.js"));
    if o.get || o.create || o.update || o.restore {
        s.add(&format!("{class}ResponseDto"), &format!("./dto/{dto}.dto.js"));
    }
    s.add(&r.names.constant, &format!("./{}.resource.js", r.names.file));
    s.add(&format!("{}Service", r.names.plural_class), &format!("./{}.service.js", r.names.file));
    s
}

/// The view of an extra controller: its imports (its own and its decorators') and decorators.
pub fn extra_controller_view(
    rc: &ResourceContributions,
    decorators: &Decorators,
    c: &ExtraController,
) -> ControllerView {
    let mut imports = ImportSet::default();
    imports.extend(&c.imports);
    let routes: Vec<&str> = c.routes.iter().map(|r| r.id.as_str()).collect();
    ControllerView::new(imports, rc, decorators, &routes)
}

pub fn resource_view(
    r: &Resource,
    rels: &[crate::relations::Relation],
    rc: &ResourceContributions,
    decorators: &Decorators,
) -> ResourceView {
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
            // Path parameters are text: a key that is an object (json) is one too.
            let (t, fmt) = match dto::swagger_type(f) {
                ("Object" | "Boolean", _) => ("String", None),
                other => other,
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
    let own_routes: Vec<String> = core_routes(r).into_iter().map(|x| x.id).collect();
    let own_routes: Vec<&str> = own_routes.iter().map(String::as_str).collect();
    let key_params = key
        .iter()
        .map(|k| format!("@Param('{0}', new KeyPipe({1}, '{0}')) {0}: string", k.property, r.names.constant))
        .collect();
    let key_array = {
        let objects = key
            .iter()
            .map(|k| {
                let mut props = vec![
                    Doc::prop("name", Doc::text(ts::string(&k.property))),
                    Doc::prop("type", Doc::text(k.swagger_type.clone())),
                ];
                if let Some(f) = &k.swagger_format {
                    props.push(Doc::prop("format", Doc::text(ts::string(f))));
                }
                props.push(Doc::prop("column", Doc::text(ts::string(&k.column))));
                Doc::object(props, false)
            })
            .collect();
        let prefix = "const KEY: KeyParam[] = ";
        format!("{prefix}{}", layout::print(&Doc::array(objects, true), 0, prefix.len(), ";"))
    };
    ResourceView {
        class: r.names.class.clone(),
        plural_class: r.names.plural_class.clone(),
        file: r.names.file.clone(),
        singular_file: r.names.singular_file.clone(),
        route: r.names.route.clone(),
        constant: r.names.constant.clone(),
        human: r.names.human.clone(),
        a_human: with_article(&r.names.human),
        description: r.description.clone().unwrap_or_default(),
        table_literal: ts::string(&format!("{}.{}", sql::ident_always(&r.schema), sql::ident_always(&r.table))),
        qualified: format!("{}.{}", r.schema, r.table),
        is_view: r.kind != ResourceKind::Table,
        versioned: r.versioned.value,
        swagger: r.swagger.value,
        key_path,
        key_object,
        key_list: format!(
            "[{}]",
            r.key_fields().iter().map(|f| ts::string(&f.property)).collect::<Vec<_>>().join(", ")
        ),
        key,
        ops: OpsView {
            list: r.operations.list,
            get: r.operations.get,
            create: r.operations.create,
            bulk: r.operations.bulk_create,
            update: r.operations.update,
            delete: r.operations.delete,
            restore: r.operations.restore,
            aggregate: r.aggregates(),
            export: r.exports(),
        },
        soft_delete: r.soft_delete.is_some(),
        fields_block: layout::print(
            &Doc::prop("fields", Doc::array(r.fields.iter().map(spec_field).collect(), true)),
            2,
            2,
            ",",
        ),
        tie_breaker: r.tie_breaker.as_str().into(),
        default_sort: format!("[{}]", r.default_sort.iter().map(|s| ts::string(s)).collect::<Vec<_>>().join(", ")),
        soft_delete_column: r.soft_delete.map(|i| ts::string(&r.fields[i].column)),
        updated_at_column: r.updated_at.map(|i| ts::string(&r.fields[i].column)),
        created_at_column: r.created_at.map(|i| ts::string(&r.fields[i].column)),
        default_limit: r.default_limit.value,
        max_limit: r.max_limit.value,
        count_mode: r.count_mode.value.clone(),
        require_if_match: r.require_if_match,
        no_select: !r.selectable(),
        search_block: search_block(r),
        read_imports: ri.lines(core),
        read_props,
        create_imports: ci.lines(core),
        create_props,
        update_imports: ui.lines(core),
        update_props,
        notes: r.notes.iter().map(|n| n.message.clone()).collect(),
        relations_block: crate::relations::relations_block(rels),
        embeds: rels.iter().map(|x| x.name.clone()).collect(),
        extensions_block: if rc.extensions.is_empty() {
            String::new()
        } else {
            let calls =
                rc.extensions.iter().map(|e| Doc::call(e.factory.clone(), vec![object_literal(&e.arg)])).collect();
            layout::print(&Doc::prop("extensions", Doc::array(calls, false)), 2, 2, ",")
        },
        key_array,
        key_params,
        extensions: rc
            .extensions
            .iter()
            .map(|e| ExtensionView { factory: e.factory.clone(), from: format!("../../{}.js", e.module) })
            .collect(),
        controller: ControllerView::new(core_controller_imports(r), rc, decorators, &own_routes),
        extra_controllers: rc
            .controllers
            .iter()
            .map(|c| ExtraRef { class: c.class.clone(), module: format!("./{}", c.file.trim_end_matches(".ts")) })
            .collect(),
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

/// Feature sections, rendered.
pub struct Rendered {
    pub env: Vec<String>,
    pub readme: Vec<String>,
    /// compose.yaml services features add.
    pub compose: Vec<String>,
}

#[derive(Serialize)]
pub struct ProjectView {
    pub name: String,
    /// `schema = ...` of nest-generator.toml (a TOML value), when the input is files.
    pub schema_setting: Option<String>,
    /// The `--config` file's settings, kept in a new project's nest-generator.toml.
    pub kept_settings: Option<String>,
    /// They have their own `[project]` table.
    pub kept_project: bool,
    /// Database name the README's setup block creates (snake_case of the project name).
    pub db_name: String,
    pub title: String,
    pub title_literal: String,
    /// Import lines of app.module.ts.
    pub imports: Vec<ImportLine>,
    /// Features' modules, by class name.
    pub feature_modules: Vec<String>,
    pub modules: Vec<ModuleRef>,
    /// The resources' module classes app.module.ts imports, in `modules` order (none when lazy).
    pub module_classes: Vec<String>,
    /// Tables' modules are loaded on first request: `LAZY_MODULES` entries (TypeScript, laid out
    /// as Prettier would) and the resources' files, imported at boot for other tables' embeds.
    pub lazy: bool,
    pub lazy_entries: Vec<String>,
    pub resource_files: Vec<String>,
    pub dependencies: Vec<PackageView>,
    pub dev_dependencies: Vec<PackageView>,
    pub routes: Vec<RouteDoc>,
    pub skipped: Vec<(String, String)>,
    /// Features' blocks of `.env.example`, rendered.
    pub env_sections: Vec<String>,
    /// Features' README sections, rendered.
    pub readme_sections: Vec<String>,
    /// Lines of the `.env` the README's setup writes, besides DATABASE_URL.
    pub setup_env: Vec<String>,
    /// DocumentBuilder calls features add.
    pub openapi_calls: Vec<String>,
    /// Features' db files and what they hold.
    pub db_docs: Vec<(String, String)>,
    /// compose.yaml: features' services (YAML), the app's extra environment and volumes.
    pub compose_services: Vec<String>,
    pub compose_env: Vec<String>,
    pub compose_volumes: Vec<(String, String)>,
}

/// One `LAZY_MODULES` entry, laid out as Prettier lays it out (printWidth 140, two-space indent):
/// on one line when it fits, else one property per line, the import after `=>` when too long.
fn lazy_entry(path: &str, file: &str) -> String {
    let path = ts::string(path);
    let import = format!("import({})", ts::string(&format!("./modules/{file}/{file}.module.js")));
    let line = format!("  {{ path: {path}, load: () => {import} }},");
    if line.chars().count() <= layout::WIDTH {
        return line;
    }
    let load_line = format!("    load: () => {import},");
    let load_line = if load_line.chars().count() <= layout::WIDTH {
        load_line
    } else {
        format!("    load: () =>\n      {import},")
    };
    format!("  {{\n    path: {path},\n{load_line}\n  }},")
}

impl ProjectView {
    pub fn new(
        m: &Model,
        c: &Contributions,
        packages: &[Package],
        rendered: Rendered,
        schema_setting: Option<String>,
        kept_settings: Option<(String, bool)>,
    ) -> Self {
        let mut modules: Vec<ModuleRef> = m
            .resources
            .iter()
            .map(|r| ModuleRef { plural_class: r.names.plural_class.clone(), file: r.names.file.clone() })
            .collect();
        modules.sort_by(|a, b| a.file.cmp(&b.file));
        let mut imports = ImportSet::default();
        imports.add("Module", "@nestjs/common");
        imports.add("DatabaseModule", "./core/database/database.module.js");
        imports.add("HealthController", "./core/health/health.controller.js");
        imports.add("type LazyModule", "./core/http/lazy-modules.js");
        let lazy = m.project.lazy_modules;
        if !lazy {
            for mr in &modules {
                imports.add(&format!("{}Module", mr.plural_class), &format!("./modules/{0}/{0}.module.js", mr.file));
            }
        }
        let mut lazy_entries = Vec::new();
        let mut resource_files = Vec::new();
        if lazy {
            let mut by_file: Vec<&Resource> = m.resources.iter().collect();
            by_file.sort_by(|a, b| a.names.file.cmp(&b.names.file));
            for r in by_file {
                let path = format!("{}{}", if r.versioned.value { "v1/" } else { "" }, r.names.route.trim_matches('/'));
                lazy_entries.push(lazy_entry(&path, &r.names.file));
                resource_files.push(format!("./modules/{0}/{0}.resource.js", r.names.file));
            }
        }
        // A feature's module named like a resource's (a table `auth`) is imported under another name.
        let taken: Vec<String> = modules.iter().map(|mr| format!("{}Module", mr.plural_class)).collect();
        let local =
            |class: &str| if taken.iter().any(|t| t == class) { format!("{class}Feature") } else { class.to_string() };
        for x in &c.modules {
            let name = if local(&x.class) == x.class {
                x.class.clone()
            } else {
                format!("{} as {}", x.class, local(&x.class))
            };
            imports.add(&name, &format!("./{}.js", x.module));
        }
        let mut feature_modules: Vec<String> = c.modules.iter().map(|x| local(&x.class)).collect();
        feature_modules.sort();
        feature_modules.dedup();
        let pkgs = |dev: bool| {
            packages
                .iter()
                .filter(|p| p.dev == dev)
                .map(|p| PackageView { name: p.name.to_string(), version: p.version.to_string() })
                .collect::<Vec<_>>()
        };
        let routes = m
            .resources
            .iter()
            .map(|r| {
                let o = &r.operations;
                let mut ops = Vec::new();
                let k = r.key_fields().iter().map(|f| format!(":{}", f.property)).collect::<Vec<_>>().join("/");
                let base = format!("{}/{}", if r.versioned.value { "/v1" } else { "" }, r.names.route);
                for (on, route) in [
                    (o.list, format!("GET {base}")),
                    (r.aggregates(), format!("GET {base}/aggregate")),
                    (r.exports(), format!("GET {base}/export")),
                    (o.get, format!("GET {base}/{k}")),
                    (o.create, format!("POST {base}")),
                    (o.bulk_create, format!("POST {base}/bulk")),
                    (o.update, format!("PATCH {base}/{k}")),
                    (o.delete, format!("DELETE {base}/{k}")),
                    (o.restore, format!("POST {base}/{k}/restore")),
                ] {
                    if on {
                        ops.push(route);
                    }
                }
                RouteDoc {
                    route: base,
                    table: r.qualified(),
                    operations: ops.join(", "),
                    notes: r.notes.iter().map(|n| n.message.clone()).collect(),
                }
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
        let mut db_docs: Vec<(String, String)> =
            c.db.iter().map(|d| (format!("db/{}", d.name), d.doc.clone())).collect();
        db_docs.sort();
        ProjectView {
            schema_setting,
            kept_project: kept_settings.as_ref().is_some_and(|k| k.1),
            kept_settings: kept_settings.map(|k| k.0),
            db_name,
            name: m.project.name.clone(),
            title: m.project.title.clone(),
            title_literal: ts::string(&m.project.title),
            imports: imports.lines(),
            feature_modules,
            module_classes: if lazy {
                Vec::new()
            } else {
                modules.iter().map(|m| format!("{}Module", m.plural_class)).collect()
            },
            lazy,
            lazy_entries,
            resource_files,
            modules,
            dependencies: pkgs(false),
            dev_dependencies: pkgs(true),
            routes,
            skipped: m.skipped.clone(),
            env_sections: rendered.env,
            compose_services: rendered.compose,
            compose_env: c.compose_env.clone(),
            compose_volumes: c.compose_volumes.clone(),
            readme_sections: rendered.readme,
            setup_env: c.setup_env.clone(),
            openapi_calls: c.openapi.clone(),
            db_docs,
        }
    }
}

/// What db/90-app-role.sql needs: the schemas whose tables the app uses, and the features'
/// statements (rendered) inside the grant function.
#[derive(Serialize)]
pub struct AppRoleView {
    schemas: String,
    blocks: Vec<String>,
}

impl AppRoleView {
    pub fn new(m: &Model, blocks: Vec<String>) -> Self {
        let mut schemas: Vec<&str> = m.resources.iter().map(|r| r.schema.as_str()).collect();
        schemas.push("nestgen");
        schemas.sort();
        schemas.dedup();
        AppRoleView { schemas: schemas.iter().map(|x| sql::string(x)).collect::<Vec<_>>().join(", "), blocks }
    }
}

/// "an item", "a user", "an order", "a unit": the article English writes before `noun` (by its
/// spelling: a, e, i, o and a u not sounded "you" take "an").
pub fn with_article(noun: &str) -> String {
    let lower = noun.to_lowercase();
    let you = ["uni", "use", "usu", "uti", "ura", "uro", "eu"].iter().any(|p| lower.starts_with(p));
    let an = !you && lower.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if an { "an" } else { "a" })
}

/// The spec's `search` (core/crud/search.ts): how `q=` matches rows, as the model chose it.
fn search_block(r: &Resource) -> String {
    use nest_model::search::Search;
    let Some(search) = &r.search else { return String::new() };
    let strings = |v: &[String]| Doc::array(v.iter().map(|c| Doc::string(c)).collect(), false);
    let props = match search {
        Search::Vector { column, config } => {
            let mut p = vec![("kind", Doc::string("vector")), ("columns", strings(std::slice::from_ref(column)))];
            if let Some(c) = config {
                p.push(("config", Doc::string(c)));
            }
            p
        }
        Search::Text { columns, config } => {
            // The index's own expression (db/80-search.sql), so query and index cannot drift.
            let document = nest_model::search::text_document(columns, config);
            vec![
                ("kind", Doc::string("text")),
                ("columns", strings(columns)),
                ("config", Doc::string(config)),
                ("document", Doc::string(&document)),
            ]
        }
        Search::Trigram { columns } => vec![("kind", Doc::string("trigram")), ("columns", strings(columns))],
    };
    layout::print(&Doc::prop("search", Doc::object_of(props, false)), 2, 2, ",")
}

/// `db/80-search.sql` (template `sql/search.sql.j2`): an index per table searched by configured
/// columns, and the generator's earlier search indexes of those tables to drop.
#[derive(Serialize)]
pub struct SearchSqlView {
    /// `CREATE INDEX IF NOT EXISTS ...;`, one per table.
    pub creates: Vec<String>,
    /// `(schema, table, keep, family, legacy)` literals, one per table.
    pub rows: Vec<String>,
    /// A dollar-quote tag the rows do not hold (table names are the schema's, any text).
    pub tag: String,
}

pub fn search_sql(m: &Model) -> Option<SearchSqlView> {
    use nest_catalog::quote::{ident, string as literal};
    use nest_model::search::{index_family, legacy_index_name};
    let mut creates = Vec::new();
    let mut rows = Vec::new();
    for r in &m.resources {
        let Some((name, def)) = r.search.as_ref().and_then(|s| s.index(r)) else { continue };
        creates.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {}.{} {def};",
            ident(&name),
            ident(&r.schema),
            ident(&r.table)
        ));
        rows.push(format!(
            "({}, {}, {}, {}, {})",
            literal(&r.schema),
            literal(&r.table),
            literal(&name),
            literal(&index_family(&r.table)),
            literal(&legacy_index_name(&r.table))
        ));
    }
    if creates.is_empty() {
        return None;
    }
    let mut tag = String::from("$nestgen_search$");
    while rows.iter().any(|r| r.contains(&tag)) {
        tag.insert(tag.len() - 1, '_');
    }
    Some(SearchSqlView { creates, rows, tag })
}

#[cfg(test)]
mod tests {
    /// The three layouts, as Prettier 3 printed them (printWidth 140).
    #[test]
    fn lazy_entries_are_laid_out_as_prettier_lays_them_out() {
        assert_eq!(
            super::lazy_entry("t0000", "t0000"),
            "  { path: 't0000', load: () => import('./modules/t0000/t0000.module.js') },"
        );
        let long = "a-very-long-table-name-that-goes";
        assert_eq!(
            super::lazy_entry(&format!("v1/{long}"), long),
            format!(
                "  {{\n    path: 'v1/{long}',\n    load: () => import('./modules/{long}/{long}.module.js'),\n  }},"
            )
        );
        let longer = "a-very-long-table-name-that-goes-on-and-on-for-sixty-three-chars";
        assert_eq!(
            super::lazy_entry(longer, longer),
            format!(
                "  {{\n    path: '{longer}',\n    load: () =>\n      import('./modules/{longer}/{longer}.module.js'),\n  }},"
            )
        );
    }

    #[test]
    fn articles() {
        for (noun, said) in [
            ("item", "an item"),
            ("user", "a user"),
            ("order line", "an order line"),
            ("unit", "a unit"),
            ("update", "an update"),
            ("event", "an event"),
            ("project", "a project"),
            ("euro rate", "a euro rate"),
        ] {
            assert_eq!(super::with_article(noun), said);
        }
    }
}
