//! Unit tests of the trampolines and their FFI helpers, written to run under
//! Miri (`cargo +nightly miri test -p gpup-miniport --lib`): raw argument
//! blocks at odd addresses, output buffers the driver may only partly write,
//! and one adapter driven through AddDevice, StartDevice (with a minimal
//! Dxgkrnl callback defined here), QueryAdapterInfo, the five dirty-tracking
//! DDIs, the software backend, StopDevice and RemoveDevice. Miri checks every
//! pointer the driver derives from the OS's arguments (provenance, bounds,
//! alignment, aliasing).

use core::ffi::c_void;
use core::mem::{MaybeUninit, offset_of, size_of};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use super::arg::{ArgBlock, ArgRecord};
use super::{InBuffer, OutBuffer, read_in};
use crate::foundation::status::Status;

#[test]
fn read_in_copies_from_an_unaligned_block_and_refuses_null() {
    let mut bytes = [0u8; 1 + size_of::<u64>()];
    bytes[1..].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    let p = bytes.as_ptr().wrapping_add(1).cast::<u64>();
    // SAFETY: `p` points to 8 readable bytes inside `bytes`.
    let got = unsafe { read_in(p) };
    assert_eq!(got, Ok(0x1122_3344_5566_7788));
    // SAFETY: NULL is allowed.
    let got = unsafe { read_in(core::ptr::null::<u64>()) };
    assert_eq!(got, Err(Status::InvalidParameter));
}

// SAFETY: the tests below pass `DXGKRNL_INTERFACE` blocks of at least the
// `Size` they state in their first `ULONG`, itself always there (4 bytes).
unsafe impl ArgRecord for DXGKRNL_INTERFACE {
    const FIXED: usize = size_of::<ULONG>();
    const SIZE_FIELD: Option<usize> = Some(offset_of!(DXGKRNL_INTERFACE, Size));
}

#[test]
fn a_declared_size_zeroes_what_an_older_caller_did_not_pass() {
    let mut kernel = DXGKRNL_INTERFACE::zeroed();
    kernel.Size = 4;
    kernel.Version = 0x5678;
    // Only `Size` (4 bytes) is passed.
    // SAFETY: `kernel` is a whole, readable and writable interface, more
    // than the 4 bytes it states.
    let mut block = unsafe { ArgBlock::new(&raw mut kernel) }.expect("non-NULL");
    let copy = block.get();
    assert_eq!((copy.Size, copy.Version), (4, 0));
    // Writes stop at the stated size too.
    block.update(|k| k.Version = 1);
    assert_eq!((kernel.Size, kernel.Version), (4, 0x5678));
    kernel.Size = 0x1234;
    // SAFETY: as for the block above, now stating more than the record.
    let copy = unsafe { ArgBlock::new(&raw const kernel) }
        .expect("non-NULL")
        .get();
    assert_eq!((copy.Size, copy.Version), (0x1234, 0x5678));
    kernel.Size = 3;
    // SAFETY: as for the block above; a `Size` below 4 is refused unread.
    let short = unsafe { ArgBlock::new(&raw const kernel) };
    assert_eq!(short.err(), Some(Status::InvalidParameter));
    // SAFETY: NULL is allowed.
    let null = unsafe { ArgBlock::new(core::ptr::null::<DXGKRNL_INTERFACE>()) };
    assert_eq!(null.err(), Some(Status::InvalidParameter));
}

