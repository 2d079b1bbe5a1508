//! The adapter-wide calls of [`VfOp`]: `DxgkDdiQueryInterface` with any
//! arguments, `DxgkDdiGetVirtualGpuProfile`, and `DxgkDdiCreateAllocation`
//! with any private data, checked against `crate::model::vgpu::vf`.
//!
//! Checked besides the status: a successful QueryInterface writes exactly
//! the interface (its `Size`, version 1, the adapter as `Context`, the same
//! functions Dxgkrnl got at start) and nothing past it, and takes exactly
//! one reference of that interface (`gpup_host_interface_references`); a
//! failed one writes nothing and takes none. A profile is the model's to the
//! byte. CreateAllocation fills each entry as the model says (size and
//! alignment from the record, the VF segment as the only one) with new,
//! distinct handles, which later calls (SetVirtualGpuResources,
//! DestroyAllocation) use; a failed one fills nothing.

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use gpup_miniport::host::{GPUP_INTERFACE_REFERENCES, gpup_host_interface_references};

use super::{Asked, UNTOUCHED};
use crate::exec::{World, raw_ptr};
use crate::model::SEGMENTS;
use crate::model::vgpu::vf::{Iface, NewAlloc, PrivIn, QiCall, RESERVE_LEN, RESERVE_MAGIC};
use crate::model::vgpu::{VF_PAGE, VF_SEGMENT};
use crate::ops::*;

/// The interface GUIDs (gpu-partitioning.md section 2's table).
mod guids {
    use dxgk_sys::GUID;

    const fn g(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> GUID {
        GUID {
            Data1: d1,
            Data2: d2,
            Data3: d3,
            Data4: d4,
        }
    }
    /// `{462BC153-40EB-484A-8168-9972E3CD5AEF}`.
    pub(super) const GPU_PARTITION: GUID = g(
        0x462B_C153,
        0x40EB,
        0x484A,
        [0x81, 0x68, 0x99, 0x72, 0xE3, 0xCD, 0x5A, 0xEF],
    );
    /// `{D7172248-F296-4C50-A6F5-D25D8073063A}`.
    pub(super) const SRIOV: GUID = g(
        0xD717_2248,
        0xF296,
        0x4C50,
        [0xA6, 0xF5, 0xD2, 0x5D, 0x80, 0x73, 0x06, 0x3A],
    );
    /// `{1387F270-121A-4A4A-B25E-3B1589976C61}`.
    pub(super) const MITIGABLE_DEVICE: GUID = g(
        0x1387_F270,
        0x121A,
        0x4A4A,
        [0xB2, 0x5E, 0x3B, 0x15, 0x89, 0x97, 0x6C, 0x61],
    );
    /// `{7B73A997-48E8-4CAB-9FAB-E0774B44F599}`.
    pub(super) const FLEXIOV_DEVICE: GUID = g(
        0x7B73_A997,
        0x48E8,
        0x4CAB,
        [0x9F, 0xAB, 0xE0, 0x77, 0x4B, 0x44, 0xF5, 0x99],
    );
}

/// Words of the buffer a QueryInterface gets (256 bytes and a guard).
const IFACE_WORDS: usize = 256 / 8 + 2;

fn guid_of(sel: IfaceSel) -> GUID {
    match sel {
        IfaceSel::Partition => guids::GPU_PARTITION,
        IfaceSel::Sriov => guids::SRIOV,
        IfaceSel::FlexIov => guids::FLEXIOV_DEVICE,
        IfaceSel::Mitigable => guids::MITIGABLE_DEVICE,
        IfaceSel::Other(b) => GUID {
            Data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Data2: u16::from_le_bytes([b[4], b[5]]),
            Data3: u16::from_le_bytes([b[6], b[7]]),
            Data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        },
    }
}

/// The pointer-sized words of an interface from offset 8 (`Context`, the
/// reference functions, the DDIs): no padding among them.
fn words_of<T>(iface: &T) -> Vec<u64> {
    let base = core::ptr::from_ref(iface).cast::<u8>();
    (8..size_of::<T>())
        .step_by(8)
        // SAFETY: every word from offset 8 to the end is a pointer field of
        // the `repr(C)` interface (checked against the ABI table), so it is
        // initialized and inside the object.
        .map(|at| unsafe { base.wrapping_add(at).cast::<u64>().read_unaligned() })
        .collect()
}

impl World {
    fn references(&self) -> Result<[u32; 3], String> {
        let mut refs = GPUP_INTERFACE_REFERENCES::default();
        // SAFETY: the adapter handle is live and `refs` writable.
        let status =
            unsafe { gpup_host_interface_references(self.adapter.context(), &raw mut refs) };
        if status != STATUS_SUCCESS {
            return Err(format!("interface references: {status:?}"));
        }
        Ok([refs.Partition, refs.Sriov, refs.FlexIov])
    }

