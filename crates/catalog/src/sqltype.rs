//! SQL type names, normalized to the text PostgreSQL's `format_type()` prints.
//!
//! Offline DDL writes types in many spellings (`int4`, `INT`, `serial`, `timestamptz`,
//! `varchar(20)`, `pg_catalog.int8`); the live catalog prints one canonical form. Both
//! producers normalize through [`SqlType::parse`], so equal schemas give equal text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A column or argument type. `schema` is set only for user types outside `public`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqlType {
    pub schema: Option<String>,
    /// Canonical base name: `integer`, `character varying`, `timestamp with time zone`, `mood`.
    pub name: String,
    /// Type modifiers: length, precision and scale (`numeric(10,2)` → `[10, 2]`).
    pub modifiers: Vec<u32>,
    /// `text[]`: PostgreSQL does not distinguish array dimensions in a type.
    pub array: bool,
    /// Modifiers of an extension type that are not numbers, as written (`geography(Point,4326)`
    /// → `Point,4326`); PostgreSQL hands them to the type's own modifier function.
    pub typmod: Option<String>,
}

/// What a type name was written as before normalization, when that matters
/// (a `serial` column gets a sequence and a `nextval` default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serial {
    No,
    Small,
    Regular,
    Big,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeParseError(pub String);

impl fmt::Display for TypeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Built-in type names PostgreSQL ships in `pg_catalog`, in canonical spelling.
pub const BUILTIN_TYPES: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric",
    "money",
    "character varying",
    "character",
    "bpchar",
    "text",
    "char",
    "name",
    "bytea",
    "boolean",
    "date",
    "time without time zone",
    "time with time zone",
    "timestamp without time zone",
    "timestamp with time zone",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "jsonpath",
    "xml",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "bit",
    "bit varying",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "tsvector",
    "tsquery",
    "oid",
    "regclass",
    "regproc",
    "regprocedure",
    "regtype",
    "regconfig",
    "regdictionary",
    "regnamespace",
    "regrole",
    "xid",
    "xid8",
    "cid",
    "tid",
    "pg_lsn",
    "pg_snapshot",
    "txid_snapshot",
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
    "int4multirange",
    "int8multirange",
    "nummultirange",
    "tsmultirange",
    "tstzmultirange",
    "datemultirange",
    "record",
    "void",
    "trigger",
    "event_trigger",
    "anyelement",
    "anyarray",
    "anynonarray",
    "anyenum",
    "anyrange",
    "anymultirange",
    "anycompatible",
    "anycompatiblearray",
    "cstring",
    "internal",
    "unknown",
    "refcursor",
    "aclitem",
];

impl SqlType {
    pub fn simple(name: &str) -> SqlType {
        SqlType { schema: None, name: name.to_string(), modifiers: Vec::new(), array: false, typmod: None }
    }

    /// Parse a type as written in DDL or printed by PostgreSQL and normalize it.
    pub fn parse(text: &str) -> Result<SqlType, TypeParseError> {
        Self::parse_with_serial(text).map(|(t, _)| t)
    }

    /// Like [`SqlType::parse`], also telling whether the type was a `serial` pseudo-type.
    pub fn parse_with_serial(text: &str) -> Result<(SqlType, Serial), TypeParseError> {
        let tokens = tokenize(text)?;
        let mut p = TypeParser { tokens, pos: 0, source: text };
        let r = p.parse()?;
        if p.pos != p.tokens.len() {
            return Err(TypeParseError(format!("unexpected text after type in `{text}`")));
        }
        Ok(r)
    }

    pub fn is_builtin(&self) -> bool {
        // `interval day to second` and the other field-restricted intervals are interval.
        self.schema.is_none() && (BUILTIN_TYPES.contains(&self.name.as_str()) || self.name.starts_with("interval "))
    }

    /// The element type of an array type (or the type itself).
    pub fn element(&self) -> SqlType {
        SqlType { array: false, ..self.clone() }
    }

