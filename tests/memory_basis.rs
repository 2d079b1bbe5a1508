//! The five dirty-tracking DDIs through the C ABI, one test per row of
//! the dirty-tracking fixed behaviours of `docs/contract.md` (and the rules
//! the OS may rely on), each asserting the exact NTSTATUS (or NULL handle) and that
//! state and buffers are unchanged on error. Their caps and the host memory
//! configuration: `tests/memory_config.rs`.

// These tests call DDIs through raw function pointers with deliberately bad
// arguments: the soundness of each call is the driver contract under test.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::*;
use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{AdapterConfig, BasisHandle, create_args};
use gpup_rng::XorShift64Star;

const PAGE: u64 = 4096;

fn forged_handles() -> Vec<BasisHandle> {
    vec![
        BasisHandle(core::ptr::null_mut()),
        BasisHandle(core::ptr::without_provenance_mut(0x1234_5678)),
        // The right tag, a plausible slot, a generation never issued.
        BasisHandle(core::ptr::without_provenance_mut(0x42FF_FFFF_FFFF_F001)),
    ]
}

/// Checks that a table of capacity `n` still accepts exactly `n` bases: a
/// failed create left nothing behind.
fn assert_capacity(adapter: &dxgkrnl_model::Adapter, n: usize) {
    let bases: Vec<_> = (0..n)
        .map(|i| {
            adapter
                .create_memory_basis(SEG_4K, &[(i as u64 * PAGE, PAGE)])
                .expect("room for every basis")
        })
        .collect();
    assert!(
        adapter
            .create_memory_basis(SEG_4K, &[(60 * MIB, PAGE)])
            .is_none(),
        "table full"
    );
    for b in bases {
        assert_eq!(adapter.destroy_memory_basis(b), STATUS_SUCCESS);
    }
}

