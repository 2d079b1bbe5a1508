//! The structure-aware Restore fuzz target (`restore_records`): well-formed,
//! correctly sealed migration blobs whose record *values* come from the
//! fuzzer, so that the semantic checks behind the decoder (identity, driver
//! version, segments, partition count, reserve sizes, LUIDs, the source
//! VF's pause, MSI-X indices, configuration-space bytes, basis runs) are
//! reached, which arbitrary bytes almost never do.
//!
//! Per input: a source and a target adapter (one 64 MiB VRAM segment, id 2,
//! at 4 KiB pages, two partitions), VF 1 on each, the source's programmed by the
//! guest and the target's interrupts by its OS; the source saves both blobs
//! (real driver output). The fuzzer's bytes then rewrite record values of
//! either blob (each field kept, or set to a nearby or an arbitrary value),
//! the blobs are resealed, and the target restores them. Properties:
//!
//! - a refused Restore changes nothing the OS can see of the target VF
//!   (phase and flags, configuration space, MSI-X table, host state);
//! - an accepted mutable Restore leaves a state the target's own Save
//!   reproduces: after End, Prepare(SOURCE) and both Saves on the target,
//!   its mutable blob carries the restored configuration space byte for byte,
//!   a paused VF, every restored basis run, and the MSI-X indices the
//!   *target's* OS wrote (the Restore never applies MSI-X entries);
//! - unmutated blobs are always accepted (the harness itself is sound).

use dxgk_sys::{STATUS_OBJECT_TYPE_MISMATCH, STATUS_SUCCESS};
use dxgkrnl_model::live::{MigrationData, MigrationType};
use dxgkrnl_model::vfstate::{program_guest, program_interrupts};
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, MemorySegment, VgpuInfo, VgpuRequest};
use gpup_miniport::migration::triage::GPUP_MIGRATION_TRIAGE;

const MIB: u64 = 1 << 20;
const VF: u32 = 1;

/// The fuzzer's bytes, read as needed; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, i| v | (u64::from(self.u8()) << (8 * i)))
    }
    /// A new value for a `width`-byte field holding `old`: mostly kept, else
    /// one off, a flipped bit, zero, all ones, or arbitrary.
    fn value(&mut self, old: u64, width: usize) -> u64 {
        let mask = if width >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * width)) - 1
        };
        let v = match self.u8() {
            0..=191 => old,
            192..=207 => old.wrapping_add(1),
            208..=223 => old.wrapping_sub(1),
            224..=231 => old ^ (1 << (self.u8() % (8 * width as u8))),
            232..=235 => 0,
            236..=239 => u64::MAX,
            _ => self.u64(),
        };
        v & mask
    }
}

/// One record of a blob: type, flags, payload.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    ty: u16,
    flags: u16,
    payload: Vec<u8>,
}

fn parse(blob: &[u8]) -> (Vec<u8>, Vec<Record>) {
    let mut records = Vec::new();
    let mut at = 32;
    while at + 8 <= blob.len() {
        let len = u32::from_le_bytes(blob[at + 4..at + 8].try_into().unwrap()) as usize;
        records.push(Record {
            ty: u16::from_le_bytes([blob[at], blob[at + 1]]),
            flags: u16::from_le_bytes([blob[at + 2], blob[at + 3]]),
            payload: blob[at + 8..at + 8 + len].to_vec(),
        });
        at += 8 + len;
    }
    (blob[..32].to_vec(), records)
}

/// The blob of `header` and `records`, with its count, length and CRC32C fixed.
fn seal(header: &[u8], records: &[Record]) -> Vec<u8> {
    let mut blob = header.to_vec();
    for r in records {
        blob.extend_from_slice(&r.ty.to_le_bytes());
        blob.extend_from_slice(&r.flags.to_le_bytes());
        blob.extend_from_slice(&(r.payload.len() as u32).to_le_bytes());
        blob.extend_from_slice(&r.payload);
    }
    let total = blob.len() as u32;
    blob[16..20].copy_from_slice(&total.to_le_bytes());
    blob[20..24].copy_from_slice(&(records.len() as u32).to_le_bytes());
    blob[24..28].fill(0);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&blob);
    blob[24..28].copy_from_slice(&crc.to_le_bytes());
    blob
}