#[test]
fn a_trailing_array_is_read_at_an_odd_address_and_checked_against_its_maximum() {
    let header = offset_of!(DXGKARG_CREATEMEMORYBASIS, Ranges);
    let range = size_of::<DXGK_MEMORYRANGE>();
    // One byte in, the header and two ranges, and nothing more.
    let mut bytes = vec![0u8; 1 + header + 2 * range];
    bytes[1..5].copy_from_slice(&7u32.to_le_bytes());
    let count = 1 + offset_of!(DXGKARG_CREATEMEMORYBASIS, RangeCount);
    bytes[count..count + 8].copy_from_slice(&2u64.to_le_bytes());
    for (i, (offset, size)) in [(0x1000u64, 0x2000u64), (0x8000, 0x1000)]
        .into_iter()
        .enumerate()
    {
        let at = 1 + header + i * range;
        bytes[at..at + 8].copy_from_slice(&offset.to_le_bytes());
        bytes[at + 8..at + 16].copy_from_slice(&size.to_le_bytes());
    }
    let p = bytes
        .as_ptr()
        .wrapping_add(1)
        .cast::<DXGKARG_CREATEMEMORYBASIS>();
    // SAFETY: `p` is the header and its two ranges, readable, one byte in.
    let block = unsafe { ArgBlock::new(p) }.expect("non-NULL");
    let args = block.get();
    assert_eq!((args.SegmentId, args.RangeCount), (7, 2));
    // The one-entry `Ranges` of the record is not read with the header.
    assert_eq!(args.Ranges[0].SizeInBytes, 0);
    let ranges = block
        .entries::<DXGK_MEMORYRANGE>(2)
        .expect("two of at most two");
    assert_eq!(ranges.len(), 2);
    let got: Vec<_> = ranges
        .iter()
        .map(|r| (r.SegmentOffset, r.SizeInBytes))
        .collect();
    assert_eq!(got, [(0x1000, 0x2000), (0x8000, 0x1000)]);
    assert!(ranges.get(2).is_none());
    let too_many = block.entries::<DXGK_MEMORYRANGE>(1);
    assert_eq!(too_many.err(), Some(Status::InvalidParameter));
}

#[test]
fn update_writes_the_fields_of_an_unaligned_block_and_entries_set_only_in_range() {
    let mut bytes = vec![0xEEu8; 1 + size_of::<DXGKARG_DESTROYALLOCATION>()];
    let handles = [core::ptr::without_provenance_mut::<c_void>(0x10); 2];
    let mut args = DXGKARG_DESTROYALLOCATION::zeroed();
    args.NumAllocations = 2;
    args.pAllocationList = handles.as_ptr();
    let p = bytes
        .as_mut_ptr()
        .wrapping_add(1)
        .cast::<DXGKARG_DESTROYALLOCATION>();
    // SAFETY: `p` has room for the block, one byte in.
    unsafe { p.write_unaligned(args) };
    // SAFETY: `p` is a readable and writable block whose list holds
    // `NumAllocations` handles.
    let mut block = unsafe { ArgBlock::new(p) }.expect("non-NULL");
    block.update(|a| a.NumAllocations = 1);
    // SAFETY: `p` is still the block written above.
    let back = unsafe { p.read_unaligned() };
    assert_eq!(back.NumAllocations, 1);
    assert_eq!(back.pAllocationList, handles.as_ptr());
    assert_eq!(bytes[0], 0xEE, "nothing before the block");
    let list = block.entries::<HANDLE>(4).expect("one handle");
    assert_eq!(list.iter().collect::<Vec<_>>(), [handles[0]]);

    let mut infos = [DXGK_ALLOCATIONINFO::zeroed(); 2];
    let mut create = DXGKARG_CREATEALLOCATION::zeroed();
    create.NumAllocations = 1;
    create.pAllocationInfo = infos.as_mut_ptr();
    // SAFETY: `create` is a readable and writable block whose array holds
    // `NumAllocations` writable entries.
    let block = unsafe { ArgBlock::new(&raw mut create) }.expect("non-NULL");
    let mut entries = block.entries::<DXGK_ALLOCATIONINFO>(8).expect("one entry");
    let mut info = DXGK_ALLOCATIONINFO::zeroed();
    info.Size = 0x4000;
    assert_eq!(entries.set(0, &info), Ok(()));
    assert_eq!(entries.set(1, &info), Err(Status::InvalidParameter));
    assert_eq!((infos[0].Size, infos[1].Size), (0x4000, 0));
    create.pAllocationInfo = core::ptr::null_mut();
    // SAFETY: `create` is still a readable and writable block; its array
    // pointer is NULL now, which `entries` refuses before any entry is read.
    let block = unsafe { ArgBlock::new(&raw mut create) }.expect("non-NULL");
    let none = block.entries::<DXGK_ALLOCATIONINFO>(8);
    assert_eq!(none.err(), Some(Status::InvalidParameter));
}

