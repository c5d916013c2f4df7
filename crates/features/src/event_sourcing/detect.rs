//! The event store's tables, by shape (seed scenario 4): the events table (an aggregate id and a
//! version unique together, an event type, a JSON payload), the snapshot table (aggregate,
//! version, JSON state), the processor checkpoint table, and projection tables (a
//! `last_event_version` column). Column names can be given in the config (`event_columns`).

use crate::schema::{bare_type, first, single_key, type_name, unique_keys};
use nest_catalog::{QualifiedName, Table};
use serde::Serialize;
use std::collections::BTreeMap;

/// The events table and the role of each of its columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventStore {
    pub table: QualifiedName,
    pub id: String,
    pub id_type: String,
    /// The stream: the aggregate the event belongs to.
    pub aggregate: String,
    pub aggregate_type: String,
    /// The aggregate's kind (`User`, `Order`), when the table records it.
    pub aggregate_kind: Option<String>,
    pub aggregate_kind_max: Option<u32>,
    /// 1, 2, 3, ... within a stream; unique together with `aggregate`.
    pub version: String,
    pub event_type: String,
    pub event_type_max: Option<u32>,
    /// The payload (json or jsonb).
    pub data: String,
    pub metadata: Option<String>,
    pub causation: Option<String>,
    pub causation_type: String,
    pub correlation: Option<String>,
    pub correlation_type: String,
    /// Who appended it (the signed-in user) and what kind of actor that is.
    pub actor: Option<String>,
    pub actor_type: String,
    pub actor_kind: Option<String>,
    pub occurred_at: Option<String>,
}

/// Snapshots of aggregate state: `(aggregate, version)` unique, a JSON state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotTable {
    pub table: QualifiedName,
    pub aggregate: String,
    pub aggregate_kind: Option<String>,
    pub version: String,
    pub state: String,
}

/// Processor checkpoints: one row per processor (its name is the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessorTable {
    pub table: QualifiedName,
    pub id: String,
    /// The last event the processor handled (its id; the position is looked up from it).
    pub last_event: String,
    pub last_at: Option<String>,
    pub status: Option<String>,
    pub error: Option<String>,
    pub updated_at: Option<String>,
}

/// The column names the config gives (`[tables.events] event_columns = { aggregate = "...", ... }`).
pub type Overrides = BTreeMap<String, String>;

/// What each role may be called, most likely first.
const ROLES: &[(&str, &[&str])] = &[
    ("aggregate", &["aggregate_id", "stream_id", "entity_id", "aggregate"]),
    ("version", &["version", "aggregate_version", "stream_version", "sequence", "seq"]),
    ("type", &["event_type", "type", "event_name", "name", "kind"]),
    ("data", &["event_data", "data", "payload", "body"]),
    ("metadata", &["event_metadata", "metadata", "meta"]),
    ("causation", &["causation_id"]),
    ("correlation", &["correlation_id"]),
    ("actor", &["actor_id"]),
    ("actor_kind", &["actor_type"]),
    ("aggregate_kind", &["aggregate_type", "stream_type", "entity_type"]),
    ("occurred_at", &["occurred_at", "created_at", "recorded_at", "timestamp"]),
];

/// The roles `event_columns` may name.
pub fn role_names() -> impl Iterator<Item = &'static str> {
    ROLES.iter().map(|(r, _)| *r)
}

fn role(t: &Table, overrides: &Overrides, name: &str) -> Option<String> {
    if let Some(c) = overrides.get(name) {
        return t.column(c).map(|_| c.clone());
    }
    let names = ROLES.iter().find(|(r, _)| *r == name).map(|(_, n)| *n).unwrap_or_default();
    first(t, names)
}

fn is_json(t: &Table, c: &str) -> bool {
    matches!(type_name(t, c), Some("json" | "jsonb"))
}

fn is_int(t: &Table, c: &str) -> bool {
    matches!(type_name(t, c), Some("integer" | "bigint" | "smallint"))
}

fn is_text(t: &Table, c: &str) -> bool {
    matches!(type_name(t, c), Some("text" | "character varying" | "character" | "citext"))
}

fn max_length(t: &Table, c: &str) -> Option<u32> {
    t.column(c).and_then(|col| col.ty.max_length())
}

