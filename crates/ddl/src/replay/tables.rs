//! CREATE TABLE, ALTER TABLE, CREATE INDEX: tables, columns, keys and indexes.

use super::{FkCheck, Replayer, ident, name_parts, split_name};
use nest_catalog::expr::canonical;
use nest_catalog::naming::choose_name;
use nest_catalog::sqltype::Serial;
use nest_catalog::{
    Check, Column, FkAction, ForeignKey, Identity, Index, IndexElement, KeyConstraint, Location, PartitionOf,
    QualifiedName, Sequence, SqlType, Table, TableKind, codes,
};
use sqlparser::ast::{
    AlterColumnOperation, AlterIndexOperation, AlterTable, AlterTableOperation, ColumnDef, ColumnOption, CreateIndex,
    CreateTable, CreateTableOptions, Expr, ForValues, GeneratedAs, IndexColumn, IndexType, ObjectName, OrderBySort,
    PartitionBoundValue, ReferentialAction, RenameTableNameKind, SqlOption, TableConstraint,
};
use sqlparser::tokenizer::{Token, Tokenizer};

pub(crate) type Key = (String, String);

/// A key, foreign key or check waiting for its name (PostgreSQL names checks first, then
/// keys, then foreign keys).
pub(crate) enum PendingConstraint {
    Primary {
        name: Option<String>,
        columns: Vec<String>,
        at: Location,
    },
    Unique {
        name: Option<String>,
        columns: Vec<String>,
        nulls_not_distinct: bool,
    },
    Foreign {
        name: Option<String>,
        columns: Vec<String>,
        target: ObjectName,
        ref_columns: Vec<String>,
        on_delete: FkAction,
        on_update: FkAction,
        deferrable: bool,
        at: Location,
    },
    Check {
        name: Option<String>,
        expr: String,
    },
}

fn fk_action(a: &Option<ReferentialAction>) -> FkAction {
    match a {
        None | Some(ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ReferentialAction::SetDefault) => FkAction::SetDefault,
    }
}

fn index_method(t: &Option<IndexType>) -> String {
    match t {
        None | Some(IndexType::BTree) => "btree".into(),
        Some(IndexType::Hash) => "hash".into(),
        Some(IndexType::GIN) => "gin".into(),
        Some(IndexType::GiST) => "gist".into(),
        Some(IndexType::SPGiST) => "spgist".into(),
        Some(IndexType::BRIN) => "brin".into(),
        Some(IndexType::Bloom) => "bloom".into(),
        Some(IndexType::Custom(i)) => ident(i),
    }
}

/// Column names an expression mentions (words that are columns of the table and not calls).
pub(crate) fn referenced_columns(expr: &str, table: &Table) -> Vec<String> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, expr).tokenize() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let significant: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    for (i, t) in significant.iter().enumerate() {
        if let Token::Word(w) = t {
            let name = if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() };
            let is_call = matches!(significant.get(i + 1), Some(Token::LParen));
            if !is_call && table.column(&name).is_some() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Replace whole-word identifier `old` by `new` in expression text.
pub(crate) fn rename_in_expr(expr: &str, old: &str, new: &str) -> String {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, expr).tokenize() else {
        return expr.to_string();
    };
    let mut out = String::new();
    for t in tokens {
        match &t {
            Token::Word(w)
                if (if w.quote_style.is_some() { w.value == old } else { w.value.to_lowercase() == old }) =>
            {
                out.push_str(&nest_catalog::sqltype::quote_ident_if_needed(new))
            }
            _ => out.push_str(&t.to_string()),
        }
    }
    canonical(&out, None)
}

impl Replayer {
    fn add_relation_name(&mut self, schema: &str, name: &str) {
        self.relation_names.insert((schema.to_string(), name.to_string()));
    }

    pub(crate) fn insert_table(&mut self, t: Table) {
        let key = (t.schema.clone(), t.name.clone());
        self.add_relation_name(&t.schema, &t.name);
        self.table_index.insert(key, self.tables.len());
        self.tables.push(t);
    }

    pub(crate) fn remove_table(&mut self, key: &Key) -> Option<Table> {
        let i = self.table_index.remove(key)?;
        let t = self.tables.remove(i);
        for v in self.table_index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        self.relation_names.remove(key);
        let owned: Vec<_> = self.index_owner.iter().filter(|(_, o)| *o == key).map(|(k, _)| k.clone()).collect();
        for k in owned {
            self.index_owner.remove(&k);
            self.relation_names.remove(&k);
        }
        for c in t.constraint_names() {
            self.constraint_names.remove(&(t.schema.clone(), c.to_string()));
        }
        self.sequences
            .retain(|s| !s.owned_by.as_deref().is_some_and(|o| o.starts_with(&format!("{}.{}.", t.schema, t.name))));
        Some(t)
    }

