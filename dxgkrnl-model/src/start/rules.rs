//! The adapter-start rules of `../shared/spec/adapter-start.md` (sections
//! 2.1-2.5, 3.2, 4.1-4.3), in the order Dxgkrnl applies them, each with the
//! message Dxgkrnl logs and the NTSTATUS the start fails with; and the checks
//! themselves, on plain data (DRIVERCAPS bytes, slot presence, query answers).
//!
//! One file for every stand-in that plays the start: the model's
//! `crate::start` and the fake DXGKrnl of the Wine smoke test
//! (`tests/wine/fake-dxgkrnl`, which includes this file and `sequence.rs`
//! with `#[path]`). So it needs only `core` (and, through `abi.rs`, the record
//! layouts of `dxgk-sys`, which both link), and stays free
//! of panics, indexing and unchecked arithmetic (the fake denies them).
//!
//! Every rule is *modelled from public sources* (the spec's tags, repeated in
//! [`Rule::tag`]) and none is yet *verified on 24H2*: nothing here has run
//! against a real Dxgkrnl (`docs/first-boot.md` says how to change that).
//! Offsets are those of `dxgk-sys`'s typed records (`abi.rs`), which match
//! `../shared/abi/wddm32-x64-layouts.tsv` (WDK 10.0.26100, x64); answers are
//! read from plain bytes, so a short answer reads as zeroed.

/// NTSTATUS values the rules use (as `u32`, so this file needs no types).
pub mod status {
    /// `STATUS_SUCCESS`.
    pub const SUCCESS: u32 = 0;
    /// `STATUS_UNSUCCESSFUL`.
    pub const UNSUCCESSFUL: u32 = 0xC000_0001;
    /// `STATUS_NOT_IMPLEMENTED`.
    pub const NOT_IMPLEMENTED: u32 = 0xC000_0002;
    /// `STATUS_INVALID_PARAMETER`.
    pub const INVALID_PARAMETER: u32 = 0xC000_000D;
    /// `STATUS_OBJECT_NAME_NOT_FOUND`.
    pub const OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
    /// `STATUS_REVISION_MISMATCH`.
    pub const REVISION_MISMATCH: u32 = 0xC000_0059;
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub const INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;
    /// `STATUS_DEVICE_CONFIGURATION_ERROR`.
    pub const DEVICE_CONFIGURATION_ERROR: u32 = 0xC000_0182;
}

/// What breaking a rule does to the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The start fails with this status.
    Fail(u32),
    /// The start fails with the driver's own failure status (a query or DDI
    /// that must succeed); a wrong answer fails with the given status.
    DriverStatus(u32),
    /// Dxgkrnl tolerates it (uses defaults, or skips a later check).
    Tolerated,
}

/// One start rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Short id: the spec step and a name, e.g. `"2.2e WDDMVersion"`.
    pub id: &'static str,
    /// Where the spec states it.
    pub section: &'static str,
    /// The message Dxgkrnl logs (the decompilation's triage text where one is
    /// known, otherwise the spec's statement of the rule).
    pub message: &'static str,
    /// The spec's source tags for it (`obs`/`doc`/`inf`, section 0).
    pub tag: &'static str,
    /// What breaking it does.
    pub effect: Effect,
    /// Modelled from public sources (decompilations, Microsoft's pages, peers).
    pub modelled_from_public_sources: bool,
    /// Seen to hold on a real 24H2 machine.
    pub verified_on_24h2: bool,
}

impl Rule {
    /// The status a broken rule fails the start with, given the driver's
    /// status (for a failed query or DDI), or `None` when it is tolerated.
    #[must_use]
    pub const fn failure_status(&self, driver: Option<u32>) -> Option<u32> {
        match (self.effect, driver) {
            (Effect::Fail(s), _) => Some(s),
            (Effect::DriverStatus(_), Some(d)) => Some(d),
            (Effect::DriverStatus(s), None) => Some(s),
            (Effect::Tolerated, _) => None,
        }
    }
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $section:literal, $tag:literal, $effect:expr, $message:literal; )*) => {
        $(
            $(#[$doc])*
            pub const $name: Rule = Rule {
                id: $id,
                section: $section,
                message: $message,
                tag: $tag,
                effect: $effect,
                modelled_from_public_sources: true,
                verified_on_24h2: false,
            };
        )*
        /// Every rule, in the order Dxgkrnl applies them.
        pub const RULES: &[Rule] = &[$($name),*];
    };
}

use self::status::*;

