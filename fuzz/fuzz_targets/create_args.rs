#![no_main]
//! Fuzz target `create_args`: see `ddi_check::fuzz::create_args`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ddi_check::fuzz::create_args(data));
