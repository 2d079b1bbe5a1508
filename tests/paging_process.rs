//! VidMm's paging process in the stand-in (issue 17 items 4 and 5, first
//! half; docs/engine.md, "The stand-in's paging process"): the model moves
//! allocations VidMm placed with paging buffers the driver builds and its
//! engine runs, every fence delivered in order through the model's own
//! SynchronizeExecution/NotifyInterrupt/QueueDpc/NotifyDpc; what Windows
//! would bugcheck or TDR on fails the operation; and the VRAM the engine
//! writes is reported dirty, page for page, by a basis tracked over it.

mod common;

use common::*;
use dxgk_sys::*;
use dxgkrnl_model::paging::PagingError;
use dxgkrnl_model::render::PlacedAllocation;
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, MemorySegment};
use gpup_miniport::engine::{Broken, CHUNK, COMMAND_SIZE};
use gpup_miniport::render::allocation::{AllocationData, AllocationKind};

const VRAM: u32 = 2;

fn adapter_with(driver: &Driver) -> Adapter {
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

fn vram_allocation(a: &Adapter, size: u64) -> PlacedAllocation {
    let p = a
        .create_allocation(&AllocationData {
            kind: AllocationKind::Vram,
            alignment: 0,
            size,
        })
        .unwrap();
    assert_eq!(p.pinned.segment, VRAM);
    p
}

fn read_vram(a: &Adapter, offset: u64, len: usize) -> Vec<u8> {
    let vram = gpup_miniport::host::vram(a.context(), VRAM).expect("VRAM backing");
    let mut out = vec![0u8; len];
    vram.read_bytes(offset, &mut out).unwrap();
    out
}

/// The fences delivered so far (node, fence) are exactly 1..=n, in order,
/// completed and delivered alike, with no violation.
fn assert_fences_in_order(a: &Adapter, n: u32) {
    let c = a.completions();
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let want: Vec<u32> = (1..=n).collect();
    assert_eq!(c.completed.iter().map(|x| x.1).collect::<Vec<_>>(), want);
    assert_eq!(
        c.delivered, c.completed,
        "each completion delivered by a DPC"
    );
}

#[test]
fn vidmm_fills_transfers_both_ways_moves_and_discards_through_the_engine() {
    let driver = Driver::load().unwrap();
    let a = adapter_with(&driver);
    assert!(a.paging_process().is_some());
    let x = vram_allocation(&a, MIB);
    let y = vram_allocation(&a, MIB);
    let mut q = a.paging_queue().unwrap();

    // FILL of the new allocation.
    assert_eq!(
        q.fill(VRAM, x.pinned.offset, MIB, 0xA1B2_C3D4).unwrap(),
        [1]
    );
    let filled = read_vram(&a, x.pinned.offset + MIB - 8, 8);
    assert_eq!(filled, [0xD4, 0xC3, 0xB2, 0xA1, 0xD4, 0xC3, 0xB2, 0xA1]);
    // System memory -> VRAM (page-in).
    let src: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    assert_eq!(
        q.transfer_in(&src, VRAM, x.pinned.offset + 4096).unwrap(),
        [2]
    );
    assert_eq!(read_vram(&a, x.pinned.offset + 4096, 8192), src);
    // VRAM -> VRAM (VidMm moves the allocation's content into y).
    assert_eq!(
        q.transfer((VRAM, x.pinned.offset), (VRAM, y.pinned.offset), 16384)
            .unwrap(),
        [3]
    );
    // VRAM -> system memory (eviction): what was filled and transferred in.
    let mut out = vec![0u8; 16384];
    assert_eq!(
        q.transfer_out(VRAM, y.pinned.offset, &mut out).unwrap(),
        [4]
    );
    assert_eq!(out[..4096], [0xD4, 0xC3, 0xB2, 0xA1].repeat(1024)[..]);
    assert_eq!(out[4096..12288], src[..]);
    assert_eq!(out[12288..], [0xD4, 0xC3, 0xB2, 0xA1].repeat(1024)[..]);
    // DISCARD: a fence, and no byte changes.
    assert_eq!(q.discard(VRAM, x.pinned.offset).unwrap(), [5]);
    assert_eq!(read_vram(&a, x.pinned.offset + 4096, 8192), src);
    assert_eq!(q.next_fence(), 6);
    assert_fences_in_order(&a, 5);
}

#[test]
fn an_operation_over_several_buffers_takes_one_fence_per_buffer_in_order() {
    let driver = Driver::load().unwrap();
    let a = adapter_with(&driver);
    let x = vram_allocation(&a, 4 * CHUNK);
    let mut q = a.paging_queue().unwrap();
    q.set_dma_buffer_bytes(COMMAND_SIZE);
    let fences = q
        .fill(VRAM, x.pinned.offset, 3 * CHUNK + 12, 0x0707_0707)
        .unwrap();
    assert_eq!(
        fences,
        [1, 2, 3, 4],
        "one command per buffer, one CHUNK each"
    );
    assert_eq!(read_vram(&a, x.pinned.offset + 3 * CHUNK + 8, 4), [7; 4]);
    assert_fences_in_order(&a, 4);
}

/// Two fences in flight on a deliberately broken engine.
fn broken_run(mode: Broken) -> (Result<Vec<u32>, PagingError>, dxgkrnl_model::Completions) {
    let driver = Driver::load().unwrap();
    let a = adapter_with(&driver);
    gpup_miniport::ddi::engine::host::set_broken(a.context(), mode).unwrap();
    let x = vram_allocation(&a, MIB);
    let mut q = a.paging_queue().unwrap();
    q.set_timeout(std::time::Duration::from_millis(300));
    q.set_dma_buffer_bytes(COMMAND_SIZE);
    let r = q.fill(VRAM, x.pinned.offset, 2 * CHUNK, 1);
    (r, a.completions())
}

#[test]
fn the_real_engine_passes_where_the_broken_ones_fail() {
    let (r, c) = broken_run(Broken::No);
    assert_eq!(r, Ok(vec![1, 2]));
    assert_eq!(c.delivered.len(), 2);
}

#[test]
fn fence_n_plus_1_completed_before_n_fails_the_operation() {
    let (r, c) = broken_run(Broken::CompletesOutOfOrder);
    let Err(PagingError::Violation(errors)) = r else {
        panic!("{r:?}");
    };
    assert!(
        errors.iter().any(|e| e.contains("out of order")),
        "{errors:?}"
    );
    assert_eq!(c.completed.iter().map(|x| x.1).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn a_dpc_that_never_notifies_fails_the_operation() {
    let (r, c) = broken_run(Broken::NeverQueuesDpc);
    assert_eq!(r, Err(PagingError::NeverNotified(1)));
    assert_eq!(c.completed.len(), 2, "completed, never delivered");
    assert!(c.delivered.is_empty());
}

#[test]
fn a_completion_inside_submit_command_fails_the_operation() {
    let (r, _) = broken_run(Broken::CompletesInSubmit);
    let Err(PagingError::Violation(errors)) = r else {
        panic!("{r:?}");
    };
    assert!(
        errors.iter().any(|e| e.contains("inside SubmitCommand")),
        "{errors:?}"
    );
}

/// A FILL over three paging buffers, each submitted through SubmitCommand at
/// an aperture-style physical address that is not a host address (so only
/// the record in its private data leads the engine to its bytes), with
/// `private` bytes of private data per buffer (`None`: the adapter's
/// answer). Returns the result, whether the engine faulted, and the first
/// bytes of each 256 KiB piece.
fn aperture_fill(
    mode: Broken,
    private: Option<usize>,
) -> (Result<Vec<u32>, PagingError>, bool, Vec<u8>) {
    let driver = Driver::load().unwrap();
    let a = adapter_with(&driver);
    assert_eq!(
        a.paging_private_data_size(),
        16,
        "the adapter asks for 16 bytes"
    );
    gpup_miniport::ddi::engine::host::set_broken(a.context(), mode).unwrap();
    let x = vram_allocation(&a, 4 * CHUNK);
    let mut q = a.paging_queue().unwrap();
    q.set_timeout(std::time::Duration::from_millis(300));
    q.set_dma_buffer_bytes(COMMAND_SIZE);
    q.submit_by_aperture_address(true);
    if let Some(bytes) = private {
        q.set_private_data_bytes(bytes);
    }
    let r = q.fill(VRAM, x.pinned.offset, 3 * CHUNK, 0x5A5A_5A5A);
    let faulted = gpup_miniport::ddi::engine::host::state(a.context())
        .unwrap()
        .faulted;
    let bytes = (0..3)
        .flat_map(|i| read_vram(&a, x.pinned.offset + i * CHUNK + CHUNK - 4, 4))
        .collect();
    (r, faulted, bytes)
}

#[test]
fn a_paging_buffer_submitted_at_an_aperture_address_is_found_through_its_private_data() {
    let (r, faulted, bytes) = aperture_fill(Broken::No, None);
    assert_eq!(r, Ok(vec![1, 2, 3]), "three buffers, three fences");
    assert!(!faulted);
    assert_eq!(bytes, [0x5A; 12], "every buffer's FILL ran");
}

#[test]
fn without_its_record_an_aperture_address_faults_the_engine() {
    // The broken driver's Build writes no record; VidMm passes NULL private
    // data (an adapter reporting none); private data too small for the
    // record: each time the address form decides, and an aperture address
    // is not resolved (a TDR on Windows), never a panic.
    for (mode, private) in [
        (Broken::WritesNoPrivateData, None),
        (Broken::No, Some(0)),
        (Broken::No, Some(8)),
    ] {
        let (r, faulted, bytes) = aperture_fill(mode, private);
        assert_eq!(
            r,
            Err(PagingError::NeverCompleted(1)),
            "{mode:?} {private:?}"
        );
        assert!(faulted, "{mode:?} {private:?}");
        assert_eq!(bytes, [0; 12], "nothing written: {mode:?} {private:?}");
    }
}

unsafe extern "system" fn refusing_submit(_: PVOID, _: *const DXGKARG_SUBMITCOMMAND) -> NTSTATUS {
    STATUS_UNSUCCESSFUL
}

#[test]
fn a_failed_submit_fails_the_operation() {
    let driver = Driver::load().unwrap();
    let broken = driver.patched(|t| t.DxgkDdiSubmitCommand = Some(refusing_submit));
    let a = adapter_with(&broken);
    let x = vram_allocation(&a, MIB);
    let mut q = a.paging_queue().unwrap();
    assert_eq!(
        q.fill(VRAM, x.pinned.offset, 4096, 1),
        Err(PagingError::Submit {
            fence: 1,
            status: STATUS_UNSUCCESSFUL
        })
    );
    assert_eq!(read_vram(&a, x.pinned.offset, 4), [0; 4], "nothing ran");
}

/// The pages of the first 4 MiB of VRAM the basis reports dirty, clearing them.
fn dirty_pages(a: &Adapter, basis: dxgkrnl_model::BasisHandle) -> Vec<u64> {
    let pages = 4 * MIB / 4096;
    let bits = query_all(a, basis, pages, true);
    (0..pages)
        .filter(|&p| bits[(p / 8) as usize] & (1 << (p % 8)) != 0)
        .collect()
}

/// Item 5 (first half): VidMm moves an ordinary (non-reserve) allocation in
/// VRAM while a basis over that range is tracked: exactly the pages the
/// engine wrote are dirty.
#[test]
fn the_pages_the_engine_writes_and_only_they_are_reported_dirty() {
    let driver = Driver::load().unwrap();
    let a = adapter_with(&driver);
    let x = vram_allocation(&a, MIB);
    let y = vram_allocation(&a, MIB);
    assert!(y.pinned.offset + MIB <= 4 * MIB);
    let basis = tracked(&a, VRAM, &[(0, 4 * MIB)]);
    assert_eq!(dirty_pages(&a, basis), Vec::<u64>::new());
    let page = |offset: u64| offset / 4096;
    let mut q = a.paging_queue().unwrap();
    // FILL pages 2-3 of x; an unaligned 12-byte FILL inside page 9.
    q.fill(VRAM, x.pinned.offset + 8192, 8192, 0x5555_AAAA)
        .unwrap();
    q.fill(VRAM, x.pinned.offset + 9 * 4096 + 100, 12, 1)
        .unwrap();
    // Move 8 KiB of x into y at 20 KiB: pages 5-6 of y.
    q.transfer(
        (VRAM, x.pinned.offset + 8192),
        (VRAM, y.pinned.offset + 20480),
        8192,
    )
    .unwrap();
    // Reading VRAM out and discarding write no VRAM.
    let mut out = vec![0u8; 8192];
    q.transfer_out(VRAM, y.pinned.offset + 20480, &mut out)
        .unwrap();
    assert_eq!(out, [0xAA, 0xAA, 0x55, 0x55].repeat(2048));
    q.discard(VRAM, y.pinned.offset).unwrap();
    let x0 = page(x.pinned.offset);
    let y0 = page(y.pinned.offset);
    let mut want = vec![x0 + 2, x0 + 3, x0 + 9, y0 + 5, y0 + 6];
    want.sort_unstable();
    assert_eq!(dirty_pages(&a, basis), want);
    // Cleared by the query: nothing new without engine writes.
    assert_eq!(dirty_pages(&a, basis), Vec::<u64>::new());
    assert_fences_in_order(&a, 5);
}
