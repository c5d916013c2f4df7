//! snake_case database names → idiomatic TypeScript names: camelCase properties, PascalCase
//! classes, kebab-case files and routes; singular class names from plural tables.

/// Words of a database name: split on `_`, `-`, spaces and case changes; lower-cased.
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev = None;
            continue;
        }
        let boundary = match prev {
            Some(p) => (p.is_lowercase() || p.is_ascii_digit()) && c.is_uppercase(),
            None => false,
        };
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
        prev = Some(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `created_at` → `createdAt`. Always a valid JS identifier.
pub fn camel(name: &str) -> String {
    let w = words(name);
    let mut s = String::new();
    for (i, part) in w.iter().enumerate() {
        if i == 0 { s.push_str(part) } else { s.push_str(&capitalize(part)) }
    }
    safe_ident(s)
}

/// `organization_users` → `OrganizationUsers`.
pub fn pascal(name: &str) -> String {
    safe_ident(words(name).iter().map(|w| capitalize(w)).collect())
}

/// `organization_users` → `organization-users`.
pub fn kebab(name: &str) -> String {
    let s = words(name).join("-");
    if s.is_empty() { "x".into() } else { s }
}

fn safe_ident(s: String) -> String {
    let s: String = s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$').collect();
    if s.is_empty() {
        return "_".into();
    }
    if s.chars().next().is_some_and(|c| c.is_ascii_digit()) { format!("_{s}") } else { s }
}

const IRREGULAR: &[(&str, &str)] = &[
    ("people", "person"),
    ("men", "man"),
    ("women", "woman"),
    ("children", "child"),
    ("mice", "mouse"),
    ("geese", "goose"),
    ("feet", "foot"),
    ("teeth", "tooth"),
    ("indices", "index"),
    ("matrices", "matrix"),
    ("vertices", "vertex"),
    ("criteria", "criterion"),
    ("phenomena", "phenomenon"),
    ("data", "data"),
    ("media", "media"),
    ("metadata", "metadata"),
    ("news", "news"),
    ("series", "series"),
    ("species", "species"),
    ("status", "status"),
    ("analyses", "analysis"),
    ("bases", "base"),
    ("cases", "case"),
    ("courses", "course"),
    ("houses", "house"),
    ("licenses", "license"),
    ("purchases", "purchase"),
    ("releases", "release"),
    ("responses", "response"),
    ("uses", "use"),
    ("warehouses", "warehouse"),
    ("expenses", "expense"),
    ("invoices", "invoice"),
    ("prices", "price"),
    ("devices", "device"),
    ("services", "service"),
    ("sources", "source"),
    ("resources", "resource"),
    ("movies", "movie"),
    ("cookies", "cookie"),
    ("quizzes", "quiz"),
    ("leaves", "leaf"),
    ("lives", "life"),
    ("wives", "wife"),
    ("knives", "knife"),
    ("shelves", "shelf"),
];

/// English singular of the last word: `categories` → `category`, `statuses` → `status`.
pub fn singular_word(w: &str) -> String {
    if let Some((_, s)) = IRREGULAR.iter().find(|(p, _)| *p == w) {
        return s.to_string();
    }
    let n = w.len();
    if n <= 2 {
        return w.to_string();
    }
    if w.ends_with("ies") && n > 3 {
        return format!("{}y", &w[..n - 3]);
    }
    for suf in ["sses", "shes", "ches", "xes", "zzes", "uses"] {
        if w.ends_with(suf) {
            return w[..n - 2].to_string();
        }
    }
    if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") || w.ends_with("os") && n <= 3 {
        return w.to_string();
    }
    if let Some(stripped) = w.strip_suffix('s') {
        return stripped.to_string();
    }
    w.to_string()
}

/// Singular form of a (possibly multi-word) table name, as words.
pub fn singular_words(name: &str) -> Vec<String> {
    let mut w = words(name);
    if let Some(last) = w.last_mut() {
        *last = singular_word(last);
    }
    w
}

/// Names TypeScript will not take as a class or variable name.
pub const TS_RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "as",
    "implements",
    "interface",
    "let",
    "package",
    "private",
    "protected",
    "public",
    "static",
    "yield",
    "any",
    "boolean",
    "constructor",
    "declare",
    "get",
    "module",
    "require",
    "number",
    "set",
    "string",
    "symbol",
    "type",
    "from",
    "of",
    "await",
    "async",
    "object",
    "never",
    "unknown",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(camel("created_at"), "createdAt");
        assert_eq!(camel("two_factor_secret"), "twoFactorSecret");
        assert_eq!(camel("Weird Col"), "weirdCol");
        assert_eq!(camel("userID"), "userId");
        assert_eq!(camel("2fa_code"), "_2faCode");
        assert_eq!(camel("time"), "time");
        assert_eq!(pascal("organization_users"), "OrganizationUsers");
        assert_eq!(kebab("role_permissions"), "role-permissions");
        assert_eq!(kebab("MyTable"), "my-table");
    }

    #[test]
    fn singulars() {
        for (p, s) in [
            ("users", "user"),
            ("categories", "category"),
            ("statuses", "status"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("matches", "match"),
            ("people", "person"),
            ("metrics", "metric"),
            ("user_summary", "summary"),
            ("notification_preferences", "preference"),
            ("aggregate_snapshots", "snapshot"),
            ("field_changes", "change"),
            ("data", "data"),
            ("news", "news"),
            ("analyses", "analysis"),
            ("bus", "bus"),
            ("policies", "policy"),
        ] {
            assert_eq!(singular_words(p).last().unwrap(), s, "{p}");
        }
    }
}
