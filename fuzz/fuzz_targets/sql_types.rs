//! `cargo +nightly fuzz run sql_types`: column types and expressions (defaults, checks) are
//! parsed, printed and canonicalized without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nest_fuzz::harness::sql_types(data));
