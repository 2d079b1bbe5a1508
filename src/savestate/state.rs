//! The typed contents of the two blobs, and their records.
//!
//! Immutable data (saved at the start of a migration, checked first on the
//! target): the adapter's identity, the driver version, the segment layout
//! with page sizes, the VF's partition count, reserve sizes and LUID. Mutable
//! data (saved during the pause): the VF's pause state, which MSI-X entries
//! were written (their indices only: the entries' addresses and data are the
//! source host's interrupt routing, which the target's OS programs for its
//! own host; see `docs/escape-and-state.md`), its configuration space, and
//! its memory bases (as VF addresses) with their tracking state.
//!
//! A segment is named by what it is, never by its driver segment id (which
//! differs between driver versions, and between adapters configured
//! differently): its **ordinal** among the adapter's tracked VRAM segments,
//! in driver id order (format 3; the paging aperture and untracked VRAM
//! segments hold no VF data and are not listed). A target accepts a reserve
//! whose segment has the same ordinal and page size there (its size may
//! differ: room for the reserve is the target VF's own check).
//!
//! Records, by type (all required, flags 0):
//!
//! | type | blob | payload (little-endian) |
//! |---|---|---|
//! | 1 identity | immutable | vendor u16, device u16, subsystem vendor u16, subsystem u16, revision u8 |
//! | 2 driver | immutable | major u16, minor u16, patch u16, interface version u32 |
//! | 3 segments | immutable | count u32, then per tracked VRAM segment, in driver id order: ordinal u32 (0, 1, ...), page size u32, size u64 |
//! | 4 VF resources | immutable | partition id u32, partition count u32, LUID u64, count u32, then per reserve: segment ordinal u32, size u64 |
//! | 16 VF state | mutable | partition id u32, LUID u64, paused u8 |
//! | 17 MSI-X written | mutable | count u32, then per entry: index u16 (format 2; format 1 carried address u64, data u32, vector control u32 too) |
//! | 18 bases | mutable | count u32, then per basis: segment ordinal u32, tracked u8, count u32, then per range: VF address u64, size u64 |
//! | 19 config space | mutable | length u32 (at most 4096), then the bytes |

use alloc::vec::Vec;

use super::codec::{self, DecodeError, Kind, Reader, Records, Writer, record};
use crate::foundation::status::Status;

/// The most segments, reserves, MSI-X entries, bases and ranges per basis a
/// blob may hold: the driver's own limits (`DXGK_MAX_VIRTUAL_GPU_ALLOCATIONS`
/// is 32; an MSI-X table has at most 2048 entries).
pub(crate) const MAX_SEGMENTS: usize = 8;
pub(crate) const MAX_RESERVES: usize = 32;
pub(crate) const MAX_MSIX: usize = 2048;
pub(crate) const MAX_BASES: usize = 4096;
pub(crate) const MAX_RANGES: usize = 65_536;

pub(crate) const REC_IDENTITY: u16 = 1;
pub(crate) const REC_DRIVER: u16 = 2;
pub(crate) const REC_SEGMENTS: u16 = 3;
pub(crate) const REC_VF_RESOURCES: u16 = 4;
pub(crate) const REC_VF_STATE: u16 = 16;
pub(crate) const REC_MSIX: u16 = 17;
pub(crate) const REC_BASES: u16 = 18;
pub(crate) const REC_CONFIG: u16 = 19;

/// Most bytes of a configuration-space record.
pub(crate) const MAX_CONFIG: usize = 4096;

/// PCI identity of the physical adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AdapterIdentity {
    pub(crate) vendor_id: u16,
    pub(crate) device_id: u16,
    pub(crate) subsystem_vendor_id: u16,
    pub(crate) subsystem_id: u16,
    pub(crate) revision: u8,
}

/// The driver that saved the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DriverVersion {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) patch: u16,
    /// `DRIVER_INITIALIZATION_DATA::Version`.
    pub(crate) interface_version: u32,
}

/// One tracked VRAM segment of the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SegmentLayout {
    /// Its ordinal among the tracked VRAM segments.
    pub(crate) ordinal: u32,
    /// Dirty-tracking page size, 0 if untracked.
    pub(crate) page_size: u32,
    pub(crate) size: u64,
}

