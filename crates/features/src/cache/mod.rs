//! Read cache (issue 17): answers of the tables asked for (`meta.table_metadata.cache_enabled`
//! and `cache_ttl`, `[tables.t] features = { cache = true }` and `cache_ttl`, `--features.cache`)
//! kept in Redis under versions of every table the read depends on (the table, the tables its
//! row scopes and policies look at, a view's base tables). A change through the app moves the
//! versions of the tables it reaches (the table and those its foreign keys cascade to) once it
//! is committed; any other change (SQL, triggers, other instances) reaches the cache through
//! statement triggers and NOTIFY (`db/85-cache.sql`).
//!
//! State: [`CacheModel`]. Config: `[cache] ttl`, `[tables.t] cache_ttl`, `[tables.t] client_max_age`.

use nest_catalog::{Catalog, FkAction, QualifiedName};
use nest_model::settings::{ConfigKey, KeyScope};
use nest_model::{FeatureDef, MetaSwitch, Model, ModelCx, Resolve, Resource, ResourceKind, Setting, Source};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, RenderError, Rendered, ResourceContributions, SpecExtension,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub struct Cache;

pub static DEF: FeatureDef = FeatureDef {
    id: "cache",
    about: "read answers kept in Redis, invalidated by every change",
    meta: MetaSwitch::TableMetadata("cache_enabled"),
    implemented: true,
};

/// Without `cache_ttl` anywhere: seconds an answer may be kept.
const DEFAULT_TTL: i64 = 60;
const MAX_TTL: i64 = 7 * 86_400;

fn seconds(v: &toml::Value) -> Result<(), String> {
    v.as_integer()
        .filter(|n| (1..=MAX_TTL).contains(n))
        .map(|_| ())
        .ok_or_else(|| format!("write seconds from 1 to {MAX_TTL}"))
}

fn max_age(v: &toml::Value) -> Result<(), String> {
    v.as_integer()
        .filter(|n| (0..=MAX_TTL).contains(n))
        .map(|_| ())
        .ok_or_else(|| format!("write seconds from 0 to {MAX_TTL}"))
}

static KEYS: &[ConfigKey] = &[
    // `[cache] ttl`: seconds an answer is kept where the table says nothing.
    ConfigKey { scope: KeyScope::Section("cache"), name: "ttl", check: seconds },
    // `[tables.t] cache_ttl`: the same for one table (over the metadata's cache_ttl).
    ConfigKey { scope: KeyScope::Table, name: "cache_ttl", check: seconds },
    // `[tables.t] client_max_age`: clients may reuse an answer this long without asking
    // (Cache-Control max-age; default 0: they revalidate with the ETag).
    ConfigKey { scope: KeyScope::Table, name: "client_max_age", check: max_age },
];

/// Features whose reads depend on more than the rows (the time, a queue, a stream): their
/// tables are not cached.
const UNCACHEABLE: &[(&str, &str)] = &[
    ("file-upload", "a file store's answers follow its storage"),
    ("queue", "notifications are read as they become due (the answer depends on the time)"),
    ("realtime", "notifications are read as they become due (the answer depends on the time)"),
    ("event-sourcing", "an event store is read as a feed"),
    ("time-series", "a series is read by time windows"),
];

/// What in an SQL text makes an answer depend on the time or on chance.
const VOLATILE: &[&str] = &[
    "now(",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "clock_timestamp(",
    "statement_timestamp(",
    "transaction_timestamp(",
    "timeofday(",
    "random(",
];