#[test]
fn create_rejects_every_malformed_argument_with_null() {
    let (_d, adapter) = started_with(&AdapterConfig {
        max_bases: 4,
        ..layout()
    });
    type Case = (&'static str, u32, Vec<(u64, u64)>);
    let bad: Vec<Case> = vec![
        ("no ranges", SEG_4K, vec![]),
        ("range of size 0", SEG_4K, vec![(0, PAGE), (8 * PAGE, 0)]),
        (
            "offset + size overflows",
            SEG_4K,
            vec![(u64::MAX - PAGE + 1, 2 * PAGE)],
        ),
        (
            "range past the segment end",
            SEG_4K,
            vec![(64 * MIB - PAGE, 2 * PAGE)],
        ),
        (
            "range starting past the end",
            SEG_4K,
            vec![(64 * MIB, PAGE)],
        ),
        (
            "overlapping ranges",
            SEG_4K,
            vec![(0, 4 * PAGE), (3 * PAGE, 4 * PAGE)],
        ),
        (
            "overlap out of order",
            SEG_4K,
            vec![(10 * PAGE, PAGE), (0, PAGE), (9 * PAGE, 2 * PAGE)],
        ),
        ("duplicate range", SEG_4K, vec![(0, PAGE), (0, PAGE)]),
        ("unknown segment", 9, vec![(0, PAGE)]),
        ("segment 0", 0, vec![(0, PAGE)]),
        ("untracked segment", SEG_UNTRACKED, vec![(0, PAGE)]),
    ];
    for (what, segment, ranges) in bad {
        assert!(
            adapter.create_memory_basis(segment, &ranges).is_none(),
            "{what}"
        );
    }
    assert!(
        unsafe { adapter.create_memory_basis_raw(core::ptr::null()) }.is_null(),
        "NULL pArgs"
    );
    // A RangeCount so large the block cannot hold it: refused before any range is read
    // (the block below has one range only).
    for count in [65_537u64, u64::MAX, 1 << 40] {
        let mut block = create_args(SEG_4K, &[(0, PAGE)]);
        block[1] = count;
        let handle = unsafe { adapter.create_memory_basis_raw(block.as_ptr().cast()) };
        assert!(handle.is_null(), "RangeCount {count}");
    }
    // Edge cases that are valid: a range ending exactly at the segment end,
    // adjacent ranges, ranges not in offset order.
    let ok = adapter
        .create_memory_basis(SEG_4K, &[(64 * MIB - PAGE, PAGE), (0, PAGE), (PAGE, PAGE)])
        .expect("valid");
    assert_eq!(adapter.destroy_memory_basis(ok), STATUS_SUCCESS);
    assert_capacity(&adapter, 4);
}

#[test]
fn create_fails_with_null_when_the_table_is_full_and_keeps_the_rest() {
    let (_d, adapter) = started_with(&AdapterConfig {
        max_bases: 2,
        ..layout()
    });
    let a = adapter.create_memory_basis(SEG_4K, &[(0, PAGE)]).unwrap();
    let b = adapter
        .create_memory_basis(SEG_4K, &[(PAGE, PAGE)])
        .unwrap();
    assert!(
        adapter
            .create_memory_basis(SEG_4K, &[(2 * PAGE, PAGE)])
            .is_none()
    );
    assert_eq!(
        adapter.start_dirty_tracking(a),
        STATUS_SUCCESS,
        "existing bases unaffected"
    );
    assert_eq!(adapter.destroy_memory_basis(a), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(b), STATUS_SUCCESS);
    assert_capacity(&adapter, 2);
}

#[test]
fn start_rejects_ranges_that_are_not_whole_pages_and_does_not_start() {
    let (_d, adapter) = started();
    for ranges in [
        vec![(0, PAGE + 512)],
        vec![(512, PAGE)],
        vec![(0, PAGE), (3 * PAGE, 100)],
    ] {
        let basis = adapter
            .create_memory_basis(SEG_4K, &ranges)
            .expect("create accepts unaligned ranges");
        assert_eq!(
            adapter.start_dirty_tracking(basis),
            STATUS_INVALID_PARAMETER
        );
        let mut buf = [0xAAu8; 8];
        assert_eq!(
            adapter.query_dirty_bits(basis, None, true, &mut buf),
            STATUS_INVALID_DEVICE_STATE
        );
        assert_eq!(
            adapter.stop_dirty_tracking(basis),
            STATUS_INVALID_DEVICE_STATE,
            "tracking not started"
        );
        assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
    }
    // Pages of the segment's own size: 4 KiB ranges are not whole 64 KiB pages.
    let basis = adapter
        .create_memory_basis(SEG_64K, &[(0, 4 * PAGE)])
        .unwrap();
    assert_eq!(
        adapter.start_dirty_tracking(basis),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn start_on_a_tracked_basis_is_an_invalid_device_state_and_keeps_its_bits() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 16 * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, 3 * PAGE, 1), STATUS_SUCCESS);
    assert_eq!(
        adapter.start_dirty_tracking(basis),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(
        query_all(&adapter, basis, 16, true),
        vec![0b1000, 0],
        "bits survived the refused start"
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn stop_on_an_untracked_basis_is_an_invalid_device_state() {
    let (_d, adapter) = started();
    let basis = adapter.create_memory_basis(SEG_4K, &[(0, PAGE)]).unwrap();
    assert_eq!(
        adapter.stop_dirty_tracking(basis),
        STATUS_INVALID_DEVICE_STATE
    );
    assert_eq!(adapter.start_dirty_tracking(basis), STATUS_SUCCESS);
    assert_eq!(adapter.stop_dirty_tracking(basis), STATUS_SUCCESS);
    assert_eq!(
        adapter.stop_dirty_tracking(basis),
        STATUS_INVALID_DEVICE_STATE,
        "second stop"
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn destroy_of_a_tracked_basis_stops_it_and_succeeds() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 8 * PAGE)]);
    let other = tracked(&adapter, SEG_4K, &[(0, 8 * PAGE)]);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
    for status in [
        adapter.destroy_memory_basis(basis),
        adapter.start_dirty_tracking(basis),
        adapter.stop_dirty_tracking(basis),
        adapter.query_dirty_bits(basis, None, true, &mut [0u8; 1]),
    ] {
        assert_eq!(status, STATUS_INVALID_HANDLE);
    }
    // The implicit stop released its tracking units without touching the other basis's.
    assert_eq!(adapter.mark_dirty(SEG_4K, 0, PAGE), STATUS_SUCCESS);
    assert_eq!(query_all(&adapter, other, 8, true), vec![1]);
    assert_eq!(adapter.destroy_memory_basis(other), STATUS_SUCCESS);
}

#[test]
fn unknown_stale_forged_and_null_basis_handles_are_invalid_handles_in_every_ddi() {
    let (_d, adapter) = started();
    let (_d2, other_adapter) = started();
    let foreign = other_adapter
        .create_memory_basis(SEG_4K, &[(0, PAGE)])
        .unwrap();
    let stale = adapter.create_memory_basis(SEG_4K, &[(0, PAGE)]).unwrap();
    assert_eq!(adapter.destroy_memory_basis(stale), STATUS_SUCCESS);
    let live = tracked(&adapter, SEG_4K, &[(0, PAGE)]);
    let mut handles = forged_handles();
    handles.extend([stale, foreign]);
    for h in handles {
        assert_eq!(
            adapter.destroy_memory_basis(h),
            STATUS_INVALID_HANDLE,
            "{h:?}"
        );
        assert_eq!(
            adapter.start_dirty_tracking(h),
            STATUS_INVALID_HANDLE,
            "{h:?}"
        );
        assert_eq!(
            adapter.stop_dirty_tracking(h),
            STATUS_INVALID_HANDLE,
            "{h:?}"
        );
        let mut buf = [0xAAu8; 4];
        assert_eq!(
            adapter.query_dirty_bits(h, None, true, &mut buf),
            STATUS_INVALID_HANDLE,
            "{h:?}"
        );
        assert_eq!(buf, [0xAA; 4]);
    }
    // Nothing above disturbed the live bases.
    assert_eq!(adapter.stop_dirty_tracking(live), STATUS_SUCCESS);
    assert_eq!(other_adapter.destroy_memory_basis(foreign), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(live), STATUS_SUCCESS);
}

#[test]
fn unknown_or_null_adapters_are_invalid_parameters_and_create_returns_null() {
    let (driver, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, PAGE)]);
    let t = driver.table();
    let block = create_args(SEG_4K, &[(PAGE, PAGE)]);
    let mut buf = [0u8; 1];
    let mut args = DXGKARG_QUERYDIRTYBITDATA::zeroed();
    args.MemoryBasis = basis.0;
    args.Buffer = buf.as_mut_ptr().cast();
    args.BufferSize = 1;
    for bad in [
        core::ptr::null_mut(),
        core::ptr::without_provenance_mut(0x4750_0001_0000_FFFF),
        core::ptr::without_provenance_mut(77),
    ] {
        unsafe {
            assert!(t.DxgkDdiCreateMemoryBasis.unwrap()(bad, block.as_ptr().cast()).is_null());
            assert_eq!(
                t.DxgkDdiDestroyMemoryBasis.unwrap()(bad, basis.0),
                STATUS_INVALID_PARAMETER
            );
            assert_eq!(
                t.DxgkDdiStartDirtyTracking.unwrap()(bad, basis.0),
                STATUS_INVALID_PARAMETER
            );
            assert_eq!(
                t.DxgkDdiStopDirtyTracking.unwrap()(bad, basis.0),
                STATUS_INVALID_PARAMETER
            );
            assert_eq!(
                t.DxgkDdiQueryDirtyBitData.unwrap()(bad, &raw mut args),
                STATUS_INVALID_PARAMETER
            );
            assert_eq!(
                gpup_miniport::host::gpup_sw_mark_dirty(bad, SEG_4K, 0, PAGE),
                STATUS_INVALID_PARAMETER
            );
        }
    }
    // The basis is still tracked and intact.
    assert_eq!(adapter.stop_dirty_tracking(basis), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn a_stopped_adapter_has_no_bases() {
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    assert!(
        adapter.create_memory_basis(VRAM, &[(0, PAGE)]).is_none(),
        "before start"
    );
    adapter.start().unwrap();
    let basis = tracked(&adapter, VRAM, &[(0, PAGE)]);
    adapter.stop().unwrap();
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_INVALID_HANDLE);
    assert_eq!(adapter.mark_dirty(VRAM, 0, PAGE), STATUS_INVALID_PARAMETER);
    adapter.start().unwrap();
    assert_eq!(
        adapter.destroy_memory_basis(basis),
        STATUS_INVALID_HANDLE,
        "a restart does not revive it"
    );
}

