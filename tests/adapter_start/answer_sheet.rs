//! The drivers of `tests/adapter_start.rs`: the conforming one is the real
//! driver (`gpup_miniport::initialization_data()`), and each deliberately
//! broken driver ([`Break`]) is the real one with the one DDI its rule is
//! about wrapped to answer wrongly (a DRIVERCAPS field, a segment
//! descriptor, a failing query or CreateContext, a NULL slot), so that it
//! differs from the real driver in that rule only (issue 16's acceptance).
//!
//! Pass-through wrappers count the devices and contexts the start creates
//! and destroys (they change no answer).
//!
//! What remains of the spec's answer sheet (2.7): only the shapes a rule
//! cannot be broken from the MCDM (ComputeOnly) shape, because the rule
//! only applies to a render or display adapter: `RenderOnlyPartialSet`,
//! `VirtualGpuOnlyNoUmd`, `NoCalibrateGpuClock` and `NoRenderNoDisplay` turn
//! the real driver into a render-only (not ComputeOnly) adapter, with the
//! 1.2 flip and kernel-mode command buffer caps and the render slots stubbed
//! ([`render_only`]), in a Display-class environment ([`environment`]);
//! `DisplayClassNotComputeOnly` only clears ComputeOnly, in a Display-class
//! environment.

use std::cell::{Cell, RefCell};

use dxgk_sys::*;
use dxgkrnl_model::start::{Environment, MCDM};

/// One change to the real driver: the thing each broken driver does.
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

/// A CreateContext: (index of the device in [`DEVICES`], NodeOrdinal,
/// EngineAffinity, Flags, the DmaBufferSegmentSet the driver answered).
pub type SeenContext = (usize, u32, u32, u32, u32);

thread_local! {
    pub static BROKEN: Cell<Break> = const { Cell::new(Break::None) };
    /// Devices and contexts alive (created and not destroyed).
    pub static LIVE: RefCell<(u32, u32)> = const { RefCell::new((0, 0)) };
    /// Every device created, in order.
    pub static DEVICES: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Every CreateContext (see [`SeenContext`]).
    pub static CONTEXTS: RefCell<Vec<SeenContext>> = const { RefCell::new(Vec::new()) };
}

pub fn broken() -> Break {
    BROKEN.with(Cell::get)
}

pub fn real() -> DRIVER_INITIALIZATION_DATA {
    gpup_miniport::initialization_data()
}

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

/// Rewrites the record of type `T` the driver wrote at the start of `q`'s
/// output.
fn edit<T: Copy>(q: *const DXGKARG_QUERYADAPTERINFO, f: impl FnOnce(&mut T)) {
    let o = out(q);
    assert!(
        o.len() >= size_of::<T>(),
        "the driver's answer holds a whole record"
    );
    let p = o.as_mut_ptr().cast::<T>();
    let mut v = unsafe { p.read_unaligned() };
    f(&mut v);
    unsafe { p.write_unaligned(v) };
}

/// The real driver's DRIVERCAPS, with the break's field changed.
fn driver_caps(c: &mut DXGK_DRIVERCAPS) {
    match broken() {
        Break::WddmVersion2A00 => c.WDDMVersion = DXGK_WDDMVERSION(0x2A00),
        Break::Wddm1WithPreemption => c.WDDMVersion = DXGKDDI_WDDMv1,
        Break::NotComputeOnly | Break::DisplayClassNotComputeOnly => {
            c.MiscCaps.remove(DriverMiscCaps::ComputeOnly);
        }
        Break::NoMultiEngineAware | Break::NoMultiEngineNoPhysicalCaps => {
            c.SchedulingCaps.Value.remove(VidSchCaps::MultiEngineAware);
        }
        Break::BadFrameBufferSaveSize => {
            c.MemoryManagementCaps.Value |= VidMmCaps::IoMmuSecureModeSupported;
        }
        Break::MiscReservedBit => c.MiscCaps |= DriverMiscCaps::from_bits_retain(1 << 20),
        Break::RuntimePmWithoutDdis => c.SupportRuntimePowerManagement = 1,
        Break::NativeFenceUnanswered => c.SchedulingCaps.Value |= VidSchCaps::NativeGpuFence,
        Break::NoComputePreemption => {
            c.PreemptionCaps.ComputePreemptionGranularity = D3DKMDT_COMPUTE_PREEMPTION_NONE;
        }
        Break::RenderOnlyPartialSet | Break::NoRenderNoDisplay => {
            c.MiscCaps.remove(DriverMiscCaps::ComputeOnly);
        }
        Break::VirtualGpuOnlyNoUmd | Break::NoCalibrateGpuClock => {
            // The render-only shape: no ComputeOnly, so the 1.2 flip and
            // kernel-mode command buffer caps become mandatory.
            c.MiscCaps.remove(DriverMiscCaps::ComputeOnly);
            if broken() == Break::VirtualGpuOnlyNoUmd {
                c.MiscCaps |= DriverMiscCaps::VirtualGpuOnly;
            }
            c.FlipCaps.Value = 1 << 1;
            c.PresentationCaps.Value = 1 << 2;
        }
        _ => {}
    }
}

