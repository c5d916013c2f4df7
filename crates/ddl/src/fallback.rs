//! Statements `sqlparser` does not read but pg_dump writes, handled from tokens; and the
//! statements that never change the catalog (grants, owners, settings), skipped unparsed.

use crate::replay::Replayer;
use nest_catalog::SqlType;
use sqlparser::ast::{Ident, ObjectName};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// First words of a statement, upper-cased (comments skipped).
fn head_words(text: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while out.len() < n {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, b)| b);
            continue;
        }
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, b)| b);
            continue;
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_ascii_uppercase());
        rest = &rest[end..];
    }
    out
}

const IGNORED_HEADS: &[&[&str]] = &[
    &["GRANT"],
    &["REVOKE"],
    &["DO"],
    // Procedures are called, not read by an API (the live reader skips them too).
    &["CREATE", "PROCEDURE"],
    &["CREATE", "OR", "REPLACE", "PROCEDURE"],
    &["ALTER", "PROCEDURE"],
    &["DROP", "PROCEDURE"],
    &["CALL"],
    &["ANALYZE"],
    &["VACUUM"],
    &["BEGIN"],
    &["COMMIT"],
    &["END"],
    &["ROLLBACK"],
    &["START", "TRANSACTION"],
    &["RESET"],
    &["CHECKPOINT"],
    &["CLUSTER"],
    &["REINDEX"],
    &["NOTIFY"],
    &["LISTEN"],
    &["SECURITY", "LABEL"],
    &["REFRESH", "MATERIALIZED"],
    &["ALTER", "DEFAULT", "PRIVILEGES"],
    &["CREATE", "ROLE"],
    &["ALTER", "ROLE"],
    &["DROP", "ROLE"],
    &["CREATE", "USER"],
    &["ALTER", "USER"],
    &["CREATE", "PUBLICATION"],
    &["ALTER", "PUBLICATION"],
    &["CREATE", "SUBSCRIPTION"],
    &["CREATE", "EVENT", "TRIGGER"],
    &["ALTER", "EVENT", "TRIGGER"],
    &["CREATE", "OPERATOR"],
    &["CREATE", "TEXT", "SEARCH"],
    &["ALTER", "TEXT", "SEARCH"],
    &["CREATE", "COLLATION"],
    &["CREATE", "CAST"],
    &["CREATE", "CONVERSION"],
    &["CREATE", "FOREIGN", "DATA"],
    &["CREATE", "SERVER"],
    &["CREATE", "USER", "MAPPING"],
    &["CREATE", "RULE"],
    &["CREATE", "OR", "REPLACE", "RULE"],
    &["CREATE", "STATISTICS"],
    &["ALTER", "STATISTICS"],
    &["CREATE", "TRANSFORM"],
    &["CREATE", "LANGUAGE"],
    &["CREATE", "OR", "REPLACE", "LANGUAGE"],
    &["CREATE", "TABLESPACE"],
    &["CREATE", "ACCESS", "METHOD"],
    &["ALTER", "FUNCTION"],
    &["ALTER", "PROCEDURE"],
    &["ALTER", "AGGREGATE"],
    &["ALTER", "SCHEMA"],
    &["ALTER", "EXTENSION"],
    &["ALTER", "DATABASE"],
    &["ALTER", "LARGE", "OBJECT"],
    &["ALTER", "OPERATOR"],
    &["ALTER", "DOMAIN"],
    &["ALTER", "COLLATION"],
    &["ALTER", "SERVER"],
    &["ALTER", "FOREIGN", "DATA"],
    &["CREATE", "DATABASE"],
    &["DROP", "DATABASE"],
    &["SELECT", "PG_CATALOG.SETVAL"],
    &["SELECT", "SETVAL"],
    &["SELECT", "ADD_REORDER_POLICY"],
    &["SELECT", "ADD_JOB"],
    &["SELECT", "SET_CHUNK_TIME_INTERVAL"],
    &["SELECT", "PG_CATALOG.BINARY_UPGRADE_SET_NEXT_PG_TYPE_OID"],
    &["LOCK"],
    &["TRUNCATE"],
    &["COPY"],
];

/// COMMENT ON objects the catalog does not keep.
const KEPT_COMMENTS: &[&str] = &["TABLE", "COLUMN", "VIEW", "MATERIALIZED"];

/// True for statements that cannot change the catalog: skipped without parsing.
pub(crate) fn is_ignorable(text: &str) -> bool {
    let words = head_words(text, 5);
    if words.is_empty() {
        return true;
    }
    if words[0] == "SET" {
        return !text.to_ascii_lowercase().contains("search_path");
    }
    if words[0] == "COMMENT" && words.get(1).is_some_and(|w| w == "ON") {
        return !words.get(2).is_some_and(|w| KEPT_COMMENTS.contains(&w.as_str()));
    }
    if IGNORED_HEADS.iter().any(|h| h.len() <= words.len() && h.iter().zip(&words).all(|(a, b)| a == b)) {
        return true;
    }
    // `ALTER TABLE x OWNER TO y`, `ALTER SEQUENCE s OWNER TO y`, `ALTER TYPE t OWNER TO y`.
    if words[0] == "ALTER" {
        let lower = text.to_ascii_lowercase();
        let tail = lower.split_whitespace().rev().take(4).collect::<Vec<_>>();
        if tail.len() >= 3 && tail[1] == "to" && tail[2] == "owner" {
            return true;
        }
    }
    false
}