rules! {
    /// Pre-start `DXGKQAITYPE_WDDMDEVICECAPS`.
    WDDM_DEVICE_CAPS = "2.1.1 WDDMDeviceCaps", "2.1 step 1", "doc D-DEVCAPS; obs P-amdmcdm; inf status",
        Effect::DriverStatus(INVALID_PARAMETER),
        "DxgkDdiQueryAdapterInfo(DXGKQAITYPE_WDDMDEVICECAPS) must succeed between DxgkDdiAddDevice and DxgkDdiStartDevice";
    /// `DxgkDdiStartDevice`.
    START_DEVICE = "2.1.3 StartDevice", "2.1 step 3", "obs X-Start",
        Effect::DriverStatus(UNSUCCESSFUL),
        "DxgkDdiStartDevice failed";
    /// The QueryAdapterInfo slot.
    QUERY_ADAPTER_INFO = "2.2a QueryAdapterInfo", "2.2 a", "obs X-Init",
        Effect::Fail(REVISION_MISMATCH),
        "Miniport did not provide required DDIs";
    /// Interrupt and DPC routines: recorded for the render-core check.
    INTERRUPT_DPC = "2.2b Interrupt+Dpc", "2.2 b", "obs X-Info",
        Effect::Tolerated,
        "Dxgkrnl records whether DxgkDdiInterruptRoutine and DxgkDdiDpcRoutine both exist (checked in 2.3 step 1)";
    /// `DXGKQAITYPE_DRIVERCAPS`.
    DRIVER_CAPS = "2.2d DriverCaps", "2.2 d", "obs X-Init, GetDriverCapsSizeFromDdiVersion",
        Effect::DriverStatus(INVALID_PARAMETER),
        "Miniport failed DdiQueryAdapterInfo(DXGKQAITYPE_DRIVERCAPS)";
    /// The WDDM version rules.
    WDDM_VERSION = "2.2e WDDMVersion", "2.2 e", "obs X-Init",
        Effect::Fail(INVALID_PARAMETER),
        "unknown WDDM version (or > 2.5 with a DDI version <= 0xA00B)";
    /// WDDMDEVICECAPS and DRIVERCAPS agree.
    WDDM_DEVICE_CAPS_VERSION = "2.1.1b WDDMDeviceCaps version", "2.1 step 1", "doc D-DEVCAPS; inf status",
        Effect::Fail(INVALID_PARAMETER),
        "DXGK_WDDMDEVICECAPS.WDDMVersion differs from DXGK_DRIVERCAPS.WDDMVersion";
    /// ComputeAccelerator class needs ComputeOnly.
    COMPUTE_ACCELERATOR = "2.2f ComputeAccelerator", "2.2 f", "obs X-Init",
        Effect::Fail(INVALID_PARAMETER),
        "a ComputeAccelerator-class device (DDI >= 0x11002) must set MiscCaps.ComputeOnly";
    /// No UMD and neither ComputeOnly nor VirtualGpuOnly.
    UMD_NAME = "2.2g UMD name", "2.2 g", "obs X-Init",
        Effect::Fail(OBJECT_NAME_NOT_FOUND),
        "UMD name is missing and device is not compute only";
    /// PHYSICALADAPTERCAPS (tolerated failure) and its consistency.
    PHYSICAL_ADAPTER_CAPS = "2.2h PhysicalAdapterCaps", "2.2 h", "obs X-Init; inf field checks",
        Effect::Fail(INVALID_PARAMETER),
        "DXGK_PHYSICALADAPTERCAPS inconsistent with DXGK_DRIVERCAPS (nodes, paging node, handle, GpuMmu/IoMmu flags)";
    /// MultiEngineAware with a successful PHYSICALADAPTERCAPS.
    MULTI_ENGINE_AWARE = "2.2h MultiEngineAware", "2.2 h", "obs X-Init, P-amdmcdm",
        Effect::Fail(INVALID_PARAMETER),
        "MultiEngineAware is not set by WDDMv2 driver";
    /// FRAMEBUFFERSAVESIZE with IoMmu secure mode.
    FRAME_BUFFER_SAVE_SIZE = "2.2i FrameBufferSaveSize", "2.2 i", "obs X-Init; inf status",
        Effect::DriverStatus(INVALID_PARAMETER),
        "DXGKQAITYPE_FRAMEBUFFERSAVESIZE (IoMmuSecureModeSupported) must succeed with a multiple of 4096";
    /// MiscCaps reserved bits.
    MISC_CAPS_RESERVED = "2.2j MiscCaps reserved", "2.2 j", "obs X-Init",
        Effect::Fail(INVALID_PARAMETER),
        "DXGK_DRIVERCAPS.MiscCaps reserved bits must be 0 (WDDM >= 2.4)";
    /// WDDM 1.2/1.3 feature consistency.
    FEATURE_CONSISTENCY = "2.2k Feature consistency", "2.2 k", "obs X-Init",
        Effect::Fail(INVALID_PARAMETER),
        "a driver below WDDM 1.2 may not report WDDM 1.2 features (preemption, per-engine TDR)";
    /// Caps that need DDIs.
    CAP_DDI_COUPLINGS = "2.2l Cap/DDI couplings", "2.2 l", "obs X-Init; doc D-TDR",
        Effect::Fail(INVALID_PARAMETER),
        "a capability without its DDIs (SupportPerEngineTDR, SupportKernelModeCommandBuffer, runtime power management, multi-plane overlay)";
    /// DIRTYBITTRACKINGCAPS.
    DIRTY_BIT_TRACKING_CAPS = "2.2m DirtyBitTrackingCaps", "2.2 m", "obs X-Init",
        Effect::Tolerated,
        "DXGKQAITYPE_DIRTYBITTRACKINGCAPS failed: no dirty-bit tracking";
    /// 64BITONLYCAPS.
    SIXTY_FOUR_BIT_ONLY_CAPS = "2.2n 64BitOnlyCaps", "2.2 n", "obs X-Init",
        Effect::Tolerated,
        "DXGKQAITYPE_64BITONLYCAPS failed: defaults used";
    /// CheckMcdmDdiOverall.
    MCDM_DDI_LIST = "2.2o MCDM DDI list", "2.2 o, 3.2", "obs X-Mcdm; doc D-MCDM",
        Effect::Fail(REVISION_MISMATCH),
        "CheckMcdmDdiOverall: a DDI an MCDM (ComputeOnly) driver must provide is NULL";
    /// NATIVE_FENCE_CAPS with the NativeGpuFence cap.
    NATIVE_FENCE_CAPS = "2.2p NativeFenceCaps", "2.2 p", "obs X-Init; inf status",
        Effect::DriverStatus(INVALID_PARAMETER),
        "DXGKQAITYPE_NATIVE_FENCE_CAPS (NativeGpuFence) must succeed";
    /// The render DDI set, all or nothing.
    RENDER_DDI_SET = "2.3.1 Render DDI set", "2.3 step 1", "obs X-Core, X-Mcdm",
        Effect::Fail(REVISION_MISMATCH),
        "Not all the render relevant DDIs are NULL";
    /// MultiEngineAware and preemption/cancel awareness.
    MULTI_ENGINE_PREEMPTION = "2.3.2 MultiEngineAware/Preemption", "2.3 step 2", "obs X-Core; inf status",
        Effect::Fail(INVALID_PARAMETER),
        "PreemptionAware or CancelCommandAware without MultiEngineAware";
    /// Mandatory WDDM 1.2 render features.
    MANDATORY_FEATURES = "2.3.3 Mandatory 1.2 features", "2.3 step 3", "obs X-Core; doc D-CAPS, D-ENF",
        Effect::Fail(INVALID_PARAMETER),
        "a mandatory WDDM 1.2 feature is missing (both preemption granularities, SupportPerEngineTDR; unless ComputeOnly FlipOnVSyncMmIo and kernel-mode command buffers)";
    /// GetNodeMetadata and the dirty-bit five present.
    RENDER_CORE_DDIS = "2.3.4 GetNodeMetadata + dirty-bit DDIs", "2.3 step 4", "obs X-Core; inf status",
        Effect::Fail(REVISION_MISMATCH),
        "DxgkDdiGetNodeMetadata (WDDM >= 1.3) or a dirty-bit DDI (WDDM >= 3.2 with tracking) is NULL";
    /// The UMD name again, in ADAPTER_RENDER::Initialize.
    RENDER_UMD_NAME = "2.3.5 Render UMD name", "2.3 step 5", "obs X-RInit",
        Effect::Fail(DEVICE_CONFIGURATION_ERROR),
        "no UMD name for the render core, and not ComputeOnly (or paravirtualized)";
    /// GPUMMUCAPS and PAGETABLELEVELDESC.
    GPU_MMU = "2.3.6 GpuMmu caps", "2.3 step 6", "obs X-RInit",
        Effect::Fail(DEVICE_CONFIGURATION_ERROR),
        "GpuMmu: DXGKQAITYPE_GPUMMUCAPS/PAGETABLELEVELDESC failed, or VirtualAddressBitCount not 13..63, or PageTableLevelCount not 2..6";
    /// ADAPTERPERFDATA_CAPS and GPUVERSION.
    PERF_DATA_AND_VERSION = "2.3.7 AdapterPerfDataCaps/GpuVersion", "2.3 step 7", "obs X-RInit, P-amdmcdm",
        Effect::Tolerated,
        "DXGKQAITYPE_ADAPTERPERFDATA_CAPS or DXGKQAITYPE_GPUVERSION failed (tolerated)";
    /// GetNodeMetadata per node.
    NODE_METADATA = "2.3.8 GetNodeMetadata", "2.3 step 8", "obs X-RInit; inf status",
        Effect::DriverStatus(INVALID_PARAMETER),
        "DxgkDdiGetNodeMetadata failed for a node";
    /// The node flags.
    NODE_FLAGS = "2.3.8 Node flags", "2.3 step 8", "obs X-RInit; inf details",
        Effect::Fail(INVALID_PARAMETER),
        "node metadata flags invalid (reserved bits, engine type, user-mode submission without context scheduling, GpuMmu/IoMmu flags not matching the adapter caps)";
    /// CheckMcdmDdiSubmission.
    MCDM_SUBMISSION = "2.3.9 CheckMcdmDdiSubmission", "2.3 step 9", "obs X-Mcdm; doc D-MCDM",
        Effect::Fail(REVISION_MISMATCH),
        "a node's submission DDIs are missing (GpuMmu: CreateProcess, DestroyProcess, GetRootPageTableSize, SetRootPageTable, SubmitCommandVirtual; IoMmu: Begin/EndExclusiveAccess; physical: Patch, Render, SubmitCommand)";
    /// QUERYSEGMENT4 (LEGACY path).
    QUERY_SEGMENT4 = "4.1 QuerySegment4", "4.1", "obs X-Seg; doc D-SEG, D-MCDM; inf: status, asked with tracking too",
        Effect::DriverStatus(INVALID_PARAMETER),
        "DXGKQAITYPE_QUERYSEGMENT4 (two calls) failed (the LEGACY path; asked with dirty-bit tracking too, for builds that take LEGACY then, spec 8.1)";
    /// Segment count.
    SEGMENT_COUNT = "4.1 Segment count", "4.1", "obs X-Seg",
        Effect::Fail(UNSUCCESSFUL),
        "NbSegment must be 1..32 (zero segments cannot start)";
    /// Segment descriptors.
    SEGMENT_DESCRIPTORS = "4.1 Segment descriptors", "4.1", "obs X-Seg (ValidateSegmentDescriptors); doc D-MCDM; inf details",
        Effect::Fail(INVALID_PARAMETER),
        "ValidateSegmentDescriptors: a segment of size 0, not page-aligned, or not linear (AGP, banking, pitch alignment)";
    /// A local-budget segment.
    LOCAL_BUDGET = "4.1 Local budget group", "4.1", "obs X-Seg",
        Effect::Fail(INVALID_PARAMETER),
        "no segment in the local budget group (DXGK_SEGMENTFLAGS bit 19)";
    /// PagingBufferSegmentId.
    PAGING_BUFFER_SEGMENT = "4.1 PagingBufferSegmentId", "4.1", "obs X-Seg",
        Effect::Fail(INVALID_PARAMETER),
        "PagingBufferSegmentId must be 0 (system memory) or an aperture segment";
    /// The PBMM set (with dirty-bit tracking).
    PBMM_QUERIES = "4.2 PBMM queries", "4.2", "obs X-VidMm, X-Seg; inf status",
        Effect::DriverStatus(UNSUCCESSFUL),
        "DirtyBitTrackingSupported: QUERYPAGINGBUFFERINFO, QUERYSEGMENTCOUNT (1..32), QUERYMMUCOUNT (1..32), QUERYSEGMENT5, QUERYMMUS must succeed";
    /// PBMM and LEGACY describe the same segments.
    PBMM_MATCHES_LEGACY = "4.2 PBMM = QUERYSEGMENT4", "4.2", "inf",
        Effect::Fail(INVALID_PARAMETER),
        "the PBMM answers describe other segments than QUERYSEGMENT4 (count, sizes, aperture flags)";
    /// DIRTYBITTRACKINGSEGMENTCAPS per segment.
    SEGMENT_TRACKING_CAPS = "4.3 DirtyBitTrackingSegmentCaps", "4.3", "obs X-Seg; inf status",
        Effect::DriverStatus(INVALID_PARAMETER),
        "DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS failed otherwise than STATUS_NOT_IMPLEMENTED, or PageSize not a power of two >= 4096";
    /// HISTORYBUFFERPRECISION.
    HISTORY_BUFFER_PRECISION = "2.3.11 HistoryBufferPrecision", "2.3 step 11", "obs X-RInit, P-Helios",
        Effect::Fail(DEVICE_CONFIGURATION_ERROR),
        "DXGKQAITYPE_HISTORYBUFFERPRECISION returned a precision other than 0 or 32..64 (a failed query is tolerated)";
    /// The two system devices.
    SYSTEM_DEVICES = "2.4 System devices", "2.4 (1)", "obs X-Paging",
        Effect::Fail(UNSUCCESSFUL),
        "VidSchCreateSystemDevices: DxgkDdiCreateDevice failed for a system device";
    /// A system context per node and the paging context.
    SYSTEM_CONTEXTS = "2.4 System and paging contexts", "2.4 (1)", "obs X-Paging",
        Effect::Fail(UNSUCCESSFUL),
        "DxgkDdiCreateContext failed for a node's system context or the paging context";
    /// The paging DMA pool.
    PAGING_DMA_POOL = "2.4 Paging DMA pool", "2.4 (3)", "obs X-Paging, P-Helios; inf details",
        Effect::Fail(INVALID_PARAMETER),
        "InitDmaPools: PagingBufferSize 0, a paging segment too small for it, or a paging context whose DmaBufferSegmentSet is 0 or names no aperture segment";
    /// Some core exists.
    SOME_CORE = "2.2s Render or display core", "2.2 s", "obs X-Init",
        Effect::Fail(REVISION_MISMATCH),
        "does not have display or render capabilities";
    /// CalibrateGpuClock and SetStablePowerState.
    CLOCK_AND_STABLE_POWER = "2.2t CalibrateGpuClock/SetStablePowerState", "2.2 t", "obs X-Init",
        Effect::Fail(INVALID_PARAMETER),
        "compiled against WDDM2_0_M2_2_1 or greater, but does not fill in DxgkDdiCalibrateGpuClock and DxgkDdiSetStablePowerState";
}

