//! The event a rejected `DxgkDdiRestore{Immutable,Mutable}MigrationData`
//! logs through `DxgkCbLogEtwEvent` before it returns
//! `STATUS_OBJECT_TYPE_MISMATCH`, so that the failed validation can be
//! triaged: what was checked, what this adapter has, what the data said.
//!
//! Provider GUID: [`crate::interfaces::MIGRATION_TRIAGE_EVENT`]; event type
//! [`TRIAGE_EVENT_TYPE`]; payload [`GPUP_MIGRATION_TRIAGE`], 40 bytes,
//! little-endian.

#![allow(non_camel_case_types, non_snake_case)]

use crate::foundation::le;

/// The event type passed to `DxgkCbLogEtwEvent` (`EVENT_TRACE_TYPE_INFO`).
pub const TRIAGE_EVENT_TYPE: u8 = 0;
/// [`GPUP_MIGRATION_TRIAGE::Version`] of this layout: 2 since
/// [`TRIAGE_SEGMENTS`]' `Detail` names a segment by ordinal, not by id.
pub const TRIAGE_VERSION: u32 = 2;

/// The data is not a valid blob of the expected kind; `Detail` is the
/// decoder's error (`DecodeError::code`).
pub const TRIAGE_MALFORMED: u32 = 1;
/// Another kind of adapter: `Expected`/`Found` are
/// `vendor << 48 | device << 32 | subsystem vendor << 16 | subsystem`, and
/// `Detail` the two revisions (`expected << 8 | found`).
pub const TRIAGE_ADAPTER: u32 = 2;
/// Another driver: `Expected`/`Found` are `major << 48 | minor << 32 |
/// interface version`.
pub const TRIAGE_DRIVER: u32 = 3;
/// A segment the VF uses is missing here or has another page size:
/// `Detail` is the segment's ordinal among the tracked VRAM segments (0: the
/// first; the saved-state format names segments so, see
/// `crate::savestate::state`), `Expected`/`Found` the page sizes (0: absent).
pub const TRIAGE_SEGMENTS: u32 = 4;
/// The VF was not created like the source's: `Expected`/`Found` are
/// `partition count << 32 | reserve count`, unless those agree, then the
/// total reserve sizes in bytes.
pub const TRIAGE_RESOURCES: u32 = 5;
/// The mutable data names another source VF than the immutable data did:
/// `Expected`/`Found` are the LUIDs.
pub const TRIAGE_OTHER_VF: u32 = 6;
/// The mutable data says the source VF was not paused.
pub const TRIAGE_NOT_PAUSED: u32 = 7;
/// An MSI-X entry past this VF's table, or given twice: `Detail` is its
/// index, `Expected` the table size.
pub const TRIAGE_MSIX: u32 = 8;
/// The configuration space does not fit this VF (size, or a read-only
/// register that differs): `Detail` is the first differing byte's offset,
/// `Expected`/`Found` its values.
pub const TRIAGE_CONFIG: u32 = 9;
/// No memory basis of this VF covers its VRAM as one of the source's did:
/// `Detail` is the source basis's index, `Found` its range count.
pub const TRIAGE_BASES: u32 = 10;

/// The event payload.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_MIGRATION_TRIAGE {
    /// [`TRIAGE_VERSION`].
    pub Version: u32,
    /// The DDI's slot in `DRIVER_INITIALIZATION_DATA`: 181 (immutable) or
    /// 182 (mutable).
    pub Ddi: u32,
    /// The target VF.
    pub VfIndex: u32,
    /// A `TRIAGE_*` reason.
    pub Reason: u32,
    /// Reason-specific, see each reason.
    pub Detail: u32,
    /// Reserved, 0.
    pub Reserved: u32,
    /// What this adapter has (reason-specific).
    pub Expected: u64,
    /// What the data said (reason-specific).
    pub Found: u64,
}

impl GPUP_MIGRATION_TRIAGE {
    /// Encoded size.
    pub const SIZE: usize = 40;

    /// The payload bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        le::Cursor::new(&mut out)
            .put(&self.Version.to_le_bytes())
            .put(&self.Ddi.to_le_bytes())
            .put(&self.VfIndex.to_le_bytes())
            .put(&self.Reason.to_le_bytes())
            .put(&self.Detail.to_le_bytes())
            .put(&self.Reserved.to_le_bytes())
            .put(&self.Expected.to_le_bytes())
            .put(&self.Found.to_le_bytes());
        out
    }

    /// Decodes a payload (for tools and tests), or `None` if it is not one.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::SIZE {
            return None;
        }
        let u32_at = |at| le::u32_at(bytes, at);
        let u64_at = |at| le::u64_at(bytes, at);
        Some(Self {
            Version: u32_at(0)?,
            Ddi: u32_at(4)?,
            VfIndex: u32_at(8)?,
            Reason: u32_at(12)?,
            Detail: u32_at(16)?,
            Reserved: u32_at(20)?,
            Expected: u64_at(24)?,
            Found: u64_at(32)?,
        })
    }
}

const _: () = assert!(core::mem::size_of::<GPUP_MIGRATION_TRIAGE>() == GPUP_MIGRATION_TRIAGE::SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_round_trips() {
        let e = GPUP_MIGRATION_TRIAGE {
            Version: TRIAGE_VERSION,
            Ddi: 181,
            VfIndex: 2,
            Reason: TRIAGE_DRIVER,
            Detail: 0,
            Reserved: 0,
            Expected: 0x0001_0002_0001_1007,
            Found: 0x0002_0000_0001_1007,
        };
        assert_eq!(GPUP_MIGRATION_TRIAGE::decode(&e.encode()), Some(e));
        assert_eq!(GPUP_MIGRATION_TRIAGE::decode(&e.encode()[1..]), None);
    }
}
