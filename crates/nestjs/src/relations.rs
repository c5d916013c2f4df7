//! The foreign keys between a project's resources, seen from one resource: what `select=` can
//! embed (the runtime's `RelationSpec`, core/crud/resource.ts). Names are derived from the
//! schema and made unique within the resource:
//! - to one row (this table holds the key): the key column without `_id` (`organization_id` ->
//!   `organization`), or the column and the target (`created_by` -> `createdByUser`), or the
//!   target (`order`, composite keys);
//! - to many rows (another table's key points here): the target's plural (`projects`), with
//!   `By<Columns>` when the target points here more than once (`filesByOwnerId`).
//!
//! A name taken by a field or an earlier relation falls back to the constraint's name in
//! camelCase, then to that name with a number.

use crate::layout::Doc;
use nest_catalog::QualifiedName;
use nest_catalog::quote as sql;
use nest_model::names::{camel, pascal};
use nest_model::{Model, Reference, Resource};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub name: String,
    pub many: bool,
    /// The target's quoted table, as its spec's `table`.
    pub target: String,
    pub target_name: String,
    pub constraint: String,
    /// (this table's column, the target's column)
    pub columns: Vec<(String, String)>,
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

fn table_of(r: &Resource) -> String {
    format!("{}.{}", sql::ident_always(&r.schema), sql::ident_always(&r.table))
}

/// Every resource's relations to the others (both directions), named; in the order of
/// `m.resources`.
pub fn all(m: &Model) -> Vec<Vec<Relation>> {
    let index: HashMap<(&str, &str), usize> =
        m.resources.iter().enumerate().map(|(i, r)| ((r.schema.as_str(), r.table.as_str()), i)).collect();
    let find = |q: &QualifiedName| index.get(&(q.schema.as_str(), q.name.as_str())).copied();
    // Keys pointing at each resource: (the resource holding the key, the key).
    let mut back: Vec<Vec<(usize, &Reference)>> = vec![Vec::new(); m.resources.len()];
    for (i, r) in m.resources.iter().enumerate() {
        for f in &r.references {
            if let Some(t) = find(&f.table) {
                back[t].push((i, f));
            }
        }
    }
    m.resources.iter().enumerate().map(|(i, r)| of(m, r, find, &back[i])).collect()
}

fn of(
    m: &Model,
    r: &Resource,
    find: impl Fn(&QualifiedName) -> Option<usize>,
    back: &[(usize, &Reference)],
) -> Vec<Relation> {
    let mut out: Vec<(String, Relation)> = Vec::new();
    for f in &r.references {
        let Some(t) = find(&f.table).map(|t| &m.resources[t]) else { continue };
        let base = match f.columns.as_slice() {
            [c] if c.len() > 3 && c.to_lowercase().ends_with("_id") => camel(&c[..c.len() - 3]),
            [c] => format!("{}{}", camel(c), t.names.class),
            _ => lower_first(&t.names.class),
        };
        out.push((
            base,
            Relation {
                name: String::new(),
                many: false,
                target: table_of(t),
                target_name: lower_first(&t.names.plural_class),
                constraint: f.name.clone(),
                columns: f.columns.iter().cloned().zip(f.referenced.iter().cloned()).collect(),
            },
        ));
    }
    for &(o, f) in back {
        let o = &m.resources[o];
        let plural = lower_first(&o.names.plural_class);
        let several = back.iter().filter(|(x, _)| std::ptr::eq(&m.resources[*x], o)).count() > 1;
        let base = if several { format!("{plural}By{}", pascal(&f.columns.join("_"))) } else { plural.clone() };
        out.push((
            base,
            Relation {
                name: String::new(),
                many: true,
                target: table_of(o),
                target_name: plural,
                constraint: f.name.clone(),
                columns: f.referenced.iter().cloned().zip(f.columns.iter().cloned()).collect(),
            },
        ));
    }
    let mut taken: Vec<String> = r.fields.iter().map(|f| f.property.clone()).collect();
    out.into_iter()
        .map(|(base, mut rel)| {
            let mut name = base;
            if taken.contains(&name) {
                name = camel(&rel.constraint);
            }
            let stem = name.clone();
            let mut i = 2;
            while taken.contains(&name) {
                name = format!("{stem}{i}");
                i += 1;
            }
            taken.push(name.clone());
            rel.name = name;
            rel
        })
        .collect()
}

/// `relations: [...]` of a resource spec (empty when it has none).
pub fn relations_block(rels: &[Relation]) -> String {
    if rels.is_empty() {
        return String::new();
    }
    let items = rels
        .iter()
        .map(|x| {
            let columns = x
                .columns
                .iter()
                .map(|(a, b)| Doc::array(vec![Doc::string(a), Doc::string(b)], false))
                .collect::<Vec<_>>();
            Doc::object_of(
                [
                    ("name", Doc::string(&x.name)),
                    ("kind", Doc::text(if x.many { "'many'" } else { "'one'" })),
                    ("target", Doc::string(&x.target)),
                    ("targetName", Doc::string(&x.target_name)),
                    ("constraint", Doc::string(&x.constraint)),
                    ("columns", Doc::array(columns, false)),
                ],
                false,
            )
        })
        .collect();
    crate::layout::print(&Doc::prop("relations", Doc::array(items, true)), 2, 2, ",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_first_keeps_the_rest() {
        assert_eq!(super::lower_first("OrganizationUsers"), "organizationUsers");
        assert_eq!(super::lower_first(""), "");
    }

    #[test]
    fn a_relation_block_is_an_array_of_objects() {
        let r = super::Relation {
            name: "organization".into(),
            many: false,
            target: "\"public\".\"organizations\"".into(),
            target_name: "organizations".into(),
            constraint: "projects_organization_id_fkey".into(),
            columns: vec![("organization_id".into(), "id".into())],
        };
        let block = super::relations_block(&[r]);
        assert!(block.starts_with("relations: [\n    {\n      name: 'organization',"), "{block}");
        assert!(block.contains("columns: [['organization_id', 'id']],"), "{block}");
    }
}
