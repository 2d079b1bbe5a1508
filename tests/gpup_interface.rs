//! `DxgkDdiQueryInterface`, the interfaces' reference counting and contexts,
//! GPUPCAPS, and the standard-allocation path of the vGPU reserves, through
//! the C ABI: the QueryInterface and context rows of section 6 of
//! `docs/contract.md` (GPU partitioning), each asserting the status and that
//! nothing changed on error.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use core::ffi::c_void;
use std::path::Path;

use common::gpup::*;
use common::*;
use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, PartitionConfig, VgpuRequest};
use gpup_miniport::vgpu::escape::*;

const GUIDS: [(&GUID, u16); 3] = [
    (&GPU_PARTITION.guid, 128),
    (&SRIOV.guid, 120),
    (&FLEXIOV_DEVICE.guid, 56),
];

fn refs_tuple(a: &Adapter) -> (u32, u32, u32, u32) {
    let r = refs(a);
    (r.Partition, r.Sriov, r.FlexIov, r.IgnoredDereferences)
}

#[test]
fn query_interface_null_pointers_and_short_sizes_are_invalid_and_write_nothing() {
    let (_d, a) = started_gpup(None);
    let before = refs_tuple(&a);
    for (guid, size) in GUIDS {
        let mut buf = sentinel(256, 0xA5);
        let p = buf.as_mut_ptr().cast::<u8>();
        assert_eq!(
            qi(&a, core::ptr::null(), 256, 1, p),
            STATUS_INVALID_PARAMETER,
            "NULL InterfaceType"
        );
        assert_eq!(
            qi(&a, guid, 256, 1, core::ptr::null_mut()),
            STATUS_INVALID_PARAMETER,
            "NULL Interface"
        );
        for short in [0, 8, 32, size - 8, size - 1] {
            assert_eq!(
                qi(&a, guid, short, 1, p),
                STATUS_INVALID_PARAMETER,
                "Size {short}"
            );
        }
        assert_eq!(bytes(&buf), vec![0xA5; 256], "nothing written");
        // Exactly the size works.
        assert_eq!(qi(&a, guid, size, 1, p), STATUS_SUCCESS);
    }
    let q = a.driver().table().DxgkDdiQueryInterface.unwrap();
    assert_eq!(
        unsafe { q(a.context(), core::ptr::null_mut()) },
        STATUS_INVALID_PARAMETER
    );
    let after = refs_tuple(&a);
    assert_eq!(
        (after.0, after.1, after.2),
        (before.0 + 1, before.1 + 1, before.2 + 1),
        "only the successful queries took references"
    );
}

#[test]
fn query_interface_unknown_guid_or_disabled_partitioning_is_not_supported() {
    let (_d, a) = started_gpup(None);
    let before = refs_tuple(&a);
    let mut buf = sentinel(256, 0x5A);
    let p = buf.as_mut_ptr().cast::<u8>();
    let unknown = GUID::new(
        0x462B_C153,
        0x40EB,
        0x484A,
        [0x81, 0x68, 0x99, 0x72, 0xE3, 0xCD, 0x5A, 0xEE],
    );
    for guid in [&unknown, &MITIGABLE_DEVICE.guid, &GUID::zeroed()] {
        assert_eq!(qi(&a, guid, 256, 1, p), STATUS_NOT_SUPPORTED);
    }
    assert_eq!(bytes(&buf), vec![0x5A; 256]);
    assert_eq!(refs_tuple(&a), before);

    // Partitioning disabled by configuration: none of the three.
    let (_d2, off) = started_with_partitions(PartitionConfig {
        enabled: false,
        options: vec![],
    });
    assert!(
        off.gpu_virtualization().is_none(),
        "the model found no GPU-P"
    );
    for (guid, _) in GUIDS {
        assert_eq!(qi(&off, guid, 256, 1, p), STATUS_NOT_SUPPORTED);
    }
    assert_eq!(bytes(&buf), vec![0x5A; 256]);
    assert_eq!(
        off.query_adapter_info::<DXGK_GPUPCAPS>(DXGKQAITYPE_GPUPCAPS, &[])
            .err(),
        Some(STATUS_NOT_SUPPORTED)
    );
    // So is an adapter with no tracked segment to partition.
    let (_d3, untracked) = started_with(&dxgkrnl_model::AdapterConfig::single(8 * MIB, 0));
    assert!(untracked.gpu_virtualization().is_none());
    assert_eq!(
        qi(&untracked, &GPU_PARTITION.guid, 256, 1, p),
        STATUS_NOT_SUPPORTED
    );
}

