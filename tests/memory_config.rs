//! The dirty-bit tracking caps (QueryAdapterInfo) and the host memory
//! configuration the model's adapter is started with: what
//! `tests/memory_basis.rs` builds on. Segment 1 is always the driver's paging
//! aperture; a configuration gives the VRAM segments, ids 2, 3, ... in order.

// These tests call DDIs through raw function pointers with deliberately bad
// arguments: the soundness of each call is the driver contract under test.
#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod common;

use common::*;
use dxgk_sys::*;
use dxgkrnl_model::{AdapterConfig, MemorySegment};

#[test]
fn dirty_bit_tracking_caps_and_segment_caps() {
    let (_d, adapter) = started();
    let caps: DXGK_DIRTY_BIT_TRACKING_CAPS = adapter
        .query_adapter_info(DXGKQAITYPE_DIRTYBITTRACKINGCAPS, &[])
        .unwrap();
    assert_eq!(
        caps.Value,
        DirtyBitTrackingCaps::DirtyBitTrackingSupported
            | DirtyBitTrackingCaps::DirtyBitTrackingPerformant
    );
    let page = |segment: u32| {
        adapter.query_adapter_info::<DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS>(
            DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS,
            &segment.to_le_bytes(),
        )
    };
    assert_eq!(page(SEG_4K).unwrap().PageSize, 4096);
    assert_eq!(page(SEG_64K).unwrap().PageSize, 65536);
    assert_eq!(page(SEG_UNTRACKED).err(), Some(STATUS_NOT_IMPLEMENTED));
    // The aperture is never tracked: "not tracked", which VidMm accepts.
    assert_eq!(page(APERTURE).err(), Some(STATUS_NOT_IMPLEMENTED));
    assert_eq!(page(5).err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(page(0).err(), Some(STATUS_INVALID_PARAMETER));
    // The model read the same at start, as Dxgkrnl does, for every segment
    // QUERYSEGMENT4 described: the aperture (1) untracked.
    assert_eq!(
        adapter.caps().segment_page_sizes,
        vec![(1, None), (2, Some(4096)), (3, Some(65536)), (4, None)]
    );
    let mut out = [0u8; 4];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, &[], &mut out),
        STATUS_INVALID_PARAMETER,
        "no input"
    );
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, &[2, 0], &mut out),
        STATUS_INVALID_PARAMETER,
        "short input"
    );
    let mut short = [0xAAu8; 3];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGCAPS, &[], &mut short),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(short, [0xAA; 3]);
}

/// A segment of `size` bytes at `page_size`.
fn seg(id: u32, size: u64, page_size: u32) -> MemorySegment {
    MemorySegment {
        id,
        size,
        page_size,
    }
}

/// Host memory configurations that `configure` must refuse with
/// `STATUS_INVALID_PARAMETER`, each named.
fn invalid_configs() -> Vec<(&'static str, AdapterConfig)> {
    let config = |segments: Vec<MemorySegment>, max_bases: u32| AdapterConfig {
        segments,
        max_bases,
        partitions: None,
    };
    vec![
        ("no segments", config(vec![], 8)),
        ("page size 2048", config(vec![seg(2, MIB, 2048)], 8)),
        (
            "page size not a power of two",
            config(vec![seg(2, MIB, 12288)], 8),
        ),
        (
            "size not whole pages",
            config(vec![seg(2, MIB + 4096, 65536)], 8),
        ),
        ("size 0", config(vec![seg(2, 0, 0)], 8)),
        ("size above 2^48", config(vec![seg(2, 1 << 49, 0)], 8)),
        (
            "duplicate id",
            config(vec![seg(2, MIB, 4096), seg(2, MIB, 4096)], 8),
        ),
        ("id 0", config(vec![seg(0, MIB, 4096)], 8)),
        ("first id 3", config(vec![seg(3, MIB, 4096)], 8)),
        (
            "a gap in the ids",
            config(vec![seg(2, MIB, 4096), seg(4, MIB, 4096)], 8),
        ),
        (
            "ids out of order",
            config(vec![seg(3, MIB, 4096), seg(2, MIB, 4096)], 8),
        ),
        ("no bases", config(vec![seg(2, MIB, 4096)], 0)),
        ("too many bases", config(vec![seg(2, MIB, 4096)], 5000)),
        (
            "nine segments",
            config((2..=10).map(|i| seg(i, MIB, 4096)).collect(), 8),
        ),
    ]
}

/// Configurations naming segment 1, the driver's aperture: refused with
/// `STATUS_ALREADY_REGISTERED`, distinct from the other refusals.
fn aperture_configs() -> Vec<(&'static str, AdapterConfig)> {
    let config = |segments: Vec<MemorySegment>| AdapterConfig {
        segments,
        max_bases: 8,
        partitions: None,
    };
    vec![
        ("id 1 alone", config(vec![seg(1, MIB, 4096)])),
        ("id 1 untracked", config(vec![seg(1, MIB, 0)])),
        (
            "id 1 after id 2",
            config(vec![seg(2, MIB, 4096), seg(1, MIB, 4096)]),
        ),
    ]
}

/// The segment count QUERYSEGMENTCOUNT answers: what the adapter holds.
fn segment_count(adapter: &dxgkrnl_model::Adapter) -> u16 {
    let out: DXGK_QUERYSEGMENTCOUNTOUT = adapter
        .query_adapter_info(DXGKQAITYPE_QUERYSEGMENTCOUNT, &[0; 8])
        .unwrap();
    out.SegmentCount
}

