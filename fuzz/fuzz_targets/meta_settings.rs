//! `cargo +nightly fuzz run meta_settings`: metadata statements after a schema (the seed) are
//! read, evaluated into settings and resolved into the Model (and files) without a panic. See
//! `nest_fuzz::harness::meta_settings` for the input format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nest_fuzz::harness::meta_settings(data));