#[test]
fn query_interface_version_zero_is_not_supported_and_higher_gets_version_one() {
    let (_d, a) = started_gpup(None);
    for (guid, size) in GUIDS {
        let mut buf = sentinel(512, 0xEE);
        let p = buf.as_mut_ptr().cast::<u8>();
        assert_eq!(qi(&a, guid, size, 0, p), STATUS_NOT_SUPPORTED, "version 0");
        assert_eq!(bytes(&buf), vec![0xEE; 512]);
        for version in [2, 7, u16::MAX] {
            let mut buf = sentinel(512, 0xEE);
            let p = buf.as_mut_ptr().cast::<u8>();
            assert_eq!(qi(&a, guid, 512, version, p), STATUS_SUCCESS);
            let header: INTERFACE = unsafe { p.cast::<INTERFACE>().read_unaligned() };
            assert_eq!(
                (header.Size, header.Version),
                (size, 1),
                "the interface's own size, version 1"
            );
            assert_eq!(
                &bytes(&buf)[usize::from(size)..],
                &vec![0xEE; 512 - usize::from(size)][..],
                "nothing past it"
            );
        }
    }
}

/// The function-pointer fields of an interface, by name (everything after
/// the `INTERFACE` header), read through the type's own layout metadata.
fn ddis<T: Record>(iface: &T) -> Vec<(&'static str, usize)> {
    let base = core::ptr::from_ref(iface).cast::<u8>();
    T::ABI
        .fields
        .iter()
        .filter(|f| f.offset >= 32)
        .map(|f| {
            (f.name, unsafe {
                base.add(f.offset).cast::<usize>().read_unaligned()
            })
        })
        .collect()
}

#[test]
fn every_function_pointer_of_each_interface_is_set_and_context_is_the_adapter() {
    let (_d, a) = started_gpup(None);
    let (p, s, f) = ifaces(&a);
    for (name, value) in ddis(&p).into_iter().chain(ddis(&s)).chain(ddis(&f)) {
        assert_ne!(value, 0, "{name} is NULL");
    }
    assert_eq!(
        (ddis(&p).len(), ddis(&s).len(), ddis(&f).len()),
        (12, 11, 3)
    );
    for (ctx, r, d) in [
        (p.Context, p.InterfaceReference, p.InterfaceDereference),
        (s.Context, s.InterfaceReference, s.InterfaceDereference),
        (f.Context, f.InterfaceReference, f.InterfaceDereference),
    ] {
        assert_eq!(ctx, a.context(), "Context = MiniportDeviceContext");
        assert!(r.is_some() && d.is_some());
    }
    assert_eq!(
        (p.Size, p.Version, s.Size, s.Version, f.Size, f.Version),
        (128, 1, 120, 1, 56, 1)
    );
    // The table has slot 15 filled and the allocation path too.
    let t = a.driver().table();
    assert!(t.DxgkDdiQueryInterface.is_some());
    assert!(t.DxgkDdiGetStandardAllocationDriverData.is_some());
}

