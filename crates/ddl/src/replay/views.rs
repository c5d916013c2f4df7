//! Views and materialized views: the columns of the defining query, inferred offline from the
//! tables it reads (PostgreSQL's own rules for names and common functions' result types).

use super::{Replayer, ident, split_name};
use nest_catalog::{Column, SqlType, Table, TableKind, codes};
use sqlparser::ast::{
    BinaryOperator, CreateView, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Query, SelectItem, SetExpr,
    TableFactor, Value,
};

/// The relations a SELECT reads, with the name each is visible under; and the functions and
/// composite types of the input so far, for the types of calls and of `(composite).field`.
struct Scope {
    rels: Vec<(String, Table)>,
    /// Name (lower case), argument count, result type of the input's functions.
    funcs: Vec<(String, usize, SqlType)>,
    composites: Vec<nest_catalog::CompositeType>,
}

impl Scope {
    /// The result type of a call of a function of the input with `argc` arguments (not a
    /// set-returning one), when exactly one such function has that name.
    fn function(&self, name: &str, argc: usize) -> Option<SqlType> {
        let mut found = self.funcs.iter().filter(|(n, c, _)| n == name && *c == argc);
        let (_, _, t) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some(t.clone())
    }

    /// The type of field `field` of the composite type `t`.
    fn field(&self, t: &SqlType, field: &str) -> Option<SqlType> {
        let schema = t.schema.as_deref().unwrap_or("public");
        let c = self.composites.iter().find(|c| c.name == t.name && c.schema == schema).or_else(|| {
            let mut same = self.composites.iter().filter(|c| c.name == t.name);
            let one = same.next()?;
            same.next().is_none().then_some(one)
        })?;
        c.attributes.iter().find(|(n, _)| n == field).map(|(_, ty)| ty.clone())
    }

    fn column(&self, qualifier: Option<&str>, name: &str) -> Option<SqlType> {
        self.rels
            .iter()
            .filter(|(alias, _)| qualifier.is_none_or(|q| q == alias))
            .find_map(|(_, t)| t.column(name).map(|c| c.ty.clone()))
    }
}

fn simple(name: &str) -> SqlType {
    SqlType::simple(name)
}

fn is_integer(t: &SqlType) -> bool {
    !t.array && matches!(t.name.as_str(), "smallint" | "integer" | "bigint")
}

fn first_arg(f: &sqlparser::ast::Function, i: usize) -> Option<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => match l.args.get(i)? {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            FunctionArg::Named { arg: FunctionArgExpr::Expr(e), .. } => Some(e),
            _ => None,
        },
        _ => None,
    }
}

