//! Rules of the code base that a reviewer would otherwise check by hand.
//!
//! - No Rust string literal in the generator's code holds more than one line of SQL or
//!   TypeScript: longer text lives in `.sql`/`.j2` templates (tests may embed input schemas).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// String literals of Rust source (value as written, escapes unprocessed), with their line.
fn literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let line = |at: usize| src[..at].matches('\n').count() + 1;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = src[i + 2..].find("*/").map_or(b.len(), |j| i + 2 + j + 2);
            }
            b'\'' => {
                // A char literal ('"', '\'', '\n'), or a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i = src[i + 2..].find('\'').map_or(b.len(), |j| i + 2 + j + 1);
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = i + 2 + hashes;
                let close = format!("\"{}", "#".repeat(hashes));
                let end = src[start..].find(&close).map_or(b.len(), |j| start + j);
                out.push((line(i), src[start..end].to_string()));
                i = end + close.len();
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                out.push((line(i), src[i + 1..j.min(b.len())].to_string()));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The literal's value, as far as line breaks go: `\n` escapes are newlines, a backslash at the
/// end of a source line continues it.
fn lines_of(lit: &str) -> usize {
    let mut v = String::new();
    let mut chars = lit.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => v.push('\n'),
                Some('\n') => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                Some(other) => v.push(other),
                None => {}
            }
        } else {
            v.push(c);
        }
    }
    v.trim_matches('\n').lines().count()
}

/// Looks like SQL or TypeScript code (not prose that names a statement).
fn is_code(lit: &str) -> bool {
    const SQL: &[&str] = &[
        "SELECT ",
        "INSERT INTO",
        "UPDATE ",
        "DELETE FROM",
        "CREATE ",
        "ALTER ",
        "DROP ",
        "DO $",
        "RETURNS ",
        "BEGIN",
    ];
    const TS: &[&str] = &["import {", "export class", "export function", "export const", "export interface", "=> {"];
    SQL.iter().chain(TS).any(|k| lit.contains(k))
}

#[test]
fn no_rust_string_literal_holds_more_than_a_line_of_sql_or_typescript() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 30, "found the sources ({} files)", files.len());
    let mut offenders = Vec::new();
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Unit tests may embed input schemas.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (line, lit) in literals(code) {
            seen += 1;
            if lines_of(&lit) > 1 && is_code(&lit) {
                offenders.push(format!("{}:{line}: {:?}", f.display(), lit.chars().take(80).collect::<String>()));
            }
        }
    }
    assert!(seen > 1000, "the scanner found the literals ({seen})");
    assert!(offenders.is_empty(), "move these into .sql/.j2 templates:\n{}", offenders.join("\n"));
}

#[test]
fn the_scanner_sees_what_it_must() {
    let src = "let a = \"SELECT 1\\nFROM t\"; let c = '\"'; // \"CREATE x\\nDROP y\"\nlet b = r#\"CREATE TABLE t (\n  id int\n)\"#;";
    let lits = literals(src);
    assert_eq!(lits.len(), 2, "{lits:?}");
    assert!(lits.iter().all(|(_, l)| lines_of(l) > 1 && is_code(l)));
    assert_eq!(lines_of("one line \\\n    continued"), 1);
    assert_eq!(lines_of("\\nCREATE TABLE t (\\n"), 1);
    assert!(!is_code("cannot create a test database"));
}