/// A rule the real driver does not pass yet, waived by the default start
/// ([`super::sequence::Mode::EnforceExcept`]) while its DDIs are being
/// written: `None`, so the model's default start, the Wine run and
/// `tests/adapter_start.rs` enforce every rule (2.3.9 was waived until the
/// software engine brought `DxgkDdiSubmitCommandVirtual`).
pub const AWAITING_DRIVER: Option<&Rule> = None;

/// The rule with id `id`.
#[must_use]
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.as_bytes() == id.as_bytes())
}

use super::abi::bytes::{u8_at, u32_at};
pub use super::abi::{self, bytes};
use super::abi::{bits, caps as c, ddi};

/// A `DXGK_DRIVERCAPS` answer, read field by field.
#[derive(Clone, Copy)]
pub struct DriverCaps<'a>(pub &'a [u8]);

#[allow(missing_docs)]
impl DriverCaps<'_> {
    #[must_use]
    pub fn wddm_version(&self) -> u32 {
        u32_at(self.0, c::WDDM_VERSION)
    }
    #[must_use]
    pub fn misc(&self) -> u32 {
        u32_at(self.0, c::MISC_CAPS)
    }
    #[must_use]
    pub fn scheduling(&self) -> u32 {
        u32_at(self.0, c::SCHEDULING_CAPS)
    }
    #[must_use]
    pub fn memory(&self) -> u32 {
        u32_at(self.0, c::MEMORY_MANAGEMENT_CAPS)
    }
    #[must_use]
    pub fn paging_node(&self) -> u32 {
        u32_at(self.0, c::PAGING_NODE)
    }
    #[must_use]
    pub fn nodes(&self) -> u32 {
        u32_at(self.0, c::NODES)
    }
    #[must_use]
    pub fn compute_only(&self) -> bool {
        self.misc() & bits::COMPUTE_ONLY != 0
    }
    #[must_use]
    pub fn per_engine_tdr(&self) -> bool {
        u8_at(self.0, c::SUPPORT_PER_ENGINE_TDR) != 0
    }
    #[must_use]
    pub fn gpu_mmu(&self) -> bool {
        self.memory() & bits::GPU_MMU != 0
    }
    #[must_use]
    pub fn io_mmu(&self) -> bool {
        self.memory() & bits::IO_MMU != 0
    }
}