/// One VRAM reserve of the VF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ReserveSize {
    /// The ordinal of its segment (see [`SegmentLayout::ordinal`]).
    pub(crate) segment: u32,
    pub(crate) size: u64,
}

/// `DxgkDdiSaveImmutableMigrationData`'s content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ImmutableState {
    pub(crate) identity: AdapterIdentity,
    pub(crate) driver: DriverVersion,
    pub(crate) segments: Vec<SegmentLayout>,
    /// The source VF's partition id (informational: the target's may differ).
    pub(crate) vf_index: u32,
    /// The partition count the VF was created under.
    pub(crate) partition_count: u32,
    /// The source VF's LUID (`HighPart << 32 | LowPart`): ties the mutable
    /// data to the same VF.
    pub(crate) luid: u64,
    pub(crate) reserves: Vec<ReserveSize>,
}

/// Why immutable data from a source cannot be restored on this adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incompatibility {
    /// Another kind of adapter (vendor, device, subsystem or revision).
    Adapter,
    /// Another driver version (major.minor) or interface version.
    Driver,
    /// A segment the VF uses is missing here or has another page size.
    Segments,
    /// The target VF was not created with the same partition count and reserves.
    Resources,
}

impl ImmutableState {
    /// Whether a VF saved with `self` can be restored into a VF described by `target`.
    ///
    /// # Errors
    /// The first [`Incompatibility`] found.
    pub(crate) fn check_compatible(&self, target: &Self) -> Result<(), Incompatibility> {
        if self.identity != target.identity {
            return Err(Incompatibility::Adapter);
        }
        let (a, b) = (&self.driver, &target.driver);
        if (a.major, a.minor, a.interface_version) != (b.major, b.minor, b.interface_version) {
            return Err(Incompatibility::Driver);
        }
        for reserve in &self.reserves {
            let ours = self.segments.iter().find(|s| s.ordinal == reserve.segment);
            let theirs = target
                .segments
                .iter()
                .find(|s| s.ordinal == reserve.segment);
            match (ours, theirs) {
                (Some(o), Some(t)) if o.page_size == t.page_size => {}
                _ => return Err(Incompatibility::Segments),
            }
        }
        if self.partition_count != target.partition_count || self.reserves != target.reserves {
            return Err(Incompatibility::Resources);
        }
        Ok(())
    }
}

fn len_u32(n: usize) -> Result<u32, Status> {
    u32::try_from(n).map_err(|_| Status::InvalidParameter)
}

fn check_max(n: usize, max: usize) -> Result<(), Status> {
    if n > max {
        Err(Status::InvalidParameter)
    } else {
        Ok(())
    }
}

impl Records for ImmutableState {
    fn write_records(&self, w: &mut Writer<'_>) -> Result<u32, Status> {
        check_max(self.segments.len(), MAX_SEGMENTS)?;
        check_max(self.reserves.len(), MAX_RESERVES)?;
        record(w, REC_IDENTITY, |w| {
            let i = &self.identity;
            w.u16(i.vendor_id)?;
            w.u16(i.device_id)?;
            w.u16(i.subsystem_vendor_id)?;
            w.u16(i.subsystem_id)?;
            w.u8(i.revision)
        })?;
        record(w, REC_DRIVER, |w| {
            let d = &self.driver;
            w.u16(d.major)?;
            w.u16(d.minor)?;
            w.u16(d.patch)?;
            w.u32(d.interface_version)
        })?;
        record(w, REC_SEGMENTS, |w| {
            w.u32(len_u32(self.segments.len())?)?;
            self.segments.iter().try_for_each(|s| {
                w.u32(s.ordinal)?;
                w.u32(s.page_size)?;
                w.u64(s.size)
            })
        })?;
        record(w, REC_VF_RESOURCES, |w| {
            w.u32(self.vf_index)?;
            w.u32(self.partition_count)?;
            w.u64(self.luid)?;
            w.u32(len_u32(self.reserves.len())?)?;
            self.reserves.iter().try_for_each(|r| {
                w.u32(r.segment)?;
                w.u64(r.size)
            })
        })?;
        Ok(4)
    }
}

/// A `Vec` of exactly `n` elements' capacity, or `NoMemory`.
fn try_vec<T>(n: usize) -> Result<Vec<T>, DecodeError> {
    crate::foundation::fallible::try_vec(n).map_err(|_| DecodeError::NoMemory)
}

