//! Statement replay: the state of the database being described, changed one statement at a
//! time the way PostgreSQL would change it.

mod finish;
mod meta;
mod objects;
mod tables;
mod views;

use crate::split;
use nest_catalog::{
    Catalog, CompositeType, Diagnostic, Domain, EnumType, Extension, Function, Location, QualifiedName, Sequence,
    Severity, Table, codes,
};
use sqlparser::ast::{Ident, ObjectName, ObjectNamePart, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Schemas whose tables are the tool's own configuration, not part of the API.
pub const TOOL_SCHEMAS: &[&str] = &["meta", "nestgen"];

/// A foreign key whose target is checked once every statement has been read (DDL may
/// reference a table created later in the same file, as the seed's `files → folders` does).
pub(crate) struct FkCheck {
    pub table: QualifiedName,
    pub fk: String,
    pub search_path: Vec<String>,
    pub explicit_schema: bool,
    pub at: Location,
}

pub struct Replayer {
    pub(crate) tables: Vec<Table>,
    pub(crate) table_index: HashMap<(String, String), usize>,
    pub(crate) enums: Vec<EnumType>,
    pub(crate) domains: Vec<Domain>,
    pub(crate) composites: Vec<CompositeType>,
    pub(crate) sequences: Vec<Sequence>,
    pub(crate) functions: Vec<Function>,
    pub(crate) extensions: Vec<Extension>,
    /// The original text of a statement replayed in a rewritten form (a trigger read without
    /// its arguments), for its source.
    pub(crate) pending_source: Option<String>,
    pub(crate) schemas: BTreeSet<String>,
    pub(crate) search_path: Vec<String>,
    /// Relation names per schema (tables, views, indexes, sequences): index names must not clash.
    pub(crate) relation_names: HashSet<(String, String)>,
    /// Constraint names per schema.
    pub(crate) constraint_names: HashSet<(String, String)>,
    /// Index name → owning table, for indexes and constraint-backed indexes.
    pub(crate) index_owner: HashMap<(String, String), (String, String)>,
    pub(crate) fk_checks: Vec<FkCheck>,
    pub(crate) meta_rows: BTreeMap<String, Vec<meta::StoredRow>>,
    pub(crate) meta_seq: u64,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Where the statement being replayed starts.
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
    /// Per-file counts of statements that carry data, reported once per file.
    data_statements: usize,
}

impl Default for Replayer {
    fn default() -> Self {
        Self::new()
    }
}

/// Identifier as PostgreSQL stores it: unquoted names fold to lower case.
pub(crate) fn ident(i: &Ident) -> String {
    if i.quote_style.is_some() { i.value.clone() } else { i.value.to_lowercase() }
}

pub(crate) fn name_parts(n: &ObjectName) -> Vec<String> {
    n.0.iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => ident(i),
            other => other.to_string(),
        })
        .collect()
}

/// `(schema, name)` of an object name, the schema only when written.
pub(crate) fn split_name(n: &ObjectName) -> (Option<String>, String) {
    let mut parts = name_parts(n);
    let name = parts.pop().unwrap_or_default();
    let schema = parts.pop();
    (schema, name)
}

/// Parse error text without sqlparser's own position suffix, and that position.
fn parser_error_position(e: &ParserError) -> (String, Option<(u32, u32)>) {
    let msg = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "expression nested too deeply".to_string(),
    };
    if let Some(idx) = msg.rfind(" at Line: ") {
        let tail = &msg[idx + " at Line: ".len()..];
        let mut it = tail.split(", Column: ");
        let line = it.next().and_then(|l| l.trim().parse::<u32>().ok());
        let col = it.next().and_then(|c| c.trim().parse::<u32>().ok());
        if let (Some(l), Some(c)) = (line, col) {
            return (msg[..idx].to_string(), Some((l, c)));
        }
    }
    (msg, None)
}

impl Replayer {
    pub fn new() -> Replayer {
        let mut schemas = BTreeSet::new();
        schemas.insert("public".to_string());
        Replayer {
            tables: Vec::new(),
            table_index: HashMap::new(),
            enums: Vec::new(),
            domains: Vec::new(),
            composites: Vec::new(),
            sequences: Vec::new(),
            functions: Vec::new(),
            extensions: Vec::new(),
            pending_source: None,
            schemas,
            search_path: vec!["public".to_string()],
            relation_names: HashSet::new(),
            constraint_names: HashSet::new(),
            index_owner: HashMap::new(),
            fk_checks: Vec::new(),
            meta_rows: BTreeMap::new(),
            meta_seq: 0,
            diagnostics: Vec::new(),
            file: String::new(),
            line: 1,
            column: 1,
            data_statements: 0,
        }
    }