/// The DDI-buffer size of DRIVERCAPS for a table version (2.2 d): 592 bytes
/// from WDDM 2.9's DDI version on, 576 below down to 0x5011, 0 (unknown, the
/// start fails) otherwise in this model.
#[must_use]
pub const fn driver_caps_size(ddi_version: u32) -> usize {
    if ddi_version >= ddi::WDDM2_9 {
        c::SIZE
    } else if ddi_version >= 0x5011 {
        576
    } else {
        0
    }
}

/// A failed check: why, in a few words.
pub type Check = Result<(), &'static str>;

/// 2.2 e.
///
/// # Errors
/// Why the version is refused.
pub fn wddm_version(version: u32, ddi_version: u32) -> Check {
    let known = matches!(version, 0x1000 | 0x1200 | 0x1300 | 0x3000 | 0x3100 | 0x3200)
        || (0x2000..=0x2900).contains(&version) && version.is_multiple_of(0x100);
    if !known {
        return Err("not one of 0x1000, 0x1200, 0x1300, 0x2000..0x2900, 0x3000, 0x3100, 0x3200");
    }
    if version > 0x2500 && ddi_version <= ddi::WDDM2_5_LIMIT {
        return Err("above 0x2500 with a DDI version <= 0xA00B");
    }
    Ok(())
}

