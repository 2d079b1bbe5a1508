//! The host build's extra C ABI, for loaders on machines without Windows
//! (`dxgkrnl-model`, or any program that `dlopen`s `libgpup_miniport.so`).
//! Not part of the Windows image.
//!
//! - [`gpup_host_set_memory_config`]: what a real adapter's hardware would
//!   dictate (VRAM segments, ids from 2, their sizes and dirty-tracking page
//!   sizes), set between AddDevice and the first StartDevice. Without it an
//!   adapter has the built-in configuration (one 1 GiB VRAM segment, id 2,
//!   4 KiB pages, 256 bases); segment 1 is always the driver's 64 MiB paging
//!   aperture.
//! - [`gpup_host_set_partition_config`]: whether the adapter offers GPU
//!   partitioning and with which partition counts (built-in: on, 1, 2, 4, 8),
//!   set in the same window.
//! - [`gpup_sw_mark_dirty`]: the software dirty-tracking backend, so that the
//!   loader can play the GPU that writes VRAM.
//! - [`gpup_host_interface_references`]: the reference counts of the
//!   interfaces `DxgkDdiQueryInterface` handed out (diagnostics).
//! - [`vram`] ([`VramRef`]), [`gpup_host_vram_write`], [`gpup_host_vram_read`]:
//!   the driver's VRAM backing of a started adapter's segment, which the
//!   loader's GPU writers, migration copier and proof read and write.
//! - [`gpup_host_vgpu_state`]: what only the host may see of a vGPU (the
//!   reserve's segment offset, the VM-bus handle, the MSI-X entries with
//!   their host interrupt addresses), which the escape no longer reports to
//!   user mode; the model plays Dxgkrnl, which knows these anyway.
//!
//! Like the DDI trampolines, these functions are the boundary with a caller
//! that passes raw pointers, so this module is one of the three places with
//! `unsafe` (with `crate::ddi` and `crate::kernel`): each reads or writes its
//! caller's record once, through `crate::ddi`'s helpers, under that
//! function's `# Safety` contract.

#![allow(non_snake_case)]

use dxgk_sys::{HANDLE, NTSTATUS};

use crate::adapter::registry;
use crate::foundation::status::{Status, to_ntstatus};
use crate::memory::{MAX_VRAM_SEGMENTS, MemoryConfig, SegmentDesc};
use crate::vgpu::options::{MAX_OPTIONS, PartitionConfig};

/// One VRAM segment of a [`GPUP_MEMORY_CONFIG`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_SEGMENT_CONFIG {
    /// Driver segment id: entry `i` (0-based) of `Segments` must have id
    /// `i + 2` (segment 1 is the driver's paging aperture, and a
    /// `DXGK_SEGMENTDESCRIPTOR4` array leaves no gaps in the ids).
    pub SegmentId: u32,
    /// Dirty-tracking page size in bytes (a power of two from 4096 to 2^31),
    /// or 0 for a segment without dirty tracking (for tests: the built-in
    /// configuration tracks every VRAM segment).
    pub PageSize: u32,
    /// Size in bytes: 1 to 2^48, a whole number of pages when tracked.
    pub SizeInBytes: u64,
}

/// The memory configuration of one adapter: its VRAM segments. The paging
/// aperture (segment 1, 64 MiB, untracked) is the driver's own and is not
/// configured here.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GPUP_MEMORY_CONFIG {
    /// `size_of::<GPUP_MEMORY_CONFIG>()` (144): read first, so that a loader
    /// built against another revision of this record (the first one had no
    /// `Size` and began with `SegmentCount`) is refused, not misread.
    pub Size: u32,
    /// Number of valid entries in `Segments` (1..=8).
    pub SegmentCount: u32,
    /// How many memory bases the adapter can hold at once (1..=4096).
    pub MaxMemoryBases: u32,
    /// 0 (ignored).
    pub Reserved: u32,
    /// The VRAM segments, ids 2, 3, ... in order.
    pub Segments: [GPUP_SEGMENT_CONFIG; MAX_VRAM_SEGMENTS],
}

/// [`GPUP_MEMORY_CONFIG::Size`] of this revision.
pub const GPUP_MEMORY_CONFIG_SIZE: u32 = {
    let size = core::mem::size_of::<GPUP_MEMORY_CONFIG>();
    assert!(size == 144, "the documented record size");
    size as u32
};

