//! The adapter's capability answers through the C ABI, driven by the Dxgkrnl
//! stand-in: the MCDM shape of `../shared/spec/adapter-start.md` 2.7, the one
//! query answered before StartDevice (WDDMDEVICECAPS, 2.1 step 1), every
//! output field of every capability query, malformed inputs, and output
//! buffers too small for the answer (which must stay untouched).

use core::mem::size_of;

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, Driver};

/// Bytes after the answer that must stay as they were.
const GUARD: usize = 16;
/// What the test fills buffers with before a query.
const FILL: u8 = 0xA5;

/// Queries `ty` into a buffer of `len` bytes followed by a guard, and
/// returns the status and the first `len` bytes; fails the test if the
/// driver wrote past `len`, or wrote anything while failing.
fn query(
    adapter: &Adapter,
    ty: DXGK_QUERYADAPTERINFOTYPE,
    input: &[u8],
    len: usize,
) -> (NTSTATUS, Vec<u8>) {
    let mut buf = vec![FILL; len + GUARD];
    let status = adapter.query_adapter_info_raw(ty, input, &mut buf[..len]);
    assert!(
        buf[len..].iter().all(|&b| b == FILL),
        "type {}: wrote past OutputDataSize {len}",
        ty.0
    );
    if status != STATUS_SUCCESS {
        assert!(
            buf.iter().all(|&b| b == FILL),
            "type {}: failed with {status:?} but wrote",
            ty.0
        );
    }
    buf.truncate(len);
    (status, buf)
}

/// Queries `ty` into an exactly sized `T`, which must succeed.
fn answer<T: Record>(adapter: &Adapter, ty: DXGK_QUERYADAPTERINFOTYPE, input: &[u8]) -> T {
    let (status, bytes) = query(adapter, ty, input, size_of::<T>());
    assert_eq!(status, STATUS_SUCCESS, "type {}", ty.0);
    // SAFETY: `bytes` holds `size_of::<T>()` bytes and a `Record` is plain data.
    unsafe { bytes.as_ptr().cast::<T>().read_unaligned() }
}

/// Asserts that a buffer one byte short of `T` is refused untouched.
fn refuses_short<T: Record>(adapter: &Adapter, ty: DXGK_QUERYADAPTERINFOTYPE, input: &[u8]) {
    let (status, _) = query(adapter, ty, input, size_of::<T>() - 1);
    assert_eq!(status, STATUS_BUFFER_TOO_SMALL, "type {}", ty.0);
}

/// The bytes of one field (`offset`, `size` from the record's `ABI`) of a
/// plain-data record, read byte by byte so that no padding is ever read.
fn field_bytes<T: Record>(v: &T, field: &dxgk_sys::abi::FieldInfo) -> Vec<u8> {
    let base = core::ptr::from_ref(v).cast::<u8>();
    (field.offset..field.offset + field.size)
        .map(|i| {
            assert!(i < size_of::<T>());
            // SAFETY: byte `i` of a whole `T` lies inside a field (the ABI
            // metadata's offsets come from `offset_of!`), so it is initialised.
            unsafe { base.wrapping_add(i).read() }
        })
        .collect()
}

fn u32_le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// `DXGK_QUERYPAGETABLELEVELDESCIN`: level, then physical adapter (WORDs).
fn level_in(level: u16, adapter: u16) -> Vec<u8> {
    [level.to_le_bytes(), adapter.to_le_bytes()].concat()
}

/// Every query type the adapter answers after StartDevice, with a valid input.
fn answered_types() -> Vec<(DXGK_QUERYADAPTERINFOTYPE, Vec<u8>)> {
    vec![
        (DXGKQAITYPE_DRIVERCAPS, vec![]),
        (DXGKQAITYPE_NUMPOWERCOMPONENTS, u32_le(0)),
        (DXGKQAITYPE_HISTORYBUFFERPRECISION, u32_le(0)),
        (DXGKQAITYPE_GPUMMUCAPS, u32_le(0)),
        (DXGKQAITYPE_PAGETABLELEVELDESC, level_in(0, 0)),
        (DXGKQAITYPE_PHYSICALADAPTERCAPS, u32_le(0)),
        (DXGKQAITYPE_ADAPTERPERFDATA_CAPS, u32_le(0)),
        (DXGKQAITYPE_GPUVERSION, u32_le(0)),
        (DXGKQAITYPE_DIRTYBITTRACKINGCAPS, vec![]),
        (DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, u32_le(2)), // the VRAM segment (1 is the aperture)
        (DXGKQAITYPE_GPUPCAPS, vec![]),
        (DXGKQAITYPE_64BITONLYCAPS, u32_le(0)),
    ]
}