/// 2.2 k: a driver below WDDM 1.2 reports no WDDM 1.2 feature.
///
/// # Errors
/// Why the caps are refused.
pub fn feature_consistency(caps: DriverCaps<'_>) -> Check {
    let preemption =
        u32_at(caps.0, c::GRAPHICS_PREEMPTION) != 0 || u32_at(caps.0, c::COMPUTE_PREEMPTION) != 0;
    if caps.wddm_version() < 0x1200 && (preemption || caps.per_engine_tdr()) {
        return Err("WDDM 1.0 with preemption or per-engine TDR");
    }
    Ok(())
}

/// 2.2 l: the caps whose DDIs must be present; `slot` says whether a slot is
/// non-NULL.
///
/// # Errors
/// The cap whose DDI is missing.
pub fn cap_ddi_couplings(caps: DriverCaps<'_>, slot: &dyn Fn(&str) -> bool) -> Check {
    let all = |names: &[&str]| names.iter().all(|n| slot(n));
    if caps.per_engine_tdr()
        && !all(&[
            "DxgkDdiQueryDependentEngineGroup",
            "DxgkDdiQueryEngineStatus",
            "DxgkDdiResetEngine",
        ])
    {
        return Err(
            "SupportPerEngineTDR without QueryDependentEngineGroup, QueryEngineStatus, ResetEngine",
        );
    }
    if u32_at(caps.0, c::PRESENTATION_CAPS) & bits::SUPPORT_KERNEL_MODE_COMMAND_BUFFER != 0
        && !slot("DxgkDdiRenderKm")
    {
        return Err("SupportKernelModeCommandBuffer without RenderKm");
    }
    if u8_at(caps.0, c::SUPPORT_RUNTIME_POWER_MANAGEMENT) != 0
        && !all(&[
            "DxgkDdiSetPowerComponentFState",
            "DxgkDdiPowerRuntimeControlRequest",
        ])
    {
        return Err(
            "SupportRuntimePowerManagement without SetPowerComponentFState, PowerRuntimeControlRequest",
        );
    }
    if u8_at(caps.0, c::SUPPORT_MULTI_PLANE_OVERLAY) != 0
        && !all(&[
            "DxgkDdiCheckMultiPlaneOverlaySupport",
            "DxgkDdiSetVidPnSourceAddressWithMultiPlaneOverlay",
        ])
    {
        return Err("SupportMultiPlaneOverlay without its DDIs");
    }
    Ok(())
}

