//! The eleven DDIs of the SR-IOV interface and the three of the FlexIOV
//! device interface, for the emulated VFs of this software adapter (see
//! `crate::vgpu::pci` for the synthetic PCI function). `VirtualFunctionIndex`
//! is the PartitionId; an unknown one is `STATUS_INVALID_PARAMETER`, and the
//! VOID DDIs zero their outputs for it.

use core::mem::{offset_of, size_of};

use dxgk_sys::*;

use crate::ddi::arg::ArgBlock;
use crate::ddi::gpup::with_partitions;
use crate::ddi::{OutBuffer, copy_in, copy_out, write_out};
use crate::foundation::status::{Status, to_ntstatus};
use crate::foundation::units::VfIndex;
use crate::interfaces::{POWER_DEVICE_D0, POWER_DEVICE_D1, POWER_DEVICE_D2, POWER_DEVICE_D3};
use crate::vgpu::PowerRequest;

/// `DxgkDdiReadVirtualFunctionConfig`: `Length` bytes of the VF's 4 KiB
/// config space at `Offset` into `Data`. A length of 0 or a span past 4 KiB
/// is `STATUS_INVALID_PARAMETER` (nothing written). Reads have no side effects.
///
/// # Safety
/// `pArgs` is NULL or readable; `Data` NULL or writable for `Length` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiReadVirtualFunctionConfig(
    Context: HANDLE,
    pArgs: *const DXGKARG_READVIRTUALFUNCTIONCONFIG,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let len = usize::try_from(args.Length).map_err(|_| Status::InvalidParameter)?;
        crate::vgpu::pci::ConfigSpace::check(args.Offset, len)?;
        let vgpu = p.vgpu(VfIndex(args.VirtualFunctionIndex))?;
        let bytes = vgpu.config_bytes(args.Offset, len)?;
        // SAFETY: NULL or writable for `Length` bytes (contract).
        unsafe { copy_out(bytes, args.Data) }
    }))
}

/// `DxgkDdiWriteVirtualFunctionConfig`: applies the writable bits of `Data`
/// to the VF's config space, with their side effects (BAR sizing, command,
/// MSI-X enable and mask, FLR). Refusals as for the read; nothing changes then.
///
/// # Safety
/// `pArgs` is NULL or readable; `Data` NULL or readable for `Length` bytes.
pub(crate) unsafe extern "system" fn DxgkDdiWriteVirtualFunctionConfig(
    Context: HANDLE,
    pArgs: *const DXGKARG_WRITEVIRTUALFUNCTIONCONFIG,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let len = usize::try_from(args.Length).map_err(|_| Status::InvalidParameter)?;
        crate::vgpu::pci::ConfigSpace::check(args.Offset, len)?;
        drop(p.vgpu(VfIndex(args.VirtualFunctionIndex))?);
        // Copied before the VF lock is taken: the lock covers the write only.
        // `resize` only fills the capacity reserved exactly.
        let mut data = crate::foundation::fallible::try_vec(len)?;
        data.resize(len, 0);
        // SAFETY: NULL or readable for `Length` bytes (contract).
        unsafe { copy_in(args.Data, &mut data) }?;
        p.vgpu_write(VfIndex(args.VirtualFunctionIndex))?
            .config_write(args.Offset, &data)
    }))
}

/// `DxgkDdiReadVirtualFunctionConfigBlock`: no driver-defined config blocks
/// (no guest driver asks for any): `STATUS_NOT_SUPPORTED` for a known VF.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiReadVirtualFunctionConfigBlock(
    Context: HANDLE,
    pArgs: *const DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        drop(p.vgpu(VfIndex(args.VirtualFunctionIndex))?);
        Err(Status::NotSupported)
    }))
}

/// `DxgkDdiWriteVirtualFunctionConfigBlock`: as the read, `STATUS_NOT_SUPPORTED`.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiWriteVirtualFunctionConfigBlock(
    Context: HANDLE,
    pArgs: *const DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        drop(p.vgpu(VfIndex(args.VirtualFunctionIndex))?);
        Err(Status::NotSupported)
    }))
}

