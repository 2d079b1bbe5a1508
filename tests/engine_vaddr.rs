//! The engine executes the VIRTUAL paging operations (issue 17 item 1;
//! docs/engine.md, "Virtual addresses"): the stand-in's paging queue gives
//! the paging context a root page table (SetRootPageTable), maps pages of a
//! VRAM allocation and a system page with UPDATE_PAGE_TABLE, then runs
//! VIRTUAL_FILL and VIRTUAL_TRANSFER through those mappings. The bytes land
//! where the entries say, exactly the VRAM pages written are reported dirty,
//! an unmapped VA, a VA past the root or a context without a root faults
//! the buffer (its fence never completes; the earlier ones did, in order),
//! and an engine that ignores the leaf index is caught. A monitored fence at
//! a GPU VA is written through the same tables (O-ENG-2), and an engine
//! that skips the walk for it is caught.

mod common;

use std::time::Duration;

use common::*;
use dxgkrnl_model::paging::{PagingError, PagingQueue, SystemPages};
use dxgkrnl_model::render::PlacedAllocation;
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, MemorySegment};
use gpup_miniport::ddi::engine::host as engine;
use gpup_miniport::engine::Broken;
use gpup_miniport::engine::vaddr::pte;

const VRAM: u32 = 2;
const PAGE: u64 = 4096;
/// The mapped range starts at root entry 1 (VA bits 21..30 = 1).
const BASE: u64 = 2 * MIB;
/// Entries of the paging process's root table.
const ROOT_ENTRIES: u32 = 4;
/// VA page `i` of [`BASE`] maps page `MAP[i]` of the VRAM allocation (not
/// in order, so a walk that ignores the leaf index lands elsewhere); VA
/// page 3 maps the system page; VA page 4 is invalid.
const MAP: [u64; 3] = [5, 2, 9];
const PATTERN: u32 = 0xA1B2_C3D4;

/// System pages of the fixture: the root, the leaf, the mapped system page.
const ROOT: usize = 0;
const LEAF: usize = 1;
const SYSTEM: usize = 2;

fn adapter(driver: &Driver) -> Adapter {
    let config = AdapterConfig {
        segments: vec![MemorySegment {
            id: VRAM,
            size: 64 * MIB,
            page_size: 4096,
        }],
        max_bases: 64,
        partitions: None,
    };
    driver.start_adapter(&config).expect("adapter starts")
}

fn allocation(a: &Adapter) -> PlacedAllocation {
    let p = a
        .create_allocation(&gpup_miniport::render::allocation::AllocationData {
            kind: gpup_miniport::render::allocation::AllocationKind::Vram,
            alignment: 0,
            size: MIB,
        })
        .unwrap();
    assert_eq!(p.pinned.segment, VRAM);
    assert!(p.pinned.offset + MIB <= 4 * MIB);
    p
}

fn read_vram(a: &Adapter, offset: u64, len: usize) -> Vec<u8> {
    let vram = gpup_miniport::host::vram(a.context(), VRAM).expect("VRAM backing");
    let mut out = vec![0u8; len];
    vram.read_bytes(offset, &mut out).unwrap();
    out
}

/// The VRAM pages (of the first 4 MiB) reported dirty, clearing them.
fn dirty_pages(a: &Adapter, basis: dxgkrnl_model::BasisHandle) -> Vec<u64> {
    let pages = 4 * MIB / PAGE;
    let bits = query_all(a, basis, pages, true);
    (0..pages)
        .filter(|&p| bits[(p / 8) as usize] & (1 << (p % 8)) != 0)
        .collect()
}

/// The `DXGK_PTE` (flags, page address) of a valid page in `segment` at `address`.
fn dxgk_pte(segment: u32, address: u64) -> (u64, u64) {
    (
        pte::VALID | (u64::from(segment) << pte::SEGMENT_SHIFT),
        address >> 12,
    )
}

