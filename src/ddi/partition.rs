//! The twelve DDIs of the GPU partition interface. Each validates its
//! `Context` as an adapter handle before reading anything, reads its argument
//! block through an [`ArgBlock`] into typed values, and calls
//! `crate::vgpu::Partitioning` (adapter-wide work) or the one
//! `crate::vgpu::Vgpu` its index resolves to. Outputs are written only on
//! success (and, for GetGpuPartitionInfo, on `STATUS_BUFFER_TOO_SMALL`, whose
//! counts are outputs).

use core::mem::size_of;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::adapter::registry;
use crate::ddi::arg::ArgBlock;
use crate::ddi::gpup::{with_partitions, with_partitions_mut};
use crate::ddi::{copy_in, copy_out};
use crate::foundation::status::{Status, to_ntstatus};
use crate::foundation::units::{SegmentId, VfIndex};
use crate::vgpu::escape::{GPUP_VGPU_ESCAPE_MAX_INPUT, GPUP_VGPU_ESCAPE_PREFIX};
use crate::vgpu::{CAPABILITIES, Created, PinnedReserve, Requested};

/// Most entries a SetVirtualGpuResources block may carry (the `SegmentInfo`
/// array of CreateVirtualGpu has 32); larger counts are refused unread.
const MAX_MEMORY_ALLOCATIONS: usize = 32;

/// `DxgkDdiGetGpuPartitionInfo`: the options and the current count (0 before
/// any SetGpuPartitionCount). A capacity below the option count, or a NULL
/// array, gets `STATUS_BUFFER_TOO_SMALL` with both counts set and the array
/// untouched. Repeatable.
///
/// # Safety
/// `pArgs` is NULL or readable and writable; its array NULL or writable for
/// `NumGpuPartitionOptions` entries.
pub(crate) unsafe extern "system" fn DxgkDdiGetGpuPartitionInfo(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETGPUPARTITIONINFO,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let options = p.options();
        let needed = ULONG::try_from(options.len()).map_err(|_| Status::InvalidParameter)?;
        let fits = args.NumGpuPartitionOptions >= needed && !args.pGpuPartitionOptions.is_null();
        if fits {
            let mut bytes = [0u8; 2 * crate::vgpu::options::MAX_OPTIONS];
            for (chunk, option) in bytes.chunks_exact_mut(2).zip(options) {
                chunk.copy_from_slice(&option.to_le_bytes());
            }
            let len = options.len().saturating_mul(size_of::<USHORT>());
            // SAFETY: the array is non-NULL (checked) and writable for
            // `NumGpuPartitionOptions >= needed` USHORTs, `len` bytes
            // (contract); it cannot overlap this local buffer.
            unsafe {
                copy_out(
                    bytes.get(..len).unwrap_or_default(),
                    args.pGpuPartitionOptions.cast(),
                )
            }?;
        }
        block.update(|a| {
            a.NumGpuPartitionOptions = needed;
            a.CurrentGpuPartitionCount = USHORT::try_from(p.count()).unwrap_or(USHORT::MAX);
        });
        if fits {
            Ok(())
        } else {
            Err(Status::BufferTooSmall)
        }
    }))
}

/// `DxgkDdiSetGpuPartitionCount`: `STATUS_INVALID_PARAMETER` unless the count
/// is an option, `STATUS_INVALID_DEVICE_STATE` for a change while a vGPU
/// exists, success without change when it equals the current one.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiSetGpuPartitionCount(
    Context: HANDLE,
    pArgs: *const DXGKARG_SETGPUPARTITIONCOUNT,
) -> NTSTATUS {
    to_ntstatus(with_partitions_mut(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        p.set_count(args.PartitionCount)
    }))
}