/// The `i`th descriptor of a QUERYSEGMENT4 answer, stepped by the stride
/// Dxgkrnl passed.
fn descriptor4(o: &DXGK_QUERYSEGMENTOUT4, i: usize) -> *mut DXGK_SEGMENTDESCRIPTOR4 {
    o.pSegmentDescriptor
        .wrapping_add(i * o.SegmentDescriptorStride)
        .cast()
}

/// The real driver's QUERYSEGMENT4 answer, with the break's change.
fn query_segment4(o: &mut DXGK_QUERYSEGMENTOUT4) {
    match broken() {
        Break::ZeroSegments => o.NbSegment = 0,
        Break::PagingBufferInVram => o.PagingBufferSegmentId = 2,
        Break::ZeroSizeSegment | Break::NoLocalBudget if !o.pSegmentDescriptor.is_null() => {
            assert!(o.NbSegment >= 2, "the aperture and a VRAM segment");
            let vram = descriptor4(o, 1);
            unsafe {
                let mut d = vram.read_unaligned();
                if broken() == Break::ZeroSizeSegment {
                    d.Size = 0;
                    d.CommitLimit = 0;
                } else {
                    d.Flags.Value.remove(SegmentFlags::LocalBudgetGroup);
                }
                vram.write_unaligned(d);
            }
        }
        _ => {}
    }
}