#[test]
fn wddm_device_caps_is_the_only_query_answered_before_start_device() {
    let driver = Driver::load().expect("driver loads");
    let mut adapter = driver.add_device().expect("AddDevice");
    // As Dxgkrnl asks it: with its interface version as input.
    let input = u32_le(DXGKDDI_INTERFACE_VERSION_WDDM3_2);
    let caps: DXGK_WDDMDEVICECAPS = answer(&adapter, DXGKQAITYPE_WDDMDEVICECAPS, &input);
    assert_eq!(caps.WDDMVersion, DXGKDDI_WDDMv3_2);
    // Without input too; a present input must be a whole ULONG.
    let caps: DXGK_WDDMDEVICECAPS = answer(&adapter, DXGKQAITYPE_WDDMDEVICECAPS, &[]);
    assert_eq!(caps.WDDMVersion.0, 0x3200);
    let (status, _) = query(&adapter, DXGKQAITYPE_WDDMDEVICECAPS, &[0, 0], 4);
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    refuses_short::<DXGK_WDDMDEVICECAPS>(&adapter, DXGKQAITYPE_WDDMDEVICECAPS, &input);

    // Every other type, answered or not after start, is refused before it.
    let mut others: Vec<i32> = (0..=48)
        .filter(|&t| t != DXGKQAITYPE_WDDMDEVICECAPS.0)
        .collect();
    others.extend([-1, 49, 9999, i32::MAX]);
    for ty in others {
        let (status, _) = query(&adapter, DXGK_QUERYADAPTERINFOTYPE(ty), &u32_le(0), 1024);
        assert_eq!(
            status, STATUS_INVALID_DEVICE_STATE,
            "type {ty} before start"
        );
    }

    adapter.start().expect("StartDevice");
    let started: DXGK_WDDMDEVICECAPS = answer(&adapter, DXGKQAITYPE_WDDMDEVICECAPS, &input);
    let drivercaps: DXGK_DRIVERCAPS = answer(&adapter, DXGKQAITYPE_DRIVERCAPS, &[]);
    assert_eq!(started.WDDMVersion, drivercaps.WDDMVersion);
    for (ty, input) in answered_types() {
        let (status, _) = query(&adapter, ty, &input, 1024);
        assert_eq!(status, STATUS_SUCCESS, "type {} once started", ty.0);
    }

    // Stopped: again only WDDMDEVICECAPS (Dxgkrnl may ask it before a restart).
    adapter.stop().expect("StopDevice");
    let stopped: DXGK_WDDMDEVICECAPS = answer(&adapter, DXGKQAITYPE_WDDMDEVICECAPS, &input);
    assert_eq!(stopped.WDDMVersion, DXGKDDI_WDDMv3_2);
    for (ty, input) in answered_types() {
        let (status, _) = query(&adapter, ty, &input, 1024);
        assert_eq!(status, STATUS_INVALID_DEVICE_STATE, "type {} stopped", ty.0);
    }
    adapter.remove().expect("RemoveDevice");
}

fn started() -> (Driver, Adapter) {
    let driver = Driver::load().expect("driver loads");
    let mut adapter = driver.add_device().expect("AddDevice");
    adapter.start().expect("StartDevice");
    (driver, adapter)
}