/// Type of an expression, when it can be known from the scope and the expression alone.
fn infer(e: &Expr, scope: &Scope) -> Option<SqlType> {
    match e {
        Expr::Identifier(i) => scope.column(None, &ident(i)),
        Expr::CompoundIdentifier(ids) if ids.len() >= 2 => {
            let q = ident(&ids[ids.len() - 2]);
            scope.column(Some(&q), &ident(&ids[ids.len() - 1]))
        }
        Expr::Nested(inner) => infer(inner, scope),
        Expr::Cast { data_type, .. } => SqlType::parse(&data_type.to_string()).ok(),
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(if n.contains('.') || n.contains('e') || n.contains('E') {
                simple("numeric")
            } else if n.parse::<i32>().is_ok() {
                simple("integer")
            } else if n.parse::<i64>().is_ok() {
                simple("bigint")
            } else {
                simple("numeric")
            }),
            Value::SingleQuotedString(_) => Some(simple("text")),
            Value::Boolean(_) => Some(simple("boolean")),
            _ => None,
        },
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::And
            | BinaryOperator::Or => Some(simple("boolean")),
            BinaryOperator::StringConcat => Some(simple("text")),
            // Arithmetic answers the operand's type without its modifier (numeric(10,2) * 2 is
            // numeric), as PostgreSQL's operators do.
            _ => infer(left, scope).or_else(|| infer(right, scope)).map(|t| SqlType { modifiers: Vec::new(), ..t }),
        },
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::In { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::Exists { .. } => Some(simple("boolean")),
        Expr::Case { conditions, else_result, .. } => conditions
            .iter()
            .find_map(|c| infer(&c.result, scope))
            .or_else(|| else_result.as_ref().and_then(|e| infer(e, scope))),
        Expr::Function(f) => {
            let name = f.name.0.last().map(|p| p.to_string().to_lowercase()).unwrap_or_default();
            let arg0 = || first_arg(f, 0).and_then(|a| infer(a, scope));
            match name.as_str() {
                "count" => Some(simple("bigint")),
                "sum" => arg0().map(|t| match t.name.as_str() {
                    "smallint" | "integer" => simple("bigint"),
                    "real" => simple("real"),
                    "double precision" => simple("double precision"),
                    "interval" => simple("interval"),
                    _ => simple("numeric"),
                }),
                "avg" => arg0().map(|t| match t.name.as_str() {
                    "real" | "double precision" => simple("double precision"),
                    "interval" => simple("interval"),
                    _ => simple("numeric"),
                }),
                "min" | "max" | "first" | "last" | "coalesce" | "nullif" | "greatest" | "least" | "abs" => arg0(),
                // date_trunc(field, ts) and time_bucket(width, ts) keep the time type.
                "date_trunc" | "date_bin" | "time_bucket" | "time_bucket_gapfill" => {
                    first_arg(f, 1).and_then(|a| infer(a, scope))
                }
                "now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp" | "clock_timestamp" => {
                    Some(simple("timestamp with time zone"))
                }
                "current_date" => Some(simple("date")),
                "lower" | "upper" | "concat" | "concat_ws" | "trim" | "btrim" | "substring" | "substr" | "replace"
                | "initcap" | "left" | "right" | "format" | "string_agg" | "md5" | "to_char" => Some(simple("text")),
                "length" | "char_length" | "position" | "row_number" | "rank" | "dense_rank" => {
                    Some(simple(if name == "length" || name == "char_length" || name == "position" {
                        "integer"
                    } else {
                        "bigint"
                    }))
                }
                "bool_and" | "bool_or" | "every" => Some(simple("boolean")),
                "array_agg" => arg0().map(|t| SqlType { array: true, ..t }),
                "json_agg" | "json_build_object" | "json_object_agg" | "to_json" => Some(simple("json")),
                "jsonb_agg" | "jsonb_build_object" | "jsonb_object_agg" | "to_jsonb" => Some(simple("jsonb")),
                "round" | "trunc" => arg0().map(|t| if is_integer(&t) { simple("numeric") } else { t }),
                "extract" | "date_part" => Some(simple("numeric")),
                "gen_random_uuid" | "uuid_generate_v4" | "uuid_generate_v7" => Some(simple("uuid")),
                _ => {
                    let argc = match &f.args {
                        FunctionArguments::List(l) => l.args.len(),
                        _ => 0,
                    };
                    scope.function(&name, argc)
                }
            }
        }
        // `(composite).field`, e.g. `(to_pair(t)).a`.
        Expr::CompoundFieldAccess { root, access_chain } => {
            let mut t = infer(root, scope)?;
            for step in access_chain {
                let sqlparser::ast::AccessExpr::Dot(Expr::Identifier(i)) = step else {
                    return None;
                };
                t = scope.field(&t, &ident(i))?;
            }
            Some(t)
        }
        Expr::Extract { .. } => Some(simple("numeric")),
        _ => None,
    }
}

/// PostgreSQL's column name for an unnamed select item (FigureColname).
fn figure_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => ident(i),
        Expr::CompoundIdentifier(ids) => ids.last().map(ident).unwrap_or_else(|| "?column?".into()),
        Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(ident).unwrap_or_else(|| "?column?".into()),
        Expr::Cast { expr, data_type, .. } => match &**expr {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) => figure_name(expr),
            _ => SqlType::parse(&data_type.to_string()).map(|t| t.name).unwrap_or_else(|_| "?column?".into()),
        },
        Expr::Nested(inner) => figure_name(inner),
        Expr::CompoundFieldAccess { access_chain, .. } => match access_chain.last() {
            Some(sqlparser::ast::AccessExpr::Dot(Expr::Identifier(i))) => ident(i),
            _ => "?column?".into(),
        },
        Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

