//! Event sourcing (seed scenario 4): an append-only event store with optimistic concurrency
//! (`expectedVersion` / `If-Match`, 409 with the current version), idempotent appends (event ids,
//! `Idempotency-Key`), stream reads, a global feed in commit order, snapshots every N events or on
//! demand, projections run by processors with checkpoints (LISTEN/NOTIFY + polling, one instance
//! at a time per processor, replay from zero), and an optional outbox to NATS JetStream. Events
//! are immutable: no update or delete route, and the database refuses changes.
//!
//! Recognised by shape (an aggregate id and a version unique together, an event type, a JSON
//! payload), by `--features.event-sourcing` or `enable_event_sourcing`; column roles can be named
//! in the config (`[tables.<t>] event_columns = { aggregate = "...", version = "..." }`).
//!
//! State: [`EventSourcingState`].

mod detect;
mod view;

pub use detect::{EventStore, ProcessorTable, SnapshotTable};

use nest_catalog::QualifiedName;
use nest_model::settings::{ConfigKey, KeyScope};
use nest_model::{
    FeatureDef, FeatureError, Grant, MetaSwitch, Model, ModelCx, ModelError, Operations, Permission, Resolve, Resource,
    ResourceKind, Setting, Source,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, ExtraController, FeatureFile, Import, Ownership, Package,
    RenderError, Rendered, ResourceContributions, Route,
};
use serde::Serialize;

pub struct EventSourcing;

pub static DEF: FeatureDef = FeatureDef {
    id: "event-sourcing",
    about: "append-only event streams: optimistic concurrency, snapshots, projections, a global feed",
    meta: MetaSwitch::EnterpriseFeatures("enable_event_sourcing"),
    implemented: true,
};

/// Snapshots every this many events by default.
const SNAPSHOT_EVERY: u32 = 100;

fn snapshot_every(v: &toml::Value) -> Result<(), String> {
    v.as_integer()
        .filter(|n| (0..=1_000_000).contains(n))
        .map(|_| ())
        .ok_or_else(|| "write a number of events from 0 (never) to 1000000".into())
}

fn table_list(v: &toml::Value) -> Result<(), String> {
    v.as_array()
        .filter(|a| a.iter().all(|x| x.as_str().is_some()))
        .map(|_| ())
        .ok_or_else(|| "write a list of table names, e.g. [\"user_summary\"]".into())
}

fn publish(v: &toml::Value) -> Result<(), String> {
    matches!(v.as_str(), Some("nats" | "none")).then_some(()).ok_or_else(|| "write \"nats\" or \"none\"".into())
}

fn event_columns(v: &toml::Value) -> Result<(), String> {
    let t = v.as_table().ok_or("write an inline table, e.g. { aggregate = \"stream_id\", version = \"seq\" }")?;
    for (k, c) in t {
        if !detect::role_names().any(|r| r == k) {
            return Err(format!("unknown role `{k}` (roles: {})", detect::role_names().collect::<Vec<_>>().join(", ")));
        }
        if c.as_str().is_none() {
            return Err(format!("{k}: write a column name in quotes"));
        }
    }
    Ok(())
}

static KEYS: &[ConfigKey] = &[
    // `[event_sourcing] snapshot_every = 100`: a snapshot every N events of a stream (0: on demand only).
    ConfigKey { scope: KeyScope::Section("event_sourcing"), name: "snapshot_every", check: snapshot_every },
    // `[event_sourcing] projections = ["user_summary"]`: the tables processors fill (default: those with last_event_version).
    ConfigKey { scope: KeyScope::Section("event_sourcing"), name: "projections", check: table_list },
    // `[event_sourcing] publish = "nats"`: publish every event to NATS JetStream after it commits.
    ConfigKey { scope: KeyScope::Section("event_sourcing"), name: "publish", check: publish },
    // `[tables.<t>] event_columns = { aggregate = "stream_id", ... }`: the events table's columns by role.
    ConfigKey { scope: KeyScope::Table, name: "event_columns", check: event_columns },
];

#[derive(Debug, thiserror::Error)]
#[error("{table}: event sourcing asked ({asked_by}) but the table is no event store: it needs {}", missing.join("; "))]
struct NotAStore {
    table: String,
    asked_by: String,
    missing: Vec<String>,
}

impl FeatureError for NotAStore {
    fn help(&self) -> String {
        "name the columns in nest-generator.toml: [tables.<table>] event_columns = { aggregate = \"...\", version = \"...\", type = \"...\", data = \"...\" }, or turn it off with --features.event-sourcing=false".into()
    }
}

