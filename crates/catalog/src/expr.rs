//! Canonical text for SQL expressions (defaults, checks, index predicates, policies).
//!
//! PostgreSQL stores expressions in a deparsed form: `'free'::character varying`,
//! `((status)::text = ANY ((ARRAY['a'::character varying])::text[]))`, `('-1'::integer)::numeric`.
//! Hand-written DDL says `'free'`, `status IN ('a')`, `-1`. Both go through [`canonical`], which
//! parses the text, removes the casts PostgreSQL adds on its own, rewrites equivalent forms to
//! one spelling, and prints the result with one parenthesization. The output is still valid SQL
//! with the same meaning, so it can be emitted again.

use crate::sqltype::SqlType;
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, InTarget,
    ObjectName, ObjectNamePart, UnaryOperator, Value, ValueWithSpan,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

/// Canonical form of `text`. `column_type` is the type the expression is assigned to (a column
/// default): a cast of a literal to that type is implied and dropped.
pub fn canonical(text: &str, column_type: Option<&SqlType>) -> String {
    match parse_expr(text) {
        Some(e) => canonical_expr(e, column_type),
        None => collapse_whitespace(text),
    }
}

/// Canonical form of an already parsed expression.
pub fn canonical_expr(e: Expr, column_type: Option<&SqlType>) -> String {
    let e = normalize(e);
    let e = match (column_type, e) {
        (Some(t), Expr::Cast { expr, data_type, .. }) if is_literal(&expr) && same_type(&data_type, t) => *expr,
        (_, e) => e,
    };
    let e = match (column_type, e) {
        (Some(t), e) if t.name == "jsonb" && !t.array => jsonb_literal(e),
        (_, e) => e,
    };
    parenthesize(e).to_string()
}

pub fn parse_expr(text: &str) -> Option<Expr> {
    let dialect = PostgreSqlDialect {};
    let mut p = Parser::new(&dialect).try_with_sql(text).ok()?;
    let e = p.parse_expr().ok()?;
    // The whole text must be one expression.
    if p.peek_token().token != sqlparser::tokenizer::Token::EOF {
        return None;
    }
    Some(e)
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn same_type(dt: &DataType, t: &SqlType) -> bool {
    match SqlType::parse(&dt.to_string()) {
        Ok(c) => c.name == t.name && c.schema == t.schema && c.array == t.array,
        Err(_) => false,
    }
}

fn cast_type(dt: &DataType) -> Option<SqlType> {
    SqlType::parse(&dt.to_string()).ok()
}

fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(_))
        || matches!(e, Expr::UnaryOp { op: UnaryOperator::Minus, expr } if matches!(**expr, Expr::Value(_)))
        || matches!(e, Expr::Array(a) if a.elem.iter().all(is_literal))
}

fn is_text_like(t: &SqlType) -> bool {
    !t.array && matches!(t.name.as_str(), "text" | "character varying" | "character" | "bpchar" | "name" | "citext")
}

fn is_numeric(t: &SqlType) -> bool {
    !t.array && matches!(t.name.as_str(), "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision")
}

fn string_value(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(s), .. }) => Some(s),
        _ => None,
    }
}

fn number(s: &str) -> Expr {
    Expr::Value(ValueWithSpan { value: Value::Number(s.to_string(), false), span: Span::empty() })
}

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.chars().filter(|c| *c == '.').count() <= 1
        && t.chars().any(|c| c.is_ascii_digit())
}

fn canonical_ident(mut id: Ident) -> Ident {
    match id.quote_style {
        None => {
            id.value = id.value.to_lowercase();
        }
        Some('"') => {
            let plain = crate::sqltype::quote_ident_if_needed(&id.value) == id.value;
            if plain {
                id.quote_style = None;
            }
        }
        _ => {}
    }
    id.span = Span::empty();
    id
}