    pub(super) fn query_interface(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        sel: IfaceSel,
        (size, version): (u16, u16),
        nulls: u8,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let guid = guid_of(sel);
        let (iface, expected) = if guid == guids::GPU_PARTITION {
            (Iface::Partition, words_of(&self.partition))
        } else if guid == guids::SRIOV {
            (Iface::Sriov, words_of(&self.sriov))
        } else if guid == guids::FLEXIOV_DEVICE {
            (Iface::FlexIov, words_of(&self.flexiov))
        } else {
            (Iface::Other, Vec::new())
        };
        let call = QiCall {
            iface,
            size,
            version,
            null_query: nulls & 1 != 0,
            null_guid: nulls & 2 != 0,
            null_interface: nulls & 4 != 0,
        };
        let faults = self.model.query_interface(ok, &call);
        let before = self.references()?;
        // At least 256 bytes, whatever `Size` says (a larger `Size` than the
        // buffer is never written past the interface's own size).
        let mut buf = vec![UNTOUCHED; IFACE_WORDS];
        let mut q = QUERY_INTERFACE {
            InterfaceType: if call.null_guid {
                core::ptr::null()
            } else {
                &raw const guid
            },
            Size: size,
            Version: version,
            Interface: if call.null_interface {
                core::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            InterfaceSpecificData: core::ptr::null_mut(),
            DeviceUid: 0xFFFF_FFFF,
        };
        let f = self
            .table()
            .DxgkDdiQueryInterface
            .ok_or("no QueryInterface slot")?;
        let arg = if call.null_query {
            core::ptr::null_mut()
        } else {
            &raw mut q
        };
        // SAFETY: the block, the GUID and the 272-byte buffer are live (or
        // NULL); an interface is at most 128 bytes.
        let status = unsafe { f(h, arg) };
        self.expect(op, &faults, status)?;
        let after = self.references()?;
        let mut want_refs = before;
        let mut want = vec![UNTOUCHED; IFACE_WORDS];
        if status == STATUS_SUCCESS {
            let (index, needed) = match iface {
                Iface::Partition => (0, 128),
                Iface::Sriov => (1, 120),
                Iface::FlexIov => (2, 56),
                Iface::Other => return Err(self.fail(op, "exported an unknown interface".into())),
            };
            want_refs[index] += 1;
            let header = u64::from(needed as u16) | 1 << 16;
            let got_header = buf[0] & 0xFFFF_FFFF;
            if got_header != header {
                return Err(self.fail(
                    op,
                    format!("Size/Version {got_header:#x}, the model says {header:#x}"),
                ));
            }
            want[0] = buf[0];
            want[1..needed / 8].copy_from_slice(&expected);
        }
        if buf != want || after != want_refs {
            return Err(self.fail(
                op,
                format!(
                    "wrote {buf:x?} and references went {before:?} -> {after:?}; the model says \
                     {want:x?} and {want_refs:?}"
                ),
            ));
        }
        Ok(status == STATUS_SUCCESS)
    }

    pub(super) fn profile(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        count: u32,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (faults, flags, caps) = self.model.profile(ok, count);
        let mut args = DXGKARG_GETVIRTUALGPUPROFILE::zeroed();
        args.PartitionCount = count;
        args.VirtualizationFlags = UNTOUCHED as u32;
        for c in &mut args.ProfileCapability {
            *c = DXGK_VGPU_PROFILE_CAPABILITY {
                TotalValue: UNTOUCHED,
                AvailableValue: UNTOUCHED,
                MinPartitionValue: UNTOUCHED,
                MaxPartitionValue: UNTOUCHED,
                OptimalPartitionValue: UNTOUCHED,
            };
        }
        let f = self.partition_fn(self.partition.DxgkDdiGetVirtualGpuProfile)?;
        // SAFETY: the block is live.
        let status = unsafe { f(h, &raw mut args) };
        self.expect(op, &faults, status)?;
        let got: Vec<[u64; 5]> = args
            .ProfileCapability
            .iter()
            .map(|c| {
                [
                    c.TotalValue,
                    c.AvailableValue,
                    c.MinPartitionValue,
                    c.MaxPartitionValue,
                    c.OptimalPartitionValue,
                ]
            })
            .collect();
        let (want_flags, want) = if status == STATUS_SUCCESS {
            (flags, caps.to_vec())
        } else {
            (UNTOUCHED as u32, vec![[UNTOUCHED; 5]; 4])
        };
        if got != want || args.VirtualizationFlags != want_flags || args.PartitionCount != count {
            return Err(self.fail(
                op,
                format!(
                    "flags {:#x}, capabilities {got:x?}; the model says {want_flags:#x}, {want:x?}",
                    args.VirtualizationFlags
                ),
            ));
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// The private data of a [`PrivData::Reserve`]: the record the reserve
    /// of the vGPU in the slot is described by, changed as it says.
    fn reserve_record(
        &self,
        vf: u32,
        size_pages: i8,
        word: Option<(u8, u32)>,
        len: Option<u8>,
    ) -> Vec<u8> {
        let asked = self
            .model
            .gpu()
            .reserve_uid(vf)
            .and_then(|u| self.asked.get(&u).copied())
            .unwrap_or(Asked {
                instance: 0,
                size: VF_PAGE,
            });
        let size = asked
            .size
            .wrapping_add_signed(i64::from(size_pages) * VF_PAGE as i64);
        let mut b = Vec::with_capacity(RESERVE_LEN);
        b.extend_from_slice(&RESERVE_MAGIC);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&SEGMENTS[VF_SEGMENT].id.to_le_bytes());
        b.extend_from_slice(&(VF_PAGE as u32).to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&asked.instance.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        if let Some((at, value)) = word {
            let at = usize::from(at % 8) * 4;
            b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        if let Some(n) = len {
            b.resize(usize::from(n), 0);
        }
        b
    }

    /// The handles of the entries a successful CreateAllocation filled,
    /// each checked against what the model says it creates.
    fn new_allocations(
        &self,
        op: &Op,
        infos: &[DXGK_ALLOCATIONINFO],
        made: &[NewAlloc],
    ) -> Result<Vec<usize>, String> {
        let segments = 1u32 << (SEGMENTS[VF_SEGMENT].id - 1);
        let mut handles = Vec::new();
        for (info, m) in infos.iter().zip(made) {
            let handle = info.hAllocation.addr();
            if handle == 0
                || self.allocs.contains(&handle)
                || handles.contains(&handle)
                || info.Size as u64 != m.size
                || info.Alignment != m.alignment
                || info.SupportedWriteSegmentSet != segments
                || info.SupportedReadSegmentSet != segments
            {
                return Err(self.fail(
                    op,
                    format!(
                        "allocation {handle:#x} of {} bytes, alignment {}, segments {:#x}; the \
                         model says a new handle, {m:?}, segments {segments:#x}",
                        info.Size, info.Alignment, info.SupportedWriteSegmentSet
                    ),
                ));
            }
            handles.push(handle);
        }
        Ok(handles)
    }

    pub(super) fn create_allocation(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        entries: &[PrivData],
        declared: Option<u32>,
        null_array: bool,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let mut data: Vec<PrivIn> = entries
            .iter()
            .map(|e| match *e {
                PrivData::Reserve {
                    vf,
                    size_pages,
                    word,
                    len,
                } => PrivIn::Bytes(self.reserve_record(vf, size_pages, word, len)),
                PrivData::Raw(ref b) => PrivIn::Bytes(b.clone()),
                PrivData::Null(n) => PrivIn::Null(n),
            })
            .collect();
        let declared = declared.unwrap_or(data.len() as u32);
        // Padded with zeroed entries up to what is declared (when small).
        if declared as usize > data.len() && declared <= 64 {
            data.resize(declared as usize, PrivIn::Null(0));
        }
        let read = data.len().min(declared as usize);
        let live: Vec<(u32, u64)> = self
            .model
            .gpu()
            .live()
            .filter_map(|(_, v)| self.asked.get(&v.uid).map(|a| (a.instance, v.uid)))
            .collect();
        let (faults, made) =
            self.model
                .create_allocation(ok, u64::from(declared), null_array, &data[..read], &live);
        let mut infos: Vec<DXGK_ALLOCATIONINFO> = data
            .iter_mut()
            .map(|d| {
                let mut info = DXGK_ALLOCATIONINFO::zeroed();
                match d {
                    PrivIn::Bytes(b) => {
                        info.pPrivateDriverData = b.as_mut_ptr().cast();
                        info.PrivateDriverDataSize = b.len() as u32;
                    }
                    PrivIn::Null(n) => info.PrivateDriverDataSize = *n,
                }
                info.hAllocation = raw_ptr(UNTOUCHED as usize);
                info.Size = UNTOUCHED as usize;
                info.Alignment = UNTOUCHED as u32;
                info
            })
            .collect();
        let mut create = DXGKARG_CREATEALLOCATION::zeroed();
        create.NumAllocations = declared;
        create.pAllocationInfo = if null_array {
            core::ptr::null_mut()
        } else {
            infos.as_mut_ptr()
        };
        let f = self
            .table()
            .DxgkDdiCreateAllocation
            .ok_or("no CreateAllocation slot")?;
        // SAFETY: the block is live; its array NULL or `min(NumAllocations,
        // len)` live entries (a larger `NumAllocations` is above 32 and
        // refused unread), each with its live private data.
        let status = unsafe { f(h, &raw mut create) };
        self.expect(op, &faults, status)?;
        let untouched = |i: &DXGK_ALLOCATIONINFO| {
            i.hAllocation.addr() == UNTOUCHED as usize
                && i.Size == UNTOUCHED as usize
                && i.Alignment == UNTOUCHED as u32
        };
        let filled = if status == STATUS_SUCCESS {
            made.len()
        } else {
            0
        };
        if status == STATUS_SUCCESS && made.len() != read {
            return Err(self.fail(op, "succeeded where the model refuses".into()));
        }
        if let Some(i) = infos[filled..].iter().position(|i| !untouched(i)) {
            return Err(self.fail(op, format!("wrote entry {} it must not", filled + i)));
        }
        let handles = self.new_allocations(op, &infos[..filled], &made)?;
        self.allocs.extend(handles);
        self.model.allocations_created(&made);
        Ok(status == STATUS_SUCCESS)
    }
}