#[test]
fn driver_caps_report_the_mcdm_shape_field_by_field() {
    let (_driver, adapter) = started();
    // 592 bytes: what Dxgkrnl passes for this DDI version (spec 2.2 d).
    let (status, bytes) = query(&adapter, DXGKQAITYPE_DRIVERCAPS, &[], 592);
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(size_of::<DXGK_DRIVERCAPS>(), 592);
    // SAFETY: 592 bytes of a plain-data record.
    let c = unsafe { bytes.as_ptr().cast::<DXGK_DRIVERCAPS>().read_unaligned() };
    assert_eq!(c.WDDMVersion.0, 0x3200);
    assert_eq!(c.HighestAcceptableAddress.QuadPart, i64::MAX);
    assert_eq!(c.MiscCaps, DriverMiscCaps::ComputeOnly);
    assert_eq!(c.GpuEngineTopology.NbAsymetricProcessingNodes, 1);
    assert_eq!(
        c.SchedulingCaps.Value,
        VidSchCaps::MultiEngineAware
            | VidSchCaps::PreemptionAware
            | VidSchCaps::LowIrqlPreemptCommand
    );
    assert_eq!(
        c.MemoryManagementCaps.Value,
        VidMmCaps::VirtualAddressingSupported | VidMmCaps::GpuMmuSupported
    );
    assert!(
        !c.MemoryManagementCaps
            .Value
            .contains(VidMmCaps::ParavirtualizationSupported)
    );
    assert!(
        !c.MemoryManagementCaps
            .Value
            .contains(VidMmCaps::DedicatedPagingEngine)
    );
    assert_eq!(c.MemoryManagementCaps.PagingNode, 0);
    assert_eq!(
        c.PreemptionCaps.GraphicsPreemptionGranularity,
        D3DKMDT_GRAPHICS_PREEMPTION_DMA_BUFFER_BOUNDARY
    );
    assert_eq!(
        c.PreemptionCaps.ComputePreemptionGranularity,
        D3DKMDT_COMPUTE_PREEMPTION_DMA_BUFFER_BOUNDARY
    );
    assert_eq!(c.SupportPerEngineTDR, 1);
    assert_eq!(
        c.SupportNonVGA, 0,
        "MCDM: SupportNonVGA must be 0 (spec G13)"
    );
    // Every other byte is zero: no display, pointer, flip, overlay, hybrid or
    // power capability. Compared against a record holding only the fields above.
    let mut expected = DXGK_DRIVERCAPS::zeroed();
    expected.WDDMVersion = c.WDDMVersion;
    expected.HighestAcceptableAddress = c.HighestAcceptableAddress;
    expected.MiscCaps = c.MiscCaps;
    expected.GpuEngineTopology.NbAsymetricProcessingNodes = 1;
    expected.SchedulingCaps = c.SchedulingCaps;
    expected.MemoryManagementCaps = c.MemoryManagementCaps;
    expected.PreemptionCaps = c.PreemptionCaps;
    expected.SupportPerEngineTDR = 1;
    for field in DXGK_DRIVERCAPS::ABI.fields {
        let range = field.offset..field.offset + field.size;
        assert_eq!(
            bytes[range],
            field_bytes(&expected, field),
            "DRIVERCAPS.{}",
            field.name
        );
    }
}

#[test]
fn physical_adapter_caps_answer_adapter_zero_only() {
    let (_driver, adapter) = started();
    let c: DXGK_PHYSICALADAPTERCAPS = answer(&adapter, DXGKQAITYPE_PHYSICALADAPTERCAPS, &u32_le(0));
    assert_eq!((c.NumExecutionNodes, c.PagingNodeIndex), (1, 0));
    // Non-NULL, and an opaque small value, never a kernel address.
    assert_eq!(c.DxgkPhysicalAdapterHandle.addr(), 1);
    assert_eq!(c.Flags.Value, PhysicalAdapterFlags::GpuMmuSupported);
    assert_eq!((c.VPRPagingNode, c.VirtualCopyNodeIndex), (0, 0));
    // Matches DRIVERCAPS.
    let d: DXGK_DRIVERCAPS = answer(&adapter, DXGKQAITYPE_DRIVERCAPS, &[]);
    assert_eq!(
        u32::from(c.NumExecutionNodes),
        d.GpuEngineTopology.NbAsymetricProcessingNodes
    );
    assert_eq!(
        c.Flags
            .Value
            .contains(PhysicalAdapterFlags::GpuMmuSupported),
        d.MemoryManagementCaps
            .Value
            .contains(VidMmCaps::GpuMmuSupported)
    );
    for bad in [u32_le(1), u32_le(u32::MAX), vec![], vec![0, 0]] {
        let (status, _) = query(&adapter, DXGKQAITYPE_PHYSICALADAPTERCAPS, &bad, 32);
        assert_eq!(status, STATUS_INVALID_PARAMETER, "input {bad:?}");
    }
    refuses_short::<DXGK_PHYSICALADAPTERCAPS>(
        &adapter,
        DXGKQAITYPE_PHYSICALADAPTERCAPS,
        &u32_le(0),
    );
}