/// Appends into reserved capacity, or `NoMemory` (never reallocates).
fn push<T>(v: &mut Vec<T>, value: T) -> Result<(), DecodeError> {
    crate::foundation::fallible::push(v, value).map_err(|_| DecodeError::NoMemory)
}

/// Sets `slot` once; a second record of the same type is an error.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::MissingOrDuplicate);
    }
    *slot = Some(value);
    Ok(())
}

impl ImmutableState {
    /// Encodes into `out`, or measures when `out` is `None`; returns the length.
    ///
    /// # Errors
    /// `BufferTooSmall`, or `InvalidParameter` for a state over the format's limits.
    pub(crate) fn encode(&self, out: Option<&mut [u8]>) -> Result<usize, Status> {
        codec::encode(Kind::Immutable, self, out)
    }

    /// Decodes and validates a blob.
    ///
    /// # Errors
    /// Any [`DecodeError`]; never panics.
    pub(crate) fn decode(blob: &[u8]) -> Result<Self, DecodeError> {
        let (mut identity, mut driver, mut segments, mut vf) = (None, None, None, None);
        let known = |ty| {
            matches!(
                ty,
                REC_IDENTITY | REC_DRIVER | REC_SEGMENTS | REC_VF_RESOURCES
            )
        };
        codec::split(Kind::Immutable, blob, known, |rec| {
            let mut r = Reader::new(rec.payload);
            match rec.ty {
                REC_IDENTITY => {
                    let value = AdapterIdentity {
                        vendor_id: r.u16()?,
                        device_id: r.u16()?,
                        subsystem_vendor_id: r.u16()?,
                        subsystem_id: r.u16()?,
                        revision: r.u8()?,
                    };
                    once(&mut identity, value)?;
                }
                REC_DRIVER => {
                    let value = DriverVersion {
                        major: r.u16()?,
                        minor: r.u16()?,
                        patch: r.u16()?,
                        interface_version: r.u32()?,
                    };
                    once(&mut driver, value)?;
                }
                REC_SEGMENTS => {
                    let n = r.count(16, MAX_SEGMENTS)?;
                    let mut list = try_vec(n)?;
                    for _ in 0..n {
                        push(
                            &mut list,
                            SegmentLayout {
                                ordinal: r.u32()?,
                                page_size: r.u32()?,
                                size: r.u64()?,
                            },
                        )?;
                    }
                    once(&mut segments, list)?;
                }
                _ => {
                    let (vf_index, partition_count, luid) = (r.u32()?, r.u32()?, r.u64()?);
                    let n = r.count(12, MAX_RESERVES)?;
                    let mut list = try_vec(n)?;
                    for _ in 0..n {
                        push(
                            &mut list,
                            ReserveSize {
                                segment: r.u32()?,
                                size: r.u64()?,
                            },
                        )?;
                    }
                    once(&mut vf, (vf_index, partition_count, luid, list))?;
                }
            }
            r.finish()
        })?;
        let missing = DecodeError::MissingOrDuplicate;
        let (vf_index, partition_count, luid, reserves) = vf.ok_or(missing)?;
        Ok(Self {
            identity: identity.ok_or(missing)?,
            driver: driver.ok_or(missing)?,
            segments: segments.ok_or(missing)?,
            vf_index,
            partition_count,
            luid,
            reserves,
        })
    }
}

/// One MSI-X table entry the source's OS wrote: its index only. The
/// entry's address, data and vector control are the source host's
/// interrupt routing (`DxgkDdiWriteVirtualizedInterrupt` gets host-physical
/// values Dxgkrnl substituted): they are not migrated; the target's OS
/// programs its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MsixEntry {
    pub(crate) index: u16,
}

/// One memory basis of the VF.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BasisState {
    /// The ordinal of its segment (see [`SegmentLayout::ordinal`]).
    pub(crate) segment: u32,
    pub(crate) tracked: bool,
    /// (VF address, size) in bytes, in `Ranges[]` order: where each range of
    /// the basis lies in the VF's address space. Segment offsets would mean
    /// nothing on the target, whose reserve lies elsewhere.
    pub(crate) ranges: Vec<(u64, u64)>,
}

