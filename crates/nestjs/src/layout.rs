//! Line layout of generated TypeScript as Prettier lays it out (print width 140, two-space
//! indent, trailing commas), for the code rendered from the schema: object and array literals,
//! calls and parameter lists whose length depends on table and column names. A small Wadler-style
//! printer: a group is printed on one line when it fits in what is left of the line (up to the
//! next possible break after it), else broken at its line breaks.
//!
//! Prettier keeps an object literal broken when its first property is on a line of its own in
//! the input; [`Doc::object`] with `expanded` writes it that way, so the layout is stable under
//! `prettier --check` whatever the width.

/// The generated projects' `.prettierrc.json` print width.
pub const WIDTH: usize = 140;

#[derive(Debug, Clone)]
pub enum Doc {
    Text(String),
    /// A space when flat, a new line when broken.
    Line,
    /// Nothing when flat, a new line when broken.
    SoftLine,
    /// Always a new line: the enclosing groups break.
    HardLine,
    /// `,` when broken, nothing when flat (a trailing comma).
    TrailingComma,
    Indent(Box<Doc>),
    Group(Vec<Doc>),
    Concat(Vec<Doc>),
}

impl Doc {
    pub fn text(s: impl Into<String>) -> Doc {
        Doc::Text(s.into())
    }

    /// `{ a, b }`, or one property a line (`expanded`: always, as Prettier keeps it).
    pub fn object(props: Vec<Doc>, expanded: bool) -> Doc {
        if props.is_empty() {
            return Doc::text("{}");
        }
        let sep = if expanded { Doc::HardLine } else { Doc::Line };
        let mut inner = vec![sep.clone()];
        for (i, p) in props.into_iter().enumerate() {
            if i > 0 {
                inner.push(Doc::text(","));
                inner.push(sep.clone());
            }
            inner.push(p);
        }
        inner.push(Doc::TrailingComma);
        Doc::Group(vec![Doc::text("{"), Doc::Indent(Box::new(Doc::Concat(inner))), sep, Doc::text("}")])
    }

    /// `key: value`. A string literal under a key of five or more columns moves to the next line
    /// when the line is too long, as Prettier lays out an assignment ("break-after-operator").
    pub fn prop(key: impl Into<String>, value: Doc) -> Doc {
        let key = key.into();
        let string = matches!(&value, Doc::Text(t) if t.len() >= 2
            && (t.starts_with('\'') && t.ends_with('\'') || t.starts_with('"') && t.ends_with('"')));
        if string && key.chars().count() >= 5 {
            return Doc::Concat(vec![
                Doc::text(format!("{key}:")),
                Doc::Group(vec![Doc::Indent(Box::new(Doc::Concat(vec![Doc::Line, value])))]),
            ]);
        }
        Doc::Concat(vec![Doc::text(format!("{key}: ")), value])
    }

    /// `{ key: value, ... }` from names (quoted where they are not identifiers) and values.
    pub fn object_of<K: AsRef<str>>(props: impl IntoIterator<Item = (K, Doc)>, expanded: bool) -> Doc {
        Doc::object(props.into_iter().map(|(k, v)| Doc::prop(crate::quote::key(k.as_ref()), v)).collect(), expanded)
    }

    /// A string literal, quoted as Prettier quotes it.
    pub fn string(s: &str) -> Doc {
        Doc::Text(crate::quote::string(s))
    }

    /// `[a, b]`, or one element a line. Prettier breaks an array of two or more objects (or
    /// arrays) that each have two or more entries whatever its width: `all_multi_entry_objects`.
    pub fn array(items: Vec<Doc>, all_multi_entry_objects: bool) -> Doc {
        if items.is_empty() {
            return Doc::text("[]");
        }
        let force = all_multi_entry_objects && items.len() > 1;
        Doc::list("[", items, "]", force)
    }

    /// `f(a, b)` with a sole object argument hugged (`f({` ... `})`), else broken one argument a line.
    pub fn call(callee: impl Into<String>, args: Vec<Doc>) -> Doc {
        let callee = callee.into();
        if args.len() == 1 && matches!(&args[0], Doc::Group(g) if matches!(g.first(), Some(Doc::Text(t)) if t == "{")) {
            let arg = args.into_iter().next().unwrap();
            return Doc::Concat(vec![Doc::text(format!("{callee}(")), arg, Doc::text(")")]);
        }
        if args.is_empty() {
            return Doc::text(format!("{callee}()"));
        }
        Doc::list(&format!("{callee}("), args, ")", false)
    }

