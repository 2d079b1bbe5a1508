//! The dirty-bit tracking caps (QueryAdapterInfo) and the host memory
//! configuration the model's adapter is started with: what
//! `tests/memory_basis.rs` builds on.

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
    assert_eq!(page(7).err(), Some(STATUS_INVALID_PARAMETER));
    // The model read the same at start, as Dxgkrnl does.
    assert_eq!(
        adapter.caps().segment_page_sizes,
        vec![(1, Some(4096)), (2, Some(65536)), (3, None)]
    );
    let mut out = [0u8; 4];
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, &[], &mut out),
        STATUS_INVALID_PARAMETER,
        "no input"
    );
    assert_eq!(
        adapter.query_adapter_info_raw(DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS, &[1, 0], &mut out),
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

/// Host memory configurations that `configure` must refuse, each named.
fn invalid_configs() -> [(&'static str, AdapterConfig); 9] {
    [
        (
            "no segments",
            AdapterConfig {
                segments: vec![],
                max_bases: 8,
                partitions: None,
            },
        ),
        (
            "page size 2048",
            AdapterConfig {
                segments: vec![seg(1, MIB, 2048)],
                max_bases: 8,
                partitions: None,
            },
        ),
        (
            "page size not a power of two",
            AdapterConfig {
                segments: vec![seg(1, MIB, 12288)],
                max_bases: 8,
                partitions: None,
            },
        ),
        (
            "size not whole pages",
            AdapterConfig {
                segments: vec![seg(1, MIB + 4096, 65536)],
                max_bases: 8,
                partitions: None,
            },
        ),
        (
            "duplicate id",
            AdapterConfig {
                segments: vec![seg(1, MIB, 4096), seg(1, MIB, 4096)],
                max_bases: 8,
                partitions: None,
            },
        ),
        (
            "id 0",
            AdapterConfig {
                segments: vec![seg(0, MIB, 4096)],
                max_bases: 8,
                partitions: None,
            },
        ),
        (
            "no bases",
            AdapterConfig {
                segments: vec![seg(1, MIB, 4096)],
                max_bases: 0,
                partitions: None,
            },
        ),
        (
            "too many bases",
            AdapterConfig {
                segments: vec![seg(1, MIB, 4096)],
                max_bases: 5000,
                partitions: None,
            },
        ),
        (
            "nine segments",
            AdapterConfig {
                segments: (1..=9).map(|i| seg(i, MIB, 4096)).collect(),
                max_bases: 8,
                partitions: None,
            },
        ),
    ]
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
    adapter
        .configure(&AdapterConfig::single(2 * MIB, 2 * MIB as u32))
        .unwrap();
    adapter.start().unwrap();
    assert_eq!(
        adapter.configure(&AdapterConfig::single(MIB, 4096)),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert_eq!(
        adapter.caps().segment_page_sizes,
        vec![(1, Some(2 * 1024 * 1024))]
    );
    // The built-in configuration when none is given.
    let mut plain = driver.add_device().unwrap();
    plain.start().unwrap();
    assert_eq!(plain.caps().segment_page_sizes, vec![(1, Some(4096))]);
}
