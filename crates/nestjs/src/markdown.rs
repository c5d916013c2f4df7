//! Markdown tables laid out as Prettier lays them out: every cell padded to its column's width
//! (at least 3), the delimiter row's dashes as wide as the column, alignment colons kept. The
//! README's tables list the schema's tables and routes, so their widths depend on names.

/// `text` with every table aligned; other lines unchanged.
pub fn align_tables(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let is_table = is_row(lines[i]) && lines.get(i + 1).is_some_and(|l| is_delimiter(l));
        if !is_table {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let mut end = i + 2;
        while end < lines.len() && is_row(lines[end]) {
            end += 1;
        }
        out.extend(align(&lines[i..end]));
        i = end;
    }
    out.join("\n")
}

fn is_row(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 2 && t.starts_with('|') && t.ends_with('|')
}

fn is_delimiter(line: &str) -> bool {
    is_row(line) && cells(line).iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// The cells of `| a | b |`, trimmed; `\|` stays inside its cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim();
    let inner = &inner[1..inner.len() - 1];
    let mut out = vec![String::new()];
    let mut escaped = false;
    for ch in inner.chars() {
        if ch == '|' && !escaped {
            out.push(String::new());
        } else {
            out.last_mut().expect("one cell").push(ch);
        }
        escaped = ch == '\\' && !escaped;
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    None,
    Left,
    Center,
    Right,
}

fn align(rows: &[&str]) -> Vec<String> {
    let header = cells(rows[0]);
    let aligns: Vec<Align> = cells(rows[1])
        .iter()
        .map(|d| match (d.starts_with(':'), d.ends_with(':') && d.len() > 1) {
            (true, true) => Align::Center,
            (true, false) => Align::Left,
            (false, true) => Align::Right,
            (false, false) => Align::None,
        })
        .collect();
    let columns = header.len();
    let body: Vec<Vec<String>> = rows[2..]
        .iter()
        .map(|r| {
            let mut c = cells(r);
            c.resize(columns, String::new());
            c
        })
        .collect();
    let mut widths = vec![3usize; columns];
    for row in std::iter::once(&header).chain(&body) {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(c));
        }
    }
    let align_of = |i: usize| aligns.get(i).copied().unwrap_or(Align::None);
    let row = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let spaces = widths[i] - width(c);
                let before = match align_of(i) {
                    Align::Right => spaces,
                    Align::Center => spaces / 2,
                    _ => 0,
                };
                format!("{}{c}{}", " ".repeat(before), " ".repeat(spaces - before))
            })
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let delimiter: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let a = align_of(i);
            let first = if matches!(a, Align::Left | Align::Center) { ':' } else { '-' };
            let last = if matches!(a, Align::Right | Align::Center) { ':' } else { '-' };
            format!("{first}{}{last}", "-".repeat(w - 2))
        })
        .collect();
    let mut out = vec![row(&header), format!("| {} |", delimiter.join(" | "))];
    out.extend(body.iter().map(|r| row(r)));
    out
}

/// Columns `s` takes in a monospace font, as Prettier counts them: East Asian wide and
/// full-width characters (and emoji) two, combining marks none.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            if u < 0x300 {
                1
            } else if (0x300..=0x36f).contains(&u) || (0x200b..=0x200f).contains(&u) || (0xfe00..=0xfe0f).contains(&u) {
                0
            } else if (0x1100..=0x115f).contains(&u)
                || (0x2e80..=0x303e).contains(&u)
                || (0x3041..=0x33ff).contains(&u)
                || (0x3400..=0x4dbf).contains(&u)
                || (0x4e00..=0x9fff).contains(&u)
                || (0xa000..=0xa4cf).contains(&u)
                || (0xac00..=0xd7a3).contains(&u)
                || (0xf900..=0xfaff).contains(&u)
                || (0xfe30..=0xfe4f).contains(&u)
                || (0xff00..=0xff60).contains(&u)
                || (0xffe0..=0xffe6).contains(&u)
                || (0x1f300..=0x1f64f).contains(&u)
                || (0x1f900..=0x1f9ff).contains(&u)
                || (0x20000..=0x3fffd).contains(&u)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::align_tables;

    #[test]
    fn tables_are_padded_to_their_columns_and_the_rest_is_left_alone() {
        let text = "# T\n\n| Resource | Table |\n|---|:-:|\n| `/users` | `public.users` |\n| x | 名前 |\n\ntext | not a table\n";
        let want = "# T\n\n| Resource |     Table      |\n| -------- | :------------: |\n| `/users` | `public.users` |\n| x        |      名前      |\n\ntext | not a table\n";
        assert_eq!(align_tables(text), want);
    }

    #[test]
    fn an_empty_header_cell_and_escaped_pipes_keep_their_place() {
        let text = "| Route | |\n|---|---|\n| `a \\| b` | c |";
        assert_eq!(align_tables(text), "| Route    |     |\n| -------- | --- |\n| `a \\| b` | c   |");
    }
}