/// One cached resource.
#[derive(Debug, Clone, Serialize)]
pub struct CachedRead {
    pub table: QualifiedName,
    pub ttl: Setting<i64>,
    /// Seconds clients may reuse an answer (0: revalidate).
    pub client_max_age: i64,
    /// Tables whose versions key its answers (itself first).
    pub reads: Vec<QualifiedName>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CacheModel {
    pub cached: Vec<CachedRead>,
    /// Tables with a statement trigger that notifies changes.
    pub watched: Vec<QualifiedName>,
    /// Per resource (`schema.table`): the followed tables its changes reach.
    pub changes: BTreeMap<String, Vec<QualifiedName>>,
}

impl CacheModel {
    pub fn cached(&self, q: &QualifiedName) -> Option<&CachedRead> {
        self.cached.iter().find(|c| &c.table == q)
    }
}

/// Words of an SQL text that may name a relation or a function: identifiers, quoted or not,
/// with their qualifier (`"Sales".orders` → `sales.orders`; unquoted words fold to lower case).
fn names_in(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = sql.chars().peekable();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '\'' => {
                flush(&mut cur, &mut out);
                // A string literal: skipped ('' inside ends and restarts it, which is the same).
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                }
            }
            '.' if !cur.is_empty() => cur.push('.'),
            c if c.is_alphanumeric() || c == '_' || c == '$' => cur.extend(c.to_lowercase()),
            _ => flush(&mut cur, &mut out),
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Relations of the catalog an SQL text may read (a name alone matches that name in any
/// schema: more than needed is only more invalidation), following the bodies of the catalog's
/// functions it calls. Err: why its answers cannot be cached (the time, a function whose body
/// is unknown).
fn reads_of(
    catalog: &Catalog,
    sql: &str,
    seen: &mut BTreeSet<String>,
    out: &mut BTreeSet<QualifiedName>,
) -> Result<(), String> {
    let lower = sql.to_lowercase();
    if let Some(v) = VOLATILE.iter().find(|v| lower.contains(*v)) {
        return Err(format!("it reads {}", v.trim_end_matches('(')));
    }
    for word in names_in(sql) {
        let (schema, name) = match word.rsplit_once('.') {
            Some((s, n)) => (Some(s.rsplit('.').next().unwrap_or(s)), n),
            None => (None, word.as_str()),
        };
        for t in catalog.tables.iter().filter(|t| t.name == name && schema.is_none_or(|s| s == t.schema)) {
            if out.insert(t.qualified_name())
                && let Some(def) = &t.definition
            {
                reads_of(catalog, def, seen, out)?;
            }
        }
        for f in catalog.functions.iter().filter(|f| f.name == name && schema.is_none_or(|s| s == f.schema)) {
            if !seen.insert(format!("{}.{}", f.schema, f.name)) {
                continue;
            }
            match &f.source.0 {
                Some(body) => reads_of(catalog, body, seen, out)?,
                None => return Err(format!("it calls {}.{}, whose body is not in the input", f.schema, f.name)),
            }
        }
    }
    Ok(())
}

/// Everything a read of `r` depends on, or why it cannot be cached.
fn dependencies(catalog: &Catalog, r: &Resource) -> Result<Vec<QualifiedName>, String> {
    let mut out = BTreeSet::from([r.qname()]);
    out.extend(r.reads_from.iter().cloned());
    let mut seen = BTreeSet::new();
    if let Some(t) = catalog.table(&r.schema, &r.table) {
        if r.kind != ResourceKind::Table {
            let def = t.definition.as_deref().ok_or("its definition is not in the input")?;
            reads_of(catalog, def, &mut seen, &mut out).map_err(|e| format!("the view's query: {e}"))?;
        }
        for p in &t.policies {
            for e in p.using.iter().chain(p.with_check.iter()) {
                reads_of(catalog, e, &mut seen, &mut out).map_err(|e| format!("policy {}: {e}", p.name))?;
            }
        }
    }
    let mut v: Vec<QualifiedName> = out.into_iter().collect();
    // The table itself first (it reads best in keys and logs).
    v.sort_by_key(|q| !r.is(q));
    Ok(v)
}

/// Tables a change of `start` reaches: itself and, repeatedly, the tables whose foreign keys
/// cascade (or set null or a default) from one reached.
fn reached(catalog: &Catalog, start: BTreeSet<QualifiedName>) -> BTreeSet<QualifiedName> {
    let acts = |a: FkAction| matches!(a, FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault);
    let mut set = start;
    loop {
        let more: Vec<QualifiedName> = catalog
            .tables
            .iter()
            .filter(|t| !set.contains(&t.qualified_name()))
            .filter(|t| {
                t.foreign_keys.iter().any(|f| set.contains(&f.references) && (acts(f.on_delete) || acts(f.on_update)))
            })
            .map(|t| t.qualified_name())
            .collect();
        if more.is_empty() {
            return set;
        }
        set.extend(more);
    }
}

/// Seconds an answer is kept: `[tables.t] cache_ttl` > metadata `cache_ttl` > `[cache] ttl` > 60.
fn ttl_of(cx: &ModelCx, r: &Resource) -> Setting<i64> {
    let table =
        cx.config.table(&r.schema, &r.table).and_then(|t| t.extra.get("cache_ttl")).and_then(toml::Value::as_integer);
    let meta = cx
        .catalog
        .metadata
        .table(&r.schema, &r.table)
        .and_then(|m| m.int("cache_ttl"))
        .filter(|n| (1..=MAX_TTL).contains(n));
    let project = cx.config.section_value("cache", "ttl").and_then(toml::Value::as_integer);
    match (table, meta, project) {
        (Some(n), _, _) => Setting::new(n, Source::Config),
        (None, Some(n), _) => Setting::new(n, Source::Metadata("table_metadata.cache_ttl".into())),
        (None, None, Some(n)) => Setting::new(n, Source::Config),
        (None, None, None) => Setting::new(DEFAULT_TTL, Source::Default),
    }
}

fn resolve(cx: &mut ModelCx) -> Option<CacheModel> {
    let catalog = cx.catalog;
    let mut cached = Vec::new();
    for i in 0..cx.resources.len() {
        let r = &cx.resources[i];
        let Some(asked) = r.features.get(DEF.id).filter(|s| s.value).cloned() else { continue };
        let refused = if r.kind == ResourceKind::MaterializedView {
            Some("a materialized view changes when it is refreshed, which no trigger sees".to_string())
        } else if !r.operations.list && !r.operations.get {
            Some("it has no read routes".to_string())
        } else if let Some((f, why)) = UNCACHEABLE.iter().find(|(f, _)| r.feature(f)) {
            Some(format!("{why} ({f})"))
        } else {
            None
        };
        let deps = match refused {
            Some(why) => Err(why),
            None => dependencies(catalog, r),
        };
        let ttl = ttl_of(cx, r);
        let client_max_age = cx
            .config
            .table(&r.schema, &r.table)
            .and_then(|t| t.extra.get("client_max_age"))
            .and_then(toml::Value::as_integer)
            .unwrap_or(0);
        let r = &mut cx.resources[i];
        match deps {
            Ok(reads) => {
                let others: Vec<String> = reads.iter().filter(|q| !r.is(q)).map(|q| q.to_string()).collect();
                r.note(
                    DEF.id,
                    format!(
                        "{}: reads cached in Redis for {} s ({}){}",
                        r.table,
                        ttl.value,
                        ttl.source,
                        if others.is_empty() {
                            String::new()
                        } else {
                            format!(", following changes to {}", others.join(", "))
                        }
                    ),
                );
                cached.push(CachedRead { table: r.qname(), ttl, client_max_age, reads });
            }
            Err(why) => r.note(DEF.id, format!("{}: not cached (asked by {}): {why}", r.table, asked.source)),
        }
    }
    if cached.is_empty() {
        return None;
    }
    let followed: BTreeSet<QualifiedName> = cached.iter().flat_map(|c| c.reads.iter().cloned()).collect();
    let is_table = |q: &QualifiedName| match catalog.table(&q.schema, &q.name) {
        Some(t) => matches!(t.kind, nest_catalog::TableKind::Table | nest_catalog::TableKind::Partition),
        // A table of the generated schema (nestgen.member_links).
        None => q.schema == "nestgen",
    };
    let watched: Vec<QualifiedName> = followed.iter().filter(|q| is_table(q)).cloned().collect();
    let mut changes = BTreeMap::new();
    for r in &cx.resources {
        let mut start = BTreeSet::from([r.qname()]);
        if r.kind != ResourceKind::Table {
            // A write through a view writes its base tables.
            if let Ok(deps) = dependencies(catalog, r) {
                start.extend(deps);
            }
        }
        let reach: Vec<QualifiedName> = reached(catalog, start).into_iter().filter(|q| followed.contains(q)).collect();
        if !reach.is_empty() {
            changes.insert(r.qualified(), reach);
        }
    }
    Some(CacheModel { cached, watched, changes })
}

impl Resolve for Cache {
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
        let Some(c) = m.state::<CacheModel>() else { return Vec::new() };
        let mut lines = Vec::new();
        if let Some(read) = c.cached(&r.qname()) {
            let reads: Vec<String> = read.reads.iter().map(|q| q.to_string()).collect();
            lines.push(format!(
                "cached: {} s ({}), keyed by the versions of {}",
                read.ttl.value,
                read.ttl.source,
                reads.join(", ")
            ));
        }
        if let Some(ch) = c.changes.get(&r.qualified()) {
            lines.push(format!(
                "changes move the cache versions of {}",
                ch.iter().map(|q| q.to_string()).collect::<Vec<_>>().join(", ")
            ));
        }
        lines
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "cache";
    "cache.sql.j2",
    "app-role.sql.j2",
    "env.j2",
    "readme.md.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/cache/cache.module.ts",
    "src/core/cache/cache.service.ts",
    "src/core/cache/read-cache.ts",
];

#[derive(Serialize)]
struct SqlView {
    /// Quoted names of the tables whose changes are notified.
    watched: Vec<String>,
}

#[derive(Serialize)]
struct ReadmeView {
    /// (resource route, ttl, followed tables besides itself).
    cached: Vec<(String, i64, String)>,
}

/// The key of a table in Redis and in NOTIFY payloads: `schema.table`, as PostgreSQL names it.
fn key(q: &QualifiedName) -> String {
    nest_nestjs::quote::string(&format!("{}.{}", q.schema, q.name))
}

impl Contribute for Cache {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: &[] }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(c) = m.state::<CacheModel>() else { return Ok(()) };
        out.runtime.extend(RUNTIME);
        let watched = c.watched.iter().map(|q| nest_catalog::quote::qualified(&q.schema, &q.name)).collect();
        out.db.push(DbFile {
            name: "85-cache.sql".into(),
            body: Rendered::new("cache/cache.sql.j2", SqlView { watched })?,
            doc: "the read cache's change notifications (statement triggers) and its database identity.".into(),
        });
        out.app_role.push(Rendered::new("cache/app-role.sql.j2", ())?);
        out.modules.push(AppModule { class: "CacheModule".into(), module: "core/cache/cache.module".into() });
        out.env.push(Rendered::new("cache/env.j2", ())?);
        out.add_compose_redis()?;
        let cached = c
            .cached
            .iter()
            .filter_map(|read| {
                let r = m.resource_of(&read.table)?;
                let others: Vec<String> = read.reads.iter().filter(|q| !r.is(q)).map(|q| format!("`{q}`")).collect();
                Some((r.names.route.clone(), read.ttl.value, others.join(", ")))
            })
            .collect();
        out.readme.push(Rendered::new("cache/readme.md.j2", ReadmeView { cached })?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(c) = m.state::<CacheModel>() else { return Ok(()) };
        let list = |v: &[QualifiedName]| format!("[{}]", v.iter().map(key).collect::<Vec<_>>().join(", "));
        let mut parts = Vec::new();
        if let Some(read) = c.cached(&r.qname()) {
            parts.push(format!("ttl: {}", read.ttl.value));
            parts.push(format!("reads: {}", list(&read.reads)));
            if read.client_max_age > 0 {
                parts.push(format!("maxAge: {}", read.client_max_age));
            }
            // What selects the caller's rows, for caches that reuse an answer: the token, and
            // the organization header where rows are a tenant's.
            let mut vary = Vec::new();
            if m.state::<crate::auth::AuthModel>().is_some() {
                vary.push("'Authorization'");
            }
            if m.state::<crate::tenancy::TenancyModel>().is_some_and(|t| t.column_of(&r.qname()).is_some()) {
                vary.push("'X-Organization-Id'");
            }
            if !vary.is_empty() {
                parts.push(format!("vary: [{}]", vary.join(", ")));
            }
        }
        if let Some(ch) = c.changes.get(&r.qualified()) {
            parts.push(format!("changes: {}", list(ch)));
        }
        if parts.is_empty() {
            return Ok(());
        }
        out.extensions.push(SpecExtension {
            factory: "readCache".into(),
            module: "core/cache/read-cache".into(),
            arg: format!("{{ {} }}", parts.join(", ")),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed;

    const TENANCY: &[&str] = &["02-rbac.sql", "01-multi-tenancy.sql", "01b-multi-tenancy-metadata.sql"];

    #[test]
    fn the_seed_metadata_caches_its_three_tables_with_their_ttls() {
        let m = seed(TENANCY, "[features]\nrbac = true\n");
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let c = m.state::<CacheModel>().expect("cache state");
        let ttl = |t: &str| c.cached(&QualifiedName::new("public", t)).map(|r| (r.ttl.value, r.ttl.source.to_string()));
        assert_eq!(ttl("organizations").map(|t| t.0), Some(600));
        assert_eq!(ttl("organization_users").map(|t| t.0), Some(300));
        assert_eq!(ttl("projects").map(|t| t.0), Some(180));
        assert!(ttl("organizations").unwrap().1.contains("cache_ttl"), "{:?}", ttl("organizations"));
        assert!(ttl("users").is_none() && ttl("roles").is_none());
        // The membership policy's other branch (a member's own rows in any organization) never
        // widens what the app reads: every statement also filters by the caller's organization.
        let members = c.cached(&QualifiedName::new("public", "organization_users")).unwrap();
        assert_eq!(members.reads, [QualifiedName::new("public", "organization_users")]);
        // The accounts a tenant's owners read follow its memberships.
        let m = seed(TENANCY, "[features]\nrbac = true\n[tables.users]\nfeatures = { cache = true }\n");
        let c = m.state::<CacheModel>().expect("cache state");
        let users = c.cached(&QualifiedName::new("public", "users")).expect("users cached");
        let reads: Vec<String> = users.reads.iter().map(|q| q.to_string()).collect();
        assert_eq!(reads[0], "public.users");
        assert!(
            reads.contains(&"nestgen.member_links".into()) && reads.contains(&"public.organization_users".into()),
            "{reads:?}"
        );
        assert!(c.watched.contains(&QualifiedName::new("nestgen", "member_links")));
    }

    #[test]
    fn changes_reach_the_tables_foreign_keys_cascade_to() {
        let sql = "CREATE TABLE boards (id int PRIMARY KEY, name text NOT NULL);
            CREATE TABLE cards (id int PRIMARY KEY, board_id int NOT NULL REFERENCES boards(id) ON DELETE CASCADE, title text);
            CREATE TABLE notes (id int PRIMARY KEY, card_id int REFERENCES cards(id) ON DELETE SET NULL, body text);
            CREATE TABLE pins (id int PRIMARY KEY, board_id int REFERENCES boards(id), at int);";
        let m = crate::testing::model(
            sql,
            "[tables.cards]\nfeatures = { cache = true }\n[tables.notes]\nfeatures = { cache = true }\ncache_ttl = 5\n",
        );
        let c = m.state::<CacheModel>().expect("cache state");
        let names = |t: &str| {
            c.changes.get(&format!("public.{t}")).map(|v| v.iter().map(|q| q.name.clone()).collect::<Vec<_>>())
        };
        // boards is not cached itself, but deleting one deletes cards and clears notes.card_id.
        assert_eq!(names("boards"), Some(vec!["cards".to_string(), "notes".to_string()]));
        assert_eq!(names("cards"), Some(vec!["cards".to_string(), "notes".to_string()]));
        assert_eq!(names("pins"), None, "pins' changes reach no cached table");
        assert_eq!(c.cached(&QualifiedName::new("public", "notes")).unwrap().ttl.value, 5);
        assert_eq!(c.cached(&QualifiedName::new("public", "cards")).unwrap().ttl.value, DEFAULT_TTL);
    }

    #[test]
    fn views_follow_their_base_tables_and_the_time_is_never_cached() {
        let sql = "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total numeric, placed_at timestamptz);
            CREATE TABLE customers (id int PRIMARY KEY, name text);
            CREATE VIEW order_totals AS SELECT c.name, sum(o.total) AS total FROM public.orders o JOIN \"customers\" c ON c.id = o.customer_id GROUP BY c.name;
            CREATE VIEW recent_orders AS SELECT * FROM orders WHERE placed_at > now() - interval '1 day';
            CREATE MATERIALIZED VIEW order_counts AS SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id;";
        let m = crate::testing::model(sql, "[features]\ncache = true\n");
        let c = m.state::<CacheModel>().expect("cache state");
        let totals = c.cached(&QualifiedName::new("public", "order_totals")).expect("view cached");
        let reads: BTreeSet<String> = totals.reads.iter().map(|q| q.name.clone()).collect();
        assert_eq!(reads, BTreeSet::from(["order_totals".into(), "orders".into(), "customers".into()]));
        assert!(c.watched.iter().all(|q| q.name != "order_totals"), "no trigger on a view");
        for t in ["recent_orders", "order_counts"] {
            assert!(c.cached(&QualifiedName::new("public", t)).is_none(), "{t} must not be cached");
            let r = m.resource(t).unwrap();
            assert!(r.notes.iter().any(|n| n.message.contains("not cached")), "{t}: {:?}", r.notes);
        }
        // A change of orders moves the versions the cached view is read under.
        let orders = c.changes.get("public.orders").unwrap();
        assert!(orders.iter().any(|q| q.name == "orders"));
    }

    #[test]
    fn names_fold_like_postgresql() {
        assert_eq!(
            names_in("SELECT * FROM \"Sales\".Orders o WHERE o.x = 'from t'"),
            ["select", "from", "Sales.orders", "o", "where", "o.x"]
        );
    }
}