    /// `open a, b close` flat, else each item on a line of its own with a trailing comma.
    pub fn list(open: &str, items: Vec<Doc>, close: &str, force_break: bool) -> Doc {
        let sep = if force_break { Doc::HardLine } else { Doc::SoftLine };
        let mut inner = vec![sep.clone()];
        for (i, p) in items.into_iter().enumerate() {
            if i > 0 {
                inner.push(Doc::text(","));
                inner.push(if force_break { Doc::HardLine } else { Doc::Line });
            }
            inner.push(p);
        }
        inner.push(Doc::TrailingComma);
        Doc::Group(vec![Doc::text(open), Doc::Indent(Box::new(Doc::Concat(inner))), sep, Doc::text(close)])
    }

    /// `open a, b close` with spaces inside when flat (`import { a, b }`), else one item a line.
    pub fn list_spaced(open: &str, items: Vec<Doc>, close: &str) -> Doc {
        let mut inner = vec![Doc::Line];
        for (i, p) in items.into_iter().enumerate() {
            if i > 0 {
                inner.push(Doc::text(","));
                inner.push(Doc::Line);
            }
            inner.push(p);
        }
        inner.push(Doc::TrailingComma);
        Doc::Group(vec![Doc::text(open), Doc::Indent(Box::new(Doc::Concat(inner))), Doc::Line, Doc::text(close)])
    }

    /// Whether the doc has a hard line (it can never be flat).
    fn has_hard(&self) -> bool {
        match self {
            Doc::HardLine => true,
            Doc::Indent(d) => d.has_hard(),
            Doc::Group(v) | Doc::Concat(v) => v.iter().any(Doc::has_hard),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Flat,
    Break,
}

/// `doc` printed starting at column `start` of a line indented by `indent` spaces (the text
/// before it on that line is the caller's), followed on its last line by `suffix` (which must
/// fit too, as Prettier counts what follows up to the next break).
pub fn print(doc: &Doc, indent: usize, start: usize, suffix: &str) -> String {
    let mut out = String::new();
    let mut col = start;
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(indent, Mode::Break, doc)];
    let suffix_len = suffix.chars().count();
    while let Some((ind, mode, d)) = stack.pop() {
        match d {
            Doc::Text(s) => {
                out.push_str(s);
                col += s.chars().count();
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                if mode == Mode::Flat && !matches!(d, Doc::HardLine) {
                    if matches!(d, Doc::Line) {
                        out.push(' ');
                        col += 1;
                    }
                } else {
                    out.push('\n');
                    out.push_str(&" ".repeat(ind));
                    col = ind;
                }
            }
            Doc::TrailingComma => {
                if mode == Mode::Break {
                    out.push(',');
                    col += 1;
                }
            }
            Doc::Indent(inner) => stack.push((ind + 2, mode, inner)),
            Doc::Concat(v) => {
                for x in v.iter().rev() {
                    stack.push((ind, mode, x));
                }
            }
            Doc::Group(v) => {
                let flat =
                    mode == Mode::Flat || !d.has_hard() && fits(d, WIDTH.saturating_sub(col), &stack, suffix_len);
                let m = if flat { Mode::Flat } else { Mode::Break };
                for x in v.iter().rev() {
                    stack.push((ind, m, x));
                }
            }
        }
    }
    out.push_str(suffix);
    out
}

/// Whether `group` flat, then what follows it up to the next line break (in the modes already
/// decided), fits in `width` columns; at the very end, `suffix` too.
fn fits(group: &Doc, width: usize, rest: &[(usize, Mode, &Doc)], suffix_len: usize) -> bool {
    let mut left = width as isize;
    let mut todo: Vec<(Mode, &Doc)> = vec![(Mode::Flat, group)];
    let mut rest_i = rest.len();
    loop {
        let Some((mode, d)) = todo.pop().or_else(|| {
            if rest_i == 0 {
                return None;
            }
            rest_i -= 1;
            Some((rest[rest_i].1, rest[rest_i].2))
        }) else {
            return left - suffix_len as isize >= 0;
        };
        match d {
            Doc::Text(s) => left -= s.chars().count() as isize,
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                if mode == Mode::Break || matches!(d, Doc::HardLine) {
                    return left >= 0;
                }
                if matches!(d, Doc::Line) {
                    left -= 1;
                }
            }
            Doc::TrailingComma => {
                if mode == Mode::Break {
                    left -= 1;
                }
            }
            Doc::Indent(inner) => todo.push((mode, inner)),
            Doc::Concat(v) => todo.extend(v.iter().rev().map(|x| (mode, x))),
            Doc::Group(v) => {
                let m = if d.has_hard() { Mode::Break } else { mode };
                todo.extend(v.iter().rev().map(|x| (m, x)));
            }
        }
        if left < 0 {
            return false;
        }
    }
}