impl Default for GPUP_MEMORY_CONFIG {
    /// An empty configuration of this revision (`Size` set, no segments).
    fn default() -> Self {
        Self {
            Size: GPUP_MEMORY_CONFIG_SIZE,
            SegmentCount: 0,
            MaxMemoryBases: 0,
            Reserved: 0,
            Segments: [GPUP_SEGMENT_CONFIG::default(); MAX_VRAM_SEGMENTS],
        }
    }
}

/// Sets the memory configuration (the VRAM segments) of an adapter that has
/// not been started yet. Checked in this order, nothing changing on failure:
///
/// - `STATUS_INVALID_PARAMETER` for an unknown adapter or a NULL pointer;
/// - `STATUS_REVISION_MISMATCH` when the leading `Size` is not
///   [`GPUP_MEMORY_CONFIG_SIZE`] (only those 4 bytes are read then);
/// - `STATUS_ALREADY_REGISTERED` when a segment names id 1 (the aperture);
/// - `STATUS_INVALID_PARAMETER` for any other invalid configuration (see
///   the fields' limits);
/// - `STATUS_INVALID_DEVICE_STATE` once the adapter has been started.
///
/// # Safety
/// `pConfig` is NULL or points to a readable `GPUP_MEMORY_CONFIG` (of this
/// or of another revision: at least its first 4 bytes are readable, and all
/// of it when they hold this revision's size).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_host_set_memory_config(
    hAdapter: HANDLE,
    pConfig: *const GPUP_MEMORY_CONFIG,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter_mut(hAdapter, |adapter| {
        // SAFETY: NULL or at least 4 readable bytes (this function's
        // contract; the record's first field is a u32, read unaligned).
        let size = unsafe { crate::ddi::read_in(pConfig.cast::<u32>()) }?;
        if size != GPUP_MEMORY_CONFIG_SIZE {
            return Err(Status::RevisionMismatch);
        }
        // SAFETY: readable in whole: it says it is this revision's record.
        let config = unsafe { crate::ddi::read_in(pConfig) }?;
        let count = usize::try_from(config.SegmentCount).map_err(|_| Status::InvalidParameter)?;
        let segments = config
            .Segments
            .get(..count)
            .ok_or(Status::InvalidParameter)?;
        let mut descs = [SegmentDesc {
            id: 0,
            size: 0,
            page_size: 0,
        }; MAX_VRAM_SEGMENTS];
        for (desc, segment) in descs.iter_mut().zip(segments) {
            *desc = SegmentDesc {
                id: segment.SegmentId,
                size: segment.SizeInBytes,
                page_size: segment.PageSize,
            };
        }
        let max_bases =
            usize::try_from(config.MaxMemoryBases).map_err(|_| Status::InvalidParameter)?;
        let memory = MemoryConfig::new(descs.get(..count).unwrap_or_default(), max_bases)?;
        adapter.set_memory(memory)
    }))
}

/// The software dirty-tracking backend as a C function: see
/// [`crate::sw_mark_dirty`].
///
/// # Safety
/// Always safe to call: the adapter handle is looked up, never dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_sw_mark_dirty(
    hAdapter: HANDLE,
    SegmentId: u32,
    SegmentOffset: u64,
    Length: u64,
) -> NTSTATUS {
    crate::ddi::basis::sw_mark_dirty(hAdapter, SegmentId, SegmentOffset, Length)
}

/// The partition configuration of one adapter.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_PARTITION_CONFIG {
    /// 0: the adapter offers no GPU partitioning (`DxgkDdiQueryInterface`
    /// answers `STATUS_NOT_SUPPORTED`); 1: it does, with the counts below.
    pub Enabled: u32,
    /// Number of valid entries in `Options` (1..=32 when enabled, else ignored).
    pub OptionCount: u32,
    /// The partition counts offered, each 1..=64, distinct, in any order.
    pub Options: [u16; MAX_OPTIONS],
}