#[test]
fn query_on_an_untracked_basis_is_an_invalid_device_state_and_leaves_the_buffer() {
    let (_d, adapter) = started();
    let basis = adapter
        .create_memory_basis(SEG_4K, &[(0, 8 * PAGE)])
        .unwrap();
    for clear in [false, true] {
        let mut buf = [0xAAu8; 2];
        assert_eq!(
            adapter.query_dirty_bits(basis, None, clear, &mut buf),
            STATUS_INVALID_DEVICE_STATE
        );
        assert_eq!(buf, [0xAA; 2]);
    }
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn query_rejects_bad_subranges_without_clearing_anything() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 8 * PAGE), (100 * PAGE, 16 * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, 0, 8 * PAGE), STATUS_SUCCESS);
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 100 * PAGE, 16 * PAGE),
        STATUS_SUCCESS
    );
    let bad = [
        ("index out of range", (2, 0, PAGE)),
        ("huge index", (u64::MAX, 0, PAGE)),
        ("offset not a page multiple", (1, 100, PAGE)),
        ("size not a page multiple", (1, 0, PAGE + 1)),
        ("span past the range", (1, 8 * PAGE, 9 * PAGE)),
        ("span past the range (first range)", (0, 0, 9 * PAGE)),
        ("offset past the range", (0, 8 * PAGE, PAGE)),
        (
            "offset + size overflows",
            (1, u64::MAX - PAGE + 1, 2 * PAGE),
        ),
    ];
    for (what, subrange) in bad {
        let mut buf = [0xAAu8; 8];
        assert_eq!(
            adapter.query_dirty_bits(basis, Some(subrange), true, &mut buf),
            STATUS_INVALID_PARAMETER,
            "{what}"
        );
        assert_eq!(buf, [0xAA; 8], "{what}: buffer untouched");
    }
    assert_eq!(
        query_all(&adapter, basis, 24, false),
        vec![0xFF, 0xFF, 0xFF],
        "nothing was cleared"
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn query_rejects_a_null_or_short_buffer_without_clearing_anything() {
    let (_d, adapter) = started();
    let pages = 77u64; // 10 bytes, the last one partial
    let basis = tracked(&adapter, SEG_4K, &[(0, pages * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, 0, pages * PAGE), STATUS_SUCCESS);
    let mut args = DXGKARG_QUERYDIRTYBITDATA::zeroed();
    args.MemoryBasis = basis.0;
    args.Flags = 1;
    args.BufferSize = 64;
    assert_eq!(
        unsafe { adapter.query_dirty_bits_raw(&raw mut args) },
        STATUS_INVALID_PARAMETER,
        "NULL buffer"
    );
    let mut short = vec![0xAAu8; bytes_for(pages) - 1];
    assert_eq!(
        adapter.query_dirty_bits(basis, None, true, &mut short),
        STATUS_BUFFER_TOO_SMALL
    );
    assert!(short.iter().all(|b| *b == 0xAA));
    let mut empty: [u8; 0] = [];
    assert_eq!(
        adapter.query_dirty_bits(basis, None, true, &mut empty),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(
        adapter.query_dirty_bits(basis, Some((0, 8 * PAGE, 9 * PAGE)), true, &mut [0; 1]),
        STATUS_BUFFER_TOO_SMALL,
        "subrange of 9 pages needs 2 bytes"
    );
    // An exact buffer works, and reports every page.
    let all = query_all(&adapter, basis, pages, true);
    assert_eq!(set_bits(&all, pages).len(), 77);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn query_rejects_unknown_flag_bits() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 8 * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, 0, PAGE), STATUS_SUCCESS);
    for flags in [2u32, 3, 0x8000_0000, u32::MAX] {
        let mut buf = [0xAAu8; 1];
        let mut args = DXGKARG_QUERYDIRTYBITDATA::zeroed();
        args.MemoryBasis = basis.0;
        args.Buffer = buf.as_mut_ptr().cast();
        args.BufferSize = 1;
        args.Flags = flags;
        assert_eq!(
            unsafe { adapter.query_dirty_bits_raw(&raw mut args) },
            STATUS_INVALID_PARAMETER,
            "flags {flags:#x}"
        );
        assert_eq!(buf, [0xAA]);
    }
    assert_eq!(
        query_all(&adapter, basis, 8, true),
        vec![1],
        "the bit is still there"
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn bits_are_lsb_first_every_span_bit_is_written_and_nothing_past_it() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 20 * PAGE)]);
    for page in [0u64, 3, 8, 17, 19] {
        assert_eq!(
            adapter.mark_dirty(SEG_4K, page * PAGE + 7, 1),
            STATUS_SUCCESS
        );
    }
    let mut buf = [0xEEu8; 6];
    assert_eq!(
        adapter.query_dirty_bits(basis, None, false, &mut buf[..3]),
        STATUS_SUCCESS
    );
    assert_eq!(
        buf,
        [0b0000_1001, 0b0000_0001, 0b0000_1010, 0xEE, 0xEE, 0xEE]
    );
    // Clean pages are written as 0 even over a dirty buffer (the OS zeroes it,
    // but the driver does not rely on it).
    let mut buf = [0xFFu8; 3];
    assert_eq!(
        adapter.query_dirty_bits(basis, Some((0, 8 * PAGE, 10 * PAGE)), false, &mut buf),
        STATUS_SUCCESS
    );
    assert_eq!(
        buf,
        [0b0000_0001, 0b0000_0010, 0xFF],
        "pages 8..18 of the range: 8 and 17, then untouched"
    );
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn a_whole_basis_query_concatenates_ranges_in_their_given_order() {
    let (_d, adapter) = started();
    // Out of offset order, sizes that are not multiples of 8 or 64 pages.
    let ranges = [
        (500 * PAGE, 3 * PAGE),
        (10 * PAGE, 70 * PAGE),
        (200 * PAGE, 5 * PAGE),
    ];
    let basis = tracked(&adapter, SEG_4K, &ranges);
    for offset in [500 * PAGE, 502 * PAGE, 10 * PAGE, 79 * PAGE, 204 * PAGE] {
        assert_eq!(adapter.mark_dirty(SEG_4K, offset, 1), STATUS_SUCCESS);
    }
    let all = query_all(&adapter, basis, 78, false);
    // Range 0 -> bits 0..3, range 1 -> bits 3..73, range 2 -> bits 73..78.
    assert_eq!(set_bits(&all, 78), vec![0, 2, 3, 72, 77]);
    let mut one = [0u8; 1];
    assert_eq!(
        adapter.query_dirty_bits(basis, Some((2, 0, 5 * PAGE)), false, &mut one),
        STATUS_SUCCESS
    );
    assert_eq!(one, [0b1_0000]);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn clear_data_clears_exactly_the_reported_span() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(0, 100 * PAGE)]);
    assert_eq!(adapter.mark_dirty(SEG_4K, 0, 100 * PAGE), STATUS_SUCCESS);
    let mut span = [0u8; 2];
    assert_eq!(
        adapter.query_dirty_bits(basis, Some((0, 30 * PAGE, 13 * PAGE)), true, &mut span),
        STATUS_SUCCESS
    );
    assert_eq!(span, [0xFF, 0x1F]);
    let all = query_all(&adapter, basis, 100, false);
    let expected: Vec<u64> = (0..100).filter(|p| !(30..43).contains(p)).collect();
    assert_eq!(
        set_bits(&all, 100),
        expected,
        "only pages 30..43 were cleared"
    );
    // Without CLEARDATA nothing is cleared.
    assert_eq!(query_all(&adapter, basis, 100, false), all);
    let taken = query_all(&adapter, basis, 100, true);
    assert_eq!(taken, all);
    assert_eq!(query_all(&adapter, basis, 100, false), vec![0; 13]);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn overlapping_tracked_bases_are_independent() {
    let (_d, adapter) = started();
    let a = tracked(&adapter, SEG_4K, &[(0, 16 * PAGE)]);
    let b = tracked(&adapter, SEG_4K, &[(8 * PAGE, 16 * PAGE)]);
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 8 * PAGE, 8 * PAGE),
        STATUS_SUCCESS
    );
    assert_eq!(query_all(&adapter, a, 16, true), vec![0, 0xFF]);
    assert_eq!(
        query_all(&adapter, b, 16, false),
        vec![0xFF, 0],
        "clearing A left B's bits"
    );
    assert_eq!(query_all(&adapter, a, 16, false), vec![0, 0]);
    assert_eq!(adapter.destroy_memory_basis(a), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(b), STATUS_SUCCESS);
}