#[test]
fn write_record_writes_only_the_fields_that_fit() {
    let caps = crate::adapter::caps::driver_caps();
    let at = offset_of!(DXGK_DRIVERCAPS, WDDMVersion);
    for len in [at + 3, at + 4, at + 9, size_of::<DXGK_DRIVERCAPS>()] {
        let mut buf = vec![0xEEu8; len + 8];
        // SAFETY: `buf` has `len + 8 >= len` writable bytes.
        let mut out = unsafe { OutBuffer::new(buf.as_mut_ptr().cast(), len) }.expect("non-NULL");
        let result = out.write_record(&caps, at + 4);
        if len < at + 4 {
            assert_eq!(result, Err(Status::BufferTooSmall));
            assert!(buf.iter().all(|&b| b == 0xEE), "nothing written");
            continue;
        }
        assert_eq!(result, Ok(()));
        assert_eq!(buf[at..at + 4], 0x3200u32.to_le_bytes());
        assert!(buf[len..].iter().all(|&b| b == 0xEE), "nothing past {len}");
    }
    // SAFETY: NULL is allowed.
    assert!(unsafe { OutBuffer::new(core::ptr::null_mut(), 8) }.is_err());
}

#[test]
fn prefix_hands_out_exactly_the_bytes_asked_for() {
    let mut buf = [0u8; 6];
    // SAFETY: `buf` has 5 writable bytes and more.
    let mut out = unsafe { OutBuffer::new(buf.as_mut_ptr().cast(), 5) }.expect("non-NULL");
    assert!(out.prefix(6).is_none());
    let dst = out.prefix(5).expect("fits");
    for (i, b) in dst.iter_mut().enumerate() {
        b.write(u8::try_from(i).unwrap_or(0) + 1);
    }
    assert_eq!(buf, [1, 2, 3, 4, 5, 0]);
}

#[test]
fn read_uint_reads_an_unaligned_uint_and_refuses_short_input() {
    let bytes = [0xAAu8, 7, 0, 0, 0];
    let p = bytes.as_ptr().wrapping_add(1).cast();
    // SAFETY: `p` has 4 readable bytes.
    let got = unsafe { InBuffer::new(p, 4) }.read_uint();
    assert_eq!(got, Ok(7));
    // SAFETY: `p` has 4 readable bytes, so 3 too.
    let got = unsafe { InBuffer::new(p, 3) }.read_uint();
    assert_eq!(got, Err(Status::InvalidParameter));
    // SAFETY: NULL is allowed.
    let got = unsafe { InBuffer::new(core::ptr::null(), 4) }.read_uint();
    assert_eq!(got, Err(Status::InvalidParameter));
}

#[test]
fn the_registered_table_offers_live_migration_and_scattered_reserves() {
    use crate::adapter::caps::{dirty_bit_tracking_caps, gpup_caps};
    // All nine live-migration slots are filled, and SetVirtualGpuResources2.
    let real = gpup_caps(
        &super::initialization_data(),
        dirty_bit_tracking_caps().Value,
    )
    .Caps;
    assert_eq!(real, GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve);
    // The same table without the nine slots offers neither.
    let mut empty = super::initialization_data();
    empty.DxgkDdiPrepareLiveMigration = None;
    empty.DxgkDdiSaveImmutableMigrationData = None;
    empty.DxgkDdiSaveMutableMigrationData = None;
    empty.DxgkDdiEndLiveMigration = None;
    empty.DxgkDdiRestoreImmutableMigrationData = None;
    empty.DxgkDdiRestoreMutableMigrationData = None;
    empty.DxgkDdiWriteVirtualizedInterrupt = None;
    empty.DxgkDdiSetVirtualGpuResources2 = None;
    empty.DxgkDdiSetVirtualFunctionPauseState = None;
    let none = gpup_caps(&empty, dirty_bit_tracking_caps().Value).Caps;
    assert_eq!(none, GpupCaps::empty());
}

