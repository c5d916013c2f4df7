//! TypeScript quoting, in one place (SQL quoting is `nest_catalog::quote`).

/// A TypeScript string literal, quoted as Prettier quotes it (`singleQuote`): in single quotes,
/// or in double quotes when the text holds more single quotes than double ones.
pub fn string(s: &str) -> String {
    let singles = s.matches('\'').count();
    let q = if singles > s.matches('"').count() { '"' } else { '\'' };
    let mut out = String::from(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// An object literal's property name: bare when it is an identifier, else quoted (what
/// Prettier's `quoteProps: as-needed` leaves as it is).
pub fn key(s: &str) -> String {
    let mut chars = s.chars();
    let ident = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if ident { s.to_string() } else { string(s) }
}

/// Text placed inside a TypeScript template literal (`` `...` ``): backslashes, backticks and
/// `${` escaped, so SQL text stays exactly what it is.
pub fn template(s: &str) -> String {
    s.replace('\\', "\\\\").replace('`', "\\`").replace("${", "\\${")
}

/// `['a', 'b']`.
pub fn string_array(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| string(s)).collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(string("it's\n"), "\"it's\\n\"");
        assert_eq!(string("say \"it's\""), "'say \"it\\'s\"'");
        assert_eq!(template("a`b${c}\\"), "a\\`b\\${c}\\\\");
        assert_eq!(string_array(&["x", "y"]), "['x', 'y']");
        assert_eq!(
            (key("email"), key("first-name"), key("2fa")),
            ("email".into(), "'first-name'".into(), "'2fa'".into())
        );
    }
}