#[test]
fn stopping_one_request_keeps_every_other_one_tracked() {
    let (_d, adapter) = started();
    let a = tracked(&adapter, SEG_4K, &[(0, 1024 * PAGE)]);
    let b = tracked(&adapter, SEG_4K, &[(512 * PAGE, 8 * PAGE)]);
    assert_eq!(adapter.stop_dirty_tracking(b), STATUS_SUCCESS);
    assert_eq!(adapter.mark_dirty(SEG_4K, 515 * PAGE, 1), STATUS_SUCCESS);
    assert!(
        bit(&query_all(&adapter, a, 1024, true), 515),
        "A still tracks the shared unit"
    );
    assert_eq!(adapter.start_dirty_tracking(b), STATUS_SUCCESS);
    assert_eq!(
        query_all(&adapter, b, 8, false),
        vec![0],
        "a restart begins all clear"
    );
    assert_eq!(adapter.stop_dirty_tracking(a), STATUS_SUCCESS);
    assert_eq!(adapter.mark_dirty(SEG_4K, 513 * PAGE, 1), STATUS_SUCCESS);
    assert_eq!(
        query_all(&adapter, b, 8, true),
        vec![0b10],
        "B still tracked after A stopped"
    );
    assert_eq!(adapter.destroy_memory_basis(a), STATUS_SUCCESS);
    assert_eq!(adapter.destroy_memory_basis(b), STATUS_SUCCESS);
}

