//! The adapter-start rules of `../shared/spec/adapter-start.md` 2.1-2.5
//! (`dxgkrnl-model/src/start/rules.rs`), as dxgkrnl-model enforces them with
//! `StartChecks::Full`: the real driver, which starts, and one deliberately
//! broken driver per rule, the real driver with the one DDI its rule is
//! about answering wrongly (`adapter_start/answer_sheet.rs`), that must be
//! refused exactly at that rule, with its status, after every rule before
//! it was reported.
//!
//! `rules::AWAITING_DRIVER` names the one rule the real driver does not pass
//! yet (2.3.9, until the software engine's SubmitCommandVirtual lands);
//! `the_real_driver_passes_every_start_rule` checks that it is the only one.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::start::rules::{self, RULES, Rule};
use dxgkrnl_model::start::{Environment, MCDM, Verdict};
use dxgkrnl_model::{Adapter, Driver, StartChecks};

#[path = "adapter_start/answer_sheet.rs"]
mod answer_sheet;

use answer_sheet::*;

/// Starts the real driver broken by `b`, with `StartChecks::Full`.
fn start(b: Break) -> (Driver, Adapter, dxgkrnl_model::Result<(u32, u32)>) {
    BROKEN.with(|c| c.set(b));
    LIVE.with(|l| *l.borrow_mut() = (0, 0));
    CONTEXTS.with(|c| c.borrow_mut().clear());
    DEVICES.with(|d| d.borrow_mut().clear());
    let driver = Driver::load().unwrap().patched(patch);
    let mut adapter = driver.add_device().unwrap();
    adapter.set_start_checks(StartChecks::Full(environment(b)));
    let result = adapter.start();
    (driver, adapter, result)
}

fn ids(adapter: &Adapter) -> Vec<&'static str> {
    adapter.start_report().iter().map(|l| l.rule.id).collect()
}

fn index_of(rule: &Rule) -> usize {
    RULES.iter().position(|r| r == rule).unwrap()
}

/// `b` is refused at exactly `rule`, with `status`, after every rule before
/// it was reported (none refused), with nothing left created, and stopped.
fn assert_refused_at(b: Break, rule: &Rule, status: NTSTATUS) {
    let (_d, mut adapter, result) = start(b);
    assert_eq!(result, Err(status), "{b:?}: {}", rule.id);
    let expected: Vec<_> = RULES[..=index_of(rule)].iter().map(|r| r.id).collect();
    assert_eq!(
        ids(&adapter),
        expected,
        "{b:?}: every rule up to {} reported, in order",
        rule.id
    );
    let report = adapter.start_report();
    let (last, before) = report.split_last().unwrap();
    assert_eq!(
        last.verdict,
        Verdict::Refused(status.as_u32()),
        "{b:?}: {last}"
    );
    assert!(
        before
            .iter()
            .all(|l| !matches!(l.verdict, Verdict::Refused(_))),
        "{b:?}"
    );
    assert_eq!(
        LIVE.with(|l| *l.borrow()),
        (0, 0),
        "{b:?}: system devices/contexts destroyed"
    );
    assert!(adapter.gpu_virtualization().is_none());
    if rule != &rules::START_DEVICE {
        assert_eq!(
            adapter.stop(),
            Err(STATUS_INVALID_DEVICE_STATE),
            "{b:?}: the model stopped the adapter"
        );
    }
}

/// The status a rule fails with: fixed, or the driver's.
fn status_of(rule: &Rule, driver: Option<NTSTATUS>) -> NTSTATUS {
    NTSTATUS::from_u32(
        rule.failure_status(driver.map(NTSTATUS::as_u32))
            .expect("not tolerated"),
    )
}