impl Replayer {
    /// The query's WITH tables (common table expressions), typed from their queries in order
    /// (each sees those before it); a recursive one from its first, non-recursive branch.
    fn ctes_of(&self, q: &Query, depth: usize, outer: &[(String, Table)]) -> Vec<(String, Table)> {
        let mut out = outer.to_vec();
        let Some(with) = &q.with else {
            return out;
        };
        if depth >= 32 {
            return out;
        }
        for cte in &with.cte_tables {
            let (mut cols, _) = self.columns_in(&cte.query, depth + 1, &out);
            for (c, name) in cols.iter_mut().zip(cte.alias.columns.iter()) {
                c.name = ident(&name.name);
            }
            let name = ident(&cte.alias.name);
            let mut t = Table::new("", &name, TableKind::View);
            t.columns = cols;
            out.retain(|(n, _)| *n != name);
            out.push((name, t));
        }
        out
    }

    fn scope_of(&self, q: &Query, depth: usize, outer: &[(String, Table)]) -> (Scope, Option<Vec<SelectItem>>) {
        let ctes = self.ctes_of(q, depth, outer);
        let mut body = &*q.body;
        loop {
            match body {
                SetExpr::SetOperation { left, .. } => body = left,
                SetExpr::Query(q) => body = &q.body,
                _ => break,
            }
        }
        let funcs = self
            .functions
            .iter()
            .filter(|f| !f.returns.starts_with("setof ") && f.language != "aggregate")
            .filter_map(|f| Some((f.name.to_lowercase(), f.arguments.len(), SqlType::parse(&f.returns).ok()?)))
            .collect();
        let composites = self.composites.clone();
        let SetExpr::Select(sel) = body else {
            // VALUES (...), ...: columns column1, column2, ... typed from the first row.
            let projection = match body {
                SetExpr::Values(v) => v.rows.first().map(|row| {
                    row.iter()
                        .enumerate()
                        .map(|(i, e)| SelectItem::ExprWithAlias {
                            expr: e.clone(),
                            alias: sqlparser::ast::Ident::new(format!("column{}", i + 1)),
                        })
                        .collect()
                }),
                _ => None,
            };
            return (Scope { rels: Vec::new(), funcs, composites }, projection);
        };
        let mut rels = Vec::new();
        for twj in &sel.from {
            self.collect_relation(&twj.relation, depth, &ctes, &mut rels);
            for j in &twj.joins {
                self.collect_relation(&j.relation, depth, &ctes, &mut rels);
            }
        }
        (Scope { rels, funcs, composites }, Some(sel.projection.clone()))
    }

