//! The fake Dxgkrnl's initialization routine and the DDI sequence it drives.
//!
//! [`dxgk_initialize`] is what the miniport's `DxgkInitialize` calls once the
//! device control returned its address: it checks the
//! `DRIVER_INITIALIZATION_DATA` as Dxgkrnl does (interface version, mandatory
//! slots), then drives one adapter through the table's function pointers:
//! AddDevice, StartDevice (with this fixture's `DXGK_START_INFO` and
//! `DXGKRNL_INTERFACE`), QueryAdapterInfo (DRIVERCAPS, dirty-bit tracking caps,
//! segment caps), a memory basis through create, start tracking, query, stop
//! and destroy, forged and stale handles, one paging buffer (a FILL into
//! VRAM) built, submitted and completed through the interrupt path with its
//! pages reported dirty (`fixture/engine.rs`), StopDevice and RemoveDevice.
//!
//! The adapter's memory configuration is the miniport's built-in one (the
//! paging aperture, segment 1, then one 1 GiB VRAM segment, id 2, 4 KiB
//! pages), so the basis lives in segment 2.

use core::ffi::c_void;
use core::mem::{offset_of, size_of, size_of_val};
use core::ptr::{from_ref, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;

use crate::start::sequence::{self, Learned, Mode};
use crate::start_checks::{
    FixtureTarget, START_ENVIRONMENT, START_MODE, slot_is_set, verdict_note,
};
use crate::tally::Tally;

pub use crate::mandatory_slots::MANDATORY_SLOTS;

/// Dxgkrnl's initialization routine: the signature of `DxgkInitialize`.
pub type InitializeRoutine = unsafe extern "system" fn(
    PDRIVER_OBJECT,
    *mut UNICODE_STRING,
    *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS;

/// How many checks [`dxgk_initialize`] makes when everything passes.
pub const SEQUENCE_CHECKS: u32 = 20 + crate::start_checks::START_CHECKS + engine::ENGINE_CHECKS;

/// The driver segment the basis is created in: the built-in VRAM segment
/// (segment 1 is the driver's paging aperture).
const SEGMENT: u32 = 2;
/// Its dirty-tracking page size.
const PAGE_SIZE: u32 = 4096;
/// The basis's two ranges (offset, bytes): 256 + 64 pages.
const RANGES: [(u64, u64); 2] = [(0, 1 << 20), (64 << 20, 256 << 10)];
/// Bytes of dirty bitmap the basis needs: 320 pages, one bit each.
const BITMAP_BYTES: usize = 40;
/// Bytes past the bitmap in the query buffer, which must stay untouched.
const GUARD_BYTES: usize = 8;
/// The fill of the query buffer before the call.
const FILL: u8 = 0xA5;

/// A `DXGKARG_CREATEMEMORYBASIS` block with two ranges (the header declares
/// `Ranges[1]`; the rest follow contiguously).
#[repr(C)]
struct CreateArgs {
    SegmentId: UINT,
    RangeCount: UINT64,
    Ranges: [DXGK_MEMORYRANGE; 2],
}

const _: () = {
    assert!(offset_of!(CreateArgs, SegmentId) == offset_of!(DXGKARG_CREATEMEMORYBASIS, SegmentId));
    assert!(
        offset_of!(CreateArgs, RangeCount) == offset_of!(DXGKARG_CREATEMEMORYBASIS, RangeCount)
    );
    assert!(offset_of!(CreateArgs, Ranges) == offset_of!(DXGKARG_CREATEMEMORYBASIS, Ranges));
    assert!(DXGKARG_CREATEMEMORYBASIS::size_for(2).is_some());
};

/// Storage for an object the miniport only compares addresses of (the
/// physical device object): the size of a `DEVICE_OBJECT` on x64.
#[repr(C, align(16))]
struct OpaqueObject([u8; 0x150]);

/// The physical device object of the one adapter.
static PHYSICAL_DEVICE: OpaqueObject = OpaqueObject([0; 0x150]);

/// Encodes an ASCII string of exactly `N` bytes as UTF-16 at compile time.
const fn utf16<const N: usize>(ascii: &[u8]) -> [u16; N] {
    assert!(ascii.len() == N);
    let mut units = [0_u16; N];
    let mut i = 0;
    while i < N {
        // `i < N` for both; `as` widens a u8 losslessly (`From` is not const).
        #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
        {
            units[i] = ascii[i] as u16;
            i += 1;
        }
    }
    units
}

/// The adapter's registry key, as `DxgkCbGetDeviceInformation` reports it.
const REGISTRY_PATH: &[u8] =
    br"\REGISTRY\MACHINE\SYSTEM\CurrentControlSet\Control\Video\{fake-dxgkrnl}\0000";
static DEVICE_REGISTRY_PATH: [u16; REGISTRY_PATH.len()] = utf16(REGISTRY_PATH);

/// What Dxgkrnl keeps per adapter: its `DeviceHandle` is this object's address.
struct DeviceState {
    /// The `MiniportDeviceContext` AddDevice returned.
    context: AtomicPtr<c_void>,
    /// `DxgkCbGetDeviceInformation` calls with this device's handle.
    info_calls: AtomicU32,
    /// `DxgkCbGetDeviceInformation` calls with any other handle.
    foreign_calls: AtomicU32,
}

static DEVICE: DeviceState = DeviceState {
    context: AtomicPtr::new(null_mut()),
    info_calls: AtomicU32::new(0),
    foreign_calls: AtomicU32::new(0),
};

/// The `DeviceHandle` this fixture gives the miniport.
fn device_handle() -> HANDLE {
    from_ref(&DEVICE).cast_mut().cast()
}

/// `DxgkCbGetDeviceInformation`, the callback the miniport calls in StartDevice.
unsafe extern "system" fn get_device_information(
    DeviceHandle: HANDLE,
    DeviceInfo: *mut DXGK_DEVICE_INFO,
) -> NTSTATUS {
    if DeviceHandle != device_handle() {
        DEVICE.foreign_calls.fetch_add(1, Ordering::Relaxed);
        return STATUS_INVALID_PARAMETER;
    }
    if DeviceInfo.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    DEVICE.info_calls.fetch_add(1, Ordering::Relaxed);
    let mut info = DXGK_DEVICE_INFO::zeroed();
    info.MiniportDeviceContext = DEVICE.context.load(Ordering::Relaxed);
    info.PhysicalDeviceObject = from_ref(&PHYSICAL_DEVICE).cast_mut().cast();
    // 76 UTF-16 units: 152 bytes, well within a USHORT.
    let bytes = u16::try_from(size_of_val(&DEVICE_REGISTRY_PATH)).unwrap_or(u16::MAX);
    info.DeviceRegistryPath = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        // The miniport only reads the path.
        Buffer: DEVICE_REGISTRY_PATH.as_ptr().cast_mut(),
    };
    info.SystemMemorySize = LARGE_INTEGER { QuadPart: 16 << 30 };
    info.HighestPhysicalAddress = LARGE_INTEGER {
        QuadPart: (1 << 46) - 1,
    };
    // SAFETY: non-NULL, and the miniport passes a writable DXGK_DEVICE_INFO.
    unsafe { DeviceInfo.write_unaligned(info) };
    STATUS_SUCCESS
}

/// The miniport's table, checked and copied, and the tally its checks go to.
struct Run<'a> {
    tally: &'a Tally,
    table: DRIVER_INITIALIZATION_DATA,
}

