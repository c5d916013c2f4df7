//! Import lines of generated TypeScript: names merged per module, packages first, then relative
//! paths, each group sorted.

use crate::contribute::Import;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One `import { names } from 'from';` line.
#[derive(Debug, Clone, Serialize)]
pub struct ImportLine {
    pub names: String,
    pub from: String,
}

const SWAGGER: &str = "@nestjs/swagger";

/// The decorators `core/crud/deferred-docs.ts` exports (a test checks the file against this list).
pub const DEFERRED_DOCS: &[&str] = &[
    "ApiBadRequestResponse",
    "ApiBearerAuth",
    "ApiBody",
    "ApiConflictResponse",
    "ApiConsumes",
    "ApiCreatedResponse",
    "ApiExcludeController",
    "ApiExcludeEndpoint",
    "ApiExtension",
    "ApiExtraModels",
    "ApiForbiddenResponse",
    "ApiGoneResponse",
    "ApiHeader",
    "ApiNoContentResponse",
    "ApiNotFoundResponse",
    "ApiNotImplementedResponse",
    "ApiOkResponse",
    "ApiOperation",
    "ApiParam",
    "ApiPayloadTooLargeResponse",
    "ApiPreconditionFailedResponse",
    "ApiProduces",
    "ApiQuery",
    "ApiResponse",
    "ApiSecurity",
    "ApiServiceUnavailableResponse",
    "ApiTags",
    "ApiTooManyRequestsResponse",
    "ApiUnauthorizedResponse",
    "ApiUnprocessableEntityResponse",
    "ApiUnsupportedMediaTypeResponse",
];

/// Names to import, by module.
#[derive(Debug, Default, Clone)]
pub struct ImportSet {
    by_module: BTreeMap<String, BTreeSet<String>>,
}

impl ImportSet {
    pub fn add(&mut self, name: &str, from: &str) {
        self.by_module.entry(from.to_string()).or_default().insert(name.to_string());
    }

    pub fn extend<'a>(&mut self, imports: impl IntoIterator<Item = &'a Import>) {
        for i in imports {
            self.add(&i.name, &i.from);
        }
    }

    /// Takes the `@nestjs/swagger` decorators that `core/crud/deferred-docs.ts` defers from there
    /// instead (`to`: its path from the importing file), so a table's controller records its
    /// OpenAPI metadata for the first document build rather than making it at boot.
    pub fn defer_docs(&mut self, to: &str) {
        let Some(names) = self.by_module.get_mut(SWAGGER) else { return };
        let moved: Vec<String> = names.iter().filter(|n| DEFERRED_DOCS.contains(&n.as_str())).cloned().collect();
        for n in &moved {
            names.remove(n);
        }
        if names.is_empty() {
            self.by_module.remove(SWAGGER);
        }
        for n in moved {
            self.add(&n, to);
        }
    }

    pub fn lines(&self) -> Vec<ImportLine> {
        let mut modules: Vec<(&String, &BTreeSet<String>)> = self.by_module.iter().collect();
        modules.sort_by_key(|(from, _)| (from.starts_with('.'), from.as_str()));
        modules
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(from, names)| ImportLine {
                names: names.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
                from: from.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_first_then_paths_names_merged_and_sorted() {
        let mut s = ImportSet::default();
        s.add("Get", "@nestjs/common");
        s.add("X", "./x.js");
        s.add("Controller", "@nestjs/common");
        s.add("A", "../../core/a.js");
        s.add("IsString", "class-validator");
        let lines: Vec<String> = s.lines().into_iter().map(|l| format!("{} <- {}", l.names, l.from)).collect();
        assert_eq!(
            lines,
            ["Controller, Get <- @nestjs/common", "IsString <- class-validator", "A <- ../../core/a.js", "X <- ./x.js"]
        );
    }

    #[test]
    fn swagger_decorators_are_taken_from_the_deferring_module_and_the_rest_stay() {
        let mut s = ImportSet::default();
        s.add("ApiTags", SWAGGER);
        s.add("ApiHeader", SWAGGER);
        s.add("getSchemaPath", SWAGGER);
        s.defer_docs("../../core/crud/deferred-docs.js");
        let lines: Vec<String> = s.lines().into_iter().map(|l| format!("{} <- {}", l.names, l.from)).collect();
        assert_eq!(
            lines,
            ["getSchemaPath <- @nestjs/swagger", "ApiHeader, ApiTags <- ../../core/crud/deferred-docs.js"]
        );
        let mut only = ImportSet::default();
        only.add("ApiTags", SWAGGER);
        only.defer_docs("../../core/crud/deferred-docs.js");
        assert!(only.lines().iter().all(|l| l.from != SWAGGER), "no empty swagger import is left");
    }

    #[test]
    fn the_deferring_module_exports_exactly_the_listed_decorators() {
        let file = include_str!("../templates/static/src/core/crud/deferred-docs.ts");
        let exported: Vec<&str> = file
            .lines()
            .filter_map(|l| l.strip_prefix("export const "))
            .filter_map(|l| l.split_once(" = deferred(swagger."))
            .map(|(name, rest)| {
                assert_eq!(rest, format!("{name});"), "{name} wraps the swagger decorator of its own name");
                name
            })
            .collect();
        assert_eq!(exported, DEFERRED_DOCS);
    }
}