#[test]
fn gpummu_caps_and_level_descriptors_describe_one_consistent_two_level_geometry() {
    let (_driver, adapter) = started();
    let m: DXGK_GPUMMUCAPS = answer(&adapter, DXGKQAITYPE_GPUMMUCAPS, &u32_le(0));
    assert_eq!(m.Value, 0);
    assert_eq!(m.PageTableUpdateMode, DXGK_PAGETABLEUPDATE_GPU_PHYSICAL);
    assert_eq!(m.VirtualAddressBitCount, 30);
    assert!((13..=63).contains(&m.VirtualAddressBitCount));
    assert_eq!(m.PageTableLevelCount, 2);
    assert!(m.PageTableLevelCount <= DXGK_MAX_PAGE_TABLE_LEVEL_COUNT);
    assert_eq!(m.LeafPageTableSizeFor64KPagesInBytes, 4096);
    assert_eq!(m.LegacyBehaviors, 0);
    let mut bits = 12; // 4 KiB pages.
    for level in 0..2u16 {
        let l: DXGK_PAGE_TABLE_LEVEL_DESC = answer(
            &adapter,
            DXGKQAITYPE_PAGETABLELEVELDESC,
            &level_in(level, 0),
        );
        assert_eq!(l.PageTableIndexBitCount, 9, "level {level}");
        assert_eq!(
            (l.PageTableSegmentId, l.PagingProcessPageTableSegmentId),
            (0, 0)
        );
        assert_eq!(
            (l.PageTableSizeInBytes, l.PageTableAlignmentInBytes),
            (4096, 4096)
        );
        // 512 eight-byte entries fill the table exactly.
        assert_eq!(8u32 << l.PageTableIndexBitCount, l.PageTableSizeInBytes);
        bits += l.PageTableIndexBitCount;
    }
    assert_eq!(bits, m.VirtualAddressBitCount);
    for bad in [
        level_in(2, 0),
        level_in(u16::MAX, 0),
        level_in(0, 1),
        vec![0, 0],
        vec![],
    ] {
        let (status, _) = query(&adapter, DXGKQAITYPE_PAGETABLELEVELDESC, &bad, 20);
        assert_eq!(status, STATUS_INVALID_PARAMETER, "input {bad:?}");
    }
    for bad in [u32_le(1), vec![]] {
        let (status, _) = query(&adapter, DXGKQAITYPE_GPUMMUCAPS, &bad, 24);
        assert_eq!(status, STATUS_INVALID_PARAMETER, "input {bad:?}");
    }
    refuses_short::<DXGK_GPUMMUCAPS>(&adapter, DXGKQAITYPE_GPUMMUCAPS, &u32_le(0));
    refuses_short::<DXGK_PAGE_TABLE_LEVEL_DESC>(
        &adapter,
        DXGKQAITYPE_PAGETABLELEVELDESC,
        &level_in(1, 0),
    );
}

#[test]
fn history_precision_power_components_and_64bit_caps() {
    let (_driver, adapter) = started();
    let p: DXGKARG_HISTORYBUFFERPRECISION =
        answer(&adapter, DXGKQAITYPE_HISTORYBUFFERPRECISION, &u32_le(0));
    assert_eq!(p.PrecisionBits, 64);
    let (status, _) = query(&adapter, DXGKQAITYPE_HISTORYBUFFERPRECISION, &u32_le(1), 4);
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    let (status, _) = query(&adapter, DXGKQAITYPE_HISTORYBUFFERPRECISION, &[], 4);
    assert_eq!(
        status, STATUS_INVALID_PARAMETER,
        "its input record is required"
    );
    refuses_short::<DXGKARG_HISTORYBUFFERPRECISION>(
        &adapter,
        DXGKQAITYPE_HISTORYBUFFERPRECISION,
        &u32_le(0),
    );

    // Two UINT answers, both 0: written (the buffer was not zero), nothing past.
    for ty in [DXGKQAITYPE_NUMPOWERCOMPONENTS, DXGKQAITYPE_64BITONLYCAPS] {
        for input in [vec![], u32_le(0)] {
            let (status, bytes) = query(&adapter, ty, &input, 4);
            assert_eq!(
                (status, bytes),
                (STATUS_SUCCESS, vec![0; 4]),
                "type {}",
                ty.0
            );
        }
        let (status, bytes) = query(&adapter, ty, &[], 8);
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(bytes, [0, 0, 0, 0, FILL, FILL, FILL, FILL]);
        let (status, _) = query(&adapter, ty, &[], 3);
        assert_eq!(status, STATUS_BUFFER_TOO_SMALL, "type {}", ty.0);
        for bad in [u32_le(1), vec![0]] {
            let (status, _) = query(&adapter, ty, &bad, 4);
            assert_eq!(
                status, STATUS_INVALID_PARAMETER,
                "type {} input {bad:?}",
                ty.0
            );
        }
    }
}