/// Sets the partition configuration of an adapter that has not been started yet.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter, a NULL pointer,
/// `Enabled` other than 0 or 1, or invalid options (nothing changes then),
/// and `STATUS_INVALID_DEVICE_STATE` once the adapter has been started.
///
/// # Safety
/// `pConfig` is NULL or points to a readable `GPUP_PARTITION_CONFIG`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_host_set_partition_config(
    hAdapter: HANDLE,
    pConfig: *const GPUP_PARTITION_CONFIG,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter_mut(hAdapter, |adapter| {
        // SAFETY: NULL or readable (this function's contract).
        let config = unsafe { crate::ddi::read_in(pConfig) }?;
        let partition = match config.Enabled {
            0 => PartitionConfig::disabled(),
            1 => {
                let count =
                    usize::try_from(config.OptionCount).map_err(|_| Status::InvalidParameter)?;
                let options = config
                    .Options
                    .get(..count)
                    .ok_or(Status::InvalidParameter)?;
                PartitionConfig::new(options)?
            }
            _ => return Err(Status::InvalidParameter),
        };
        adapter.set_partition(partition)
    }))
}

/// The reference counts of the interfaces an adapter handed out.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_INTERFACE_REFERENCES {
    /// References of the GPU partition interface.
    pub Partition: u32,
    /// References of the SR-IOV interface.
    pub Sriov: u32,
    /// References of the FlexIOV device interface.
    pub FlexIov: u32,
    /// InterfaceDereference calls made with no reference held (ignored).
    pub IgnoredDereferences: u32,
}

/// Reads the interface reference counts of an adapter into `*pRefs`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter or a NULL pointer.
///
/// # Safety
/// `pRefs` is NULL or points to a writable `GPUP_INTERFACE_REFERENCES`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_host_interface_references(
    hAdapter: HANDLE,
    pRefs: *mut GPUP_INTERFACE_REFERENCES,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let ([partition, sriov, flexiov], ignored) = adapter.refs().snapshot();
        let refs = GPUP_INTERFACE_REFERENCES {
            Partition: partition,
            Sriov: sriov,
            FlexIov: flexiov,
            IgnoredDereferences: ignored,
        };
        // SAFETY: NULL or writable (this function's contract).
        unsafe { crate::ddi::write_out(pRefs, refs) }
    }))
}

/// Sets (or, with `None`, removes) the hook the driver calls at each
/// [`HookPoint`]: for deterministic tests that park a DDI inside its
/// critical section on a barrier. One hook per process; a test that sets it
/// removes it before it returns.
pub fn set_test_hook(hook: Option<Box<dyn Fn(HookPoint) + Send + Sync>>) {
    crate::kernel::set_test_hook(hook);
}

pub use crate::kernel::HookPoint;

/// Runs `f` while holding the adapter lock of `hAdapter` for writing, as
/// the lifecycle DDIs do: for tests that show a DDI does not wait for it.
///
/// # Errors
/// `STATUS_INVALID_PARAMETER` for an unknown adapter (`f` does not run).
pub fn hold_adapter_lock_for_writing(hAdapter: HANDLE, f: impl FnOnce()) -> NTSTATUS {
    to_ntstatus(registry::with_adapter_mut(hAdapter, |_| {
        f();
        Ok(())
    }))
}

/// One MSI-X entry of a [`GPUP_HOST_VGPU_STATE`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_HOST_MSIX_ENTRY {
    /// 1 if `DxgkDdiWriteVirtualizedInterrupt` wrote the entry since
    /// creation or the last function reset, else 0 (and the rest is 0).
    pub Written: u32,
    /// Message data.
    pub MessageData: u32,
    /// Message address (host-physical interrupt routing).
    pub MessageAddress: u64,
    /// Vector control.
    pub VectorControl: u32,
    /// 0.
    pub Reserved: u32,
}

/// Output of [`gpup_host_vgpu_state`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GPUP_HOST_VGPU_STATE {
    /// Segment offset of VF address 0 (0 when the reserve is not bound).
    pub ReserveOffset: u64,
    /// The VM-bus handle as passed to `DxgkDdiSetVirtualGpuVmBus` (0: none).
    pub VmBusHandle: u64,
    /// The MSI-X table.
    pub Msix: [GPUP_HOST_MSIX_ENTRY; 4],
}