    /// Column from a definition; constraints written on the column are returned to be named.
    fn column_from_def(
        &mut self,
        table: &mut Table,
        def: &ColumnDef,
        pending: &mut Vec<PendingConstraint>,
    ) -> Option<Column> {
        let name = ident(&def.name);
        let at = self.at(def.name.span);
        let (ty, serial) = match SqlType::parse_with_serial(&def.data_type.to_string()) {
            Ok(t) => t,
            Err(e) => {
                self.error(
                    codes::UNKNOWN_TYPE,
                    at,
                    format!("column `{name}` has a type that cannot be read: {e}"),
                    "use a PostgreSQL type name",
                );
                return None;
            }
        };
        let mut col = Column {
            name: name.clone(),
            ty,
            nullable: true,
            default: None,
            identity: None,
            generated: None,
            comment: None,
        };
        for opt in &def.options {
            let cname = opt.name.as_ref().map(ident);
            match &opt.option {
                ColumnOption::NotNull => col.nullable = false,
                ColumnOption::Null => col.nullable = true,
                ColumnOption::Default(e) => col.default = Some(canonical(&e.to_string(), Some(&col.ty))),
                ColumnOption::PrimaryKey(pk) => {
                    col.nullable = false;
                    pending.push(PendingConstraint::Primary {
                        name: cname.or_else(|| pk.name.as_ref().map(ident)),
                        columns: vec![name.clone()],
                        at: at.clone(),
                    })
                }
                ColumnOption::Unique(u) => pending.push(PendingConstraint::Unique {
                    name: cname.or_else(|| u.name.as_ref().map(ident)),
                    columns: vec![name.clone()],
                    nulls_not_distinct: matches!(u.nulls_distinct, sqlparser::ast::NullsDistinctOption::NotDistinct),
                }),
                ColumnOption::ForeignKey(fk) => pending.push(PendingConstraint::Foreign {
                    name: cname.or_else(|| fk.name.as_ref().map(ident)),
                    columns: vec![name.clone()],
                    target: fk.foreign_table.clone(),
                    ref_columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: fk_action(&fk.on_delete),
                    on_update: fk_action(&fk.on_update),
                    deferrable: fk.characteristics.as_ref().and_then(|c| c.deferrable).unwrap_or(false),
                    at: self.at(fk
                        .foreign_table
                        .0
                        .last()
                        .and_then(|p| p.as_ident())
                        .map(|i| i.span)
                        .unwrap_or(def.name.span)),
                }),
                ColumnOption::Check(c) => pending.push(PendingConstraint::Check {
                    name: cname.or_else(|| c.name.as_ref().map(ident)),
                    expr: canonical(&c.expr.to_string(), None),
                }),
                ColumnOption::Generated { generated_as, generation_expr, .. } => {
                    match (generated_as, generation_expr) {
                        (_, Some(e)) => col.generated = Some(canonical(&e.to_string(), None)),
                        (GeneratedAs::ByDefault, None) => {
                            col.identity = Some(Identity::ByDefault);
                            col.nullable = false;
                        }
                        (_, None) => {
                            col.identity = Some(Identity::Always);
                            col.nullable = false;
                        }
                    }
                }
                ColumnOption::Comment(c) => col.comment = Some(c.clone()),
                _ => {}
            }
        }
        if serial != Serial::No {
            let seq = choose_name(&table.name, Some(&name), "seq", |c| {
                self.relation_names.contains(&(table.schema.clone(), c.to_string()))
            });
            self.add_relation_name(&table.schema, &seq);
            // As PostgreSQL prints it: identifiers quoted where they need it (`app."Member_id_seq"`).
            let q = nest_catalog::sqltype::quote_ident_if_needed;
            let qualified =
                if table.schema == "public" { q(&seq) } else { format!("{}.{}", q(&table.schema), q(&seq)) };
            col.default = Some(format!("nextval('{qualified}')"));
            col.nullable = false;
            self.sequences.push(Sequence {
                schema: table.schema.clone(),
                name: seq,
                ty: col.ty.clone(),
                owned_by: Some(format!("{}.{}.{}", table.schema, table.name, name)),
            });
        }
        let _ = table;
        Some(col)
    }

