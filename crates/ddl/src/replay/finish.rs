//! Checks that need the whole input: foreign key targets (forward references are allowed),
//! column types, and an empty result.

use super::Replayer;
use nest_catalog::{Catalog, EXTENSION_TYPES, Location, QualifiedName, TypeRef, codes};

impl Replayer {
    /// Resolve every foreign key's target now that all tables are known.
    pub(crate) fn resolve(&mut self) {
        let checks = std::mem::take(&mut self.fk_checks);
        for fc in checks {
            let key = (fc.table.schema.clone(), fc.table.name.clone());
            let Some(t) = self.table_ref(&key) else {
                continue;
            };
            let Some(fk) = t.foreign_keys.iter().find(|f| f.name == fc.fk).cloned() else {
                continue;
            };
            if Self::is_tool_schema(&fk.references.schema) {
                continue;
            }
            let target_key = if fc.explicit_schema {
                let k = (fk.references.schema.clone(), fk.references.name.clone());
                self.table_index.contains_key(&k).then_some(k)
            } else {
                fc.search_path
                    .iter()
                    .map(String::as_str)
                    .chain(std::iter::once("public"))
                    .chain(std::iter::once(fc.table.schema.as_str()))
                    .map(|s| (s.to_string(), fk.references.name.clone()))
                    .find(|k| self.table_index.contains_key(k))
            };
            let Some(target_key) = target_key else {
                self.error(
                    codes::UNKNOWN_FK_TARGET,
                    fc.at.clone(),
                    format!(
                        "foreign key `{}` of `{}` references table `{}`, which never appears in the input",
                        fk.name, fc.table.name, fk.references.name
                    ),
                    "add the referenced table to the schema, or remove the REFERENCES clause",
                );
                continue;
            };
            let target = self.table_ref(&target_key).expect("exists").clone();
            let mut ref_cols = fk.referenced_columns.clone();
            if ref_cols.is_empty() {
                match &target.primary_key {
                    Some(pk) => ref_cols = pk.columns.clone(),
                    None => {
                        self.error(
                            codes::UNKNOWN_COLUMN,
                            fc.at.clone(),
                            format!("foreign key `{}` references `{}`, which has no primary key", fk.name, target.name),
                            "name the referenced columns: REFERENCES table (column)",
                        );
                        continue;
                    }
                }
            }
            if let Some(missing) = ref_cols.iter().find(|c| target.column(c).is_none()) {
                self.error(
                    codes::UNKNOWN_COLUMN,
                    fc.at.clone(),
                    format!(
                        "foreign key `{}` references column `{missing}`, which `{}` does not have",
                        fk.name, target.name
                    ),
                    "check the referenced column name",
                );
                continue;
            }
            if ref_cols.len() != fk.columns.len() {
                self.error(
                    codes::UNKNOWN_COLUMN,
                    fc.at.clone(),
                    format!(
                        "foreign key `{}` has {} column(s) but references {}",
                        fk.name,
                        fk.columns.len(),
                        ref_cols.len()
                    ),
                    "list as many referenced columns as referencing ones",
                );
                continue;
            }
            let references = QualifiedName::new(&target_key.0, &target_key.1);
            if let Some(t) = self.table_mut(&key)
                && let Some(f) = t.foreign_keys.iter_mut().find(|f| f.name == fc.fk)
            {
                f.references = references;
                f.referenced_columns = ref_cols;
            }
        }
    }

    /// Checks over the finished catalog: every column type must be known.
    pub(crate) fn validate(&mut self, c: &mut Catalog) {
        let known_exts: Vec<&str> = EXTENSION_TYPES.iter().map(|(e, _)| *e).collect();
        let foreign_ext = c.extensions.iter().any(|e| !known_exts.contains(&e.name.as_str()));
        // An unqualified type not on the search path where it was used (created under another
        // file's SET search_path, found at run time through the database's or role's setting):
        // when exactly one schema has a type of that name, it is that one, as the database has it.
        let mut qualified = Vec::new();
        for (ti, t) in c.tables.iter().enumerate() {
            for (ci, col) in t.columns.iter().enumerate() {
                if col.ty.schema.is_some() || c.resolve_type(&col.ty) != TypeRef::Unknown {
                    continue;
                }
                let schemas: std::collections::BTreeSet<&str> = c
                    .enums
                    .iter()
                    .map(|e| (e.schema.as_str(), e.name.as_str()))
                    .chain(c.domains.iter().map(|d| (d.schema.as_str(), d.name.as_str())))
                    .chain(c.composite_types.iter().map(|d| (d.schema.as_str(), d.name.as_str())))
                    .filter(|(_, n)| *n == col.ty.name)
                    .map(|(s, _)| s)
                    .collect();
                if let [only] = schemas.into_iter().collect::<Vec<_>>()[..] {
                    qualified.push((ti, ci, only.to_string(), t.origin.clone().unwrap_or_default()));
                }
            }
        }
        for (ti, ci, schema, at) in qualified {
            let table = &mut c.tables[ti];
            let column = &mut table.columns[ci];
            let written = column.ty.name.clone();
            column.ty.schema = Some(schema.clone());
            let (tn, cn) = (table.name.clone(), column.name.clone());
            self.info(
                codes::UNKNOWN_TYPE,
                at,
                format!("column `{tn}.{cn}`: type `{written}` is not on the search path here; read as `{schema}.{written}`, the only type of that name"),
            );
        }
        let mut found = Vec::new();
        for t in &c.tables {
            for col in &t.columns {
                if c.resolve_type(&col.ty) == TypeRef::Unknown {
                    found.push((
                        t.origin.clone().unwrap_or_default(),
                        t.name.clone(),
                        col.name.clone(),
                        col.ty.to_string(),
                    ));
                }
            }
        }
        for (at, table, col, ty) in found {
            let msg =
                format!("column `{table}.{col}` has type `{ty}`, which is neither built in nor declared in the input");
            if foreign_ext {
                self.warn(
                    codes::UNKNOWN_TYPE,
                    at,
                    format!("{msg}; an extension created in the input may provide it"),
                    "it is treated as text",
                );
            } else {
                self.error(
                    codes::UNKNOWN_TYPE,
                    at,
                    msg,
                    "declare it (CREATE TYPE / CREATE DOMAIN / CREATE EXTENSION) before the table, or fix the spelling",
                );
            }
        }
        if c.tables.is_empty() && !self.has_errors() {
            let at = Location { file: self.file.clone(), line: 1, column: 1 };
            self.warn(
                codes::EMPTY_SCHEMA,
                at,
                "the input defines no table",
                "pass the file or folder that holds your CREATE TABLE statements",
            );
        }
    }
}
