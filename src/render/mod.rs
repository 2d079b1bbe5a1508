//! The render core's objects (`../shared/spec/adapter-start.md` 2.4, 3.3):
//! devices, contexts, GPU-VA processes with their root page tables (recorded
//! here, walked by the engine's VIRTUAL operations), ordinary allocations and the per-device opens of
//! allocations, of one started adapter. Safe code only: the trampolines in
//! `crate::ddi::render` read the OS's argument blocks and call in here.
//!
//! - Every object is named by a generation-checked handle
//!   (`crate::foundation::handle`), never by an address; a destroyed object's
//!   handle is refused (`STATUS_INVALID_HANDLE`, or the status the DDI
//!   documents) from then on. Device and context handles also carry the
//!   adapter's registry slot (`table`), because Dxgkrnl passes them back
//!   without an adapter handle.
//! - One software node (node 0, `NODE_COUNT`) runs every context: VidSch's
//!   system context, its paging context, and any other device's contexts.
//!   Its DMA buffers live in the paging aperture (segment 1,
//!   `crate::memory::APERTURE_SEGMENT_ID`).
//! - GpuMmu geometry: `crate::mmu` (two levels of 4 KiB pages with 8-byte
//!   entries), shared with the GPUMMUCAPS and PAGETABLELEVELDESC answers.
//! - Bounds: 64 devices and 64 contexts per adapter (`table::PER_ADAPTER`),
//!   256 processes, 1024 ordinary allocations and 1024 opens; a full table is
//!   `STATUS_NO_MEMORY` at the DDI (what CreateDevice documents for "could not
//!   allocate").
//!
//! Locking: the render lock (`Started::render`) is taken after the adapter
//! lock, never together with the partitioning lock (`docs/locking.md`).

pub mod allocation;
pub(crate) mod root;
pub(crate) mod table;

use alloc::vec::Vec;

use crate::foundation::fallible::{push, try_vec};
use crate::foundation::handle::{Handle, Table};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{Segment, SegmentId};
use crate::memory::{APERTURE_SEGMENT_ID, APERTURE_SIZE};
use allocation::AllocationData;
#[cfg(test)]
use allocation::AllocationKind;
use table::ScopedTable;

/// Nodes (engines VidSch schedules) of the adapter: one software node.
pub(crate) const NODE_COUNT: u32 = 1;
/// Bytes of a context's DMA buffer.
pub(crate) const DMA_BUFFER_SIZE: u32 = 64 << 10;
/// Bytes of private data per DMA buffer (none: the software engine keeps its
/// own bookkeeping).
pub(crate) const DMA_BUFFER_PRIVATE_DATA_SIZE: u32 = 0;

const DEVICE_TAG: u8 = b'D';
const CONTEXT_TAG: u8 = b'X';
const PROCESS_TAG: u8 = b'P';
const ALLOCATION_TAG: u8 = b'R';
const OPEN_TAG: u8 = b'O';

/// A device handle (`hDevice`).
pub(crate) type DeviceHandle = Handle<DEVICE_TAG>;
/// A context handle (`hContext`).
pub(crate) type ContextHandle = Handle<CONTEXT_TAG>;
/// A process handle (`hKmdProcess`).
pub(crate) type ProcessHandle = Handle<PROCESS_TAG>;
/// An ordinary allocation handle (`hAllocation`).
pub(crate) type RenderAllocationHandle = Handle<ALLOCATION_TAG>;
/// A device-specific allocation handle (`hDeviceSpecificAllocation`).
pub(crate) type OpenHandle = Handle<OPEN_TAG>;

const MAX_PROCESSES: usize = 256;
const MAX_ALLOCATIONS: usize = 1024;
const MAX_OPENS: usize = 1024;

/// A GPU-VA process (`DxgkDdiCreateProcess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Process {
    /// `DXGK_CREATEPROCESSFLAGS`, as given.
    pub(crate) flags: u32,
}

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Device {
    /// `DXGK_CREATEDEVICEFLAGS`, as given (`SystemDevice` = bit 0).
    pub(crate) flags: u32,
    /// The process it belongs to, if Dxgkrnl named one.
    pub(crate) process: Option<ProcessHandle>,
}