/// The slots of the "always" list (`MANDATORY_SLOTS`) that
/// `CheckMcdmDdiOverall` does not check: the PnP, power and child DDIs the
/// port driver checks elsewhere (the table's validation).
pub const MCDM_PORT_CHECKED: &[&str] = &[
    "DxgkDdiAddDevice",
    "DxgkDdiQueryChildRelations",
    "DxgkDdiQueryChildStatus",
    "DxgkDdiQueryDeviceDescriptor",
    "DxgkDdiRemoveDevice",
    "DxgkDdiResetDevice",
    "DxgkDdiSetPowerState",
    "DxgkDdiStartDevice",
    "DxgkDdiStopDevice",
    "DxgkDdiUnload",
];

/// The DDIs `CheckMcdmDdiOverall` requires (section 3.1's "always" list
/// without [`MCDM_PORT_CHECKED`]), in the list's order.
pub fn mcdm_required() -> impl Iterator<Item = &'static str> {
    super::MANDATORY_SLOTS
        .iter()
        .copied()
        .filter(|n| !MCDM_PORT_CHECKED.contains(n))
}

/// 2.2 o: the first missing DDI of an MCDM driver.
///
/// # Errors
/// The missing DDI's name.
pub fn mcdm_ddi_list(caps: DriverCaps<'_>, slot: &dyn Fn(&str) -> bool) -> Check {
    if let Some(missing) = mcdm_required().find(|n| !slot(n)) {
        return Err(missing);
    }
    if caps.scheduling() & bits::CANCEL_COMMAND_AWARE != 0 && !slot("DxgkDdiCancelCommand") {
        return Err("DxgkDdiCancelCommand (CancelCommandAware)");
    }
    Ok(())
}

