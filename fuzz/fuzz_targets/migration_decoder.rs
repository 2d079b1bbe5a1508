//! Arbitrary bytes as live-migration data: the decoder of
//! `DxgkDdiRestore{Immutable,Mutable}MigrationData` must never panic, and
//! whatever it accepts must re-encode to a canonical fixed point. Half the
//! inputs are resealed (length and CRC32C fixed) first, so that the record
//! parsing behind the checksum is reached. See `../migration_decoder_check.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../migration_decoder_check.rs"]
mod check;

fuzz_target!(|data: &[u8]| {
    check::check(data);
});
