//! What the event-sourcing templates see: identifiers quoted for SQL (`sql`) or placed in
//! TypeScript string literals (`ts`), and the facts the runtime and DTOs depend on.

use super::{EventSourcingState, Projection, Publish};
use crate::schema::id_pattern;
use nest_catalog::QualifiedName;
use nest_catalog::quote as sql;
use nest_model::{Model, Resource};
use nest_nestjs::quote as ts;
use serde::Serialize;

/// A column as the runtime names it: a TS string literal of the always-quoted identifier, or
/// `null` when the table has no such column.
fn ts_col(c: Option<&String>) -> String {
    c.map(|c| ts::string(&sql::ident_always(c))).unwrap_or_else(|| "null".into())
}

fn ts_table(q: &QualifiedName) -> String {
    ts::string(&sql::qualified_always(&q.schema, &q.name))
}

#[derive(Serialize)]
pub struct SnapshotView {
    pub table: String,
    pub aggregate: String,
    pub aggregate_kind: String,
    pub version: String,
    pub state: String,
}

/// The processor statements (TypeScript template literals) and the SQL of its table.
#[derive(Serialize)]
pub struct ProcessorsView {
    /// The schema has none: db/07-events.sql creates `nestgen.event_processors`.
    pub own_table: bool,
    pub table: String,
    pub id: String,
    pub last: String,
    pub status: String,
    pub last_at: Option<String>,
    pub error: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Serialize)]
pub struct ProjectionColumnView {
    pub column: String,
    pub property: String,
    pub name: String,
    pub cast: String,
    pub required: bool,
    pub json: bool,
}

#[derive(Serialize)]
pub struct ProjectionView {
    pub name: String,
    pub name_literal: String,
    pub name_sql: String,
    /// `user-summary` (its file under src/events/projections).
    pub file: String,
    pub ident: String,
    pub qualified: String,
    pub table: String,
    pub key: String,
    pub key_name: String,
    pub key_property: String,
    pub key_type: String,
    pub version: String,
    pub updated_at: Option<String>,
    pub columns: Vec<ProjectionColumnView>,
    /// The events' route (for the docs).
    pub route: String,
}

#[derive(Serialize)]
pub struct View {
    pub qualified: String,
    /// For SQL files.
    pub table: String,
    /// For the runtime: a TS string literal of the always-quoted table.
    pub table_literal: String,
    pub id: String,
    pub id_type: String,
    pub aggregate: String,
    pub version: String,
    pub occurred: Option<String>,
    /// `col: { id: '"id"', ... }` entries of the runtime: (name, TS literal or null).
    pub col: Vec<(String, String)>,
    pub cast: Vec<(String, String)>,
    pub aggregate_pattern: String,
    pub aggregate_id_name: String,
    pub kind_required: bool,
    pub has_kind: bool,
    pub kind_max: u32,
    pub type_max: u32,
    pub has_metadata: bool,
    pub has_causation: bool,
    pub has_correlation: bool,
    pub id_is_uuid: bool,
    pub causation_uuid: bool,
    pub correlation_uuid: bool,
    pub snapshots: Option<SnapshotView>,
    pub snapshot_every: u32,
    pub processors: ProcessorsView,
    pub projections: Vec<ProjectionView>,
    pub nats: bool,
    /// The events table as an SQL string literal (a regclass).
    pub table_regclass: String,
    /// The names of the routes, for the README.
    pub route: String,
    pub versioned: bool,
    pub permission: String,
}

fn projection_view(p: &Projection, route: &str) -> ProjectionView {
    ProjectionView {
        name_literal: ts::string(&p.name),
        name_sql: sql::string(&p.name),
        file: nest_model::names::kebab(&p.name),
        ident: nest_model::names::camel(&p.name),
        qualified: p.table.to_string(),
        table: sql::qualified_always(&p.table.schema, &p.table.name),
        key: sql::ident_always(&p.key),
        key_name: p.key.clone(),
        key_property: p.key_property.clone(),
        key_type: p.key_type.clone(),
        version: sql::ident_always(&p.version),
        updated_at: p.updated_at.as_ref().map(|c| sql::ident_always(c)),
        columns: p
            .columns
            .iter()
            .map(|c| ProjectionColumnView {
                column: ts::string(&sql::ident_always(&c.column)),
                property: ts::string(&c.property),
                name: ts::string(&c.column),
                cast: ts::string(&c.cast),
                required: c.required,
                json: c.json,
            })
            .collect(),
        name: p.name.clone(),
        route: route.to_string(),
    }
}

