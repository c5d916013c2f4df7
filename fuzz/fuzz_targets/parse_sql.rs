//! `cargo +nightly fuzz run parse_sql` (from the `fuzz` folder): any text must read without
//! a panic. The stable test suite runs the same property with a deterministic generator
//! (crates/ddl/tests/robustness.rs) and replays kept crash inputs (fuzz/regressions/parse_sql,
//! crates/features/tests/fuzz_regressions.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nest_fuzz::harness::parse_sql(data));