/// `text` without `//` line comments and `/* */` block comments (strings are kept).
fn code_only(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut in_str: Option<char> = None;
        let mut cut = line.len();
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (k, &(i, c)) in chars.iter().enumerate() {
            match in_str {
                Some(q) if c == q && (k == 0 || chars[k - 1].1 != '\\') => in_str = None,
                Some(_) => {}
                None if c == '\'' || c == '"' || c == '`' => in_str = Some(c),
                None if c == '/' && chars.get(k + 1).is_some_and(|n| n.1 == '/') => {
                    cut = i;
                    break;
                }
                None => {}
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    // Block and doc comments of TypeScript and templates.
    let mut res = String::new();
    let mut rest = out.as_str();
    while let Some(start) = rest.find("/*").or_else(|| rest.find("{#")) {
        let close = if rest[start..].starts_with("/*") { "*/" } else { "#}" };
        res.push_str(&rest[..start]);
        rest = rest[start..].find(close).map_or("", |e| &rest[start + e + 2..]);
    }
    res.push_str(rest);
    res
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The core (the nest crate's code, core templates and core runtime) never names a feature:
/// features hook in through contributions and the CRUD runtime's extensions.
#[test]
fn the_core_names_no_feature() {
    let nest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nestjs");
    let mut files = Vec::new();
    files_under(&nest.join("src"), &mut files);
    files_under(&nest.join("templates"), &mut files);
    // Feature ids, and the folders of their runtime (`src/core/<folder>/`).
    let mut names: Vec<String> = Vec::new();
    for f in nest_features::FEATURES.iter() {
        let assets = f.assets();
        if assets.runtime.is_empty() && assets.templates.is_empty() {
            continue;
        }
        names.push(f.def().id.to_string());
        for (path, _) in assets.runtime {
            if let Some(folder) = path.strip_prefix("src/core/").and_then(|p| p.split('/').next()) {
                names.push(format!("core/{folder}/"));
                names.push(format!("../{folder}/"));
            }
        }
    }
    names.sort();
    names.dedup();
    assert!(names.len() > 8, "{names:?}");
    let mut hits = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let text = if f.extension().is_some_and(|x| x == "rs") {
            text.split("#[cfg(test)]").next().unwrap_or_default().to_string()
        } else {
            text
        };
        let code = code_only(&text);
        for n in &names {
            let word = |at: usize| {
                let before =
                    code[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'));
                // `cache-control` is HTTP, not the `cache` feature.
                let after =
                    code[at + n.len()..].chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'));
                n.ends_with('/') || (before && after)
            };
            if code.match_indices(n.as_str()).any(|(at, _)| word(at)) {
                hits.push(format!("{}: {n}", f.display()));
            }
        }
    }
    assert!(hits.is_empty(), "the core names features:\n{}", hits.join("\n"));
}

#[test]
fn comments_are_stripped_strings_kept() {
    let code = code_only("a = 'x // y'; // audit\n/* rbac */ b = \"auth\"\n{# tenancy #}c");
    assert!(code.contains("'x // y'") && code.contains("\"auth\"") && code.contains('c'));
    assert!(!code.contains("audit") && !code.contains("rbac") && !code.contains("tenancy"));
}

/// The generated app's TypeScript sources: the core's (static runtime and templates) and every
/// feature's, with the `.env.example` text that documents them (the core's, or the feature's).
fn app_sources() -> Vec<(PathBuf, String)> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![(here.join("../nestjs/templates"), here.join("../nestjs/templates/env.example.j2"))];
    for e in std::fs::read_dir(here.join("src")).unwrap().flatten() {
        if e.path().is_dir() {
            dirs.push((e.path(), e.path().join("templates/env.j2")));
        }
    }
    let mut out = Vec::new();
    for (dir, env) in dirs {
        let mut files = Vec::new();
        files_under(&dir, &mut files);
        let doc = std::fs::read_to_string(&env).unwrap_or_default();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".ts") || name.ends_with(".ts.j2") {
                out.push((f, doc.clone()));
            }
        }
    }
    out
}

/// Names of environment variables in `code`: string literals like `'FILES_MAX_BYTES'`.
fn variable_names(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = code.split('\'').collect();
    for (i, part) in parts.iter().enumerate() {
        let looks = part.len() > 3
            && part.contains('_')
            && part.starts_with(|c: char| c.is_ascii_uppercase())
            && part.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        // `Symbol('APP_CONFIG')` is an injection token.
        if i % 2 == 1 && looks && !parts[i - 1].ends_with("Symbol(") {
            out.push(part.to_string());
        }
    }
    out
}

/// Configuration is read in one place: the app's settings module (core/config.ts) is the only
/// code that touches `process.env`, and every variable a settings section reads is documented in
/// the `.env.example` block of the core or of the feature that reads it.
#[test]
fn settings_are_read_in_one_place_and_documented() {
    let sources = app_sources();
    assert!(sources.len() > 50, "{} sources", sources.len());
    let core_doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../nestjs/templates/env.example.j2"))
            .unwrap();
    let mut stray = Vec::new();
    let mut undocumented = Vec::new();
    let mut sections = 0;
    for (f, doc) in &sources {
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        if code.contains("process.env") && !f.ends_with("static/src/core/config.ts") {
            stray.push(f.display().to_string());
        }
        if !code.contains("defineSettings(") {
            continue;
        }
        sections += 1;
        for name in variable_names(&code) {
            if !doc.contains(&name) && !core_doc.contains(&name) {
                undocumented.push(format!("{}: {name}", f.display()));
            }
        }
    }
    assert!(stray.is_empty(), "process.env read outside core/config.ts:\n{}", stray.join("\n"));
    assert!(sections >= 10, "only {sections} files define settings");
    assert!(undocumented.is_empty(), "settings missing from .env.example:\n{}", undocumented.join("\n"));
}

#[test]
fn variable_names_are_found_in_string_literals() {
    let names =
        variable_names("env.int('FILES_MAX_BYTES', 1), logged('NOTIFY_SMS'), 'on', 'A_b', `X_Y`, Symbol('APP_CONFIG')");
    assert_eq!(names, ["FILES_MAX_BYTES", "NOTIFY_SMS"]);
}