/// Rewrites the fixed-width fields of `payload` (widths in order) in place.
fn fields(input: &mut Bytes<'_>, payload: &mut [u8], widths: &[usize]) {
    let mut at = 0;
    for &w in widths {
        if at + w > payload.len() {
            return;
        }
        let mut old = [0u8; 8];
        old[..w].copy_from_slice(&payload[at..at + w]);
        let v = input.value(u64::from_le_bytes(old), w);
        payload[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
        at += w;
    }
}

/// The immutable records' values, rewritten by the fuzzer.
fn mutate_immutable(input: &mut Bytes<'_>, records: &mut [Record]) {
    for r in records {
        match r.ty {
            1 => fields(input, &mut r.payload, &[2, 2, 2, 2, 1]),
            2 => fields(input, &mut r.payload, &[2, 2, 2, 4]),
            // Segments (format 3: the tracked VRAM segments): each ordinal,
            // page size and size.
            3 => {
                let n = (r.payload.len() - 4) / 16;
                let widths: Vec<usize> = (0..n).flat_map(|_| [4, 4, 8]).collect();
                fields(input, &mut r.payload[4..], &widths);
            }
            // VF resources: partition id, count, LUID, then each reserve.
            4 => {
                fields(input, &mut r.payload, &[4, 4, 8]);
                let n = (r.payload.len() - 20) / 12;
                let widths: Vec<usize> = (0..n).flat_map(|_| [4, 8]).collect();
                fields(input, &mut r.payload[20..], &widths);
            }
            _ => {}
        }
    }
}

/// The mutable records' values, rewritten by the fuzzer; the MSI-X indices
/// and the basis runs may be replaced by new lists.
fn mutate_mutable(input: &mut Bytes<'_>, records: &mut [Record]) {
    for r in records {
        match r.ty {
            16 => fields(input, &mut r.payload, &[4, 8, 1]),
            17 if input.u8() >= 224 => {
                let n = usize::from(input.u8() % 6);
                r.payload = (n as u32).to_le_bytes().to_vec();
                for _ in 0..n {
                    let index = u16::from(input.u8() % 6);
                    r.payload.extend_from_slice(&index.to_le_bytes());
                }
            }
            18 => mutate_bases(input, &mut r.payload),
            19 => {
                // A few configuration-space bytes.
                for _ in 0..input.u8() % 4 {
                    let at = 4 + usize::from(input.u8()) * 16 % (r.payload.len() - 4);
                    r.payload[at] = input.value(u64::from(r.payload[at]), 1) as u8;
                }
            }
            _ => {}
        }
    }
}

fn mutate_bases(input: &mut Bytes<'_>, payload: &mut Vec<u8>) {
    if input.u8() < 224 {
        // Each basis's segment, tracked flag and runs, in place.
        let mut at = 4;
        while at + 9 <= payload.len() {
            fields(input, &mut payload[at..], &[4, 1]);
            let m = u32::from_le_bytes(payload[at + 5..at + 9].try_into().unwrap()) as usize;
            let widths: Vec<usize> = (0..m).flat_map(|_| [8, 8]).collect();
            fields(input, &mut payload[at + 9..], &widths);
            at += 9 + 16 * m;
        }
        return;
    }
    // New bases: up to 2, each of up to 3 page-multiple runs.
    let n = u32::from(input.u8() % 3);
    *payload = n.to_le_bytes().to_vec();
    for _ in 0..n {
        payload.extend_from_slice(&1u32.to_le_bytes());
        payload.push(input.u8() & 1);
        let m = u32::from(input.u8() % 4);
        payload.extend_from_slice(&m.to_le_bytes());
        for _ in 0..m {
            let at = u64::from(input.u8() % 64) * 4096;
            let len = u64::from(1 + input.u8() % 64) * 4096;
            payload.extend_from_slice(&at.to_le_bytes());
            payload.extend_from_slice(&len.to_le_bytes());
        }
    }
}

/// What the OS can see of the target VF.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    info: gpup_miniport::vgpu::escape::GPUP_VGPU_ESCAPE_INFO,
    config: Vec<u8>,
    msix: gpup_miniport::vgpu::escape::GPUP_VGPU_ESCAPE_MSIX_TABLE,
    host: gpup_miniport::host::GPUP_HOST_VGPU_STATE,
}