#[test]
fn repeated_queries_take_one_reference_each_and_extra_dereferences_are_ignored() {
    let (_d, mut a) = started_gpup(None);
    assert_eq!(
        refs_tuple(&a),
        (1, 1, 1, 0),
        "the model's start took one of each"
    );
    let mut buf = sentinel(256, 0);
    for _ in 0..3 {
        for (guid, size) in GUIDS {
            assert_eq!(
                qi(&a, guid, size, 1, buf.as_mut_ptr().cast()),
                STATUS_SUCCESS
            );
        }
    }
    assert_eq!(refs_tuple(&a), (4, 4, 4, 0));
    let (p, s, f) = ifaces(&a);
    unsafe { (p.InterfaceReference.unwrap())(p.Context) };
    assert_eq!(
        refs_tuple(&a),
        (5, 4, 4, 0),
        "InterfaceReference counts for its own interface"
    );
    for _ in 0..5 {
        unsafe { (p.InterfaceDereference.unwrap())(p.Context) };
    }
    for _ in 0..3 {
        unsafe { (s.InterfaceDereference.unwrap())(s.Context) };
        unsafe { (f.InterfaceDereference.unwrap())(f.Context) };
    }
    assert_eq!(refs_tuple(&a), (0, 1, 1, 0));
    // Below zero: ignored (and counted).
    unsafe { (p.InterfaceDereference.unwrap())(p.Context) };
    unsafe { (p.InterfaceDereference.unwrap())(p.Context) };
    assert_eq!(refs_tuple(&a), (0, 1, 1, 2));
    // The model's stop dereferences what it holds: one more ignored for the partition.
    a.stop().unwrap();
    assert_eq!(refs_tuple(&a), (0, 0, 0, 3));
}

type AnyDdi = unsafe extern "system" fn(HANDLE, *mut c_void) -> NTSTATUS;
type AnyVoidDdi = unsafe extern "system" fn(HANDLE, *mut c_void);
const VOID_DDIS: [&str; 4] = [
    "DxgkDdiQueryProbedBars",
    "DxgkDdiGetVendorAndDevice",
    "DxgkDdiGetDeviceLocation",
    "DxgkDdiQueryVirtualFunctionLuid",
];
const OBSOLETE: [&str; 3] = [
    "DxgkDdiGetGpuEngines",
    "DxgkDdiSuspendVirtualGpu",
    "DxgkDdiResumeVirtualGpu",
];

