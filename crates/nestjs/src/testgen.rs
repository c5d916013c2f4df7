//! The generated project's own tests (`npm test`): for each table, what can be checked without
//! knowing the data — its list answers, an unknown key is 404, and, when a valid row can be made
//! from the schema alone, a row's whole life over HTTP (rows it references made first).
//!
//! A row can be made when every field a create needs has a value the schema determines: a type
//! with a sample (text within its lengths, numbers, dates, ...), an allowed value (enum, CHECK
//! ... IN), a format (email, URL, phone), or a reference to another table whose rows can be made
//! (single-column keys). A CHECK the generator does not understand on such a field, a type
//! without a sample, or a reference it cannot follow leaves the table without write tests; the
//! generated file says why, and the user's own test file is the place for them.

use crate::quote as ts;
use nest_model::{Access, FieldKind, Format, Model, Resource};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

#[derive(Serialize)]
pub struct TestsView {
    /// Every table that can make rows (the tests make referenced rows through them).
    pub samples: Vec<Sample>,
    /// A sample calls randomUUID().
    pub uses_uuid: bool,
    /// Some table has write tests.
    pub writes: bool,
    /// Some write test reads SAMPLES (its key or change).
    pub reads_samples: bool,
    /// Features' setup steps, in order.
    pub setup: Vec<crate::contribute::TestSetup>,
    pub resources: Vec<ResourceTest>,
}

#[derive(Serialize, Clone)]
pub struct Sample {
    /// The resource's file name (`organization-users`), the key of SAMPLES.
    pub name: String,
    pub route: String,
    /// The key properties of a created row, in the route's order (a TypeScript array).
    pub keys: String,
    /// Property and TypeScript expression of each field a create needs (`n` numbers the row).
    pub fields: Vec<(String, String)>,
    /// Another writable field and a second value for it (the update step).
    pub change: Option<(String, String)>,
    /// A field's value reads `row` (its number or a parent).
    pub uses_row: bool,
}

#[derive(Serialize)]
pub struct ResourceTest {
    pub name: String,
    pub human: String,
    pub route: String,
    /// A path naming a key no row has (tables with a get route).
    pub missing: Option<String>,
    /// Its sample, when rows can be made.
    pub writes: bool,
    pub key_filter: Option<String>,
    pub update: bool,
    pub delete: bool,
    pub restore: bool,
    pub if_match: bool,
    /// Why there are no write tests, when there are none and the table takes creates.
    pub why_not: Option<String>,
}

/// The path of a resource's routes (`/v1/...` when versioned).
pub fn route(r: &Resource) -> String {
    if r.versioned.value { format!("/v1/{}", r.names.route) } else { format!("/{}", r.names.route) }
}

/// A value the key of a row cannot have (within its type's range), for the 404 test.
fn missing_key(f: &nest_model::Field) -> Option<&'static str> {
    match f.kind {
        FieldKind::Uuid => Some("00000000-0000-4000-8000-00000000dead"),
        FieldKind::Int if f.int_bits == 16 => Some("32000"),
        FieldKind::Int | FieldKind::BigInt => Some("2147480000"),
        FieldKind::Text if f.values.is_empty() && f.max_length.is_none_or(|m| m >= 11) => Some("no-such-key"),
        _ => None,
    }
}

/// A TypeScript expression for a field's sample value (`n` numbers the row, `m` the change).
pub fn sample(f: &nest_model::Field, n: &str) -> Result<String, String> {
    if !f.values.is_empty() {
        let v = ts::string(&f.values[0]);
        return Ok(if f.array { format!("[{v}]") } else { v });
    }
    if f.array {
        return Ok("[]".into());
    }
    let text = |base: String| -> String {
        let (min, max) = (f.min_length.unwrap_or(0), f.max_length.unwrap_or(200));
        format!("text({base}, {min}, {max})")
    };
    Ok(match (f.kind, f.format) {
        (FieldKind::Text, Some(Format::Email)) => format!("`t${{{n}}}@example.com`"),
        (FieldKind::Text, Some(Format::Url)) => format!("`https://example.com/${{{n}}}`"),
        (FieldKind::Text, Some(Format::Phone)) => format!("`+1415555${{1000 + {n}}}`"),
        (FieldKind::Text, None) => text(format!("`{}-${{{n}}}`", f.property)),
        (FieldKind::Uuid, _) => "randomUUID()".into(),
        (FieldKind::Int, _) => format!("({n} % 30000) + 1"),
        (FieldKind::BigInt, _) => format!("String({n})"),
        (FieldKind::Decimal, _) => match f.precision {
            Some((p, s)) if p - s < 6 => "'1'".into(),
            _ => format!("String({n})"),
        },
        (FieldKind::Float, _) => format!("{n} + 0.5"),
        (FieldKind::Bool, _) => "true".into(),
        (FieldKind::Date, _) => "'2024-01-02'".into(),
        (FieldKind::Timestamp, _) => "'2024-01-02T03:04:05Z'".into(),
        (FieldKind::Time, _) => {
            if f.with_zone {
                "'12:34:56+00'".into()
            } else {
                "'12:34:56'".into()
            }
        }
        (FieldKind::Json, _) => "{}".into(),
        (FieldKind::Interval, _) => "'1 hour'".into(),
        (FieldKind::Other, _) if f.sql_type.name == "inet" => format!("`192.0.2.${{({n} % 250) + 1}}`"),
        (FieldKind::Other, _) if f.sql_type.name == "cidr" => format!("`10.${{{n} % 250}}.0.0/16`"),
        (FieldKind::Other, _) if f.sql_type.name == "macaddr" => "'08:00:2b:01:02:03'".into(),
        (kind, _) => return Err(format!("{} has no sample value ({})", f.column, kind.runtime_name())),
    })
}