fn canonical_name(name: ObjectName) -> ObjectName {
    let mut parts: Vec<ObjectNamePart> = name
        .0
        .into_iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => ObjectNamePart::Identifier(canonical_ident(i)),
            other => other,
        })
        .collect();
    if parts.len() == 2
        && let ObjectNamePart::Identifier(i) = &parts[0]
        && (i.value == "public" || i.value == "pg_catalog")
    {
        parts.remove(0);
    }
    ObjectName(parts)
}

fn to_type(t: &SqlType) -> DataType {
    DataType::Custom(ObjectName(vec![ObjectNamePart::Identifier(Ident::new(t.to_string()))]), vec![])
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// Rewrite `e` into the canonical tree: no parentheses, implied casts removed, equivalent
/// operators in one spelling.
fn normalize(e: Expr) -> Expr {
    match e {
        Expr::Nested(inner) => normalize(*inner),
        Expr::Identifier(i) => Expr::Identifier(canonical_ident(i)),
        Expr::CompoundIdentifier(ids) => Expr::CompoundIdentifier(ids.into_iter().map(canonical_ident).collect()),
        Expr::Value(v) => Expr::Value(ValueWithSpan { value: canonical_value(v.value), span: Span::empty() }),
        Expr::TypedString(ts) => normalize(Expr::Cast {
            kind: CastKind::DoubleColon,
            expr: bx(Expr::Value(ts.value)),
            data_type: ts.data_type,
            format: None,
        }),
        Expr::Interval(iv) if iv.leading_field.is_none() && iv.last_field.is_none() => normalize(Expr::Cast {
            kind: CastKind::DoubleColon,
            expr: iv.value,
            data_type: DataType::Interval { fields: None, precision: None },
            format: None,
        }),
        Expr::Cast { kind, expr, data_type, format } => normalize_cast(kind, *expr, data_type, format),
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match normalize(*expr) {
            Expr::Value(ValueWithSpan { value: Value::Number(n, l), .. }) if !n.starts_with('-') => {
                Expr::Value(ValueWithSpan { value: Value::Number(format!("-{n}"), l), span: Span::empty() })
            }
            inner => Expr::UnaryOp { op: UnaryOperator::Minus, expr: bx(inner) },
        },
        Expr::UnaryOp { op, expr } => Expr::UnaryOp { op, expr: bx(normalize(*expr)) },
        Expr::BinaryOp { left, op, right } => {
            let left = normalize(*left);
            let right = normalize(*right);
            let op = plain_operator(op);
            match op.clone() {
                BinaryOperator::PGLikeMatch | BinaryOperator::PGNotLikeMatch => Expr::Like {
                    negated: op == BinaryOperator::PGNotLikeMatch,
                    any: false,
                    expr: bx(left),
                    pattern: bx(right),
                    escape_char: None,
                },
                BinaryOperator::PGILikeMatch | BinaryOperator::PGNotILikeMatch => Expr::ILike {
                    negated: op == BinaryOperator::PGNotILikeMatch,
                    any: false,
                    expr: bx(left),
                    pattern: bx(right),
                    escape_char: None,
                },
                op => Expr::BinaryOp { left: bx(left), op, right: bx(right) },
            }
        }
        Expr::In { expr, target: InTarget::List(list), negated, global } => {
            let expr = normalize(*expr);
            let mut list: Vec<Expr> = list.into_iter().map(normalize).collect();
            if list.len() == 1 {
                let op = if negated { BinaryOperator::NotEq } else { BinaryOperator::Eq };
                return Expr::BinaryOp { left: bx(expr), op, right: bx(list.remove(0)) };
            }
            Expr::In { expr: bx(expr), target: InTarget::List(list), negated, global }
        }
        Expr::In { expr, target, negated, global } => Expr::In { expr: bx(normalize(*expr)), target, negated, global },
        Expr::AnyOp { left, compare_op, right, is_some } => {
            let left = normalize(*left);
            match (compare_op.clone(), normalize(*right)) {
                (BinaryOperator::Eq, Expr::Array(a)) => normalize(Expr::In {
                    expr: bx(left),
                    target: InTarget::List(a.elem),
                    negated: false,
                    global: false,
                }),
                (_, right) => Expr::AnyOp { left: bx(left), compare_op, right: bx(right), is_some },
            }
        }
        Expr::AllOp { left, compare_op, right } => {
            let left = normalize(*left);
            match (compare_op.clone(), normalize(*right)) {
                (BinaryOperator::NotEq, Expr::Array(a)) => {
                    normalize(Expr::In { expr: bx(left), target: InTarget::List(a.elem), negated: true, global: false })
                }
                (_, right) => Expr::AllOp { left: bx(left), compare_op, right: bx(right) },
            }
        }
        Expr::Between { expr, negated, low, high } => {
            let expr = normalize(*expr);
            let (lo_op, hi_op, join) = if negated {
                (BinaryOperator::Lt, BinaryOperator::Gt, BinaryOperator::Or)
            } else {
                (BinaryOperator::GtEq, BinaryOperator::LtEq, BinaryOperator::And)
            };
            Expr::BinaryOp {
                left: bx(Expr::BinaryOp { left: bx(expr.clone()), op: lo_op, right: bx(normalize(*low)) }),
                op: join,
                right: bx(Expr::BinaryOp { left: bx(expr), op: hi_op, right: bx(normalize(*high)) }),
            }
        }
        Expr::IsNull(e) => Expr::IsNull(bx(normalize(*e))),
        Expr::IsNotNull(e) => Expr::IsNotNull(bx(normalize(*e))),
        Expr::IsTrue(e) => Expr::IsTrue(bx(normalize(*e))),
        Expr::IsFalse(e) => Expr::IsFalse(bx(normalize(*e))),
        Expr::IsNotTrue(e) => Expr::IsNotTrue(bx(normalize(*e))),
        Expr::IsNotFalse(e) => Expr::IsNotFalse(bx(normalize(*e))),
        Expr::IsDistinctFrom(a, b) => Expr::IsDistinctFrom(bx(normalize(*a)), bx(normalize(*b))),
        Expr::IsNotDistinctFrom(a, b) => Expr::IsNotDistinctFrom(bx(normalize(*a)), bx(normalize(*b))),
        Expr::Like { negated, any, expr, pattern, escape_char } => {
            Expr::Like { negated, any, expr: bx(normalize(*expr)), pattern: bx(normalize(*pattern)), escape_char }
        }
        Expr::ILike { negated, any, expr, pattern, escape_char } => {
            Expr::ILike { negated, any, expr: bx(normalize(*expr)), pattern: bx(normalize(*pattern)), escape_char }
        }
        Expr::Array(mut a) => {
            a.elem = a.elem.into_iter().map(normalize).collect();
            a.named = true;
            Expr::Array(a)
        }
        Expr::Tuple(items) => Expr::Tuple(items.into_iter().map(normalize).collect()),
        Expr::Case { case_token, end_token, operand, conditions, else_result } => Expr::Case {
            case_token,
            end_token,
            operand: operand.map(|o| bx(normalize(*o))),
            conditions: conditions
                .into_iter()
                .map(|mut c| {
                    c.condition = normalize(c.condition);
                    c.result = normalize(c.result);
                    c
                })
                .collect(),
            else_result: else_result.map(|o| bx(normalize(*o))),
        },
        Expr::Function(mut f) => {
            f.name = canonical_name(f.name);
            let fname = f.name.to_string();
            if let FunctionArguments::List(list) = &mut f.args {
                let args = std::mem::take(&mut list.args);
                list.args = args
                    .into_iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(normalize(e)))
                        }
                        FunctionArg::Named { name, arg: FunctionArgExpr::Expr(e), operator } => {
                            FunctionArg::Named { name, arg: FunctionArgExpr::Expr(normalize(e)), operator }
                        }
                        other => other,
                    })
                    .collect();
                // Sequence functions take a name: `nextval('public.s')` and `nextval('s')` are one.
                if matches!(fname.as_str(), "nextval" | "currval" | "setval")
                    && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))) = list.args.first_mut()
                    && let Value::SingleQuotedString(s) = &mut v.value
                    && let Some(rest) = s.strip_prefix("public.")
                {
                    *s = rest.to_string();
                }
            }
            Expr::Function(f)
        }
        Expr::Collate { expr, collation } => Expr::Collate { expr: bx(normalize(*expr)), collation },
        Expr::AtTimeZone { timestamp, time_zone } => {
            Expr::AtTimeZone { timestamp: bx(normalize(*timestamp)), time_zone: bx(normalize(*time_zone)) }
        }
        other => other,
    }
}