fn seen(a: &Adapter, v: &VgpuInfo) -> Seen {
    Seen {
        info: a.vgpu_query(v).unwrap(),
        config: a.vf_config_space(VF).unwrap(),
        msix: a.vgpu_msix(v).unwrap(),
        host: a.vgpu_host_state(VF).unwrap(),
    }
}

fn adapter(driver: &Driver) -> Adapter {
    let a = driver
        .start_adapter(&AdapterConfig {
            segments: vec![MemorySegment {
                id: dxgkrnl_model::FIRST_VRAM_SEGMENT,
                size: 64 * MIB,
                page_size: 4096,
            }],
            max_bases: 16,
            partitions: None,
        })
        .unwrap();
    a.set_partition_count(2).unwrap();
    a
}

fn vf(a: &Adapter) -> VgpuInfo {
    a.create_vgpu(&VgpuRequest {
        partition: Some(VF),
        ..VgpuRequest::vram(MIB)
    })
    .unwrap()
}

/// One restore, checked: a refusal must be `STATUS_OBJECT_TYPE_MISMATCH`
/// with one triage event, and change nothing. Returns the refusal's reason.
fn restore(
    t: &Adapter,
    dst: &VgpuInfo,
    kind: MigrationData,
    blob: &[u8],
    pristine: bool,
) -> Result<(), u32> {
    let _ = dxgkrnl_model::take_etw_events();
    let before = seen(t, dst);
    let status = t.restore_migration_data(kind, VF, blob);
    let events = dxgkrnl_model::take_etw_events();
    if status == STATUS_SUCCESS {
        assert!(events.is_empty(), "{kind:?}: an event on success");
        return Ok(());
    }
    assert!(
        !pristine,
        "{kind:?}: the driver's own blob refused: {status:?}"
    );
    assert_eq!(status, STATUS_OBJECT_TYPE_MISMATCH, "{kind:?}");
    assert_eq!(
        seen(t, dst),
        before,
        "{kind:?}: a refused Restore changed the VF"
    );
    assert_eq!(events.len(), 1, "{kind:?}: one triage event per refusal");
    let triage = GPUP_MIGRATION_TRIAGE::decode(&events[0].payload).expect("a triage event");
    Err(triage.Reason)
}

/// How far one input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The source was left running: no mutable data to restore.
    SourceUnpaused,
    /// RestoreImmutableMigrationData refused the (changed) data, with this
    /// triage reason (`TRIAGE_*`).
    ImmutableRefused(u32),
    /// RestoreMutableMigrationData refused the (changed) data, with this
    /// triage reason.
    MutableRefused(u32),
    /// Both accepted, and the target's Save reproduced the state.
    Accepted,
}

/// The `restore_records` target (module docs).
///
/// # Panics
/// When a property fails: that is what a fuzz target reports.
pub fn restore_records(data: &[u8]) {
    let _ = run(data);
}

