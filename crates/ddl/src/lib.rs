//! Offline reader: SQL text (hand-written DDL, migrations, `pg_dump --schema-only`) replayed
//! statement by statement into a [`Catalog`].
//!
//! Each statement is split out without parsing ([`split`]), parsed alone with `sqlparser`
//! (PostgreSQL dialect), and applied to the catalog being built ([`replay`]). A statement the
//! parser cannot read becomes a located warning and is skipped; a statement that contradicts
//! the model (a duplicate table, a foreign key to a table that never appears, an unknown type)
//! becomes a located error. Nothing here panics on any input.

mod fallback;
pub mod replay;
pub mod source;
pub mod split;

pub use source::{SourceError, SourceFile};

use nest_catalog::{Catalog, Diagnostic, Location, codes};
use std::path::Path;

/// Replay `files` in order into one catalog.
pub fn parse_sources(files: &[SourceFile]) -> Catalog {
    let mut r = replay::Replayer::new();
    for f in files {
        r.replay_file(&f.name, &f.text);
    }
    r.finish()
}

/// Replay one SQL text (named `name` in diagnostics).
pub fn parse_str(name: &str, text: &str) -> Catalog {
    parse_sources(&[SourceFile { name: name.to_string(), text: text.to_string() }])
}

/// Read several files or folders, in order, as one input.
pub fn parse_paths(paths: &[std::path::PathBuf]) -> Catalog {
    let mut files = Vec::new();
    for p in paths {
        match source::load(p) {
            Ok(f) => files.extend(f),
            Err(_) => return parse_path(p),
        }
    }
    parse_sources(&files)
}

/// Read a file or a folder of migrations and replay it. An unreadable path gives a catalog
/// with one `io` error.
pub fn parse_path(path: &Path) -> Catalog {
    match source::load(path) {
        Ok(files) => parse_sources(&files),
        Err(e) => {
            let mut c = Catalog::default();
            let at = Location { file: e.path.display().to_string(), line: 0, column: 0 };
            c.diagnostics.push(
                Diagnostic::error(codes::IO, &at, e.message)
                    .with_help("pass --schema a .sql file or a folder containing .sql files"),
            );
            c
        }
    }
}
