//! Up-to-date check of a regeneration (the way build tools skip work): everything that decides
//! a generation's output is hashed — the generator binary, the schema files' bytes, the
//! settings after every source is merged, the command's arguments, template overrides — and
//! recorded in the manifest with the project's table record. A later run with the same hash,
//! the same record and every recorded file still in place would rewrite nothing (generation is
//! idempotent: `regen.rs` checks it), so it stops there.
//!
//! Only offline input is fingerprinted (a live catalog is known only by reading it), and a run
//! that left conflicts or edited orphans records none: those are re-examined every time.

use nest_ddl::SourceFile;
use nest_write::Manifest;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A hasher of length-prefixed parts (no two different sequences of parts hash alike).
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Self {
        Hasher(Sha256::new())
    }

    pub fn part(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        let b = bytes.as_ref();
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn finish(self) -> String {
        self.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The generator itself: its version and the identity of its executable (a rebuilt binary
/// with other templates is another generator). None when the executable cannot be examined.
fn generator(h: &mut Hasher) -> Option<()> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    h.part(env!("CARGO_PKG_VERSION"))
        .part(exe.to_string_lossy().as_bytes())
        .part(meta.len().to_le_bytes())
        .part(modified.as_nanos().to_le_bytes());
    Some(())
}

/// Every file under a template folder, by relative path, in order.
fn templates(h: &mut Hasher, dir: &Path) -> Option<()> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() { walk(&p, out)? } else { out.push(p) }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files).ok()?;
    files.sort();
    h.part(files.len().to_le_bytes());
    for f in files {
        h.part(f.strip_prefix(dir).unwrap_or(&f).to_string_lossy().as_bytes()).part(std::fs::read(&f).ok()?);
    }
    Some(())
}

/// The hash of a run's inputs: `settings` is the rendered form of everything else that
/// decides the output (merged config, arguments, options), `sources` the schema files read.
pub fn inputs(sources: &[SourceFile], settings: &str, template_dir: Option<&Path>) -> Option<String> {
    let mut h = Hasher::new();
    generator(&mut h)?;
    h.part(settings);
    match template_dir {
        Some(d) => templates(h.part("templates"), d)?,
        None => {
            h.part("no templates");
        }
    }
    // The files' texts in reading order; their names reach diagnostics only (and where the
    // project finds its schema is in `settings`), so a run inside the project, which names
    // the same file relative to it, is the same run.
    h.part(sources.len().to_le_bytes());
    for s in sources {
        h.part(&s.text);
    }
    Some(h.finish())
}

/// The fingerprint recorded with a manifest: the inputs' hash and the project's record.
pub fn with_record(inputs: &str, m: &Manifest) -> String {
    let mut h = Hasher::new();
    h.part(inputs).part(format!("{:?}", m.tables)).part(format!("{:?}", m.source));
    h.finish()
}

/// The project at `out` is what a run with these inputs would leave: same fingerprint, no
/// interrupted generation to finish, every recorded file in place.
pub fn up_to_date(out: &Path, manifest: &Manifest, inputs: &str) -> bool {
    manifest.fingerprint.as_deref() == Some(with_record(inputs, manifest).as_str())
        && !nest_write::interrupted(out)
        && manifest.files.keys().all(|p| std::fs::symlink_metadata(out.join(p)).is_ok_and(|m| m.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_delimited() {
        let a = {
            let mut h = Hasher::new();
            h.part("ab").part("c");
            h.finish()
        };
        let b = {
            let mut h = Hasher::new();
            h.part("a").part("bc");
            h.finish()
        };
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn every_input_moves_the_hash() {
        let files = |t: &str| vec![SourceFile { name: "a.sql".into(), text: t.into() }];
        let base = inputs(&files("CREATE TABLE t (id int);"), "settings", None).unwrap();
        assert_eq!(base, inputs(&files("CREATE TABLE t (id int);"), "settings", None).unwrap());
        assert_ne!(base, inputs(&files("CREATE TABLE t (id bigint);"), "settings", None).unwrap());
        assert_ne!(base, inputs(&files("CREATE TABLE t (id int);"), "other settings", None).unwrap());
        let dir = std::env::temp_dir().join(format!("ng-fp-templates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.j2"), "one").unwrap();
        let with_dir = inputs(&files("CREATE TABLE t (id int);"), "settings", Some(&dir)).unwrap();
        assert_ne!(base, with_dir);
        std::fs::write(dir.join("x.j2"), "two").unwrap();
        assert_ne!(with_dir, inputs(&files("CREATE TABLE t (id int);"), "settings", Some(&dir)).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