/// The render-relevant DDIs of 2.3 step 1 (Interrupt+Dpc are checked as
/// one, from 2.2 b; QueryCurrentFence only below WDDM 2.0).
pub const RENDER_DDIS: &[&str] = &[
    "DxgkDdiCreateDevice",
    "DxgkDdiDestroyAllocation",
    "DxgkDdiDescribeAllocation",
    "DxgkDdiGetStandardAllocationDriverData",
    "DxgkDdiSubmitCommand",
    "DxgkDdiPreemptCommand",
    "DxgkDdiBuildPagingBuffer",
    "DxgkDdiResetFromTimeout",
    "DxgkDdiRestartFromTimeout",
    "DxgkDdiCollectDbgInfo",
    "DxgkDdiQueryCurrentFence",
    "DxgkDdiControlInterrupt",
    "DxgkDdiDestroyDevice",
    "DxgkDdiOpenAllocation",
    "DxgkDdiCloseAllocation",
    "DxgkDdiPresent",
];

/// Whether a render DDI counts for 2.3 step 1 under these caps, and whether
/// Dxgkrnl substitutes a default for it when NULL.
fn render_ddi_applies(name: &str, caps: DriverCaps<'_>) -> (bool, bool) {
    let compute_only = caps.compute_only();
    match name {
        "DxgkDdiQueryCurrentFence" => (caps.wddm_version() < 0x2000, false),
        "DxgkDdiControlInterrupt" => (!compute_only, false),
        "DxgkDdiSubmitCommand" | "DxgkDdiPresent" => (true, compute_only),
        _ => (true, false),
    }
}

/// 2.3 step 1: `Ok(true)` with a render core, `Ok(false)` when every render
/// DDI is NULL (no render core); `interrupt_dpc` is 2.2 b's record.
///
/// # Errors
/// The first missing DDI of a partial set.
pub fn render_ddi_set(
    caps: DriverCaps<'_>,
    interrupt_dpc: bool,
    slot: &dyn Fn(&str) -> bool,
) -> Result<bool, &'static str> {
    let any = interrupt_dpc
        || RENDER_DDIS
            .iter()
            .any(|n| render_ddi_applies(n, caps).0 && slot(n));
    if !any {
        return Ok(false);
    }
    if !interrupt_dpc {
        return Err("DxgkDdiInterruptRoutine + DxgkDdiDpcRoutine");
    }
    let missing = RENDER_DDIS.iter().find(|n| {
        let (applies, substituted) = render_ddi_applies(n, caps);
        applies && !substituted && !slot(n)
    });
    match missing {
        Some(name) => Err(*name),
        None => Ok(true),
    }
}

/// 2.3 step 3, with enforcement on (spec 8.2: assumed).
///
/// # Errors
/// The missing feature.
pub fn mandatory_features(caps: DriverCaps<'_>) -> Check {
    if u32_at(caps.0, c::GRAPHICS_PREEMPTION) == 0 || u32_at(caps.0, c::COMPUTE_PREEMPTION) == 0 {
        return Err("a PreemptionCaps granularity is NONE");
    }
    if !caps.per_engine_tdr() {
        return Err("SupportPerEngineTDR is 0");
    }
    if !caps.compute_only() {
        if u32_at(caps.0, c::FLIP_CAPS) & bits::FLIP_ON_VSYNC_MMIO == 0 {
            return Err("FlipCaps.FlipOnVSyncMmIo is 0 (not ComputeOnly)");
        }
        if u32_at(caps.0, c::PRESENTATION_CAPS) & bits::SUPPORT_KERNEL_MODE_COMMAND_BUFFER == 0 {
            return Err("SupportKernelModeCommandBuffer is 0 (not ComputeOnly, not WARP)");
        }
    }
    Ok(())
}

/// The five dirty-bit DDIs.
pub const DIRTY_BIT_DDIS: &[&str] = &[
    "DxgkDdiCreateMemoryBasis",
    "DxgkDdiDestroyMemoryBasis",
    "DxgkDdiStartDirtyTracking",
    "DxgkDdiStopDirtyTracking",
    "DxgkDdiQueryDirtyBitData",
];