    /// Location of the current statement.
    pub(crate) fn here(&self) -> Location {
        Location { file: self.file.clone(), line: self.line, column: self.column }
    }

    /// Location of a span inside the current statement (sqlparser spans start at 1:1).
    pub(crate) fn at(&self, span: Span) -> Location {
        if span.start.line == 0 {
            return self.here();
        }
        self.offset(span.start.line as u32, span.start.column as u32)
    }

    fn offset(&self, line: u32, column: u32) -> Location {
        let (l, c) = if line <= 1 {
            (self.line, self.column + column.saturating_sub(1))
        } else {
            (self.line + line - 1, column)
        };
        Location { file: self.file.clone(), line: l, column: c }
    }

    pub(crate) fn error(&mut self, code: &str, at: Location, msg: impl Into<String>, help: &str) {
        let mut d = Diagnostic::error(code, &at, msg);
        if !help.is_empty() {
            d = d.with_help(help);
        }
        self.diagnostics.push(d);
    }

    pub(crate) fn warn(&mut self, code: &str, at: Location, msg: impl Into<String>, help: &str) {
        let mut d = Diagnostic::warning(code, &at, msg);
        if !help.is_empty() {
            d = d.with_help(help);
        }
        self.diagnostics.push(d);
    }

    pub(crate) fn info(&mut self, code: &str, at: Location, msg: impl Into<String>) {
        self.diagnostics.push(Diagnostic::info(code, &at, msg));
    }

    /// Schema a new unqualified object is created in.
    pub(crate) fn creation_schema(&self) -> String {
        self.search_path.first().cloned().unwrap_or_else(|| "public".to_string())
    }

    /// Resolve a written name to `(schema, name)` for creating an object.
    pub(crate) fn create_name(&mut self, n: &ObjectName) -> (String, String) {
        let (schema, name) = split_name(n);
        let schema = schema.unwrap_or_else(|| self.creation_schema());
        self.schemas.insert(schema.clone());
        (schema, name)
    }

    /// Resolve a written table name against existing tables (search path order).
    pub(crate) fn lookup_table(&self, n: &ObjectName) -> Option<(String, String)> {
        let (schema, name) = split_name(n);
        self.lookup_table_parts(schema.as_deref(), &name)
    }

    pub(crate) fn lookup_table_parts(&self, schema: Option<&str>, name: &str) -> Option<(String, String)> {
        match schema {
            Some(s) => self
                .table_index
                .contains_key(&(s.to_string(), name.to_string()))
                .then(|| (s.to_string(), name.to_string())),
            None => self
                .search_path
                .iter()
                .map(String::as_str)
                .chain(std::iter::once("public"))
                .find(|s| self.table_index.contains_key(&(s.to_string(), name.to_string())))
                .map(|s| (s.to_string(), name.to_string())),
        }
    }

    pub(crate) fn table_mut(&mut self, key: &(String, String)) -> Option<&mut Table> {
        let i = *self.table_index.get(key)?;
        self.tables.get_mut(i)
    }

    pub(crate) fn table_ref(&self, key: &(String, String)) -> Option<&Table> {
        let i = *self.table_index.get(key)?;
        self.tables.get(i)
    }

    pub(crate) fn is_tool_schema(schema: &str) -> bool {
        TOOL_SCHEMAS.contains(&schema)
    }

    /// Find the table a statement targets, reporting an error if it does not exist. `Ok(None)`
    /// means the statement targets the tool's own schema and is ignored.
    pub(crate) fn target_table(&mut self, n: &ObjectName, if_exists: bool) -> Result<Option<(String, String)>, ()> {
        let (schema, name) = split_name(n);
        if schema.as_deref().is_some_and(Self::is_tool_schema) {
            return Ok(None);
        }
        match self.lookup_table_parts(schema.as_deref(), &name) {
            Some(k) => Ok(Some(k)),
            None if if_exists => Ok(None),
            None => {
                let at = n.0.last().and_then(|p| p.as_ident()).map(|i| self.at(i.span)).unwrap_or_else(|| self.here());
                self.error(
                    codes::UNKNOWN_TABLE,
                    at,
                    format!("table `{n}` does not exist at this point"),
                    "create the table before this statement, or check the name and the files' order",
                );
                Err(())
            }
        }
    }