#[test]
fn a_foreign_context_or_null_args_is_invalid_and_never_dereferenced() {
    let (_d, a) = started_gpup(Some(2));
    let live = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let removed = {
        let other = a.driver().add_device().unwrap();
        let ctx = other.context();
        other.remove().unwrap();
        ctx
    };
    let (p, s, f) = ifaces(&a);
    let all: Vec<(&str, usize)> = ddis(&p)
        .into_iter()
        .chain(ddis(&s))
        .chain(ddis(&f))
        .collect();
    let before = refs_tuple(&a);
    for ctx in [
        core::ptr::null_mut(),
        core::ptr::without_provenance_mut(0x1234_5678),
        core::ptr::without_provenance_mut(0x4750_0001_0000_003F),
        removed,
    ] {
        for &(name, addr) in &all {
            // A block the size of the largest argument, every byte a sentinel.
            let mut block = sentinel(4096, 0xC3);
            let args = block.as_mut_ptr().cast::<c_void>();
            if VOID_DDIS.contains(&name) {
                let ddi: AnyVoidDdi = unsafe { core::mem::transmute::<usize, AnyVoidDdi>(addr) };
                unsafe { ddi(ctx, args) };
            } else {
                let ddi: AnyDdi = unsafe { core::mem::transmute::<usize, AnyDdi>(addr) };
                assert_eq!(
                    unsafe { ddi(ctx, args) },
                    STATUS_INVALID_PARAMETER,
                    "{name} with {ctx:p}"
                );
            }
            assert_eq!(bytes(&block), vec![0xC3; 4096], "{name} touched its block");
        }
        for r in [
            p.InterfaceReference,
            p.InterfaceDereference,
            s.InterfaceDereference,
            f.InterfaceReference,
        ] {
            unsafe { (r.unwrap())(ctx) };
        }
        let mut q = sentinel(64, 0x11);
        let qi_ddi = a.driver().table().DxgkDdiQueryInterface.unwrap();
        assert_eq!(
            unsafe { qi_ddi(ctx, q.as_mut_ptr().cast()) },
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(bytes(&q), vec![0x11; 64]);
    }
    assert_eq!(refs_tuple(&a), before, "foreign contexts never counted");
    // NULL pArgs with the right context.
    for &(name, addr) in &all {
        if VOID_DDIS.contains(&name) {
            let ddi: AnyVoidDdi = unsafe { core::mem::transmute::<usize, AnyVoidDdi>(addr) };
            unsafe { ddi(a.context(), core::ptr::null_mut()) };
        } else {
            let ddi: AnyDdi = unsafe { core::mem::transmute::<usize, AnyDdi>(addr) };
            let expected = if OBSOLETE.contains(&name) {
                STATUS_NOT_SUPPORTED
            } else {
                STATUS_INVALID_PARAMETER
            };
            assert_eq!(
                unsafe { ddi(a.context(), core::ptr::null_mut()) },
                expected,
                "{name}(NULL)"
            );
        }
    }
    // The live vGPU is untouched by all of it.
    assert_eq!(a.vgpu_query(&live).unwrap().PowerState, 1);
    assert_eq!(vf_luid(&a, live.partition), live.luid);
}

#[test]
fn gpupcaps_is_derived_and_reads_zero_until_the_migration_ddis_exist() {
    let (_d, a) = started_gpup(None);
    let caps: DXGK_GPUPCAPS = a.query_adapter_info(DXGKQAITYPE_GPUPCAPS, &[]).unwrap();
    let t = a.driver().table();
    let migration = t.DxgkDdiPrepareLiveMigration.is_some()
        && t.DxgkDdiSaveImmutableMigrationData.is_some()
        && t.DxgkDdiSaveMutableMigrationData.is_some()
        && t.DxgkDdiEndLiveMigration.is_some()
        && t.DxgkDdiRestoreImmutableMigrationData.is_some()
        && t.DxgkDdiRestoreMutableMigrationData.is_some()
        && t.DxgkDdiWriteVirtualizedInterrupt.is_some()
        && t.DxgkDdiSetVirtualGpuResources2.is_some()
        && t.DxgkDdiSetVirtualFunctionPauseState.is_some();
    assert_eq!(caps.Caps.contains(GpupCaps::LiveMigration), migration);
    assert_eq!(
        caps.Caps.contains(GpupCaps::ScatterMapReserve),
        t.DxgkDdiSetVirtualGpuResources2.is_some()
    );
    assert!(
        !caps
            .Caps
            .intersects(GpupCaps::VirtualMachineHibernation | GpupCaps::HotDriverUpdate)
    );
    assert_eq!(caps.Caps.bits() & !0xF, 0);
    assert_eq!(
        a.gpu_virtualization().unwrap().caps,
        caps.Caps,
        "what the model read at start"
    );
    let mut small = [0u8; 3];
    assert_eq!(
        a.query_adapter_info_raw(DXGKQAITYPE_GPUPCAPS, &[], &mut small),
        STATUS_BUFFER_TOO_SMALL
    );
}

/// The interface table of a Markdown document: `| name | GUID |` rows.
fn guid_rows(text: &str, name: &str) -> String {
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("no row for {name}"));
    row.split('|').nth(2).unwrap().trim().to_owned()
}

#[test]
fn interface_guids_match_the_spec_table_and_the_models_copy() {
    use dxgkrnl_model::vgpu::guids;
    let driver = gpup_miniport::interfaces::ALL;
    let model = [
        guids::GPU_PARTITION,
        guids::SRIOV,
        guids::MITIGABLE_DEVICE,
        guids::FLEXIOV_DEVICE,
    ];
    for (d, m) in driver.iter().zip(model) {
        assert_eq!(d.guid, m, "{}: driver and model disagree", d.name);
        assert_eq!(
            gpup_miniport::interfaces::parse_guid(d.spelling),
            Some(d.guid)
        );
    }
    // The repository's own contract (docs/contract.md) lists them too.
    let contract =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract.md"))
            .expect("docs/contract.md");
    for d in driver {
        assert_eq!(guid_rows(&contract, d.name), d.spelling, "{}", d.name);
    }
}

#[test]
#[ignore = "compares with ../shared/spec/gpu-partitioning.md, outside this repository: .ci/run runs it (--ignored) where ../shared exists"]
fn interface_guids_match_the_shared_spec_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/gpu-partitioning.md");
    let spec = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (needs the shared folder beside the checkout)",
            path.display()
        )
    });
    for d in gpup_miniport::interfaces::ALL {
        assert_eq!(guid_rows(&spec, d.name), d.spelling, "{}", d.name);
    }
}

// ---- The standard-allocation path ----

