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
}