/// Reads what only the host may see of vGPU `VfIndex` into `*pState`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter or VF or a NULL
/// pointer, `STATUS_NOT_SUPPORTED` without partitioning.
///
/// # Safety
/// `pState` is NULL or points to a writable `GPUP_HOST_VGPU_STATE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_host_vgpu_state(
    hAdapter: HANDLE,
    VfIndex: u32,
    pState: *mut GPUP_HOST_VGPU_STATE,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let partitions = adapter.started()?.partitions()?.read();
        let vgpu = partitions.vgpu(crate::foundation::units::VfIndex(VfIndex))?;
        let (offset, vmbus, msix) = vgpu.host_view();
        let mut state = GPUP_HOST_VGPU_STATE {
            ReserveOffset: offset.unwrap_or(0),
            VmBusHandle: vmbus.and_then(|h| u64::try_from(h).ok()).unwrap_or(0),
            ..GPUP_HOST_VGPU_STATE::default()
        };
        for (out, entry) in state.Msix.iter_mut().zip(msix) {
            if let Some(e) = entry {
                *out = GPUP_HOST_MSIX_ENTRY {
                    Written: 1,
                    MessageData: e.data,
                    MessageAddress: e.address,
                    VectorControl: e.vector_control,
                    Reserved: 0,
                };
            }
        }
        // SAFETY: NULL or writable (this function's contract).
        unsafe { crate::ddi::write_out(pState, state) }
    }))
}

const _: () = assert!(
    crate::vgpu::MSIX_TABLE_SIZE == 4,
    "the host view has 4 entries"
);

/// The bytes of one VRAM segment of an adapter: the driver's own backing
/// (`src/memory/backing.rs`), the very memory the software engine writes,
/// for the host's stand-ins of the GPU and of Dxgkrnl (the model's GPU
/// writers, its migration copier and its byte-identical proof).
///
/// A `VramRef` keeps the backing alive on its own: it stays valid (and its
/// bytes stay readable) after the adapter is stopped or removed; the memory
/// is freed when the adapter has stopped and the last `VramRef` is dropped.
/// It is a host-side handle only: nothing of it (no address, no handle) ever
/// goes back to the driver through a DDI or an escape.
///
/// Offsets are segment offsets. [`Self::write_bytes`] and
/// [`Self::read_bytes`] take any offset and length; the other operations
/// whole, 8-byte aligned words. Each returns `Status::InvalidParameter`
/// (changing nothing) for a span the segment does not hold, and the writes
/// `Status::NoMemory` when a 1 MiB chunk cannot be committed.
pub struct VramRef {
    backing: crate::kernel::lazy::Shared<crate::memory::backing::Backing>,
}

impl core::fmt::Debug for VramRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VramRef")
            .field("size", &self.size())
            .field("touched_chunks", &self.touched_chunks())
            .finish()
    }
}

/// Bytes per chunk of a VRAM backing (the unit of lazy commitment).
pub const VRAM_CHUNK: u64 = crate::memory::backing::CHUNK;

/// The VRAM of segment `SegmentId` of the started adapter `hAdapter`;
/// `None` for an unknown adapter, one that is not started, or a segment
/// that is not one of its configured VRAM segments.
#[must_use]
pub fn vram(hAdapter: HANDLE, SegmentId: u32) -> Option<VramRef> {
    registry::with_adapter(hAdapter, |adapter| {
        let backing = adapter
            .started()?
            .vram
            .get(crate::foundation::units::SegmentId(SegmentId))
            .ok_or(Status::InvalidParameter)?
            .try_clone()
            .ok_or(Status::NoMemory)?;
        Ok(VramRef { backing })
    })
    .ok()
}

impl VramRef {
    /// Segment size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.backing.size()
    }

    /// Chunks of [`VRAM_CHUNK`] bytes committed so far.
    #[must_use]
    pub fn touched_chunks(&self) -> usize {
        self.backing.touched_chunks()
    }

    /// Whether `self` and `other` are the same segment's bytes.
    #[must_use]
    pub fn same_backing(&self, other: &Self) -> bool {
        core::ptr::eq::<crate::memory::backing::Backing>(&*self.backing, &*other.backing)
    }

    /// Stores `bytes` at `offset`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn write_bytes(&self, offset: u64, bytes: &[u8]) -> Result<(), Status> {
        self.backing.write_bytes(offset, bytes)
    }

    /// Reads `out.len()` bytes at `offset` (zeros where never written).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<(), Status> {
        self.backing.read_bytes(offset, out)
    }

    /// Stores `value(i)` into the `i`-th word of `[offset, offset + len)`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn write_words(
        &self,
        offset: u64,
        len: u64,
        value: impl FnMut(u64) -> u64,
    ) -> Result<(), Status> {
        self.backing.write_words(offset, len, value)
    }

    /// Fills `[offset, offset + len)` with the word `pattern`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn fill(&self, offset: u64, len: u64, pattern: u64) -> Result<(), Status> {
        self.backing.fill(offset, len, pattern)
    }

    /// The word at `offset`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn read_word(&self, offset: u64) -> Result<u64, Status> {
        self.backing.read_word(offset)
    }

    /// Copies `len` bytes at `src_offset` of `src` to `offset` of `self`
    /// (the same segment only for spans that do not overlap).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn copy_from(
        &self,
        offset: u64,
        src: &Self,
        src_offset: u64,
        len: u64,
    ) -> Result<(), Status> {
        self.backing
            .copy_from(offset, &src.backing, src_offset, len)
    }

    /// Whether `len` bytes at `offset` equal `len` bytes at `other_offset`
    /// of `other`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn same(
        &self,
        offset: u64,
        other: &Self,
        other_offset: u64,
        len: u64,
    ) -> Result<bool, Status> {
        self.backing.same(offset, &other.backing, other_offset, len)
    }

    /// Whether `len` bytes at `offset` are all zero.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn is_zero(&self, offset: u64, len: u64) -> Result<bool, Status> {
        self.backing.is_zero(offset, len)
    }
}

