#![no_main]
//! Fuzz target `query_adapter_info`: see `ddi_check::fuzz::query_adapter_info`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ddi_check::fuzz::query_adapter_info(data));
