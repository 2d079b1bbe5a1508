//! The render core's object DDIs as Dxgkrnl and VidMm call them
//! (`../shared/spec/adapter-start.md` 2.4, 3.3): GPU-VA processes, devices,
//! contexts, root page tables, node metadata, and ordinary allocations
//! created, placed by the model's VidMm ([`crate::vgpu`]'s placement),
//! described, opened, closed and destroyed.
//!
//! Each wrapper calls the driver only through its DDI table, with argument
//! blocks the model owns, and returns what the driver answered. The `_raw`
//! forms take the block as given (for tests of invalid arguments).
//! VidSch's step of spec 2.4 (the two system devices, a system context per
//! node and the paging context) is the start's ([`crate::start`], shared with
//! the Wine fixture); [`Adapter::paging_process`] says what it created.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use gpup_miniport::render::allocation::AllocationData;

use crate::adapter::Adapter;
use crate::status::{Result, check};
use crate::vgpu::Pinned;

pub use crate::records::{Context, ContextHandle, DeviceHandle, PagingProcess, ProcessHandle};

/// An ordinary allocation the driver created and VidMm placed.
#[derive(Debug, Clone, Copy)]
pub struct PlacedAllocation {
    /// The driver's `hAllocation`.
    pub handle: usize,
    /// `DXGK_ALLOCATIONINFO` as the driver filled it.
    pub info: DXGK_ALLOCATIONINFO,
    /// Where VidMm pinned it.
    pub pinned: Pinned,
}

fn raw(handle: usize) -> HANDLE {
    core::ptr::without_provenance_mut(handle)
}