    fn pending_from_table_constraint(&mut self, c: &TableConstraint, pending: &mut Vec<PendingConstraint>) {
        match c {
            TableConstraint::PrimaryKey(pk) => pending.push(PendingConstraint::Primary {
                name: pk.name.as_ref().map(ident),
                columns: pk.columns.iter().map(index_column_name).collect(),
                at: pk.name.as_ref().map(|i| self.at(i.span)).unwrap_or_else(|| self.here()),
            }),
            TableConstraint::Unique(u) => pending.push(PendingConstraint::Unique {
                name: u.name.as_ref().map(ident),
                columns: u.columns.iter().map(index_column_name).collect(),
                nulls_not_distinct: matches!(u.nulls_distinct, sqlparser::ast::NullsDistinctOption::NotDistinct),
            }),
            TableConstraint::ForeignKey(fk) => pending.push(PendingConstraint::Foreign {
                name: fk.name.as_ref().map(ident),
                columns: fk.columns.iter().map(ident).collect(),
                target: fk.foreign_table.clone(),
                ref_columns: fk.referred_columns.iter().map(ident).collect(),
                on_delete: fk_action(&fk.on_delete),
                on_update: fk_action(&fk.on_update),
                deferrable: fk.characteristics.as_ref().and_then(|c| c.deferrable).unwrap_or(false),
                at: self.at(fk
                    .foreign_table
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.span)
                    .unwrap_or_else(sqlparser::tokenizer::Span::empty)),
            }),
            TableConstraint::Check(ck) => pending.push(PendingConstraint::Check {
                name: ck.name.as_ref().map(ident),
                expr: canonical(&ck.expr.to_string(), None),
            }),
            _ => {}
        }
    }

    fn check_columns_exist(&mut self, table: &Table, columns: &[String], what: &str, at: &Location) -> bool {
        for c in columns {
            if table.column(c).is_none() {
                self.error(
                    codes::UNKNOWN_COLUMN,
                    at.clone(),
                    format!("{what} names column `{c}`, which table `{}` does not have", table.name),
                    "check the column name",
                );
                return false;
            }
        }
        true
    }

    /// Name and attach constraints the way PostgreSQL does: checks, then keys, then foreign keys.
    pub(crate) fn apply_constraints(&mut self, table: &mut Table, pending: Vec<PendingConstraint>) {
        let schema = table.schema.clone();
        let mut keys = Vec::new();
        let mut fks = Vec::new();
        for p in pending {
            match p {
                PendingConstraint::Check { name, expr } => {
                    let name = name.unwrap_or_else(|| {
                        let cols = referenced_columns(&expr, table);
                        let col = if cols.len() == 1 { Some(cols[0].as_str()) } else { None };
                        choose_name(&table.name, col, "check", |c| {
                            self.constraint_names.contains(&(schema.clone(), c.to_string()))
                                || table.checks.iter().any(|k| k.name == c)
                        })
                    });
                    self.constraint_names.insert((schema.clone(), name.clone()));
                    table.checks.push(Check { name, expression: expr });
                }
                p @ (PendingConstraint::Primary { .. } | PendingConstraint::Unique { .. }) => keys.push(p),
                p @ PendingConstraint::Foreign { .. } => fks.push(p),
            }
        }
        let here = self.here();
        for p in keys {
            match p {
                PendingConstraint::Primary { name, columns, at } => {
                    if !self.check_columns_exist(table, &columns, "primary key", &at) {
                        continue;
                    }
                    if table.primary_key.is_some() {
                        self.error(
                            codes::DUPLICATE_OBJECT,
                            at,
                            format!("table `{}` has more than one primary key", table.name),
                            "keep one PRIMARY KEY; use UNIQUE for the others",
                        );
                        continue;
                    }
                    let name = name.unwrap_or_else(|| {
                        choose_name(&table.name, None, "pkey", |c| {
                            self.relation_names.contains(&(schema.clone(), c.to_string()))
                        })
                    });
                    for c in &columns {
                        if let Some(col) = table.column_mut(c) {
                            col.nullable = false;
                        }
                    }
                    self.register_index_name(&schema, &name, &table.name);
                    table.primary_key = Some(KeyConstraint { name, columns, nulls_not_distinct: false });
                }
                PendingConstraint::Unique { name, columns, nulls_not_distinct } => {
                    if !self.check_columns_exist(table, &columns, "unique constraint", &here) {
                        continue;
                    }
                    // PostgreSQL drops an unnamed key that repeats another key.
                    if name.is_none()
                        && (table.primary_key.as_ref().is_some_and(|k| k.columns == columns)
                            || table.unique.iter().any(|k| k.columns == columns))
                    {
                        continue;
                    }
                    let addition = index_name_addition(&columns);
                    let name = name.unwrap_or_else(|| {
                        choose_name(&table.name, Some(&addition), "key", |c| {
                            self.relation_names.contains(&(schema.clone(), c.to_string()))
                        })
                    });
                    self.register_index_name(&schema, &name, &table.name);
                    table.unique.push(KeyConstraint { name, columns, nulls_not_distinct });
                }
                _ => {}
            }
        }
        for p in fks {
            if let PendingConstraint::Foreign {
                name,
                columns,
                target,
                ref_columns,
                on_delete,
                on_update,
                deferrable,
                at,
            } = p
            {
                if !self.check_columns_exist(table, &columns, "foreign key", &at) {
                    continue;
                }
                let addition = index_name_addition(&columns);
                let name = name.unwrap_or_else(|| {
                    choose_name(&table.name, Some(&addition), "fkey", |c| {
                        self.constraint_names.contains(&(schema.clone(), c.to_string()))
                            || table.foreign_keys.iter().any(|k| k.name == c)
                    })
                });
                self.constraint_names.insert((schema.clone(), name.clone()));
                let (tschema, tname) = split_name(&target);
                let explicit = tschema.is_some();
                // A self reference or a table that exists now resolves at once; others at the end.
                let resolved =
                    if tschema.is_none() && tname == table.name && self.lookup_table_parts(None, &tname).is_none() {
                        Some((table.schema.clone(), tname.clone()))
                    } else {
                        self.lookup_table_parts(tschema.as_deref(), &tname)
                    };
                let (rs, rn) = resolved.unwrap_or_else(|| (tschema.unwrap_or_else(|| self.creation_schema()), tname));
                self.fk_checks.push(FkCheck {
                    table: QualifiedName::new(&table.schema, &table.name),
                    fk: name.clone(),
                    search_path: self.search_path.clone(),
                    explicit_schema: explicit,
                    at,
                });
                table.foreign_keys.push(ForeignKey {
                    name,
                    columns,
                    references: QualifiedName::new(rs, rn),
                    referenced_columns: ref_columns,
                    on_delete,
                    on_update,
                    deferrable,
                });
            }
        }
    }

    fn register_index_name(&mut self, schema: &str, name: &str, table: &str) {
        self.add_relation_name(schema, name);
        self.constraint_names.insert((schema.to_string(), name.to_string()));
        self.index_owner.insert((schema.to_string(), name.to_string()), (schema.to_string(), table.to_string()));
    }

    pub(crate) fn create_table(&mut self, ct: CreateTable) {
        if ct.temporary {
            return;
        }
        let (schema, name) = self.create_name(&ct.name);
        if Self::is_tool_schema(&schema) {
            return;
        }
        let name_at =
            ct.name.0.last().and_then(|p| p.as_ident()).map(|i| self.at(i.span)).unwrap_or_else(|| self.here());
        let key = (schema.clone(), name.clone());
        if self.table_index.contains_key(&key) || self.relation_names.contains(&key) {
            if ct.if_not_exists {
                return;
            }
            self.error(
                codes::DUPLICATE_OBJECT,
                name_at,
                format!("table `{schema}.{name}` is defined twice"),
                "remove one definition, or use CREATE TABLE IF NOT EXISTS",
            );
            return;
        }
        let mut table = Table::new(&schema, &name, TableKind::Table);
        table.origin = Some(name_at.clone());
        if let Some(q) = &ct.query {
            // CREATE TABLE ... AS SELECT: the query's columns, when their types can be told
            // offline (as for a view).
            let (columns, unknown) = self.columns_of(q, 0);
            if !unknown.is_empty() || columns.is_empty() {
                self.warn(
                    codes::IGNORED_STATEMENT,
                    name_at,
                    format!(
                        "CREATE TABLE {name} AS SELECT: the types of {} are not known offline; the table was skipped",
                        if unknown.is_empty() { "its columns".to_string() } else { unknown.join(", ") }
                    ),
                    "declare the table's columns explicitly, or read the live database with --database-url",
                );
                return;
            }
            // A query's result columns carry no constraint or default.
            table.columns = columns
                .into_iter()
                .map(|c| nest_catalog::Column {
                    nullable: true,
                    default: None,
                    identity: None,
                    generated: None,
                    comment: None,
                    ..c
                })
                .collect();
            self.insert_table(table);
            return;
        }
        if let Some(parent) = &ct.partition_of {
            let Ok(Some(pkey)) = self.target_table(parent, false) else {
                return;
            };
            let parent_table = self.table_ref(&pkey).cloned().expect("looked up");
            if parent_table.partition_by.is_none() {
                self.warn(
                    codes::PARENT_NOT_PARTITIONED,
                    name_at.clone(),
                    format!("`{name}` is declared PARTITION OF `{}`, but `{}` is not declared PARTITION BY; PostgreSQL rejects this", parent_table.name, parent_table.name),
                    &format!("add `PARTITION BY RANGE (...)` to CREATE TABLE {} (nest-generator sql schema writes it for you)", parent_table.name),
                );
            }
            table.kind = TableKind::Partition;
            table.columns = parent_table.columns.clone();
            for c in &mut table.columns {
                c.comment = None;
            }
            table.partition_of = Some(PartitionOf {
                parent: QualifiedName::new(&pkey.0, &pkey.1),
                bound: ct.for_values.as_ref().map(for_values_text).unwrap_or_else(|| "DEFAULT".into()),
            });
        }
        if let Some(pb) = &ct.partition_by {
            table.partition_by = Some(partition_by_text(pb));
        }
        let mut pending = Vec::new();
        for def in &ct.columns {
            let cname = ident(&def.name);
            if table.kind != TableKind::Partition && table.column(&cname).is_some() {
                let at = self.at(def.name.span);
                self.error(
                    codes::DUPLICATE_OBJECT,
                    at,
                    format!("column `{cname}` is defined twice in table `{name}`"),
                    "remove one of the definitions",
                );
                continue;
            }
            if let Some(col) = self.column_from_def(&mut table, def, &mut pending) {
                match table.column_mut(&col.name) {
                    // A partition may restate a parent column to add options.
                    Some(existing) => {
                        existing.nullable &= col.nullable;
                        if col.default.is_some() {
                            existing.default = col.default;
                        }
                    }
                    None => table.columns.push(col),
                }
            }
        }
        for c in &ct.constraints {
            self.pending_from_table_constraint(c, &mut pending);
        }
        self.apply_constraints(&mut table, pending);
        if let CreateTableOptions::With(opts) = &ct.table_options {
            self.timescale_table_options(&mut table, opts);
        }
        self.insert_table(table);
    }

    /// TimescaleDB 2.20+: `CREATE TABLE ... WITH (tsdb.hypertable, tsdb.partition_column = 'time')`.
    fn timescale_table_options(&mut self, table: &mut Table, opts: &[SqlOption]) {
        let mut is_hyper = false;
        let mut column = None;
        for o in opts {
            match o {
                SqlOption::Ident(n) => {
                    let k = name_parts(n).join(".");
                    if k == "tsdb.hypertable" || k == "timescaledb.hypertable" {
                        is_hyper = true;
                    }
                }
                SqlOption::KeyValue { key, value } => {
                    let k = name_parts(key).join(".");
                    if k.ends_with(".partition_column") || k.ends_with(".time_column") {
                        column = Some(value.to_string().trim_matches('\'').to_string());
                    }
                    if k == "tsdb.hypertable" || k == "timescaledb.hypertable" {
                        is_hyper = !value.to_string().eq_ignore_ascii_case("false");
                    }
                }
                _ => {}
            }
        }
        if is_hyper {
            let time_column = column.or_else(|| {
                table
                    .columns
                    .iter()
                    .find(|c| c.ty.name.starts_with("timestamp") || c.ty.name == "date")
                    .map(|c| c.name.clone())
            });
            if let Some(tc) = time_column {
                table.hypertable =
                    Some(nest_catalog::Hypertable { time_column: tc, ..nest_catalog::Hypertable::default() });
            }
        }
    }

    pub(crate) fn alter_table(&mut self, at: AlterTable) {
        let Ok(Some(key)) = self.target_table(&at.name, at.if_exists) else {
            return;
        };
        for op in at.operations {
            self.alter_table_op(&key, op);
        }
    }

    fn alter_table_op(&mut self, key: &Key, op: AlterTableOperation) {
        let Some(mut table) = self.table_ref(key).cloned() else {
            return;
        };
        match op {
            AlterTableOperation::AddColumn { column_def, if_not_exists, .. } => {
                let cname = ident(&column_def.name);
                if table.column(&cname).is_some() {
                    if !if_not_exists {
                        let at = self.at(column_def.name.span);
                        self.error(
                            codes::DUPLICATE_OBJECT,
                            at,
                            format!("column `{cname}` of `{}` already exists", table.name),
                            "drop it first or use ADD COLUMN IF NOT EXISTS",
                        );
                    }
                    return;
                }
                let mut pending = Vec::new();
                if let Some(col) = self.column_from_def(&mut table, &column_def, &mut pending) {
                    table.columns.push(col);
                }
                self.apply_constraints(&mut table, pending);
            }
            AlterTableOperation::DropColumn { column_names, if_exists, .. } => {
                for c in column_names {
                    let c = ident(&c);
                    if table.column(&c).is_none() {
                        if !if_exists {
                            let here = self.here();
                            self.error(
                                codes::UNKNOWN_COLUMN,
                                here,
                                format!("column `{c}` of `{}` does not exist", table.name),
                                "",
                            );
                        }
                        continue;
                    }
                    drop_column(&mut table, &c);
                }
            }
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                let (old, new) = (ident(&old_column_name), ident(&new_column_name));
                if table.column(&old).is_none() {
                    let at = self.at(old_column_name.span);
                    self.error(
                        codes::UNKNOWN_COLUMN,
                        at,
                        format!("column `{old}` of `{}` does not exist", table.name),
                        "",
                    );
                    return;
                }
                rename_column(&mut table, &old, &new);
                // Foreign keys in other tables that point at the renamed column.
                let target = table.qualified_name();
                for other in self.tables.iter_mut() {
                    for fk in other.foreign_keys.iter_mut().filter(|f| f.references == target) {
                        for rc in fk.referenced_columns.iter_mut().filter(|rc| **rc == old) {
                            *rc = new.clone();
                        }
                    }
                }
            }
            AlterTableOperation::RenameTable { table_name } => {
                let n = match table_name {
                    RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => n,
                };
                let (_, new_name) = split_name(&n);
                self.rename_table(key, &new_name);
                return;
            }
            AlterTableOperation::AddConstraint { constraint, .. } => {
                let mut pending = Vec::new();
                self.pending_from_table_constraint(&constraint, &mut pending);
                self.apply_constraints(&mut table, pending);
            }
            AlterTableOperation::DropConstraint { name, if_exists, .. } => {
                let n = ident(&name);
                if !drop_constraint(&mut table, &n) && !if_exists {
                    let at = self.at(name.span);
                    self.error(
                        codes::UNKNOWN_TABLE,
                        at,
                        format!("constraint `{n}` of `{}` does not exist", table.name),
                        "",
                    );
                }
                self.constraint_names.remove(&(table.schema.clone(), n.clone()));
                self.relation_names.remove(&(table.schema.clone(), n));
            }
            AlterTableOperation::DropPrimaryKey { .. } => table.primary_key = None,
            AlterTableOperation::AlterColumn { column_name, op } => {
                let cname = ident(&column_name);
                let at = self.at(column_name.span);
                let Some(col) = table.column_mut(&cname) else {
                    self.error(codes::UNKNOWN_COLUMN, at, format!("column `{cname}` does not exist"), "");
                    return;
                };
                match op {
                    AlterColumnOperation::SetNotNull => col.nullable = false,
                    AlterColumnOperation::DropNotNull => col.nullable = true,
                    AlterColumnOperation::SetDefault { value } => {
                        col.default = Some(canonical(&value.to_string(), Some(&col.ty)))
                    }
                    AlterColumnOperation::DropDefault => col.default = None,
                    AlterColumnOperation::SetDataType { data_type, .. } => {
                        match SqlType::parse(&data_type.to_string()) {
                            Ok(t) => col.ty = t,
                            Err(e) => {
                                self.error(codes::UNKNOWN_TYPE, at, format!("column `{cname}`: {e}"), "");
                                return;
                            }
                        }
                    }
                    AlterColumnOperation::AddGenerated { generated_as, .. } => {
                        col.identity = Some(match generated_as {
                            Some(GeneratedAs::ByDefault) => Identity::ByDefault,
                            _ => Identity::Always,
                        });
                        col.nullable = false;
                    }
                    _ => {}
                }
            }
            AlterTableOperation::EnableRowLevelSecurity => table.rls_enabled = true,
            AlterTableOperation::DisableRowLevelSecurity => table.rls_enabled = false,
            AlterTableOperation::ForceRowLevelSecurity => table.rls_forced = true,
            AlterTableOperation::NoForceRowLevelSecurity => table.rls_forced = false,
            AlterTableOperation::AttachPartitionOf { partition, for_values } => {
                let Ok(Some(child)) = self.target_table(&partition, false) else {
                    return;
                };
                let bound = for_values_text(&for_values);
                if let Some(c) = self.table_mut(&child) {
                    c.kind = TableKind::Partition;
                    c.partition_of = Some(PartitionOf { parent: QualifiedName::new(&key.0, &key.1), bound });
                }
                return;
            }
            AlterTableOperation::SetOptionsParens { options } => {
                // TimescaleDB compression settings of a hypertable; other storage options are
                // not part of the catalog.
                let compression = timescale_compression(&options);
                match (compression, table.hypertable.as_mut()) {
                    (Some(c), Some(h)) => {
                        let after = h.compression.take().and_then(|old| old.after);
                        h.compression = Some(nest_catalog::Compression { after, ..c });
                    }
                    (Some(_), None) => {
                        let at = self.here();
                        self.warn(
                            codes::IGNORED_STATEMENT,
                            at,
                            format!(
                                "{}: timescaledb.compress on a table that is not a hypertable was not recorded",
                                table.name
                            ),
                            "call create_hypertable first",
                        );
                        return;
                    }
                    (None, _) => return,
                }
            }
            _ => return,
        }
        if let Some(t) = self.table_mut(key) {
            *t = table;
        }
    }

    pub(crate) fn rename_table(&mut self, key: &Key, new_name: &str) {
        let Some(mut t) = self.remove_table(key) else {
            return;
        };
        let old = t.qualified_name();
        t.name = new_name.to_string();
        let new = t.qualified_name();
        for other in self.tables.iter_mut() {
            for fk in other.foreign_keys.iter_mut().filter(|f| f.references == old) {
                fk.references = new.clone();
            }
            if let Some(p) = other.partition_of.as_mut().filter(|p| p.parent == old) {
                p.parent = new.clone();
            }
        }
        for fc in self.fk_checks.iter_mut().filter(|f| f.table == old) {
            fc.table = new.clone();
        }
        for c in t.constraint_names() {
            self.constraint_names.insert((t.schema.clone(), c.to_string()));
        }
        for idx in &t.indexes {
            self.index_owner.insert((t.schema.clone(), idx.name.clone()), (t.schema.clone(), t.name.clone()));
            self.relation_names.insert((t.schema.clone(), idx.name.clone()));
        }
        for k in t.primary_key.iter().chain(t.unique.iter()) {
            self.index_owner.insert((t.schema.clone(), k.name.clone()), (t.schema.clone(), t.name.clone()));
            self.relation_names.insert((t.schema.clone(), k.name.clone()));
        }
        self.insert_table(t);
    }

    pub(crate) fn create_index(&mut self, ci: CreateIndex) {
        let Ok(Some(key)) = self.target_table(&ci.table_name, false) else {
            return;
        };
        let Some(mut table) = self.table_ref(&key).cloned() else {
            return;
        };
        let mut elements = Vec::new();
        let mut names_for_default = Vec::new();
        for c in &ci.columns {
            let el = index_element(c);
            names_for_default.push(if el.is_column { el.expr.clone() } else { figure_expr_name(&c.column.expr) });
            if el.is_column && table.column(&el.expr).is_none() {
                let at = self.here();
                self.error(
                    codes::UNKNOWN_COLUMN,
                    at,
                    format!("index on `{}` names column `{}`, which the table does not have", table.name, el.expr),
                    "check the column name",
                );
                return;
            }
            elements.push(el);
        }
        let name = match &ci.name {
            Some(n) => split_name(n).1,
            None => {
                let addition = index_name_addition(&names_for_default);
                choose_name(&table.name, Some(&addition), "idx", |c| {
                    self.relation_names.contains(&(table.schema.clone(), c.to_string()))
                })
            }
        };
        let nkey = (table.schema.clone(), name.clone());
        if self.relation_names.contains(&nkey) {
            if ci.if_not_exists {
                return;
            }
            let at = self.here();
            self.error(
                codes::DUPLICATE_OBJECT,
                at,
                format!("relation `{name}` already exists (index names share one namespace with tables)"),
                "choose another index name",
            );
            return;
        }
        self.add_relation_name(&table.schema, &name);
        self.index_owner.insert(nkey, key.clone());
        table.indexes.push(Index {
            name,
            columns: elements,
            method: index_method(&ci.using),
            unique: ci.unique,
            predicate: ci.predicate.as_ref().map(|p| canonical(&p.to_string(), None)),
            include: ci.include.iter().map(ident).collect(),
        });
        if let Some(t) = self.table_mut(&key) {
            *t = table;
        }
    }

    pub(crate) fn alter_index(&mut self, name: &ObjectName, op: AlterIndexOperation) {
        let AlterIndexOperation::RenameIndex { index_name } = op;
        let (schema, old) = split_name(name);
        let new = split_name(&index_name).1;
        self.rename_index(schema.as_deref(), &old, &new);
    }

    pub(crate) fn find_index_owner(&self, schema: Option<&str>, name: &str) -> Option<(String, String, String)> {
        let schemas: Vec<String> = match schema {
            Some(s) => vec![s.to_string()],
            None => self.search_path.iter().cloned().chain(std::iter::once("public".to_string())).collect(),
        };
        schemas
            .into_iter()
            .find_map(|s| self.index_owner.get(&(s.clone(), name.to_string())).map(|o| (s, o.0.clone(), o.1.clone())))
    }

    fn rename_index(&mut self, schema: Option<&str>, old: &str, new: &str) {
        let Some((s, ts, tn)) = self.find_index_owner(schema, old) else {
            return;
        };
        self.index_owner.remove(&(s.clone(), old.to_string()));
        self.relation_names.remove(&(s.clone(), old.to_string()));
        self.index_owner.insert((s.clone(), new.to_string()), (ts.clone(), tn.clone()));
        self.relation_names.insert((s, new.to_string()));
        if let Some(t) = self.table_mut(&(ts, tn)) {
            for i in t.indexes.iter_mut().filter(|i| i.name == old) {
                i.name = new.to_string();
            }
            for k in t.primary_key.iter_mut().chain(t.unique.iter_mut()).filter(|k| k.name == old) {
                k.name = new.to_string();
            }
        }
    }

    /// pg_dump's `ALTER INDEX parent_idx ATTACH PARTITION child_idx`: the child's index (or key)
    /// is the parent's, inherited; partitions keep only what they declare themselves.
    pub(crate) fn attach_index_partition(&mut self, child_schema: Option<&str>, child: &str) {
        let Some((s, ts, tn)) = self.find_index_owner(child_schema, child) else {
            return;
        };
        if let Some(t) = self.table_mut(&(ts, tn)) {
            if t.kind != TableKind::Partition {
                return;
            }
            t.indexes.retain(|i| i.name != child);
            t.unique.retain(|k| k.name != child);
            if t.primary_key.as_ref().is_some_and(|k| k.name == child) {
                t.primary_key = None;
            }
        }
        self.index_owner.remove(&(s, child.to_string()));
    }
}

