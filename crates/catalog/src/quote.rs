//! SQL quoting, in one place: identifiers (quoted only where PostgreSQL needs it, as pg_dump
//! writes them, or always), schema-qualified names, string literals and text arrays. Every
//! emitter of SQL text uses these; nothing else quotes.

pub use crate::sqltype::quote_ident_if_needed as ident;

/// `"name"`, always quoted (names that must never be read as keywords or folded).
pub fn ident_always(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.name`, each part quoted where needed.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A table's `schema.name`, each part quoted where needed.
pub fn table(q: &crate::QualifiedName) -> String {
    qualified(&q.schema, &q.name)
}

/// `"schema"."name"`, both parts always quoted.
pub fn qualified_always(schema: &str, name: &str) -> String {
    format!("{}.{}", ident_always(schema), ident_always(name))
}

/// `'text'`, quotes doubled.
pub fn string(s: &str) -> String {
    format!("'{}'", string_content(s))
}

/// The inside of `'text'` (quotes doubled), for text a template places between quotes itself.
pub fn string_content(s: &str) -> String {
    s.replace('\'', "''")
}

/// `ARRAY['a', 'b']::text[]` (`'{}'::text[]` when empty).
pub fn text_array(items: &[String]) -> String {
    if items.is_empty() {
        "'{}'::text[]".into()
    } else {
        format!("ARRAY[{}]::text[]", items.iter().map(|s| string(s)).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("User"), "\"User\"");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident_always("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public", "Order Items"), "public.\"Order Items\"");
        assert_eq!(string("it's"), "'it''s'");
        assert_eq!(text_array(&[]), "'{}'::text[]");
        assert_eq!(text_array(&["a".into(), "b'c".into()]), "ARRAY['a', 'b''c']::text[]");
    }
}