/// `DxgkDdiQueryProbedBars`: the six values BAR sizing reads (BAR0 1 MiB,
/// BAR2/3 the 64-bit prefetchable VRAM aperture); zeros for an unknown VF.
///
/// # Safety
/// `pArgs` is NULL or readable; `BaseRegisterValues` NULL or writable for six ULONGs.
pub(crate) unsafe extern "system" fn DxgkDdiQueryProbedBars(
    Context: HANDLE,
    pArgs: *mut DXGKARG_QUERYPROBEDBARS,
) {
    let _ = with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract); only read.
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        let bars = p
            .vgpu(VfIndex(args.VirtualFunctionIndex))
            .map_or([0; 6], |v| v.probed_bars());
        let mut bytes = [0u8; 24];
        for (chunk, bar) in bytes.chunks_exact_mut(4).zip(bars) {
            chunk.copy_from_slice(&bar.to_le_bytes());
        }
        // SAFETY: NULL or writable for six ULONGs (contract).
        unsafe { copy_out(&bytes, args.BaseRegisterValues.cast()) }
    });
}

/// `DxgkDdiGetVendorAndDevice`: the VF's PCI ids; zeros for an unknown VF.
///
/// # Safety
/// `pArgs` is NULL or readable and writable.
pub(crate) unsafe extern "system" fn DxgkDdiGetVendorAndDevice(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETVENDORANDDEVICE,
) {
    let _ = with_partitions(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let (vendor, device) = p
            .vgpu(VfIndex(block.get().VirtualFunctionIndex))
            .map_or((0, 0), |v| v.vendor_and_device());
        block.update(|a| {
            a.VendorId = vendor;
            a.DeviceId = device;
        });
        Ok(())
    });
}

/// `DxgkDdiGetDeviceLocation`: without SR-IOV hardware a VF reports its PF's
/// location. This root-enumerated software adapter is on no PCI bus, so that
/// is segment 0, bus 0, function 0, for every VF; zeros for an unknown VF too.
///
/// # Safety
/// `pArgs` is NULL or readable and writable.
pub(crate) unsafe extern "system" fn DxgkDdiGetDeviceLocation(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETDEVICELOCATION,
) {
    let _ = with_partitions(Context, |_| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        block.update(|a| {
            a.SegmentNumber = 0;
            a.BusNumber = 0;
            a.FunctionNumber = 0;
        });
        Ok(())
    });
}

/// `DxgkDdiResetVirtualFunction`: function-level reset (config space back to
/// its power-on values; the VRAM reserve is kept).
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiResetVirtualFunction(
    Context: HANDLE,
    pArgs: *const DXGKARG_RESETVIRTUALFUNCTION,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        p.vgpu_write(VfIndex(args.VirtualFunctionIndex))?.reset();
        Ok(())
    }))
}

/// `DxgkDdiSetVirtualFunctionPowerState`: D0 starts the vGPU (its reserve
/// must be bound: else `STATUS_INVALID_DEVICE_STATE`), D3 stops it; D1 and D2
/// are `STATUS_NOT_SUPPORTED`, other values `STATUS_INVALID_PARAMETER`.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiSetVirtualFunctionPowerState(
    Context: HANDLE,
    pArgs: *const DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract).
        let args = unsafe { ArgBlock::new(pArgs) }?.get();
        let mut vgpu = p.vgpu_write(VfIndex(args.VirtualFunctionIndex))?;
        let state = match args.PowerState {
            POWER_DEVICE_D0 => PowerRequest::D0,
            POWER_DEVICE_D1 | POWER_DEVICE_D2 => PowerRequest::Intermediate,
            POWER_DEVICE_D3 => PowerRequest::D3,
            _ => return Err(Status::InvalidParameter),
        };
        vgpu.set_power(state, args.Wake != 0)
    }))
}

/// `DxgkDdiGetResourceForBar`: no host-physical MMIO backs a VF BAR (every
/// page is emulated, as the FlexIOV interface says): `STATUS_NOT_SUPPORTED`
/// for a known VF.
///
/// # Safety
/// `pArgs` is NULL or readable.
pub(crate) unsafe extern "system" fn DxgkDdiGetResourceForBar(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETRESOURCEFORBAR,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract); only read.
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        drop(p.vgpu(VfIndex(args.VirtualFunctionIndex))?);
        Err(Status::NotSupported)
    }))
}

/// `DxgkDdiQueryVirtualFunctionLuid`: the LUID CreateVirtualGpu returned;
/// zero for an unknown VF.
///
/// # Safety
/// `pArgs` is NULL or readable; `pLuid` NULL or writable.
pub(crate) unsafe extern "system" fn DxgkDdiQueryVirtualFunctionLuid(
    Context: HANDLE,
    pArgs: *mut DXGKARG_QUERYVIRTUALFUNCTIONLUID,
) {
    let _ = with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract); only read.
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        let luid = p.vgpu(VfIndex(args.VirtualFunctionIndex)).map_or(
            LUID {
                LowPart: 0,
                HighPart: 0,
            },
            |v| v.luid(),
        );
        // SAFETY: NULL or writable (contract).
        unsafe { write_out(args.pLuid, luid) }
    });
}

