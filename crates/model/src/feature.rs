//! Features, model side: what a feature is (its flag, its metadata switch), how it resolves its
//! part of the Model (which tables, which settings, its own typed state), and where that state
//! is kept. The features themselves live in the `nest-features` crate, one folder each; the
//! registry there lists them, and everything here is driven by that list.

use crate::error::ModelError;
use crate::settings::{Config, ConfigKey};
use crate::{Model, Resource};
use nest_catalog::{Catalog, Table};
use serde::Serialize;
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// Where in the seed's metadata tables a feature's switch lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaSwitch {
    /// A column of `meta.table_metadata`.
    TableMetadata(&'static str),
    /// A column of `meta.enterprise_features`.
    EnterpriseFeatures(&'static str),
    /// A column that may be in either table (`table_metadata` wins when it is set there).
    Either(&'static str),
    /// No metadata column: flags, config and inference only.
    None,
}

/// A feature as flags, config and metadata name it.
#[derive(Debug, Clone, Copy)]
pub struct FeatureDef {
    /// The name flags and config use (`--features.<id>=true`), as the seed writes them.
    pub id: &'static str,
    /// One line for the CLI help and `explain`.
    pub about: &'static str,
    pub meta: MetaSwitch,
    /// This version generates it; otherwise it is accepted, recorded and reported.
    pub implemented: bool,
}

/// A feature's own part of the Model: any serializable type (one per feature). Emitters read it
/// back by type; snapshots serialize it.
pub trait FeatureState: Any + Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn to_json(&self) -> serde_json::Value;
}

impl<T: Any + Debug + Send + Sync + Serialize> FeatureState for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|e| serde_json::Value::String(format!("unserializable: {e}")))
    }
}

/// The states of the features a project uses, by feature id.
#[derive(Debug, Default)]
pub struct FeatureStates {
    entries: Vec<(&'static str, Box<dyn FeatureState>)>,
}

impl FeatureStates {
    /// Set feature `id`'s state (replacing an earlier one).
    pub fn insert<T: FeatureState>(&mut self, id: &'static str, state: T) {
        self.entries.retain(|(k, _)| *k != id);
        self.entries.push((id, Box::new(state)));
    }

    /// The state of type `T`, if a feature set one.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.entries.iter().find_map(|(_, s)| s.as_any().downcast_ref::<T>())
    }

    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.entries.iter_mut().find_map(|(_, s)| s.as_any_mut().downcast_mut::<T>())
    }

    /// Ids of the features that hold a state (those the project uses), in resolution order.
    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|(k, _)| *k)
    }
}

impl Serialize for FeatureStates {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, serde_json::Value> = self.entries.iter().map(|(k, v)| (*k, v.to_json())).collect();
        map.serialize(s)
    }
}

/// What a feature's resolution works on: the input, the core resources (which it may adjust:
/// fields, operations, notes, feature settings) and the states of the features resolved before it.
pub struct ModelCx<'a> {
    pub catalog: &'a Catalog,
    pub config: &'a Config,
    pub resources: Vec<Resource>,
    pub states: FeatureStates,
    pub errors: Vec<ModelError>,
    /// Why a setting a policy reads matters (`app.current_org_id` → "it is the tenant setting"),
    /// for the note about schema policies that read settings the app does not set.
    pub setting_hints: BTreeMap<String, String>,
    /// Permissions features define besides those of the routes.
    pub permissions: Vec<crate::Permission>,
}

impl ModelCx<'_> {
    /// The catalog table of a resource.
    pub fn table(&self, r: &Resource) -> Option<&Table> {
        self.catalog.table(&r.schema, &r.table)
    }

    pub fn state<T: 'static>(&self) -> Option<&T> {
        self.states.get::<T>()
    }

    pub fn error(&mut self, e: ModelError) {
        self.errors.push(e);
    }
}

/// The model side of a feature. Every method but `def` has a default that does nothing.
pub trait Resolve: Sync {
    fn def(&self) -> &'static FeatureDef;

    /// Config keys this feature reads (`[tables.t] key`, `[section] key`, column keys); the config
    /// file is checked against them.
    fn config_keys(&self) -> &'static [ConfigKey] {
        &[]
    }

    /// Find its tables and settings, adjust the resources, store its state. Runs in registry
    /// order, after the core resources are built.
    fn resolve(&self, _cx: &mut ModelCx) {}

    /// Lines `explain` prints for a resource (what the feature recognised).
    fn explain(&self, _m: &Model, _r: &Resource) -> Vec<String> {
        Vec::new()
    }
}
