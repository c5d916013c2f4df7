//! Fuzz targets of the generator (`scripts/fuzz.sh` runs them). Each target in `fuzz_targets/`
//! calls one function of [`harness`], the file the stable test
//! `crates/features/tests/fuzz_regressions.rs` replays kept crash inputs through.

pub mod harness;
