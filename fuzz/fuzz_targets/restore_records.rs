#![no_main]
//! Fuzz target `restore_records`: see `ddi_check::restore_fuzz`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ddi_check::restore_fuzz::restore_records(data));