/// What the test's Dxgkrnl knows of its one device.
struct Device {
    pdo: PDEVICE_OBJECT,
}

/// `DxgkCbGetDeviceInformation` of the test's Dxgkrnl.
unsafe extern "system" fn get_device_information(
    DeviceHandle: HANDLE,
    DeviceInfo: *mut DXGK_DEVICE_INFO,
) -> NTSTATUS {
    // SAFETY: the test passes a live `Device` as the `DeviceHandle`.
    let device = unsafe { &*DeviceHandle.cast::<Device>() };
    let mut info = DXGK_DEVICE_INFO::zeroed();
    info.PhysicalDeviceObject = device.pdo;
    // SAFETY: the driver passes a writable `DXGK_DEVICE_INFO`.
    unsafe { DeviceInfo.write_unaligned(info) };
    STATUS_SUCCESS
}

/// AddDevice and StartDevice, as Dxgkrnl calls them; returns `hAdapter`.
fn add_and_start(device_state: &Device) -> PVOID {
    use super::device;
    let mut h_adapter: PVOID = core::ptr::null_mut();
    // SAFETY: a live PDO (never dereferenced) and a writable out-parameter.
    let status = unsafe { device::DxgkDdiAddDevice(device_state.pdo, &raw mut h_adapter) };
    assert_eq!(status, STATUS_SUCCESS);
    let mut kernel = DXGKRNL_INTERFACE::zeroed();
    kernel.Size = u32::try_from(size_of::<DXGKRNL_INTERFACE>()).unwrap_or(0);
    kernel.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_2;
    kernel.DeviceHandle = core::ptr::from_ref(device_state).cast_mut().cast();
    kernel.DxgkCbGetDeviceInformation = Some(get_device_information);
    let mut start_info = DXGK_START_INFO::zeroed();
    let (mut sources, mut children) = (7u32, 7u32);
    // SAFETY: every argument is live and writable.
    let status = unsafe {
        device::DxgkDdiStartDevice(
            h_adapter,
            &raw mut start_info,
            &raw mut kernel,
            &raw mut sources,
            &raw mut children,
        )
    };
    assert_eq!((status, sources, children), (STATUS_SUCCESS, 0, 0));
    h_adapter
}

/// Queries-and-clears the whole basis (67 pages: 9 bytes) into a larger
/// buffer, with the argument block at an odd address, twice: the second
/// query reads zeros.
fn query_twice(h_adapter: PVOID, h_basis: HANDLE) {
    let mut buffer = [0xCCu8; 12];
    let mut raw = [MaybeUninit::<u8>::zeroed(); 1 + size_of::<DXGKARG_QUERYDIRTYBITDATA>()];
    let mut query = DXGKARG_QUERYDIRTYBITDATA::zeroed();
    query.MemoryBasis = h_basis;
    query.Buffer = buffer.as_mut_ptr().cast();
    query.BufferSize = buffer.len();
    query.Flags = 1;
    let p_query = raw
        .as_mut_ptr()
        .wrapping_add(1)
        .cast::<DXGKARG_QUERYDIRTYBITDATA>();
    // SAFETY: `p_query` has room for the block (one byte in), unaligned.
    unsafe { p_query.write_unaligned(query) };
    // SAFETY: the block and its buffer are live.
    let got = unsafe { super::basis::DxgkDdiQueryDirtyBitData(h_adapter, p_query) };
    assert_eq!(got, STATUS_SUCCESS);
    // Bit 1 (page 101) and bit 3 + 6 = 9 (page 6); bytes past 9 untouched.
    assert_eq!(buffer, [0b10, 0b10, 0, 0, 0, 0, 0, 0, 0, 0xCC, 0xCC, 0xCC]);
    // Cleared: a second query reads zeros.
    // SAFETY: the block and its buffer are still live.
    let got = unsafe { super::basis::DxgkDdiQueryDirtyBitData(h_adapter, p_query) };
    assert_eq!(got, STATUS_SUCCESS);
    assert_eq!(buffer[..9], [0; 9]);
}