    /// The name used to look the type up among enums and domains: `schema.name` or `name`.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Length limit for character types (`varchar(255)` → 255).
    pub fn max_length(&self) -> Option<u32> {
        match self.name.as_str() {
            "character varying" | "character" | "bit" | "bit varying" => self.modifiers.first().copied(),
            _ => None,
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{}.", quote_ident_if_needed(s))?;
        }
        let mods = if let Some(t) = &self.typmod {
            format!("({t})")
        } else if self.modifiers.is_empty() {
            String::new()
        } else {
            format!("({})", self.modifiers.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(","))
        };
        // PostgreSQL prints the modifier of the time types before the zone words.
        match self.name.as_str() {
            "timestamp without time zone"
            | "timestamp with time zone"
            | "time without time zone"
            | "time with time zone" => {
                let (head, tail) = self.name.split_once(' ').unwrap_or((&self.name, ""));
                write!(f, "{head}{mods} {tail}")?;
            }
            name if name.starts_with("interval ") => {
                let (head, tail) = name.split_once(' ').unwrap_or((name, ""));
                write!(f, "{head} {tail}{mods}")?;
            }
            "char" if self.schema.is_none() => f.write_str("\"char\"")?,
            name => {
                if self.schema.is_some() || !self.is_builtin() {
                    write!(f, "{}", quote_ident_if_needed(name))?;
                } else {
                    f.write_str(name)?;
                }
                f.write_str(&mods)?;
            }
        }
        if self.array {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

impl Serialize for SqlType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SqlType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SqlType::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Quote an identifier the way PostgreSQL's `quote_ident` does.
pub fn quote_ident_if_needed(id: &str) -> String {
    let plain = !id.is_empty()
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !crate::keywords::is_reserved(id);
    if plain { id.to_string() } else { format!("\"{}\"", id.replace('"', "\"\"")) }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Number(u32),
    LParen,
    RParen,
    Comma,
    Dot,
    Brackets,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, TypeParseError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '.' => {
                out.push(Tok::Dot);
                i += 1
            }
            '[' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    out.push(Tok::Brackets);
                    i = j + 1;
                } else {
                    return Err(TypeParseError(format!("unclosed `[` in type `{text}`")));
                }
            }
            '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    if j >= chars.len() {
                        return Err(TypeParseError(format!("unclosed quote in type `{text}`")));
                    }
                    if chars[j] == '"' {
                        if j + 1 < chars.len() && chars[j + 1] == '"' {
                            s.push('"');
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    s.push(chars[j]);
                    j += 1;
                }
                out.push(Tok::Quoted(s));
                i = j + 1;
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let s: String = chars[i..j].iter().collect();
                let n = s.parse::<u32>().map_err(|_| TypeParseError(format!("type modifier `{s}` is too large")))?;
                out.push(Tok::Number(n));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$') {
                    j += 1;
                }
                out.push(Tok::Word(chars[i..j].iter().collect::<String>().to_lowercase()));
                i = j;
            }
            other => {
                return Err(TypeParseError(format!("unexpected `{other}` in type `{text}`")));
            }
        }
    }
    Ok(out)
}

struct TypeParser<'a> {
    tokens: Vec<Tok>,
    pos: usize,
    source: &'a str,
}

impl TypeParser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn peek_word_at(&self, off: usize, w: &str) -> bool {
        matches!(self.tokens.get(self.pos + off), Some(Tok::Word(x)) if x == w)
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn err(&self, msg: &str) -> TypeParseError {
        TypeParseError(format!("{msg} in type `{}`", self.source.trim()))
    }

