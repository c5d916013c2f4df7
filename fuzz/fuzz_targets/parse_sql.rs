//! `cargo +nightly fuzz run parse_sql` (from the `fuzz` folder): any text must read without
//! a panic. The stable test suite runs the same property with a deterministic generator
//! (crates/ddl/tests/robustness.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nest_ddl::parse_str("fuzz.sql", text);
    }
});