#[test]
fn the_conforming_driver_passes_every_rule_in_order_and_starts_with_gpu_p() {
    let (_d, mut adapter, result) = start(Break::None);
    for line in adapter.start_report() {
        println!("{line}");
    }
    result.expect("starts");
    assert_eq!(
        ids(&adapter),
        RULES.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    for line in adapter.start_report() {
        assert!(
            matches!(line.verdict, Verdict::Passed | Verdict::NotApplicable),
            "{line}"
        );
    }
    // What the start learned: the two segments and the tracked one's page.
    assert_eq!(
        adapter.caps().segment_page_sizes,
        vec![(1, None), (2, Some(4096))]
    );
    assert!(
        adapter.gpu_virtualization().is_some(),
        "GPU-P after the start rules"
    );
    assert_eq!(
        LIVE.with(|l| *l.borrow()),
        (2, 2),
        "two system devices, a system and a paging context"
    );
    // The system context of node 0 on the first system device, the paging
    // context on the paging node (0) of the second; both SystemContext (bit
    // 0) and, GpuMmu, VirtualAddressing (bit 2); the driver's DMA buffers
    // in the aperture (segment 1: set bit 0).
    assert_eq!(
        CONTEXTS.with(|c| c.borrow().clone()),
        [(0, 0, 1, 0b101, 1), (1, 0, 1, 0b101, 1)]
    );
    assert_eq!(DEVICES.with(|d| d.borrow().len()), 2);
    adapter.stop().unwrap();
    assert_eq!(LIVE.with(|l| *l.borrow()), (0, 0), "destroyed at stop");
}

#[test]
fn each_broken_driver_is_refused_at_exactly_its_rule() {
    use rules::*;
    let cases: &[(Break, &Rule, Option<NTSTATUS>)] = &[
        (
            Break::PrestartQueryFails,
            &WDDM_DEVICE_CAPS,
            Some(STATUS_INVALID_DEVICE_STATE),
        ),
        (
            Break::StartDeviceFails,
            &START_DEVICE,
            Some(STATUS_INSUFFICIENT_RESOURCES),
        ),
        (Break::NoQueryAdapterInfo, &QUERY_ADAPTER_INFO, None),
        (
            Break::DriverCapsFails,
            &DRIVER_CAPS,
            Some(STATUS_NOT_SUPPORTED),
        ),
        (Break::WddmVersion2A00, &WDDM_VERSION, None),
        (
            Break::DeviceCapsVersion3100,
            &WDDM_DEVICE_CAPS_VERSION,
            None,
        ),
        (Break::NotComputeOnly, &COMPUTE_ACCELERATOR, None),
        (Break::DisplayClassNotComputeOnly, &UMD_NAME, None),
        (Break::PagingNodeNotANode, &PHYSICAL_ADAPTER_CAPS, None),
        (Break::NoMultiEngineAware, &MULTI_ENGINE_AWARE, None),
        (Break::BadFrameBufferSaveSize, &FRAME_BUFFER_SAVE_SIZE, None),
        (Break::MiscReservedBit, &MISC_CAPS_RESERVED, None),
        (Break::Wddm1WithPreemption, &FEATURE_CONSISTENCY, None),
        (Break::RuntimePmWithoutDdis, &CAP_DDI_COUPLINGS, None),
        (Break::NoSetVirtualMachineData, &MCDM_DDI_LIST, None),
        (Break::DpcMissing, &MCDM_DDI_LIST, None),
        (
            Break::NativeFenceUnanswered,
            &NATIVE_FENCE_CAPS,
            Some(STATUS_NOT_SUPPORTED),
        ),
        (Break::RenderOnlyPartialSet, &RENDER_DDI_SET, None),
        (
            Break::NoMultiEngineNoPhysicalCaps,
            &MULTI_ENGINE_PREEMPTION,
            None,
        ),
        (Break::NoComputePreemption, &MANDATORY_FEATURES, None),
        (Break::NoQueryDirtyBitData, &RENDER_CORE_DDIS, None),
        (Break::VirtualGpuOnlyNoUmd, &RENDER_UMD_NAME, None),
        (Break::VaBits12, &GPU_MMU, None),
        (
            Break::NodeMetadataFails,
            &NODE_METADATA,
            Some(STATUS_NOT_SUPPORTED),
        ),
        (Break::NodeNotGpuMmu, &NODE_FLAGS, None),
        (Break::NoSubmitCommandVirtual, &MCDM_SUBMISSION, None),
        (
            Break::QuerySegment4Fails,
            &QUERY_SEGMENT4,
            Some(STATUS_NOT_SUPPORTED),
        ),
        (Break::ZeroSegments, &SEGMENT_COUNT, None),
        (Break::ZeroSizeSegment, &SEGMENT_DESCRIPTORS, None),
        (Break::NoLocalBudget, &LOCAL_BUDGET, None),
        (Break::PagingBufferInVram, &PAGING_BUFFER_SEGMENT, None),
        (
            Break::MmuCountFails,
            &PBMM_QUERIES,
            Some(STATUS_NOT_SUPPORTED),
        ),
        (Break::PbmmSizeDiffers, &PBMM_MATCHES_LEGACY, None),
        (Break::TrackingPage2048, &SEGMENT_TRACKING_CAPS, None),
        (Break::Precision16, &HISTORY_BUFFER_PRECISION, None),
        (Break::CreateDeviceFails, &SYSTEM_DEVICES, None),
        (Break::CreateContextFails, &SYSTEM_CONTEXTS, None),
        (Break::PagingSegmentSetZero, &PAGING_DMA_POOL, None),
        (Break::NoRenderNoDisplay, &SOME_CORE, None),
        (Break::NoCalibrateGpuClock, &CLOCK_AND_STABLE_POWER, None),
    ];
    for &(b, rule, driver) in cases {
        println!("== {b:?}: must be refused at {}", rule.id);
        assert_refused_at(b, rule, status_of(rule, driver));
    }
    // Every rule that can refuse a start has its broken driver.
    for rule in RULES.iter().filter(|r| r.effect != Effect::Tolerated) {
        assert!(
            cases.iter().any(|(_, r, _)| *r == rule),
            "no broken driver for {}",
            rule.id
        );
    }
}

#[test]
fn tolerated_failures_are_reported_and_the_start_goes_on() {
    use rules::*;
    for (b, rule) in [
        (Break::NoMultiEngineNoPhysicalCaps, &PHYSICAL_ADAPTER_CAPS),
        (Break::DirtyCapsFails, &DIRTY_BIT_TRACKING_CAPS),
        (Break::SixtyFourBitFails, &SIXTY_FOUR_BIT_ONLY_CAPS),
        (Break::GpuVersionFails, &PERF_DATA_AND_VERSION),
    ] {
        let (_d, adapter, _) = start(b);
        let report = adapter.start_report();
        let at = report.iter().position(|l| l.rule == rule).unwrap();
        assert_eq!(
            report[at].verdict,
            Verdict::Tolerated,
            "{b:?}: {}",
            report[at]
        );
        assert!(
            report.len() > at + 1,
            "{b:?}: the start went on past {}",
            rule.id
        );
    }
    // Without DIRTYBITTRACKINGCAPS, VidMm takes the LEGACY path: no PBMM, no
    // per-segment tracking caps; the start itself passes every rule.
    let (_d, adapter, _) = start(Break::DirtyCapsFails);
    let verdict = |r: &Rule| {
        adapter
            .start_report()
            .iter()
            .find(|l| l.rule == r)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict(&PBMM_QUERIES), Verdict::NotApplicable);
    assert_eq!(verdict(&SEGMENT_TRACKING_CAPS), Verdict::NotApplicable);
    let (_d, adapter, result) = start(Break::SixtyFourBitFails);
    result.expect("64BITONLYCAPS failing is tolerated");
    assert!(adapter.gpu_virtualization().is_some());
}

#[test]
fn interrupt_and_dpc_are_recorded_then_required() {
    let (_d, adapter, _) = start(Break::DpcMissing);
    let line = &adapter.start_report()[index_of(&rules::INTERRUPT_DPC)];
    assert_eq!(line.verdict, Verdict::Passed);
    assert!(line.detail.contains("false"), "{line}");
}

#[test]
fn report_mode_plays_every_rule_of_a_driver_broken_twice() {
    BROKEN.with(|c| c.set(Break::MiscReservedBit));
    let driver = Driver::load().unwrap().patched(|t| {
        patch(t);
        t.DxgkDdiSetVirtualMachineData = None;
    });
    let mut adapter = driver.add_device().unwrap();
    adapter.set_start_checks(StartChecks::Report(MCDM));
    assert_eq!(
        adapter.start(),
        Err(STATUS_INVALID_PARAMETER),
        "the first refusal's status"
    );
    assert_eq!(
        ids(&adapter),
        RULES.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    let refused: Vec<_> = adapter
        .start_report()
        .iter()
        .filter(|l| matches!(l.verdict, Verdict::Refused(_)))
        .map(|l| l.rule.id)
        .collect();
    assert_eq!(
        refused,
        [rules::MISC_CAPS_RESERVED.id, rules::MCDM_DDI_LIST.id]
    );
}

/// Whether the repository's INF installs a ComputeAccelerator-class device.
fn inf_is_compute_accelerator() -> bool {
    let inf = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inf/gpup_miniport.inx"
    ))
    .unwrap();
    inf.lines().any(|l| {
        l.replace(' ', "")
            .eq_ignore_ascii_case("Class=ComputeAccelerator")
    })
}