#[test]
fn start_begins_all_clear_and_marks_outside_tracking_are_no_ops() {
    let (_d, adapter) = started();
    let basis = adapter
        .create_memory_basis(SEG_4K, &[(0, 64 * PAGE)])
        .unwrap();
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 0, 64 * PAGE),
        STATUS_SUCCESS,
        "untracked: no-op"
    );
    assert_eq!(
        adapter.mark_dirty(SEG_UNTRACKED, 0, MIB),
        STATUS_SUCCESS,
        "untracked segment: no-op"
    );
    assert_eq!(adapter.start_dirty_tracking(basis), STATUS_SUCCESS);
    assert_eq!(query_all(&adapter, basis, 64, false), vec![0; 8]);
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 64 * PAGE, PAGE),
        STATUS_SUCCESS,
        "tracked segment, untracked page"
    );
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 0, 0),
        STATUS_SUCCESS,
        "zero length"
    );
    assert_eq!(query_all(&adapter, basis, 64, false), vec![0; 8]);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

#[test]
fn marks_outside_a_segment_are_invalid_and_mark_nothing() {
    let (_d, adapter) = started();
    let basis = tracked(&adapter, SEG_4K, &[(64 * MIB - 8 * PAGE, 8 * PAGE)]);
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 64 * MIB - PAGE, 2 * PAGE),
        STATUS_INVALID_PARAMETER,
        "crosses the end"
    );
    assert_eq!(
        adapter.mark_dirty(SEG_4K, u64::MAX, 2),
        STATUS_INVALID_PARAMETER,
        "overflows"
    );
    assert_eq!(
        adapter.mark_dirty(42, 0, 1),
        STATUS_INVALID_PARAMETER,
        "unknown segment"
    );
    assert_eq!(
        query_all(&adapter, basis, 8, false),
        vec![0],
        "nothing marked"
    );
    assert_eq!(
        adapter.mark_dirty(SEG_4K, 64 * MIB - PAGE, PAGE),
        STATUS_SUCCESS,
        "last page"
    );
    assert_eq!(query_all(&adapter, basis, 8, false), vec![0x80]);
    assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
}