macro_rules! obsolete {
    ($( $(#[$meta:meta])* fn $name:ident($arg:ty); )*) => { $(
        $(#[$meta])*
        ///
        /// Obsolete: `STATUS_NOT_SUPPORTED` (after the `Context` check), no
        /// state change, the argument block is not read.
        ///
        /// # Safety
        /// Always safe to call.
        pub(crate) unsafe extern "system" fn $name(Context: HANDLE, pArgs: $arg) -> NTSTATUS {
            let _ = pArgs;
            to_ntstatus(with_partitions(Context, |_| Err(Status::NotSupported)))
        }
    )* };
}

obsolete! {
    /// `DxgkDdiGetGpuEngines` (never called by Dxgkrnl).
    fn DxgkDdiGetGpuEngines(*mut DXGKARG_GETGPUENGINES);
    /// `DxgkDdiSuspendVirtualGpu` ("not supported, never used").
    fn DxgkDdiSuspendVirtualGpu(*const DXGKARG_SUSPENDVIRTUALGPU);
    /// `DxgkDdiResumeVirtualGpu` ("not supported, never used").
    fn DxgkDdiResumeVirtualGpu(*const DXGKARG_RESUMEVIRTUALGPU);
}

/// `DxgkDdiGetVirtualGpuProfile`: `HOST_VIRTUAL_DEVICE`, and per capability
/// total, available, min, max and optimum for the partition count asked
/// about (`STATUS_INVALID_PARAMETER` unless it is an option).
///
/// # Safety
/// `pArgs` is NULL or readable and writable.
pub(crate) unsafe extern "system" fn DxgkDdiGetVirtualGpuProfile(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETVIRTUALGPUPROFILE,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let (flags, caps) = p.profile(block.get().PartitionCount)?;
        block.update(|a| {
            a.VirtualizationFlags = flags;
            for (out, cap) in a.ProfileCapability.iter_mut().zip(caps) {
                *out = DXGK_VGPU_PROFILE_CAPABILITY {
                    TotalValue: cap.total,
                    AvailableValue: cap.available,
                    MinPartitionValue: cap.min,
                    MaxPartitionValue: cap.max,
                    OptimalPartitionValue: cap.optimal,
                };
            }
        });
        Ok(())
    }))
}

/// `DxgkDdiCreateVirtualGpu`: creates the vGPU in the slot Dxgkrnl picked
/// and describes the one VRAM reserve it needs. The outputs are written only
/// on success; on failure nothing of the vGPU remains.
///
/// # Safety
/// `pArgs` is NULL or a readable and writable `DXGKARG_CREATEVIRTUALGPU`.
pub(crate) unsafe extern "system" fn DxgkDdiCreateVirtualGpu(
    Context: HANDLE,
    pArgs: *mut DXGKARG_CREATEVIRTUALGPU,
) -> NTSTATUS {
    to_ntstatus(with_partitions_mut(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let vf = VfIndex(args.PartitionId);
        let created = p.create(vf, &requested(&args.Profile))?;
        block.update(|a| write_created(a, &created));
        crate::trace!(
            "CreateVirtualGpu({}): {} bytes in segment {}",
            vf.0,
            created.reserve.size,
            created.reserve.segment.0
        );
        Ok(())
    }))
}

/// What the VM asks for each capability, from a `DXGK_VIRTUALGPUPROFILE`.
fn requested(profile: &DXGK_VIRTUALGPUPROFILE) -> [Requested; CAPABILITIES] {
    let mut request = [Requested::default(); CAPABILITIES];
    for (r, c) in request.iter_mut().zip(profile.Capability) {
        *r = Requested {
            min: c.MinValue,
            max: c.MaxValue,
            optimal: c.OptimalValue,
        };
    }
    request
}

/// The outputs of CreateVirtualGpu: the LUID, one segment entry for the
/// reserve, no engines (the deprecated `EngineInfo` zeroed) and no user-mode
/// emulation DLL (a zero CLSID).
fn write_created(args: &mut DXGKARG_CREATEVIRTUALGPU, created: &Created) {
    args.UserModeVirtualDeviceProvider = GUID::zeroed();
    args.VirtualGpuLuid = created.luid;
    args.NumMemorySegments = 1;
    if let Some(entry) = args.SegmentInfo.first_mut() {
        *entry = DXGK_VIRTUALGPUSEGMENTINFO {
            DriverSegmentId: created.reserve.segment.0,
            Size: created.reserve.size,
            Alignment: created.reserve.alignment,
            MinSegmentOffset: 0,
            MaxSegmentOffset: 0,
            PrivateDriverData: created.reserve.instance,
        };
    }
    args.NumEngines = 0;
    args.EngineInfo = Zeroable::zeroed();
}

/// `DxgkDdiGetVirtualGpuInfo`: min, max and current of each capability.
///
/// # Safety
/// `pArgs` is NULL or readable and writable.
pub(crate) unsafe extern "system" fn DxgkDdiGetVirtualGpuInfo(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETVIRTUALGPUINFO,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let caps = p.vgpu(VfIndex(block.get().PartitionId))?.info();
        block.update(|a| {
            for (out, cap) in a.Capability.iter_mut().zip(caps) {
                *out = DXGK_VGPU_CAPABILITY {
                    MinValue: cap.min,
                    MaxValue: cap.max,
                    CurrentValue: cap.current,
                };
            }
        });
        Ok(())
    }))
}

