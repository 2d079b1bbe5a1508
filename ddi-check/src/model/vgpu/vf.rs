//! The model of a VF's PCI face and the rest of the GPU-P surface
//! ([`crate::ops::VfOp`]): the configuration space the SR-IOV interface
//! serves (its layout from the register table of `src/vgpu/pci.rs`'s
//! documentation, gpu-partitioning.md section 4: read-only ids, writable
//! command, BARs sized as PCI sizing reads them, MSI-X enable, FLR), the
//! function-level reset, probed BARs, ids and location, the FlexIOV ranges
//! (every page emulated), SetVirtualGpuVmBus, GetVirtualGpuProfile,
//! QueryInterface (section 6's table) and CreateAllocation of any private
//! data (the 32-byte reserve record `src/vgpu/allocation.rs` documents).
//!
//! Written from those documents, not from the driver's code: the space is a
//! table of registers (offset, width, power-on value, writable bits).

use dxgk_sys::*;

use super::{Alloc, Gpu, MSIX_ENTRIES, VF_PAGE, VF_SEGMENT, base_faults};
use crate::model::{Faults, Flaw, Model, SEGMENTS};

/// Bytes of a VF's configuration space.
pub const CONFIG_SIZE: usize = 4096;
/// The VF's PCI vendor id (the documented placeholder).
pub const VENDOR_ID: u16 = 0xFFFE;
/// The VF's PCI device id (the documented placeholder).
pub const DEVICE_ID: u16 = 0x6770;
/// BAR0: registers and MSI-X structures.
pub const BAR0_SIZE: u64 = 1 << 20;
/// Allocations the adapter holds at most.
pub const MAX_ALLOCS: usize = 128;
/// Entries one CreateAllocation call may carry.
pub const MAX_BATCH: u64 = 32;
/// The reserve record: "GPVA", version 1, segment, alignment, size (u64),
/// instance, a reserved zero word.
pub const RESERVE_MAGIC: [u8; 4] = *b"GPVA";
/// Bytes of the reserve record.
pub const RESERVE_LEN: usize = 32;
/// The byte of device control whose bit 7 initiates a function-level reset.
const FLR_BYTE: usize = 0x59;

/// The VRAM aperture (BAR2/3) of a reserve: the next power of two, at
/// least a page.
#[must_use]
pub fn aperture(reserve: u64) -> u64 {
    reserve.max(4096).next_power_of_two()
}

/// The registers: offset, width, power-on value, writable bits.
fn registers(reserve: u64) -> [(usize, usize, u64, u64); 18] {
    let bar2 = !(aperture(reserve) - 1);
    let ids = u64::from(VENDOR_ID) | u64::from(DEVICE_ID) << 16;
    [
        (0x00, 4, ids, 0),
        (0x04, 2, 0, 0x0406),      // command: memory, bus master, INTx disable
        (0x06, 2, 0x0010, 0),      // status: capabilities list
        (0x08, 4, 0x0302_0001, 0), // revision 1, class 03 subclass 02
        (0x0C, 1, 0, 0xFF),        // cache line size
        (0x10, 4, 0, !(BAR0_SIZE - 1) & 0xFFFF_FFF0),
        (0x18, 4, 0x0C, bar2 & 0xFFFF_FFF0), // 64-bit prefetchable
        (0x1C, 4, 0, bar2 >> 32),
        (0x2C, 4, ids, 0), // subsystem ids
        (0x34, 1, 0x40, 0),
        (0x3C, 1, 0, 0xFF),                         // interrupt line
        (0x40, 2, 0x5011, 0),                       // MSI-X id, next = 0x50
        (0x42, 2, MSIX_ENTRIES as u64 - 1, 0xC000), // enable, function mask
        (0x44, 4, 0x1_0000, 0),                     // table in BAR0
        (0x48, 4, 0x1_8000, 0),                     // PBA in BAR0
        (0x50, 4, 0x0002_0010, 0),                  // PCIe v2 endpoint
        (0x54, 4, 1 << 28, 0),                      // FLR capable
        (0x58, 2, 0, 0x7FFF),                       // device control; bit 15 initiates FLR, reads 0
    ]
}