fn std_args(
    surface: &mut D3DKMDT_VIRTUALGPUSURFACEDATA,
) -> DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA {
    let mut args = DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA::zeroed();
    args.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_VGPU;
    args.pCreateVirtualGpuSurfaceData = surface;
    args
}

fn surface_of(created: &DXGKARG_CREATEVIRTUALGPU) -> D3DKMDT_VIRTUALGPUSURFACEDATA {
    let s = created.SegmentInfo[0];
    D3DKMDT_VIRTUALGPUSURFACEDATA {
        Size: s.Size,
        Alignment: s.Alignment,
        DriverSegmentId: s.DriverSegmentId,
        PrivateDriverData: s.PrivateDriverData,
    }
}

/// Surface data that no live vGPU asked for, each named: `surface` with one
/// field changed.
fn surfaces_no_vgpu_asked_for(
    surface: D3DKMDT_VIRTUALGPUSURFACEDATA,
) -> [(&'static str, D3DKMDT_VIRTUALGPUSURFACEDATA); 4] {
    [
        (
            "other instance",
            D3DKMDT_VIRTUALGPUSURFACEDATA {
                PrivateDriverData: surface.PrivateDriverData + 1,
                ..surface
            },
        ),
        (
            "other segment",
            D3DKMDT_VIRTUALGPUSURFACEDATA {
                DriverSegmentId: GPUP_SEG_UNTRACKED,
                ..surface
            },
        ),
        (
            "smaller",
            D3DKMDT_VIRTUALGPUSURFACEDATA {
                Size: surface.Size - 4096,
                ..surface
            },
        ),
        (
            "other alignment",
            D3DKMDT_VIRTUALGPUSURFACEDATA {
                Alignment: 65536,
                ..surface
            },
        ),
    ]
}

#[test]
fn standard_allocation_data_only_for_vgpu_reserves_a_live_vgpu_asked_for() {
    let (_d, a) = started_gpup(Some(2));
    let mut created = create_block(0, [(0, 0, 0); 4]);
    assert_eq!(raw_create(&a, &mut created), STATUS_SUCCESS);
    let mut surface = surface_of(&created);
    // Other standard allocation types: not this adapter's.
    for ty in [1, 2, 3, 4, 6, 0, 99] {
        let mut args = std_args(&mut surface);
        args.StandardAllocationType = D3DKMDT_STANDARDALLOCATION_TYPE(ty);
        args.AllocationPrivateDriverDataSize = 77;
        assert_eq!(
            unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
            STATUS_NOT_SUPPORTED
        );
        assert_eq!(args.AllocationPrivateDriverDataSize, 77, "unchanged");
    }
    // The sizing call: 32 bytes of allocation data, none per resource.
    let mut args = std_args(&mut surface);
    args.ResourcePrivateDriverDataSize = 5;
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_SUCCESS
    );
    assert_eq!(
        (
            args.AllocationPrivateDriverDataSize,
            args.ResourcePrivateDriverDataSize
        ),
        (32, 0)
    );
    // A short buffer, then the right one.
    let mut data = [0xFFu8; 40];
    args.pAllocationPrivateDriverData = data.as_mut_ptr().cast();
    args.AllocationPrivateDriverDataSize = 31;
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(data, [0xFF; 40]);
    args.AllocationPrivateDriverDataSize = 32;
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_SUCCESS
    );
    assert_eq!(&data[..4], b"GPVA");
    assert_eq!(&data[32..], &[0xFF; 8], "nothing past 32 bytes");
    // Surface data no live vGPU asked for.
    for (what, tweak) in surfaces_no_vgpu_asked_for(surface) {
        let mut bad = tweak;
        let mut args = std_args(&mut bad);
        args.AllocationPrivateDriverDataSize = 9;
        assert_eq!(
            unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
            STATUS_INVALID_PARAMETER,
            "{what}"
        );
        assert_eq!(args.AllocationPrivateDriverDataSize, 9, "{what}: unchanged");
    }
    let mut args = std_args(&mut surface);
    args.pCreateVirtualGpuSurfaceData = core::ptr::null_mut();
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_INVALID_PARAMETER
    );
    // Once the vGPU is gone, its reserve is nobody's.
    assert_eq!(a.destroy_vgpu_raw(0), STATUS_SUCCESS);
    let mut args = std_args(&mut surface);
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_INVALID_PARAMETER
    );
}