impl Adapter {
    fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        self.driver().table()
    }

    /// `DxgkDdiCreateProcess` with `flags`.
    ///
    /// # Errors
    /// The driver's status; `STATUS_NOT_SUPPORTED` for an empty slot.
    pub fn create_process(&self, flags: CreateProcessFlags) -> Result<ProcessHandle> {
        let f = self
            .table()
            .DxgkDdiCreateProcess
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_CREATEPROCESS::zeroed();
        args.hDxgkProcess = raw(0xD0_0001);
        args.Flags.Value = flags;
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(self.context(), &raw mut args) })?;
        Ok(ProcessHandle(args.hKmdProcess.addr()))
    }

    /// `DxgkDdiDestroyProcess`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn destroy_process(&self, process: ProcessHandle) -> Result<()> {
        let f = self
            .table()
            .DxgkDdiDestroyProcess
            .ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: a DDI of the loaded driver; the handle is only an integer to it.
        check(unsafe { f(self.context(), raw(process.0)) })
    }

    /// `DxgkDdiCreateDevice` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a live, writable block.
    #[must_use]
    pub unsafe fn create_device_raw(&self, args: *mut DXGKARG_CREATEDEVICE) -> NTSTATUS {
        let Some(f) = self.table().DxgkDdiCreateDevice else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiCreateDevice` with `flags` (`SystemDevice` for VidSch's
    /// system devices), in `process` if given. Checks, as Dxgkrnl relies on,
    /// that the driver returned a handle and set `pInfo` to NULL.
    ///
    /// # Errors
    /// The driver's status; `STATUS_UNSUCCESSFUL` for a NULL handle or a
    /// non-NULL `pInfo`.
    pub fn create_device(
        &self,
        flags: CreateDeviceFlags,
        process: Option<ProcessHandle>,
    ) -> Result<DeviceHandle> {
        let mut args = DXGKARG_CREATEDEVICE::zeroed();
        args.hDevice = raw(0xDE_0001);
        args.set_flags(flags);
        args.hKmdProcess = raw(process.map_or(0, |p| p.0));
        // SAFETY: `args` is live.
        check(unsafe { self.create_device_raw(&raw mut args) })?;
        if args.hDevice.is_null() || args.hDevice.addr() == 0xDE_0001 || !args.pInfo.is_null() {
            return Err(STATUS_UNSUCCESSFUL);
        }
        Ok(DeviceHandle(args.hDevice.addr()))
    }

    /// `DxgkDdiDestroyDevice`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn destroy_device(&self, device: DeviceHandle) -> Result<()> {
        let f = self
            .table()
            .DxgkDdiDestroyDevice
            .ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: a DDI of the loaded driver; the handle is only an integer to it.
        check(unsafe { f(raw(device.0)) })
    }

    /// `DxgkDdiCreateContext` on `device`, node `node`, engine 0, `flags`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn create_context(
        &self,
        device: DeviceHandle,
        node: u32,
        flags: CreateContextFlags,
    ) -> Result<Context> {
        let f = self
            .table()
            .DxgkDdiCreateContext
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_CREATECONTEXT::zeroed();
        args.hContext = raw(0xC0_0001);
        args.NodeOrdinal = node;
        args.EngineAffinity = 1;
        args.Flags.Value = flags;
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(raw(device.0), &raw mut args) })?;
        Ok(Context {
            handle: ContextHandle(args.hContext.addr()),
            info: args.ContextInfo,
        })
    }

    /// `DxgkDdiDestroyContext`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn destroy_context(&self, context: ContextHandle) -> Result<()> {
        let f = self
            .table()
            .DxgkDdiDestroyContext
            .ok_or(STATUS_NOT_SUPPORTED)?;
        // SAFETY: a DDI of the loaded driver; the handle is only an integer to it.
        check(unsafe { f(raw(context.0)) })
    }

    /// `DxgkDdiGetRootPageTableSize` for `entries`: (bytes, entries held).
    ///
    /// # Errors
    /// `STATUS_NOT_SUPPORTED` for an empty slot.
    pub fn root_page_table_size(
        &self,
        entries: u32,
        physical_adapter: u32,
    ) -> Result<(usize, u32)> {
        let f = self
            .table()
            .DxgkDdiGetRootPageTableSize
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_GETROOTPAGETABLESIZE {
            NumberOfPte: entries,
            PhysicalAdapterIndex: physical_adapter,
        };
        // SAFETY: a DDI of the loaded driver; `args` is live.
        let bytes = unsafe { f(self.context(), &raw mut args) };
        Ok((bytes, args.NumberOfPte))
    }

    /// `DxgkDdiSetRootPageTable` (no status: the DDI returns nothing).
    pub fn set_root_page_table(
        &self,
        context: ContextHandle,
        segment: u32,
        offset: u64,
        entries: u32,
    ) {
        let Some(f) = self.table().DxgkDdiSetRootPageTable else {
            return;
        };
        let mut args = DXGKARG_SETROOTPAGETABLE::zeroed();
        args.hContext = raw(context.0);
        args.Address.SegmentId = segment;
        args.Address.SegmentOffset = offset;
        args.NumEntries = entries;
        // SAFETY: a DDI of the loaded driver; `args` is live.
        unsafe { f(self.context(), &raw const args) };
    }

    /// `DxgkDdiGetNodeMetadata` of `node` on physical adapter
    /// `physical_adapter`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn node_metadata(&self, node: u16, physical_adapter: u16) -> Result<DXGK_NODEMETADATA> {
        let f = self
            .table()
            .DxgkDdiGetNodeMetadata
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut out = DXGK_NODEMETADATA::zeroed();
        let which = u32::from(node) | (u32::from(physical_adapter) << 16);
        // SAFETY: a DDI of the loaded driver; `out` is live.
        check(unsafe { f(self.context(), which, &raw mut out) })?;
        Ok(out)
    }

    /// Creates an ordinary allocation described by `data`
    /// (`DxgkDdiCreateAllocation` with its private data) and has VidMm place
    /// it where the driver's answer allows; the driver's allocation is
    /// destroyed again if VidMm cannot place it.
    ///
    /// # Errors
    /// The driver's status; VidMm's refusal (see [`Self::vidmm_pin`]).
    pub fn create_allocation(&self, data: &AllocationData) -> Result<PlacedAllocation> {
        let mut bytes = data.encode();
        let mut info = DXGK_ALLOCATIONINFO::zeroed();
        info.pPrivateDriverData = bytes.as_mut_ptr().cast();
        info.PrivateDriverDataSize = AllocationData::SIZE as UINT;
        let mut create = DXGKARG_CREATEALLOCATION::zeroed();
        create.NumAllocations = 1;
        create.pAllocationInfo = &raw mut info;
        // SAFETY: `create` is live with one live entry and its private data.
        check(unsafe { self.create_allocation_raw(&raw mut create) })?;
        let handle = info.hAllocation.addr();
        match self.vidmm_pin(&info) {
            Ok(pinned) => Ok(PlacedAllocation {
                handle,
                info,
                pinned,
            }),
            Err(status) => {
                let _ = self.destroy_allocations(&[handle]);
                Err(status)
            }
        }
    }

    /// Destroys an ordinary allocation (`DxgkDdiDestroyAllocation`) and
    /// unpins it.
    ///
    /// # Errors
    /// The driver's status (the pin is released either way).
    pub fn destroy_placed_allocation(&self, a: &PlacedAllocation) -> Result<()> {
        self.vidmm_unpin(a.pinned);
        self.destroy_allocations(&[a.handle])
    }

    /// `DxgkDdiDescribeAllocation` of the driver allocation `handle`.
    ///
    /// # Errors
    /// The driver's status.
    pub fn describe_allocation(&self, handle: usize) -> Result<DXGKARG_DESCRIBEALLOCATION> {
        let f = self
            .table()
            .DxgkDdiDescribeAllocation
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut args = DXGKARG_DESCRIBEALLOCATION::zeroed();
        args.hAllocation = raw(handle);
        // SAFETY: a DDI of the loaded driver; `args` is live.
        check(unsafe { f(self.context(), &raw mut args) })?;
        Ok(args)
    }

    /// `DxgkDdiOpenAllocation` on `device` of allocations given by their
    /// kernel handle and private data; returns the device-specific handles.
    ///
    /// # Errors
    /// The driver's status.
    pub fn open_allocations(
        &self,
        device: DeviceHandle,
        allocations: &[(u32, &[u8])],
    ) -> Result<Vec<usize>> {
        let f = self
            .table()
            .DxgkDdiOpenAllocation
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let mut infos: Vec<DXGK_OPENALLOCATIONINFO> = allocations
            .iter()
            .map(|&(kernel, data)| DXGK_OPENALLOCATIONINFO {
                hAllocation: kernel,
                pPrivateDriverData: data.as_ptr().cast_mut().cast(),
                PrivateDriverDataSize: data.len() as UINT,
                hDeviceSpecificAllocation: core::ptr::null_mut(),
            })
            .collect();
        let mut args = DXGKARG_OPENALLOCATION::zeroed();
        args.NumAllocations = infos.len() as UINT;
        args.pOpenAllocation = infos.as_mut_ptr();
        args.Flags.Value = OpenAllocationFlags::Create;
        // SAFETY: a DDI of the loaded driver; `args` and its entries are live,
        // each entry's private data is the caller's slice (read only).
        check(unsafe { f(raw(device.0), &raw const args) })?;
        Ok(infos
            .iter()
            .map(|i| i.hDeviceSpecificAllocation.addr())
            .collect())
    }

    /// `DxgkDdiCloseAllocation` on `device` of device-specific handles.
    ///
    /// # Errors
    /// The driver's status.
    pub fn close_allocations(&self, device: DeviceHandle, handles: &[usize]) -> Result<()> {
        let f = self
            .table()
            .DxgkDdiCloseAllocation
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let list: Vec<HANDLE> = handles.iter().map(|&h| raw(h)).collect();
        let args = DXGKARG_CLOSEALLOCATION {
            NumAllocations: list.len() as UINT,
            pOpenHandleList: list.as_ptr(),
        };
        // SAFETY: a DDI of the loaded driver; `args` and `list` are live.
        check(unsafe { f(raw(device.0), &raw const args) })
    }
}