/// `DxgkDdiGetBackingResource`: no physical resource backs any page (every
/// page is emulated), so for every index the driver "sets all return values
/// and returns STATUS_SUCCESS", as the reference page asks of an unused
/// index: `pMdl` NULL and the descriptor's `Type` `CmResourceTypeNull` (0).
/// The descriptor's layout is not in the ABI tables: only its first byte,
/// the `UCHAR Type` every wdm.h version starts it with, is written.
///
/// # Safety
/// `pArgs` is NULL or readable and writable; `Resource` NULL or writable.
pub(crate) unsafe extern "system" fn DxgkDdiGetBackingResource(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETBACKINGRESOURCE,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        drop(p.vgpu(VfIndex(args.VirtualFunctionIndex))?);
        if !args.Resource.is_null() {
            // SAFETY: non-NULL (checked) and writable (contract); byte 0 is
            // the descriptor's `UCHAR Type`, any value of which is valid.
            unsafe { write_out(args.Resource.cast::<u8>(), 0u8) }?;
        }
        block.update(|a| a.pMdl = core::ptr::null_mut());
        Ok(())
    }))
}

/// `DxgkDdiGetMmioRangeCount`: one range for BAR0 and one for the VRAM
/// aperture (BAR2/3) unless it exceeds 2^31 pages; 0 for the others.
///
/// # Safety
/// `pArgs` is NULL or readable and writable.
pub(crate) unsafe extern "system" fn DxgkDdiGetMmioRangeCount(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETMMIORANGECOUNT,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable and writable block (contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let counts = p
            .vgpu(VfIndex(block.get().VirtualFunctionIndex))?
            .mmio_range_count();
        block.update(|a| a.RangeCount = counts);
        Ok(())
    }))
}

/// `DxgkDdiGetMmioRanges`: the ranges of one virtual BAR, every page
/// emulated (`BasePhysicalPageNumber = DXGK_MMIO_RANGES_EMULATED_PAGE`, reads
/// and writes intercepted). `STATUS_BUFFER_TOO_SMALL` if `NumRanges` is
/// below the BAR's count; `STATUS_INVALID_PARAMETER` for a NULL array, an
/// unknown VF or a BAR without ranges.
///
/// # Safety
/// `pArgs` is NULL or readable; `pMmioRanges` NULL or writable for `NumRanges` entries.
pub(crate) unsafe extern "system" fn DxgkDdiGetMmioRanges(
    Context: HANDLE,
    pArgs: *mut DXGKARG_GETMMIORANGES,
) -> NTSTATUS {
    to_ntstatus(with_partitions(Context, |p| {
        // SAFETY: NULL or a readable block (contract); only read.
        let args = unsafe { ArgBlock::new(pArgs.cast_const()) }?.get();
        let vgpu = p.vgpu(VfIndex(args.VirtualFunctionIndex))?;
        let ranges = vgpu.mmio_ranges(args.BarIndex)?;
        if args.pMmioRanges.is_null() {
            return Err(Status::InvalidParameter);
        }
        let needed = ranges.clone().count();
        let capacity = usize::try_from(args.NumRanges).map_err(|_| Status::InvalidParameter)?;
        if capacity < needed {
            return Err(Status::BufferTooSmall);
        }
        for (i, r) in ranges.enumerate() {
            let info = DXGK_MMIORANGEINFO {
                BasePageNumber: r.first_page,
                BasePhysicalPageNumber: DXGK_MMIO_RANGES_EMULATED_PAGE.cast_unsigned(),
                BasePhysicalResourceNumber: 0,
                InterceptReads: 1,
                InterceptWrites: 1,
                PageCount: r.pages,
            };
            let entry = args.pMmioRanges.wrapping_add(i);
            // SAFETY: `pMmioRanges` is non-NULL (checked) and writable for
            // `NumRanges` entries (contract); entry `i < needed <= NumRanges`
            // is one of them.
            let mut out = unsafe { OutBuffer::new(entry.cast(), size_of::<DXGK_MMIORANGEINFO>()) }?;
            out.write_whole(&info)?;
        }
        Ok(())
    }))
}

const _: () = assert!(offset_of!(DXGKARG_QUERYPROBEDBARS, BaseRegisterValues) == 8);