/// A reference model of one basis: a set of dirty pages per range.
struct ModelBasis {
    /// (segment page of the range start, pages)
    ranges: Vec<(u64, u64)>,
    dirty: Vec<Vec<bool>>,
}

impl ModelBasis {
    fn mark(&mut self, first_page: u64, last_page: u64) {
        for (r, (start, pages)) in self.ranges.iter().enumerate() {
            for p in first_page.max(*start)..=last_page.min(start + pages - 1) {
                if p >= *start && p < start + pages {
                    self.dirty[r][usize::try_from(p - start).unwrap()] = true;
                }
            }
        }
    }

    fn expected(&self, span: Option<(usize, u64, u64)>) -> Vec<bool> {
        match span {
            None => self.dirty.iter().flatten().copied().collect(),
            Some((r, first, count)) => {
                let first = usize::try_from(first).unwrap();
                self.dirty[r][first..first + usize::try_from(count).unwrap()].to_vec()
            }
        }
    }

    fn clear(&mut self, span: Option<(usize, u64, u64)>) {
        match span {
            None => self.dirty.iter_mut().flatten().for_each(|b| *b = false),
            Some((r, first, count)) => {
                let first = usize::try_from(first).unwrap();
                self.dirty[r][first..first + usize::try_from(count).unwrap()]
                    .iter_mut()
                    .for_each(|b| *b = false);
            }
        }
    }
}