/// Whether a CHECK expression only lists allowed values (those become `values`) or bounds a
/// number from below at zero or one, which the samples respect.
fn understood(check: &str) -> bool {
    let c = check.to_ascii_lowercase().replace(['(', ')'], " ");
    let c = c.split_whitespace().collect::<Vec<_>>().join(" ");
    c.contains(" in ") || c.contains("= any") || [" > 0", " >= 0", " >= 1", " > -1"].iter().any(|b| c.ends_with(b))
}

struct Planner<'a> {
    m: &'a Model,
    plans: HashMap<String, Result<Sample, String>>,
    visiting: Vec<String>,
}

impl Planner<'_> {
    fn plan(&mut self, r: &Resource) -> Result<Sample, String> {
        if let Some(p) = self.plans.get(&r.names.file) {
            return p.clone();
        }
        if self.visiting.contains(&r.names.file) {
            return Err(format!("{} references itself through required keys", r.table));
        }
        self.visiting.push(r.names.file.clone());
        let result = self.build(r);
        self.visiting.pop();
        self.plans.insert(r.names.file.clone(), result.clone());
        result
    }

    fn build(&mut self, r: &Resource) -> Result<Sample, String> {
        if !r.operations.create {
            return Err(format!("{} takes no creates", r.table));
        }
        if r.key.is_empty() {
            return Err(format!("{} has no primary key", r.table));
        }
        if let Some(p) = &r.partitioned_by {
            return Err(format!("{} is partitioned by {p}: a sample row may fall outside its partitions", r.table));
        }
        let keys = ts::string_array(&r.key.iter().map(|i| r.fields[*i].property.as_str()).collect::<Vec<_>>());
        if r.key.iter().any(|i| !matches!(r.fields[*i].access, Access::ReadWrite | Access::ReadOnly)) {
            return Err(format!("{}: its key is not returned", r.table));
        }
        let mut fields = Vec::new();
        let mut change = None;
        for f in &r.fields {
            let client_sets = matches!(f.access, Access::ReadWrite | Access::WriteOnly) && f.server.is_none();
            let reference = r.references.iter().find(|x| x.columns == [f.column.clone()]);
            let in_composite = r.references.iter().any(|x| x.columns.len() > 1 && x.columns.contains(&f.column));
            if f.required_on_create && in_composite {
                return Err(format!("{}.{} is part of a composite foreign key", r.table, f.column));
            }
            if f.required_on_create {
                if !client_sets || f.privileged {
                    return Err(format!("{} needs {}, which clients may not set", r.table, f.column));
                }
                let value = match reference {
                    Some(x) => {
                        let parent = self
                            .m
                            .resources
                            .iter()
                            .find(|p| p.schema == x.table.schema && p.table == x.table.name)
                            .ok_or_else(|| {
                                format!("{}.{} references {}, which is not generated", r.table, f.column, x.table)
                            })?;
                        let parent_key: Vec<&str> =
                            parent.key.iter().map(|i| parent.fields[*i].column.as_str()).collect();
                        if parent_key.len() != 1 {
                            return Err(format!(
                                "{}.{} references {}, whose key has several columns",
                                r.table, f.column, parent.table
                            ));
                        }
                        if parent_key != x.referenced.iter().map(String::as_str).collect::<Vec<_>>() {
                            return Err(format!(
                                "{}.{} references a column of {} other than its key",
                                r.table, f.column, parent.table
                            ));
                        }
                        self.plan(parent)
                            .map_err(|e| format!("{}.{} needs a row of {}: {e}", r.table, f.column, parent.table))?;
                        // The parent's key as this field's type takes it (a bigint key comes back as a string).
                        let key = format!("await row.parent({})", ts::string(&parent.names.file));
                        match f.kind {
                            FieldKind::Int | FieldKind::Float => format!("Number({key})"),
                            FieldKind::BigInt | FieldKind::Decimal => format!("String({key})"),
                            _ => key,
                        }
                    }
                    None => sample(f, "row.n").map_err(|e| format!("{}: {e}", r.table))?,
                };
                let col = f.column.to_ascii_lowercase();
                if f.values.is_empty()
                    && r.checks.iter().any(|c| c.to_ascii_lowercase().contains(&col) && !understood(c))
                {
                    return Err(format!("{}.{} has a CHECK the generator does not understand", r.table, f.column));
                }
                fields.push((f.property.clone(), value));
            }
            // The update step changes a text field nothing references and no CHECK constrains.
            if change.is_none()
                && f.access == Access::ReadWrite
                && f.server.is_none()
                && !f.privileged
                && !f.is_key
                && reference.is_none()
                && f.kind == FieldKind::Text
                && f.sql_type.name != "character"
                && f.values.is_empty()
                && f.format.is_none()
                && !r.checks.iter().any(|c| c.to_ascii_lowercase().contains(&f.column.to_ascii_lowercase()))
            {
                change = sample(f, "n + 100000").ok().map(|v| (f.property.clone(), v));
            }
        }
        let uses_row = fields.iter().any(|(_, v)| v.contains("row."));
        Ok(Sample { name: r.names.file.clone(), route: route(r), keys, fields, change, uses_row })
    }
}

