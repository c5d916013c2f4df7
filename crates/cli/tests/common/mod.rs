//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static NPM: Mutex<()> = Mutex::new(());

/// A lock file shared by the test processes (cargo runs test binaries in parallel).
struct FileLock(PathBuf);

impl FileLock {
    /// Take the lock; it holds the holder's pid, so a lock left by a process that died (an
    /// interrupted `npm ci`) is taken over at once instead of blocking the next run.
    fn take(path: PathBuf) -> FileLock {
        let started = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    let _ = write!(f, "{}", std::process::id());
                    return FileLock(path);
                }
                Err(_) => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    let gone = holder.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t.elapsed().unwrap_or_default().as_secs() > 900);
                    if gone || stale {
                        let _ = std::fs::remove_file(&path);
                    }
                    assert!(started.elapsed().as_secs() < 1200, "waited 20 minutes for {}", path.display());
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    text
}

/// `e2e/node_modules`, installed with `npm ci` when missing or when the lockfile changed.
pub fn node_modules() -> PathBuf {
    let _guard = NPM.lock().unwrap_or_else(|e| e.into_inner());
    let e2e = root().join("e2e");
    let _lock = FileLock::take(e2e.join(".npm-install.lock"));
    let lock = std::fs::read(e2e.join("package-lock.json")).expect("e2e/package-lock.json");
    let stamp = e2e.join("node_modules/.nest-generator-lock");
    let want = format!(
        "{:x}",
        lock.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
    );
    // npm's own record of what it installed must be there too (an interrupted install leaves
    // neither it nor the stamp, which is written last).
    let installed = e2e.join("node_modules/.package-lock.json").is_file() && installed_matches_lockfile(&e2e);
    if !installed || std::fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        run(
            Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&e2e),
            "npm ci in e2e/",
        );
        std::fs::write(&stamp, &want).unwrap();
    }
    e2e.join("node_modules")
}

/// `tsc -p tsconfig.json` in a project, with e2e/node_modules linked in.
pub fn typecheck(project: &Path) {
    let link = project.join("node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(node_modules(), &link).unwrap();
    }
    run(
        Command::new(project.join("node_modules/.bin/tsc"))
            .args(["-p", "tsconfig.json", "--noEmit"])
            .current_dir(project),
        "tsc --noEmit",
    );
}

/// Every package the lockfile pins at the top level is installed at that version (a tree left
/// by another lockfile, or changed by hand, is reinstalled).
fn installed_matches_lockfile(e2e: &Path) -> bool {
    let Ok(lock) = std::fs::read_to_string(e2e.join("package-lock.json")) else { return false };
    let Ok(lock) = serde_json::from_str::<serde_json::Value>(&lock) else { return false };
    let Some(packages) = lock["packages"].as_object() else { return false };
    packages
        .iter()
        .filter(|(k, v)| {
            k.starts_with("node_modules/") && !k[13..].contains("node_modules/") && v.get("optional").is_none()
        })
        .all(|(k, v)| {
            let manifest = e2e.join(k).join("package.json");
            std::fs::read_to_string(&manifest)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|m| m["version"] == v["version"])
        })
}