/// QueryAdapterInfo: the real driver's answer, with the break's change to
/// the one query its rule reads.
unsafe extern "system" fn broken_qai(h: HANDLE, q: *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS {
    let ty = unsafe { (*q).Type };
    let b = broken();
    let fail = match (ty, b) {
        (DXGKQAITYPE_WDDMDEVICECAPS, Break::PrestartQueryFails) => STATUS_INVALID_DEVICE_STATE,
        (DXGKQAITYPE_DRIVERCAPS, Break::DriverCapsFails)
        | (DXGKQAITYPE_PHYSICALADAPTERCAPS, Break::NoMultiEngineNoPhysicalCaps)
        | (DXGKQAITYPE_DIRTYBITTRACKINGCAPS, Break::DirtyCapsFails)
        | (DXGKQAITYPE_64BITONLYCAPS, Break::SixtyFourBitFails)
        | (DXGKQAITYPE_GPUVERSION, Break::GpuVersionFails)
        | (DXGKQAITYPE_QUERYSEGMENT4, Break::QuerySegment4Fails)
        | (DXGKQAITYPE_QUERYMMUCOUNT, Break::MmuCountFails)
        | (DXGKQAITYPE_NATIVE_FENCE_CAPS, Break::NativeFenceUnanswered) => STATUS_NOT_SUPPORTED,
        (DXGKQAITYPE_FRAMEBUFFERSAVESIZE, Break::BadFrameBufferSaveSize) => {
            // Asked only because the break announces IoMmuSecureMode.
            out(q)[..8].copy_from_slice(&1000_u64.to_le_bytes());
            return STATUS_SUCCESS;
        }
        _ => STATUS_SUCCESS,
    };
    if fail != STATUS_SUCCESS {
        return fail;
    }
    let status = unsafe { (real().DxgkDdiQueryAdapterInfo.unwrap())(h, q) };
    if status != STATUS_SUCCESS {
        return status;
    }
    match ty {
        DXGKQAITYPE_WDDMDEVICECAPS => edit(q, |c: &mut DXGK_WDDMDEVICECAPS| match b {
            Break::WddmVersion2A00 => c.WDDMVersion = DXGK_WDDMVERSION(0x2A00),
            Break::DeviceCapsVersion3100 => c.WDDMVersion = DXGK_WDDMVERSION(0x3100),
            Break::Wddm1WithPreemption => c.WDDMVersion = DXGKDDI_WDDMv1,
            _ => {}
        }),
        DXGKQAITYPE_DRIVERCAPS => edit(q, driver_caps),
        DXGKQAITYPE_PHYSICALADAPTERCAPS if b == Break::PagingNodeNotANode => {
            edit(q, |c: &mut DXGK_PHYSICALADAPTERCAPS| {
                c.PagingNodeIndex = c.NumExecutionNodes;
            });
        }
        DXGKQAITYPE_GPUMMUCAPS if b == Break::VaBits12 => {
            edit(q, |c: &mut DXGK_GPUMMUCAPS| c.VirtualAddressBitCount = 12);
        }
        DXGKQAITYPE_HISTORYBUFFERPRECISION if b == Break::Precision16 => {
            edit(q, |c: &mut DXGKARG_HISTORYBUFFERPRECISION| {
                c.PrecisionBits = 16
            });
        }
        DXGKQAITYPE_QUERYSEGMENT4 => edit(q, query_segment4),
        DXGKQAITYPE_QUERYSEGMENT5 if b == Break::PbmmSizeDiffers => {
            edit(q, |o: &mut DXGK_QUERYSEGMENTOUT5| unsafe {
                let vram = o.SegmentDescriptors.add(1);
                let mut d = vram.read_unaligned();
                d.Size /= 2;
                vram.write_unaligned(d);
            });
        }
        DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS
            if b == Break::TrackingPage2048 && input_u32(q) == 2 =>
        {
            edit(q, |page: &mut u32| {
                assert_eq!(*page, 4096, "the real driver's page");
                *page = 2048;
            });
        }
        _ => {}
    }
    STATUS_SUCCESS
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

unsafe extern "system" fn get_node_metadata(
    h: HANDLE,
    node: UINT,
    out: *mut DXGK_NODEMETADATA,
) -> NTSTATUS {
    if broken() == Break::NodeMetadataFails {
        return STATUS_NOT_SUPPORTED;
    }
    let status = unsafe { (real().DxgkDdiGetNodeMetadata.unwrap())(h, node, out) };
    if status == STATUS_SUCCESS && broken() == Break::NodeNotGpuMmu {
        unsafe {
            let mut m = out.read_unaligned();
            assert_eq!(m.GpuMmuSupported, 1, "the real node uses the GPU MMU");
            m.GpuMmuSupported = 0;
            out.write_unaligned(m);
        }
    }
    status
}

unsafe extern "system" fn create_device(h: HANDLE, args: *mut DXGKARG_CREATEDEVICE) -> NTSTATUS {
    if broken() == Break::CreateDeviceFails {
        return STATUS_NOT_SUPPORTED;
    }
    let status = unsafe { (real().DxgkDdiCreateDevice.unwrap())(h, args) };
    if status == STATUS_SUCCESS {
        LIVE.with(|l| l.borrow_mut().0 += 1);
        DEVICES.with(|d| d.borrow_mut().push(unsafe { (*args).hDevice }.addr()));
    }
    status
}

unsafe extern "system" fn destroy_device(h: HANDLE) -> NTSTATUS {
    let status = unsafe { (real().DxgkDdiDestroyDevice.unwrap())(h) };
    if status == STATUS_SUCCESS {
        LIVE.with(|l| l.borrow_mut().0 -= 1);
    }
    status
}

unsafe extern "system" fn create_context(
    device: HANDLE,
    args: *mut DXGKARG_CREATECONTEXT,
) -> NTSTATUS {
    if broken() == Break::CreateContextFails {
        return STATUS_NOT_SUPPORTED;
    }
    let status = unsafe { (real().DxgkDdiCreateContext.unwrap())(device, args) };
    if status != STATUS_SUCCESS {
        return status;
    }
    let a = unsafe { &mut *args };
    if broken() == Break::PagingSegmentSetZero {
        a.ContextInfo.DmaBufferSegmentSet = 0;
    }
    let index = DEVICES.with(|d| d.borrow().iter().position(|&h| h == device.addr()));
    let seen = (
        index.expect("a device this driver created"),
        a.NodeOrdinal,
        a.EngineAffinity,
        a.Flags.Value.bits(),
        a.ContextInfo.DmaBufferSegmentSet,
    );
    CONTEXTS.with(|c| c.borrow_mut().push(seen));
    LIVE.with(|l| l.borrow_mut().1 += 1);
    status
}

unsafe extern "system" fn destroy_context(h: HANDLE) -> NTSTATUS {
    let status = unsafe { (real().DxgkDdiDestroyContext.unwrap())(h) };
    if status == STATUS_SUCCESS {
        LIVE.with(|l| l.borrow_mut().1 -= 1);
    }
    status
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

/// The render-only shapes (see the module doc): the render slots an MCDM
/// adapter does not fill, stubbed.
pub fn render_only(t: &mut DRIVER_INITIALIZATION_DATA) {
    t.DxgkDdiPresent = stub();
    t.DxgkDdiSubmitCommand = Some(never_submitted);
    t.DxgkDdiControlInterrupt = stub();
    t.DxgkDdiRenderKm = stub();
}

/// The real driver's table, with the current [`Break`]'s wrapped DDI.
pub fn patch(t: &mut DRIVER_INITIALIZATION_DATA) {
    t.DxgkDdiQueryAdapterInfo = Some(broken_qai);
    t.DxgkDdiStartDevice = Some(start_device);
    t.DxgkDdiGetNodeMetadata = Some(get_node_metadata);
    t.DxgkDdiCreateDevice = Some(create_device);
    t.DxgkDdiDestroyDevice = Some(destroy_device);
    t.DxgkDdiCreateContext = Some(create_context);
    t.DxgkDdiDestroyContext = Some(destroy_context);
    if matches!(
        broken(),
        Break::VirtualGpuOnlyNoUmd | Break::NoCalibrateGpuClock
    ) {
        render_only(t);
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