/// [`restore_records`], telling how far the input got.
///
/// # Panics
/// As [`restore_records`].
pub fn run(data: &[u8]) -> Outcome {
    let mut input = Bytes(data);
    let driver = Driver::load().unwrap();
    let (s, t) = (adapter(&driver), adapter(&driver));
    let (src, dst) = (vf(&s), vf(&t));
    program_guest(&s, &src, u64::from(input.u8())).unwrap();
    // The target's OS programs its own routing as its VM starts (before the
    // Restore), for some inputs only some entries.
    if input.u8() & 1 == 1 {
        program_interrupts(&t, &dst, 1, 1).unwrap();
    }
    assert_eq!(
        s.prepare_live_migration(VF, MigrationType::Source),
        STATUS_SUCCESS
    );
    let immutable = s.save_migration_data(MigrationData::Immutable, VF).unwrap();
    assert_eq!(s.set_vf_pause(VF, input.u8() & 7 != 0), STATUS_SUCCESS);
    let mutable = s.save_migration_data(MigrationData::Mutable, VF);
    let Ok(mutable) = mutable else {
        return Outcome::SourceUnpaused;
    };
    assert_eq!(
        t.prepare_live_migration(VF, MigrationType::Target),
        STATUS_SUCCESS
    );
    assert_eq!(t.set_vf_pause(VF, true), STATUS_SUCCESS);

    let (header, mut records) = parse(&immutable);
    mutate_immutable(&mut input, &mut records);
    let blob = seal(&header, &records);
    let immutable_kept = blob == immutable;
    if let Err(reason) = restore(&t, &dst, MigrationData::Immutable, &blob, immutable_kept) {
        return Outcome::ImmutableRefused(reason);
    }
    let (header, mut records) = parse(&mutable);
    mutate_mutable(&mut input, &mut records);
    let blob = seal(&header, &records);
    let msix_before = t.vgpu_host_state(VF).unwrap().Msix;
    // (A changed source LUID or VF index in the immutable data rightly
    // makes the driver's own mutable blob foreign.)
    let pristine = immutable_kept && blob == mutable;
    if let Err(reason) = restore(&t, &dst, MigrationData::Mutable, &blob, pristine) {
        return Outcome::MutableRefused(reason);
    }
    reproduced(&t, &records, msix_before);
    Outcome::Accepted
}

/// After an accepted mutable Restore of `restored`: the target's own Save
/// reproduces it (module docs).
fn reproduced(
    t: &Adapter,
    restored: &[Record],
    msix_before: [gpup_miniport::host::GPUP_HOST_MSIX_ENTRY; 4],
) {
    assert_eq!(
        t.vgpu_host_state(VF).unwrap().Msix,
        msix_before,
        "MSI-X untouched"
    );
    assert_eq!(t.end_live_migration(VF), STATUS_SUCCESS);
    assert_eq!(
        t.prepare_live_migration(VF, MigrationType::Source),
        STATUS_SUCCESS
    );
    t.save_migration_data(MigrationData::Immutable, VF).unwrap();
    let saved = t.save_migration_data(MigrationData::Mutable, VF).unwrap();
    let (_, saved) = parse(&saved);
    let get = |records: &[Record], ty| records.iter().find(|r| r.ty == ty).cloned().unwrap();
    assert_eq!(
        get(&saved, 19),
        get(restored, 19),
        "the configuration space"
    );
    assert_eq!(get(&saved, 16).payload[12], 1, "paused");
    let written: Vec<u8> = msix_before
        .iter()
        .enumerate()
        .filter(|(_, e)| e.Written == 1)
        .flat_map(|(i, _)| (i as u16).to_le_bytes())
        .collect();
    assert_eq!(
        &get(&saved, 17).payload[4..],
        &written[..],
        "the target's MSI-X indices"
    );
    let runs = |r: &Record| -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 4;
        while at + 9 <= r.payload.len() {
            let m = u32::from_le_bytes(r.payload[at + 5..at + 9].try_into().unwrap()) as usize;
            let seg = u32::from_le_bytes(r.payload[at..at + 4].try_into().unwrap());
            out.push((seg, r.payload[at + 9..at + 9 + 16 * m].to_vec()));
            at += 9 + 16 * m;
        }
        out
    };
    let ours = runs(&get(&saved, 18));
    for basis in runs(&get(restored, 18)) {
        assert!(
            ours.contains(&basis),
            "restored basis {basis:?} not saved again"
        );
    }
}