/// `DxgkDdiSaveMutableMigrationData`'s content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MutableState {
    pub(crate) vf_index: u32,
    /// The source VF's LUID, as in the immutable data.
    pub(crate) luid: u64,
    pub(crate) paused: bool,
    pub(crate) msix: Vec<MsixEntry>,
    pub(crate) bases: Vec<BasisState>,
    /// The VF's configuration space (guest-programmed registers included).
    pub(crate) config: Vec<u8>,
}

impl Records for MutableState {
    fn write_records(&self, w: &mut Writer<'_>) -> Result<u32, Status> {
        check_max(self.msix.len(), MAX_MSIX)?;
        check_max(self.bases.len(), MAX_BASES)?;
        check_max(self.config.len(), MAX_CONFIG)?;
        record(w, REC_VF_STATE, |w| {
            w.u32(self.vf_index)?;
            w.u64(self.luid)?;
            w.u8(u8::from(self.paused))
        })?;
        record(w, REC_MSIX, |w| {
            w.u32(len_u32(self.msix.len())?)?;
            self.msix.iter().try_for_each(|e| w.u16(e.index))
        })?;
        record(w, REC_BASES, |w| {
            w.u32(len_u32(self.bases.len())?)?;
            self.bases.iter().try_for_each(|b| {
                check_max(b.ranges.len(), MAX_RANGES)?;
                w.u32(b.segment)?;
                w.u8(u8::from(b.tracked))?;
                w.u32(len_u32(b.ranges.len())?)?;
                b.ranges.iter().try_for_each(|&(offset, size)| {
                    w.u64(offset)?;
                    w.u64(size)
                })
            })
        })?;
        record(w, REC_CONFIG, |w| {
            w.u32(len_u32(self.config.len())?)?;
            w.bytes(&self.config)
        })?;
        Ok(4)
    }
}

fn boolean(v: u8) -> Result<bool, DecodeError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::BadRecord),
    }
}

impl MutableState {
    /// Encodes into `out`, or measures when `out` is `None`; returns the length.
    ///
    /// # Errors
    /// `BufferTooSmall`, or `InvalidParameter` for a state over the format's limits.
    pub(crate) fn encode(&self, out: Option<&mut [u8]>) -> Result<usize, Status> {
        codec::encode(Kind::Mutable, self, out)
    }

