#![no_main]
//! Fuzz target `query_args`: see `ddi_check::fuzz::query_args`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ddi_check::fuzz::query_args(data));
