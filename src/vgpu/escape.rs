//! The wire format of `DxgkDdiVirtualGpuDriverEscape`: the driver-private
//! requests a vGPU's user-mode emulation (or any loader playing it) sends
//! through `IOCTL_GPUP_DRIVER_ESCAPE`.
//!
//! Input: `GPUP_DRIVER_ESCAPE_INPUT` (the vGPU's LUID, 8 bytes), then a
//! [`GPUP_VGPU_ESCAPE_HEADER`], then exactly `PayloadSize` bytes of payload.
//! All integers little-endian (x64). Commands:
//!
//! | command | payload | output |
//! |---|---|---|
//! | [`GPUP_VGPU_ESCAPE_QUERY`] | none | [`GPUP_VGPU_ESCAPE_INFO`] |
//! | [`GPUP_VGPU_ESCAPE_WRITE_NOTIFY`] | [`GPUP_VGPU_ESCAPE_WRITE`] | none |
//! | [`GPUP_VGPU_ESCAPE_MSIX`] | none | [`GPUP_VGPU_ESCAPE_MSIX_TABLE`] |
//!
//! `WRITE_NOTIFY` is the software VF's GPU reporting that it wrote
//! `[Offset, Offset + Length)` of its VRAM (VF address 0 = the first byte of
//! its reserve): the driver translates it through the bound reserve (one
//! range, or the scattered ranges of SetVirtualGpuResources2, in VF address
//! order) and marks the pages in every tracked memory basis covering them. It
//! requires the vGPU to run (D0, reserve bound) and not to be paused
//! (`DxgkDdiSetVirtualFunctionPauseState`: a paused VF is not scheduled).
//!
//! `MSIX` reports which entries of the VF's MSI-X table
//! `DxgkDdiWriteVirtualizedInterrupt` wrote and each entry's vector control
//! (its mask bit), never the message address or data: those are the host's
//! interrupt routing, host-physical values Dxgkrnl substituted for the
//! guest's ("Virtualization of interrupts" in Microsoft's *Live migration on
//! GPU-P devices*), and the user-mode emulation tracks the guest's own form
//! of the table itself, so it never needs to read them back.
//!
//! Who may see what: the caller is the vGPU's user-mode emulation, a host
//! user-mode process working for the guest. No reply carries a kernel handle
//! (the VM-bus handle is a kernel-mode handle, `DXGKARG_SETVIRTUALGPUVMBUS`;
//! only whether it is set is reported), a host segment offset (where the
//! reserve lies in the segment) or a host-physical address. Each reply field
//! is listed in `docs/escape-and-state.md` with its audience.
//!
//! Statuses: input shorter than the LUID and header, a payload size that does
//! not match, or a LUID that is not this vGPU's: `STATUS_INVALID_PARAMETER`;
//! an unknown command: `STATUS_NOT_SUPPORTED`; an output buffer too small for
//! the reply: `STATUS_BUFFER_TOO_SMALL`; `WRITE_NOTIFY` on a vGPU that does
//! not run: `STATUS_INVALID_DEVICE_STATE`. On success `OutputBufferSize` is
//! set to the bytes written; on failure nothing is written.

#![allow(non_camel_case_types, non_snake_case)]

use crate::foundation::le;

/// Command: describe the vGPU.
pub const GPUP_VGPU_ESCAPE_QUERY: u32 = 1;
/// Command: the VF wrote a span of its VRAM.
pub const GPUP_VGPU_ESCAPE_WRITE_NOTIFY: u32 = 2;
/// Command: read the VF's MSI-X table.
pub const GPUP_VGPU_ESCAPE_MSIX: u32 = 3;

/// [`GPUP_VGPU_ESCAPE_INFO::Flags`]: the reserve is bound (SetVirtualGpuResources).
pub const GPUP_VGPU_FLAG_RESERVE_BOUND: u32 = 1 << 0;
/// The VM-bus handle is set.
pub const GPUP_VGPU_FLAG_VMBUS: u32 = 1 << 1;
/// The VF's command register enables memory decoding.
pub const GPUP_VGPU_FLAG_MEMORY_ENABLED: u32 = 1 << 2;
/// The VF's MSI-X is enabled.
pub const GPUP_VGPU_FLAG_MSIX_ENABLED: u32 = 1 << 3;
/// The reserve was destroyed under the vGPU (it can no longer run).
pub const GPUP_VGPU_FLAG_REVOKED: u32 = 1 << 4;
/// The VF is paused (`DxgkDdiSetVirtualFunctionPauseState`).
pub const GPUP_VGPU_FLAG_PAUSED: u32 = 1 << 5;
/// The reserve was bound as scattered ranges (`DxgkDdiSetVirtualGpuResources2`).
pub const GPUP_VGPU_FLAG_SCATTERED: u32 = 1 << 6;
/// Bits 8-11 of [`GPUP_VGPU_ESCAPE_INFO::Flags`]: the VF's live-migration
/// phase, one of the `GPUP_VGPU_MIGRATION_*` values.
pub const GPUP_VGPU_MIGRATION_SHIFT: u32 = 8;
/// Mask of the migration phase in `Flags` (before shifting down).
pub const GPUP_VGPU_MIGRATION_MASK: u32 = 0xF << GPUP_VGPU_MIGRATION_SHIFT;
// The phase values are the saved-state machine's (`crate::savestate`, a
// lower layer); this wire format names them here.
pub use crate::savestate::phase_code::{
    GPUP_VGPU_MIGRATION_ENDED, GPUP_VGPU_MIGRATION_IDLE, GPUP_VGPU_MIGRATION_PREPARED_SOURCE,
    GPUP_VGPU_MIGRATION_PREPARED_TARGET, GPUP_VGPU_MIGRATION_RESTORED,
    GPUP_VGPU_MIGRATION_RESTORING, GPUP_VGPU_MIGRATION_SAVED, GPUP_VGPU_MIGRATION_SAVING,
};