/// A root page table as VidMm placed it (recorded in `root`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RootPageTable {
    /// Driver segment id.
    pub(crate) segment: u32,
    /// Byte offset in the segment.
    pub(crate) offset: u64,
    /// Entries.
    pub(crate) entries: u32,
}

/// A context on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context {
    /// Its device.
    pub(crate) device: DeviceHandle,
    /// Its node (always 0).
    pub(crate) node: u32,
    /// `DXGK_CREATECONTEXTFLAGS`, as given.
    pub(crate) flags: u32,
}

/// What the driver tells VidSch about a new context (`DXGK_CONTEXTINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContextInfo {
    /// DMA buffer bytes.
    pub(crate) dma_buffer_size: u32,
    /// Segments DMA buffers may live in: the aperture's bit.
    pub(crate) dma_buffer_segment_set: u32,
    /// DMA buffer private data bytes.
    pub(crate) dma_buffer_private_data_size: u32,
}

/// An ordinary allocation and where VidMm may place it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allocation {
    /// What it is.
    pub(crate) data: AllocationData,
    /// The one segment it may live in.
    pub(crate) segment: SegmentId,
}

impl Allocation {
    /// Its alignment in bytes (at least a page).
    pub(crate) fn alignment(&self) -> u32 {
        self.data.alignment.max(crate::mmu::PAGE_SIZE)
    }
}

/// What an open names: the kernel's handle of the allocation and what its
/// private data says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenTarget {
    /// An ordinary allocation.
    Ordinary(AllocationData),
    /// A vGPU's VRAM reserve of this size in this segment.
    Reserve { segment: SegmentId, size: u64 },
}

/// One allocation opened on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opened {
    /// The device it is open on.
    pub(crate) device: DeviceHandle,
    /// The kernel's `D3DKMT_HANDLE`.
    pub(crate) kernel_handle: u32,
    /// What it is.
    pub(crate) target: OpenTarget,
    /// Its own handle (set once published).
    own: Option<OpenHandle>,
}

/// The single-segment set (`bit n` = segment `n + 1`) of `segment`.
///
/// # Errors
/// `InvalidParameter` for segment 0 or above 32.
pub(crate) fn segment_bit(segment: SegmentId) -> Result<u32> {
    segment
        .0
        .checked_sub(1)
        .and_then(|bit| 1u32.checked_shl(bit))
        .ok_or(Status::InvalidParameter)
}

/// The render objects of one started adapter.
pub(crate) struct Render {
    devices: ScopedTable<Device, DEVICE_TAG>,
    contexts: ScopedTable<Context, CONTEXT_TAG>,
    processes: Table<Process, PROCESS_TAG>,
    allocations: Table<Allocation, ALLOCATION_TAG>,
    opens: Table<Opened, OPEN_TAG>,
    /// The VRAM segment ordinary VRAM allocations live in.
    vram: Segment,
}

impl Render {
    /// Empty tables for the adapter in registry slot `adapter`, whose
    /// ordinary VRAM allocations go to `vram`.
    ///
    /// # Errors
    /// `InvalidParameter` for an adapter slot past the encodable range; `NoMemory`.
    pub(crate) fn new(adapter: usize, vram: Segment) -> Result<Self> {
        Ok(Self {
            devices: ScopedTable::new(adapter)?,
            contexts: ScopedTable::new(adapter)?,
            processes: Table::new(MAX_PROCESSES)?,
            allocations: Table::new(MAX_ALLOCATIONS)?,
            opens: Table::new(MAX_OPENS)?,
            vram,
        })
    }

    /// `DxgkDdiCreateProcess`.
    ///
    /// # Errors
    /// `NoMemory` when the table is full.
    pub(crate) fn create_process(&mut self, flags: u32) -> Result<ProcessHandle> {
        self.processes
            .insert(Process { flags })
            .map_err(|_| Status::NoMemory)
    }