/// `OPERATOR(pg_catalog.~)` and `OPERATOR(public.~)` are the plain operator `~`.
fn plain_operator(op: BinaryOperator) -> BinaryOperator {
    if let BinaryOperator::PGCustomBinaryOperator(parts) = &op
        && parts.len() == 2
        && (parts[0] == "pg_catalog" || parts[0] == "public")
        && let Some(Expr::BinaryOp { op: plain, .. }) = parse_expr(&format!("a {} b", parts[1]))
    {
        return plain;
    }
    op
}

fn canonical_value(v: Value) -> Value {
    match v {
        Value::EscapedStringLiteral(s) => Value::SingleQuotedString(s),
        Value::Number(n, l) => Value::Number(n, l),
        other => other,
    }
}

/// A jsonb constant is stored parsed: PostgreSQL prints it with its own key order and spacing.
/// Both readers print it as compact JSON with sorted keys.
fn jsonb_literal(e: Expr) -> Expr {
    if let Some(s) = string_value(&e)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(s)
    {
        return Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(v.to_string()), span: Span::empty() });
    }
    e
}

fn normalize_cast(kind: CastKind, expr: Expr, data_type: DataType, format: Option<sqlparser::ast::CastFormat>) -> Expr {
    let inner = normalize(expr);
    let Some(target) = cast_type(&data_type) else {
        return Expr::Cast { kind, expr: bx(inner), data_type, format };
    };
    let inner = if target.name == "jsonb" && !target.array { jsonb_literal(inner) } else { inner };
    if matches!(kind, CastKind::Cast | CastKind::DoubleColon) && format.is_none() {
        // 'x'::regclass is how PostgreSQL spells a relation name argument.
        if target.name == "regclass" && string_value(&inner).is_some() {
            return inner;
        }
        // Literal to text: the literal already is text.
        if is_text_like(&target) && string_value(&inner).is_some() {
            return inner;
        }
        // Numeric literal written as a string ('-1'::integer) or cast to a wider numeric type.
        if is_numeric(&target) {
            if let Some(s) = string_value(&inner)
                && looks_numeric(s)
            {
                return number(s);
            }
            if let Expr::Value(ValueWithSpan { value: Value::Number(..), .. }) = inner {
                return inner;
            }
        }
        // A column compared as text: PostgreSQL adds `(col)::text` to varchar comparisons.
        if is_text_like(&target) && matches!(inner, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            return inner;
        }
        // ARRAY['a'::varchar, 'b'::varchar]::text[] is an array of strings.
        if target.array
            && is_text_like(&target.element())
            && let Expr::Array(a) = &inner
            && a.elem.iter().all(|e| string_value(e).is_some())
        {
            return inner;
        }
    }
    Expr::Cast { kind: CastKind::DoubleColon, expr: bx(inner), data_type: to_type(&target), format: None }
}

