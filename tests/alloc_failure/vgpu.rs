//! GPU partitioning, vGPU allocations and SR-IOV: a started GPU-P adapter,
//! raw calls, and the walks of the DDIs that allocate.

use std::cell::RefCell;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, Driver, VgpuInfo, VgpuRequest};
use gpup_miniport::vgpu::escape::*;

use crate::common::gpup::*;
use crate::common::*;
use crate::harness::*;

/// A loaded driver and a started GPU-P adapter (`gpup_layout`, 256 MiB
/// tracked segment).
pub(crate) struct Gpup {
    pub(crate) _driver: Driver,
    pub(crate) adapter: Adapter,
}

pub(crate) fn gpup(count: Option<u32>) -> Gpup {
    let (driver, adapter) = started_gpup(count);
    Gpup {
        _driver: driver,
        adapter,
    }
}

pub(crate) const VF_RESERVE: u64 = 16 * MIB;

/// A running vGPU of `VF_RESERVE` bytes in `slot` (contiguous, bound with
/// SetVirtualGpuResources, the model's basis over it tracked).
pub(crate) fn running_vf(a: &Adapter, slot: u32) -> VgpuInfo {
    a.create_vgpu(&VgpuRequest {
        partition: Some(slot),
        ..VgpuRequest::vram(VF_RESERVE)
    })
    .unwrap()
}

pub(crate) fn query(a: &Adapter, v: &VgpuInfo) -> GPUP_VGPU_ESCAPE_INFO {
    a.vgpu_query(v).unwrap()
}

pub(crate) fn flag(a: &Adapter, v: &VgpuInfo, bit: u32) -> bool {
    query(a, v).Flags & bit != 0
}

/// The VF's migration phase (`GPUP_VGPU_MIGRATION_*`).
pub(crate) fn phase(a: &Adapter, v: &VgpuInfo) -> u32 {
    (query(a, v).Flags & GPUP_VGPU_MIGRATION_MASK) >> GPUP_VGPU_MIGRATION_SHIFT
}

pub(crate) fn set_count_raw(a: &Adapter, count: u32) -> NTSTATUS {
    let (p, _, _) = ifaces(a);
    let args = DXGKARG_SETGPUPARTITIONCOUNT {
        PartitionCount: count,
    };
    unsafe { (p.DxgkDdiSetGpuPartitionCount.unwrap())(p.Context, &raw const args) }
}

pub(crate) fn walk_set_count(name: &str, from: Option<u32>, to: u32) -> Result<Walked, String> {
    walk(
        name,
        || gpup(from),
        |s| set_count_raw(&s.adapter, to),
        |s, status| {
            expect("SetGpuPartitionCount", status, STATUS_SUCCESS)?;
            want("count", s.adapter.partition_info().unwrap().1, to as u16)
        },
        |s, status| {
            let a = &s.adapter;
            expect("SetGpuPartitionCount", status, STATUS_NO_MEMORY)?;
            let before = from.unwrap_or(0);
            want("count", a.partition_info().unwrap().1, before as u16)?;
            // The old slots are still the driver's: a slot past them is refused...
            let mut block = create_block(before, [(0, 0, 0); 4]);
            expect(
                "CreateVirtualGpu past the old count",
                raw_create(a, &mut block),
                STATUS_INVALID_PARAMETER,
            )?;
            // ... and, with a count, one within them works.
            if before > 0 {
                let v = a
                    .create_vgpu(&VgpuRequest::vram(VF_RESERVE))
                    .map_err(|e| format!("vGPU on the old count: {e:?}"))?;
                a.destroy_vgpu(v.partition)
                    .map_err(|e| format!("destroy: {e:?}"))?;
            }
            // Once memory is back the count changes, and its last slot works.
            expect(
                "SetGpuPartitionCount again",
                set_count_raw(a, to),
                STATUS_SUCCESS,
            )?;
            want("count", a.partition_info().unwrap().1, to as u16)?;
            a.create_vgpu(&VgpuRequest {
                partition: Some(to - 1),
                ..VgpuRequest::vram(VF_RESERVE)
            })
            .map(drop)
            .map_err(|e| format!("vGPU in slot {}: {e:?}", to - 1))
        },
    )
}