/// The tokens of `text` without whitespace.
pub(crate) fn tokens(text: &str) -> Option<Vec<Token>> {
    let dialect = PostgreSqlDialect {};
    let toks = Tokenizer::new(&dialect, text).tokenize().ok()?;
    Some(toks.into_iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect())
}

pub(crate) fn kw(t: Option<&Token>, w: &str) -> bool {
    matches!(t, Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

/// `a.b.c` at `*i`.
pub(crate) fn object_name(toks: &[Token], i: &mut usize) -> Option<ObjectName> {
    let mut parts = Vec::new();
    loop {
        match toks.get(*i) {
            Some(Token::Word(w)) => parts.push(Ident {
                value: w.value.clone(),
                quote_style: w.quote_style,
                span: sqlparser::tokenizer::Span::empty(),
            }),
            _ => return None,
        }
        *i += 1;
        if matches!(toks.get(*i), Some(Token::Period)) {
            *i += 1;
            continue;
        }
        return Some(ObjectName::from(parts));
    }
}

/// The DO blocks `nest-generator sql schema` writes around TimescaleDB statements:
/// `IF EXISTS (... extname = 'timescaledb') THEN EXECUTE '<with>'; ELSE EXECUTE '<without>'; END IF`.
/// Read offline, the schema is the one a server without TimescaleDB gets (the `ELSE` branch), as
/// the live reader of such a server sees it. True when the block was one of these.
pub(crate) fn guarded_extension_block(r: &mut Replayer, text: &str) -> bool {
    let head = head_words(text, 1);
    if head.first().map(String::as_str) != Some("DO") || !text.contains("extname = 'timescaledb'") {
        return false;
    }
    let Some(at) = text.find("\n  ELSE\n") else { return true };
    let branch = &text[at..];
    let branch = &branch[..branch.find("END IF").unwrap_or(branch.len())];
    // Every `EXECUTE '<literal>'` of the branch, in order; a literal ends at the first quote
    // not doubled.
    let mut rest = branch;
    while let Some(i) = rest.find("EXECUTE '") {
        let mut sql = String::new();
        let mut chars = rest[i + "EXECUTE '".len()..].char_indices().peekable();
        let mut end = rest.len();
        while let Some((j, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                    sql.push('\'');
                    continue;
                }
                end = i + "EXECUTE '".len() + j + 1;
                break;
            }
            sql.push(c);
        }
        r.replay_inner(&sql);
        rest = &rest[end.min(rest.len())..];
    }
    true
}

/// Try the statement forms sqlparser cannot read. True when one matched.
pub(crate) fn apply(r: &mut Replayer, text: &str) -> bool {
    let words = head_words(text, 3);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    // CREATE [UNIQUE] INDEX ... ON ONLY parent (pg_dump, partitioned tables): the parent's index.
    if (w.starts_with(&["CREATE", "INDEX"]) || w.starts_with(&["CREATE", "UNIQUE", "INDEX"]))
        && let Some(at) = text.find(" ON ONLY ")
    {
        r.replay_inner(&format!("{} ON {}", &text[..at], &text[at + " ON ONLY ".len()..]));
        return true;
    }
    // CREATE MATERIALIZED VIEW ... WITH [NO] DATA, CREATE TABLE ... AS ... WITH [NO] DATA: the
    // data clause is not schema.
    if w.starts_with(&["CREATE", "MATERIALIZED", "VIEW"]) || w.starts_with(&["CREATE", "TABLE"]) {
        let trimmed = text.trim_end();
        let lower = trimmed.to_ascii_lowercase();
        for suffix in ["with no data", "with data"] {
            if lower.ends_with(suffix) {
                let cut = &trimmed[..trimmed.len() - suffix.len()];
                r.replay_inner(cut);
                return true;
            }
        }
        if w[1] == "MATERIALIZED" {
            return false;
        }
    }
    // CREATE TRIGGER ... EXECUTE FUNCTION f('literal', ...): sqlparser wants types as arguments;
    // the arguments are not schema, so read the trigger without them.
    if w.starts_with(&["CREATE", "TRIGGER"])
        || w.starts_with(&["CREATE", "CONSTRAINT"])
        || w.starts_with(&["CREATE", "OR"]) && text.to_ascii_lowercase().contains("trigger")
    {
        let lower = text.to_ascii_lowercase();
        let at = lower.rfind("execute function").or_else(|| lower.rfind("execute procedure"));
        if let Some(at) = at
            && let Some(open) = text[at..].find('(').map(|o| at + o)
            && let Some(close) = text.rfind(')')
            && close > open + 1
        {
            let stripped = format!("{}(){}", &text[..open], &text[close + 1..]);
            r.pending_source = Some(text.to_string());
            r.replay_inner(&stripped);
            r.pending_source = None;
            return true;
        }
        return false;
    }
    // CREATE [OR REPLACE] VIEW ... WITH [LOCAL | CASCADED] CHECK OPTION: a rule for writes
    // through the view, not its columns; CREATE [OR REPLACE] RECURSIVE VIEW v (cols) AS q: the
    // standard's spelling of `CREATE VIEW v AS WITH RECURSIVE v (cols) AS (q) SELECT cols FROM v`.
    if w.starts_with(&["CREATE"])
        && let Some(rewritten) = view_forms(text)
    {
        r.pending_source = Some(text.to_string());
        r.replay_inner(&rewritten);
        r.pending_source = None;
        return true;
    }
    // CREATE [OR REPLACE] [MATERIALIZED] VIEW ... (f(x)).* ...: sqlparser cannot read a
    // composite's expansion; it is the composite's fields, `(f(x)).a, (f(x)).b`, as PostgreSQL
    // stores the view.
    if (w.starts_with(&["CREATE", "VIEW"])
        || w.starts_with(&["CREATE", "OR"])
        || w.starts_with(&["CREATE", "MATERIALIZED"]))
        && text.contains(").*")
        && let Some(expanded) = expand_composites(r, text)
    {
        r.replay_inner(&expanded);
        return true;
    }
    // CREATE TABLE / ALTER TABLE with column and constraint clauses of PostgreSQL 15-18 that
    // sqlparser does not read: read as the catalog sees them (see `newer_table_grammar`).
    if (w.starts_with(&["CREATE"]) || w.starts_with(&["ALTER", "TABLE"]))
        && let Some(statements) = newer_table_grammar(text)
    {
        r.pending_source = Some(text.to_string());
        for s in statements {
            r.replay_inner(&s);
        }
        r.pending_source = None;
        return true;
    }
    // CREATE TABLE t (LIKE src [INCLUDING | EXCLUDING option] ..., other columns): sqlparser
    // does not read the options; the copied columns (and what the options copy) are written out.
    if w.starts_with(&["CREATE", "TABLE"])
        && text.to_ascii_lowercase().contains("like")
        && let Some(statements) = create_table_like(r, text)
    {
        for s in statements {
            r.replay_inner(&s);
        }
        return true;
    }
    // CREATE SCHEMA name [AUTHORIZATION role] element ... (standard SQL schema elements): the
    // schema, then each element (CREATE TABLE, VIEW, INDEX, SEQUENCE, TRIGGER; GRANT), created in
    // that schema.
    if w.starts_with(&["CREATE", "SCHEMA"]) && create_schema_with_elements(r, text) {
        return true;
    }
    // CREATE [OR REPLACE] FUNCTION | PROCEDURE ... COST n / ROWS n: planner estimates, not schema
    // (sqlparser does not read them); the function read without them.
    if (w.starts_with(&["CREATE", "FUNCTION"])
        || w.starts_with(&["CREATE", "PROCEDURE"])
        || w.starts_with(&["CREATE", "OR"])
            && (text.to_ascii_uppercase().contains("FUNCTION") || text.to_ascii_uppercase().contains("PROCEDURE")))
        && let Some(stripped) = without_planner_estimates(text)
    {
        r.pending_source = Some(text.to_string());
        r.replay_inner(&stripped);
        r.pending_source = None;
        return true;
    }
    // CREATE [OR REPLACE] AGGREGATE name (arg types) (options): kept as written.
    if w.starts_with(&["CREATE", "AGGREGATE"])
        || w.starts_with(&["CREATE", "OR"]) && text.to_ascii_uppercase().contains("AGGREGATE")
    {
        return create_aggregate(r, text);
    }
    // CREATE DOMAIN d AS t [CONSTRAINT c] NOT NULL ...: sqlparser has no NOT NULL for domains.
    if w.starts_with(&["CREATE", "DOMAIN"]) {
        return create_domain_not_null(r, text);
    }
    let Some(toks) = tokens(text) else {
        return false;
    };
    let mut i;
    // ALTER SEQUENCE s ... OWNED BY t.c | NONE
    if kw(toks.first(), "alter") && kw(toks.get(1), "sequence") {
        i = 2;
        if kw(toks.get(i), "if") && kw(toks.get(i + 1), "exists") {
            i += 2;
        }
        let Some(seq) = object_name(&toks, &mut i) else {
            return false;
        };
        while i + 1 < toks.len() {
            if kw(toks.get(i), "owned") && kw(toks.get(i + 1), "by") {
                let mut j = i + 2;
                if kw(toks.get(j), "none") {
                    r.set_sequence_owner(&seq, None);
                } else if let Some(owner) = object_name(&toks, &mut j) {
                    r.set_sequence_owner(&seq, Some(&owner));
                }
                return true;
            }
            i += 1;
        }
        // Other sequence changes (restart, increment) do not matter here.
        return true;
    }
    // ALTER INDEX parent ATTACH PARTITION child
    if kw(toks.first(), "alter") && kw(toks.get(1), "index") {
        i = 2;
        if kw(toks.get(i), "if") && kw(toks.get(i + 1), "exists") {
            i += 2;
        }
        if object_name(&toks, &mut i).is_none() {
            return false;
        }
        if kw(toks.get(i), "attach") && kw(toks.get(i + 1), "partition") {
            i += 2;
            if let Some(child) = object_name(&toks, &mut i) {
                let (schema, name) = crate::replay::split_name(&child);
                r.attach_index_partition(schema.as_deref(), &name);
                return true;
            }
        }
        // ALTER INDEX ... SET (...) / SET TABLESPACE / ALTER COLUMN ... SET STATISTICS.
        return true;
    }
    // ALTER TABLE [ONLY] [IF EXISTS] t ALTER [COLUMN] c ADD GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY (...)
    if kw(toks.first(), "alter") && kw(toks.get(1), "table") {
        i = 2;
        if kw(toks.get(i), "if") && kw(toks.get(i + 1), "exists") {
            i += 2;
        }
        if kw(toks.get(i), "only") {
            i += 1;
        }
        let Some(table) = object_name(&toks, &mut i) else {
            return false;
        };
        // One action that changes storage, not schema: CLUSTER ON, SET WITHOUT CLUSTER, SET
        // ACCESS METHOD (PostgreSQL 15), SET TABLESPACE, SET LOGGED | UNLOGGED.
        let storage_only = kw(toks.get(i), "cluster")
            || kw(toks.get(i), "set")
                && ["without", "access", "tablespace", "logged", "unlogged"].iter().any(|w| kw(toks.get(i + 1), w));
        if storage_only && !toks[i..].iter().any(|t| matches!(t, Token::Comma)) {
            return true;
        }
        if !kw(toks.get(i), "alter") {
            return false;
        }
        i += 1;
        // ALTER CONSTRAINT c [NOT] DEFERRABLE [INITIALLY DEFERRED | IMMEDIATE]
        if kw(toks.get(i), "constraint") {
            let Some(Token::Word(c)) = toks.get(i + 1) else {
                return false;
            };
            let name = if c.quote_style.is_some() { c.value.clone() } else { c.value.to_lowercase() };
            let rest = &toks[i + 2..];
            let not = rest.windows(2).any(|w| kw(w.first(), "not") && kw(w.get(1), "deferrable"));
            let deferrable = if not {
                Some(false)
            } else if rest.iter().any(|t| kw(Some(t), "deferrable")) {
                Some(true)
            } else {
                None
            };
            r.set_constraint_deferrable(&table, &name, deferrable);
            return true;
        }
        if kw(toks.get(i), "column") {
            i += 1;
        }
        let Some(Token::Word(col)) = toks.get(i) else {
            return false;
        };
        let col = if col.quote_style.is_some() { col.value.clone() } else { col.value.to_lowercase() };
        i += 1;
        if kw(toks.get(i), "add") && kw(toks.get(i + 1), "generated") {
            let by_default = kw(toks.get(i + 2), "by");
            r.set_identity(&table, &col, by_default);
            return true;
        }
        // SET EXPRESSION AS (e) (PostgreSQL 17), DROP EXPRESSION [IF EXISTS] (13).
        if kw(toks.get(i), "drop") && kw(toks.get(i + 1), "expression") {
            r.set_generated(&table, &col, None);
            return true;
        }
        if kw(toks.get(i), "set") && kw(toks.get(i + 1), "expression") && kw(toks.get(i + 2), "as") {
            let lower = text.to_ascii_lowercase();
            let at = lower.find(" as ").and_then(|a| text[a..].find('(').map(|o| a + o));
            let close = text.rfind(')');
            if let (Some(open), Some(close)) = (at, close)
                && close > open
            {
                r.set_generated(&table, &col, Some(text[open + 1..close].trim()));
                return true;
            }
            return false;
        }
        // ALTER COLUMN ... SET STATISTICS / SET STORAGE / SET (options): no schema change.
        if kw(toks.get(i), "set")
            && (kw(toks.get(i + 1), "statistics")
                || kw(toks.get(i + 1), "storage")
                || matches!(toks.get(i + 1), Some(Token::LParen))
                || kw(toks.get(i + 1), "compression"))
        {
            return true;
        }
        return false;
    }
    false
}

/// `text` with every `(f(args)).*` replaced by the fields of f's composite result, or None when
/// one cannot be (an unknown function, or one whose result is not a composite of the input).
fn expand_composites(r: &Replayer, text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(").*") {
        // The parenthesis that opens the one closing at `at`.
        let head = &rest[..=at];
        let mut depth = 0i32;
        let mut open = None;
        for (i, c) in head.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let open = open?;
        let inner = rest[open + 1..at].trim();
        // inner: name(args)
        let paren = inner.find('(')?;
        let fname = inner[..paren].trim().rsplit('.').next()?.trim_matches('"').to_lowercase();
        let f = r.functions.iter().filter(|f| f.name.to_lowercase() == fname).collect::<Vec<_>>();
        let [f] = f[..] else { return None };
        let ty = SqlType::parse(&f.returns).ok()?;
        let schema = ty.schema.clone().unwrap_or_else(|| "public".into());
        let comp = r.composites.iter().find(|c| c.name == ty.name && c.schema == schema)?;
        let fields: Vec<String> =
            comp.attributes.iter().map(|(n, _)| format!("({inner}).{}", nest_catalog::quote::ident(n))).collect();
        out.push_str(&rest[..open]);
        out.push_str(&fields.join(", "));
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// `CREATE TABLE t (... LIKE src [INCLUDING | EXCLUDING option] ...)` as plain statements:
/// the table with src's columns in place of the LIKE (names, types, NOT NULL; defaults,
/// identity, generation expressions, CHECKs under their names, comments, primary and unique
/// keys and indexes when the options say so — new keys and indexes named by PostgreSQL's
/// default rules, as LIKE names them), then its indexes and comments. None when `text` has no
/// top-level LIKE or src is unknown.
fn create_table_like(r: &Replayer, text: &str) -> Option<Vec<String>> {
    use nest_catalog::quote::ident as q;
    let open = text.find('(')?;
    let close = text.rfind(')').filter(|c| *c > open)?;
    let head = text[..open].trim_end();
    let tail = &text[close + 1..];
    // Top-level elements of the column list.
    let body = &text[open + 1..close];
    let (mut depth, mut start, mut elements) = (0i32, 0usize, Vec::new());
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                elements.push(body[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    elements.push(body[start..].trim());
    if !elements.iter().any(|e| e.len() > 5 && e.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("like "))) {
        return None;
    }
    let new_name = {
        let toks = tokens(head)?;
        let mut i = toks.iter().position(|t| kw(Some(t), "table"))? + 1;
        if kw(toks.get(i), "if") {
            i += 3;
        }
        object_name(&toks, &mut i)?
    };
    let new_sql = new_name.to_string();
    let mut out_elements = Vec::new();
    let mut after = Vec::new();
    for e in elements {
        if !(e.len() > 5 && e.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("like "))) {
            out_elements.push(e.to_string());
            continue;
        }
        let toks = tokens(e)?;
        let mut i = 1;
        let src = object_name(&toks, &mut i)?;
        let mut opts: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        while i + 1 < toks.len() {
            let including = kw(toks.get(i), "including");
            let Some(Token::Word(o)) = toks.get(i + 1) else { return None };
            let o = o.value.to_lowercase();
            let all = [
                "comments",
                "compression",
                "constraints",
                "defaults",
                "generated",
                "identity",
                "indexes",
                "statistics",
                "storage",
            ];
            let names: Vec<String> = if o == "all" { all.iter().map(|s| s.to_string()).collect() } else { vec![o] };
            for n in names {
                if including {
                    opts.insert(n);
                } else {
                    opts.remove(&n);
                }
            }
            i += 2;
        }
        let key = r.lookup_table(&src)?;
        let t = r.table_ref(&key)?;
        for c in &t.columns {
            let mut col = format!("{} {}", q(&c.name), c.ty);
            if let (Some(g), true) = (&c.generated, opts.contains("generated")) {
                col.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
            } else if let (Some(d), true) = (&c.default, opts.contains("defaults")) {
                col.push_str(&format!(" DEFAULT {d}"));
            }
            if let (Some(id), true) = (&c.identity, opts.contains("identity")) {
                col.push_str(match id {
                    nest_catalog::Identity::Always => " GENERATED ALWAYS AS IDENTITY",
                    nest_catalog::Identity::ByDefault => " GENERATED BY DEFAULT AS IDENTITY",
                });
            }
            if !c.nullable {
                col.push_str(" NOT NULL");
            }
            out_elements.push(col);
            if let (Some(cm), true) = (&c.comment, opts.contains("comments")) {
                after.push(format!("COMMENT ON COLUMN {new_sql}.{} IS '{}'", q(&c.name), cm.replace('\'', "''")));
            }
        }
        if opts.contains("constraints") {
            for k in &t.checks {
                out_elements.push(format!("CONSTRAINT {} CHECK ({})", q(&k.name), k.expression));
            }
        }
        if opts.contains("indexes") {
            let cols = |v: &[String]| v.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
            if let Some(pk) = &t.primary_key {
                out_elements.push(format!("PRIMARY KEY ({})", cols(&pk.columns)));
            }
            for u in &t.unique {
                out_elements.push(format!("UNIQUE ({})", cols(&u.columns)));
            }
            for ix in &t.indexes {
                let unique = if ix.unique { "UNIQUE " } else { "" };
                after.push(format!("CREATE {unique}INDEX ON {new_sql} {}", ix.definition_sql()));
            }
        }
    }
    let mut all = vec![format!("{head} ({}){tail}", out_elements.join(", "))];
    all.extend(after);
    Some(all)
}

/// `CREATE SCHEMA s [AUTHORIZATION r] CREATE TABLE ... CREATE VIEW ... GRANT ...`: true when
/// `text` had elements and they were replayed.
fn create_schema_with_elements(r: &mut Replayer, text: &str) -> bool {
    let Some(toks) = tokens(text) else {
        return false;
    };
    let mut i = 2;
    if kw(toks.get(i), "if") && kw(toks.get(i + 1), "not") && kw(toks.get(i + 2), "exists") {
        i += 3;
    }
    // The schema's name: written, or the role's with AUTHORIZATION alone.
    let schema = match toks.get(i) {
        Some(Token::Word(w)) if !w.value.eq_ignore_ascii_case("authorization") => {
            if w.quote_style.is_some() {
                w.value.clone()
            } else {
                w.value.to_lowercase()
            }
        }
        Some(Token::Word(_)) => match toks.get(i + 1) {
            Some(Token::Word(role)) => {
                if role.quote_style.is_some() {
                    role.value.clone()
                } else {
                    role.value.to_lowercase()
                }
            }
            _ => return false,
        },
        _ => return false,
    };
    // Elements start at a top-level CREATE or GRANT after the head; cut the original text there
    // (byte offsets of the keywords, outside quotes and parentheses).
    let starts = element_starts(text);
    let Some(&first) = starts.first() else {
        return false;
    };
    r.replay_inner(&format!("CREATE SCHEMA IF NOT EXISTS {}", nest_catalog::quote::ident(&schema)));
    // As PostgreSQL runs them: the new schema first on the search path.
    let path = std::iter::once(schema.clone()).chain(r.search_path.iter().filter(|s| **s != schema).cloned()).collect();
    let saved = std::mem::replace(&mut r.search_path, path);
    let mut bounds = starts.clone();
    bounds.push(text.len());
    for pair in bounds.windows(2) {
        r.replay_inner(text[pair[0]..pair[1]].trim().trim_end_matches(';'));
    }
    r.search_path = saved;
    first > 0
}

/// Byte offsets in a CREATE SCHEMA statement where its elements begin: `CREATE` or `GRANT`
/// words at parenthesis depth 0, outside quotes and comments, after the first word.
fn element_starts(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let (mut i, mut depth, mut out) = (0usize, 0i32, Vec::new());
    let mut word_index = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                // $tag$ ... $tag$
                let end_tag = text[i + 1..].find('$').map(|e| i + 1 + e);
                match end_tag {
                    Some(e) if text[i + 1..e].chars().all(|c| c.is_alphanumeric() || c == '_') => {
                        let tag = &text[i..=e];
                        i = text[e + 1..].find(tag).map_or(b.len(), |c| e + 1 + c + tag.len());
                    }
                    _ => i += 1,
                }
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth -= 1;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let w = &text[start..i];
                if depth == 0 && word_index > 0 && (w.eq_ignore_ascii_case("create") || w.eq_ignore_ascii_case("grant"))
                {
                    out.push(start);
                }
                word_index += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// `text` without its `COST n` and `ROWS n` clauses (outside quoted bodies, which the tokenizer
/// keeps whole), or None when it has none.
fn without_planner_estimates(text: &str) -> Option<String> {
    let toks = Tokenizer::new(&PostgreSqlDialect {}, text).tokenize().ok()?;
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut i = 0;
    while i < toks.len() {
        if kw(toks.get(i), "cost") || kw(toks.get(i), "rows") {
            let mut j = i + 1;
            while matches!(toks.get(j), Some(Token::Whitespace(_))) {
                j += 1;
            }
            if matches!(toks.get(j), Some(Token::Number(..))) {
                i = j + 1;
                changed = true;
                continue;
            }
        }
        out.push_str(&toks[i].to_string());
        i += 1;
    }
    changed.then_some(out)
}

/// Replay CREATE DOMAIN without its top-level `[CONSTRAINT name] NOT NULL`, then mark the
/// domain not null.
fn create_domain_not_null(r: &mut Replayer, text: &str) -> bool {
    let dialect = PostgreSqlDialect {};
    let Ok(all) = Tokenizer::new(&dialect, text).tokenize() else { return false };
    let sig: Vec<usize> = (0..all.len()).filter(|&j| !matches!(all[j], Token::Whitespace(_))).collect();
    let mut skip = std::collections::HashSet::new();
    let mut depth = 0i32;
    for (n, &j) in sig.iter().enumerate() {
        match &all[j] {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let next_is_null = sig.get(n + 1).is_some_and(|&x| kw(Some(&all[x]), "null"));
        if depth == 0 && kw(Some(&all[j]), "not") && next_is_null {
            skip.insert(j);
            skip.insert(sig[n + 1]);
            if n >= 2 && kw(Some(&all[sig[n - 2]]), "constraint") {
                skip.insert(sig[n - 2]);
                skip.insert(sig[n - 1]);
            }
        }
    }
    if skip.is_empty() {
        return false;
    }
    let rewritten: String =
        all.iter().enumerate().filter(|(j, _)| !skip.contains(j)).map(|(_, t)| t.to_string()).collect();
    r.replay_inner(&rewritten);
    r.mark_last_domain_not_null();
    true
}

/// CREATE [OR REPLACE] AGGREGATE name (types) (...): the name and argument types.
fn create_aggregate(r: &mut Replayer, text: &str) -> bool {
    let Some(toks) = tokens(text) else { return false };
    let mut i = 1;
    if kw(toks.get(i), "or") && kw(toks.get(i + 1), "replace") {
        i += 2;
    }
    if !kw(toks.get(i), "aggregate") {
        return false;
    }
    i += 1;
    let Some(name) = object_name(&toks, &mut i) else { return false };
    if !matches!(toks.get(i), Some(Token::LParen)) {
        return false;
    }
    // Argument types: the text between the first parentheses, split at top-level commas.
    let mut depth = 0;
    let mut args = Vec::new();
    let mut cur = String::new();
    for t in &toks[i..] {
        match t {
            Token::LParen => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Comma if depth == 1 => {
                args.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push_str(&t.to_string());
        cur.push(' ');
    }
    if !cur.trim().is_empty() {
        args.push(cur);
    }
    let args = args
        .iter()
        .map(|a| nest_catalog::SqlType::parse(a.trim()).map(|t| t.to_string()).unwrap_or_else(|_| a.trim().to_string()))
        .filter(|a| a != "*")
        .collect();
    r.create_aggregate(&name, args, text);
    true
}

/// A CREATE TABLE or ALTER TABLE statement with the clauses of PostgreSQL 14-18 that sqlparser
/// does not read rewritten to what they mean for the catalog, or None when it has none:
/// - `COMPRESSION m` and `STORAGE s` on a column (how values are stored): dropped;
/// - `ON DELETE SET NULL (a, b)` / `SET DEFAULT (a, b)` (15): the action, on those columns;
/// - `GENERATED ALWAYS AS (e) VIRTUAL` (18): a generated column, as `STORED` reads it;
/// - `NOT NULL NO INHERIT`, `CHECK (...) NO INHERIT`: inheritance of a constraint, dropped;
/// - `WITHOUT OVERLAPS` in a key and `PERIOD` in a foreign key (18, temporal keys): the key's
///   columns;
/// - a table constraint `[CONSTRAINT n] NOT NULL col` (18): the column made NOT NULL by an
///   `ALTER TABLE` after the table.
pub(crate) fn newer_table_grammar(text: &str) -> Option<Vec<String>> {
    let toks = Tokenizer::new(&PostgreSqlDialect {}, text).tokenize().ok()?;
    let significant: Vec<usize> = (0..toks.len()).filter(|&i| !matches!(toks[i], Token::Whitespace(_))).collect();
    // The statement is CREATE [modifiers] TABLE or ALTER TABLE, not CREATE TABLE ... AS.
    let head: Vec<String> = significant.iter().take(6).map(|&i| toks[i].to_string().to_ascii_lowercase()).collect();
    let is_table = head.first().is_some_and(|w| w == "create") && head.iter().take(5).any(|w| w == "table")
        || head.first().is_some_and(|w| w == "alter") && head.get(1).is_some_and(|w| w == "table");
    if !is_table {
        return None;
    }
    let word = |k: usize, w: &str| significant.get(k).is_some_and(|&i| kw(toks.get(i), w));
    let prev_is_element_start = |k: usize| {
        k == 0
            || matches!(toks[significant[k - 1]], Token::LParen | Token::Comma)
            || ["add", "column", "exists"].iter().any(|w| word(k - 1, w))
    };
    let mut drop = vec![false; toks.len()];
    let mut replace: Vec<Option<&str>> = vec![None; toks.len()];
    let mut not_null_columns = Vec::new();
    let mut depth = 0usize;
    let mut changed = false;
    let mut k = 0;
    while k < significant.len() {
        let i = significant[k];
        match &toks[i] {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        let element_start = depth == 1 && matches!(toks[i], Token::LParen | Token::Comma);
        if element_start && (word(k + 1, "constraint") || word(k + 1, "not") && word(k + 2, "null")) {
            // A table constraint `[CONSTRAINT n] NOT NULL col [NO INHERIT]`.
            let start = k + 1;
            let at = if word(start, "constraint") { start + 2 } else { start };
            if word(at, "not")
                && word(at + 1, "null")
                && let Some(&ci) = significant.get(at + 2)
                && let Token::Word(c) = &toks[ci]
            {
                let mut end = at + 3;
                while word(end, "no") || word(end, "inherit") {
                    end += 1;
                }
                if significant.get(end).is_some_and(|&e| matches!(toks[e], Token::Comma | Token::RParen)) {
                    not_null_columns.push(if c.quote_style.is_some() {
                        format!("\"{}\"", c.value.replace('"', "\"\""))
                    } else {
                        c.value.clone()
                    });
                    // Drop the element and the comma before it (or after it, when it is first).
                    let first = matches!(toks[i], Token::LParen);
                    let from = if first { significant[start] } else { i };
                    let to = if first && significant.get(end).is_some_and(|&e| matches!(toks[e], Token::Comma)) {
                        significant[end] + 1
                    } else {
                        significant[end]
                    };
                    for d in drop.iter_mut().take(to).skip(from) {
                        *d = true;
                    }
                    changed = true;
                    k = end;
                    continue;
                }
            }
        }
        if (word(k, "compression") || word(k, "storage"))
            && !prev_is_element_start(k)
            && !word(k.wrapping_sub(1), "set")
            && significant.get(k + 1).is_some_and(|&n| matches!(toks[n], Token::Word(_)))
        {
            drop[i] = true;
            drop[significant[k + 1]] = true;
            changed = true;
            k += 2;
            continue;
        }
        if word(k, "set")
            && (word(k + 1, "null") || word(k + 1, "default"))
            && k >= 2
            && (word(k - 1, "delete") || word(k - 1, "update"))
            && significant.get(k + 2).is_some_and(|&n| matches!(toks[n], Token::LParen))
        {
            let mut j = k + 2;
            let mut d = 0;
            while let Some(&t) = significant.get(j) {
                match toks[t] {
                    Token::LParen => d += 1,
                    Token::RParen => d -= 1,
                    _ => {}
                }
                if d == 0 {
                    break;
                }
                j += 1;
            }
            for d in drop.iter_mut().take(significant.get(j).map_or(toks.len(), |&t| t + 1)).skip(significant[k + 2]) {
                *d = true;
            }
            changed = true;
            k = j + 1;
            continue;
        }
        if word(k, "virtual") && k > 0 && matches!(toks[significant[k - 1]], Token::RParen) {
            replace[i] = Some("STORED");
            changed = true;
        }
        if word(k, "no") && word(k + 1, "inherit") && !prev_is_element_start(k) {
            drop[i] = true;
            drop[significant[k + 1]] = true;
            changed = true;
            k += 2;
            continue;
        }
        if word(k, "without") && word(k + 1, "overlaps") {
            drop[i] = true;
            drop[significant[k + 1]] = true;
            changed = true;
            k += 2;
            continue;
        }
        if depth >= 2
            && word(k, "period")
            && k > 0
            && matches!(toks[significant[k - 1]], Token::LParen | Token::Comma)
            && significant.get(k + 1).is_some_and(|&n| matches!(toks[n], Token::Word(_)))
        {
            drop[i] = true;
            changed = true;
        }
        k += 1;
    }
    if !changed {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for (i, t) in toks.iter().enumerate() {
        if let Some(r) = replace[i] {
            out.push_str(r);
        } else if !drop[i] {
            out.push_str(&t.to_string());
        }
    }
    let mut statements = vec![out];
    if !not_null_columns.is_empty() {
        // The table's name: what stands between TABLE [IF NOT EXISTS] and the column list.
        let lower = text.to_ascii_lowercase();
        let at = lower.find("table")? + "table".len();
        let open = text[at..].find('(')? + at;
        let mut name = text[at..open].trim();
        if name.to_ascii_lowercase().starts_with("if not exists") {
            name = name["if not exists".len()..].trim();
        }
        for c in not_null_columns {
            statements.push(format!("ALTER TABLE {name} ALTER COLUMN {c} SET NOT NULL"));
        }
    }
    Some(statements)
}

/// A view with `WITH [LOCAL | CASCADED] CHECK OPTION` (the clause dropped), or a RECURSIVE view
/// (written as the query it stands for), or None.
fn view_forms(text: &str) -> Option<String> {
    let toks: Vec<Token> = tokens(text)?;
    let mut i = 1;
    if kw(toks.get(i), "or") && kw(toks.get(i + 1), "replace") {
        i += 2;
    }
    let recursive = kw(toks.get(i), "recursive");
    if recursive {
        i += 1;
    }
    if !kw(toks.get(i), "view") {
        return None;
    }
    let trimmed = text.trim_end().trim_end_matches(';').trim_end();
    let lower = trimmed.to_ascii_lowercase();
    let body = ["with local check option", "with cascaded check option", "with check option"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(trimmed, |s| trimmed[..trimmed.len() - s.len()].trim_end());
    if !recursive {
        return (body.len() != trimmed.len()).then(|| body.to_string());
    }
    // CREATE [OR REPLACE] RECURSIVE VIEW name (columns) AS query
    let after_view = lower.find("view")? + "view".len();
    let open = body[after_view..].find('(')? + after_view;
    let close = body[open..].find(')')? + open;
    let name = body[after_view..open].trim();
    let columns = &body[open + 1..close];
    let rest = body[close + 1..].trim_start();
    let query = rest.get(..2).filter(|a| a.eq_ignore_ascii_case("as")).map(|_| rest[2..].trim())?;
    let head = if kw(toks.get(1), "or") { "CREATE OR REPLACE VIEW" } else { "CREATE VIEW" };
    let local = name.rsplit('.').next().unwrap_or(name);
    Some(format!("{head} {name} AS WITH RECURSIVE {local} ({columns}) AS ({query}) SELECT {columns} FROM {local}"))
}
