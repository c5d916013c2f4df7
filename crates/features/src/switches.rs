//! Registry entries that are not feature folders: switches of the core CRUD (read-only routes,
//! soft delete, OpenAPI, versioned routes), which the core reads by id, and features planned but
//! not built yet (accepted as flags, recorded, and reported on every run).

use nest_model::{FeatureDef, MetaSwitch, Resolve};
use nest_nestjs::Contribute;

/// A switch the core CRUD reads by id.
pub struct CoreSwitch(pub &'static FeatureDef);

/// A feature this version accepts but does not build yet.
pub struct Planned(pub &'static FeatureDef);

impl Resolve for CoreSwitch {
    fn def(&self) -> &'static FeatureDef {
        self.0
    }
}

impl Contribute for CoreSwitch {}

impl Resolve for Planned {
    fn def(&self) -> &'static FeatureDef {
        self.0
    }
}

impl Contribute for Planned {}

const fn core(id: &'static str, about: &'static str, meta: MetaSwitch) -> FeatureDef {
    FeatureDef { id, about, meta, implemented: true }
}

const fn planned(id: &'static str, about: &'static str, meta: MetaSwitch) -> FeatureDef {
    FeatureDef { id, about, meta, implemented: false }
}

pub static READONLY: FeatureDef = core("readonly", "only read routes", MetaSwitch::TableMetadata("is_readonly"));
pub static SOFT_DELETE: FeatureDef =
    core("soft-delete", "DELETE sets deleted_at; POST /:id/restore", MetaSwitch::TableMetadata("has_soft_delete"));
pub static SWAGGER: FeatureDef =
    core("swagger", "routes documented in OpenAPI", MetaSwitch::TableMetadata("enable_swagger"));
pub static VERSIONING: FeatureDef =
    core("versioning", "routes under /v1", MetaSwitch::TableMetadata("enable_versioning"));
pub static CACHE: FeatureDef = planned("cache", "cached read responses", MetaSwitch::TableMetadata("cache_enabled"));