/// What CreateVirtualGpu wrote, but the LUID (a driver-wide counter).
pub(crate) fn created_outputs(b: &DXGKARG_CREATEVIRTUALGPU) -> [u64; 10] {
    let s = b.SegmentInfo[0];
    let umed = b.UserModeVirtualDeviceProvider;
    [
        u64::from(b.NumMemorySegments),
        u64::from(s.DriverSegmentId),
        s.Size,
        u64::from(s.Alignment),
        s.MinSegmentOffset,
        s.MaxSegmentOffset,
        u64::from(s.PrivateDriverData),
        u64::from(b.NumEngines),
        u64::from(umed.Data1) | u64::from(umed.Data2) << 32 | u64::from(umed.Data3) << 48,
        u64::from_ne_bytes(umed.Data4),
    ]
}

pub(crate) fn caps_of(a: &Adapter, slot: u32) -> Result<Vec<(u64, u64, u64)>, String> {
    let (status, info) = raw_info(a, slot);
    expect("GetVirtualGpuInfo", status, STATUS_SUCCESS)?;
    Ok(info
        .Capability
        .iter()
        .map(|c| (c.MinValue, c.MaxValue, c.CurrentValue))
        .collect())
}

pub(crate) struct Creating {
    pub(crate) g: Gpup,
    pub(crate) block: RefCell<Box<DXGKARG_CREATEVIRTUALGPU>>,
    /// A running vGPU in the other slot, and what it reported before.
    pub(crate) neighbour: Option<(VgpuInfo, GPUP_VGPU_ESCAPE_INFO)>,
}