    /// Decodes and validates a blob.
    ///
    /// # Errors
    /// Any [`DecodeError`]; never panics.
    pub(crate) fn decode(blob: &[u8]) -> Result<Self, DecodeError> {
        let (mut vf, mut msix, mut bases, mut config) = (None, None, None, None);
        let known = |ty| matches!(ty, REC_VF_STATE | REC_MSIX | REC_BASES | REC_CONFIG);
        codec::split(Kind::Mutable, blob, known, |rec| {
            let mut r = Reader::new(rec.payload);
            match rec.ty {
                REC_VF_STATE => once(&mut vf, (r.u32()?, r.u64()?, boolean(r.u8()?)?))?,
                REC_CONFIG => {
                    let n = r.count(1, MAX_CONFIG)?;
                    let mut bytes = try_vec(n)?;
                    bytes.extend_from_slice(r.bytes(n)?);
                    once(&mut config, bytes)?;
                }
                REC_MSIX => {
                    let n = r.count(2, MAX_MSIX)?;
                    let mut list = try_vec(n)?;
                    for _ in 0..n {
                        push(&mut list, MsixEntry { index: r.u16()? })?;
                    }
                    once(&mut msix, list)?;
                }
                _ => {
                    let n = r.count(9, MAX_BASES)?;
                    let mut list = try_vec(n)?;
                    for _ in 0..n {
                        let (segment, tracked) = (r.u32()?, boolean(r.u8()?)?);
                        let m = r.count(16, MAX_RANGES)?;
                        let mut ranges = try_vec(m)?;
                        for _ in 0..m {
                            push(&mut ranges, (r.u64()?, r.u64()?))?;
                        }
                        push(
                            &mut list,
                            BasisState {
                                segment,
                                tracked,
                                ranges,
                            },
                        )?;
                    }
                    once(&mut bases, list)?;
                }
            }
            r.finish()
        })?;
        let missing = DecodeError::MissingOrDuplicate;
        let (vf_index, luid, paused) = vf.ok_or(missing)?;
        Ok(Self {
            vf_index,
            luid,
            paused,
            msix: msix.ok_or(missing)?,
            bases: bases.ok_or(missing)?,
            config: config.ok_or(missing)?,
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec;
    use gpup_rng::XorShift64;

    fn immutable() -> ImmutableState {
        ImmutableState {
            identity: AdapterIdentity {
                vendor_id: 0x1414,
                device_id: 0x6770,
                subsystem_vendor_id: 0x1414,
                subsystem_id: 1,
                revision: 2,
            },
            driver: DriverVersion {
                major: 0,
                minor: 1,
                patch: 0,
                interface_version: 0x1_1007,
            },
            segments: vec![
                SegmentLayout {
                    ordinal: 0,
                    page_size: 4096,
                    size: 1 << 30,
                },
                SegmentLayout {
                    ordinal: 1,
                    page_size: 65536,
                    size: 1 << 20,
                },
            ],
            vf_index: 3,
            partition_count: 4,
            luid: 0x4750_0000_0000_0007,
            reserves: vec![ReserveSize {
                segment: 0,
                size: 256 << 20,
            }],
        }
    }

    fn mutable() -> MutableState {
        MutableState {
            vf_index: 3,
            luid: 0x4750_0000_0000_0007,
            paused: true,
            msix: vec![MsixEntry { index: 0 }, MsixEntry { index: 7 }],
            bases: vec![BasisState {
                segment: 0,
                tracked: true,
                ranges: vec![(0, 1 << 20), (4 << 20, 1 << 20)],
            }],
            config: (0..=255u8).cycle().take(4096).collect(),
        }
    }

    fn blob(state: &impl Fn(Option<&mut [u8]>) -> Result<usize, Status>) -> Vec<u8> {
        let n = state(None).unwrap();
        let mut out = vec![0u8; n];
        assert_eq!(state(Some(&mut out)).unwrap(), n);
        out
    }

    #[test]
    fn round_trips() {
        let i = immutable();
        let b = blob(&|o| i.encode(o));
        assert_eq!(ImmutableState::decode(&b), Ok(i));
        let m = mutable();
        let b = blob(&|o| m.encode(o));
        assert_eq!(MutableState::decode(&b), Ok(m));
        let empty = MutableState::default();
        assert_eq!(MutableState::decode(&blob(&|o| empty.encode(o))), Ok(empty));
    }

    #[test]
    fn a_short_buffer_is_refused() {
        let i = immutable();
        let n = i.encode(None).unwrap();
        let mut out = vec![0u8; n - 1];
        assert_eq!(i.encode(Some(&mut out)), Err(Status::BufferTooSmall));
    }

    #[test]
    fn every_truncation_and_every_bit_flip_is_rejected() {
        let b = blob(&|o| mutable().encode(o));
        for n in 0..b.len() {
            assert!(MutableState::decode(&b[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut c = b.clone();
                c[i] ^= 1 << bit;
                assert!(MutableState::decode(&c).is_err(), "flip byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn trailing_bytes_wrong_kind_and_wrong_major_are_rejected() {
        let mut b = blob(&|o| immutable().encode(o));
        assert_eq!(MutableState::decode(&b), Err(DecodeError::WrongKind));
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(
            ImmutableState::decode(&longer),
            Err(DecodeError::TrailingBytes)
        );
        // Format 1 (MSI-X with host addresses), format 2 (raw segment ids)
        // and a future major: refused.
        for major in [1, 2, 4] {
            b[8] = major;
            assert_eq!(
                ImmutableState::decode(&b),
                Err(DecodeError::UnsupportedVersion),
                "major {major}"
            );
        }
        b[..8].copy_from_slice(b"NOTGPUP\0");
        assert_eq!(ImmutableState::decode(&b), Err(DecodeError::BadMagic));
    }

    /// Re-seals a modified blob (fixes length and checksum), to reach the
    /// record-level checks behind the checksum.
    fn reseal(mut b: Vec<u8>) -> Vec<u8> {
        let total = u32::try_from(b.len()).unwrap().to_le_bytes();
        b[16..20].copy_from_slice(&total);
        b[24..28].copy_from_slice(&[0; 4]);
        let crc = CRC.checksum(&b).to_le_bytes();
        b[24..28].copy_from_slice(&crc);
        b
    }
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

    #[test]
    fn record_level_errors_behind_a_valid_checksum() {
        let b = blob(&|o| immutable().encode(o));
        // An extra unknown required record.
        let mut extra = b.clone();
        extra.extend_from_slice(&[99, 0, 0, 0, 0, 0, 0, 0]);
        extra[20] += 1;
        assert_eq!(
            ImmutableState::decode(&reseal(extra.clone())),
            Err(DecodeError::UnknownRecord)
        );
        // The same, marked optional: skipped (a newer minor's addition).
        extra[b.len() + 2] = 1;
        assert_eq!(ImmutableState::decode(&reseal(extra)), Ok(immutable()));
        // A duplicate identity record.
        let mut dup = b.clone();
        dup.extend_from_slice(&b[32..32 + 8 + 9]);
        dup[20] += 1;
        assert_eq!(
            ImmutableState::decode(&reseal(dup)),
            Err(DecodeError::MissingOrDuplicate)
        );
        // A missing record: drop the last one (VF resources).
        let mut short = b[..b.len() - (8 + 20 + 12)].to_vec();
        short[20] -= 1;
        assert_eq!(
            ImmutableState::decode(&reseal(short)),
            Err(DecodeError::MissingOrDuplicate)
        );
        // A count larger than the payload.
        let mut big = blob(&|o| mutable().encode(o));
        let msix_count_at = 32 + 8 + 13 + 8;
        big[msix_count_at..msix_count_at + 4].copy_from_slice(&1_000u32.to_le_bytes());
        assert_eq!(
            MutableState::decode(&reseal(big)),
            Err(DecodeError::BadRecord)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = XorShift64::from_state(0x1234_5678_9ABC_DEF0);
        let seed = blob(&|o| mutable().encode(o));
        for round in 0..20_000 {
            let x = rng.next_u64();
            let len = usize::try_from(x % 200).unwrap();
            let mut bytes: Vec<u8> = if round % 2 == 0 {
                seed.clone()
            } else {
                (0..len).map(|i| (x >> (i % 56)) as u8).collect()
            };
            if let Some(b) = bytes.get_mut(usize::try_from(x % 97).unwrap()) {
                *b = (x >> 8) as u8;
            }
            let _ = MutableState::decode(&bytes);
            let _ = ImmutableState::decode(&bytes);
            if bytes.len() >= 32 {
                let _ = MutableState::decode(&reseal(bytes));
            }
        }
    }

    #[test]
    fn compatibility_rules() {
        let src = immutable();
        assert_eq!(src.check_compatible(&src.clone()), Ok(()));
        let mut t = src.clone();
        t.vf_index = 0;
        assert_eq!(
            src.check_compatible(&t),
            Ok(()),
            "the target's partition id may differ"
        );
        let mut t = src.clone();
        t.identity.device_id ^= 1;
        assert_eq!(src.check_compatible(&t), Err(Incompatibility::Adapter));
        let mut t = src.clone();
        t.driver.minor += 1;
        assert_eq!(src.check_compatible(&t), Err(Incompatibility::Driver));
        let mut t = src.clone();
        t.driver.patch += 1;
        assert_eq!(
            src.check_compatible(&t),
            Ok(()),
            "patch releases are compatible"
        );
        let mut t = src.clone();
        t.segments[0].page_size = 65536;
        assert_eq!(src.check_compatible(&t), Err(Incompatibility::Segments));
        let mut t = src.clone();
        t.segments[0].size *= 2;
        assert_eq!(
            src.check_compatible(&t),
            Ok(()),
            "the segment is named by ordinal and page size, its size may differ"
        );
        let mut t = src.clone();
        t.segments.clear();
        assert_eq!(src.check_compatible(&t), Err(Incompatibility::Segments));
        let mut t = src.clone();
        t.segments[1].page_size = 4096;
        assert_eq!(
            src.check_compatible(&t),
            Ok(()),
            "only the segment of a reserve counts"
        );
        let mut t = src.clone();
        t.reserves[0].size *= 2;
        assert_eq!(src.check_compatible(&t), Err(Incompatibility::Resources));
    }
}
