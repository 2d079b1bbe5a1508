//! Adapter lifecycle DDIs: AddDevice, StartDevice, StopDevice, RemoveDevice, Unload.

use dxgk_sys::*;

use crate::adapter::{Adapter, registry};
use crate::ddi::arg::ArgBlock;
use crate::ddi::write_out;
use crate::foundation::status::{Status, to_ntstatus};
use crate::kernel::KernelInterface;

/// `DxgkDdiAddDevice`: creates the adapter context and returns its handle in
/// `*MiniportDeviceContext`.
///
/// Returns `STATUS_INVALID_PARAMETER` for a NULL argument and
/// `STATUS_INSUFFICIENT_RESOURCES` when the adapter table is full.
///
/// # Safety
/// `MiniportDeviceContext` is NULL or writable (Dxgkrnl's contract).
pub(crate) unsafe extern "system" fn DxgkDdiAddDevice(
    PhysicalDeviceObject: PDEVICE_OBJECT,
    MiniportDeviceContext: *mut PVOID,
) -> NTSTATUS {
    to_ntstatus((|| {
        if PhysicalDeviceObject.is_null() || MiniportDeviceContext.is_null() {
            return Err(Status::InvalidParameter);
        }
        let handle = registry::insert(Adapter::new(PhysicalDeviceObject.addr()))?;
        // SAFETY: `MiniportDeviceContext` is the DDI's out-parameter, writable
        // for one `PVOID` (this function's contract); checked non-NULL.
        unsafe { write_out(MiniportDeviceContext, handle.to_raw()) }?;
        crate::trace!("AddDevice -> {:p}", handle.to_raw());
        Ok(())
    })())
}

/// `DxgkDdiStartDevice`: keeps the `DXGKRNL_INTERFACE`, checks the device
/// information it returns, builds the memory-basis engine for the adapter's
/// segments, and reports 0 video present sources and 0 children.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter or a NULL or
/// too-small argument, `STATUS_INVALID_DEVICE_STATE` if already started, and
/// `STATUS_NO_MEMORY` if the engine cannot be allocated.
///
/// # Safety
/// Non-NULL pointers are valid as Dxgkrnl passes them to StartDevice.
pub(crate) unsafe extern "system" fn DxgkDdiStartDevice(
    MiniportDeviceContext: PVOID,
    DxgkStartInfo: *mut DXGK_START_INFO,
    DxgkInterface: *mut DXGKRNL_INTERFACE,
    NumberOfVideoPresentSources: *mut ULONG,
    NumberOfChildren: *mut ULONG,
) -> NTSTATUS {
    // Dxgkrnl's callback is made before the adapter lock is taken: no
    // callback into Dxgkrnl with a driver lock held.
    let prepared = (|| {
        if NumberOfVideoPresentSources.is_null() || NumberOfChildren.is_null() {
            return Err(Status::InvalidParameter);
        }
        // The start info carries nothing this adapter uses, but Dxgkrnl always
        // passes one: reading it checks the argument.
        // SAFETY: NULL or a readable `DXGK_START_INFO` (Dxgkrnl's
        // contract); read-only here.
        let _start_info = unsafe { ArgBlock::new(DxgkStartInfo.cast_const()) }?.get();
        // SAFETY: NULL or a DXGKRNL_INTERFACE of its stated size (Dxgkrnl's contract).
        let kernel = unsafe { KernelInterface::copy_from(DxgkInterface) }?;
        let info = kernel.device_information()?;
        Ok((kernel, info.PhysicalDeviceObject.addr()))
    })();
    to_ntstatus(prepared.and_then(|(kernel, physical_device)| {
        let vram = registry::with_adapter_mut(MiniportDeviceContext, |adapter| {
            if physical_device != adapter.physical_device() {
                return Err(Status::InvalidParameter);
            }
            let slot = registry::AdapterHandle::from_raw(MiniportDeviceContext)
                .map_err(|_| Status::InvalidParameter)?
                .slot();
            adapter.start(kernel, slot)?;
            // The engine writes the very VRAM bytes the adapter holds.
            let vram = match adapter.started()?.vram.try_share() {
                Ok(vram) => vram,
                Err(e) => {
                    adapter.stop()?;
                    return Err(e);
                }
            };
            // SAFETY: the DDI's out-parameter for the source count, writable
            // for one `ULONG` (this function's contract); checked non-NULL.
            unsafe { write_out(NumberOfVideoPresentSources, 0) }?;
            // SAFETY: the DDI's out-parameter for the child count, writable
            // for one `ULONG` (this function's contract); checked non-NULL.
            unsafe { write_out(NumberOfChildren, 0) }?;
            crate::trace!("StartDevice {:p}", MiniportDeviceContext);
            Ok(vram)
        })?;
        // The software engine and its worker (`ddi::engine_table`), bound to
        // the adapter's VRAM.
        let memory = super::engine_table::MemoryBinding::Vram(vram);
        super::engine_table::attach(MiniportDeviceContext, kernel, memory).or_else(|e| {
            registry::with_adapter_mut(MiniportDeviceContext, Adapter::stop)?;
            Err(e)
        })
    }))
}

/// `DxgkDdiStopDevice`.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown adapter and
/// `STATUS_INVALID_DEVICE_STATE` if it is not started.
///
/// # Safety
/// Always safe to call: the handle is looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiStopDevice(MiniportDeviceContext: PVOID) -> NTSTATUS {
    super::engine_table::detach(MiniportDeviceContext);
    to_ntstatus(registry::with_adapter_mut(
        MiniportDeviceContext,
        Adapter::stop,
    ))
}

/// `DxgkDdiRemoveDevice`: frees the adapter context (stopping it first if
/// Dxgkrnl did not). A second Remove finds no adapter.
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown or already removed adapter.
///
/// # Safety
/// Always safe to call: the handle is looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiRemoveDevice(MiniportDeviceContext: PVOID) -> NTSTATUS {
    to_ntstatus((|| {
        super::engine_table::detach(MiniportDeviceContext);
        // The adapter, and everything it owns, is dropped at the end of this statement.
        registry::remove(MiniportDeviceContext)?;
        crate::trace!("RemoveDevice {:p}", MiniportDeviceContext);
        Ok(())
    })())
}

/// `DxgkDdiUnload`: Dxgkrnl calls it after every adapter was removed; the
/// driver keeps no global state beyond the (then empty) adapter table.
///
/// # Safety
/// Always safe to call.
pub(crate) unsafe extern "system" fn DxgkDdiUnload() {
    crate::trace!("Unload");
    // Every adapter was removed and no DDI runs any more: the adapter
    // table's lock primitives (ERESOURCEs on Windows) are released.
    crate::adapter::registry::retire();
}