    /// Replay every statement of one file.
    pub fn replay_file(&mut self, name: &str, text: &str) {
        self.file = name.to_string();
        self.data_statements = 0;
        for stmt in split::split(text) {
            self.line = stmt.line;
            self.column = stmt.column;
            self.replay_statement(stmt.text);
        }
        if self.data_statements > 0 {
            let at = Location { file: name.to_string(), line: 1, column: 1 };
            let n = self.data_statements;
            self.info(
                codes::IGNORED_STATEMENT,
                at,
                format!("{n} data statement(s) outside meta.* were not read (data is not schema)"),
            );
        }
        // A file's SET search_path does not leak into the next file.
        self.search_path = vec!["public".to_string()];
    }

    /// Replay a statement rewritten by the fallback reader.
    pub(crate) fn replay_inner(&mut self, text: &str) {
        self.replay_statement(text);
    }

    /// `ALTER TABLE t ALTER CONSTRAINT c [NOT] DEFERRABLE ...`: a foreign key's deferrability
    /// (the only constraint kind ALTER CONSTRAINT changes that the catalog keeps).
    pub(crate) fn set_constraint_deferrable(&mut self, table: &ObjectName, constraint: &str, deferrable: Option<bool>) {
        let Ok(Some(key)) = self.target_table(table, false) else {
            return;
        };
        let here = self.here();
        let Some(t) = self.table_mut(&key) else {
            return;
        };
        if let Some(fk) = t.foreign_keys.iter_mut().find(|k| k.name == constraint) {
            if let Some(d) = deferrable {
                fk.deferrable = d;
            }
            return;
        }
        let known = t.unique.iter().any(|u| u.name == constraint)
            || t.primary_key.as_ref().is_some_and(|k| k.name == constraint)
            || t.checks.iter().any(|c| c.name == constraint);
        if !known {
            let tn = t.name.clone();
            self.error(codes::UNKNOWN_COLUMN, here, format!("`{tn}` has no constraint `{constraint}`"), "");
        }
    }

    /// `change` applied to `table`'s `column` (an error when the table has no such column).
    fn change_column(&mut self, table: &ObjectName, column: &str, change: impl FnOnce(&mut nest_catalog::Column)) {
        let Ok(Some(key)) = self.target_table(table, false) else {
            return;
        };
        let here = self.here();
        let Some(t) = self.table_mut(&key) else {
            return;
        };
        match t.column_mut(column) {
            Some(c) => change(c),
            None => {
                let tn = t.name.clone();
                self.error(codes::UNKNOWN_COLUMN, here, format!("`{tn}` has no column `{column}`"), "");
            }
        }
    }

    /// pg_dump's `ALTER TABLE t ALTER COLUMN c ADD GENERATED ... AS IDENTITY`.
    pub(crate) fn set_identity(&mut self, table: &ObjectName, column: &str, by_default: bool) {
        self.change_column(table, column, |c| {
            c.identity =
                Some(if by_default { nest_catalog::Identity::ByDefault } else { nest_catalog::Identity::Always });
            c.nullable = false;
        });
    }

    /// `ALTER TABLE t ALTER COLUMN c SET EXPRESSION AS (e)` (PostgreSQL 17): the generated
    /// column's new expression; `DROP EXPRESSION` (13): a plain column from then on.
    pub(crate) fn set_generated(&mut self, table: &ObjectName, column: &str, expression: Option<&str>) {
        self.change_column(table, column, |c| c.generated = expression.map(|e| nest_catalog::expr::canonical(e, None)));
    }

    fn replay_statement(&mut self, text: &str) {
        if crate::fallback::guarded_extension_block(self, text) {
            return;
        }
        if crate::fallback::is_ignorable(text) {
            return;
        }
        let dialect = PostgreSqlDialect {};
        let parsed = Parser::new(&dialect).try_with_sql(text).and_then(|mut p| p.parse_statements());
        match parsed {
            Ok(stmts) => {
                for s in stmts {
                    self.apply(s, text);
                }
            }
            Err(e) => {
                if crate::fallback::apply(self, text) {
                    return;
                }
                let (msg, pos) = parser_error_position(&e);
                let at = match pos {
                    Some((l, c)) => self.offset(l, c),
                    None => self.here(),
                };
                let head: String = text.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
                self.warn(
                    codes::UNPARSED_STATEMENT,
                    at,
                    format!("could not read statement `{head} ...`: {msg}; it was skipped"),
                    "if this statement defines something the API needs, rewrite it in plain PostgreSQL DDL",
                );
            }
        }
    }