/// The real driver in report mode: which rules it breaks (printed: only the
/// awaited one), and that every rule was played once, in order.
#[test]
fn the_real_driver_is_reported_against_every_rule() {
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    let env = Environment {
        compute_accelerator_class: inf_is_compute_accelerator(),
        umd_registered: false,
    };
    adapter.set_start_checks(StartChecks::Report(env));
    let result = adapter.start();
    let refused: Vec<_> = adapter
        .start_report()
        .iter()
        .filter(|l| matches!(l.verdict, Verdict::Refused(_)))
        .map(|l| l.rule.id)
        .collect();
    println!("the real driver: {result:?}; rules it breaks: {refused:?}");
    assert_eq!(
        ids(&adapter),
        RULES.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    let awaited: Vec<_> = rules::AWAITING_DRIVER.iter().map(|r| r.id).collect();
    assert_eq!(refused, awaited);
}

/// The real driver, every rule enforced: it passes every rule except
/// [`rules::AWAITING_DRIVER`] (2.3.9, until wt/engine's
/// SubmitCommandVirtual lands), which it must break, and nothing else. When
/// `AWAITING_DRIVER` becomes `None`, this checks that every rule passes.
#[test]
fn the_real_driver_passes_every_start_rule() {
    assert!(
        inf_is_compute_accelerator(),
        "issue 16 item 1: the INF's class"
    );
    let driver = Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    adapter.set_start_checks(dxgkrnl_model::DEFAULT_START_CHECKS);
    let result = adapter.start();
    for line in adapter.start_report() {
        println!("{line}");
    }
    result.expect("the real driver starts");
    assert_eq!(
        ids(&adapter),
        RULES.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    let refused: Vec<_> = adapter
        .start_report()
        .iter()
        .filter(|l| matches!(l.verdict, Verdict::Refused(_)))
        .map(|l| l.rule.id)
        .collect();
    let awaited: Vec<_> = rules::AWAITING_DRIVER.iter().map(|r| r.id).collect();
    assert_eq!(refused, awaited, "every rule passes but the awaited one");
    // Under Full (no waiver) the real driver is refused at exactly the
    // awaited rule, or starts.
    let mut strict = driver.add_device().unwrap();
    strict.set_start_checks(StartChecks::Full(MCDM));
    match rules::AWAITING_DRIVER {
        Some(rule) => {
            assert_eq!(strict.start(), Err(status_of(rule, None)));
            assert_eq!(strict.start_report().last().unwrap().rule, rule);
        }
        None => {
            strict.start().unwrap();
            strict.stop().unwrap();
        }
    }
    assert!(adapter.gpu_virtualization().is_some());
    let tracked: Vec<_> = adapter
        .caps()
        .segment_page_sizes
        .iter()
        .filter(|(_, p)| p.is_some())
        .collect();
    assert_eq!(tracked, [&(2, Some(4096))], "the tracked VRAM segment");
    assert_eq!(
        adapter.caps().segment_page_sizes[0],
        (1, None),
        "the aperture"
    );
    adapter.stop().unwrap();
}

#[test]
fn the_full_start_is_the_default_now_that_the_driver_is_mcdm() {
    assert_eq!(
        dxgkrnl_model::DEFAULT_START_CHECKS,
        match rules::AWAITING_DRIVER {
            Some(rule) => StartChecks::FullExcept(MCDM, rule),
            None => StartChecks::Full(MCDM),
        }
    );
    if let Some(rule) = rules::AWAITING_DRIVER {
        assert_eq!(
            rule.id,
            rules::MCDM_SUBMISSION.id,
            "only SubmitCommandVirtual (wt/engine) is awaited; AWAITING_DRIVER becomes None when it lands"
        );
    }
    let _ = DXGK_DRIVERCAPS::zeroed();
}

/// (record, member, the offset or size `start/abi.rs` uses).
const ABI_OFFSETS: &[(&str, &str, usize)] = &[
    (
        "_DXGK_DRIVERCAPS",
        ".sizeof",
        dxgkrnl_model::start::abi::caps::SIZE,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "PresentationCaps",
        dxgkrnl_model::start::abi::caps::PRESENTATION_CAPS,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "FlipCaps",
        dxgkrnl_model::start::abi::caps::FLIP_CAPS,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "SchedulingCaps",
        dxgkrnl_model::start::abi::caps::SCHEDULING_CAPS,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "MemoryManagementCaps",
        dxgkrnl_model::start::abi::caps::MEMORY_MANAGEMENT_CAPS,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "MemoryManagementCaps.PagingNode",
        dxgkrnl_model::start::abi::caps::PAGING_NODE,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "GpuEngineTopology.NbAsymetricProcessingNodes",
        dxgkrnl_model::start::abi::caps::NODES,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "WDDMVersion",
        dxgkrnl_model::start::abi::caps::WDDM_VERSION,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "PreemptionCaps.GraphicsPreemptionGranularity",
        dxgkrnl_model::start::abi::caps::GRAPHICS_PREEMPTION,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "PreemptionCaps.ComputePreemptionGranularity",
        dxgkrnl_model::start::abi::caps::COMPUTE_PREEMPTION,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "SupportNonVGA",
        dxgkrnl_model::start::abi::caps::SUPPORT_NON_VGA,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "SupportPerEngineTDR",
        dxgkrnl_model::start::abi::caps::SUPPORT_PER_ENGINE_TDR,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "SupportMultiPlaneOverlay",
        dxgkrnl_model::start::abi::caps::SUPPORT_MULTI_PLANE_OVERLAY,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "SupportRuntimePowerManagement",
        dxgkrnl_model::start::abi::caps::SUPPORT_RUNTIME_POWER_MANAGEMENT,
    ),
    (
        "_DXGK_DRIVERCAPS",
        "MiscCaps",
        dxgkrnl_model::start::abi::caps::MISC_CAPS,
    ),
    (
        "_DXGK_PHYSICALADAPTERCAPS",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::PHYS_SIZE,
    ),
    (
        "_DXGK_PHYSICALADAPTERCAPS",
        "NumExecutionNodes",
        dxgkrnl_model::start::abi::rec::PHYS_NODES,
    ),
    (
        "_DXGK_PHYSICALADAPTERCAPS",
        "PagingNodeIndex",
        dxgkrnl_model::start::abi::rec::PHYS_PAGING_NODE,
    ),
    (
        "_DXGK_PHYSICALADAPTERCAPS",
        "DxgkPhysicalAdapterHandle",
        dxgkrnl_model::start::abi::rec::PHYS_HANDLE,
    ),
    (
        "_DXGK_PHYSICALADAPTERCAPS",
        "Flags",
        dxgkrnl_model::start::abi::rec::PHYS_FLAGS,
    ),
    (
        "_DXGK_PHYSICALADAPTERCAPS",
        "VirtualCopyNodeIndex",
        dxgkrnl_model::start::abi::rec::PHYS_VIRTUAL_COPY_NODE,
    ),
    (
        "_DXGK_GPUMMUCAPS",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::MMU_SIZE,
    ),
    (
        "_DXGK_GPUMMUCAPS",
        "VirtualAddressBitCount",
        dxgkrnl_model::start::abi::rec::MMU_VA_BITS,
    ),
    (
        "_DXGK_GPUMMUCAPS",
        "PageTableLevelCount",
        dxgkrnl_model::start::abi::rec::MMU_LEVELS,
    ),
    (
        "_DXGK_PAGE_TABLE_LEVEL_DESC",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::LEVEL_DESC_SIZE,
    ),
    (
        "_DXGK_NODEMETADATA",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::NODE_SIZE,
    ),
    (
        "_DXGK_NODEMETADATA",
        "EngineType",
        dxgkrnl_model::start::abi::rec::NODE_ENGINE_TYPE,
    ),
    (
        "_DXGK_NODEMETADATA",
        "Flags",
        dxgkrnl_model::start::abi::rec::NODE_FLAGS,
    ),
    (
        "_DXGK_NODEMETADATA",
        "GpuMmuSupported",
        dxgkrnl_model::start::abi::rec::NODE_GPU_MMU,
    ),
    (
        "_DXGK_NODEMETADATA",
        "IoMmuSupported",
        dxgkrnl_model::start::abi::rec::NODE_IO_MMU,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT4",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::SEG4_OUT_SIZE,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT4",
        "NbSegment",
        dxgkrnl_model::start::abi::rec::SEG4_NB,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT4",
        "pSegmentDescriptor",
        dxgkrnl_model::start::abi::rec::SEG4_DESCRIPTORS,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT4",
        "PagingBufferSegmentId",
        dxgkrnl_model::start::abi::rec::SEG4_PAGING_SEGMENT,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT4",
        "PagingBufferSize",
        dxgkrnl_model::start::abi::rec::SEG4_PAGING_SIZE,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT4",
        "SegmentDescriptorStride",
        dxgkrnl_model::start::abi::rec::SEG4_STRIDE,
    ),
    (
        "_DXGK_SEGMENTDESCRIPTOR4",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::SEG4_DESCRIPTOR_SIZE,
    ),
    (
        "_DXGK_SEGMENTDESCRIPTOR4",
        "Flags",
        dxgkrnl_model::start::abi::rec::DESC4_FLAGS,
    ),
    (
        "_DXGK_SEGMENTDESCRIPTOR4",
        "Size",
        dxgkrnl_model::start::abi::rec::DESC4_SIZE,
    ),
    (
        "_DXGK_QUERYSEGMENTCOUNTOUT",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::COUNT_OUT_SIZE,
    ),
    (
        "_DXGK_QUERYMMUCOUNTOUT",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::COUNT_OUT_SIZE,
    ),
    (
        "_DXGK_QUERYSEGMENTOUT5",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::SEG5_OUT_SIZE,
    ),
    (
        "_DXGK_SEGMENTDESCRIPTOR5",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::SEG5_DESCRIPTOR_SIZE,
    ),
    (
        "_DXGK_SEGMENTDESCRIPTOR5",
        "Flags",
        dxgkrnl_model::start::abi::rec::DESC5_FLAGS,
    ),
    (
        "_DXGK_SEGMENTDESCRIPTOR5",
        "Size",
        dxgkrnl_model::start::abi::rec::DESC5_SIZE,
    ),
    (
        "_DXGK_QUERYMMUSOUT",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::MMUS_OUT_SIZE,
    ),
    (
        "_DXGK_MMUDESCRIPTOR",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::MMU_DESCRIPTOR_SIZE,
    ),
    (
        "_DXGKARG_CREATEDEVICE",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::CREATE_DEVICE_SIZE,
    ),
    (
        "_DXGKARG_CREATEDEVICE",
        "hDevice",
        dxgkrnl_model::start::abi::rec::CREATE_DEVICE_HANDLE,
    ),
    (
        "_DXGKARG_CREATEDEVICE",
        "(anon).Flags",
        dxgkrnl_model::start::abi::rec::CREATE_DEVICE_FLAGS,
    ),
    (
        "_DXGKARG_CREATECONTEXT",
        ".sizeof",
        dxgkrnl_model::start::abi::rec::CREATE_CONTEXT_SIZE,
    ),
    (
        "_DXGKARG_CREATECONTEXT",
        "hContext",
        dxgkrnl_model::start::abi::rec::CREATE_CONTEXT_HANDLE,
    ),
    (
        "_DXGKARG_CREATECONTEXT",
        "NodeOrdinal",
        dxgkrnl_model::start::abi::rec::CREATE_CONTEXT_NODE,
    ),
    (
        "_DXGKARG_CREATECONTEXT",
        "EngineAffinity",
        dxgkrnl_model::start::abi::rec::CREATE_CONTEXT_AFFINITY,
    ),
    (
        "_DXGKARG_CREATECONTEXT",
        "Flags",
        dxgkrnl_model::start::abi::rec::CREATE_CONTEXT_FLAGS,
    ),
    (
        "_DXGKARG_CREATECONTEXT",
        "ContextInfo.DmaBufferSegmentSet",
        dxgkrnl_model::start::abi::rec::CREATE_CONTEXT_DMA_SEGMENT_SET,
    ),
];

/// The offsets the start rules read from raw bytes (`start/abi.rs`), against
/// the repository's copy of the ABI table (`dxgk-sys/abi/`).
#[test]
fn the_start_rules_read_fields_at_the_abi_tables_offsets() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dxgk-sys/abi/wddm32-x64-layouts.tsv"
    );
    let table = std::fs::read_to_string(path).unwrap();
    let offset = |record: &str, member: &str| -> usize {
        table
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|cols| cols[0] == record && cols[1] == member)
            .unwrap_or_else(|| panic!("{record}.{member} not in the table"))[2]
            .parse()
            .unwrap()
    };
    for &(record, member, ours) in ABI_OFFSETS {
        assert_eq!(offset(record, member), ours, "{record}.{member}");
    }
}