    /// `DxgkDdiDestroyProcess`: devices still naming it keep a stale handle.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown or destroyed process.
    pub(crate) fn destroy_process(&mut self, process: ProcessHandle) -> Result<Process> {
        self.processes.remove(process)
    }

    /// The process `process` names.
    ///
    /// # Errors
    /// `InvalidHandle`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn process(&self, process: ProcessHandle) -> Result<&Process> {
        self.processes.get(process)
    }

    /// `DxgkDdiCreateDevice`.
    ///
    /// # Errors
    /// `InvalidParameter` for a process handle that names no live process;
    /// `NoMemory` when the table is full.
    pub(crate) fn create_device(&mut self, device: Device) -> Result<DeviceHandle> {
        if let Some(p) = device.process {
            self.processes
                .get(p)
                .map_err(|_| Status::InvalidParameter)?;
        }
        self.devices.insert(device).map_err(|_| Status::NoMemory)
    }

    /// The device `device` names.
    ///
    /// # Errors
    /// `InvalidHandle`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn device(&self, device: DeviceHandle) -> Result<&Device> {
        self.devices.get(device)
    }

    /// `DxgkDdiDestroyDevice`: the device, and the contexts and opens it
    /// still has (Dxgkrnl destroys those first; any left go with it).
    /// Returns how many contexts and opens went with it.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown or destroyed device; `NoMemory` if the
    /// list of its objects cannot be allocated (nothing is destroyed then).
    pub(crate) fn destroy_device(&mut self, device: DeviceHandle) -> Result<(usize, usize)> {
        self.devices.get(device)?;
        let mut contexts = try_vec(table::PER_ADAPTER)?;
        self.contexts
            .handles_where(|c| c.device == device, &mut contexts)?;
        let mut opens = try_vec(MAX_OPENS)?;
        for o in self.opens.iter().filter(|o| o.device == device) {
            if let Some(own) = o.own {
                push(&mut opens, own)?;
            }
        }
        for c in &contexts {
            self.contexts.remove(*c)?;
        }
        for o in &opens {
            self.opens.remove(*o)?;
        }
        self.devices.remove(device)?;
        Ok((contexts.len(), opens.len()))
    }

    /// `DxgkDdiCreateContext` on `device`: a context on `node` with
    /// `engine_affinity` (engine 0 only).
    ///
    /// # Errors
    /// `InvalidParameter` for an unknown device, a node at or past
    /// `NODE_COUNT` or an affinity naming another engine; `NoMemory` when
    /// the table is full.
    pub(crate) fn create_context(
        &mut self,
        device: DeviceHandle,
        node: u32,
        engine_affinity: u32,
        flags: u32,
    ) -> Result<(ContextHandle, ContextInfo)> {
        self.devices
            .get(device)
            .map_err(|_| Status::InvalidParameter)?;
        if node >= NODE_COUNT || engine_affinity & !1 != 0 {
            return Err(Status::InvalidParameter);
        }
        let handle = self
            .contexts
            .insert(Context {
                device,
                node,
                flags,
            })
            .map_err(|_| Status::NoMemory)?;
        let info = ContextInfo {
            dma_buffer_size: DMA_BUFFER_SIZE,
            dma_buffer_segment_set: segment_bit(SegmentId(APERTURE_SEGMENT_ID))?,
            dma_buffer_private_data_size: DMA_BUFFER_PRIVATE_DATA_SIZE,
        };
        Ok((handle, info))
    }

    /// The context `context` names.
    ///
    /// # Errors
    /// `InvalidHandle`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn context(&self, context: ContextHandle) -> Result<&Context> {
        self.contexts.get(context)
    }

    /// `DxgkDdiDestroyContext`.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown or destroyed context.
    pub(crate) fn destroy_context(&mut self, context: ContextHandle) -> Result<Context> {
        self.contexts.remove(context)
    }

    /// Where an allocation of `data` may live.
    fn segment_for(&self, data: &AllocationData) -> Result<SegmentId> {
        let (segment, room) = if data.kind.in_aperture() {
            (SegmentId(APERTURE_SEGMENT_ID), APERTURE_SIZE)
        } else {
            (self.vram.id, self.vram.size)
        };
        if data.size > room {
            return Err(Status::InvalidParameter);
        }
        Ok(segment)
    }

    /// `DxgkDdiCreateAllocation` of ordinary allocations, all or none.
    ///
    /// # Errors
    /// `InvalidParameter` for an allocation larger than its segment;
    /// `NoMemory` when the table has no room for all of them.
    pub(crate) fn create_allocations(
        &mut self,
        datas: &[AllocationData],
    ) -> Result<Vec<(RenderAllocationHandle, Allocation)>> {
        if self.allocations.room() < datas.len() {
            return Err(Status::NoMemory);
        }
        // Checked whole before anything is published (all or none).
        for data in datas {
            self.segment_for(data)?;
        }
        let mut out = try_vec(datas.len())?;
        for data in datas {
            let a = Allocation {
                data: *data,
                segment: self.segment_for(data)?,
            };
            push(&mut out, (self.allocations.insert(a)?, a))?;
        }
        Ok(out)
    }

    /// The ordinary allocation `handle` names.
    ///
    /// # Errors
    /// `InvalidHandle`.
    pub(crate) fn allocation(&self, handle: RenderAllocationHandle) -> Result<&Allocation> {
        self.allocations.get(handle)
    }

    /// `DxgkDdiDestroyAllocation` of ordinary allocations, all or none.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown, destroyed or repeated handle.
    pub(crate) fn destroy_allocations(&mut self, handles: &[RenderAllocationHandle]) -> Result<()> {
        for (i, h) in handles.iter().enumerate() {
            self.allocations.get(*h)?;
            if handles.iter().take(i).any(|g| g == h) {
                return Err(Status::InvalidHandle);
            }
        }
        for h in handles {
            self.allocations.remove(*h)?;
        }
        Ok(())
    }

    /// `DxgkDdiOpenAllocation` on `device`, all or none.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown device; `NoMemory` when the table has
    /// no room for all of them.
    pub(crate) fn open(
        &mut self,
        device: DeviceHandle,
        targets: &[(u32, OpenTarget)],
    ) -> Result<Vec<OpenHandle>> {
        self.devices.get(device)?;
        if self.opens.room() < targets.len() {
            return Err(Status::NoMemory);
        }
        let mut out = try_vec(targets.len())?;
        for &(kernel_handle, target) in targets {
            let handle = self.opens.insert(Opened {
                device,
                kernel_handle,
                target,
                own: None,
            })?;
            self.opens.get_mut(handle)?.own = Some(handle);
            push(&mut out, handle)?;
        }
        Ok(out)
    }

    /// The open `handle` names.
    ///
    /// # Errors
    /// `InvalidHandle`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn opened(&self, handle: OpenHandle) -> Result<&Opened> {
        self.opens.get(handle)
    }

    /// `DxgkDdiCloseAllocation` on `device`, all or none.
    ///
    /// # Errors
    /// `InvalidHandle` for an unknown device, or an open that is unknown,
    /// closed, repeated or of another device.
    pub(crate) fn close(&mut self, device: DeviceHandle, handles: &[OpenHandle]) -> Result<()> {
        self.devices.get(device)?;
        for (i, h) in handles.iter().enumerate() {
            if self.opens.get(*h)?.device != device || handles.iter().take(i).any(|g| g == h) {
                return Err(Status::InvalidHandle);
            }
        }
        for h in handles {
            self.opens.remove(*h)?;
        }
        Ok(())
    }

    /// Live (devices, contexts, processes, allocations, opens).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn counts(&self) -> [usize; 5] {
        [
            self.devices.len(),
            self.contexts.len(),
            self.processes.iter().count(),
            self.allocations.iter().count(),
            self.opens.iter().count(),
        ]
    }
}

#[cfg(test)]
mod tests;