/// The power-on space and its writable bits, for a reserve of `reserve`
/// bytes (everything else, the extended space included, reads 0).
#[must_use]
pub fn config_layout(reserve: u64) -> (Vec<u8>, Vec<u8>) {
    let (mut bytes, mut mask) = (vec![0u8; CONFIG_SIZE], vec![0u8; CONFIG_SIZE]);
    for (at, width, value, writable) in registers(reserve) {
        bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
        mask[at..at + width].copy_from_slice(&writable.to_le_bytes()[..width]);
    }
    (bytes, mask)
}

/// Which interface a QueryInterface names, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iface {
    /// GPU partition (128 bytes).
    Partition,
    /// SR-IOV (120 bytes).
    Sriov,
    /// FlexIOV device (56 bytes).
    FlexIov,
    /// Any interface the driver does not export.
    Other,
}

impl Iface {
    /// The interface's size (gpu-partitioning.md section 2).
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            Self::Partition => 128,
            Self::Sriov => 120,
            Self::FlexIov => 56,
            Self::Other => 0,
        }
    }
}

/// A `DxgkDdiQueryInterface` call, as the model sees it.
#[derive(Debug, Clone, Copy)]
pub struct QiCall {
    /// The interface asked for.
    pub iface: Iface,
    /// `Size`.
    pub size: u16,
    /// `Version`.
    pub version: u16,
    /// `QueryInterface` NULL.
    pub null_query: bool,
    /// `InterfaceType` NULL.
    pub null_guid: bool,
    /// `Interface` NULL.
    pub null_interface: bool,
}

/// One entry's private data, as passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivIn {
    /// These bytes (`PrivateDriverDataSize` their length).
    Bytes(Vec<u8>),
    /// A NULL pointer with this size.
    Null(u32),
}

