//! The conforming driver of `tests/adapter_start.rs`: the real driver's
//! table with QueryAdapterInfo, StartDevice, GetNodeMetadata,
//! Create/DestroyDevice, Create/DestroyContext and the GpuMmu submission
//! slots wrapped to give the answers of the spec's answer sheet (2.7), and
//! the one change ([`Break`]) each deliberately broken driver makes.

use std::cell::{Cell, RefCell};

use dxgk_sys::*;
use dxgkrnl_model::start::{Environment, MCDM};

/// One change to the answer-sheet driver: the thing each broken driver does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Break {
    None,
    PrestartQueryFails,
    StartDeviceFails,
    NoQueryAdapterInfo,
    DriverCapsFails,
    WddmVersion2A00,
    DeviceCapsVersion3100,
    NotComputeOnly,
    DisplayClassNotComputeOnly,
    PagingNodeNotANode,
    NoMultiEngineAware,
    BadFrameBufferSaveSize,
    MiscReservedBit,
    Wddm1WithPreemption,
    RuntimePmWithoutDdis,
    DirtyCapsFails,
    SixtyFourBitFails,
    NoSetVirtualMachineData,
    NativeFenceUnanswered,
    RenderOnlyPartialSet,
    NoMultiEngineNoPhysicalCaps,
    NoComputePreemption,
    NoQueryDirtyBitData,
    VirtualGpuOnlyNoUmd,
    VaBits12,
    GpuVersionFails,
    NodeMetadataFails,
    NodeNotGpuMmu,
    NoSubmitCommandVirtual,
    QuerySegment4Fails,
    ZeroSegments,
    ZeroSizeSegment,
    NoLocalBudget,
    PagingBufferInVram,
    MmuCountFails,
    PbmmSizeDiffers,
    TrackingPage2048,
    Precision16,
    CreateDeviceFails,
    CreateContextFails,
    PagingSegmentSetZero,
    NoRenderNoDisplay,
    NoCalibrateGpuClock,
    DpcMissing,
}

thread_local! {
    pub static BROKEN: Cell<Break> = const { Cell::new(Break::None) };
    /// Devices and contexts alive (created and not destroyed).
    pub static LIVE: RefCell<(u32, u32)> = const { RefCell::new((0, 0)) };
    /// Every CreateContext: (device, NodeOrdinal, EngineAffinity, Flags).
    pub static CONTEXTS: RefCell<Vec<(usize, u32, u32, u32)>> = const { RefCell::new(Vec::new()) };
}

pub fn broken() -> Break {
    BROKEN.with(Cell::get)
}

pub fn real() -> DRIVER_INITIALIZATION_DATA {
    gpup_miniport::initialization_data()
}

const MIB: u64 = 1 << 20;
const APERTURE: u64 = 64 * MIB;
const VRAM: u64 = 1 << 30;
const SEG_APERTURE: u32 = 1;
const SEG_LOCAL_BUDGET: u32 = 1 << 19;

fn out(q: *const DXGKARG_QUERYADAPTERINFO) -> &'static mut [u8] {
    unsafe {
        let q = &*q;
        std::slice::from_raw_parts_mut(q.pOutputData.cast(), q.OutputDataSize as usize)
    }
}

