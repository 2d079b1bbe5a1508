//! The render core's object DDIs (`../shared/spec/adapter-start.md` 3.3):
//! devices, contexts, GPU-VA processes and their root page tables, node
//! metadata. All run at PASSIVE_LEVEL (their reference pages), so each takes
//! the adapter lock (read) and then the render lock (`crate::render`).
//! Allocations (create, destroy, describe, open, close) are in
//! `ddi::allocation` and `ddi::render_open`.
//!
//! Device and context handles come back without an adapter handle; they
//! carry the adapter's registry slot (`crate::render::table`), and are looked
//! up, generation-checked, in that adapter's tables.

use dxgk_sys::*;

use crate::adapter::{Adapter, caps, registry};
use crate::ddi::arg::{ArgBlock, ArgRecord};
use crate::foundation::status::{Result, Status, to_ntstatus};
use crate::render::table::adapter_of;
use crate::render::{
    ContextHandle, Device, DeviceHandle, NODE_COUNT, ProcessHandle, Render, RootPageTable, root,
};

// SAFETY: Dxgkrnl passes the whole record to the DDI that takes it (each
// DDI's documented contract); none of these states a size of its own.
unsafe impl ArgRecord for DXGKARG_CREATEDEVICE {}
// SAFETY: as above.
unsafe impl ArgRecord for DXGKARG_CREATECONTEXT {}
// SAFETY: as above.
unsafe impl ArgRecord for DXGKARG_CREATEPROCESS {}
// SAFETY: as above.
unsafe impl ArgRecord for DXGKARG_GETROOTPAGETABLESIZE {}
// SAFETY: as above.
unsafe impl ArgRecord for DXGKARG_SETROOTPAGETABLE {}

/// The node's name in Task Manager and ETW.
const NODE_NAME: &str = "GPU-P Software Compute";

/// Runs `f` with the render objects of the started adapter `hAdapter` names.
fn with_render<R>(hAdapter: HANDLE, f: impl FnOnce(&Adapter, &Render) -> Result<R>) -> Result<R> {
    registry::with_adapter(hAdapter, |adapter| {
        let render = adapter.started()?.render.read();
        f(adapter, &render)
    })
}

/// Runs `f` with the render objects, for writing, of the started adapter in
/// registry slot `slot` (named by a device or context handle).
fn with_render_in_slot<R>(slot: usize, f: impl FnOnce(&mut Render) -> Result<R>) -> Result<R> {
    registry::with_adapter_in_slot(slot, |adapter| {
        let started = adapter.started().map_err(|_| Status::InvalidHandle)?;
        f(&mut started.render.write())
    })
}

/// `DxgkDdiCreateDevice`: creates a device (a system device with
/// `Flags.SystemDevice`, VidSch's two at adapter start; the GPU-P host's vGPU
/// device and any other are ordinary) and returns its handle in `hDevice`;
/// `pInfo` is set to NULL (DMA buffers are described per context).
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown or unstarted adapter, a
/// NULL block or an `hKmdProcess` that names no live process, and
/// `STATUS_NO_MEMORY` when the adapter holds 64 devices.
///
/// # Safety
/// `pCreateDevice` is NULL or a readable and writable block.
pub(crate) unsafe extern "system" fn DxgkDdiCreateDevice(
    hAdapter: HANDLE,
    pCreateDevice: *mut DXGKARG_CREATEDEVICE,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started().map_err(|_| Status::InvalidParameter)?;
        // SAFETY: NULL or a readable and writable block (this function's contract).
        let mut block = unsafe { ArgBlock::new(pCreateDevice) }?;
        let args = block.get();
        let process = if args.hKmdProcess.is_null() {
            None
        } else {
            Some(ProcessHandle::from_raw(args.hKmdProcess).map_err(|_| Status::InvalidParameter)?)
        };
        let device = started.render.write().create_device(Device {
            flags: args.flags().bits(),
            process,
        })?;
        block.update(|args| {
            args.hDevice = device.to_raw();
            args.pInfo = core::ptr::null_mut();
        });
        crate::trace!(
            "CreateDevice flags {:#x} -> {:p}",
            args.flags().bits(),
            device.to_raw()
        );
        Ok(())
    }))
}

/// `DxgkDdiDestroyDevice`: destroys the device, and any context or open of
/// it Dxgkrnl left (`STATUS_INVALID_HANDLE` for an unknown or destroyed one).
///
/// # Safety
/// Always safe to call: the handle is decoded and looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiDestroyDevice(hDevice: HANDLE) -> NTSTATUS {
    to_ntstatus((|| {
        let device = DeviceHandle::from_raw(hDevice)?;
        with_render_in_slot(adapter_of(device), |r| r.destroy_device(device).map(|_| ()))
    })())
}