/// NTSTATUS names of the rules' statuses, for the README table.
fn status_name(status: u32) -> String {
    let name = match status {
        0xC000_0001 => "STATUS_UNSUCCESSFUL",
        0xC000_000D => "STATUS_INVALID_PARAMETER",
        0xC000_0034 => "STATUS_OBJECT_NAME_NOT_FOUND",
        0xC000_0059 => "STATUS_REVISION_MISMATCH",
        0xC000_0182 => "STATUS_DEVICE_CONFIGURATION_ERROR",
        _ => "?",
    };
    format!("`{name}`")
}

/// The README's start-checks table, as the rule list says it must read.
fn start_checks_table() -> String {
    let yes_no = |b: bool| if b { "yes" } else { "**no**" };
    let mut table = String::from(
        "| rule | spec | a broken rule fails the start with | sources | modelled from public sources | verified on 24H2 |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in RULES {
        let effect = match r.effect {
            rules::Effect::Fail(s) => status_name(s),
            rules::Effect::DriverStatus(s) => {
                format!("the driver's status (a wrong answer: {})", status_name(s))
            }
            rules::Effect::Tolerated => "tolerated".to_owned(),
        };
        table.push_str(&format!(
            "| {} | {} | {effect} | {} | {} | {} |\n",
            r.id,
            r.section,
            r.tag,
            yes_no(r.modelled_from_public_sources),
            yes_no(r.verified_on_24h2)
        ));
    }
    table
}

#[test]
fn the_readme_lists_every_start_rule_as_the_rule_list_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = start_checks_table();
    assert!(
        readme.contains(&table),
        "README.md's start-checks table differs from dxgkrnl-model/src/start/rules.rs; it must read:\n\n{table}"
    );
}