#[test]
fn one_adapter_through_every_dirty_tracking_ddi_with_raw_blocks() {
    use super::{basis, device, qai};
    const PAGE: u64 = 4096;

    let mut pdo_storage = [0u64; 4];
    let device_state = Device {
        pdo: pdo_storage.as_mut_ptr().cast(),
    };
    let h_adapter = add_and_start(&device_state);

    // Segment caps, with the input at an odd address.
    let input = [0u8, 2, 0, 0, 0];
    let mut output = [0u8; 4];
    let mut q = DXGKARG_QUERYADAPTERINFO::zeroed();
    q.Type = DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS;
    q.pInputData = input.as_ptr().wrapping_add(1).cast_mut().cast();
    q.InputDataSize = 4;
    q.pOutputData = output.as_mut_ptr().cast();
    q.OutputDataSize = 4;
    // SAFETY: the buffers are live for their stated sizes.
    let got = unsafe { qai::DxgkDdiQueryAdapterInfo(h_adapter, &raw const q) };
    assert_eq!(got, STATUS_SUCCESS);
    assert_eq!(u32::from_le_bytes(output), 4096);

    // Create with the block at an odd address: two ranges, 3 + 64 pages.
    let words: [u64; 6] = [2, 2, 100 * PAGE, 3 * PAGE, 0, 64 * PAGE];
    let mut block = [0u8; 1 + 48];
    for (i, w) in words.iter().enumerate() {
        block[1 + 8 * i..9 + 8 * i].copy_from_slice(&w.to_le_bytes());
    }
    let args = block
        .as_ptr()
        .wrapping_add(1)
        .cast::<DXGKARG_CREATEMEMORYBASIS>();
    // SAFETY: `args` is a complete block of two ranges.
    let h_basis = unsafe { basis::DxgkDdiCreateMemoryBasis(h_adapter, args) };
    assert!(!h_basis.is_null());
    // SAFETY: handles are values.
    let got = unsafe { basis::DxgkDdiStartDirtyTracking(h_adapter, h_basis) };
    assert_eq!(got, STATUS_SUCCESS);

    // Marks on pages 101 and 70 (range 0's second page, range 1's seventh).
    assert_eq!(
        basis::sw_mark_dirty(h_adapter, 2, 101 * PAGE, 1),
        STATUS_SUCCESS
    );
    assert_eq!(
        basis::sw_mark_dirty(h_adapter, 2, 6 * PAGE, PAGE),
        STATUS_SUCCESS
    );

    query_twice(h_adapter, h_basis);

    // Stop, destroy, and the handle is dead.
    // SAFETY: handles are values.
    let got = unsafe { basis::DxgkDdiStopDirtyTracking(h_adapter, h_basis) };
    assert_eq!(got, STATUS_SUCCESS);
    // SAFETY: handles are values.
    let got = unsafe { basis::DxgkDdiDestroyMemoryBasis(h_adapter, h_basis) };
    assert_eq!(got, STATUS_SUCCESS);
    // SAFETY: handles are values.
    let got = unsafe { basis::DxgkDdiDestroyMemoryBasis(h_adapter, h_basis) };
    assert_eq!(got, STATUS_INVALID_HANDLE);
    // SAFETY: handles are values.
    let got = unsafe { device::DxgkDdiStopDevice(h_adapter) };
    assert_eq!(got, STATUS_SUCCESS);
    // SAFETY: handles are values.
    let got = unsafe { device::DxgkDdiRemoveDevice(h_adapter) };
    assert_eq!(got, STATUS_SUCCESS);
    // SAFETY: handles are values.
    let got = unsafe { device::DxgkDdiRemoveDevice(h_adapter) };
    assert_eq!(got, STATUS_INVALID_PARAMETER);
}