/// `DxgkDdiCreateContext` on `hDevice`: a context on node 0 (the one
/// software node), `EngineAffinity` 0 or 1, and its `DXGK_CONTEXTINFO`: a
/// 64 KiB DMA buffer in the paging aperture (segment 1's bit), no DMA private
/// data, no allocation or patch-location list (a GPU-VA context).
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown or destroyed device, a
/// node at or past the node count, another engine, or a NULL block, and
/// `STATUS_NO_MEMORY` when the adapter holds 64 contexts.
///
/// # Safety
/// `pCreateContext` is NULL or a readable and writable block.
pub(crate) unsafe extern "system" fn DxgkDdiCreateContext(
    hDevice: HANDLE,
    pCreateContext: *mut DXGKARG_CREATECONTEXT,
) -> NTSTATUS {
    to_ntstatus((|| {
        let device = DeviceHandle::from_raw(hDevice).map_err(|_| Status::InvalidParameter)?;
        // SAFETY: NULL or a readable and writable block (this function's contract).
        let mut block = unsafe { ArgBlock::new(pCreateContext) }?;
        let args = block.get();
        let (context, info) = with_render_in_slot(adapter_of(device), |r| {
            r.create_context(
                device,
                args.NodeOrdinal,
                args.EngineAffinity,
                args.Flags.Value.bits(),
            )
        })
        .map_err(|e| match e {
            Status::InvalidHandle => Status::InvalidParameter,
            other => other,
        })?;
        block.update(|args| {
            args.hContext = context.to_raw();
            args.ContextInfo = DXGK_CONTEXTINFO {
                DmaBufferSize: info.dma_buffer_size,
                DmaBufferSegmentSet: info.dma_buffer_segment_set,
                DmaBufferPrivateDataSize: info.dma_buffer_private_data_size,
                AllocationListSize: 0,
                PatchLocationListSize: 0,
                Reserved: 0,
                Caps: DXGK_CONTEXTINFO_CAPS {
                    Value: ContextInfoCaps::empty(),
                },
                PagingCompanionNodeId: 0,
            };
        });
        Ok(())
    })())
}

/// `DxgkDdiDestroyContext` (`STATUS_INVALID_HANDLE` for an unknown or
/// destroyed context).
///
/// # Safety
/// Always safe to call: the handle is decoded and looked up, never dereferenced.
pub(crate) unsafe extern "system" fn DxgkDdiDestroyContext(hContext: HANDLE) -> NTSTATUS {
    to_ntstatus((|| {
        let context = ContextHandle::from_raw(hContext)?;
        with_render_in_slot(adapter_of(context), |r| {
            r.destroy_context(context).map(|_| ())
        })
    })())
}

/// `DxgkDdiCreateProcess`: a GPU-VA process; its handle goes in `hKmdProcess`.
///
/// PASSIVE_LEVEL: its page gives no IRQL, but lets the driver call
/// `DxgkCbReserveVirtualAddressRange` from it, a PASSIVE_LEVEL callback; so it
/// takes the adapter and render locks. DestroyProcess, its counterpart on
/// the same process-lifetime path (and likewise without an IRQL on its page),
/// is taken to run at PASSIVE_LEVEL too (an assumption, `docs/contract.md`).
///
/// Returns `STATUS_INVALID_PARAMETER` for an unknown or unstarted adapter or
/// a NULL block, `STATUS_NO_MEMORY` when the adapter holds 256 processes.
///
/// # Safety
/// `pArgs` is NULL or a readable and writable block.
pub(crate) unsafe extern "system" fn DxgkDdiCreateProcess(
    hAdapter: PVOID,
    pArgs: *mut DXGKARG_CREATEPROCESS,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started().map_err(|_| Status::InvalidParameter)?;
        // SAFETY: NULL or a readable and writable block (this function's contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let flags = block.get().Flags.Value.bits();
        let process = started.render.write().create_process(flags)?;
        block.update(|args| args.hKmdProcess = process.to_raw());
        Ok(())
    }))
}

/// `DxgkDdiDestroyProcess` (`STATUS_INVALID_HANDLE` for an unknown or
/// destroyed process, `STATUS_INVALID_PARAMETER` for an unknown adapter).
///
/// # Safety
/// Always safe to call: both handles are decoded and looked up.
pub(crate) unsafe extern "system" fn DxgkDdiDestroyProcess(
    hAdapter: PVOID,
    KmdProcessHandle: HANDLE,
) -> NTSTATUS {
    to_ntstatus(registry::with_adapter(hAdapter, |adapter| {
        let started = adapter.started().map_err(|_| Status::InvalidParameter)?;
        let process = ProcessHandle::from_raw(KmdProcessHandle)?;
        started.render.write().destroy_process(process).map(|_| ())
    }))
}