/// `DxgkDdiSetVirtualGpuResources`: binds the pinned reserve (see
/// `Partitioning::set_resources` for every refusal). `NumMemoryAllocations`
/// of 0 or above 32 is refused before any entry is read.
///
/// # Safety
/// `pArgs` is NULL or a readable block of `NumMemoryAllocations` entries.
pub(crate) unsafe extern "system" fn DxgkDdiSetVirtualGpuResources(
    Context: HANDLE,
    pArgs: *const DXGKARG_SETVIRTUALGPURESOURCES,
) -> NTSTATUS {
    to_ntstatus(with_partitions_mut(Context, |p| {
        // SAFETY: NULL or a readable block of `NumMemoryAllocations` entries
        // (contract).
        let block = unsafe { ArgBlock::new(pArgs) }?;
        let header = block.get();
        let n =
            usize::try_from(header.NumMemoryAllocations).map_err(|_| Status::InvalidParameter)?;
        if n == 0 {
            return Err(Status::InvalidParameter);
        }
        let raw = block.entries::<DXGK_VIRTUALGPUMEMORYRESOURCE>(MAX_MEMORY_ALLOCATIONS)?;
        let mut entries = [PinnedReserve {
            allocation: core::ptr::null_mut(),
            segment: SegmentId(0),
            offset: 0,
            size: 0,
        }; MAX_MEMORY_ALLOCATIONS];
        for (entry, raw) in entries.iter_mut().zip(raw.iter()) {
            *entry = PinnedReserve {
                allocation: raw.DriverAllocationHandle,
                segment: SegmentId(raw.AllocationAddress.MemorySegmentId),
                offset: raw.AllocationAddress.MemorySegmentOffset,
                size: raw.AllocationSize,
            };
        }
        let vf = VfIndex(header.PartitionId);
        p.set_resources(vf, entries.get(..n).unwrap_or_default())
    }))
}

/// `DxgkDdiDestroyVirtualGpu`: `STATUS_INVALID_PARAMETER` for an unknown or
/// already destroyed slot. Memory bases over the reserve stay valid.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiDestroyVirtualGpu(
    Context: HANDLE,
    pArgs: *const DXGKARG_DESTROYVIRTUALGPU,
) -> NTSTATUS {
    to_ntstatus(with_partitions_mut(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        p.destroy(VfIndex(args.PartitionId))
    }))
}

/// `DxgkDdiVirtualGpuDriverEscape` (format: `crate::vgpu::escape`). The
/// whole input is copied before any output is written, so the input and
/// output may be the same buffer; `OutputBufferSize` is set to the bytes
/// written on success.
///
/// # Safety
/// `pArgs` is NULL or readable and writable; `pInputBuffer` NULL or readable
/// for `InputBufferSize` bytes; `pOutputBuffer` NULL or writable for
/// `OutputBufferSize` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiVirtualGpuDriverEscape(
    Context: HANDLE,
    pArgs: *mut DXGK_VIRTUALGPUDRIVERESCAPE,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(Context, |adapter| {
        let started = adapter.started()?;
        let p = started.partitions()?.read();
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        let len = usize::try_from(args.InputBufferSize).map_err(|_| Status::InvalidParameter)?;
        if !(GPUP_VGPU_ESCAPE_PREFIX..=GPUP_VGPU_ESCAPE_MAX_INPUT).contains(&len) {
            return Err(Status::InvalidParameter);
        }
        let mut input = [0u8; GPUP_VGPU_ESCAPE_MAX_INPUT];
        let input = input.get_mut(..len).ok_or(Status::InvalidParameter)?;
        // SAFETY: NULL or readable for `InputBufferSize` bytes (contract).
        unsafe { copy_in(args.pInputBuffer, input) }?;
        let capacity = if args.pOutputBuffer.is_null() {
            0
        } else {
            usize::try_from(args.OutputBufferSize).map_err(|_| Status::InvalidParameter)?
        };
        let vgpu = p.vgpu(VfIndex(args.PartitionId))?;
        let reply = vgpu.escape(&started.marks, input, capacity)?;
        let written = reply.bytes();
        if !written.is_empty() {
            // SAFETY: non-NULL (capacity > 0) and writable for `capacity >=
            // written.len()` bytes (contract); the input was copied first.
            unsafe { copy_out(written, args.pOutputBuffer) }?;
        }
        let written = ULONG::try_from(written.len()).map_err(|_| Status::InvalidParameter)?;
        block.update(|a| a.OutputBufferSize = written);
        Ok(())
    }))
}

/// `DxgkDdiSetVirtualGpuVmBus`: records the VM-bus handle (a later call
/// replaces it); `STATUS_INVALID_PARAMETER` for a NULL handle or an unknown
/// vGPU. The software VF opens no channel on it: it has no guest-KMD protocol.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiSetVirtualGpuVmBus(
    Context: HANDLE,
    pArgs: *const DXGKARG_SETVIRTUALGPUVMBUS,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        p.vgpu_write(VfIndex(args.VirtualGpuIndex))?
            .set_vmbus(args.VmBusHandle.addr())
    }))
}