pub fn tests_view(m: &Model, setup: &[crate::contribute::TestSetup]) -> TestsView {
    let mut planner = Planner { m, plans: HashMap::new(), visiting: Vec::new() };
    let mut resources = Vec::new();
    for r in &m.resources {
        let plan = planner.plan(r);
        let key_fields: Vec<&nest_model::Field> = r.key.iter().map(|i| &r.fields[*i]).collect();
        let missing =
            if r.operations.get && key_fields.iter().all(|f| missing_key(f).is_some()) && !key_fields.is_empty() {
                let parts: Vec<&str> = key_fields.iter().filter_map(|f| missing_key(f)).collect();
                Some(format!("{}/{}", route(r), parts.join("/")))
            } else {
                None
            };
        let writes = plan.is_ok() && r.operations.get;
        let key_filter = match key_fields.as_slice() {
            [k] if k.ops.contains(&"eq") => Some(k.filter_key.clone()),
            _ => None,
        };
        resources.push(ResourceTest {
            name: r.names.file.clone(),
            human: r.names.human.clone(),
            route: route(r),
            missing,
            writes,
            key_filter,
            update: r.operations.update && plan.as_ref().is_ok_and(|p| p.change.is_some()),
            delete: r.operations.delete,
            restore: r.operations.restore,
            if_match: r.require_if_match,
            why_not: match (&plan, r.operations.create) {
                (Err(e), true) => Some(e.clone()),
                _ => None,
            },
        });
    }
    let mut samples: Vec<Sample> = planner.plans.into_values().filter_map(Result::ok).collect();
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    let uses_uuid = samples.iter().any(|s| s.fields.iter().any(|(_, v)| v.contains("randomUUID()")));
    let mut setup = setup.to_vec();
    setup.sort_by_key(|s| s.order);
    let writes = resources.iter().any(|r| r.writes);
    let reads_samples = resources.iter().any(|r| r.writes && (r.key_filter.is_some() || r.update));
    TestsView { samples, uses_uuid, writes, reads_samples, setup, resources }
}

/// The tables whose rows the generated tests can make (their file names, the keys of SAMPLES).
pub fn makeable(m: &Model) -> HashSet<String> {
    let mut planner = Planner { m, plans: HashMap::new(), visiting: Vec::new() };
    m.resources.iter().filter(|r| planner.plan(r).is_ok()).map(|r| r.names.file.clone()).collect()
}

/// The list routes of `resources` (those that have one).
pub fn list_routes<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> Vec<String> {
    resources.into_iter().filter(|r| r.operations.list).map(route).collect()
}

/// A feature's generated test file over a list (`{{ items }}` in its template: a TypeScript
/// array of strings).
pub fn list_test_file(path: &str, template: &str, items: &[String]) -> Result<crate::FeatureFile, crate::RenderError> {
    #[derive(Serialize)]
    struct ListView {
        items: String,
    }
    // The templates write `const NAME = {{ items }};` (NAME six letters): laid out as Prettier
    // does, one item a line when too long.
    let doc = crate::layout::Doc::array(items.iter().map(|i| crate::layout::Doc::string(i)).collect(), false);
    let mut items = crate::layout::print(&doc, 0, "const ROUTES = ".len(), ";");
    items.pop();
    Ok(crate::FeatureFile {
        path: path.into(),
        body: crate::Rendered::new(template, ListView { items })?,
        ownership: crate::Ownership::Generated,
    })
}
