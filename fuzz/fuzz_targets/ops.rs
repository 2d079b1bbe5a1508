#![no_main]
//! Fuzz target `ops`: see `ddi_check::fuzz::ops`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ddi_check::fuzz::ops(data));