fn input_u32(q: *const DXGKARG_QUERYADAPTERINFO) -> u32 {
    unsafe {
        let q = &*q;
        if q.InputDataSize < 4 {
            return u32::MAX;
        }
        q.pInputData.cast::<u32>().read_unaligned()
    }
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The answer sheet's DRIVERCAPS (2.7) over the real driver's.
fn driver_caps(h: HANDLE, q: *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS {
    let s = unsafe { (real().DxgkDdiQueryAdapterInfo.unwrap())(h, q) };
    if s != STATUS_SUCCESS || broken() == Break::DriverCapsFails {
        return if s == STATUS_SUCCESS {
            STATUS_NOT_SUPPORTED
        } else {
            s
        };
    }
    let o = out(q);
    assert!(o.len() >= size_of::<DXGK_DRIVERCAPS>());
    let mut c: DXGK_DRIVERCAPS = unsafe { o.as_ptr().cast::<DXGK_DRIVERCAPS>().read_unaligned() };
    c.MiscCaps = DriverMiscCaps::ComputeOnly;
    c.GpuEngineTopology.NbAsymetricProcessingNodes = 1;
    c.SchedulingCaps.Value = VidSchCaps::MultiEngineAware
        | VidSchCaps::PreemptionAware
        | VidSchCaps::LowIrqlPreemptCommand;
    c.MemoryManagementCaps.Value =
        VidMmCaps::VirtualAddressingSupported | VidMmCaps::GpuMmuSupported;
    c.PreemptionCaps.GraphicsPreemptionGranularity =
        D3DKMDT_GRAPHICS_PREEMPTION_DMA_BUFFER_BOUNDARY;
    c.PreemptionCaps.ComputePreemptionGranularity = D3DKMDT_COMPUTE_PREEMPTION_DMA_BUFFER_BOUNDARY;
    c.SupportPerEngineTDR = 1;
    c.SupportNonVGA = 0;
    match broken() {
        Break::WddmVersion2A00 => c.WDDMVersion = DXGK_WDDMVERSION(0x2A00),
        Break::Wddm1WithPreemption => c.WDDMVersion = DXGKDDI_WDDMv1,
        Break::NotComputeOnly | Break::DisplayClassNotComputeOnly => {
            c.MiscCaps = DriverMiscCaps::empty()
        }
        Break::NoMultiEngineAware | Break::NoMultiEngineNoPhysicalCaps => {
            c.SchedulingCaps.Value.remove(VidSchCaps::MultiEngineAware);
        }
        Break::BadFrameBufferSaveSize => {
            c.MemoryManagementCaps.Value |= VidMmCaps::IoMmuSecureModeSupported;
        }
        Break::MiscReservedBit => {
            c.MiscCaps = DriverMiscCaps::ComputeOnly | DriverMiscCaps::from_bits_retain(1 << 20)
        }
        Break::RuntimePmWithoutDdis => c.SupportRuntimePowerManagement = 1,
        Break::NativeFenceUnanswered => c.SchedulingCaps.Value |= VidSchCaps::NativeGpuFence,
        Break::NoComputePreemption => {
            c.PreemptionCaps.ComputePreemptionGranularity = D3DKMDT_COMPUTE_PREEMPTION_NONE;
        }
        Break::RenderOnlyPartialSet | Break::NoRenderNoDisplay => {
            c.MiscCaps = DriverMiscCaps::empty()
        }
        Break::VirtualGpuOnlyNoUmd | Break::NoCalibrateGpuClock => {
            // The render-only shape: no ComputeOnly, so the 1.2 flip and
            // kernel-mode command buffer caps become mandatory.
            c.MiscCaps = if broken() == Break::VirtualGpuOnlyNoUmd {
                DriverMiscCaps::VirtualGpuOnly
            } else {
                DriverMiscCaps::empty()
            };
            c.FlipCaps.Value = 1 << 1;
            c.PresentationCaps.Value = 1 << 2;
        }
        _ => {}
    }
    unsafe { o.as_mut_ptr().cast::<DXGK_DRIVERCAPS>().write_unaligned(c) };
    STATUS_SUCCESS
}

/// QUERYSEGMENT4: aperture 1 (paging and DMA buffers), VRAM 2 (local budget).
fn query_segment4(q: *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS {
    if broken() == Break::QuerySegment4Fails {
        return STATUS_NOT_SUPPORTED;
    }
    let o = out(q);
    let count: u32 = if broken() == Break::ZeroSegments {
        0
    } else {
        2
    };
    put(o, 0, &count.to_le_bytes());
    let paging: u32 = if broken() == Break::PagingBufferInVram {
        2
    } else {
        1
    };
    put(o, 16, &paging.to_le_bytes());
    put(o, 20, &(64_u32 << 10).to_le_bytes());
    let descriptors = u64_at(o, 8) as usize as *mut u8;
    let stride = u64_at(o, 32) as usize;
    if descriptors.is_null() {
        return STATUS_SUCCESS;
    }
    assert_eq!(
        stride, 104,
        "the model passes the decompiled build's stride"
    );
    let local = if broken() == Break::NoLocalBudget {
        0
    } else {
        SEG_LOCAL_BUDGET
    };
    let vram = if broken() == Break::ZeroSizeSegment {
        0
    } else {
        VRAM
    };
    for (i, (flags, size)) in [(SEG_APERTURE, APERTURE), (local, vram)]
        .into_iter()
        .enumerate()
    {
        let d = unsafe { std::slice::from_raw_parts_mut(descriptors.add(i * stride), 96) };
        put(d, 0, &flags.to_le_bytes());
        put(d, 16, &size.to_le_bytes());
        put(d, 24, &size.to_le_bytes());
    }
    STATUS_SUCCESS
}

/// The PBMM set (42-46), describing the same segments and one MMU.
fn pbmm(ty: DXGK_QUERYADAPTERINFOTYPE, q: *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS {
    let o = out(q);
    match ty {
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO => put(o, 0, &(64_u32 << 10).to_le_bytes()),
        DXGKQAITYPE_QUERYSEGMENTCOUNT => put(o, 0, &2_u16.to_le_bytes()),
        DXGKQAITYPE_QUERYMMUCOUNT if broken() == Break::MmuCountFails => {
            return STATUS_NOT_SUPPORTED;
        }
        DXGKQAITYPE_QUERYMMUCOUNT => put(o, 0, &1_u16.to_le_bytes()),
        DXGKQAITYPE_QUERYSEGMENT5 => {
            let base = u64_at(o, 0) as usize as *mut u8;
            let vram = if broken() == Break::PbmmSizeDiffers {
                VRAM / 2
            } else {
                VRAM
            };
            for (i, (kind, flags, size)) in
                [(0_u32, SEG_APERTURE, APERTURE), (1, SEG_LOCAL_BUDGET, vram)]
                    .into_iter()
                    .enumerate()
            {
                let d = unsafe { std::slice::from_raw_parts_mut(base.add(i * 88), 88) };
                put(d, 0, &kind.to_le_bytes());
                put(d, 4, &flags.to_le_bytes());
                put(d, 16, &size.to_le_bytes());
            }
        }
        _ => {
            let base = u64_at(o, 0) as usize as *mut u8;
            let d = unsafe { std::slice::from_raw_parts_mut(base, 16) };
            put(d, 8, &(1_u64 << 40).to_le_bytes());
        }
    }
    STATUS_SUCCESS
}

/// QueryAdapterInfo: the answer sheet (2.7) for what the driver does not
/// answer yet, the real driver for the rest.
unsafe extern "system" fn answer_sheet_qai(
    h: HANDLE,
    q: *const DXGKARG_QUERYADAPTERINFO,
) -> NTSTATUS {
    let ty = unsafe { (*q).Type };
    let b = broken();
    let zero = |q| {
        out(q).fill(0);
        STATUS_SUCCESS
    };
    match ty {
        DXGKQAITYPE_WDDMDEVICECAPS if b == Break::PrestartQueryFails => STATUS_INVALID_DEVICE_STATE,
        DXGKQAITYPE_WDDMDEVICECAPS => {
            let v: u32 = match b {
                Break::WddmVersion2A00 => 0x2A00,
                Break::DeviceCapsVersion3100 => 0x3100,
                Break::Wddm1WithPreemption => 0x1000,
                _ => 0x3200,
            };
            put(out(q), 0, &v.to_le_bytes());
            STATUS_SUCCESS
        }
        DXGKQAITYPE_DRIVERCAPS => driver_caps(h, q),
        DXGKQAITYPE_PHYSICALADAPTERCAPS if b == Break::NoMultiEngineNoPhysicalCaps => {
            STATUS_NOT_SUPPORTED
        }
        DXGKQAITYPE_PHYSICALADAPTERCAPS => {
            let o = out(q);
            o.fill(0);
            put(o, 0, &1_u16.to_le_bytes());
            let paging: u16 = if b == Break::PagingNodeNotANode { 1 } else { 0 };
            put(o, 2, &paging.to_le_bytes());
            put(o, 8, &0x1234_u64.to_le_bytes());
            put(o, 16, &(1_u32 << 1).to_le_bytes());
            STATUS_SUCCESS
        }
        DXGKQAITYPE_FRAMEBUFFERSAVESIZE => {
            put(out(q), 0, &1000_u64.to_le_bytes());
            STATUS_SUCCESS
        }
        DXGKQAITYPE_DIRTYBITTRACKINGCAPS if b == Break::DirtyCapsFails => STATUS_NOT_SUPPORTED,
        DXGKQAITYPE_64BITONLYCAPS if b == Break::SixtyFourBitFails => STATUS_NOT_SUPPORTED,
        DXGKQAITYPE_GPUVERSION if b == Break::GpuVersionFails => STATUS_NOT_SUPPORTED,
        DXGKQAITYPE_64BITONLYCAPS | DXGKQAITYPE_ADAPTERPERFDATA_CAPS | DXGKQAITYPE_GPUVERSION => {
            zero(q)
        }
        DXGKQAITYPE_GPUMMUCAPS => {
            let o = out(q);
            o.fill(0);
            let bits: u32 = if b == Break::VaBits12 { 12 } else { 40 };
            put(o, 8, &bits.to_le_bytes());
            put(o, 16, &2_u32.to_le_bytes());
            STATUS_SUCCESS
        }
        DXGKQAITYPE_PAGETABLELEVELDESC => {
            let o = out(q);
            o.fill(0);
            put(o, 0, &14_u32.to_le_bytes());
            put(o, 12, &(128_u32 << 10).to_le_bytes());
            STATUS_SUCCESS
        }
        DXGKQAITYPE_HISTORYBUFFERPRECISION => {
            let p: u32 = if b == Break::Precision16 { 16 } else { 64 };
            put(out(q), 0, &p.to_le_bytes());
            STATUS_SUCCESS
        }
        DXGKQAITYPE_QUERYSEGMENT4 => query_segment4(q),
        DXGKQAITYPE_QUERYPAGINGBUFFERINFO
        | DXGKQAITYPE_QUERYSEGMENTCOUNT
        | DXGKQAITYPE_QUERYMMUCOUNT
        | DXGKQAITYPE_QUERYSEGMENT5
        | DXGKQAITYPE_QUERYMMUS => pbmm(ty, q),
        DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS => match input_u32(q) {
            1 => STATUS_NOT_IMPLEMENTED,
            2 => {
                let page: u32 = if b == Break::TrackingPage2048 {
                    2048
                } else {
                    4096
                };
                put(out(q), 0, &page.to_le_bytes());
                STATUS_SUCCESS
            }
            _ => STATUS_INVALID_PARAMETER,
        },
        _ => unsafe { (real().DxgkDdiQueryAdapterInfo.unwrap())(h, q) },
    }
}

unsafe extern "system" fn start_device(
    ctx: PVOID,
    info: *mut DXGK_START_INFO,
    kernel: *mut DXGKRNL_INTERFACE,
    sources: *mut ULONG,
    children: *mut ULONG,
) -> NTSTATUS {
    if broken() == Break::StartDeviceFails {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    unsafe { (real().DxgkDdiStartDevice.unwrap())(ctx, info, kernel, sources, children) }
}

unsafe extern "system" fn get_node_metadata(_: HANDLE, node: UINT, out: PVOID) -> NTSTATUS {
    if broken() == Break::NodeMetadataFails {
        return STATUS_NOT_SUPPORTED;
    }
    assert_eq!(node, 0, "one node, physical adapter 0");
    let o = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), 74) };
    o.fill(0);
    put(o, 0, &6_u32.to_le_bytes()); // DXGK_ENGINE_TYPE_COPY
    for (i, c) in "Software engine".encode_utf16().enumerate() {
        put(o, 4 + 2 * i, &c.to_le_bytes());
    }
    o[72] = u8::from(broken() != Break::NodeNotGpuMmu);
    STATUS_SUCCESS
}

unsafe extern "system" fn create_device(_: HANDLE, args: PVOID) -> NTSTATUS {
    if broken() == Break::CreateDeviceFails {
        return STATUS_NOT_SUPPORTED;
    }
    let a = unsafe { std::slice::from_raw_parts_mut(args.cast::<u8>(), 32) };
    assert_eq!(a[8] & 1, 1, "a system device");
    let n = LIVE.with(|l| {
        l.borrow_mut().0 += 1;
        l.borrow().0
    });
    put(a, 0, &(0xD000_u64 + u64::from(n)).to_le_bytes());
    STATUS_SUCCESS
}

unsafe extern "system" fn destroy_device(_: HANDLE) -> NTSTATUS {
    LIVE.with(|l| l.borrow_mut().0 -= 1);
    STATUS_SUCCESS
}

unsafe extern "system" fn create_context(device: HANDLE, args: PVOID) -> NTSTATUS {
    if broken() == Break::CreateContextFails {
        return STATUS_NOT_SUPPORTED;
    }
    assert!(device.addr() > 0xD000, "a device this driver created");
    let a = unsafe { std::slice::from_raw_parts_mut(args.cast::<u8>(), 72) };
    let word = |at: usize| u32::from_le_bytes(a[at..at + 4].try_into().unwrap());
    let seen = (device.addr(), word(8), word(12), word(16));
    CONTEXTS.with(|c| c.borrow_mut().push(seen));
    let n = LIVE.with(|l| {
        l.borrow_mut().1 += 1;
        l.borrow().1
    });
    put(a, 0, &(0xC000_u64 + u64::from(n)).to_le_bytes());
    let set: u32 = if broken() == Break::PagingSegmentSetZero {
        0
    } else {
        1
    };
    put(a, 40, &set.to_le_bytes());
    STATUS_SUCCESS
}

unsafe extern "system" fn destroy_context(_: HANDLE) -> NTSTATUS {
    LIVE.with(|l| l.borrow_mut().1 -= 1);
    STATUS_SUCCESS
}

/// Fills a PVOID slot the sequence only checks for presence.
unsafe extern "system" fn never_called() -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

fn stub() -> PVOID {
    never_called as *const () as PVOID
}

/// Fills the typed SubmitCommand slot (only checked for presence).
unsafe extern "system" fn never_submitted(_: HANDLE, _: *const DXGKARG_SUBMITCOMMAND) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

/// Fills the typed SubmitCommandVirtual slot (only checked for presence).
unsafe extern "system" fn never_submitted_virtual(
    _: HANDLE,
    _: *const DXGKARG_SUBMITCOMMANDVIRTUAL,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

/// The answer-sheet table, with the current [`Break`]'s table change.
pub fn patch(t: &mut DRIVER_INITIALIZATION_DATA) {
    t.DxgkDdiQueryAdapterInfo = Some(answer_sheet_qai);
    t.DxgkDdiStartDevice = Some(start_device);
    // SAFETY (all three): the same C signature with the record pointer
    // spelled PVOID; Dxgkrnl's calling convention is unchanged.
    t.DxgkDdiGetNodeMetadata = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "system" fn(HANDLE, UINT, PVOID) -> NTSTATUS,
            unsafe extern "system" fn(HANDLE, UINT, *mut DXGK_NODEMETADATA) -> NTSTATUS,
        >(get_node_metadata)
    });
    t.DxgkDdiCreateDevice = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "system" fn(HANDLE, PVOID) -> NTSTATUS,
            unsafe extern "system" fn(HANDLE, *mut DXGKARG_CREATEDEVICE) -> NTSTATUS,
        >(create_device)
    });
    t.DxgkDdiDestroyDevice = Some(destroy_device);
    t.DxgkDdiCreateContext = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "system" fn(HANDLE, PVOID) -> NTSTATUS,
            unsafe extern "system" fn(HANDLE, *mut DXGKARG_CREATECONTEXT) -> NTSTATUS,
        >(create_context)
    });
    t.DxgkDdiDestroyContext = Some(destroy_context);
    // CreateProcess, DestroyProcess, Get/SetRootPageTable(Size): the real
    // driver's (the sequence only checks that they are present).
    t.DxgkDdiSubmitCommandVirtual = Some(never_submitted_virtual);
    let render_only = [
        Break::RenderOnlyPartialSet,
        Break::VirtualGpuOnlyNoUmd,
        Break::NoCalibrateGpuClock,
    ];
    if render_only.contains(&broken()) && broken() != Break::RenderOnlyPartialSet {
        t.DxgkDdiPresent = stub();
        t.DxgkDdiSubmitCommand = Some(never_submitted);
        t.DxgkDdiControlInterrupt = stub();
        t.DxgkDdiRenderKm = stub();
    }
    match broken() {
        Break::NoQueryAdapterInfo => t.DxgkDdiQueryAdapterInfo = None,
        Break::NoSetVirtualMachineData => t.DxgkDdiSetVirtualMachineData = None,
        Break::NoQueryDirtyBitData => t.DxgkDdiQueryDirtyBitData = None,
        Break::NoSubmitCommandVirtual => t.DxgkDdiSubmitCommandVirtual = None,
        Break::NoCalibrateGpuClock => t.DxgkDdiCalibrateGpuClock = None,
        Break::DpcMissing => t.DxgkDdiDpcRoutine = None,
        Break::NoRenderNoDisplay => {
            t.DxgkDdiInterruptRoutine = None;
            t.DxgkDdiDpcRoutine = None;
            t.DxgkDdiCreateDevice = None;
            t.DxgkDdiDestroyAllocation = None;
            t.DxgkDdiDescribeAllocation = None;
            t.DxgkDdiGetStandardAllocationDriverData = None;
            t.DxgkDdiPreemptCommand = None;
            t.DxgkDdiBuildPagingBuffer = None;
            t.DxgkDdiResetFromTimeout = None;
            t.DxgkDdiRestartFromTimeout = None;
            t.DxgkDdiCollectDbgInfo = None;
            t.DxgkDdiDestroyDevice = None;
            t.DxgkDdiOpenAllocation = None;
            t.DxgkDdiCloseAllocation = None;
            // The software engine fills it (wt/engine).
            t.DxgkDdiSubmitCommand = None;
        }
        _ => {}
    }
}

/// The environment a break runs in: the MCDM one, except for the
/// render-only shapes (a Display-class INF; with a UMD unless the break is
/// about the UMD).
pub fn environment(b: Break) -> Environment {
    match b {
        Break::DisplayClassNotComputeOnly | Break::VirtualGpuOnlyNoUmd => Environment {
            compute_accelerator_class: false,
            umd_registered: false,
        },
        Break::RenderOnlyPartialSet | Break::NoRenderNoDisplay | Break::NoCalibrateGpuClock => {
            Environment {
                compute_accelerator_class: false,
                umd_registered: true,
            }
        }
        _ => MCDM,
    }
}