#[test]
fn the_host_memory_configuration_is_validated_and_only_before_start() {
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    for (what, config) in invalid_configs() {
        assert_eq!(
            adapter.configure(&config),
            Err(STATUS_INVALID_PARAMETER),
            "{what}"
        );
    }
    for (what, config) in aperture_configs() {
        assert_eq!(
            adapter.configure(&config),
            Err(STATUS_ALREADY_REGISTERED),
            "{what}"
        );
    }
    // Eight VRAM segments is the most; untracked VRAM stays possible.
    let mut eight = AdapterConfig {
        segments: (2..=9).map(|i| seg(i, MIB, 4096)).collect(),
        max_bases: 8,
        partitions: None,
    };
    eight.segments[7].page_size = 0;
    let mut most = driver.add_device().unwrap();
    most.configure(&eight).unwrap();
    most.start().unwrap();
    assert_eq!(
        segment_count(&most),
        9,
        "the aperture and eight VRAM segments"
    );
    // Nothing a refused configuration said was kept: the adapter starts
    // with the last valid one.
    adapter
        .configure(&AdapterConfig::single(2 * MIB, 2 * MIB as u32))
        .unwrap();
    assert_eq!(
        adapter.configure(&AdapterConfig {
            segments: vec![seg(2, MIB, 4096), seg(3, MIB, 4096), seg(1, MIB, 4096)],
            max_bases: 8,
            partitions: None,
        }),
        Err(STATUS_ALREADY_REGISTERED)
    );
    adapter.start().unwrap();
    assert_eq!(segment_count(&adapter), 2);
    assert_eq!(
        adapter.configure(&AdapterConfig::single(MIB, 4096)),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert_eq!(
        adapter.caps().segment_page_sizes,
        vec![(1, None), (2, Some(2 * 1024 * 1024))]
    );
    // The built-in configuration when none is given: one tracked 1 GiB VRAM
    // segment, id 2, behind the aperture.
    let mut plain = driver.add_device().unwrap();
    plain.start().unwrap();
    assert_eq!(
        plain.caps().segment_page_sizes,
        vec![(1, None), (2, Some(4096))]
    );
    assert_eq!(segment_count(&plain), 2);
}

/// The record of the first revision: no `Size`, `SegmentCount` first.
#[repr(C)]
#[derive(Clone, Copy)]
struct OldMemoryConfig {
    segment_count: u32,
    max_memory_bases: u32,
    segments: [gpup_miniport::host::GPUP_SEGMENT_CONFIG; 8],
}

#[test]
fn a_record_of_another_revision_is_refused_before_it_is_read() {
    use gpup_miniport::host::{
        GPUP_MEMORY_CONFIG, GPUP_MEMORY_CONFIG_SIZE, GPUP_SEGMENT_CONFIG,
        gpup_host_set_memory_config,
    };
    assert_eq!(GPUP_MEMORY_CONFIG_SIZE, 144);
    assert_eq!(size_of::<GPUP_MEMORY_CONFIG>(), 144);
    assert_eq!(GPUP_MEMORY_CONFIG::default().Size, 144);
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let mut adapter = driver.add_device().unwrap();
    // An old loader's valid configuration (one 2 MiB segment, id 1 then):
    // its first word is a segment count, 1, not a size.
    let mut old = OldMemoryConfig {
        segment_count: 1,
        max_memory_bases: 8,
        segments: [GPUP_SEGMENT_CONFIG::default(); 8],
    };
    old.segments[0] = GPUP_SEGMENT_CONFIG {
        SegmentId: 1,
        PageSize: 4096,
        SizeInBytes: 2 * MIB,
    };
    let status = unsafe {
        gpup_host_set_memory_config(
            adapter.context(),
            (&raw const old).cast::<GPUP_MEMORY_CONFIG>(),
        )
    };
    assert_eq!(status, STATUS_REVISION_MISMATCH);
    // Only the first 4 bytes are read: a record that ends right after them
    // is refused the same way (Miri or ASan would flag a longer read).
    let four = Box::new(8u32);
    let status = unsafe {
        gpup_host_set_memory_config(
            adapter.context(),
            (&raw const *four).cast::<GPUP_MEMORY_CONFIG>(),
        )
    };
    assert_eq!(status, STATUS_REVISION_MISMATCH);
    // A Size off by one either way, and 0.
    for size in [0, GPUP_MEMORY_CONFIG_SIZE - 1, GPUP_MEMORY_CONFIG_SIZE + 8] {
        let mut record = GPUP_MEMORY_CONFIG {
            SegmentCount: 1,
            MaxMemoryBases: 8,
            ..GPUP_MEMORY_CONFIG::default()
        };
        record.Segments[0] = GPUP_SEGMENT_CONFIG {
            SegmentId: 2,
            PageSize: 4096,
            SizeInBytes: 2 * MIB,
        };
        record.Size = size;
        let status = unsafe { gpup_host_set_memory_config(adapter.context(), &raw const record) };
        assert_eq!(status, STATUS_REVISION_MISMATCH, "Size {size}");
    }
    let null = unsafe { gpup_host_set_memory_config(adapter.context(), core::ptr::null()) };
    assert_eq!(null, STATUS_INVALID_PARAMETER);
    // Nothing was taken: the adapter starts with the built-in configuration.
    adapter.start().unwrap();
    assert_eq!(
        adapter.caps().segment_page_sizes,
        vec![(1, None), (2, Some(4096))]
    );
    let seg_caps: DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS = adapter
        .query_adapter_info(DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, &2u32.to_le_bytes())
        .unwrap();
    assert_eq!(seg_caps.PageSize, 4096);
}