    /// A FROM item's relations: tables, joins in parentheses (as pg_dump writes them), and
    /// subqueries with an alias (their columns inferred the same way).
    fn collect_relation(
        &self,
        f: &TableFactor,
        depth: usize,
        ctes: &[(String, Table)],
        rels: &mut Vec<(String, Table)>,
    ) {
        match f {
            TableFactor::Table { name, alias, .. } => {
                let (schema, tname) = split_name(name);
                let visible = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| tname.clone());
                // A WITH table of the query (or an enclosing one) hides a table of that name.
                if schema.is_none()
                    && let Some((_, t)) = ctes.iter().rev().find(|(n, _)| *n == tname)
                {
                    rels.push((visible, t.clone()));
                } else if let Some(key) = self.lookup_table(name)
                    && let Some(t) = self.table_ref(&key)
                {
                    rels.push((visible, t.clone()));
                }
            }
            TableFactor::NestedJoin { table_with_joins, .. } if depth < 32 => {
                self.collect_relation(&table_with_joins.relation, depth + 1, ctes, rels);
                for j in &table_with_joins.joins {
                    self.collect_relation(&j.relation, depth + 1, ctes, rels);
                }
            }
            TableFactor::Derived { subquery, alias: Some(alias), .. } if depth < 32 => {
                let (mut cols, _) = self.columns_in(subquery, depth + 1, ctes);
                for (c, name) in cols.iter_mut().zip(alias.columns.iter()) {
                    c.name = ident(&name.name);
                }
                let mut t = Table::new("", &ident(&alias.name), TableKind::View);
                t.columns = cols;
                rels.push((ident(&alias.name), t));
            }
            _ => {}
        }
    }

    /// The columns a query returns, and the names whose type could not be inferred.
    pub(crate) fn columns_of(&self, q: &Query, depth: usize) -> (Vec<Column>, Vec<String>) {
        self.columns_in(q, depth, &[])
    }

    /// `columns_of` where the WITH tables `ctes` of enclosing queries are visible.
    fn columns_in(&self, q: &Query, depth: usize, ctes: &[(String, Table)]) -> (Vec<Column>, Vec<String>) {
        let (scope, projection) = self.scope_of(q, depth, ctes);
        let mut cols: Vec<Column> = Vec::new();
        let mut unknown = Vec::new();
        for item in projection.unwrap_or_default() {
            match item {
                SelectItem::Wildcard(_) => {
                    for (_, t) in &scope.rels {
                        cols.extend(t.columns.iter().cloned());
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => {
                    let q = kind
                        .to_string()
                        .trim_end_matches(".*")
                        .rsplit('.')
                        .next()
                        .unwrap_or("")
                        .trim_matches('"')
                        .to_string();
                    for (alias, t) in &scope.rels {
                        if alias.eq_ignore_ascii_case(&q) {
                            cols.extend(t.columns.iter().cloned());
                        }
                    }
                }
                SelectItem::UnnamedExpr(e) => {
                    let n = figure_name(&e);
                    let ty = infer(&e, &scope);
                    if ty.is_none() {
                        unknown.push(n.clone());
                    }
                    cols.push(view_column(n, ty));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let n = ident(&alias);
                    let ty = infer(&expr, &scope);
                    if ty.is_none() {
                        unknown.push(n.clone());
                    }
                    cols.push(view_column(n, ty));
                }
                SelectItem::ExprWithAliases { .. } => {}
            }
        }
        (cols, unknown)
    }

    pub(crate) fn create_view(&mut self, cv: CreateView, text: &str) {
        if cv.temporary {
            return;
        }
        let (schema, name) = self.create_name(&cv.name);
        if Self::is_tool_schema(&schema) {
            return;
        }
        let key = (schema.clone(), name.clone());
        let name_at =
            cv.name.0.last().and_then(|p| p.as_ident()).map(|i| self.at(i.span)).unwrap_or_else(|| self.here());
        if self.table_index.contains_key(&key) {
            if cv.or_replace {
                self.remove_table(&key);
            } else if cv.if_not_exists {
                return;
            } else {
                self.error(
                    codes::DUPLICATE_OBJECT,
                    name_at,
                    format!("relation `{schema}.{name}` is defined twice"),
                    "use CREATE OR REPLACE VIEW",
                );
                return;
            }
        }
        let kind = if cv.materialized { TableKind::MaterializedView } else { TableKind::View };
        let mut table = Table::new(&schema, &name, kind);
        table.origin = Some(name_at.clone());
        table.definition = Some(cv.query.to_string());
        let (mut cols, unknown) = self.columns_of(&cv.query, 0);
        // Explicit column names: CREATE VIEW v (a, b) AS ...
        for (c, def) in cols.iter_mut().zip(cv.columns.iter()) {
            c.name = ident(&def.name);
        }
        for c in &mut cols {
            c.nullable = true;
            c.default = None;
            c.identity = None;
            c.generated = None;
            c.comment = None;
        }
        if !unknown.is_empty() {
            self.info(
                codes::IGNORED_STATEMENT,
                name_at,
                format!(
                    "view `{name}`: the type of column(s) {} could not be inferred offline and is taken as text",
                    unknown.join(", ")
                ),
            );
        }
        if cols.is_empty() && !text.is_empty() {
            let here = self.here();
            self.warn(
                codes::IGNORED_STATEMENT,
                here,
                format!("view `{name}`: no column could be read from its query"),
                "name the view's columns, or read the live database with --database-url",
            );
        }
        table.columns = cols;
        self.insert_table(table);
    }
}

fn view_column(name: String, ty: Option<SqlType>) -> Column {
    Column {
        name,
        ty: ty.unwrap_or_else(|| SqlType::simple("text")),
        nullable: true,
        default: None,
        identity: None,
        generated: None,
        comment: None,
    }
}

/// Whether the query `sql` (a view's definition) reads the relation `key` (schema, name): a name
/// after FROM or JOIN, or after a comma in a FROM list, that is `schema.name` or an unqualified
/// `name` (resolved loosely: any schema). Subqueries are scanned too; functions in FROM are not
/// relations.
pub(crate) fn reads_relation(sql: &str, key: &(String, String)) -> bool {
    use crate::fallback::{kw as word, object_name, tokens};
    use sqlparser::tokenizer::Token;
    let Some(toks) = tokens(sql) else {
        return false;
    };
    // The relation named at `i`, if one is.
    let relation_at = |mut i: usize| -> Option<(Option<String>, String)> {
        while word(toks.get(i), "only") || word(toks.get(i), "lateral") {
            i += 1;
        }
        let name = object_name(&toks, &mut i)?;
        if matches!(toks.get(i), Some(Token::LParen)) {
            return None; // a function call
        }
        Some(split_name(&name))
    };
    let mut depth = 0i32;
    let mut from_lists: Vec<i32> = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        let named = match tok {
            Token::LParen => {
                depth += 1;
                None
            }
            Token::RParen => {
                from_lists.retain(|d| *d < depth);
                depth -= 1;
                None
            }
            Token::Comma if from_lists.last() == Some(&depth) => relation_at(i + 1),
            t if word(Some(t), "from") => {
                from_lists.push(depth);
                relation_at(i + 1)
            }
            t if word(Some(t), "join") => relation_at(i + 1),
            t if [
                "where",
                "group",
                "order",
                "having",
                "limit",
                "union",
                "except",
                "intersect",
                "window",
                "on",
                "using",
            ]
            .iter()
            .any(|w| word(Some(t), w)) =>
            {
                if from_lists.last() == Some(&depth) {
                    from_lists.pop();
                }
                None
            }
            _ => None,
        };
        if let Some((schema, name)) = named
            && name == key.1
            && schema.as_deref().is_none_or(|s| s == key.0)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod reads_relation_tests {
    use super::reads_relation;

    #[test]
    fn relations_after_from_join_and_commas() {
        let k = |s: &str, n: &str| (s.to_string(), n.to_string());
        assert!(reads_relation("SELECT a FROM t", &k("public", "t")));
        assert!(reads_relation("SELECT a FROM app.t x JOIN public.u ON x.id = u.id", &k("public", "u")));
        assert!(reads_relation("SELECT * FROM a, b WHERE a.id = b.id", &k("public", "b")));
        assert!(reads_relation("SELECT (SELECT max(x) FROM inner_t) FROM a", &k("public", "inner_t")));
        assert!(reads_relation("SELECT * FROM ONLY \"Mixed\"", &k("public", "Mixed")));
        assert!(!reads_relation("SELECT t FROM a", &k("public", "t")), "a column named like the table");
        assert!(!reads_relation("SELECT * FROM generate_series(1, 3) t", &k("public", "generate_series")));
        assert!(!reads_relation("SELECT * FROM app.t", &k("public", "t")), "another schema's t");
        assert!(!reads_relation("SELECT a, b FROM x WHERE y IN (1, 2)", &k("public", "b")));
    }
}