#[test]
fn random_marks_and_queries_match_a_reference_model_at_every_page_size_from_4k_to_2m() {
    let mut rng = XorShift64Star::from_state(0x5EED_0FD1_B7E5);
    for shift in 12..=21u32 {
        let page = 1u64 << shift;
        let pages_in_segment = 4096u64;
        let config = AdapterConfig::single(pages_in_segment * page, u32::try_from(page).unwrap());
        let (_d, adapter) = started_with(&config);
        // 1-4 disjoint ranges, given out of order, sizes not multiples of 64 pages.
        let count = 1 + rng.below_mod(4);
        let mut starts: Vec<u64> = (0..count).map(|i| i * 1000 + rng.below_mod(300)).collect();
        starts.reverse();
        let ranges: Vec<(u64, u64)> = starts
            .iter()
            .map(|s| (*s, 1 + rng.below_mod(600)))
            .collect();
        let byte_ranges: Vec<(u64, u64)> =
            ranges.iter().map(|(s, n)| (s * page, n * page)).collect();
        let basis = tracked(&adapter, VRAM, &byte_ranges);
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        let mut model = ModelBasis {
            ranges: ranges.clone(),
            dirty: ranges
                .iter()
                .map(|r| vec![false; usize::try_from(r.1).unwrap()])
                .collect(),
        };
        for _ in 0..300 {
            // A write anywhere in the segment, up to 3 pages long, at byte granularity.
            let offset = rng.below_mod(pages_in_segment * page - 3 * page);
            let len = 1 + rng.below_mod(3 * page);
            assert_eq!(adapter.mark_dirty(VRAM, offset, len), STATUS_SUCCESS);
            model.mark(offset >> shift, (offset + len - 1) >> shift);
            if rng.below_mod(4) == 0 {
                let clear = rng.below_mod(2) == 0;
                let span = if rng.below_mod(2) == 0 {
                    None
                } else {
                    let r = usize::try_from(rng.below_mod(count)).unwrap();
                    let first = rng.below_mod(ranges[r].1);
                    let n = 1 + rng.below_mod(ranges[r].1 - first);
                    Some((r, first, n))
                };
                let pages = span.map_or(total, |s| s.2);
                // Exactly sized buffer; one byte short must be refused.
                let mut buf = vec![0xA5u8; bytes_for(pages)];
                let subrange = span.map(|(r, first, n)| (r as u64, first * page, n * page));
                if !buf.is_empty() {
                    let short = buf.len() - 1;
                    assert_eq!(
                        adapter.query_dirty_bits(basis, subrange, clear, &mut buf[..short]),
                        STATUS_BUFFER_TOO_SMALL
                    );
                }
                assert_eq!(
                    adapter.query_dirty_bits(basis, subrange, clear, &mut buf),
                    STATUS_SUCCESS
                );
                let want = model.expected(span);
                let got: Vec<bool> = (0..pages).map(|n| bit(&buf, n)).collect();
                assert_eq!(got, want, "page size {page}, span {span:?}");
                for n in pages..u64::try_from(buf.len()).unwrap() * 8 {
                    assert!(!bit(&buf, n), "padding bit {n} of the last byte is 0");
                }
                if clear {
                    model.clear(span);
                }
            }
        }
        assert_eq!(adapter.destroy_memory_basis(basis), STATUS_SUCCESS);
    }
}
