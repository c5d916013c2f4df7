//! The emit side of a feature: what it adds to the generated project. Core templates loop over
//! these contributions and never name a feature; a feature fills them from its own state in the
//! Model (`nest-features`, one folder per feature).

use crate::RenderError;
use nest_filetree::Ownership;
use nest_model::{Model, Resource};
use serde::Serialize;

/// One name imported by generated TypeScript: `import { name } from 'from'`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Import {
    pub name: String,
    /// A package (`@nestjs/swagger`) or a path relative to the importing file.
    pub from: String,
}

impl Import {
    pub fn new(name: &str, from: &str) -> Self {
        Import { name: name.into(), from: from.into() }
    }
}

/// One decorator line (`@TenantScoped()`) and the names it needs.
#[derive(Debug, Clone, Serialize)]
pub struct Decorator {
    pub text: String,
    pub imports: Vec<Import>,
}

impl Decorator {
    pub fn new(text: impl Into<String>, imports: &[(&str, &str)]) -> Self {
        Decorator { text: text.into(), imports: imports.iter().map(|(n, f)| Import::new(n, f)).collect() }
    }
}

/// `factory(arg)` in a resource spec's `extensions` (see the runtime's `core/crud/extension.ts`).
#[derive(Debug, Clone, Serialize)]
pub struct SpecExtension {
    pub factory: String,
    /// Module path under `src/`, without extension (`core/tenancy/tenant-scope`).
    pub module: String,
    /// The factory's argument: one TypeScript object literal.
    pub arg: String,
}

/// A route of a resource's controllers, as features see it when they add decorators.
#[derive(Debug, Clone)]
pub struct Route {
    /// `list`, `get`, `create`, `bulk`, `update`, `delete`, `restore`, or a feature's own.
    pub id: String,
    /// The permission action (`read`, `create`, `bulk-create`, ...).
    pub action: String,
    /// The permission it needs under RBAC (`<resource>:<action>` for the core routes).
    pub permission: String,
}

/// A template rendered with a context.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Template name (`<feature>/<file>.j2`); a `--templates` folder overrides it by name.
    pub template: String,
    pub context: serde_json::Value,
}

impl Rendered {
    pub fn new(template: &str, context: impl Serialize) -> Result<Self, RenderError> {
        let context = serde_json::to_value(context).map_err(|e| RenderError(format!("view of {template}: {e}")))?;
        Ok(Rendered { template: template.into(), context })
    }
}

/// A controller a feature adds to a resource's module (same route prefix as the resource's own).
#[derive(Debug, Clone)]
pub struct ExtraController {
    pub class: String,
    /// File name in the module folder (`users.history.controller.ts`).
    pub file: String,
    /// Rendered with `r` (the resource), `controller` (its imports and decorators) and `own`
    /// (this context).
    pub body: Rendered,
    /// Its routes (features add their decorators to them like to the core routes).
    pub routes: Vec<Route>,
    /// Names its own code imports (decorators' imports are added).
    pub imports: Vec<Import>,
}

/// A file of the project rendered from a feature's template.
#[derive(Debug, Clone)]
pub struct FeatureFile {
    pub path: String,
    pub body: Rendered,
    pub ownership: Ownership,
}

/// An SQL file of `db/` (run in name order by the README's setup).
#[derive(Debug, Clone)]
pub struct DbFile {
    /// `04-tenancy.sql`.
    pub name: String,
    pub body: Rendered,
    /// One line for the README's file list.
    pub doc: String,
}

/// A module `app.module.ts` imports.
#[derive(Debug, Clone)]
pub struct AppModule {
    pub class: String,
    /// Path under `src/`, without extension (`core/audit/audit.module`).
    pub module: String,
}

/// An npm package every generated project lists (all projects share one lockfile).
#[derive(Debug, Clone, Copy)]
pub struct Package {
    pub name: &'static str,
    pub version: &'static str,
    pub dev: bool,
}