fn index_column_name(c: &IndexColumn) -> String {
    match &c.column.expr {
        Expr::Identifier(i) => ident(i),
        other => other.to_string(),
    }
}

fn index_element(c: &IndexColumn) -> IndexElement {
    let mut e = &c.column.expr;
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    let (expr, is_column) = match e {
        Expr::Identifier(i) => (ident(i), true),
        other => (canonical(&other.to_string(), None), false),
    };
    let descending = matches!(c.column.options.sort, Some(OrderBySort::Desc));
    // Only a NULLS order other than the direction's default is recorded.
    let nulls_first = c.column.options.nulls_first.filter(|nf| *nf != descending);
    let opclass = c.operator_class.as_ref().map(|o| name_parts(o).join("."));
    IndexElement { expr, is_column, descending, nulls_first, opclass }
}

/// PostgreSQL's name for an index expression column (FigureColname): the function name.
fn figure_expr_name(e: &Expr) -> String {
    match e {
        Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(ident).unwrap_or_else(|| "expr".into()),
        Expr::Nested(inner) => figure_expr_name(inner),
        Expr::Cast { expr, .. } => figure_expr_name(expr),
        _ => "expr".into(),
    }
}

/// Column names joined by `_`, cut like PostgreSQL's ChooseIndexNameAddition.
pub(crate) fn index_name_addition(cols: &[String]) -> String {
    let mut buf = String::new();
    for c in cols {
        if !buf.is_empty() {
            buf.push('_');
        }
        buf.push_str(c);
        if buf.len() > nest_catalog::naming::MAX_IDENT {
            break;
        }
    }
    buf
}