/// Gives the paging context its root and maps the fixture's pages through
/// UPDATE_PAGE_TABLE: root entry 1 -> the leaf; leaf entries 0-2 -> VRAM
/// pages `MAP` of `x`, entry 3 -> the system page.
fn map(q: &mut PagingQueue<'_>, tables: &SystemPages, x: &PlacedAllocation) {
    q.set_root_page_table(tables.address(ROOT), ROOT_ENTRIES);
    q.update_page_table(
        tables.address(ROOT),
        1,
        &[dxgk_pte(0, tables.address(LEAF))],
        None,
    )
    .unwrap();
    let mut leaf: Vec<(u64, u64)> = MAP
        .iter()
        .map(|&p| dxgk_pte(VRAM, x.pinned.offset + p * PAGE))
        .collect();
    leaf.push(dxgk_pte(0, tables.address(SYSTEM)));
    q.update_page_table(tables.address(LEAF), 0, &leaf, None)
        .unwrap();
}

/// Whether the bytes of a VIRTUAL_FILL of VA pages 0-2 and the first 256
/// bytes of VA page 3 are where the entries say: VRAM pages `MAP` of `x`
/// full of the pattern, every other page of `x` untouched, the system
/// page's first 256 bytes filled and no more.
fn fill_landed(a: &Adapter, x: &PlacedAllocation, tables: &SystemPages) -> Result<(), String> {
    let full = PATTERN.to_le_bytes().repeat(1024);
    for page in 0..16u64 {
        let got = read_vram(a, x.pinned.offset + page * PAGE, PAGE as usize);
        let want_full = MAP.contains(&page);
        if (want_full && got != full) || (!want_full && got.iter().any(|&b| b != 0)) {
            return Err(format!("VRAM page {page} of the allocation is wrong"));
        }
    }
    let system = tables.page(SYSTEM);
    if system[..256] != full[..256] || system[256..].iter().any(|&b| b != 0) {
        return Err("the system page is wrong".into());
    }
    Ok(())
}