/// A method signature as Prettier lays it out: `prefix(a, b): ret {` on one line when it fits
/// at `indent`, else one parameter a line with a trailing comma.
pub fn signature(indent: usize, prefix: &str, params: &[String], suffix: &str) -> String {
    let doc = Doc::list(&format!("{prefix}("), params.iter().map(|p| parameter(p)).collect(), ")", false);
    print(&doc, indent, indent, suffix)
}

/// A parameter with its decorators: Prettier puts each decorator on a line of its own when
/// they and the parameter do not fit on one.
fn parameter(p: &str) -> Doc {
    let mut parts = Vec::new();
    let mut rest = p;
    while rest.starts_with('@') {
        let end = decorator_end(rest);
        if end >= rest.len() || !rest[end..].starts_with(' ') {
            break;
        }
        parts.push(Doc::text(&rest[..end]));
        parts.push(Doc::Line);
        rest = &rest[end + 1..];
    }
    if parts.is_empty() {
        return Doc::text(p);
    }
    parts.push(Doc::text(rest));
    Doc::Group(parts)
}

/// The length of the decorator `@Name(...)` that `s` starts with (parentheses matched outside
/// string literals).
fn decorator_end(s: &str) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            (None, ' ') if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_breaks_one_parameter_a_line_only_when_too_long() {
        let short = signature(2, "async get", &["@Param('id') id: string".into()], ": Promise<X> {");
        assert_eq!(short, "async get(@Param('id') id: string): Promise<X> {");
        let params: Vec<String> =
            (0..6).map(|i| format!("@Param('key{i}', new KeyPipe(SPEC, 'key{i}')) key{i}: string")).collect();
        let long = signature(2, "async get", &params, ": Promise<X> {");
        assert!(long.starts_with("async get(\n    @Param('key0'"), "{long}");
        assert!(long.ends_with("key5: string,\n  ): Promise<X> {"), "{long}");
        let name = "X".repeat(60);
        let param = format!("@Body(new BulkPipe(Create{name}Dto)) dtos: Create{name}Dto[]");
        let split = signature(2, "async createMany", &[param], ": Promise<R> {");
        assert!(
            split.contains(&format!("\n    @Body(new BulkPipe(Create{name}Dto))\n    dtos: Create{name}Dto[],\n  )")),
            "{split}"
        );
    }

    #[test]
    fn objects_hug_in_calls_and_arrays_break_as_prettier_does() {
        let obj = |n: usize| Doc::object((0..n).map(|i| Doc::prop(format!("k{i}"), Doc::text("'v'"))).collect(), false);
        let flat = print(&Doc::array(vec![Doc::call("f", vec![obj(2)])], false), 2, 14, ",");
        assert_eq!(flat, "[f({ k0: 'v', k1: 'v' })],");
        let wide = print(&Doc::array(vec![Doc::call("f", vec![obj(20)])], false), 2, 14, ",");
        assert!(wide.starts_with("[\n    f({\n      k0: 'v',\n"), "{wide}");
        assert!(wide.ends_with("    }),\n  ],"), "{wide}");
        let two = print(&Doc::array(vec![obj(2), obj(2)], true), 0, 0, ";");
        assert_eq!(two, "[\n  { k0: 'v', k1: 'v' },\n  { k0: 'v', k1: 'v' },\n];");
        let kept = print(&Doc::object(vec![Doc::prop("a", Doc::text("1"))], true), 0, 0, "");
        assert_eq!(kept, "{\n  a: 1,\n}");
        let long = "x".repeat(130);
        let broken =
            print(&Doc::object_of([("table", Doc::string(&long)), ("id", Doc::string(&long))], true), 0, 0, ";");
        assert_eq!(broken, format!("{{\n  table:\n    '{long}',\n  id: '{long}',\n}};"));
        let fits =
            print(&Doc::object_of([("in-app", Doc::string("a")), ("table", Doc::string("b"))], false), 0, 0, ";");
        assert_eq!(fits, "{ 'in-app': 'a', table: 'b' };");
    }
}