/// What a successful CreateAllocation entry creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAlloc {
    /// The vGPU it is for.
    pub uid: u64,
    /// `Size` (the record's size).
    pub size: u64,
    /// `Alignment` (the record's alignment).
    pub alignment: u32,
}

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Model {
    fn vf_ok(&self, adapter_ok: bool, vf: u32) -> (Faults, bool) {
        let (f, v) = self.vf_faults(adapter_ok, vf);
        (f, v.is_some())
    }

    // ------------------------------------------------------ Config space

    /// `DxgkDdi{Read,Write}VirtualFunctionConfig`: a span of 1 to 4096
    /// bytes inside the space, a known VF, a buffer.
    #[must_use]
    pub fn config_access(
        &self,
        adapter_ok: bool,
        vf: u32,
        offset: u32,
        len: u32,
        null_data: bool,
    ) -> Faults {
        let (mut f, _) = self.vf_ok(adapter_ok, vf);
        let end = u64::from(offset) + u64::from(len);
        if len == 0 || end > CONFIG_SIZE as u64 || null_data {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// The bytes a successful read returns.
    #[must_use]
    pub fn config_read(&self, vf: u32, offset: u32, len: u32) -> Vec<u8> {
        let at = offset as usize;
        self.gpu
            .vgpu(vf)
            .map(|v| v.config[at..at + len as usize].to_vec())
            .unwrap_or_default()
    }

    /// Records a successful write: the writable bits change; a write that
    /// sets "initiate FLR" then resets the function.
    pub fn config_written(&mut self, vf: u32, offset: u32, data: &[u8]) {
        let flaw = self.flaw;
        let Some(v) = self.gpu.vgpu_mut(vf) else {
            return;
        };
        let (_, mask) = config_layout(v.size);
        let at = offset as usize;
        for (i, &b) in data.iter().enumerate() {
            let m = if flaw == Flaw::ConfigIgnoresMask {
                0xFF
            } else {
                mask[at + i]
            };
            v.config[at + i] = (v.config[at + i] & !m) | (b & m);
        }
        let flr = FLR_BYTE
            .checked_sub(at)
            .and_then(|i| data.get(i))
            .is_some_and(|b| b & 0x80 != 0);
        if flr {
            self.vf_reset(vf);
        }
    }

    /// `DxgkDdiResetVirtualFunction`: a known VF.
    #[must_use]
    pub fn reset_vf(&self, adapter_ok: bool, vf: u32) -> Faults {
        self.vf_ok(adapter_ok, vf).0
    }

    /// Records a function-level reset: the space is back at its power-on
    /// values and the MSI-X table is empty; power, reserve, VM bus, pause
    /// and migration stay.
    pub fn vf_reset(&mut self, vf: u32) {
        let flaw = self.flaw;
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            if flaw != Flaw::ResetKeepsConfig {
                v.config = config_layout(v.size).0;
            }
            v.msix = 0;
        }
    }

    // ----------------------------------------------------- Probe, ids

    /// `DxgkDdiQueryProbedBars` (no status): what it writes (`None`:
    /// nothing, for a bad or stopped adapter); zeros for an unknown VF,
    /// else what writing all ones to each BAR register reads back.
    #[must_use]
    pub fn probed_bars(&self, adapter_ok: bool, vf: u32) -> Option<[u32; 6]> {
        if !base_faults(self, adapter_ok).none() {
            return None;
        }
        let Some(v) = self.gpu.vgpu(vf) else {
            return Some([0; 6]);
        };
        let (bytes, mask) = config_layout(v.size);
        let mut bars = [0u32; 6];
        for (i, bar) in bars.iter_mut().enumerate() {
            let at = 0x10 + 4 * i;
            let (b, m) = (word(&bytes, at), word(&mask, at));
            // All ones written: every writable bit reads back 1.
            *bar = (b & !m) | m;
        }
        Some(bars)
    }

    /// `DxgkDdiGetVendorAndDevice` (no status): `None` writes nothing;
    /// zeros for an unknown VF.
    #[must_use]
    pub fn vendor_and_device(&self, adapter_ok: bool, vf: u32) -> Option<(u16, u16)> {
        base_faults(self, adapter_ok).none().then(|| {
            if self.gpu.vgpu(vf).is_some() {
                (VENDOR_ID, DEVICE_ID)
            } else {
                (0, 0)
            }
        })
    }

    /// `DxgkDdiGetDeviceLocation` (no status): the PF's location, which
    /// for a root-enumerated software adapter is segment, bus and function
    /// 0, for every VF (zeros for an unknown one too); `None` writes nothing.
    #[must_use]
    pub fn device_location(&self, adapter_ok: bool) -> Option<[u32; 3]> {
        base_faults(self, adapter_ok).none().then_some([0; 3])
    }

    /// GetResourceForBar, Read/WriteVirtualFunctionConfigBlock: no real
    /// MMIO and no config blocks, `STATUS_NOT_SUPPORTED` for a known VF.
    #[must_use]
    pub fn unsupported_sriov(&self, adapter_ok: bool, vf: u32) -> Faults {
        let (mut f, known) = self.vf_ok(adapter_ok, vf);
        if known {
            f.add(STATUS_NOT_SUPPORTED);
        }
        f
    }

    // ------------------------------------------------------------ FlexIOV

    /// The pages of virtual BAR `bar` (`None`: a BAR without ranges).
    fn bar_pages(v_size: u64, bar: u32) -> Option<u64> {
        match bar {
            0 => Some(BAR0_SIZE.div_ceil(4096)),
            2 => Some(aperture(v_size).div_ceil(4096)),
            _ => None,
        }
    }

    /// `DxgkDdiGetMmioRangeCount`: the faults, and the counts per BAR (one
    /// range per 2^31 pages of BAR0 and of the aperture).
    #[must_use]
    pub fn mmio_range_count(&self, adapter_ok: bool, vf: u32) -> (Faults, [u32; 6]) {
        let (f, v) = self.vf_faults(adapter_ok, vf);
        let mut counts = [0u32; 6];
        if let Some(v) = v {
            for bar in [0u32, 2] {
                let pages = Self::bar_pages(v.size, bar).unwrap_or(0);
                counts[bar as usize] = pages.div_ceil(1 << 31) as u32;
            }
        }
        (f, counts)
    }

    /// `DxgkDdiGetMmioRanges`: the faults, and on success the ranges
    /// (first page, pages), every page emulated.
    #[must_use]
    pub fn mmio_ranges(
        &self,
        adapter_ok: bool,
        vf: u32,
        bar: u32,
        capacity: u32,
        null_array: bool,
    ) -> (Faults, Vec<(u64, u32)>) {
        let (mut f, v) = self.vf_faults(adapter_ok, vf);
        let Some(v) = v else {
            return (f, Vec::new());
        };
        let Some(pages) = Self::bar_pages(v.size, bar) else {
            f.add(STATUS_INVALID_PARAMETER);
            return (f, Vec::new());
        };
        let ranges: Vec<(u64, u32)> = (0..pages.div_ceil(1 << 31))
            .map(|i| (i << 31, (pages - (i << 31)).min(1 << 31) as u32))
            .collect();
        if null_array {
            f.add(STATUS_INVALID_PARAMETER);
        } else if (capacity as usize) < ranges.len() {
            f.add(STATUS_BUFFER_TOO_SMALL);
        }
        (f, ranges)
    }

    /// `DxgkDdiGetBackingResource`: for a known VF, any index succeeds with
    /// no resource (no MDL, descriptor type `CmResourceTypeNull`).
    #[must_use]
    pub fn backing_resource(&self, adapter_ok: bool, vf: u32) -> Faults {
        self.vf_ok(adapter_ok, vf).0
    }

    // ------------------------------------------------- VM bus, profile

    /// `DxgkDdiSetVirtualGpuVmBus`: a known vGPU and a non-NULL handle.
    #[must_use]
    pub fn set_vmbus(&self, adapter_ok: bool, vf: u32, handle: u64) -> Faults {
        let (mut f, _) = self.vf_ok(adapter_ok, vf);
        if handle == 0 {
            f.add(STATUS_INVALID_PARAMETER);
        }
        f
    }

    /// Records a VM-bus handle.
    pub fn vmbus_set(&mut self, vf: u32) {
        if let Some(v) = self.gpu.vgpu_mut(vf) {
            v.vmbus = true;
        }
    }

    /// `DxgkDdiGetVirtualGpuProfile`: the faults, the flags, and the four
    /// capabilities (total, available, min, max, optimal): memory is the
    /// VF segment, what no vGPU holds, a page (at most a share), and the
    /// share of `count`; the others zero.
    #[must_use]
    pub fn profile(&self, adapter_ok: bool, count: u32) -> (Faults, u32, [[u64; 5]; 4]) {
        let mut f = base_faults(self, adapter_ok);
        if !super::OPTIONS.iter().any(|&o| u32::from(o) == count) {
            f.add(STATUS_INVALID_PARAMETER);
        }
        let share = Gpu::share(count);
        let total = SEGMENTS[VF_SEGMENT].size;
        let available = if self.flaw == Flaw::ProfileIgnoresVgpus {
            total
        } else {
            self.gpu.free()
        };
        let mut caps = [[0u64; 5]; 4];
        caps[0] = [total, available, VF_PAGE.min(share), share, share];
        (f, DXGK_VIRTUALIZED_HOST_VIRTUAL_DEVICE, caps)
    }

    // ------------------------------------------------------ QueryInterface

    /// `DxgkDdiQueryInterface`: the faults (section 6: NULL pointers or a
    /// short `Size` `STATUS_INVALID_PARAMETER`, another GUID or `Version` 0
    /// `STATUS_NOT_SUPPORTED`, before start `STATUS_INVALID_DEVICE_STATE`).
    #[must_use]
    pub fn query_interface(&self, adapter_ok: bool, q: &QiCall) -> Faults {
        let mut f = Faults::default();
        if !adapter_ok {
            f.add(STATUS_INVALID_PARAMETER);
        }
        if q.null_query {
            f.add(STATUS_INVALID_PARAMETER);
            return f;
        }
        if q.null_guid || q.null_interface {
            f.add(STATUS_INVALID_PARAMETER);
        }
        if q.iface == Iface::Other {
            f.add(STATUS_NOT_SUPPORTED);
            return f;
        }
        if !self.started {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        if usize::from(q.size) < q.iface.size() && self.flaw != Flaw::QueryInterfaceIgnoresSize {
            f.add(STATUS_INVALID_PARAMETER);
        }
        if q.version == 0 {
            f.add(STATUS_NOT_SUPPORTED);
        }
        f
    }

    // ---------------------------------------------------- CreateAllocation

    /// `DxgkDdiCreateAllocation` of `entries` (as many as the driver reads;
    /// `declared` is `NumAllocations`): the faults, and on success what each
    /// entry creates. `live` maps the reserve instance numbers of the live
    /// vGPUs (the driver's choice, known to the exec) to their uids.
    #[must_use]
    pub fn create_allocation(
        &self,
        adapter_ok: bool,
        declared: u64,
        null_array: bool,
        entries: &[PrivIn],
        live: &[(u32, u64)],
    ) -> (Faults, Vec<NewAlloc>) {
        let mut f = Faults::default();
        if !adapter_ok {
            f.add(STATUS_INVALID_PARAMETER);
        }
        if !self.started {
            f.add(STATUS_INVALID_DEVICE_STATE);
        }
        if declared == 0 || declared > MAX_BATCH || null_array {
            f.add(STATUS_INVALID_PARAMETER);
        }
        if !f.none() {
            return (f, Vec::new());
        }
        // Decoding: a record of another size or magic is not this driver's
        // (not supported); a bad version or reserved word is invalid.
        let mut records = Vec::new();
        for e in entries {
            match e {
                PrivIn::Null(n) if *n as usize == RESERVE_LEN => f.add(STATUS_INVALID_PARAMETER),
                PrivIn::Null(_) => f.add(STATUS_NOT_SUPPORTED),
                PrivIn::Bytes(b) if b.len() != RESERVE_LEN || b[..4] != RESERVE_MAGIC => {
                    f.add(STATUS_NOT_SUPPORTED);
                }
                PrivIn::Bytes(b)
                    if (word(b, 4) != 1 && self.flaw != Flaw::AllocationIgnoresVersion)
                        || word(b, 28) != 0 =>
                {
                    f.add(STATUS_INVALID_PARAMETER);
                }
                PrivIn::Bytes(b) => records.push(b.clone()),
            }
        }
        if !f.none() {
            return (f, Vec::new());
        }
        // Each must be the reserve a live vGPU asked for.
        let mut made = Vec::new();
        for b in &records {
            let (segment, alignment, instance) = (word(b, 8), word(b, 12), word(b, 24));
            let size = u64::from(word(b, 16)) | u64::from(word(b, 20)) << 32;
            let owner = live
                .iter()
                .find(|&&(i, _)| i == instance)
                .and_then(|&(_, uid)| {
                    self.gpu.by_uid(uid).filter(|(_, v)| {
                        segment == SEGMENTS[VF_SEGMENT].id
                            && size >= v.size
                            && (alignment == 0 || u64::from(alignment) == VF_PAGE)
                    })
                });
            match owner {
                Some((_, v)) => made.push(NewAlloc {
                    uid: v.uid,
                    size,
                    alignment,
                }),
                None => f.add(STATUS_INVALID_PARAMETER),
            }
        }
        if f.none() && MAX_ALLOCS - self.live_allocs() < made.len() {
            f.add(STATUS_INSUFFICIENT_RESOURCES);
        }
        if !f.none() {
            made.clear();
        }
        (f, made)
    }

    /// A DDI with `pArgs` NULL (see [`crate::ops::VfOp::NullArgs`]):
    /// `STATUS_INVALID_PARAMETER` (section 6), never dereferenced; a VOID
    /// one (`which` 12 to 14) only returns.
    #[must_use]
    pub fn null_args(&self, adapter_ok: bool) -> Faults {
        let mut f = base_faults(self, adapter_ok);
        f.add(STATUS_INVALID_PARAMETER);
        f
    }

    /// Allocations live now.
    #[must_use]
    pub fn live_allocs(&self) -> usize {
        self.gpu.allocs.iter().filter(|a| a.live).count()
    }

    /// Records the allocations a successful CreateAllocation made.
    pub fn allocations_created(&mut self, made: &[NewAlloc]) {
        for a in made {
            self.gpu.allocs.push(Alloc {
                uid: a.uid,
                live: true,
                bound: None,
            });
        }
    }
}
