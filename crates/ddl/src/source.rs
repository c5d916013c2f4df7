//! Input files: one `.sql` file, or a folder of them read in migration order.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// One input file's name (as shown in diagnostics) and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

#[derive(Debug)]
pub struct SourceError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Compare names the way people number migrations: digit runs by value (`V2` < `V10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = std::str::from_utf8(&a[..da]).unwrap_or("").trim_start_matches('0');
                let nb = std::str::from_utf8(&b[..db]).unwrap_or("").trim_start_matches('0');
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)).then_with(|| da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| SourceError { path: dir.to_path_buf(), message: e.to_string() })?;
    for entry in entries {
        let entry = entry.map_err(|e| SourceError { path: dir.to_path_buf(), message: e.to_string() })?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| SourceError { path: path.clone(), message: e.to_string() })?;
        if ft.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("sql")) {
            // Down migrations undo the up ones; replaying them would drop what was built.
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_ascii_lowercase();
            if stem == "down" || stem.ends_with(".down") || stem.ends_with("_down") {
                continue;
            }
            out.push(path);
        }
    }
    Ok(())
}

/// Read `path`: a file, or every `.sql` file below a folder in natural name order of their
/// paths relative to it (skipping `down` migrations).
pub fn load(path: &Path) -> Result<Vec<SourceFile>, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| SourceError { path: path.to_path_buf(), message: e.to_string() })?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect(path, &mut files)?;
        files.sort_by(|a, b| {
            let ra = a.strip_prefix(path).unwrap_or(a).to_string_lossy().to_string();
            let rb = b.strip_prefix(path).unwrap_or(b).to_string_lossy().to_string();
            natural_cmp(&ra, &rb)
        });
        if files.is_empty() {
            return Err(SourceError { path: path.to_path_buf(), message: "the folder has no .sql file".into() });
        }
    } else {
        files.push(path.to_path_buf());
    }
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).map_err(|e| SourceError { path: p.clone(), message: e.to_string() })?;
            let text = String::from_utf8(bytes).map_err(|e| SourceError {
                path: p.clone(),
                message: format!("not UTF-8 text (byte {}); convert it with iconv first", e.utf8_error().valid_up_to()),
            })?;
            // A byte-order mark is not SQL.
            let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
            Ok(SourceFile { name: p.display().to_string(), text })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["V10__x.sql", "V2__y.sql", "V1__z.sql", "a.sql", "001_b.sql"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["001_b.sql", "V1__z.sql", "V2__y.sql", "V10__x.sql", "a.sql"]);
    }
}