    fn apply(&mut self, s: Statement, text: &str) {
        match s {
            Statement::CreateTable(ct) => self.create_table(ct),
            Statement::AlterTable(at) => self.alter_table(at),
            Statement::CreateIndex(ci) => self.create_index(ci),
            Statement::CreateView(cv) => self.create_view(cv, text),
            Statement::CreatePolicy(p) => self.create_policy(p),
            Statement::AlterPolicy(p) => self.alter_policy(p),
            Statement::DropPolicy(p) => self.drop_policy(p),
            Statement::CreateTrigger(t) => self.create_trigger(t, text),
            Statement::DropTrigger(t) => self.drop_trigger(t),
            Statement::CreateFunction(f) => self.create_function(f, text),
            Statement::CreateAggregate(a) => {
                use sqlparser::ast::CreateAggregateArgs as A;
                let args: Vec<String> = match &a.args {
                    A::List(l) => l.iter().map(|x| objects::type_text(&x.data_type)).collect(),
                    A::OrderedSet { direct, aggregated } => {
                        direct.iter().chain(aggregated.iter()).map(|x| objects::type_text(&x.data_type)).collect()
                    }
                    A::Star | A::Legacy => Vec::new(),
                };
                self.create_aggregate(&a.name, args, text);
            }
            Statement::DropFunction(f) => self.drop_function(f),
            Statement::CreateType { name, representation } => self.create_type(&name, representation),
            Statement::AlterType(t) => self.alter_type(t),
            Statement::CreateDomain(d) => self.create_domain(d),
            Statement::DropDomain(d) => {
                self.drop_objects_named(sqlparser::ast::ObjectType::Type, &[d.name], d.if_exists, false)
            }
            Statement::CreateSequence { name, sequence_options, if_not_exists, .. } => {
                self.create_sequence(&name, &sequence_options, if_not_exists)
            }
            Statement::CreateExtension(e) => self.create_extension(&ident(&e.name), e.schema.as_ref().map(ident)),
            Statement::DropExtension(e) => {
                for n in &e.names {
                    let n = ident(n);
                    self.extensions.retain(|x| x.name != n);
                }
            }
            Statement::CreateSchema { schema_name, .. } => {
                let name = match &schema_name {
                    sqlparser::ast::SchemaName::Simple(n) | sqlparser::ast::SchemaName::NamedAuthorization(n, _) => {
                        split_name(n).1
                    }
                    sqlparser::ast::SchemaName::UnnamedAuthorization(i) => ident(i),
                };
                self.schemas.insert(name);
            }
            Statement::Comment { object_type, object_name, comment, .. } => {
                self.comment(object_type, &object_name, comment)
            }
            Statement::Drop { object_type, names, if_exists, cascade, .. } => {
                self.drop_objects_named(object_type, &names, if_exists, cascade)
            }
            Statement::AlterIndex { name, operation } => self.alter_index(&name, operation),
            Statement::Insert(i) => self.insert(i),
            Statement::Update(u) => self.update(u),
            Statement::Delete(d) => self.delete(d),
            Statement::Query(q) => self.query(&q),
            Statement::Set(set) => self.set(set),
            _ => {}
        }
    }

    pub(crate) fn count_data_statement(&mut self) {
        self.data_statements += 1;
    }

    pub(crate) fn set_search_path(&mut self, value: &str) {
        let parts: Vec<String> = value
            .split(',')
            .map(|p| p.trim().trim_matches('\'').trim())
            .filter(|p| !p.is_empty() && *p != "\"$user\"" && *p != "$user" && *p != "pg_catalog")
            .map(|p| if p.starts_with('"') { p.trim_matches('"').to_string() } else { p.to_lowercase() })
            .collect();
        self.search_path = parts;
    }

    fn set(&mut self, set: sqlparser::ast::Set) {
        if let sqlparser::ast::Set::SingleAssignment { variable, values, .. } = set
            && variable.to_string().eq_ignore_ascii_case("search_path")
        {
            let v = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",");
            self.set_search_path(&v);
        }
    }

    /// The catalog, after checking what can only be checked once everything is read.
    pub fn finish(mut self) -> Catalog {
        self.resolve();
        let mut c = Catalog {
            schemas: self.schemas.iter().filter(|s| !Self::is_tool_schema(s)).cloned().collect(),
            extensions: std::mem::take(&mut self.extensions),
            enums: std::mem::take(&mut self.enums),
            domains: std::mem::take(&mut self.domains),
            composite_types: std::mem::take(&mut self.composites),
            sequences: std::mem::take(&mut self.sequences),
            tables: std::mem::take(&mut self.tables),
            functions: std::mem::take(&mut self.functions),
            metadata: self.metadata(),
            diagnostics: Vec::new(),
        };
        self.validate(&mut c);
        c.diagnostics = std::mem::take(&mut self.diagnostics);
        c.diagnostics.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.severity, &a.code).cmp(&(&b.file, b.line, b.column, b.severity, &b.code))
        });
        c.diagnostics.dedup();
        c.sort();
        c
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}