#[test]
fn perf_data_caps_and_gpu_version_are_zeroed_answers() {
    let (_driver, adapter) = started();
    for (ty, len) in [
        (
            DXGKQAITYPE_ADAPTERPERFDATA_CAPS,
            size_of::<DXGK_ADAPTER_PERFDATACAPS>(),
        ),
        (DXGKQAITYPE_GPUVERSION, size_of::<DXGK_GPUVERSION>()),
    ] {
        assert_eq!(
            len,
            if ty == DXGKQAITYPE_GPUVERSION {
                128
            } else {
                28
            }
        );
        for input in [vec![], u32_le(0)] {
            let (status, bytes) = query(&adapter, ty, &input, len);
            assert_eq!(status, STATUS_SUCCESS, "type {}", ty.0);
            assert!(
                bytes.iter().all(|&b| b == 0),
                "type {}: every byte written 0",
                ty.0
            );
        }
        let (status, _) = query(&adapter, ty, &[], len - 1);
        assert_eq!(status, STATUS_BUFFER_TOO_SMALL, "type {}", ty.0);
        let (status, _) = query(&adapter, ty, &u32_le(1), len);
        assert_eq!(status, STATUS_INVALID_PARAMETER, "type {}", ty.0);
    }
}

#[test]
fn types_an_mcdm_adapter_does_not_answer_stay_not_supported() {
    let (_driver, adapter) = started();
    // UMDRIVERPRIVATE, the QUERYSEGMENT versions MCDM must not support (spec
    // 4.1), power-component details (none reported), display types, and
    // types this adapter has no answer for. (QUERYSEGMENT4 and 42-46 are the
    // segment work's.)
    let mut types = vec![0, 2, 3, 4, 5, 7, 8, 9, 12];
    types.extend(16..=25);
    types.extend([28, 31, 33, 34, 35, 36, 37, 38, 48, 49, 9999, -1]);
    for ty in types {
        let (status, _) = query(&adapter, DXGK_QUERYADAPTERINFOTYPE(ty), &u32_le(0), 1024);
        assert_eq!(status, STATUS_NOT_SUPPORTED, "type {ty}");
    }
}

/// Whether the table's slot `name` (`DxgkDdi...`) is filled, read from its
/// bytes: the same whether `dxgk-sys` types the slot as a raw pointer or as a
/// function pointer.
fn filled(t: &DRIVER_INITIALIZATION_DATA, name: &str) -> bool {
    let field = DRIVER_INITIALIZATION_DATA::ABI
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no slot {name}"));
    field_bytes(t, field).iter().any(|&b| b != 0)
}

#[test]
fn the_registered_table_has_the_ddis_the_reported_caps_need() {
    let t = gpup_miniport::initialization_data();
    // Spec 2.2 l: SupportPerEngineTDR needs the per-engine TDR trio; spec
    // 2.3 step 2 / 5.4: PreemptionAware needs PreemptCommand; spec 2.3
    // step 4: GetNodeMetadata (WDDM >= 1.3).
    for name in [
        "DxgkDdiQueryDependentEngineGroup",
        "DxgkDdiQueryEngineStatus",
        "DxgkDdiResetEngine",
        "DxgkDdiPreemptCommand",
        "DxgkDdiGetNodeMetadata",
    ] {
        assert!(filled(&t, name), "{name} missing");
    }
    // ComputeOnly: the prohibited MCDM DDIs are absent (spec 3.1), and
    // CancelCommand is present iff CancelCommandAware (spec 3.2): it is not.
    for name in [
        "DxgkDdiPresent",
        "DxgkDdiControlInterrupt",
        "DxgkDdiQueryCurrentFence",
        "DxgkDdiCancelCommand",
    ] {
        assert!(!filled(&t, name), "{name} present");
    }
    // The check itself can fail: a table without PreemptCommand is caught.
    let mut broken = t;
    broken.DxgkDdiPreemptCommand = None;
    assert!(!filled(&broken, "DxgkDdiPreemptCommand"));
}

#[test]
fn the_registered_table_has_the_gpummu_ddis_gpummu_supported_needs() {
    let t = gpup_miniport::initialization_data();
    // Spec 2.3 step 9 / 3.1: a GpuMmu node of a ComputeOnly adapter.
    for name in [
        "DxgkDdiCreateProcess",
        "DxgkDdiDestroyProcess",
        "DxgkDdiGetRootPageTableSize",
        "DxgkDdiSetRootPageTable",
        "DxgkDdiSubmitCommandVirtual",
    ] {
        assert!(filled(&t, name), "{name} missing");
    }
}