fn bound_values(v: &[PartitionBoundValue]) -> String {
    v.iter()
        .map(|b| match b {
            PartitionBoundValue::Expr(e) => canonical_bound(&canonical(&e.to_string(), None)),
            PartitionBoundValue::MinValue => "MINVALUE".into(),
            PartitionBoundValue::MaxValue => "MAXVALUE".into(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bounds of timestamp partitions: `'2024-01-01'` and PostgreSQL's `'2024-01-01 00:00:00+00'`
/// are one value.
fn canonical_bound(v: &str) -> String {
    let inner = v.trim_matches('\'');
    if v.starts_with('\'')
        && inner.len() > 10
        && let Some((date, rest)) = inner.split_at_checked(10)
    {
        let midnight = ["00:00:00", "00:00:00+00", "00:00:00+00:00", "00:00:00Z"];
        if date.chars().filter(|c| *c == '-').count() == 2 && midnight.contains(&rest.trim()) {
            return format!("'{date}'");
        }
    }
    v.to_string()
}

pub(crate) fn for_values_text(fv: &ForValues) -> String {
    match fv {
        ForValues::In(v) => format!(
            "FOR VALUES IN ({})",
            v.iter().map(|e| canonical(&e.to_string(), None)).collect::<Vec<_>>().join(", ")
        ),
        ForValues::From { from, to } => format!("FOR VALUES FROM ({}) TO ({})", bound_values(from), bound_values(to)),
        ForValues::With { modulus, remainder } => {
            format!("FOR VALUES WITH (modulus {modulus}, remainder {remainder})")
        }
        ForValues::Default => "DEFAULT".into(),
    }
}

/// `RANGE (created_at)` from sqlparser's reading of `PARTITION BY RANGE (created_at)`.
fn partition_by_text(e: &Expr) -> String {
    if let Expr::Function(f) = e {
        let strategy = f.name.to_string().to_uppercase();
        if let sqlparser::ast::FunctionArguments::List(l) = &f.args {
            let args = l.args.iter().map(|a| canonical(&a.to_string(), None)).collect::<Vec<_>>().join(", ");
            return format!("{strategy} ({args})");
        }
    }
    canonical(&e.to_string(), None)
}

fn drop_column(t: &mut Table, c: &str) {
    t.columns.retain(|x| x.name != c);
    if t.primary_key.as_ref().is_some_and(|k| k.columns.iter().any(|x| x == c)) {
        t.primary_key = None;
    }
    t.unique.retain(|k| !k.columns.iter().any(|x| x == c));
    t.foreign_keys.retain(|k| !k.columns.iter().any(|x| x == c));
    t.indexes.retain(|i| !i.columns.iter().any(|e| e.is_column && e.expr == c));
    let cols: Vec<String> = t.checks.iter().map(|k| k.expression.clone()).collect();
    let keep: Vec<bool> = cols.iter().map(|e| !referenced_columns(e, t).iter().any(|x| x == c)).collect();
    let mut i = 0;
    t.checks.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

fn rename_column(t: &mut Table, old: &str, new: &str) {
    for c in t.columns.iter_mut().filter(|c| c.name == old) {
        c.name = new.to_string();
    }
    for k in t.primary_key.iter_mut().chain(t.unique.iter_mut()) {
        for c in k.columns.iter_mut().filter(|c| *c == old) {
            *c = new.to_string();
        }
    }
    for fk in t.foreign_keys.iter_mut() {
        for c in fk.columns.iter_mut().filter(|c| *c == old) {
            *c = new.to_string();
        }
    }
    for i in t.indexes.iter_mut() {
        for e in i.columns.iter_mut() {
            if e.is_column && e.expr == old {
                e.expr = new.to_string();
            } else if !e.is_column {
                e.expr = rename_in_expr(&e.expr, old, new);
            }
        }
        if let Some(p) = &i.predicate {
            i.predicate = Some(rename_in_expr(p, old, new));
        }
    }
    for k in t.checks.iter_mut() {
        k.expression = rename_in_expr(&k.expression, old, new);
    }
    for p in t.policies.iter_mut() {
        p.using = p.using.as_ref().map(|e| rename_in_expr(e, old, new));
        p.with_check = p.with_check.as_ref().map(|e| rename_in_expr(e, old, new));
    }
    if let Some(h) = t.hypertable.as_mut().filter(|h| h.time_column == old) {
        h.time_column = new.to_string();
    }
}

/// Drop a named constraint of any kind; false if there is none.
fn drop_constraint(t: &mut Table, name: &str) -> bool {
    if t.primary_key.as_ref().is_some_and(|k| k.name == name) {
        t.primary_key = None;
        return true;
    }
    let before = t.unique.len() + t.foreign_keys.len() + t.checks.len();
    t.unique.retain(|k| k.name != name);
    t.foreign_keys.retain(|k| k.name != name);
    t.checks.retain(|k| k.name != name);
    before != t.unique.len() + t.foreign_keys.len() + t.checks.len()
}

/// `SET (timescaledb.compress, timescaledb.compress_segmentby = '...', ...)`: the compression
/// settings, or None when the options do not turn compression on.
fn timescale_compression(opts: &[SqlOption]) -> Option<nest_catalog::Compression> {
    let mut on = false;
    let mut c = nest_catalog::Compression::default();
    for o in opts {
        let (k, v) = match o {
            SqlOption::Ident(n) => (name_parts(n).join("."), None),
            SqlOption::KeyValue { key, value } => (name_parts(key).join("."), Some(value.to_string())),
            _ => continue,
        };
        let unquote = |v: &str| v.trim().trim_matches('\'').replace("''", "'");
        match k.trim_start_matches("timescaledb.").trim_start_matches("tsdb.") {
            "compress" | "enable_columnstore" => on = v.as_deref().is_none_or(|v| !v.eq_ignore_ascii_case("false")),
            "compress_segmentby" | "segmentby" => c.segment_by = v.as_deref().map(unquote),
            "compress_orderby" | "orderby" => c.order_by = v.as_deref().map(unquote),
            _ => {}
        }
    }
    on.then_some(c)
}