impl View {
    pub fn new(_m: &Model, s: &EventSourcingState, events: &Resource) -> View {
        let e = &s.store;
        let col = [
            ("id", Some(&e.id)),
            ("aggregate", Some(&e.aggregate)),
            ("aggregateKind", e.aggregate_kind.as_ref()),
            ("version", Some(&e.version)),
            ("type", Some(&e.event_type)),
            ("data", Some(&e.data)),
            ("metadata", e.metadata.as_ref()),
            ("causation", e.causation.as_ref()),
            ("correlation", e.correlation.as_ref()),
            ("actor", e.actor.as_ref()),
            ("actorKind", e.actor_kind.as_ref()),
            ("occurredAt", e.occurred_at.as_ref()),
        ]
        .into_iter()
        .map(|(k, c)| (k.to_string(), ts_col(c)))
        .collect();
        let cast = [
            ("id", &e.id_type),
            ("aggregate", &e.aggregate_type),
            ("causation", &e.causation_type),
            ("correlation", &e.correlation_type),
            ("actor", &e.actor_type),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), ts::string(t)))
        .collect();
        let kind_required =
            e.aggregate_kind.as_ref().and_then(|k| events.field(k)).is_some_and(|f| !f.nullable && !f.has_default);
        let processors = match &s.processors {
            Some(p) => ProcessorsView {
                own_table: false,
                table: sql::qualified_always(&p.table.schema, &p.table.name),
                id: sql::ident_always(&p.id),
                last: sql::ident_always(&p.last_event),
                status: sql::ident_always(p.status.as_deref().unwrap_or("status")),
                last_at: p.last_at.as_ref().map(|c| sql::ident_always(c)),
                error: p.error.as_ref().map(|c| sql::ident_always(c)),
                updated_at: p.updated_at.as_ref().map(|c| sql::ident_always(c)),
            },
            None => ProcessorsView {
                own_table: true,
                table: "\"nestgen\".\"event_processors\"".into(),
                id: "\"id\"".into(),
                last: "\"last_processed_event_id\"".into(),
                status: "\"status\"".into(),
                last_at: Some("\"last_processed_at\"".into()),
                error: Some("\"error_message\"".into()),
                updated_at: Some("\"updated_at\"".into()),
            },
        };
        View {
            qualified: e.table.to_string(),
            table: sql::table(&e.table),
            table_literal: ts_table(&e.table),
            id: sql::ident(&e.id),
            id_type: e.id_type.clone(),
            aggregate: sql::ident(&e.aggregate),
            version: sql::ident(&e.version),
            occurred: e.occurred_at.as_ref().map(|c| sql::ident(c)),
            col,
            cast,
            aggregate_pattern: id_pattern(&e.aggregate_type).into(),
            aggregate_id_name: match e.aggregate_type.as_str() {
                "uuid" => "a UUID",
                "smallint" | "integer" | "bigint" => "an integer",
                _ => "letters, digits and _.:-",
            }
            .into(),
            kind_required,
            has_kind: e.aggregate_kind.is_some(),
            kind_max: e.aggregate_kind_max.unwrap_or(200),
            type_max: e.event_type_max.unwrap_or(200),
            has_metadata: e.metadata.is_some(),
            has_causation: e.causation.is_some(),
            has_correlation: e.correlation.is_some(),
            id_is_uuid: e.id_type == "uuid",
            causation_uuid: e.causation_type == "uuid",
            correlation_uuid: e.correlation_type == "uuid",
            snapshots: s.snapshots.as_ref().map(|t| SnapshotView {
                table: ts_table(&t.table),
                aggregate: ts::string(&sql::ident_always(&t.aggregate)),
                aggregate_kind: ts_col(t.aggregate_kind.as_ref()),
                version: ts::string(&sql::ident_always(&t.version)),
                state: ts::string(&sql::ident_always(&t.state)),
            }),
            snapshot_every: s.snapshot_every,
            processors,
            projections: s.projections.iter().map(|p| projection_view(p, &events.names.route)).collect(),
            nats: s.publish == Publish::Nats,
            table_regclass: sql::string(&sql::table(&e.table)),
            route: events.names.route.clone(),
            versioned: events.versioned.value,
            permission: events.names.permission.clone(),
        }
    }
}
