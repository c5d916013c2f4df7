//! Every input kept under `fuzz/regressions/<target>/` (crashes `scripts/fuzz.sh` found, and the
//! deterministic inputs of fixed bugs) replays through the same function its fuzz target runs
//! (`fuzz/src/harness.rs`, included here) without a panic. Runs on stable, with `cargo test`.

#[path = "../../../fuzz/src/harness.rs"]
mod harness;

use harness::Reach;

use std::path::{Path, PathBuf};

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions")
}

/// The kept inputs of one target, sorted; dot files (`.gitkeep`) are not inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    out.sort();
    out
}

#[test]
fn kept_fuzz_inputs_replay_without_a_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, run) in harness::TARGETS {
        for path in inputs(&regressions().join(target)) {
            let data = std::fs::read(&path).unwrap();
            replayed += 1;
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failures.push(format!("{target}: {} ({:?})", path.display(), String::from_utf8_lossy(&data)));
            }
        }
    }
    eprintln!("{replayed} kept fuzz input(s) replayed");
    assert!(failures.is_empty(), "kept fuzz inputs panic again:\n{}", failures.join("\n"));
}

/// A folder under `fuzz/regressions/` that names no target would be skipped silently. (`query`
/// holds the list-query fuzzer's inputs, which e2e/fuzz-list-query.mjs replays.)
#[test]
fn every_regression_folder_names_a_target() {
    let Ok(entries) = std::fs::read_dir(regressions()) else { return };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() && !p.ends_with("query") {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            assert!(
                harness::TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/regressions/{name} is no fuzz target (targets: {:?})",
                harness::TARGETS.iter().map(|(t, _)| *t).collect::<Vec<_>>()
            );
        }
    }
}

/// The `meta_settings` harness gets past the reader: the seed's metadata file as text reaches
/// the Model, and most generated inputs (xorshift bytes, fixed seed) reach the Model or files,
/// not only the tokenizer.
#[test]
fn the_meta_harness_reaches_the_model() {
    let seed = std::fs::read(regressions().join("../../fixtures/seed/01b-multi-tenancy-metadata.sql")).unwrap();
    assert_eq!(harness::meta_settings_reach(&seed), Reach::Model(false));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut reached = [0usize; 4];
    let mut errors = Vec::new();
    for n in 0..40 {
        let mut data = vec![0x80 | (n as u8 & 0x0f), 0xff];
        for _ in 0..(8 + n * 4) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        let k = match harness::meta_settings_reach(&data) {
            Reach::Nothing => 0,
            Reach::CatalogErrors(e) => {
                // FUZZ_SHOW=1: the generated statements of the inputs the reader refuses, and why.
                if std::env::var_os("FUZZ_SHOW").is_some() {
                    eprintln!("----\n{}\n=> {e}", harness::meta_input(&data).0);
                }
                errors.push(e);
                1
            }
            Reach::Model(_) => 2,
            Reach::Files => 3,
        };
        reached[k] += 1;
    }
    eprintln!("40 generated inputs: {reached:?} (nothing, catalog errors, Model, files)");
    assert!(
        reached[2] + reached[3] >= 20,
        "generated inputs reach the Model: {reached:?} (nothing, catalog errors, Model, files); errors:\n{}",
        errors.join("\n")
    );
    assert_eq!(harness::meta_settings_reach(&[0x8a, 0x00]), Reach::Files);
    harness::sql_types(b"character varying(20)[]");
    harness::parse_sql(b"CREATE TABLE t (id int PRIMARY KEY);");
}
