//! The bodies of the fuzz targets, one function per target, shared with the stable replay test
//! (`crates/features/tests/fuzz_regressions.rs` includes this file with `#[path]`), so a kept
//! crash input replays through exactly the code the fuzzer ran. Only crates `nest-features`
//! can reach from its tests are used here (nest-ddl, nest-catalog, nest-model, nest-nestjs).
//!
//! Property of every target: no panic. Errors, warnings and diagnostics are fine.

use nest_catalog::SqlType;
use nest_catalog::meta::{COLUMN_METADATA, ENTERPRISE_FEATURES, MetaColumn, MetaType, TABLE_METADATA};
use nest_ddl::SourceFile;
use nest_features::Stage;
use nest_model::{Flags, Selection};
use std::fmt::Write;
use std::sync::OnceLock;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name: the folder names under `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] =
    &[("parse_sql", parse_sql), ("meta_settings", meta_settings), ("sql_types", sql_types)];

/// `parse_sql`: any text through the DDL reader.
pub fn parse_sql(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = nest_ddl::parse_str("fuzz.sql", &text);
}

/// `sql_types`: any text through the column-type parser (and its printed form back through it)
/// and through the expression canonicalizer, bare and as a default of a few column types.
pub fn sql_types(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = SqlType::parse_with_serial(&text);
    if let Ok((t, _)) = &parsed {
        let shown = t.to_string();
        let _ = SqlType::parse(&shown);
        let _ = (t.is_builtin(), t.max_length(), t.qualified_name(), t.element());
        let _ = serde_json::to_string(t);
    }
    let _ = nest_catalog::expr::canonical(&text, None);
    const TYPES: &[&str] =
        &["integer", "text", "jsonb", "character varying(20)", "boolean", "timestamptz", "numeric(10,2)", "text[]"];
    let column_type = match parsed {
        Ok((t, _)) => t,
        Err(_) => SqlType::parse(TYPES[data.len() % TYPES.len()]).expect("known type"),
    };
    let once = nest_catalog::expr::canonical(&text, Some(&column_type));
    // The canonical text is SQL again: it goes through once more (PostgreSQL's own deparsed
    // form is read back on every introspection).
    let _ = nest_catalog::expr::canonical(&once, Some(&column_type));
}

/// The schema a `meta_settings` input is read after: the metadata schema as
/// `nest-generator sql meta` prints it, the seed's tenancy and RBAC scenarios, and the input's
/// choice of the other seed scenarios (audit, event sourcing, time series, files,
/// notifications), so metadata switches features on real tables. (Parsing the whole seed for
/// every input would cost most of the time of a run.)
struct Prelude {
    /// Always read: the metadata schema, tenancy, RBAC.
    core: Vec<SourceFile>,
    /// Read when the input's bit for it is set.
    optional: Vec<SourceFile>,
    /// The seed's own metadata rows (`01b-multi-tenancy-metadata.sql`), read when asked.
    seed_meta: SourceFile,
    /// `(schema, table, columns)` of every table of all the files.
    tables: Vec<(String, String, Vec<String>)>,
    /// Every feature id the generator knows (for flags).
    features: Vec<&'static str>,
}

fn prelude() -> &'static Prelude {
    static P: OnceLock<Prelude> = OnceLock::new();
    P.get_or_init(|| {
        let file = |name: &str, text: &str| SourceFile { name: name.to_string(), text: text.to_string() };
        let core = vec![
            file("db/00-meta.sql", &nest_catalog::meta::meta_schema_sql()),
            file("seed/01-multi-tenancy.sql", include_str!("../../fixtures/seed/01-multi-tenancy.sql")),
            file("seed/02-rbac.sql", include_str!("../../fixtures/seed/02-rbac.sql")),
        ];
        let optional = vec![
            file("seed/03-audit.sql", include_str!("../../fixtures/seed/03-audit.sql")),
            file("seed/03b-audit-trigger.sql", include_str!("../../fixtures/seed/03b-audit-trigger.sql")),
            file("seed/04-event-sourcing.sql", include_str!("../../fixtures/seed/04-event-sourcing.sql")),
            file("seed/05-time-series.sql", include_str!("../../fixtures/seed/05-time-series.sql")),
            file("seed/06-files.sql", include_str!("../../fixtures/seed/06-files.sql")),
            file("seed/07-notifications.sql", include_str!("../../fixtures/seed/07-notifications.sql")),
        ];
        let seed_meta = file(
            "seed/01b-multi-tenancy-metadata.sql",
            include_str!("../../fixtures/seed/01b-multi-tenancy-metadata.sql"),
        );
        let all: Vec<SourceFile> = core.iter().chain(&optional).cloned().collect();
        let catalog = nest_ddl::parse_sources(&all);
        assert!(!catalog.has_errors(), "the prelude reads without errors: {:#?}", catalog.diagnostics);
        let tables = catalog
            .tables
            .iter()
            .map(|t| (t.schema.clone(), t.name.clone(), t.columns.iter().map(|c| c.name.clone()).collect()))
            .collect();
        let features = nest_features::vocabulary().features.iter().map(|f| f.id).collect();
        Prelude { core, optional, seed_meta, tables, features }
    })
}

/// `meta_settings`: a prelude, then metadata statements, read and evaluated into settings,
/// then the Model (every feature's resolution) as `generate` builds it, and the project's files
/// when the Model has no errors and the input asks for them.
///
/// Input: a first byte below 0x80 (any text, e.g. a fixture's `INSERT INTO meta...`): the whole
/// input is SQL placed where metadata statements go, after the core prelude; Model only.
/// A first byte from 0x80 is a switch byte (bit 0: the seed's own metadata rows first; bits 1
/// and 3 both: render the files, which costs most; bit 2: a command-line feature flag), the second byte picks the optional
/// seed files (bit i: file i), and the rest drives a generator of metadata statements (see
/// [`MetaGen`]), so most inputs get past the SQL tokenizer into the evaluator and the settings.
pub fn meta_settings(data: &[u8]) {
    let _ = meta_settings_reach(data);
}

/// How far a `meta_settings` input got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// An empty input.
    Nothing,
    /// The catalog (or its metadata) has errors: `generate` would stop there. The first one.
    CatalogErrors(String),
    /// The Model was built; `true` when it has errors.
    Model(bool),
    /// The Model and the project's files were built.
    Files,
}

/// A `meta_settings` input as the SQL placed after the prelude, the switch byte and the flags.
pub fn meta_input(data: &[u8]) -> (String, u8, Flags) {
    let p = prelude();
    match data.first() {
        None => (String::new(), 0, Flags::default()),
        Some(&first) if first < 0x80 => (String::from_utf8_lossy(data).into_owned(), 0, Flags::default()),
        Some(&first) => {
            let mut g = MetaGen::new(data.get(2..).unwrap_or_default(), p);
            let mut flags = Flags::default();
            if first & 0b100 != 0 {
                let f = g.pick(&p.features);
                flags.features.insert(f.to_string(), g.byte() & 1 == 0);
            }
            (g.script(), first, flags)
        }
    }
}

/// [`meta_settings`], telling how far the input got.
pub fn meta_settings_reach(data: &[u8]) -> Reach {
    let Some(&first) = data.first() else { return Reach::Nothing };
    let p = prelude();
    let mut files = p.core.clone();
    let (text, switches, flags) = meta_input(data);
    if first >= 0x80 {
        let mask = data.get(1).copied().unwrap_or(0);
        files.extend(p.optional.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, f)| f.clone()));
    }
    if switches & 0b001 != 0 {
        files.push(p.seed_meta.clone());
    }
    files.push(SourceFile { name: "fuzz-meta.sql".into(), text });
    let catalog = nest_ddl::parse_sources(&files);
    let _ = catalog.to_json();
    // `generate` stops at a catalog with errors, before the Model.
    if let Some(e) = catalog.diagnostics.iter().find(|d| d.severity == nest_catalog::Severity::Error) {
        return Reach::CatalogErrors(e.message.clone());
    }
    let config = nest_model::Config::default();
    let selection = Selection { flags, ..Selection::default() };
    let options = nest_nestjs::GenerateOptions::default();
    let stage = if switches & 0b1010 == 0b1010 { Stage::Files(&options) } else { Stage::Model };
    let files = matches!(stage, Stage::Files(_));
    match nest_features::run(&catalog, &config, &selection, stage) {
        Ok(g) => {
            let _ = g.model.diagnostics();
            for r in &g.model.resources {
                let _ = nest_features::explain_lines(&g.model, r);
            }
            if files && g.model.errors.is_empty() { Reach::Files } else { Reach::Model(!g.model.errors.is_empty()) }
        }
        Err(_) => Reach::Model(true),
    }
}

/// Metadata statements from bytes: INSERT (VALUES, SELECT from a meta table, ON CONFLICT DO
/// NOTHING / DO UPDATE), UPDATE and DELETE on the three meta tables, with values of each
/// setting's type in its many spellings (and now and then of another type, or odd text).
pub struct MetaGen<'a> {
    data: &'a [u8],
    pos: usize,
    prelude: &'a Prelude,
}

const META_TABLES: &[(&str, &[MetaColumn])] = &[
    ("table_metadata", TABLE_METADATA),
    ("enterprise_features", ENTERPRISE_FEATURES),
    ("column_metadata", COLUMN_METADATA),
];

const ODD_TEXT: &[&str] = &[
    "",
    " ",
    "public",
    "meta",
    "nope",
    "organization_id",
    "created_at",
    "deleted_at",
    "id",
    "application",
    "trigger",
    "exact",
    "estimated",
    "none",
    "eq",
    "like",
    "ilike",
    "in",
    "{}",
    "{a,b}",
    "{\"a b\",c}",
    "{",
    "[]",
    "{\"min\":1,\"max\":2}",
    "{\"pattern\":\"((\"}",
    "not json",
    "Ünïcödé 名前 🚀",
    "*/ /* `${x}` \\ \" ",
    "'; DROP TABLE x; --",
    "\u{0}",
    "\n\t",
    "Users",
    "USERS",
];

/// Integers (positive: the generator writes `-n` too, and `--` would start a comment).
const NUMBERS: &[&str] =
    &["0", "1", "2", "60", "100", "10000", "10001", "86400", "2147483647", "2147483648", "9223372036854775807"];

impl<'a> MetaGen<'a> {
    fn new(data: &'a [u8], prelude: &'a Prelude) -> Self {
        MetaGen { data, pos: 0, prelude }
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.byte() as usize % n }
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// One in `n` (never once the bytes ran out: they read as zeros).
    fn chance(&mut self, n: usize) -> bool {
        n > 0 && self.below(n) == n - 1
    }

    fn table(&mut self) -> (String, String, Vec<String>) {
        if self.chance(12) {
            return ("public".into(), self.raw_text(), Vec::new());
        }
        let t = &self.prelude.tables[self.below(self.prelude.tables.len())];
        t.clone()
    }

    fn column_of(&mut self, cols: &[String]) -> String {
        if cols.is_empty() || self.chance(10) {
            self.pick(ODD_TEXT).to_string()
        } else {
            cols[self.below(cols.len())].clone()
        }
    }

    /// A few raw bytes as text (any character).
    fn raw_text(&mut self) -> String {
        let n = self.below(12);
        let end = (self.pos + n).min(self.data.len());
        let s = String::from_utf8_lossy(&self.data[self.pos.min(end)..end]).into_owned();
        self.pos += n;
        s
    }

    fn text(&mut self) -> String {
        match self.below(4) {
            0 => self.raw_text(),
            1 => {
                let t = self.table();
                if self.chance(2) { t.1 } else { self.column_of(&t.2) }
            }
            _ => self.pick(ODD_TEXT).to_string(),
        }
    }

    /// A string literal in one of PostgreSQL's spellings.
    fn string_lit(&mut self, s: &str) -> String {
        match self.below(8) {
            0 if !s.contains("$$") => format!("$${s}$$"),
            1 => format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// A value of type `ty`: one of its valid spellings, one in twelve times an invalid one
    /// (which the reader reports as an error, so the input stops before the Model).
    fn typed_value(&mut self, ty: MetaType) -> String {
        let invalid = self.chance(12);
        match ty {
            MetaType::Boolean if invalid => self.pick(&["'maybe'", "''", "2.5", "'tru'", "ARRAY[true]"]).to_string(),
            MetaType::Boolean => self
                .pick(&[
                    "true",
                    "false",
                    "TRUE",
                    "'t'",
                    "'f'",
                    "'yes'",
                    "'off'",
                    "'on'",
                    "' 1 '",
                    "1",
                    "0",
                    "NOT true",
                    "NOT NULL",
                    "NULL",
                    "true::boolean",
                    "'n'::bool",
                ])
                .to_string(),
            MetaType::Integer if invalid => self
                .pick(&[
                    "1.5",
                    "1e3",
                    "'x'",
                    "99999999999999999999999",
                    "9223372036854775808",
                    "-('-9223372036854775808'::int)",
                    "'1 2'",
                    "-0.0",
                ])
                .to_string(),
            MetaType::Integer => {
                let n = self.pick(NUMBERS);
                match self.below(6) {
                    0 => format!("'{n}'"),
                    1 => format!("'{n}'::integer"),
                    2 => format!("-{n}"),
                    3 => format!("-('{n}'::int)"),
                    _ => n.to_string(),
                }
            }
            MetaType::Text => {
                let s = self.text();
                let lit = self.string_lit(&s);
                if self.chance(8) { format!("{lit} || {}", self.string_lit("_x")) } else { lit }
            }
            MetaType::TextArray if invalid => {
                let s = self.text();
                self.string_lit(&s.replace(['{', '}'], ""))
            }
            MetaType::TextArray => match self.below(3) {
                0 => {
                    let n = self.below(4);
                    let items: Vec<String> = (0..n)
                        .map(|_| {
                            let s = self.text();
                            self.string_lit(&s)
                        })
                        .collect();
                    format!("ARRAY[{}]", items.join(", "))
                }
                1 => {
                    let s = self.text();
                    format!("'{{{}}}'::text[]", s.replace('\'', "''"))
                }
                _ => {
                    let n = self.below(4);
                    let items: Vec<String> = (0..n)
                        .map(|_| {
                            let s = self.text();
                            if self.chance(2) { format!("\"{}\"", s.replace(['"', '\\'], "")) } else { s }
                        })
                        .collect();
                    self.string_lit(&format!("{{{}}}", items.join(",")))
                }
            },
            MetaType::Jsonb => {
                let s = if invalid {
                    self.pick(&["not json", "{", "", "{'a':1}"])
                } else {
                    self.pick(&[
                        "{}",
                        "[]",
                        "null",
                        "1",
                        "\"x\"",
                        "{\"min\":1,\"max\":2}",
                        "{\"min\":\"a\",\"max\":-1e309}",
                        "{\"pattern\":\"((\"}",
                        "{\"pattern\":\"^[a-z]+$\",\"format\":\"email\"}",
                        "{\"format\":\"*/`${x}`\"}",
                        "{\"maxLength\":0,\"min\":9223372036854775808}",
                    ])
                };
                let lit = self.string_lit(s);
                if self.chance(2) { format!("{lit}::jsonb") } else { lit }
            }
        }
    }

    /// A value for `col`: of its type mostly, NULL or another type's now and then.
    fn value(&mut self, col: &MetaColumn) -> String {
        match self.below(40) {
            0..=2 => "NULL".into(),
            3 => {
                let ty = self.pick(&[
                    MetaType::Text,
                    MetaType::Boolean,
                    MetaType::Integer,
                    MetaType::TextArray,
                    MetaType::Jsonb,
                ]);
                self.typed_value(ty)
            }
            4..=9 if !col.allowed.is_empty() => {
                let a = self.pick(col.allowed);
                self.string_lit(a)
            }
            _ => self.typed_value(col.ty),
        }
    }

    fn settings(&mut self, cols: &'static [MetaColumn]) -> Vec<&'static MetaColumn> {
        let n = 1 + self.below(4);
        let mut out: Vec<&'static MetaColumn> = Vec::new();
        for _ in 0..n {
            let c = &cols[self.below(cols.len())];
            if !out.iter().any(|x| x.name == c.name) {
                out.push(c);
            }
        }
        out
    }

    fn meta_name(&mut self, table: &str) -> String {
        match self.below(10) {
            0 => format!("nestgen.{table}"),
            1 => format!("\"meta\".\"{table}\""),
            2 => format!("META.{}", table.to_uppercase()),
            _ => format!("meta.{table}"),
        }
    }

    /// A WHERE condition over a meta table's row (`q` qualifies its columns).
    fn condition(&mut self, q: &str, cols: &'static [MetaColumn], depth: u32) -> String {
        let pick = if depth >= 3 { self.below(6) } else { self.below(8) };
        match pick {
            0 => {
                let t = self.table();
                format!("{q}table_name = {}", self.string_lit(&t.1))
            }
            1 => {
                let (a, b) = (self.table(), self.table());
                format!("{q}table_name IN ({}, {})", self.string_lit(&a.1), self.string_lit(&b.1))
            }
            2 => {
                let t = self.table();
                format!("{q}schema_name = 'public' AND {q}table_name <> {}", self.string_lit(&t.1))
            }
            3 => {
                let col = &cols[self.below(cols.len())];
                let op = self.pick(&["IS NULL", "IS NOT NULL"]);
                format!("{q}{} {op}", col.name)
            }
            4 => {
                let col = &cols[self.below(cols.len())];
                let op = self.pick(&["=", "<>", "<", ">=", "||"]);
                let v = self.value(col);
                format!("{q}{} {op} {v}", col.name)
            }
            5 => {
                let col = &cols[self.below(cols.len())];
                format!("NOT ({q}{})", col.name)
            }
            6 => {
                let a = self.condition(q, cols, depth + 1);
                let b = self.condition(q, cols, depth + 1);
                let op = self.pick(&["AND", "OR"]);
                format!("({a}) {op} ({b})")
            }
            _ => {
                let t = self.table();
                format!("{q}table_name = {} OR {q}id = 'offline-1'", self.string_lit(&t.1))
            }
        }
    }

    fn insert_table_metadata(&mut self) -> String {
        let cols = self.settings(TABLE_METADATA);
        let with_schema = self.chance(2);
        let with_id = self.chance(6);
        let mut names: Vec<&str> = Vec::new();
        if with_id {
            names.push("id");
        }
        if with_schema {
            names.push("schema_name");
        }
        names.push("table_name");
        names.extend(cols.iter().map(|c| c.name));
        let rows = 1 + self.below(3);
        let mut values = Vec::new();
        for _ in 0..rows {
            let t = self.table();
            let mut v = Vec::new();
            if with_id {
                let id = format!("id-{}", self.below(4));
                v.push(self.string_lit(&id));
            }
            if with_schema {
                let s = if self.chance(6) { self.text() } else { t.0.clone() };
                v.push(self.string_lit(&s));
            }
            v.push(if self.chance(40) { "NULL".into() } else { self.string_lit(&t.1) });
            for c in &cols {
                v.push(self.value(c));
            }
            // Now and then a row with a value too few or too many.
            if self.chance(60) {
                if self.chance(2) {
                    v.pop();
                } else {
                    v.push("1".into());
                }
            }
            values.push(format!("({})", v.join(", ")));
        }
        let target = self.meta_name("table_metadata");
        let mut s = format!("INSERT INTO {target} ({}) VALUES {}", names.join(", "), values.join(", "));
        match self.below(4) {
            0 => s.push_str(" ON CONFLICT (schema_name, table_name) DO NOTHING"),
            1 => {
                let set: Vec<String> = cols
                    .iter()
                    .map(|c| match self.below(3) {
                        0 => format!("{} = EXCLUDED.{}", c.name, c.name),
                        1 => format!("{} = {}", c.name, self.value(c)),
                        _ => format!("{} = table_metadata.{}", c.name, c.name),
                    })
                    .collect();
                let _ = write!(s, " ON CONFLICT (schema_name, table_name) DO UPDATE SET {}", set.join(", "));
            }
            _ => {}
        }
        s
    }

    /// enterprise_features / column_metadata rows, linked to table_metadata rows by SELECT or by
    /// literal id.
    fn insert_linked(&mut self, table: &str, cols: &'static [MetaColumn]) -> String {
        let settings = self.settings(cols);
        let column = table == "column_metadata";
        let mut names = vec!["table_metadata_id"];
        if column {
            names.push("column_name");
        }
        names.extend(settings.iter().map(|c| c.name));
        let t = self.table();
        let col_value = if column {
            let c = self.column_of(&t.2);
            Some(self.string_lit(&c))
        } else {
            None
        };
        let values: Vec<String> = settings.iter().map(|c| self.value(c)).collect();
        let target = self.meta_name(table);
        let mut s = if self.chance(8) {
            let id = match self.below(3) {
                0 => "'offline-1'".to_string(),
                1 => format!("'id-{}'", self.below(4)),
                _ => {
                    let x = self.text();
                    self.string_lit(&x)
                }
            };
            let all: Vec<String> = std::iter::once(id).chain(col_value).chain(values).collect();
            format!("INSERT INTO {target} ({}) VALUES ({})", names.join(", "), all.join(", "))
        } else {
            let alias = self.pick(&["", " tm", " AS tm"]);
            let q = if alias.is_empty() { "" } else { "tm." };
            let all: Vec<String> = std::iter::once(format!("{q}id")).chain(col_value).chain(values).collect();
            let source = self.meta_name("table_metadata");
            let mut s =
                format!("INSERT INTO {target} ({}) SELECT {} FROM {source}{alias}", names.join(", "), all.join(", "));
            if !self.chance(6) {
                let cond = match self.below(3) {
                    0 => format!("{q}table_name = {}", self.string_lit(&t.1)),
                    _ => self.condition(q, TABLE_METADATA, 0),
                };
                let _ = write!(s, " WHERE {cond}");
            }
            s
        };
        if self.chance(4) {
            let key = if column { "(table_metadata_id, column_name)" } else { "(table_metadata_id)" };
            if self.chance(2) {
                let _ = write!(s, " ON CONFLICT {key} DO NOTHING");
            } else {
                let set: Vec<String> = settings.iter().map(|c| format!("{} = EXCLUDED.{}", c.name, c.name)).collect();
                let _ = write!(s, " ON CONFLICT {key} DO UPDATE SET {}", set.join(", "));
            }
        }
        s
    }

    fn update(&mut self) -> String {
        let (table, cols) = self.pick(META_TABLES);
        let settings = self.settings(cols);
        let set: Vec<String> = settings
            .iter()
            .map(|c| {
                if self.chance(6) {
                    let other = &cols[self.below(cols.len())];
                    format!("{} = {}", c.name, other.name)
                } else {
                    format!("{} = {}", c.name, self.value(c))
                }
            })
            .collect();
        let target = self.meta_name(table);
        let alias = self.pick(&["", " m"]);
        let q = if alias.is_empty() { "" } else { "m." };
        let mut s = format!("UPDATE {target}{alias} SET {}", set.join(", "));
        if !self.chance(5) {
            let cond = self.condition(q, cols, 0);
            let _ = write!(s, " WHERE {cond}");
        }
        s
    }

    fn delete(&mut self) -> String {
        let (table, cols) = self.pick(META_TABLES);
        let target = self.meta_name(table);
        let mut s = format!("DELETE FROM {target}");
        if !self.chance(4) {
            let cond = self.condition("", cols, 0);
            let _ = write!(s, " WHERE {cond}");
        }
        s
    }

    fn statement(&mut self) -> String {
        match self.below(16) {
            0..=4 => self.insert_table_metadata(),
            5..=7 => self.insert_linked("enterprise_features", ENTERPRISE_FEATURES),
            8..=9 => self.insert_linked("column_metadata", COLUMN_METADATA),
            10..=11 => self.update(),
            12 => self.delete(),
            13 => self
                .pick(&["SET search_path TO meta, public", "SET search_path = public", "BEGIN", "COMMIT"])
                .to_string(),
            14 => {
                // Unqualified names under `SET search_path TO meta`.
                let body = self.insert_table_metadata();
                format!("SET search_path TO meta;\n{}", body.replacen(" meta.table_metadata ", " table_metadata ", 1))
            }
            _ => {
                // A statement with a few raw bytes spliced in.
                let mut s = self.insert_table_metadata();
                let at = self.below(s.len() + 1);
                let at = (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
                let junk = self.raw_text();
                s.insert_str(at, &junk);
                s
            }
        }
    }

    /// Statements until the bytes run out (at most 24).
    fn script(&mut self) -> String {
        let mut out = String::new();
        for _ in 0..24 {
            if self.done() {
                break;
            }
            out.push_str(&self.statement());
            out.push_str(";\n");
        }
        out
    }
}