#[test]
fn update_page_table_stores_the_entries_into_the_table_it_names() {
    let driver = Driver::load().unwrap();
    let a = adapter(&driver);
    let x = allocation(&a);
    let tables = SystemPages::new(3);
    let mut q = a.paging_queue().unwrap();
    map(&mut q, &tables, &x);
    let entry = |(f, p): (u64, u64)| pte::from_dxgk(f, p);
    assert_eq!(
        tables.entry(ROOT, 1),
        entry(dxgk_pte(0, tables.address(LEAF)))
    );
    assert_eq!(tables.entry(ROOT, 0), 0, "only the entry named");
    assert_eq!(tables.entry(ROOT, 2), 0);
    for (i, &p) in MAP.iter().enumerate() {
        assert_eq!(
            tables.entry(LEAF, i),
            entry(dxgk_pte(VRAM, x.pinned.offset + p * PAGE))
        );
    }
    // Flags.Repeat: one entry stored into 6 (two commands of at most 4).
    let fences = q
        .update_page_table(tables.address(LEAF), 100, &[(pte::VALID, 0x77)], Some(6))
        .unwrap();
    assert_eq!(fences.len(), 1);
    for i in 100..106 {
        assert_eq!(tables.entry(LEAF, i), entry((pte::VALID, 0x77)));
    }
    assert_eq!(tables.entry(LEAF, 106), 0);
    // Multipass: 12 entries are 3 commands; buffers of 2 commands take two
    // fences, the second continuing from MultipassOffset with entry 8.
    q.set_dma_buffer_bytes(128);
    let many: Vec<(u64, u64)> = (0..12).map(|i| (pte::VALID, 0x1000 + i)).collect();
    let fences = q
        .update_page_table(tables.address(LEAF), 200, &many, None)
        .unwrap();
    assert_eq!(fences, [4, 5]);
    for (i, &e) in many.iter().enumerate() {
        assert_eq!(tables.entry(LEAF, 200 + i), entry(e), "entry {i}");
    }
    assert_eq!(tables.entry(LEAF, 212), 0);
    let c = a.completions();
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(
        c.completed.iter().map(|x| x.1).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn virtual_fill_and_transfer_land_where_the_ptes_say_and_mark_exactly_those_pages() {
    let driver = Driver::load().unwrap();
    let a = adapter(&driver);
    let x = allocation(&a);
    let x0 = x.pinned.offset / PAGE;
    let mut tables = SystemPages::new(3);
    let basis = tracked(&a, VRAM, &[(0, 4 * MIB)]);
    let mut q = a.paging_queue().unwrap();
    map(&mut q, &tables, &x);
    assert_eq!(
        dirty_pages(&a, basis),
        Vec::<u64>::new(),
        "tables are not VRAM"
    );

    q.virtual_fill(BASE, 3 * PAGE + 256, PATTERN).unwrap();
    assert_eq!(fill_landed(&a, &x, &tables), Ok(()));
    let mut want: Vec<u64> = MAP.iter().map(|p| x0 + p).collect();
    want.sort_unstable();
    assert_eq!(dirty_pages(&a, basis), want);

    // System page -> VRAM, across two VA pages: from byte 100 of VA page 3
    // to byte 2048 of VA page 0 (VRAM page 5) and on into VA page 1 (VRAM
    // page 2).
    let src: Vec<u8> = (0..PAGE as u32).map(|i| (i * 7 + 1) as u8).collect();
    tables.page_mut(SYSTEM).copy_from_slice(&src);
    q.virtual_transfer(BASE + 3 * PAGE + 100, BASE + 2048, PAGE - 100)
        .unwrap();
    let page5 = read_vram(&a, x.pinned.offset + 5 * PAGE, PAGE as usize);
    let page2 = read_vram(&a, x.pinned.offset + 2 * PAGE, PAGE as usize);
    assert_eq!(page5[2048..], src[100..2148]);
    assert_eq!(page5[..2048], PATTERN.to_le_bytes().repeat(512)[..]);
    assert_eq!(page2[..1948], src[2148..]);
    assert_eq!(page2[1948..], PATTERN.to_le_bytes().repeat(1024)[1948..]);
    assert_eq!(dirty_pages(&a, basis), [x0 + 2, x0 + 5]);

    // VRAM (VA page 2, VRAM page 9) -> the system page: no VRAM written.
    q.virtual_transfer(BASE + 2 * PAGE, BASE + 3 * PAGE, PAGE)
        .unwrap();
    assert_eq!(tables.page(SYSTEM), PATTERN.to_le_bytes().repeat(1024));
    assert_eq!(dirty_pages(&a, basis), Vec::<u64>::new());

    let c = a.completions();
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let fences: Vec<u32> = c.completed.iter().map(|x| x.1).collect();
    assert_eq!(fences, (1..=5).collect::<Vec<_>>());
    assert_eq!(c.delivered, c.completed);
}

/// The broken variant: a walk that ignores the leaf index puts every page
/// of the fill on the leaf's first entry, and the placement check fails.
#[test]
fn a_translation_that_ignores_the_leaf_index_is_caught() {
    let driver = Driver::load().unwrap();
    let a = adapter(&driver);
    let x = allocation(&a);
    let tables = SystemPages::new(3);
    let mut q = a.paging_queue().unwrap();
    map(&mut q, &tables, &x);
    engine::set_broken(a.context(), Broken::IgnoresLeafIndex).unwrap();
    q.virtual_fill(BASE, 3 * PAGE + 256, PATTERN).unwrap();
    let caught = fill_landed(&a, &x, &tables);
    assert!(caught.is_err(), "the broken walk went unnoticed");
}

/// Runs `op` on a fresh adapter whose fixture is mapped (or, with `root`
/// false, whose paging context never got a root): the operation must fail
/// with its fence never completed, the engine faulted, the earlier fences
/// completed in order and no VRAM of the allocation written.
fn assert_faults(
    root: bool,
    op: impl FnOnce(&mut PagingQueue<'_>) -> Result<Vec<u32>, PagingError>,
) {
    let driver = Driver::load().unwrap();
    let a = adapter(&driver);
    let x = allocation(&a);
    let tables = SystemPages::new(3);
    let mut q = a.paging_queue().unwrap();
    q.set_timeout(Duration::from_millis(300));
    if root {
        map(&mut q, &tables, &x);
    }
    let before = q.next_fence();
    assert_eq!(op(&mut q), Err(PagingError::NeverCompleted(before)));
    let state = engine::state(a.context()).unwrap();
    assert!(state.faulted, "the engine reports itself hung");
    assert_eq!(state.last_completed, before - 1);
    let c = a.completions();
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let fences: Vec<u32> = c.completed.iter().map(|x| x.1).collect();
    assert_eq!(fences, (1..before).collect::<Vec<_>>());
    assert!(
        read_vram(&a, x.pinned.offset, MIB as usize)
            .iter()
            .all(|&b| b == 0)
    );
}

#[test]
fn an_unmapped_va_faults_the_buffer() {
    // VA page 4: its leaf entry is not valid.
    assert_faults(true, |q| q.virtual_fill(BASE + 4 * PAGE, 16, 1));
    // A transfer whose source is mapped but whose destination is not.
    assert_faults(true, |q| q.virtual_transfer(BASE, BASE + 4 * PAGE, 16));
    // Root entry 0 is not valid.
    assert_faults(true, |q| q.virtual_fill(0, 16, 1));
    // A fence at an unmapped GPU VA: the direct path has no host address
    // for a VA inside the GPU's address space.
    assert_faults(true, |q| q.signal_monitored_fence(BASE + 4 * PAGE, 1));
}

#[test]
fn a_va_past_the_root_or_without_a_root_faults_the_buffer() {
    let past_root = u64::from(ROOT_ENTRIES) * BASE;
    assert_faults(true, |q| q.virtual_fill(past_root, 16, 1));
    assert_faults(true, |q| q.virtual_fill(1 << 30, 16, 1));
    assert_faults(false, |q| q.virtual_fill(BASE, 16, 1));
}

const FENCE_VALUE: u64 = 0x1122_3344_5566_7788;

/// SIGNAL_MONITORED_FENCE at real GPU VAs (O-ENG-2): the paging process's
/// tables map the fence's page (VA page 3: the system page; VA page 1: VRAM
/// page 2 of the allocation), and the value lands there, nowhere else.
#[test]
fn a_monitored_fence_at_a_mapped_gpu_va_is_written_through_the_tables() {
    let driver = Driver::load().unwrap();
    let a = adapter(&driver);
    let x = allocation(&a);
    let x0 = x.pinned.offset / PAGE;
    let tables = SystemPages::new(3);
    let basis = tracked(&a, VRAM, &[(0, 4 * MIB)]);
    let mut q = a.paging_queue().unwrap();
    map(&mut q, &tables, &x);

    let va = BASE + 3 * PAGE + 24;
    assert!(va < 1 << 30, "a GPU VA, not a host address");
    q.signal_monitored_fence(va, FENCE_VALUE).unwrap();
    let system = tables.page(SYSTEM);
    assert_eq!(system[24..32], FENCE_VALUE.to_le_bytes());
    assert!(system[..24].iter().chain(&system[32..]).all(|&b| b == 0));
    assert_eq!(dirty_pages(&a, basis), Vec::<u64>::new());

    q.signal_monitored_fence(BASE + PAGE + 8, 7).unwrap();
    let page2 = read_vram(&a, x.pinned.offset + 2 * PAGE, PAGE as usize);
    assert_eq!(page2[8..16], 7u64.to_le_bytes());
    assert_eq!(dirty_pages(&a, basis), [x0 + 2]);

    let c = a.completions();
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(
        c.completed.iter().map(|x| x.1).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

/// The broken variant: an engine that writes the fence by the direct path
/// only (the walk removed) has no address for a GPU VA: the fence's buffer
/// faults and the value never lands in the mapped page.
#[test]
fn a_fence_written_without_the_walk_is_caught() {
    let driver = Driver::load().unwrap();
    let a = adapter(&driver);
    let x = allocation(&a);
    let tables = SystemPages::new(3);
    let mut q = a.paging_queue().unwrap();
    q.set_timeout(Duration::from_millis(300));
    map(&mut q, &tables, &x);
    engine::set_broken(a.context(), Broken::FenceSkipsWalk).unwrap();
    let before = q.next_fence();
    let r = q.signal_monitored_fence(BASE + 3 * PAGE + 24, FENCE_VALUE);
    assert_eq!(r, Err(PagingError::NeverCompleted(before)));
    assert!(
        tables.page(SYSTEM).iter().all(|&b| b == 0),
        "the broken walk went unnoticed"
    );
}