/// `DxgkDdiGetRootPageTableSize`: the bytes of a root page table holding at
/// least `NumberOfPte` entries (`crate::mmu::root_page_table_size`: 8-byte
/// entries, whole 4 KiB pages, at least one), and in `NumberOfPte` the
/// entries it holds; 0 bytes, nothing written, for more entries than the
/// 2-level geometry's root indexes (512, which VidMm never asks beyond). Its page gives no IRQL, so it is in `ddi::irql::ABOVE_PASSIVE`:
/// arithmetic on its block only, no lock, no adapter lookup (`hAdapter` is
/// only checked to have an adapter handle's shape). Physical adapter 0
/// only; 0 bytes, nothing written, for anything else (the DDI has no status).
///
/// # Safety
/// `pArgs` is NULL or a readable and writable block.
pub(crate) unsafe extern "system" fn DxgkDdiGetRootPageTableSize(
    hAdapter: HANDLE,
    pArgs: *mut DXGKARG_GETROOTPAGETABLESIZE,
) -> SIZE_T {
    (|| {
        registry::AdapterHandle::from_raw(hAdapter)?;
        // SAFETY: NULL or a readable and writable block (this function's contract).
        let mut block = unsafe { ArgBlock::new(pArgs) }?;
        let args = block.get();
        if args.PhysicalAdapterIndex != 0 {
            return Err(Status::InvalidParameter);
        }
        let (bytes, entries) =
            crate::mmu::root_page_table_size(args.NumberOfPte).ok_or(Status::InvalidParameter)?;
        let bytes = usize::try_from(bytes).map_err(|_| Status::InvalidParameter)?;
        block.update(|args| args.NumberOfPte = entries);
        Ok(bytes)
    })()
    .unwrap_or(0)
}

/// `DxgkDdiSetRootPageTable`: records the context's root page table
/// (segment, offset, entries) in `crate::render::root`, where the software
/// engine finds it to walk the VIRTUAL operations' GPU VAs. Its page gives no IRQL, so it is in
/// `ddi::irql::ABOVE_PASSIVE`: lock-free and allocation-free. The DDI
/// returns nothing: a NULL block, a value that is not a context handle, or
/// 0 entries is ignored.
///
/// # Safety
/// `pSetPageTable` is NULL or a readable block.
pub(crate) unsafe extern "system" fn DxgkDdiSetRootPageTable(
    hAdapter: HANDLE,
    pSetPageTable: *const DXGKARG_SETROOTPAGETABLE,
) {
    let _ = hAdapter;
    let _ = (|| {
        // SAFETY: NULL or a readable block (this function's contract).
        let args = unsafe { ArgBlock::new(pSetPageTable) }?.get();
        let context = ContextHandle::from_raw(args.hContext)?;
        if args.NumEntries == 0 {
            return Err(Status::InvalidParameter);
        }
        root::record(
            context,
            RootPageTable {
                segment: args.Address.SegmentId,
                offset: args.Address.SegmentOffset,
                entries: args.NumEntries,
            },
        );
        Ok(())
    })();
}

/// `DxgkDdiGetNodeMetadata`: node 0 of physical adapter 0 (the low and high
/// 16 bits of `NodeOrdinalAndAdapterIndex`) is a 3D-type engine named
/// "GPU-P Software Compute", with `GpuMmuSupported` as the driver caps'
/// `MemoryManagementCaps.GpuMmuSupported`, no IoMmu, no flags.
///
/// 3D, not COPY: on a compute-only adapter the 3D type is the one D3D12
/// compute queues are scheduled on (the MCDM peer in the spec names its 3D
/// node "Compute"); a lone COPY node would leave the adapter with no engine
/// for compute work. The node is also the paging node (spec 5.1), which any
/// engine type may be.
///
/// Returns `STATUS_INVALID_PARAMETER` for another node or physical adapter,
/// an unknown or unstarted adapter, or a NULL block.
///
/// # Safety
/// `pGetNodeMetadata` is NULL or a writable `DXGK_NODEMETADATA`.
pub(crate) unsafe extern "system" fn DxgkDdiGetNodeMetadata(
    hAdapter: HANDLE,
    NodeOrdinalAndAdapterIndex: UINT,
    pGetNodeMetadata: *mut DXGK_NODEMETADATA,
) -> NTSTATUS {
    to_ntstatus(with_render(hAdapter, |_, _| {
        let node = NodeOrdinalAndAdapterIndex & 0xFFFF;
        let physical_adapter = NodeOrdinalAndAdapterIndex >> 16;
        if node >= NODE_COUNT || physical_adapter != 0 {
            return Err(Status::InvalidParameter);
        }
        let mut name = [0u16; 32];
        // The last unit stays 0: the name is NUL-terminated.
        for (dst, src) in name.iter_mut().take(31).zip(NODE_NAME.encode_utf16()) {
            *dst = src;
        }
        let metadata = DXGK_NODEMETADATA {
            EngineType: DXGK_ENGINE_TYPE(DXGK_ENGINE_TYPE_3D),
            FriendlyName: name,
            Flags: DXGK_NODEMETADATA_FLAGS {
                Value: NodeMetadataFlags::empty(),
            },
            GpuMmuSupported: u8::from(node_uses_gpu_mmu()),
            IoMmuSupported: 0,
        };
        // SAFETY: NULL or writable for one `DXGK_NODEMETADATA` (this
        // function's contract); the write is unaligned-safe.
        unsafe { crate::ddi::write_out(pGetNodeMetadata, metadata) }
    }))
}

/// Whether the node uses the GPU MMU: what the driver caps report.
pub(crate) fn node_uses_gpu_mmu() -> bool {
    caps::driver_caps()
        .MemoryManagementCaps
        .Value
        .contains(VidMmCaps::GpuMmuSupported)
}