    fn modifiers(&mut self) -> Result<Vec<u32>, TypeParseError> {
        let mut mods = Vec::new();
        if self.peek() != Some(&Tok::LParen) {
            return Ok(mods);
        }
        self.pos += 1;
        loop {
            match self.peek().cloned() {
                Some(Tok::Number(n)) => {
                    mods.push(n);
                    self.pos += 1;
                }
                // `varchar(max)`-style or `numeric(*)` are not PostgreSQL; a word here is an error.
                _ => return Err(self.err("expected a number as type modifier")),
            }
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok(mods);
                }
                _ => return Err(self.err("expected `,` or `)` in type modifiers")),
            }
        }
    }

    /// Modifiers of a type PostgreSQL does not ship: numbers, or anything an extension's
    /// modifier function reads (`geography(Point,4326)`, kept as text).
    fn extension_modifiers(&mut self) -> Result<(Vec<u32>, Option<String>), TypeParseError> {
        let start = self.pos;
        if let Ok(m) = self.modifiers() {
            return Ok((m, None));
        }
        self.pos = start + 1;
        let mut parts = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Number(n)) => parts.push(n.to_string()),
                Some(Tok::Word(w)) => parts.push(w),
                Some(Tok::Quoted(w)) => parts.push(quote_ident_if_needed(&w)),
                _ => return Err(self.err("expected a type modifier")),
            }
            self.pos += 1;
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok((Vec::new(), Some(parts.join(","))));
                }
                _ => return Err(self.err("expected `,` or `)` in type modifiers")),
            }
        }
    }

    fn zone(&mut self, base: &str) -> Result<String, TypeParseError> {
        if self.peek_word("with") && self.peek_word_at(1, "time") && self.peek_word_at(2, "zone") {
            self.pos += 3;
            Ok(format!("{base} with time zone"))
        } else if self.peek_word("without") && self.peek_word_at(1, "time") && self.peek_word_at(2, "zone") {
            self.pos += 3;
            Ok(format!("{base} without time zone"))
        } else {
            Ok(format!("{base} without time zone"))
        }
    }

    fn parse(&mut self) -> Result<(SqlType, Serial), TypeParseError> {
        // Optional schema qualification.
        let mut parts: Vec<(String, bool)> = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Word(w)) => parts.push((w, false)),
                Some(Tok::Quoted(w)) => parts.push((w, true)),
                _ => return Err(self.err("expected a type name")),
            }
            self.pos += 1;
            if self.peek() == Some(&Tok::Dot) {
                self.pos += 1;
                continue;
            }
            break;
        }
        let (first, quoted) = parts.pop().expect("at least one part");
        let schema = parts.pop().map(|(s, _)| s);
        let mut serial = Serial::No;
        let mut modifiers = Vec::new();
        let mut typmod = None;
        let is_catalog = matches!(schema.as_deref(), None | Some("pg_catalog"));
        let name: String = if quoted || !is_catalog {
            (modifiers, typmod) = self.extension_modifiers()?;
            first
        } else {
            match first.as_str() {
                "int" | "int4" | "integer" => "integer".into(),
                "serial" | "serial4" => {
                    serial = Serial::Regular;
                    "integer".into()
                }
                "smallint" | "int2" => "smallint".into(),
                "smallserial" | "serial2" => {
                    serial = Serial::Small;
                    "smallint".into()
                }
                "bigint" | "int8" => "bigint".into(),
                "bigserial" | "serial8" => {
                    serial = Serial::Big;
                    "bigint".into()
                }
                "real" | "float4" => "real".into(),
                "float8" => "double precision".into(),
                "double" => {
                    if !self.eat_word("precision") {
                        return Err(self.err("expected PRECISION after DOUBLE"));
                    }
                    "double precision".into()
                }
                "float" => {
                    let m = self.modifiers()?;
                    match m.first() {
                        Some(p) if *p <= 24 => "real".into(),
                        _ => "double precision".into(),
                    }
                }
                "decimal" | "numeric" | "dec" => {
                    modifiers = self.modifiers()?;
                    "numeric".into()
                }
                "varchar" => {
                    modifiers = self.modifiers()?;
                    "character varying".into()
                }
                "character" | "char" | "nchar" | "national" => {
                    if first == "national" && !(self.eat_word("character") || self.eat_word("char")) {
                        return Err(self.err("expected CHARACTER after NATIONAL"));
                    }
                    if self.eat_word("varying") {
                        modifiers = self.modifiers()?;
                        "character varying".into()
                    } else {
                        modifiers = self.modifiers()?;
                        if modifiers.is_empty() {
                            modifiers.push(1);
                        }
                        "character".into()
                    }
                }
                "bpchar" => {
                    modifiers = self.modifiers()?;
                    if modifiers.is_empty() { "bpchar".into() } else { "character".into() }
                }
                "bool" | "boolean" => "boolean".into(),
                "timestamp" => {
                    modifiers = self.modifiers()?;
                    self.zone("timestamp")?
                }
                "timestamptz" => {
                    modifiers = self.modifiers()?;
                    "timestamp with time zone".into()
                }
                "time" => {
                    modifiers = self.modifiers()?;
                    self.zone("time")?
                }
                "timetz" => {
                    modifiers = self.modifiers()?;
                    "time with time zone".into()
                }
                "interval" => {
                    let mut fields = Vec::new();
                    while let Some(Tok::Word(w)) = self.peek().cloned() {
                        if ["year", "month", "day", "hour", "minute", "second", "to"].contains(&w.as_str()) {
                            fields.push(w);
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    modifiers = self.modifiers()?;
                    if fields.is_empty() { "interval".into() } else { format!("interval {}", fields.join(" ")) }
                }
                "bit" => {
                    if self.eat_word("varying") {
                        modifiers = self.modifiers()?;
                        "bit varying".into()
                    } else {
                        modifiers = self.modifiers()?;
                        if modifiers.is_empty() {
                            modifiers.push(1);
                        }
                        "bit".into()
                    }
                }
                "varbit" => {
                    modifiers = self.modifiers()?;
                    "bit varying".into()
                }
                _ if !BUILTIN_TYPES.contains(&first.as_str()) => {
                    (modifiers, typmod) = self.extension_modifiers()?;
                    first
                }
                _ => {
                    modifiers = self.modifiers()?;
                    first
                }
            }
        };
        // Trailing array markers: `[]`, `[3]`, `ARRAY`, `ARRAY[3]`.
        let mut array = false;
        while self.peek() == Some(&Tok::Brackets) || self.peek_word("array") {
            self.pos += 1;
            array = true;
        }
        let schema = match schema.as_deref() {
            None | Some("pg_catalog") | Some("public") => None,
            Some(s) => Some(s.to_string()),
        };
        Ok((SqlType { schema, name, modifiers, array, typmod }, serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        SqlType::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_spellings_to_format_type_text() {
        assert_eq!(n("INT"), "integer");
        assert_eq!(n("int4"), "integer");
        assert_eq!(n("pg_catalog.int8"), "bigint");
        assert_eq!(n("VARCHAR(255)"), "character varying(255)");
        assert_eq!(n("character varying"), "character varying");
        assert_eq!(n("char(2)"), "character(2)");
        assert_eq!(n("CHAR"), "character(1)");
        assert_eq!(n("DECIMAL(10,2)"), "numeric(10,2)");
        assert_eq!(n("numeric"), "numeric");
        assert_eq!(n("TIMESTAMP"), "timestamp without time zone");
        assert_eq!(n("TIMESTAMPTZ"), "timestamp with time zone");
        assert_eq!(n("timestamp(0) without time zone"), "timestamp(0) without time zone");
        assert_eq!(n("TIMESTAMP(3) WITH TIME ZONE"), "timestamp(3) with time zone");
        assert_eq!(n("time"), "time without time zone");
        assert_eq!(n("timetz(3)"), "time(3) with time zone");
        assert_eq!(n("DOUBLE PRECISION"), "double precision");
        assert_eq!(n("float8"), "double precision");
        assert_eq!(n("float(10)"), "real");
        assert_eq!(n("BOOL"), "boolean");
        assert_eq!(n("TEXT[]"), "text[]");
        assert_eq!(n("int[][]"), "integer[]");
        assert_eq!(n("integer ARRAY"), "integer[]");
        assert_eq!(n("varbit(5)"), "bit varying(5)");
        assert_eq!(n("bit"), "bit(1)");
        assert_eq!(n("interval"), "interval");
        assert_eq!(n("interval day to second(3)"), "interval day to second(3)");
    }

    #[test]
    fn user_types_keep_their_schema_except_public() {
        assert_eq!(n("public.citext"), "citext");
        assert_eq!(n("app.mood"), "app.mood");
        assert_eq!(n("app.mood[]"), "app.mood[]");
        assert_eq!(n("\"My Type\""), "\"My Type\"");
        assert!(!SqlType::parse("mood").unwrap().is_builtin());
        assert!(SqlType::parse("uuid").unwrap().is_builtin());
        for t in ["interval day to second", "interval year to month", "interval minute to second(3)", "interval hour"] {
            assert!(SqlType::parse(t).unwrap().is_builtin(), "{t}");
        }
    }

    #[test]
    fn extension_types_keep_word_modifiers() {
        assert_eq!(n("postgis.geography(Point,4326)"), "postgis.geography(point,4326)");
        assert_eq!(n("geometry(MultiPolygon, 4326)[]"), "geometry(multipolygon,4326)[]");
        assert_eq!(n("vector(1536)"), "vector(1536)");
        assert_eq!(n("bpchar"), "bpchar");
        assert!(SqlType::parse("bpchar").unwrap().is_builtin());
        // Built-in types still take numbers only.
        assert!(SqlType::parse("varchar(max)").is_err());
        assert!(SqlType::parse("numeric(a)").is_err());
    }

    #[test]
    fn serial_types_become_integers() {
        assert_eq!(SqlType::parse_with_serial("serial").unwrap(), (SqlType::simple("integer"), Serial::Regular));
        assert_eq!(SqlType::parse_with_serial("BIGSERIAL").unwrap(), (SqlType::simple("bigint"), Serial::Big));
        assert_eq!(SqlType::parse_with_serial("smallserial").unwrap().1, Serial::Small);
    }

    #[test]
    fn rejects_garbage() {
        assert!(SqlType::parse("").is_err());
        assert!(SqlType::parse("varchar(").is_err());
        assert!(SqlType::parse("varchar(abc)").is_err());
        assert!(SqlType::parse("int int").is_err());
        assert!(SqlType::parse("double").is_err());
    }

    #[test]
    fn max_length() {
        assert_eq!(SqlType::parse("varchar(20)").unwrap().max_length(), Some(20));
        assert_eq!(SqlType::parse("text").unwrap().max_length(), None);
    }
}