/// Private data for the vGPU `created` describes, as the driver hands it out.
fn private_data(a: &Adapter, created: &DXGKARG_CREATEVIRTUALGPU) -> [u8; 32] {
    let mut surface = surface_of(created);
    let mut data = [0u8; 32];
    let mut args = std_args(&mut surface);
    args.pAllocationPrivateDriverData = data.as_mut_ptr().cast();
    assert_eq!(
        unsafe { a.get_standard_allocation_driver_data_raw(&raw mut args) },
        STATUS_SUCCESS
    );
    data
}

fn create_alloc(a: &Adapter, data: &mut [u8], infos: &mut [DXGK_ALLOCATIONINFO]) -> NTSTATUS {
    for info in infos.iter_mut() {
        info.pPrivateDriverData = data.as_mut_ptr().cast();
        info.PrivateDriverDataSize = data.len() as u32;
    }
    let mut c = DXGKARG_CREATEALLOCATION::zeroed();
    c.NumAllocations = infos.len() as u32;
    c.pAllocationInfo = infos.as_mut_ptr();
    unsafe { a.create_allocation_raw(&raw mut c) }
}

#[test]
fn create_allocation_refuses_foreign_data_and_bad_counts_creating_nothing() {
    let (_d, a) = started_gpup(Some(2));
    let mut created = create_block(0, [(0, 0, 0); 4]);
    assert_eq!(raw_create(&a, &mut created), STATUS_SUCCESS);
    let good = private_data(&a, &created);

    let mut info = [DXGK_ALLOCATIONINFO::zeroed()];
    let mut foreign = [0x42u8; 32];
    assert_eq!(
        create_alloc(&a, &mut foreign, &mut info),
        STATUS_NOT_SUPPORTED,
        "not a vGPU reserve"
    );
    let mut short = good[..16].to_vec();
    assert_eq!(
        create_alloc(&a, &mut short, &mut info),
        STATUS_NOT_SUPPORTED
    );
    let mut version = good;
    version[4] = 9;
    assert_eq!(
        create_alloc(&a, &mut version, &mut info),
        STATUS_INVALID_PARAMETER
    );
    let mut stranger = good;
    stranger[24] ^= 0x80;
    assert_eq!(
        create_alloc(&a, &mut stranger, &mut info),
        STATUS_INVALID_PARAMETER,
        "no vGPU has that instance"
    );
    assert!(info[0].hAllocation.is_null(), "nothing written");
    // All or nothing: one bad entry among good ones creates none.
    let mut two = [DXGK_ALLOCATIONINFO::zeroed(), DXGK_ALLOCATIONINFO::zeroed()];
    let mut g = good;
    two[0].pPrivateDriverData = g.as_mut_ptr().cast();
    two[0].PrivateDriverDataSize = 32;
    two[1].pPrivateDriverData = stranger.as_mut_ptr().cast();
    two[1].PrivateDriverDataSize = 32;
    let mut c = DXGKARG_CREATEALLOCATION::zeroed();
    c.NumAllocations = 2;
    c.pAllocationInfo = two.as_mut_ptr();
    assert_eq!(
        unsafe { a.create_allocation_raw(&raw mut c) },
        STATUS_INVALID_PARAMETER
    );
    assert!(two[0].hAllocation.is_null() && two[1].hAllocation.is_null());
    for n in [0u32, 33, u32::MAX] {
        let mut c = DXGKARG_CREATEALLOCATION::zeroed();
        c.NumAllocations = n;
        c.pAllocationInfo = info.as_mut_ptr();
        assert_eq!(
            unsafe { a.create_allocation_raw(&raw mut c) },
            STATUS_INVALID_PARAMETER,
            "NumAllocations {n}"
        );
    }
    let mut c = DXGKARG_CREATEALLOCATION::zeroed();
    c.NumAllocations = 1;
    assert_eq!(
        unsafe { a.create_allocation_raw(&raw mut c) },
        STATUS_INVALID_PARAMETER,
        "NULL array"
    );

    // The good one: its description, and a handle the model can pass back.
    let mut g = good;
    assert_eq!(create_alloc(&a, &mut g, &mut info), STATUS_SUCCESS);
    let i = info[0];
    assert!(!i.hAllocation.is_null());
    assert_eq!(i.Size as u64, created.SegmentInfo[0].Size);
    assert_eq!(i.Alignment, 4096);
    assert_eq!(
        (
            i.SupportedReadSegmentSet,
            i.SupportedWriteSegmentSet,
            i.EvictionSegmentSet
        ),
        (1 << (SEG_4K - 1), 1 << (SEG_4K - 1), 0)
    );
    assert_eq!(a.destroy_allocations(&[i.hAllocation.addr()]), Ok(()));
}

