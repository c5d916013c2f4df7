//! Split SQL text into statements without parsing them, so one bad statement cannot hide the
//! rest. Understands quotes, dollar quotes, nested block comments, `BEGIN ATOMIC ... END`
//! function bodies, psql meta-commands (`\restrict`, `\connect`) and `COPY ... FROM stdin` data.

/// A statement's text (without the final `;`) and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStatement<'a> {
    pub text: &'a str,
    /// Byte offset of `text` in the source.
    pub offset: usize,
    pub line: u32,
    pub column: u32,
}

/// Line/column lookup for byte offsets of one source text.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, src: &str, offset: usize) -> (u32, u32) {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        let end = offset.min(src.len());
        let col = src.get(start..end).map_or(end - start, |s| s.chars().count());
        (line as u32 + 1, col as u32 + 1)
    }
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// If a dollar-quote tag (`$$`, `$body$`) starts at `i`, its length.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i) != Some(&b'$') {
        return None;
    }
    // `$1` is a parameter, and `a$b` is part of an identifier.
    if i > 0 && is_ident_char(bytes[i - 1]) {
        return None;
    }
    let mut j = i + 1;
    if let Some(&c) = bytes.get(j)
        && c.is_ascii_digit()
    {
        return None;
    }
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] >= 0x80) {
        j += 1;
    }
    if bytes.get(j) == Some(&b'$') { Some(j + 1 - i) } else { None }
}

fn find_sub(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Skip whitespace and comments from `i`; returns the next significant byte offset.
fn skip_trivia(bytes: &[u8], mut i: usize) -> usize {
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i..].starts_with(b"--") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if bytes[i..].starts_with(b"/*") {
            i = skip_block_comment(bytes, i);
            continue;
        }
        return i;
    }
}

fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if bytes[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Words seen at the top level of the current statement, for `BEGIN ATOMIC` bodies.
struct WordState {
    prev: String,
    atomic_depth: i32,
    in_atomic: bool,
}

impl WordState {
    fn word(&mut self, w: &str) {
        let w = w.to_ascii_lowercase();
        if self.in_atomic {
            match w.as_str() {
                "case" | "begin" => self.atomic_depth += 1,
                "end" => {
                    self.atomic_depth -= 1;
                    if self.atomic_depth == 0 {
                        self.in_atomic = false;
                    }
                }
                _ => {}
            }
        } else if w == "atomic" && self.prev == "begin" {
            self.in_atomic = true;
            self.atomic_depth = 1;
        }
        self.prev = w;
    }
}

/// Split `src` into statements. Text after the last `;` is a statement too.
pub fn split(src: &str) -> Vec<RawStatement<'_>> {
    let bytes = src.as_bytes();
    let index = LineIndex::new(src);
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        i = skip_trivia(bytes, i);
        if i >= bytes.len() {
            break;
        }
        // psql meta-command: the rest of the line.
        if bytes[i] == b'\\' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let mut words = WordState { prev: String::new(), atomic_depth: 0, in_atomic: false };
        let mut end = bytes.len();
        let mut next = bytes.len();
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'\'' => {
                    // E'...' strings take backslash escapes.
                    let escapes = i > 0
                        && (bytes[i - 1] == b'E' || bytes[i - 1] == b'e')
                        && (i < 2 || !is_ident_char(bytes[i - 2]));
                    i += 1;
                    while i < bytes.len() {
                        if escapes && bytes[i] == b'\\' {
                            i += 2;
                            continue;
                        }
                        if bytes[i] == b'\'' {
                            if bytes.get(i + 1) == Some(&b'\'') {
                                i += 2;
                                continue;
                            }
                            break;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                b'"' => {
                    i += 1;
                    while i < bytes.len() {
                        if bytes[i] == b'"' {
                            if bytes.get(i + 1) == Some(&b'"') {
                                i += 2;
                                continue;
                            }
                            break;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                b'$' => match dollar_tag(bytes, i) {
                    Some(len) => {
                        let tag = &bytes[i..i + len];
                        i = match find_sub(bytes, i + len, tag) {
                            Some(close) => close + len,
                            None => bytes.len(),
                        };
                    }
                    None => i += 1,
                },
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
                b';' if !words.in_atomic => {
                    end = i;
                    next = i + 1;
                    break;
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let ws = i;
                    while i < bytes.len() && is_ident_char(bytes[i]) {
                        i += 1;
                    }
                    words.word(&src[ws..i]);
                }
                _ => i += 1,
            }
        }
        let text = src[start..end.min(bytes.len())].trim_end();
        i = next;
        if text.is_empty() {
            continue;
        }
        let (line, column) = index.position(src, start);
        out.push(RawStatement { text, offset: start, line, column });
        // COPY ... FROM stdin is followed by data up to a line `\.`.
        if is_copy_from_stdin(text) {
            let mut j = i;
            loop {
                let line_end = find_sub(bytes, j, b"\n").unwrap_or(bytes.len());
                let line = src[j..line_end].trim_end_matches('\r');
                j = (line_end + 1).min(bytes.len());
                if line == "\\." || line_end >= bytes.len() {
                    break;
                }
            }
            i = j;
        }
    }
    out
}

fn is_copy_from_stdin(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("copy ") && lower.contains("from stdin")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        split(src).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let src = "CREATE TABLE a (x text DEFAULT 'a;b'); -- c;\n/* d; /* e; */ */ SELECT \"x;y\" FROM a;";
        assert_eq!(texts(src), vec!["CREATE TABLE a (x text DEFAULT 'a;b')", "SELECT \"x;y\" FROM a"]);
    }

    #[test]
    fn dollar_quoted_bodies_stay_whole() {
        let src = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nSELECT 1;";
        let t = texts(src);
        assert_eq!(t.len(), 2);
        assert!(t[0].ends_with("LANGUAGE plpgsql"));
        let src = "CREATE FUNCTION g() RETURNS int AS $$ SELECT $1; $$ LANGUAGE sql;";
        assert_eq!(texts(src).len(), 1);
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let src = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\nSELECT 3;";
        let t = texts(src);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].ends_with("END"));
    }

    #[test]
    fn psql_meta_commands_and_copy_data_are_skipped() {
        let src = "\\restrict abc\nSET x = 1;\nCOPY t (a) FROM stdin;\n1;2\n\\.\nSELECT 1;\n\\unrestrict abc\n";
        assert_eq!(texts(src), vec!["SET x = 1", "COPY t (a) FROM stdin", "SELECT 1"]);
    }

    #[test]
    fn positions_are_lines_and_columns() {
        let src = "-- header\n\n  CREATE TABLE a (x int);\nSELECT 1";
        let s = split(src);
        assert_eq!((s[0].line, s[0].column), (3, 3));
        assert_eq!((s[1].line, s[1].column), (4, 1));
    }

    #[test]
    fn escape_strings() {
        let src = "SELECT E'it\\'s;'; SELECT 2;";
        assert_eq!(texts(src).len(), 2);
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        for src in ["'abc", "$$ abc", "/* abc", "\"abc", "E'\\", "$a", "--", "\\"] {
            let _ = split(src);
        }
    }
}