pub(crate) fn walk_create_vgpu(name: &str, neighbour: bool) -> Result<Walked, String> {
    let (slot, profile) = if neighbour {
        (1, [(0, 32 * MIB, 8 * MIB), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    } else {
        (0, [(0, 0, 0); 4])
    };
    let setup = || {
        let g = gpup(Some(2));
        let neighbour = neighbour.then(|| {
            let v = running_vf(&g.adapter, 0);
            let q = query(&g.adapter, &v);
            (v, q)
        });
        Creating {
            g,
            block: RefCell::new(create_block(slot, profile)),
            neighbour,
        }
    };
    // What a fresh adapter answers.
    let fresh = {
        let s = setup();
        let mut b = s.block.borrow_mut();
        assert_eq!(raw_create(&s.g.adapter, &mut b), STATUS_SUCCESS);
        (created_outputs(&b), caps_of(&s.g.adapter, slot)?)
    };
    let untouched = created_outputs(&create_block(slot, profile));
    walk(
        name,
        setup,
        |s| raw_create(&s.g.adapter, &mut s.block.borrow_mut()),
        |s, status| {
            expect("CreateVirtualGpu", status, STATUS_SUCCESS)?;
            want("outputs", created_outputs(&s.block.borrow()), fresh.0)
        },
        |s, status| {
            let a = &s.g.adapter;
            expect("CreateVirtualGpu", status, STATUS_NO_MEMORY)?;
            // Nothing written, nothing kept: the slot is free.
            let b = s.block.borrow();
            want("outputs", created_outputs(&b), untouched)?;
            want(
                "LUID",
                (b.VirtualGpuLuid.LowPart, b.VirtualGpuLuid.HighPart),
                (0, 0),
            )?;
            expect(
                "GetVirtualGpuInfo of the slot",
                raw_info(a, slot).0,
                STATUS_INVALID_PARAMETER,
            )?;
            if let Some((v, before)) = &s.neighbour {
                want("the other vGPU", query(a, v), *before)?;
            }
            // The next CreateVirtualGpu gets what a fresh adapter gets (the
            // same reserve and instance: no instance number was used up).
            let mut retry = create_block(slot, profile);
            expect(
                "CreateVirtualGpu again",
                raw_create(a, &mut retry),
                STATUS_SUCCESS,
            )?;
            want("outputs of the retry", created_outputs(&retry), fresh.0)?;
            want("LUID tag", retry.VirtualGpuLuid.HighPart, 0x4750)?;
            want("caps of the retry", caps_of(a, slot)?, fresh.1.clone())
        },
    )
}

/// The allocation private data of the reserve `created` asks for.
pub(crate) fn private_data(a: &Adapter, created: &DXGKARG_CREATEVIRTUALGPU) -> [u8; 32] {
    let s = created.SegmentInfo[0];
    let mut surface = D3DKMDT_VIRTUALGPUSURFACEDATA {
        Size: s.Size,
        Alignment: s.Alignment,
        DriverSegmentId: s.DriverSegmentId,
        PrivateDriverData: s.PrivateDriverData,
    };
    let mut data = [0u8; 32];
    let mut args = DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA::zeroed();
    args.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_VGPU;
    args.pCreateVirtualGpuSurfaceData = &raw mut surface;
    args.pAllocationPrivateDriverData = data.as_mut_ptr().cast();
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_SUCCESS
    );
    data
}

pub(crate) struct Allocating {
    pub(crate) g: Gpup,
    /// The CreateVirtualGpu outputs, one per allocation.
    pub(crate) created: Vec<DXGKARG_CREATEVIRTUALGPU>,
    /// The private data the entries point at.
    pub(crate) _data: Box<[[u8; 32]]>,
    pub(crate) infos: RefCell<Vec<DXGK_ALLOCATIONINFO>>,
}

pub(crate) fn walk_create_allocation(name: &str, n: u32) -> Result<Walked, String> {
    let setup = || {
        let g = gpup(Some(2));
        let created: Vec<_> = (0..n)
            .map(|slot| {
                let mut b = create_block(slot, [(0, 0, 0); 4]);
                assert_eq!(raw_create(&g.adapter, &mut b), STATUS_SUCCESS);
                *b
            })
            .collect();
        let data: Box<[[u8; 32]]> = created
            .iter()
            .map(|b| private_data(&g.adapter, b))
            .collect();
        let infos = data
            .iter()
            .map(|d| {
                let mut info = DXGK_ALLOCATIONINFO::zeroed();
                info.pPrivateDriverData = d.as_ptr().cast_mut().cast();
                info.PrivateDriverDataSize = 32;
                info
            })
            .collect();
        Allocating {
            g,
            created,
            _data: data,
            infos: RefCell::new(infos),
        }
    };
    let op = |s: &Allocating| {
        let mut infos = s.infos.borrow_mut();
        let mut c = DXGKARG_CREATEALLOCATION::zeroed();
        c.NumAllocations = infos.len() as u32;
        c.pAllocationInfo = infos.as_mut_ptr();
        unsafe { s.g.adapter.create_allocation_raw(&raw mut c) }
    };
    // The table slots a fresh adapter's allocations take (the handles' low
    // 12 bits; the generation above them is driver-wide).
    let slots = |infos: &[DXGK_ALLOCATIONINFO]| -> Vec<usize> {
        infos.iter().map(|i| i.hAllocation.addr() & 0xFFF).collect()
    };
    let fresh_slots: Vec<usize> = (0..n as usize).collect();
    walk(
        name,
        setup,
        op,
        |s, status| {
            expect("CreateAllocation", status, STATUS_SUCCESS)?;
            want("slots", slots(&s.infos.borrow()), fresh_slots.clone())
        },
        |s, status| {
            let a = &s.g.adapter;
            expect("CreateAllocation", status, STATUS_NO_MEMORY)?;
            // Nothing written...
            for info in s.infos.borrow().iter() {
                want(
                    "entry",
                    (
                        info.hAllocation.addr(),
                        info.Size,
                        info.SupportedWriteSegmentSet,
                    ),
                    (0, 0, 0),
                )?;
            }
            // ... nothing kept: the retry takes the slots a fresh adapter's
            // allocations take, and each reserve binds and runs.
            expect("CreateAllocation again", op(s), STATUS_SUCCESS)?;
            let infos = s.infos.borrow();
            want("slots of the retry", slots(&infos), fresh_slots.clone())?;
            for (i, (info, created)) in infos.iter().zip(&s.created).enumerate() {
                let seg = created.SegmentInfo[0];
                let reserve = dxgkrnl_model::Reserve {
                    segment: seg.DriverSegmentId,
                    offset: i as u64 * seg.Size,
                    size: seg.Size,
                    scattered: false,
                    allocation: info.hAllocation.addr(),
                    basis: None,
                    tracking: false,
                };
                let p = created.PartitionId;
                a.set_vgpu_resources(p, &[reserve])
                    .map_err(|e| format!("SetVirtualGpuResources({p}): {e:?}"))?;
                a.set_vf_power(p, POWER_DEVICE_D0, false)
                    .map_err(|e| format!("D0 ({p}): {e:?}"))?;
            }
            Ok(())
        },
    )
}

pub(crate) struct Binding {
    pub(crate) g: Gpup,
    pub(crate) v: VgpuInfo,
    /// The argument block, built beforehand.
    pub(crate) block: Vec<u64>,
    /// A running vGPU beside it, and what it reported before.
    pub(crate) neighbour: Option<(VgpuInfo, GPUP_VGPU_ESCAPE_INFO)>,
}

/// A vGPU in slot 1 whose reserve and memory basis exist but are not bound
/// (scattered over `pieces` if given), beside a running one in slot 0
/// (scattered too if `pieces` are).
pub(crate) fn binding(pieces: Option<&[(u64, u64)]>) -> Binding {
    let g = gpup(Some(2));
    let a = &g.adapter;
    let neighbour = a
        .create_vgpu(&VgpuRequest {
            partition: Some(0),
            placement: pieces.map(|_| vec![(0, 8 * MIB), (32 * MIB, 8 * MIB)]),
            ..VgpuRequest::vram(VF_RESERVE)
        })
        .unwrap();
    let before = query(a, &neighbour);
    let v = a
        .create_vgpu_unbound(&VgpuRequest {
            partition: Some(1),
            placement: pieces.map(<[_]>::to_vec),
            ..VgpuRequest::vram(VF_RESERVE)
        })
        .unwrap();
    let r = v.reserves[0];
    let block = match pieces {
        // DXGKARG_SETVIRTUALGPURESOURCES2: vfIndex, SegmentCount, one descriptor.
        Some(_) => vec![
            1 | 1 << 32,
            r.allocation as u64,
            r.basis.unwrap().0.addr() as u64,
        ],
        // DXGKARG_SETVIRTUALGPURESOURCES: PartitionId, NumMemoryAllocations, one entry.
        None => vec![
            1 | 1 << 32,
            r.allocation as u64,
            u64::from(r.segment),
            r.offset,
            r.size,
        ],
    };
    Binding {
        g,
        v,
        block,
        neighbour: Some((neighbour, before)),
    }
}

pub(crate) const SCATTER: &[(u64, u64)] = &[
    (64 * MIB, 4 * MIB),
    (16 * MIB, 4 * MIB),
    (200 * MIB, 4 * MIB),
    (100 * MIB, 4 * MIB),
];

pub(crate) fn walk_bind(name: &str, scattered: bool) -> Result<Walked, String> {
    let pieces = scattered.then_some(SCATTER);
    let op = move |s: &Binding| {
        let a = &s.g.adapter;
        if scattered {
            unsafe { a.set_vgpu_resources2_raw(s.block.as_ptr().cast()) }
        } else {
            let (p, _, _) = ifaces(a);
            unsafe {
                (p.DxgkDdiSetVirtualGpuResources.unwrap())(p.Context, s.block.as_ptr().cast())
            }
        }
    };
    let bound = GPUP_VGPU_FLAG_RESERVE_BOUND
        | if scattered {
            GPUP_VGPU_FLAG_SCATTERED
        } else {
            0
        };
    walk(
        name,
        || binding(pieces),
        op,
        |s, status| {
            expect(name, status, STATUS_SUCCESS)?;
            want("bound", query(&s.g.adapter, &s.v).Flags & bound, bound)
        },
        |s, status| {
            let a = &s.g.adapter;
            expect(name, status, STATUS_NO_MEMORY)?;
            // Not bound: no flag, and the VF cannot run.
            want("flags", query(a, &s.v).Flags & bound, 0)?;
            want(
                "D0 unbound",
                a.set_vf_power(1, POWER_DEVICE_D0, false),
                Err(STATUS_INVALID_DEVICE_STATE),
            )?;
            if let Some((v, before)) = &s.neighbour {
                want("the other vGPU", query(a, v), *before)?;
            }
            // Once memory is back it binds, at the right place.
            expect("bind again", op(s), STATUS_SUCCESS)?;
            let q = query(a, &s.v);
            want("flags", q.Flags & bound, bound)?;
            let host = a
                .vgpu_host_state(s.v.partition)
                .map_err(|e| format!("host state: {e:?}"))?;
            want("reserve offset", host.ReserveOffset, s.v.reserves[0].offset)?;
            a.set_vf_power(1, POWER_DEVICE_D0, false)
                .map_err(|e| format!("D0: {e:?}"))?;
            // The VF's GPU writes land where the binding says: VF page
            // 1024 is the first page of the second piece (or of the reserve
            // + 4 MiB).
            let basis = s.v.reserves[0].basis.unwrap();
            let _ = query_all(a, basis, VF_RESERVE / 4096, true);
            a.vf_write_notify(&s.v, 4 * MIB, 4096)
                .map_err(|e| format!("write notify: {e:?}"))?;
            let bits = query_all(a, basis, VF_RESERVE / 4096, true);
            want(
                "dirty pages",
                set_bits(&bits, VF_RESERVE / 4096),
                vec![1024],
            )
        },
    )
}

pub(crate) struct Destroying {
    pub(crate) g: Gpup,
    pub(crate) v: VgpuInfo,
    pub(crate) list: [HANDLE; 1],
}

pub(crate) fn destroy_allocation_raw(a: &Adapter, list: &[HANDLE]) -> NTSTATUS {
    let mut args = DXGKARG_DESTROYALLOCATION::zeroed();
    args.NumAllocations = list.len() as u32;
    args.pAllocationList = list.as_ptr();
    unsafe { a.destroy_allocation_raw(&raw const args) }
}

/// DestroyAllocation of a running vGPU's reserve (`bound`), or, in the OS's
/// order, after DestroyVirtualGpu.
pub(crate) fn walk_destroy_allocation(name: &str, bound: bool) -> Result<Walked, String> {
    walk(
        name,
        || {
            let g = gpup(Some(2));
            let v = running_vf(&g.adapter, 0);
            if !bound {
                assert_eq!(g.adapter.destroy_vgpu_raw(0), STATUS_SUCCESS);
            }
            let list = [core::ptr::without_provenance_mut(v.reserves[0].allocation)];
            Destroying { g, v, list }
        },
        |s| destroy_allocation_raw(&s.g.adapter, &s.list),
        |_, status| expect("DestroyAllocation", status, STATUS_SUCCESS),
        |s, status| {
            let a = &s.g.adapter;
            expect("DestroyAllocation", status, STATUS_NO_MEMORY)?;
            if bound {
                // The vGPU still runs on its reserve.
                let q = query(a, &s.v);
                want("power", q.PowerState, 1)?;
                want(
                    "flags",
                    q.Flags & (GPUP_VGPU_FLAG_RESERVE_BOUND | GPUP_VGPU_FLAG_REVOKED),
                    GPUP_VGPU_FLAG_RESERVE_BOUND,
                )?;
            }
            // The allocation is still there: destroyed by the retry, and only then.
            expect("again", destroy_allocation_raw(a, &s.list), STATUS_SUCCESS)?;
            expect(
                "a third time",
                destroy_allocation_raw(a, &s.list),
                STATUS_INVALID_HANDLE,
            )?;
            if bound {
                let q = query(a, &s.v);
                want("power after", q.PowerState, 4)?;
                want(
                    "revoked",
                    q.Flags & GPUP_VGPU_FLAG_REVOKED,
                    GPUP_VGPU_FLAG_REVOKED,
                )?;
            }
            Ok(())
        },
    )
}

pub(crate) struct Configuring {
    pub(crate) g: Gpup,
    pub(crate) v: VgpuInfo,
    pub(crate) before: Vec<u8>,
}

/// WriteVirtualFunctionConfig of the command register: memory decoding on.
pub(crate) fn walk_config_write() -> Result<Walked, String> {
    const ENABLE: [u8; 2] = [0x02, 0x00];
    walk(
        "WriteVirtualFunctionConfig (command register)",
        || {
            let g = gpup(Some(2));
            let v = running_vf(&g.adapter, 0);
            let before = g.adapter.vf_config_space(0).unwrap();
            Configuring { g, v, before }
        },
        |s| s.g.adapter.vf_config_write(0, 0x04, &ENABLE),
        |s, r| {
            want("WriteVirtualFunctionConfig", r, Ok(()))?;
            want(
                "memory enabled",
                flag(&s.g.adapter, &s.v, GPUP_VGPU_FLAG_MEMORY_ENABLED),
                true,
            )
        },
        |s, r| {
            let a = &s.g.adapter;
            want("WriteVirtualFunctionConfig", r, Err(STATUS_NO_MEMORY))?;
            if a.vf_config_space(0).unwrap() != s.before {
                return Err("the configuration space changed".into());
            }
            want(
                "memory enabled",
                flag(a, &s.v, GPUP_VGPU_FLAG_MEMORY_ENABLED),
                false,
            )?;
            want("again", a.vf_config_write(0, 0x04, &ENABLE), Ok(()))?;
            let mut command = [0u8; 2];
            a.vf_config_read(0, 0x04, &mut command).unwrap();
            want("command", command[0] & 0x02, 0x02)?;
            want(
                "memory enabled",
                flag(a, &s.v, GPUP_VGPU_FLAG_MEMORY_ENABLED),
                true,
            )
        },
    )
}