fn needs_parens(e: &Expr) -> bool {
    matches!(
        e,
        Expr::BinaryOp { .. }
            | Expr::UnaryOp { .. }
            | Expr::In { .. }
            | Expr::Between { .. }
            | Expr::Like { .. }
            | Expr::ILike { .. }
            | Expr::SimilarTo { .. }
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsNotTrue(_)
            | Expr::IsNotFalse(_)
            | Expr::IsDistinctFrom(..)
            | Expr::IsNotDistinctFrom(..)
            | Expr::AnyOp { .. }
            | Expr::AllOp { .. }
            | Expr::Cast { .. }
            | Expr::Collate { .. }
            | Expr::AtTimeZone { .. }
    ) || matches!(e, Expr::Value(ValueWithSpan { value: Value::Number(n, _), .. }) if n.starts_with('-'))
}

/// Put back exactly one pair of parentheses around every compound operand.
fn parenthesize(e: Expr) -> Expr {
    let wrap = |x: Expr| -> Box<Expr> {
        let needs = needs_parens(&x);
        let x = parenthesize(x);
        if needs { bx(Expr::Nested(bx(x))) } else { bx(x) }
    };
    match e {
        Expr::BinaryOp { left, op, right } => Expr::BinaryOp { left: wrap(*left), op, right: wrap(*right) },
        Expr::UnaryOp { op, expr } => Expr::UnaryOp { op, expr: wrap(*expr) },
        Expr::Cast { kind, expr, data_type, format } => Expr::Cast { kind, expr: wrap(*expr), data_type, format },
        Expr::In { expr, target: InTarget::List(list), negated, global } => Expr::In {
            expr: wrap(*expr),
            target: InTarget::List(list.into_iter().map(parenthesize).collect()),
            negated,
            global,
        },
        Expr::IsNull(x) => Expr::IsNull(wrap(*x)),
        Expr::IsNotNull(x) => Expr::IsNotNull(wrap(*x)),
        Expr::IsTrue(x) => Expr::IsTrue(wrap(*x)),
        Expr::IsFalse(x) => Expr::IsFalse(wrap(*x)),
        Expr::IsNotTrue(x) => Expr::IsNotTrue(wrap(*x)),
        Expr::IsNotFalse(x) => Expr::IsNotFalse(wrap(*x)),
        Expr::IsDistinctFrom(a, b) => Expr::IsDistinctFrom(wrap(*a), wrap(*b)),
        Expr::IsNotDistinctFrom(a, b) => Expr::IsNotDistinctFrom(wrap(*a), wrap(*b)),
        Expr::Like { negated, any, expr, pattern, escape_char } => {
            Expr::Like { negated, any, expr: wrap(*expr), pattern: wrap(*pattern), escape_char }
        }
        Expr::ILike { negated, any, expr, pattern, escape_char } => {
            Expr::ILike { negated, any, expr: wrap(*expr), pattern: wrap(*pattern), escape_char }
        }
        Expr::AnyOp { left, compare_op, right, is_some } => {
            Expr::AnyOp { left: wrap(*left), compare_op, right: bx(parenthesize(*right)), is_some }
        }
        Expr::AllOp { left, compare_op, right } => {
            Expr::AllOp { left: wrap(*left), compare_op, right: bx(parenthesize(*right)) }
        }
        Expr::Collate { expr, collation } => Expr::Collate { expr: wrap(*expr), collation },
        Expr::AtTimeZone { timestamp, time_zone } => {
            Expr::AtTimeZone { timestamp: wrap(*timestamp), time_zone: wrap(*time_zone) }
        }
        Expr::Array(mut a) => {
            a.elem = a.elem.into_iter().map(parenthesize).collect();
            Expr::Array(a)
        }
        Expr::Function(mut f) => {
            if let FunctionArguments::List(list) = &mut f.args {
                let args = std::mem::take(&mut list.args);
                list.args = args
                    .into_iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(parenthesize(e)))
                        }
                        other => other,
                    })
                    .collect();
            }
            Expr::Function(f)
        }
        Expr::Case { case_token, end_token, operand, conditions, else_result } => Expr::Case {
            case_token,
            end_token,
            operand: operand.map(|o| bx(parenthesize(*o))),
            conditions: conditions
                .into_iter()
                .map(|mut c| {
                    c.condition = parenthesize(c.condition);
                    c.result = parenthesize(c.result);
                    c
                })
                .collect(),
            else_result: else_result.map(|o| bx(parenthesize(*o))),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        canonical(s, None)
    }
    fn d(s: &str, t: &str) -> String {
        canonical(s, Some(&SqlType::parse(t).unwrap()))
    }

    #[test]
    fn defaults_written_by_hand_and_by_postgres_agree() {
        assert_eq!(d("'free'", "varchar(50)"), d("'free'::character varying", "varchar(50)"));
        assert_eq!(d("'free'", "varchar(50)"), "'free'");
        assert_eq!(d("NOW()", "timestamp"), "now()");
        assert_eq!(d("'{}'", "jsonb"), d("'{}'::jsonb", "jsonb"));
        assert_eq!(d("-1", "integer"), d("'-1'::integer", "integer"));
        assert_eq!(d("-1.5", "numeric(10,2)"), d("'-1.5'::numeric", "numeric(10,2)"));
        assert_eq!(d("'happy'", "app.mood"), d("'happy'::app.mood", "app.mood"));
        assert_eq!(d("uuid_generate_v7()", "uuid"), d("public.uuid_generate_v7()", "uuid"));
        assert_eq!(d("nextval('public.t_id_seq'::regclass)", "integer"), "nextval('t_id_seq')");
        assert_eq!(d("CURRENT_TIMESTAMP", "timestamptz"), "current_timestamp");
        assert_eq!(d("'{}'::text[]", "text[]"), "'{}'");
        assert_eq!(d("false", "boolean"), "false");
        assert_eq!(d("'{\n \"b\": 1,  \"a\": [1, 2]}'", "jsonb"), d("'{\"a\": [1, 2], \"b\": 1}'::jsonb", "jsonb"));
    }

    #[test]
    fn checks_written_by_hand_and_by_postgres_agree() {
        assert_eq!(
            c("status IN ('active','disabled')"),
            c("((status)::text = ANY ((ARRAY['active'::character varying, 'disabled'::character varying])::text[]))")
        );
        assert_eq!(c("score >= -100"), c("(score >= ('-100'::integer)::numeric)"));
        assert_eq!(
            c("score < 1000 AND score > -1000"),
            c("((score < (1000)::numeric) AND (score > ('-1000'::integer)::numeric))")
        );
        assert_eq!(c("deleted_at IS NULL"), c("(deleted_at IS NULL)"));
        assert_eq!(c("email LIKE '%@%'"), c("((email)::text ~~ '%@%'::text)"));
        assert_eq!(c("x BETWEEN 1 AND 5"), c("((x >= 1) AND (x <= 5))"));
        assert_eq!(c("kind IN ('a')"), c("((kind)::text = 'a'::text)"));
        assert_eq!(c("VALUE ~ '@'"), c("(VALUE OPERATOR(pg_catalog.~) '@'::citext)"));
        assert_eq!(
            c("organization_id = current_setting('app.current_organization_id')::UUID"),
            c("(organization_id = (current_setting('app.current_organization_id'::text))::uuid)")
        );
    }

    #[test]
    fn keeps_meaningful_structure() {
        assert_eq!(c("(a OR b) AND c"), "(a OR b) AND c");
        assert_eq!(c("a OR (b AND c)"), "a OR (b AND c)");
        assert_eq!(c("now() - INTERVAL '1 day'"), "now() - ('1 day'::interval)");
        assert_eq!(c("created_at::date"), "created_at::date");
    }

    #[test]
    fn unparsable_text_is_kept() {
        assert_eq!(c("a  +*  (b"), "a +* (b");
    }
}