/// Copies `Length` bytes into VRAM segment `SegmentId` of the started
/// adapter `hAdapter` at `Offset`, from `pData`: [`VramRef::write_bytes`]
/// for C loaders.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown or stopped adapter, an
/// unknown segment, a NULL `pData` with a non-zero length or a span the
/// segment does not hold; `STATUS_NO_MEMORY` when a chunk cannot be
/// committed.
///
/// # Safety
/// `pData` is NULL or readable for `Length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_host_vram_write(
    hAdapter: HANDLE,
    SegmentId: u32,
    Offset: u64,
    pData: *const u8,
    Length: u64,
) -> NTSTATUS {
    let (vram, len) = match vram_span(hAdapter, SegmentId, pData.is_null(), Length) {
        Ok((vram, 0)) => return to_ntstatus(vram.write_bytes(Offset, &[])),
        Ok(found) => found,
        Err(e) => return to_ntstatus(Err(e)),
    };
    // SAFETY:
    // - `pData` is non-NULL and readable for `len` bytes (this function's
    //   contract); bytes need no alignment;
    // - the slice lives only for this call and is only read.
    let data = unsafe { core::slice::from_raw_parts(pData, len) };
    to_ntstatus(vram.write_bytes(Offset, data))
}

/// The checks both VRAM C functions make before touching the buffer: the
/// backing of segment `SegmentId` of the started adapter `hAdapter`, and
/// `Length` as a `usize`; a NULL buffer is refused unless `Length` is 0.
fn vram_span(
    hAdapter: HANDLE,
    SegmentId: u32,
    null: bool,
    Length: u64,
) -> Result<(VramRef, usize), Status> {
    let vram = vram(hAdapter, SegmentId).ok_or(Status::InvalidParameter)?;
    let len = usize::try_from(Length).map_err(|_| Status::InvalidParameter)?;
    if len != 0 && null {
        return Err(Status::InvalidParameter);
    }
    Ok((vram, len))
}

/// Copies `Length` bytes of VRAM segment `SegmentId` of the started adapter
/// `hAdapter` at `Offset` into `pData`: [`VramRef::read_bytes`] for C
/// loaders. Statuses as [`gpup_host_vram_write`] (nothing is written to
/// `pData` on failure).
///
/// # Safety
/// `pData` is NULL or writable for `Length` bytes, and no other reference to
/// those bytes is used during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gpup_host_vram_read(
    hAdapter: HANDLE,
    SegmentId: u32,
    Offset: u64,
    pData: *mut u8,
    Length: u64,
) -> NTSTATUS {
    let (vram, len) = match vram_span(hAdapter, SegmentId, pData.is_null(), Length) {
        Ok((vram, 0)) => return to_ntstatus(vram.read_bytes(Offset, &mut [])),
        Ok(found) => found,
        Err(e) => return to_ntstatus(Err(e)),
    };
    // SAFETY:
    // - `pData` is non-NULL and writable for `len` bytes, unaliased during
    //   the call (this function's contract); bytes need no alignment;
    // - the slice lives only for this call.
    let out = unsafe { core::slice::from_raw_parts_mut(pData, len) };
    to_ntstatus(vram.read_bytes(Offset, out))
}