/// 2.3 step 8: one node's metadata against the adapter caps.
///
/// # Errors
/// Why the flags are refused.
pub fn node_flags(node: &[u8], caps: DriverCaps<'_>) -> Check {
    use super::abi::rec;
    if u32_at(node, rec::NODE_ENGINE_TYPE) >= rec::ENGINE_TYPE_MAX {
        return Err("EngineType >= DXGK_ENGINE_TYPE_MAX");
    }
    let flags = u32_at(node, rec::NODE_FLAGS);
    if flags & bits::NODE_RESERVED != 0 {
        return Err("reserved node flags set");
    }
    let hw_queue = flags >> 16 != 0 || flags & bits::NODE_USER_MODE_SUBMISSION != 0;
    if hw_queue && flags & bits::NODE_CONTEXT_SCHEDULING == 0 {
        return Err(
            "UserModeSubmission/MaxInFlightHwQueueBuffers without ContextSchedulingSupported",
        );
    }
    let (gpu, io) = (
        u8_at(node, rec::NODE_GPU_MMU) != 0,
        u8_at(node, rec::NODE_IO_MMU) != 0,
    );
    if (gpu && !caps.gpu_mmu()) || (io && !caps.io_mmu()) {
        return Err("a node GpuMmu/IoMmu flag the adapter caps do not have");
    }
    if caps.memory() & bits::VIRTUAL_ADDRESSING != 0 && !gpu && !io {
        return Err("VirtualAddressingSupported but the node is neither GpuMmu nor IoMmu");
    }
    Ok(())
}

/// 2.3 step 9 for one node.
///
/// # Errors
/// The first missing submission DDI.
pub fn mcdm_submission(node: &[u8], slot: &dyn Fn(&str) -> bool) -> Check {
    use super::abi::rec;
    let needed: &[&str] = if u8_at(node, rec::NODE_GPU_MMU) != 0 {
        &[
            "DxgkDdiCreateProcess",
            "DxgkDdiDestroyProcess",
            "DxgkDdiGetRootPageTableSize",
            "DxgkDdiSetRootPageTable",
            "DxgkDdiSubmitCommandVirtual",
        ]
    } else if u8_at(node, rec::NODE_IO_MMU) != 0 {
        &["DxgkDdiBeginExclusiveAccess", "DxgkDdiEndExclusiveAccess"]
    } else {
        &["DxgkDdiPatch", "DxgkDdiRender", "DxgkDdiSubmitCommand"]
    };
    match needed.iter().find(|n| !slot(n)) {
        Some(name) => Err(*name),
        None => Ok(()),
    }
}

/// 4.1: one segment descriptor's flags and size.
///
/// # Errors
/// Why the descriptor is refused.
pub fn segment_descriptor(flags: u32, size: u64) -> Check {
    if size == 0 || !size.is_multiple_of(4096) {
        return Err("size 0 or not a multiple of 4096");
    }
    if flags & (bits::SEGMENT_AGP | bits::SEGMENT_USE_BANKING | bits::SEGMENT_PITCH_ALIGNMENT) != 0
    {
        return Err("not a linear segment (Agp, UseBanking or PitchAlignment)");
    }
    Ok(())
}

/// 4.3: a tracked segment's page size.
///
/// # Errors
/// Why the page size is refused.
pub fn tracking_page_size(page: u32) -> Check {
    if page < 4096 || !page.is_power_of_two() {
        return Err("PageSize not a power of two >= 4096");
    }
    Ok(())
}

/// 2.3 step 11.
///
/// # Errors
/// Why the precision is refused.
pub fn history_precision(bits: u32) -> Check {
    if bits == 0 || (32..=64).contains(&bits) {
        Ok(())
    } else {
        Err("precision not 0 or 32..64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MCDM list is the "always" list less the port-checked DDIs, each
    /// of which is on the "always" list (so a rename there cannot silently
    /// put one back into the MCDM check).
    #[test]
    fn the_mcdm_list_is_the_always_list_less_the_port_checked_ddis() {
        for n in MCDM_PORT_CHECKED {
            assert!(
                super::super::MANDATORY_SLOTS.contains(n),
                "{n} is not mandatory"
            );
        }
        assert_eq!(
            mcdm_required().count(),
            super::super::MANDATORY_SLOTS.len() - MCDM_PORT_CHECKED.len()
        );
        assert_eq!(mcdm_required().count(), 26);
    }
}