/// A projection: a table processors fill from events.
#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    /// The processor's name (the table's name).
    pub name: String,
    pub table: QualifiedName,
    /// Its single-column key, and its type.
    pub key: String,
    pub key_property: String,
    pub key_type: String,
    /// The column recording the version of the last event applied.
    pub version: String,
    pub updated_at: Option<String>,
    /// Columns an event's data may fill (by property or column name).
    pub columns: Vec<ProjectionColumn>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectionColumn {
    pub column: String,
    pub property: String,
    pub cast: String,
    /// NOT NULL without a default: a new row needs it.
    pub required: bool,
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Publish {
    None,
    Nats,
}

#[derive(Debug, Serialize)]
pub struct EventSourcingState {
    pub store: EventStore,
    pub snapshots: Option<SnapshotTable>,
    /// The schema's processor checkpoint table, or None: `nestgen.event_processors`.
    pub processors: Option<ProcessorTable>,
    pub projections: Vec<Projection>,
    pub snapshot_every: u32,
    pub publish: Publish,
}

impl EventSourcingState {
    pub fn serves(&self, r: &Resource) -> bool {
        r.is(&self.store.table)
    }
}

fn read_only(r: &mut Resource) {
    r.operations = Operations { list: true, get: !r.key.is_empty(), ..Operations::default() };
}

fn resolve(cx: &mut ModelCx) -> Option<EventSourcingState> {
    let (catalog, config) = (cx.catalog, cx.config);
    let mut store: Option<EventStore> = None;
    for r in cx.resources.iter_mut().filter(|r| r.kind == ResourceKind::Table) {
        let asked = r.features.get(DEF.id).cloned();
        if asked.as_ref().is_some_and(|s| !s.value) {
            continue;
        }
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let overrides: detect::Overrides = config
            .table(&r.schema, &r.table)
            .and_then(|c| c.extra.get("event_columns"))
            .and_then(toml::Value::as_table)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
            .unwrap_or_default();
        match (detect::event_store(t, &overrides), &asked) {
            (Err(missing), Some(s)) => {
                let e = NotAStore { table: r.table.clone(), asked_by: s.source.to_string(), missing };
                cx.errors.push(ModelError::feature(DEF.id, Some(t), e));
            }
            (Err(_), None) => {}
            (Ok(found), _) if store.is_some() => {
                let first = store.as_ref().map(|s| s.table.to_string()).unwrap_or_default();
                r.note(
                    DEF.id,
                    format!(
                        "{}: shaped like an event store, but {first} is this project's; served as a table",
                        found.table.name
                    ),
                );
            }
            (Ok(found), _) => {
                if asked.is_none() {
                    let why = format!("{} and {} unique together: an event stream", found.aggregate, found.version);
                    r.features.insert(DEF.id.into(), Setting::new(true, Source::Inferred(why)));
                }
                store = Some(found);
            }
        }
    }
    let store = store?;
    let tables = || {
        cx.resources.iter().filter(|r| r.kind == ResourceKind::Table).filter_map(|r| catalog.table(&r.schema, &r.table))
    };
    let snapshots = tables().find_map(|t| detect::snapshot_table(t, &store));
    let processors = tables().find_map(|t| detect::processor_table(t, &store)).filter(|p| p.status.is_some());
    let listed: Option<Vec<String>> = config
        .section_value("event_sourcing", "projections")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
    let taken = |q: &QualifiedName| {
        *q == store.table
            || snapshots.as_ref().is_some_and(|s| s.table == *q)
            || processors.as_ref().is_some_and(|p| p.table == *q)
    };
    let mut projections = Vec::new();
    for r in cx.resources.iter().filter(|r| r.kind == ResourceKind::Table && !taken(&r.qname())) {
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let wanted = match &listed {
            Some(list) => list.iter().any(|n| *n == r.table || *n == r.qualified()),
            None => true,
        };
        let (Some(version), Some(key)) =
            (detect::projection_version(t), r.key_fields().first().copied().filter(|_| r.key.len() == 1))
        else {
            continue;
        };
        if !wanted {
            continue;
        }
        let skip = [key.column.as_str(), version.as_str(), "updated_at", "created_at"];
        projections.push(Projection {
            name: r.table.clone(),
            table: r.qname(),
            key: key.column.clone(),
            key_property: key.property.clone(),
            key_type: key.cast_type.clone(),
            updated_at: r.field("updated_at").map(|f| f.column.clone()),
            columns: r
                .fields
                .iter()
                .filter(|f| !skip.contains(&f.column.as_str()) && f.sql_type.name != "tsvector")
                .map(|f| ProjectionColumn {
                    column: f.column.clone(),
                    property: f.property.clone(),
                    cast: f.cast_type.clone(),
                    required: !f.nullable && !f.has_default,
                    json: matches!(f.cast_type.as_str(), "json" | "jsonb"),
                })
                .collect(),
            version,
        });
    }
    // The store and what the runtime writes are read-only through the CRUD routes.
    let route = events_route(cx, &store);
    for r in cx.resources.iter_mut() {
        if r.is(&store.table) {
            read_only(r);
            r.note(DEF.id, format!(
                "{}: events are appended through POST /{}/:{}/events and never changed or deleted (db/07-events.sql refuses it)",
                r.table, r.names.route, nest_model::names::camel(&store.aggregate)
            ));
        } else if snapshots.as_ref().is_some_and(|s| r.is(&s.table)) {
            read_only(r);
            r.note(DEF.id, format!("{}: snapshots are written by the event store", r.table));
        } else if processors.as_ref().is_some_and(|p| r.is(&p.table)) {
            read_only(r);
            r.note(
                DEF.id,
                format!("{}: processor checkpoints, kept by the processors (see /{route}/processors)", r.table),
            );
        } else if let Some(p) = projections.iter().find(|p| r.is(&p.table)) {
            read_only(r);
            r.note(
                DEF.id,
                format!(
                    "{}: a projection, written by its processor (src/events/projections/{}.projection.ts)",
                    r.table,
                    file_stem(&p.name)
                ),
            );
        }
    }
    let events = store.table.clone();
    let like = |action: &str| Grant::Like { table: events.clone(), action: action.into() };
    let route = cx
        .resources
        .iter()
        .find(|r| r.is(&events))
        .map(|r| r.names.permission.clone())
        .unwrap_or_else(|| events.name.clone());
    cx.permissions.push(Permission { slug: format!("{route}:append"), grant: like("create") });
    cx.permissions.push(Permission { slug: format!("{route}:snapshot"), grant: like("update") });
    cx.permissions.push(Permission { slug: format!("{route}:manage"), grant: Grant::Admin });
    let snapshot_every = config
        .section_value("event_sourcing", "snapshot_every")
        .and_then(toml::Value::as_integer)
        .map(|n| n as u32)
        .unwrap_or(SNAPSHOT_EVERY);
    let publish = match config.section_value("event_sourcing", "publish").and_then(toml::Value::as_str) {
        Some("nats") => Publish::Nats,
        _ => Publish::None,
    };
    Some(EventSourcingState { store, snapshots, processors, projections, snapshot_every, publish })
}

fn events_route(cx: &ModelCx, store: &EventStore) -> String {
    cx.resources.iter().find(|r| r.is(&store.table)).map(|r| r.names.route.clone()).unwrap_or_default()
}

/// `user_summary` → `user-summary`.
fn file_stem(name: &str) -> String {
    nest_model::names::kebab(name)
}

impl Resolve for EventSourcing {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn config_keys(&self) -> &'static [ConfigKey] {
        KEYS
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if let Some(s) = resolve(cx) {
            cx.states.insert(DEF.id, s);
        }
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(s) = m.state::<EventSourcingState>() else { return Vec::new() };
        if s.serves(r) {
            let e = &s.store;
            let mut out = vec![format!(
                "event store: stream {}, version {}, type {}, data {}{}",
                e.aggregate,
                e.version,
                e.event_type,
                e.data,
                e.metadata.as_ref().map(|m| format!(", metadata {m}")).unwrap_or_default()
            )];
            out.push(match &s.snapshots {
                Some(t) if s.snapshot_every > 0 => {
                    format!("snapshots: {} every {} events and on demand", t.table, s.snapshot_every)
                }
                Some(t) => format!("snapshots: {} on demand", t.table),
                None => "snapshots: none (no snapshot table)".into(),
            });
            out.push(format!(
                "processors: checkpoints in {}; projections: {}",
                s.processors.as_ref().map(|p| p.table.to_string()).unwrap_or_else(|| "nestgen.event_processors".into()),
                if s.projections.is_empty() {
                    "none".into()
                } else {
                    s.projections.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ")
                }
            ));
            if s.publish == Publish::Nats {
                out.push("publish: NATS JetStream (NATS_URL), after commit, message id = event id".into());
            }
            return out;
        }
        s.projections
            .iter()
            .filter(|p| r.is(&p.table))
            .map(|p| format!("projection: {} (key {}, version {})", p.name, p.key, p.version))
            .collect()
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "event-sourcing";
    "compose.yaml.j2",
    "events.sql.j2",
    "app-role.sql.j2",
    "event-store.tables.ts.j2",
    "events.dto.ts.j2",
    "projections.ts.j2",
    "stream.controller.ts.j2",
    "reducer.ts.j2",
    "projection.ts.j2",
    "env.j2",
    "readme.md.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/events/event-store.ts",
    "src/core/events/event-processors.ts",
    "src/core/events/event-row.ts",
    "src/core/events/event-store.module.ts",
    "src/core/events/merge-patch.ts",
    "src/core/events/nats-outbox.ts",
    "src/core/events/events.settings.ts",
    "src/core/events/types.ts",
];

const PACKAGES: &[Package] = &[Package { name: "nats", version: "2.29.3", dev: false }];

impl Contribute for EventSourcing {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: PACKAGES }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<EventSourcingState>() else { return Ok(()) };
        let Some(events) = m.resource_of(&s.store.table) else { return Ok(()) };
        let v = view::View::new(m, s, events);
        out.runtime.extend(RUNTIME);
        for (path, template) in [
            ("src/core/events/event-store.tables.ts", "event-sourcing/event-store.tables.ts.j2"),
            ("src/core/events/events.dto.ts", "event-sourcing/events.dto.ts.j2"),
            ("src/core/events/projections.ts", "event-sourcing/projections.ts.j2"),
        ] {
            out.files.push(FeatureFile {
                path: path.into(),
                body: Rendered::new(template, &v)?,
                ownership: Ownership::Generated,
            });
        }
        out.files.push(FeatureFile {
            path: "src/events/reducer.ts".into(),
            body: Rendered::new("event-sourcing/reducer.ts.j2", &v)?,
            ownership: Ownership::UserOwned,
        });
        for p in &v.projections {
            out.files.push(FeatureFile {
                path: format!("src/events/projections/{}.projection.ts", p.file),
                body: Rendered::new("event-sourcing/projection.ts.j2", p)?,
                ownership: Ownership::UserOwned,
            });
        }
        out.db.push(DbFile {
            name: "07-events.sql".into(),
            body: Rendered::new("event-sourcing/events.sql.j2", &v)?,
            doc: "the event store: immutability, the commit-ordered log of the global feed, idempotency keys, processor checkpoints.".into(),
        });
        out.app_role.push(Rendered::new("event-sourcing/app-role.sql.j2", &v)?);
        out.modules
            .push(AppModule { class: "EventStoreModule".into(), module: "core/events/event-store.module".into() });
        out.env.push(Rendered::new("event-sourcing/env.j2", &v)?);
        if s.publish == Publish::Nats {
            out.add_compose_service("nats", Rendered::new("event-sourcing/compose.yaml.j2", ())?);
            out.add_compose_env("NATS_URL: nats://nats:4222");
        }
        out.readme.push(Rendered::new("event-sourcing/readme.md.j2", &v)?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<EventSourcingState>().filter(|s| s.serves(r)) else { return Ok(()) };
        let n = &r.names;
        let permission = |action: &str| format!("{}:{action}", n.permission);
        let route = |id: &str, action: &str, perm: &str| Route {
            id: id.into(),
            action: action.into(),
            permission: permission(perm),
        };
        let mut routes = vec![
            route("append", "create", "append"),
            route("stream", "read", "read"),
            route("state", "read", "read"),
            route("feed", "read", "read"),
            route("processors", "manage", "manage"),
            route("processor-pause", "manage", "manage"),
            route("processor-resume", "manage", "manage"),
            route("processor-replay", "manage", "manage"),
        ];
        if s.snapshots.is_some() {
            routes.push(route("snapshot", "update", "snapshot"));
        }
        let swagger = "@nestjs/swagger";
        let common = "@nestjs/common";
        let mut imports: Vec<Import> = [
            ("Body", common),
            ("Controller", common),
            ("Get", common),
            ("Headers", common),
            ("HttpCode", common),
            ("Param", common),
            ("Post", common),
            ("Query", common),
            ("Res", common),
            ("ApiBadRequestResponse", swagger),
            ("ApiConflictResponse", swagger),
            ("ApiCreatedResponse", swagger),
            ("ApiHeader", swagger),
            ("ApiNotFoundResponse", swagger),
            ("ApiOkResponse", swagger),
            ("ApiOperation", swagger),
            ("ApiParam", swagger),
            ("ApiQuery", swagger),
            ("ApiTags", swagger),
            ("ApiUnprocessableEntityResponse", swagger),
            ("ErrorResponseDto", "../../core/crud/dto.js"),
            ("EventStore", "../../core/events/event-store.js"),
            ("EventProcessors", "../../core/events/event-processors.js"),
            ("AggregateIdPipe", "../../core/events/event-store.js"),
            ("EVENTS", "../../core/events/event-store.tables.js"),
            ("AppendEventsDto", "../../core/events/events.dto.js"),
            ("AppendResponseDto", "../../core/events/events.dto.js"),
            ("EventListResponseDto", "../../core/events/events.dto.js"),
            ("FeedResponseDto", "../../core/events/events.dto.js"),
            ("ProcessorListResponseDto", "../../core/events/events.dto.js"),
            ("ProcessorResponseDto", "../../core/events/events.dto.js"),
            ("StateResponseDto", "../../core/events/events.dto.js"),
        ]
        .iter()
        .map(|(name, from)| Import::new(name, from))
        .collect();
        imports.push(Import::new(&format!("{}Repository", n.plural_class), &format!("./{}.repository.js", n.file)));
        imports.extend((!r.swagger.value).then(|| Import::new("ApiExcludeController", swagger)));
        out.controllers.push(ExtraController {
            class: format!("{}StreamController", n.plural_class),
            file: format!("{}.stream.controller.ts", n.file),
            body: Rendered::new("event-sourcing/stream.controller.ts.j2", view::View::new(m, s, r))?,
            routes,
            imports,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed;

    #[test]
    fn the_seed_store_is_found_and_made_immutable() {
        let m = seed(&["04-event-sourcing.sql"], "");
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let s = m.state::<EventSourcingState>().expect("an event store");
        assert_eq!(s.store.table.name, "events");
        assert_eq!(s.snapshots.as_ref().map(|t| t.table.name.as_str()), Some("aggregate_snapshots"));
        assert_eq!(s.processors.as_ref().map(|t| t.table.name.as_str()), Some("event_processors"));
        assert_eq!(s.projections.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["user_summary"]);
        let p = &s.projections[0];
        assert_eq!((p.key.as_str(), p.version.as_str()), ("user_id", "last_event_version"));
        assert!(p.columns.iter().any(|c| c.column == "email" && c.required));
        let events = m.resource("events").unwrap();
        assert!(matches!(events.features[DEF.id].source, Source::Inferred(_)));
        let o = events.operations;
        assert!(o.list && o.get && !o.create && !o.bulk_create && !o.update && !o.delete);
        for t in ["aggregate_snapshots", "event_processors", "user_summary"] {
            let o = m.resource(t).unwrap().operations;
            assert!(!o.create && !o.update && !o.delete, "{t} is written by the runtime");
        }
        let slugs: Vec<&str> = m.permissions.iter().map(|p| p.slug.as_str()).collect();
        assert!(slugs.contains(&"events:append") && slugs.contains(&"events:manage"), "{slugs:?}");
        assert_eq!(s.snapshot_every, SNAPSHOT_EVERY);
    }

    #[test]
    fn asked_for_on_a_table_that_is_no_store_is_an_error_and_off_is_off() {
        let m = seed(&["04-event-sourcing.sql"], "[tables.user_summary]\nfeatures = { event-sourcing = true }\n");
        let d = m.diagnostics();
        assert!(
            d.iter().any(|d| d.message.starts_with("user_summary: event sourcing asked (nest-generator.toml)")),
            "{d:?}"
        );
        let m = seed(&["04-event-sourcing.sql"], "[tables.events]\nfeatures = { event-sourcing = false }\n");
        assert!(m.state::<EventSourcingState>().is_none());
        assert!(m.resource("events").unwrap().operations.update, "a plain table again");
        let e = crate::parse_config("[tables.events]\nevent_columns = { stream = \"x\" }\n").unwrap_err();
        assert!(e.contains("unknown role `stream`") && e.contains("aggregate"), "{e}");
        let m = seed(
            &["04-event-sourcing.sql"],
            "[event_sourcing]\nsnapshot_every = 5\npublish = \"nats\"\nprojections = []\n",
        );
        let s = m.state::<EventSourcingState>().unwrap();
        assert_eq!((s.snapshot_every, s.publish, s.projections.len()), (5, Publish::Nats, 0));
    }
}