/// What a feature adds to the whole project.
#[derive(Debug, Default)]
pub struct Contributions {
    /// Runtime files copied verbatim (path, text).
    pub runtime: Vec<(&'static str, &'static str)>,
    pub files: Vec<FeatureFile>,
    pub db: Vec<DbFile>,
    pub modules: Vec<AppModule>,
    /// Blocks of `.env.example`.
    pub env: Vec<Rendered>,
    /// Sections of the README (between the routes and the list language).
    pub readme: Vec<Rendered>,
    /// Lines of the `.env` the README's setup block writes (shell, one each).
    pub setup_env: Vec<String>,
    /// Calls on the OpenAPI DocumentBuilder (TypeScript, one line each).
    pub openapi: Vec<String>,
    /// Statements inside `nestgen.grant_app_role(role_name)` (db/90-app-role.sql).
    pub app_role: Vec<Rendered>,
    /// compose.yaml: services besides the database, the migration and the app (name, YAML
    /// under `services:`, indented by two spaces); one per name.
    pub compose_services: Vec<(String, Rendered)>,
    /// compose.yaml: the app's environment (`NAME: value`), e.g. where a service answers.
    pub compose_env: Vec<String>,
    /// compose.yaml: named volumes mounted in the app (name, path in the container).
    pub compose_volumes: Vec<(String, String)>,
    /// What the generated tests do before their first request (sign in, ...), in `order`.
    pub test_setup: Vec<TestSetup>,
}

/// A step of the generated tests' setup: an import line and a statement run with `h` (the
/// harness) after the app started; lower `order` first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestSetup {
    pub order: u8,
    pub import: String,
    pub call: String,
}

impl Contributions {
    /// A compose service, unless one of that name is there already.
    pub fn add_compose_service(&mut self, name: &str, yaml: Rendered) {
        if !self.compose_services.iter().any(|(n, _)| n == name) {
            self.compose_services.push((name.to_string(), yaml));
        }
    }

    /// A line of the app's compose environment, once.
    pub fn add_compose_env(&mut self, line: &str) {
        if !self.compose_env.iter().any(|l| l == line) {
            self.compose_env.push(line.to_string());
        }
    }

    /// Redis in compose.yaml, and REDIS_URL pointing at it.
    pub fn add_compose_redis(&mut self) -> Result<(), RenderError> {
        self.add_compose_service("redis", Rendered::new("compose/redis.yaml.j2", ())?);
        self.add_compose_env("REDIS_URL: redis://redis:6379");
        Ok(())
    }
}

/// What a feature adds to one resource.
#[derive(Debug, Default)]
pub struct ResourceContributions {
    pub extensions: Vec<SpecExtension>,
    /// Decorators of the resource's controllers (the core one and extra ones), in feature order.
    pub class_decorators: Vec<Decorator>,
    pub controllers: Vec<ExtraController>,
}

/// What a feature brings into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Assets {
    /// Its templates: (name, source), names `<feature>/<file>.j2`.
    pub templates: &'static [(&'static str, &'static str)],
    /// Its runtime files (output path, text), copied verbatim into projects that use it (it
    /// adds them in [`Contribute::contribute`]).
    pub runtime: &'static [(&'static str, &'static str)],
    /// npm packages its runtime needs (every project lists them: one lockfile fits all).
    pub packages: &'static [Package],
}

impl Assets {
    pub const NONE: Assets = Assets { templates: &[], runtime: &[], packages: &[] };
}

/// The emit side of a feature. Every method has a default that adds nothing.
pub trait Contribute: Sync {
    fn assets(&self) -> Assets {
        Assets::NONE
    }

    /// Project-wide contributions, when the Model holds this feature's state.
    fn contribute(&self, _m: &Model, _out: &mut Contributions) -> Result<(), RenderError> {
        Ok(())
    }

    /// Contributions to one resource.
    fn resource(&self, _m: &Model, _r: &Resource, _out: &mut ResourceContributions) -> Result<(), RenderError> {
        Ok(())
    }

    /// Decorators of one route of a resource (core routes and extra controllers' routes).
    fn route(&self, _m: &Model, _r: &Resource, _route: &Route, _out: &mut Vec<Decorator>) {}
}