/// `t` as an event store, or what it lacks.
pub fn event_store(t: &Table, overrides: &Overrides) -> Result<EventStore, Vec<String>> {
    let mut missing = Vec::new();
    let id = single_key(t);
    if id.is_none() {
        missing.push("a single-column primary key (the event id)".to_string());
    }
    let aggregate = role(t, overrides, "aggregate");
    let version = role(t, overrides, "version").filter(|c| is_int(t, c));
    let event_type = role(t, overrides, "type").filter(|c| is_text(t, c));
    let data = role(t, overrides, "data").filter(|c| is_json(t, c));
    if aggregate.is_none() {
        missing.push("an aggregate id column (aggregate_id)".into());
    }
    if version.is_none() {
        missing.push("an integer version column (version)".into());
    }
    if event_type.is_none() {
        missing.push("a text event type column (event_type)".into());
    }
    if data.is_none() {
        missing.push("a json or jsonb payload column (event_data)".into());
    }
    if let (Some(a), Some(v)) = (&aggregate, &version) {
        let pair = unique_keys(t).into_iter().any(|k| k.len() == 2 && k.contains(a) && k.contains(v));
        if !pair {
            missing.push(format!("UNIQUE ({a}, {v}): one event per version of a stream"));
        }
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let (id, aggregate, version, event_type, data) =
        (id.unwrap(), aggregate.unwrap(), version.unwrap(), event_type.unwrap(), data.unwrap());
    let causation = role(t, overrides, "causation");
    let correlation = role(t, overrides, "correlation");
    let actor = role(t, overrides, "actor");
    let aggregate_kind = role(t, overrides, "aggregate_kind").filter(|c| is_text(t, c));
    Ok(EventStore {
        table: t.qualified_name(),
        id_type: bare_type(t, &id, "uuid"),
        aggregate_type: bare_type(t, &aggregate, "uuid"),
        aggregate_kind_max: aggregate_kind.as_ref().and_then(|c| max_length(t, c)),
        aggregate_kind,
        event_type_max: max_length(t, &event_type),
        metadata: role(t, overrides, "metadata").filter(|c| is_json(t, c)),
        causation_type: causation.as_ref().map(|c| bare_type(t, c, "text")).unwrap_or_else(|| "text".into()),
        causation,
        correlation_type: correlation.as_ref().map(|c| bare_type(t, c, "text")).unwrap_or_else(|| "text".into()),
        correlation,
        actor_type: actor.as_ref().map(|c| bare_type(t, c, "text")).unwrap_or_else(|| "text".into()),
        actor,
        actor_kind: role(t, overrides, "actor_kind").filter(|c| is_text(t, c)),
        occurred_at: role(t, overrides, "occurred_at")
            .filter(|c| type_name(t, c).is_some_and(|n| n.starts_with("timestamp"))),
        id,
        aggregate,
        version,
        event_type,
        data,
    })
}

/// `t` as the snapshot table of `store`.
pub fn snapshot_table(t: &Table, store: &EventStore) -> Option<SnapshotTable> {
    if t.qualified_name() == store.table {
        return None;
    }
    let aggregate = first(t, &[&store.aggregate, "aggregate_id", "stream_id"])?;
    let version = first(t, &["version", "aggregate_version", "stream_version"]).filter(|c| is_int(t, c))?;
    let state = first(t, &["state", "snapshot", "data"]).filter(|c| is_json(t, c))?;
    unique_keys(t).into_iter().any(|k| k.len() == 2 && k.contains(&aggregate) && k.contains(&version)).then(|| {
        SnapshotTable {
            table: t.qualified_name(),
            aggregate_kind: first(t, &["aggregate_type", "stream_type"]).filter(|c| is_text(t, c)),
            aggregate,
            version,
            state,
        }
    })
}

/// `t` as the processor checkpoint table: a text key and the last processed event.
pub fn processor_table(t: &Table, store: &EventStore) -> Option<ProcessorTable> {
    let id = single_key(t).filter(|k| is_text(t, k))?;
    let last_event = first(t, &["last_processed_event_id", "last_event_id", "checkpoint_event_id"])
        .filter(|c| bare_type(t, c, "") == store.id_type)?;
    Some(ProcessorTable {
        table: t.qualified_name(),
        id,
        last_event,
        last_at: first(t, &["last_processed_at", "last_event_at"]),
        status: first(t, &["status", "state"]).filter(|c| is_text(t, c)),
        error: first(t, &["error_message", "last_error", "error"]).filter(|c| is_text(t, c)),
        updated_at: first(t, &["updated_at"]),
    })
}

/// The column of a projection table that records the last event version it applied.
pub fn projection_version(t: &Table) -> Option<String> {
    first(t, &["last_event_version", "last_version", "event_version"]).filter(|c| is_int(t, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sql: &str) -> Table {
        let c = nest_ddl::parse_str("t.sql", sql);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        c.tables.into_iter().next().unwrap()
    }

    #[test]
    fn the_seed_shape_and_what_a_table_lacks() {
        let t = table(
            "CREATE TABLE events (id uuid PRIMARY KEY, event_type varchar(100) NOT NULL, aggregate_id uuid NOT NULL,
               aggregate_type varchar(100) NOT NULL, event_data jsonb NOT NULL, event_metadata jsonb DEFAULT '{}',
               causation_id uuid, correlation_id uuid, version integer NOT NULL, actor_id uuid, actor_type varchar(50),
               occurred_at timestamp DEFAULT now(), UNIQUE (aggregate_id, version));",
        );
        let s = event_store(&t, &Overrides::new()).unwrap();
        assert_eq!(
            (s.aggregate.as_str(), s.version.as_str(), s.event_type.as_str()),
            ("aggregate_id", "version", "event_type")
        );
        assert_eq!(s.event_type_max, Some(100));
        assert_eq!(s.aggregate_kind.as_deref(), Some("aggregate_type"));
        assert_eq!(s.causation_type, "uuid");
        let t = table("CREATE TABLE log (id bigserial PRIMARY KEY, stream text, n int, kind text, body jsonb);");
        let missing = event_store(&t, &Overrides::new()).unwrap_err();
        assert!(missing.iter().any(|m| m.contains("aggregate id")), "{missing:?}");
        // The config names the columns; the unique pair is still required.
        let o: Overrides =
            [("aggregate", "stream"), ("version", "n")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let missing = event_store(&t, &o).unwrap_err();
        assert_eq!(missing, ["UNIQUE (stream, n): one event per version of a stream"]);
        let t = table(
            "CREATE TABLE log (id bigserial PRIMARY KEY, stream text, n int, kind text, body jsonb, UNIQUE (n, stream));",
        );
        let s = event_store(&t, &o).unwrap();
        assert_eq!((s.aggregate.as_str(), s.data.as_str(), s.id_type.as_str()), ("stream", "body", "bigint"));
    }
}