/// A slot the sequence needs, or a failed check naming it.
macro_rules! slot {
    ($run:expr, $name:ident) => {
        match $run.table.$name {
            Some(f) => f,
            None => {
                $run.tally
                    .check(false, format_args!(concat!(stringify!($name), " is NULL")));
                return;
            }
        }
    };
}

// After `slot!`: the module uses it.
mod engine;

impl Run<'_> {
    fn check(&self, ok: bool, what: core::fmt::Arguments<'_>) -> bool {
        self.tally.check(ok, what)
    }

    /// `DxgkDdiQueryAdapterInfo` answered into a zeroed `T`.
    fn query<T: Record>(
        &self,
        qai: unsafe extern "system" fn(HANDLE, *const DXGKARG_QUERYADAPTERINFO) -> NTSTATUS,
        adapter: HANDLE,
        ty: DXGK_QUERYADAPTERINFOTYPE,
        input: Option<&UINT>,
    ) -> (NTSTATUS, T) {
        let mut out = T::zeroed();
        let mut args = DXGKARG_QUERYADAPTERINFO::zeroed();
        args.Type = ty;
        if let Some(input) = input {
            args.pInputData = from_ref(input).cast_mut().cast();
            args.InputDataSize = 4;
        }
        args.pOutputData = (&raw mut out).cast();
        args.OutputDataSize = UINT::try_from(size_of::<T>()).unwrap_or(UINT::MAX);
        // SAFETY: a DDI of the miniport's table, called as Dxgkrnl calls it:
        // its adapter handle and a live argument block whose buffers outlive
        // the call.
        let status = unsafe { qai(adapter, &raw const args) };
        (status, out)
    }

    /// The model's start sequence against the miniport (StartDevice is its
    /// step 2.1.3), its verdict noted; a refused start's system objects
    /// destroyed.
    fn play_start(&self, context: HANDLE, start: &mut dyn FnMut() -> NTSTATUS) -> Learned {
        let mut target = FixtureTarget {
            tally: self.tally,
            table: &self.table,
            adapter: context,
            start,
        };
        let mut learned = sequence::play(&mut target, START_ENVIRONMENT, START_MODE);
        verdict_note(self.tally, &learned);
        if learned.refusal.is_some() {
            sequence::teardown(&mut target, &mut learned);
        }
        learned
    }

    /// Before StopDevice: the paging process's contexts and the system
    /// devices the start created go first [inf].
    fn teardown(&self, context: HANDLE, learned: &mut Learned) {
        let mut no_start = || STATUS_INVALID_DEVICE_STATE;
        let mut target = FixtureTarget {
            tally: self.tally,
            table: &self.table,
            adapter: context,
            start: &mut no_start,
        };
        sequence::teardown(&mut target, learned);
    }

    /// AddDevice ... RemoveDevice.
    fn adapter(&self) {
        let add = slot!(self, DxgkDdiAddDevice);
        let start = slot!(self, DxgkDdiStartDevice);
        let stop = slot!(self, DxgkDdiStopDevice);
        let remove = slot!(self, DxgkDdiRemoveDevice);
        // Where the miniport's code is: the harness compares it with the
        // image's link-time base (Wine, like Windows, relocates drivers).
        self.tally
            .note(format_args!("DxgkDdiAddDevice at {:p}", add as *const ()));
        let pdo: PDEVICE_OBJECT = from_ref(&PHYSICAL_DEVICE).cast_mut().cast();
        let mut context: PVOID = null_mut();
        // SAFETY: AddDevice with a physical device object that outlives the
        // adapter and a writable out-parameter.
        let status = unsafe { add(pdo, &raw mut context) };
        if !self.check(
            status == STATUS_SUCCESS && !context.is_null(),
            format_args!("DxgkDdiAddDevice: {status:?}, MiniportDeviceContext {context:p}"),
        ) {
            return;
        }
        DEVICE.context.store(context, Ordering::Relaxed);
        DEVICE.info_calls.store(0, Ordering::Relaxed);
        DEVICE.foreign_calls.store(0, Ordering::Relaxed);

        let mut start_info = DXGK_START_INFO::zeroed();
        start_info.AdapterLuid = LUID {
            LowPart: 0x4758_4b46,
            HighPart: 0,
        };
        start_info.AdapterGuid = GUID::new(0x6661_6b65, 0x6478, 0x676b, *b"rnl-wine");
        let mut kernel = DXGKRNL_INTERFACE::zeroed();
        kernel.Size = ULONG::try_from(size_of::<DXGKRNL_INTERFACE>()).unwrap_or(ULONG::MAX);
        kernel.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_2;
        kernel.DeviceHandle = device_handle();
        kernel.DxgkCbGetDeviceInformation = Some(get_device_information);
        engine::arm(&self.table);
        engine::install(&mut kernel);
        let (mut sources, mut children) = (ULONG::MAX, ULONG::MAX);
        let mut start_status = STATUS_UNSUCCESSFUL;
        // StartDevice is the start sequence's step 2.1.3: the sequence calls
        // it, between the pre-start query and the checks of 2.2-2.4.
        let mut start_device = || {
            // SAFETY: StartDevice with the adapter's handle and live argument
            // blocks; the interface's callbacks and handle stay valid while
            // the adapter is started (they are statics).
            start_status = unsafe {
                start(
                    context,
                    &raw mut start_info,
                    &raw mut kernel,
                    &raw mut sources,
                    &raw mut children,
                )
            };
            start_status
        };
        let mut learned = self.play_start(context, &mut start_device);
        let refused = START_MODE != Mode::Report && learned.refusal.is_some();
        let status = start_status;
        let started = !refused
            && self.check(
                status == STATUS_SUCCESS && sources == 0 && children == 0,
                format_args!(
                    "DxgkDdiStartDevice: {status:?}, {sources} video present sources, {children} children"
                ),
            );
        let info_calls = DEVICE.info_calls.load(Ordering::Relaxed);
        let foreign = DEVICE.foreign_calls.load(Ordering::Relaxed);
        // A start refused (enforce mode) ends the checks: only the stop and
        // removal Dxgkrnl then makes follow.
        if !refused {
            self.check(
                info_calls >= 1 && foreign == 0,
                format_args!(
                    "the miniport called DxgkCbGetDeviceInformation {info_calls} times with its DeviceHandle ({foreign} with another)"
                ),
            );
        }
        if started {
            self.started(context);
        }
        if learned.device_started {
            self.teardown(context, &mut learned);
            // SAFETY: StopDevice of the started adapter.
            let status = unsafe { stop(context) };
            self.check(
                status == STATUS_SUCCESS,
                format_args!("DxgkDdiStopDevice: {status:?}"),
            );
        }
        // SAFETY: RemoveDevice of the adapter AddDevice created.
        let status = unsafe { remove(context) };
        self.check(
            status == STATUS_SUCCESS,
            format_args!("DxgkDdiRemoveDevice: {status:?}"),
        );
    }

    /// The caps and the memory basis, on a started adapter.
    fn started(&self, adapter: HANDLE) {
        let qai = slot!(self, DxgkDdiQueryAdapterInfo);
        let (status, caps): (_, DXGK_DRIVERCAPS) =
            self.query(qai, adapter, DXGKQAITYPE_DRIVERCAPS, None);
        self.check(
            status == STATUS_SUCCESS && caps.WDDMVersion == DXGKDDI_WDDMv3_2,
            format_args!(
                "QueryAdapterInfo(DRIVERCAPS): {status:?}, WDDMVersion {:#x}",
                caps.WDDMVersion.0
            ),
        );
        let (status, dirty): (_, DXGK_DIRTY_BIT_TRACKING_CAPS) =
            self.query(qai, adapter, DXGKQAITYPE_DIRTYBITTRACKINGCAPS, None);
        self.check(
            status == STATUS_SUCCESS
                && dirty
                    .Value
                    .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported),
            format_args!(
                "QueryAdapterInfo(DIRTYBITTRACKINGCAPS, 39): {status:?}, {:?}",
                dirty.Value
            ),
        );
        let (status, segment): (_, DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS) = self.query(
            qai,
            adapter,
            DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS,
            Some(&SEGMENT),
        );
        self.check(
            status == STATUS_SUCCESS && segment.PageSize == PAGE_SIZE,
            format_args!(
                "QueryAdapterInfo(DIRTYBITTRACKINGSEGMENTCAPS, 40) of segment {SEGMENT}: {status:?}, PageSize {}",
                segment.PageSize
            ),
        );
        self.basis(adapter);
        self.engine(adapter);
    }

    /// One memory basis through its whole life, and handles that name none.
    fn basis(&self, adapter: HANDLE) {
        let create = slot!(self, DxgkDdiCreateMemoryBasis);
        let destroy = slot!(self, DxgkDdiDestroyMemoryBasis);
        let start = slot!(self, DxgkDdiStartDirtyTracking);
        let stop = slot!(self, DxgkDdiStopDirtyTracking);
        let query = slot!(self, DxgkDdiQueryDirtyBitData);

        let mut args = CreateArgs {
            SegmentId: SEGMENT,
            RangeCount: 2,
            Ranges: RANGES.map(|(offset, size)| DXGK_MEMORYRANGE {
                SegmentOffset: offset,
                SizeInBytes: size,
            }),
        };
        // SAFETY: CreateMemoryBasis with a complete block of `RangeCount` ranges.
        let basis = unsafe { create(adapter, (&raw mut args).cast()) };
        if !self.check(
            !basis.is_null(),
            format_args!(
                "DxgkDdiCreateMemoryBasis(segment {SEGMENT}, 2 ranges, 320 pages) -> {basis:p}"
            ),
        ) {
            return;
        }
        // SAFETY: StartDirtyTracking; handles are looked up, never dereferenced.
        let status = unsafe { start(adapter, basis) };
        self.check(
            status == STATUS_SUCCESS,
            format_args!("DxgkDdiStartDirtyTracking: {status:?}"),
        );

        let mut buffer = [FILL; BITMAP_BYTES + GUARD_BYTES];
        let status = self.query_bits(query, adapter, basis, &mut buffer);
        let (bitmap, guard) = buffer.split_at(BITMAP_BYTES);
        let set = bitmap.iter().map(|b| b.count_ones()).sum::<u32>();
        let guard_kept = guard.iter().all(|&b| b == FILL);
        self.check(
            status == STATUS_SUCCESS && set == 0 && guard_kept,
            format_args!(
                "DxgkDdiQueryDirtyBitData(CLEARDATA) right after start: {status:?}, {set} of 320 bits set, bytes past the {BITMAP_BYTES}-byte bitmap {}",
                if guard_kept { "untouched" } else { "written" }
            ),
        );

        // Handles the miniport never returned, while the real one is live:
        // the handle with one bit flipped, and a plausible kernel pointer.
        let flipped = basis.map_addr(|a| a ^ (1 << 12));
        // SAFETY: DestroyMemoryBasis; handles are looked up, never dereferenced.
        let status = unsafe { destroy(adapter, flipped) };
        self.check(
            status == STATUS_INVALID_HANDLE,
            format_args!(
                "DxgkDdiDestroyMemoryBasis(forged: the handle with bit 12 flipped): {status:?}"
            ),
        );
        let pointer: HANDLE = (&raw mut buffer).cast();
        let status = self.query_bits(query, adapter, pointer, &mut [0; BITMAP_BYTES]);
        self.check(
            status == STATUS_INVALID_HANDLE,
            format_args!("DxgkDdiQueryDirtyBitData(forged: a stack address): {status:?}"),
        );

        // SAFETY: StopDirtyTracking; handles are looked up, never dereferenced.
        let status = unsafe { stop(adapter, basis) };
        self.check(
            status == STATUS_SUCCESS,
            format_args!("DxgkDdiStopDirtyTracking (the forged calls changed nothing): {status:?}"),
        );
        // SAFETY: DestroyMemoryBasis; handles are looked up, never dereferenced.
        let status = unsafe { destroy(adapter, basis) };
        self.check(
            status == STATUS_SUCCESS,
            format_args!("DxgkDdiDestroyMemoryBasis: {status:?}"),
        );
        // SAFETY: DestroyMemoryBasis with the now stale `basis`: handles are
        // looked up, never dereferenced, so a stale one is only a value.
        let status = unsafe { destroy(adapter, basis) };
        self.check(
            status == STATUS_INVALID_HANDLE,
            format_args!("DxgkDdiDestroyMemoryBasis(stale: destroyed above): {status:?}"),
        );
        // SAFETY: StartDirtyTracking with the stale `basis`; handles are
        // looked up, never dereferenced.
        let status = unsafe { start(adapter, basis) };
        self.check(
            status == STATUS_INVALID_HANDLE,
            format_args!("DxgkDdiStartDirtyTracking(stale): {status:?}"),
        );
    }

    /// `DxgkDdiQueryDirtyBitData` of a whole basis, with CLEARDATA, into `buffer`.
    fn query_bits(
        &self,
        query: unsafe extern "system" fn(HANDLE, *mut DXGKARG_QUERYDIRTYBITDATA) -> NTSTATUS,
        adapter: HANDLE,
        basis: HANDLE,
        buffer: &mut [u8],
    ) -> NTSTATUS {
        let mut args = DXGKARG_QUERYDIRTYBITDATA::zeroed();
        args.MemoryBasis = basis;
        args.Buffer = buffer.as_mut_ptr().cast();
        args.BufferSize = buffer.len();
        args.Flags = 1; // DXGKARG_QUERYDIRTYBITDATAFLAGS_CLEARDATA
        // SAFETY: QueryDirtyBitData with a live argument block whose buffer is
        // `buffer`, writable for `BufferSize` bytes during the call.
        unsafe { query(adapter, &raw mut args) }
    }
}