#[test]
fn destroy_allocation_checks_every_handle_first_and_revokes_a_bound_reserve() {
    let (_d, a) = started_gpup(Some(2));
    let v = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let w = a.create_vgpu(&VgpuRequest::default()).unwrap();
    let (hv, hw) = (v.reserves[0].allocation, w.reserves[0].allocation);
    let basis_handle = v.reserves[0].basis.unwrap().0.addr();
    for (what, list) in [
        ("NULL handle", vec![hv, 0]),
        ("forged", vec![hv, 0x4100_0000_0000_7701]),
        ("a memory basis", vec![basis_handle]),
        ("twice", vec![hv, hw, hv]),
    ] {
        assert_eq!(
            a.destroy_allocations(&list),
            Err(STATUS_INVALID_HANDLE),
            "{what}"
        );
    }
    let mut args = DXGKARG_DESTROYALLOCATION::zeroed();
    assert_eq!(
        unsafe { a.destroy_allocation_raw(&raw const args) },
        STATUS_INVALID_PARAMETER,
        "0 handles"
    );
    args.NumAllocations = 1;
    assert_eq!(
        unsafe { a.destroy_allocation_raw(&raw const args) },
        STATUS_INVALID_PARAMETER,
        "NULL list"
    );
    // Nothing was destroyed: both vGPUs still run on their reserves.
    for x in [&v, &w] {
        let q = a.vgpu_query(x).unwrap();
        assert_eq!((q.PowerState, q.Flags & GPUP_VGPU_FLAG_REVOKED), (1, 0));
    }
    // Out of order (not Dxgkrnl's order): the reserve is taken from the
    // running vGPU, which stops and can no longer run.
    a.destroy_allocations(&[hv]).unwrap();
    let q = a.vgpu_query(&v).unwrap();
    assert_eq!(q.PowerState, 4, "stopped");
    assert_ne!(q.Flags & GPUP_VGPU_FLAG_REVOKED, 0);
    assert_eq!(q.Flags & GPUP_VGPU_FLAG_RESERVE_BOUND, 0);
    assert_eq!(
        a.set_vf_power(v.partition, POWER_DEVICE_D0, false),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert_eq!(
        a.set_vgpu_resources(v.partition, &v.reserves),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert_eq!(
        a.destroy_allocations(&[hv]),
        Err(STATUS_INVALID_HANDLE),
        "stale now"
    );
    assert_eq!(
        a.vgpu_query(&w).unwrap().PowerState,
        1,
        "the other vGPU runs on"
    );
}

#[test]
fn before_start_and_after_stop_nothing_is_handed_out() {
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let mut a = driver.add_device().unwrap();
    let mut buf = sentinel(256, 0x42);
    for (guid, size) in GUIDS {
        assert_eq!(
            qi(&a, guid, size, 1, buf.as_mut_ptr().cast()),
            STATUS_INVALID_DEVICE_STATE
        );
    }
    a.start().unwrap();
    a.stop().unwrap();
    for (guid, size) in GUIDS {
        assert_eq!(
            qi(&a, guid, size, 1, buf.as_mut_ptr().cast()),
            STATUS_INVALID_DEVICE_STATE
        );
    }
    assert_eq!(bytes(&buf), vec![0x42; 256]);
    let r = refs(&a);
    assert_eq!(
        (r.Partition, r.Sriov, r.FlexIov, r.IgnoredDereferences),
        (0, 0, 0, 0)
    );
}
