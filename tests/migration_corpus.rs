//! Replays the committed seeds of the `migration_decoder` fuzz target
//! (`fuzz/seeds/migration_decoder/`) as an ordinary test, with the target's
//! own property (`fuzz/migration_decoder_check.rs`): no panic, raw or
//! resealed, and a canonical fixed point for every accepted blob. A seed
//! named `ok_*` must decode, `bad_*` must not (raw).
//!
//! The seeds are real driver output and edits of it; to write them again
//! (only when the format changes):
//! `GPUP_WRITE_SEEDS=1 cargo test --test migration_corpus -- --ignored`.

mod common;

use std::path::PathBuf;

use common::gpup::started_gpup;
use dxgkrnl_model::VgpuRequest;
use dxgkrnl_model::live::{MigrationData, MigrationType};
use dxgkrnl_model::vfstate::program_guest;
use gpup_miniport::migration::{BlobKind, inspect};

#[path = "../fuzz/migration_decoder_check.rs"]
mod check;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/migration_decoder")
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(seeds_dir())
        .expect("the seed directory")
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_decoder_seeds_replay_clean() {
    let seeds = seeds();
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    let (mut good, mut bad) = (0, 0);
    for (name, data) in &seeds {
        check::check(data);
        let kind = inspect(data);
        if name.starts_with("ok_") {
            assert!(kind.is_ok(), "{name}: {kind:?}");
            good += 1;
        } else {
            assert!(name.starts_with("bad_"), "{name}: seeds are ok_* or bad_*");
            assert!(kind.is_err(), "{name} decodes");
            bad += 1;
        }
    }
    println!("{good} good and {bad} bad seeds replayed");
    assert!(good >= 2 && bad >= 5);
}

#[test]
fn resealing_reaches_the_checks_behind_the_checksum() {
    use gpup_miniport::migration::DecodeError;
    let seeds = seeds();
    let get = |name: &str| &seeds.iter().find(|(n, _)| n == name).unwrap().1;
    // Raw, a flipped bit is a checksum failure; resealed, the record parser
    // sees the damage (or the bit lands in a value and the blob decodes):
    // the fuzz target's resealed half exercises what the raw half cannot.
    let flipped = get("bad_bit_flip");
    assert_eq!(inspect(flipped), Err(DecodeError::BadChecksum));
    let resealed = check::resealed(flipped).unwrap();
    assert_ne!(inspect(&resealed), Err(DecodeError::BadChecksum));
    assert_eq!(inspect(get("bad_huge_count")), Err(DecodeError::BadRecord));
    for old_or_new in ["bad_major_1", "bad_major_2", "bad_major_4"] {
        assert_eq!(
            inspect(get(old_or_new)),
            Err(DecodeError::UnsupportedVersion),
            "{old_or_new}"
        );
    }
    assert_eq!(get("ok_mutable")[8], 3, "the driver writes format 3");
    assert_eq!(
        inspect(get("bad_unknown_required_record")),
        Err(DecodeError::UnknownRecord)
    );
    assert_eq!(
        inspect(get("ok_optional_record")),
        Ok(BlobKind::Immutable),
        "an optional record of a newer minor is skipped"
    );
}

/// Writes the seeds from real driver output (ignored: run by hand).
#[test]
#[ignore = "writes fuzz/seeds/migration_decoder; run with GPUP_WRITE_SEEDS=1"]
fn write_seeds() {
    if std::env::var_os("GPUP_WRITE_SEEDS").is_none() {
        return;
    }
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::vram(4 << 20)).unwrap();
    program_guest(&a, &v, 5).unwrap();
    assert_eq!(
        a.prepare_live_migration(v.partition, MigrationType::Source),
        dxgk_sys::STATUS_SUCCESS
    );
    let immutable = a
        .save_migration_data(MigrationData::Immutable, v.partition)
        .unwrap();
    assert_eq!(a.set_vf_pause(v.partition, true), dxgk_sys::STATUS_SUCCESS);
    let mutable = a
        .save_migration_data(MigrationData::Mutable, v.partition)
        .unwrap();
    let dir = seeds_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    write("ok_immutable", &immutable);
    write("ok_mutable", &mutable);
    // An optional record of a newer minor, resealed: accepted, dropped.
    let mut optional = immutable.clone();
    optional.extend_from_slice(&[0x99, 0, 1, 0, 2, 0, 0, 0, 0xAB, 0xCD]);
    optional[20] += 1;
    write("ok_optional_record", &check::resealed(&optional).unwrap());
    write("bad_empty", &[]);
    write("bad_header_only", &immutable[..32]);
    write("bad_truncated", &immutable[..immutable.len() - 1]);
    let mut trailing = immutable.clone();
    trailing.push(0);
    write("bad_trailing", &trailing);
    let mut flipped = mutable.clone();
    flipped[60] ^= 4;
    write("bad_bit_flip", &flipped);
    // Format 1 (MSI-X entries with the source host's interrupt addresses,
    // issue 15), format 2 (segments named by raw driver id, before issue
    // 16 moved VRAM behind the aperture) and a future major: all refused.
    let mut major = mutable.clone();
    major[8] = 1;
    write("bad_major_1", &check::resealed(&major).unwrap());
    let mut major = immutable.clone();
    major[8] = 2;
    write("bad_major_2", &check::resealed(&major).unwrap());
    let mut major = immutable.clone();
    major[8] = 4;
    write("bad_major_4", &check::resealed(&major).unwrap());
    let mut required = immutable.clone();
    required.extend_from_slice(&[0x99, 0, 0, 0, 0, 0, 0, 0]);
    required[20] += 1;
    write(
        "bad_unknown_required_record",
        &check::resealed(&required).unwrap(),
    );
    let mut huge = mutable.clone();
    let msix = 32 + 8 + 13 + 8;
    huge[msix..msix + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    write("bad_huge_count", &check::resealed(&huge).unwrap());
    let mut dup = immutable.clone();
    dup.extend_from_slice(&immutable[32..32 + 8 + 9]);
    dup[20] += 1;
    write("bad_duplicate_record", &check::resealed(&dup).unwrap());
    write(
        "bad_magic",
        b"NOTGPUP\0 and some more bytes than a header holds...",
    );
}