/// Dxgkrnl's initialization routine, as the fixture runs it: checks the
/// arguments and the table, drives the miniport, writes the last line, and
/// returns Dxgkrnl's verdict on the table (`STATUS_REVISION_MISMATCH` for a
/// wrong version or a NULL mandatory slot; the DDI checks do not change it).
///
/// `planned` is the plan announced with [`Tally::plan`], which includes
/// [`SEQUENCE_CHECKS`].
///
/// # Safety
/// `data` is NULL or points to the miniport's live table, as `DxgkInitialize`
/// passes it; the table's non-NULL slots are the miniport's DDIs.
pub unsafe fn dxgk_initialize(
    tally: &Tally,
    planned: u32,
    driver_object: PDRIVER_OBJECT,
    registry_path: *mut UNICODE_STRING,
    data: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS {
    let verdict = (|| {
        let args_ok = !driver_object.is_null() && !registry_path.is_null() && !data.is_null();
        if !tally.check(
            args_ok,
            format_args!(
                "DxgkInitialize(DriverObject {driver_object:p}, RegistryPath {registry_path:p}, DriverInitializationData {data:p})"
            ),
        ) {
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: non-NULL, and the miniport passes its live table (contract).
        let table = unsafe { data.read_unaligned() };
        let version_ok = tally.check(
            table.Version == DXGKDDI_INTERFACE_VERSION_WDDM3_2,
            format_args!(
                "Version {:#x} == DXGKDDI_INTERFACE_VERSION_WDDM3_2 ({DXGKDDI_INTERFACE_VERSION_WDDM3_2:#x})",
                table.Version
            ),
        );
        let missing = MANDATORY_SLOTS
            .iter()
            .filter(|name| !slot_is_set(&table, name))
            .count();
        let slots_ok = tally.check(
            missing == 0,
            format_args!(
                "{} mandatory slots (dxgkrnl-model's MANDATORY_SLOTS), {missing} NULL",
                MANDATORY_SLOTS.len()
            ),
        );
        for name in MANDATORY_SLOTS
            .iter()
            .filter(|name| !slot_is_set(&table, name))
        {
            tally.note(format_args!("NULL mandatory slot: {name}"));
        }
        if !(version_ok && slots_ok) {
            return STATUS_REVISION_MISMATCH;
        }
        Run { tally, table }.adapter();
        STATUS_SUCCESS
    })();
    tally.finish(planned);
    verdict
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Mutex;

    use super::*;
    use crate::start::rules::RULES;
    use crate::start_checks::REFUSED_NOTE;

    thread_local! {
        static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn capture(args: core::fmt::Arguments<'_>) {
        LINES.with(|l| l.borrow_mut().push(args.to_string()));
    }

    /// The fixture's device state is static: one run at a time.
    static RUNS: Mutex<()> = Mutex::new(());

    /// Runs the sequence against `table` (the host build's, possibly altered)
    /// and returns its lines and (passed, failed).
    pub(crate) fn run(
        mut table: DRIVER_INITIALIZATION_DATA,
    ) -> (Vec<String>, NTSTATUS, (u32, u32)) {
        let _one = RUNS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        LINES.with(|l| l.borrow_mut().clear());
        let tally = Tally::new(capture);
        tally.plan(SEQUENCE_CHECKS);
        let mut object = [0_u64; 4];
        let mut path = UNICODE_STRING::zeroed();
        // SAFETY: a live table of the host build's DDIs.
        let status = unsafe {
            dxgk_initialize(
                &tally,
                SEQUENCE_CHECKS,
                (&raw mut object).cast(),
                &raw mut path,
                &raw mut table,
            )
        };
        let lines = LINES.with(|l| l.borrow().clone());
        let last = lines.last().cloned().unwrap_or_default();
        let counts = last
            .strip_prefix("fake-dxgkrnl: ")
            .and_then(|s| s.strip_suffix(" failed"))
            .and_then(|s| s.split_once(" passed, "))
            .map(|(p, f)| (p.parse().unwrap(), f.parse().unwrap()))
            .expect("the last line is the summary");
        (lines, status, counts)
    }

    #[test]
    fn the_host_build_passes_every_check_of_the_sequence() {
        let (lines, status, counts) = run(gpup_miniport::initialization_data());
        for line in &lines {
            println!("{line}");
        }
        assert_eq!(status, STATUS_SUCCESS);
        assert_eq!(counts, (SEQUENCE_CHECKS, 0), "{lines:#?}");
        assert!(lines.iter().all(|l| !l.contains("FAIL")));
    }

    /// The broken miniport of the Wine run's failure demonstration, on the
    /// host: a Destroy that answers success for any handle it rejects.
    unsafe extern "system" fn destroy_accepting_stale_handles(
        adapter: HANDLE,
        basis: HANDLE,
    ) -> NTSTATUS {
        let real = gpup_miniport::initialization_data()
            .DxgkDdiDestroyMemoryBasis
            .unwrap();
        // SAFETY: forwards the caller's arguments to the real DDI.
        match unsafe { real(adapter, basis) } {
            STATUS_INVALID_HANDLE => STATUS_SUCCESS,
            status => status,
        }
    }

    #[test]
    fn a_destroy_that_accepts_stale_handles_fails_exactly_those_checks() {
        let mut table = gpup_miniport::initialization_data();
        table.DxgkDdiDestroyMemoryBasis = Some(destroy_accepting_stale_handles);
        let (lines, status, counts) = run(table);
        assert_eq!(status, STATUS_SUCCESS, "the table itself is valid");
        assert_eq!(counts, (SEQUENCE_CHECKS - 2, 2), "{lines:#?}");
        let failed: Vec<_> = lines.iter().filter(|l| l.contains(" FAIL ")).collect();
        assert!(
            failed[0].contains("DxgkDdiDestroyMemoryBasis(forged"),
            "{failed:?}"
        );
        assert!(
            failed[1].contains("DxgkDdiDestroyMemoryBasis(stale"),
            "{failed:?}"
        );
    }

    #[test]
    fn a_null_mandatory_slot_or_a_wrong_version_is_refused_before_any_ddi() {
        let mut table = gpup_miniport::initialization_data();
        table.DxgkDdiBuildPagingBuffer = None;
        let (lines, status, counts) = run(table);
        assert_eq!(status, STATUS_REVISION_MISMATCH);
        assert_eq!(counts, (2, SEQUENCE_CHECKS - 2), "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("NULL mandatory slot: DxgkDdiBuildPagingBuffer"))
        );
        assert!(
            !lines.iter().any(|l| l.contains("AddDevice")),
            "no DDI was called"
        );

        let mut table = gpup_miniport::initialization_data();
        table.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_1;
        let (_, status, counts) = run(table);
        assert_eq!(status, STATUS_REVISION_MISMATCH);
        assert_eq!(counts, (2, SEQUENCE_CHECKS - 2));
    }

    // ---- The start rules (`crate::start_checks`) ----

    /// The rule ids of `lines`' refusal notes.
    fn refused(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.split_once(REFUSED_NOTE).map(|(_, id)| id.to_owned()))
            .collect()
    }

    /// The real QueryAdapterInfo with a reserved MiscCaps bit in DRIVERCAPS:
    /// the host twin of the Wine run's `--cfg gpup_wine_start_broken` image.
    unsafe extern "system" fn reserved_misc_bit(
        h: HANDLE,
        q: *const DXGKARG_QUERYADAPTERINFO,
    ) -> NTSTATUS {
        let real = gpup_miniport::initialization_data()
            .DxgkDdiQueryAdapterInfo
            .unwrap();
        // SAFETY: the caller's arguments, passed on.
        let status = unsafe { real(h, q) };
        // SAFETY: the caller's live argument block.
        let args = unsafe { q.read_unaligned() };
        if args.Type == DXGKQAITYPE_DRIVERCAPS && status == STATUS_SUCCESS {
            let misc = args
                .pOutputData
                .cast::<u8>()
                .wrapping_add(576)
                .cast::<u32>();
            // SAFETY: DRIVERCAPS buffers are 592 bytes: MiscCaps is inside.
            let value = unsafe { misc.read_unaligned() };
            // SAFETY: as above.
            unsafe { misc.write_unaligned(value | 1 << 20) };
        }
        status
    }

    #[test]
    fn every_rule_is_played_once_in_order_and_a_broken_rule_adds_exactly_its_refusal() {
        let (lines, _, _) = run(gpup_miniport::initialization_data());
        let played: Vec<_> = RULES
            .iter()
            .filter(|r| {
                lines
                    .iter()
                    .any(|l| l.contains(&format!("start {}: ", r.id)))
            })
            .collect();
        let real = refused(&lines);
        println!("the real image's refusals: {real:?}");
        assert_eq!(played.len(), RULES.len(), "{lines:#?}");
        // Every rule enforced; the real image breaks only the rule it is
        // known not to pass yet (waived: the run went on).
        assert_ne!(START_MODE, Mode::Report);
        let awaited: Vec<_> = crate::start::rules::AWAITING_DRIVER
            .iter()
            .map(|r| r.id.to_owned())
            .collect();
        assert_eq!(real, awaited, "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("start verdict: every rule held"))
        );

        let mut table = gpup_miniport::initialization_data();
        table.DxgkDdiQueryAdapterInfo = Some(reserved_misc_bit);
        let (lines, _, _) = run(table);
        let broken = refused(&lines);
        // Enforced, the broken run ends at its rule (2.2j comes before any
        // waived rule).
        assert_eq!(broken, ["2.2j MiscCaps reserved"], "{broken:?} vs {real:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("start verdict: refused at 2.2j MiscCaps reserved")),
            "{lines:#?}"
        );
    }
}