/// Follows the LUID in every escape input.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_VGPU_ESCAPE_HEADER {
    /// `GPUP_VGPU_ESCAPE_*`.
    pub Command: u32,
    /// Bytes of payload that follow.
    pub PayloadSize: u32,
}

/// Payload of [`GPUP_VGPU_ESCAPE_WRITE_NOTIFY`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_VGPU_ESCAPE_WRITE {
    /// First byte written, VF-relative.
    pub Offset: u64,
    /// Bytes written.
    pub Length: u64,
}

/// Output of [`GPUP_VGPU_ESCAPE_QUERY`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_VGPU_ESCAPE_INFO {
    /// The vGPU's slot.
    pub PartitionId: u32,
    /// `DEVICE_POWER_STATE`: 1 (D0) or 4 (D3).
    pub PowerState: u32,
    /// `VirtualGpuLuid.LowPart`.
    pub LuidLowPart: u32,
    /// `VirtualGpuLuid.HighPart`.
    pub LuidHighPart: i32,
    /// Driver segment id of the reserve.
    pub ReserveSegmentId: u32,
    /// `GPUP_VGPU_FLAG_*`.
    pub Flags: u32,
    /// Bytes of the reserve (the size Create asked for).
    pub ReserveSize: u64,
}

/// Output of [`GPUP_VGPU_ESCAPE_MSIX`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_VGPU_ESCAPE_MSIX_TABLE {
    /// Entries of the VF's table (4).
    pub EntryCount: u32,
    /// Bit `i`: entry `i` was written since creation or the last function
    /// reset (unwritten entries read as zero).
    pub WrittenMask: u32,
    /// Each entry's vector control (bit 0: masked; 0 for an unwritten
    /// entry). The message address and data are host routing: not reported.
    pub VectorControl: [u32; 4],
}

impl GPUP_VGPU_ESCAPE_MSIX_TABLE {
    /// Encoded size.
    pub const SIZE: usize = 8 + 4 * 4;

    /// The reply bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        let mut cursor = le::Cursor::new(&mut out);
        cursor
            .put(&self.EntryCount.to_le_bytes())
            .put(&self.WrittenMask.to_le_bytes());
        for control in &self.VectorControl {
            cursor.put(&control.to_le_bytes());
        }
        out
    }

    /// Decodes a reply (for loaders), or `None` if `bytes` is not one.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::SIZE {
            return None;
        }
        let u32_at = |at| le::u32_at(bytes, at);
        let mut table = Self {
            EntryCount: u32_at(0)?,
            WrittenMask: u32_at(4)?,
            VectorControl: [0; 4],
        };
        for (i, control) in table.VectorControl.iter_mut().enumerate() {
            *control = u32_at(i.checked_mul(4)?.checked_add(8)?)?;
        }
        Some(table)
    }
}

/// Bytes of the LUID and header that start every input.
pub const GPUP_VGPU_ESCAPE_PREFIX: usize = 16;
/// The most input bytes an escape takes.
pub const GPUP_VGPU_ESCAPE_MAX_INPUT: usize = 64;

impl GPUP_VGPU_ESCAPE_INFO {
    /// Encoded size.
    pub const SIZE: usize = 32;

    /// The reply bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        le::Cursor::new(&mut out)
            .put(&self.PartitionId.to_le_bytes())
            .put(&self.PowerState.to_le_bytes())
            .put(&self.LuidLowPart.to_le_bytes())
            .put(&self.LuidHighPart.to_le_bytes())
            .put(&self.ReserveSegmentId.to_le_bytes())
            .put(&self.Flags.to_le_bytes())
            .put(&self.ReserveSize.to_le_bytes());
        out
    }

    /// Decodes a reply (for loaders), or `None` if `bytes` is not one.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::SIZE {
            return None;
        }
        let u32_at = |at| le::u32_at(bytes, at);
        let u64_at = |at| le::u64_at(bytes, at);
        Some(Self {
            PartitionId: u32_at(0)?,
            PowerState: u32_at(4)?,
            LuidLowPart: u32_at(8)?,
            LuidHighPart: i32::from_le_bytes(u32_at(12)?.to_le_bytes()),
            ReserveSegmentId: u32_at(16)?,
            Flags: u32_at(20)?,
            ReserveSize: u64_at(24)?,
        })
    }
}

const _: () = assert!(core::mem::size_of::<GPUP_VGPU_ESCAPE_INFO>() == GPUP_VGPU_ESCAPE_INFO::SIZE);
const _: () = assert!(core::mem::size_of::<GPUP_VGPU_ESCAPE_HEADER>() == 8);
const _: () = assert!(
    core::mem::size_of::<GPUP_VGPU_ESCAPE_MSIX_TABLE>() == GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE
);
const _: () = assert!(
    super::pci::MSIX_VECTORS == 4,
    "the MSI-X reply has 4 entries"
);
const _: () = assert!(core::mem::size_of::<GPUP_VGPU_ESCAPE_WRITE>() == 16);
