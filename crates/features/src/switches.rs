//! Registry entries that are not feature folders: switches of the core CRUD (read-only routes,
//! soft delete, OpenAPI, versioned routes), which the core reads by id.

use nest_model::{FeatureDef, MetaSwitch, Resolve};
use nest_nestjs::Contribute;

/// A switch the core CRUD reads by id.
pub struct CoreSwitch(pub &'static FeatureDef);

impl Resolve for CoreSwitch {
    fn def(&self) -> &'static FeatureDef {
        self.0
    }
}

impl Contribute for CoreSwitch {}

const fn core(id: &'static str, about: &'static str, meta: MetaSwitch) -> FeatureDef {
    FeatureDef { id, about, meta, implemented: true }
}

pub static READONLY: FeatureDef = core("readonly", "only read routes", MetaSwitch::TableMetadata("is_readonly"));
pub static SOFT_DELETE: FeatureDef =
    core("soft-delete", "DELETE sets deleted_at; POST /:id/restore", MetaSwitch::TableMetadata("has_soft_delete"));
pub static SWAGGER: FeatureDef =
    core("swagger", "routes documented in OpenAPI", MetaSwitch::TableMetadata("enable_swagger"));
pub static VERSIONING: FeatureDef =
    core("versioning", "routes under /v1", MetaSwitch::TableMetadata("enable_versioning"));
pub static SELECT: FeatureDef = core(
    "select",
    "select=: chosen fields and embedded related rows on list and get (their answers are then typed as selections)",
    MetaSwitch::None,
);
pub static AGGREGATE: FeatureDef = core(
    "aggregate",
    "GET /<table>/aggregate: counts, sums, averages, minima, maxima per group and time bucket, with the list's filters",
    MetaSwitch::None,
);
pub static EXPORT: FeatureDef = core(
    "export",
    "GET /<table>/export: the list's rows streamed as CSV or NDJSON (a database cursor), or XLSX up to EXPORT_XLSX_MAX_ROWS",
    MetaSwitch::None,
);
