//! `DxgkDdiBuildPagingBuffer` and the engine that runs what it records
//! (issue 17 item 1, spec 5.2), through the C ABI: operations are recorded
//! at build time and run only once their buffer is submitted, in fence
//! order; the bytes land in VRAM and system memory, and every VRAM byte the
//! engine writes is marked dirty through the tracker.

#[path = "engine_rig/mod.rs"]
mod rig;

use dxgk_sys::*;
use gpup_miniport::HostMdl;
use gpup_miniport::ddi::engine::host::EngineMemory;
use gpup_miniport::engine::{CHUNK, COMMAND_SIZE, Command};
use rig::{Rig, VRAM, fill_args, op_args, transfer_args};

/// The pages (4 KiB) of the first MiB of the VRAM segment the basis reports dirty, clearing them.
fn dirty_pages(rig: &Rig, basis: dxgkrnl_model::BasisHandle) -> Vec<usize> {
    let mut bits = vec![0u8; 256 / 8];
    assert_eq!(
        rig.adapter().query_dirty_bits(basis, None, true, &mut bits),
        STATUS_SUCCESS
    );
    (0..256)
        .filter(|p| bits[p / 8] & (1 << (p % 8)) != 0)
        .collect()
}

#[test]
fn fill_and_transfers_run_on_submission_and_mark_exactly_the_pages_written() {
    let rig = Rig::new();
    let basis = rig
        .adapter()
        .create_memory_basis(VRAM, &[(0, 1 << 20)])
        .unwrap();
    assert_eq!(rig.adapter().start_dirty_tracking(basis), STATUS_SUCCESS);

    // FILL 8 KiB at 64 KiB of the VRAM segment: recorded, not run.
    let fill = rig.build(fill_args(VRAM, 64 << 10, 8 << 10, 0xA1B2_C3D4), 4096);
    assert_eq!(fill.len(), 1);
    // TRANSFER 4 KiB from system memory (an MDL) to 128 KiB of VRAM, and back out.
    let src: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let src_mdl = HostMdl {
        Va: src.as_ptr().addr() as u64,
        ByteCount: 4096,
    };
    let mut dst = vec![0u8; 4096];
    let dst_mdl = HostMdl {
        Va: dst.as_mut_ptr().addr() as u64,
        ByteCount: 4096,
    };
    let mdl = |m: &HostMdl| core::ptr::from_ref(m).addr() as u64;
    let down = rig.build(
        transfer_args((0, mdl(&src_mdl)), (VRAM, 128 << 10), 4096),
        4096,
    );
    let up = rig.build(
        transfer_args((VRAM, 128 << 10), (0, mdl(&dst_mdl)), 4096),
        4096,
    );
    assert_eq!(rig.memory.written(), 0, "nothing runs at build time");
    assert_eq!(dirty_pages(&rig, basis), Vec::<usize>::new());

    rig.submit(&fill[0], 1);
    rig.submit(&down[0], 2);
    rig.submit(&up[0], 3);
    assert!(rig.wait_delivered(3), "fence 3 delivered through NotifyDpc");
    {
        let seen = rig.seen();
        assert_eq!(seen.completed, [1, 2, 3]);
        assert_eq!(seen.delivered, [1, 2, 3]);
        assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    }
    let mut filled = [0u8; 8];
    rig.memory
        .read(VRAM, (64 << 10) + (8 << 10) - 8, &mut filled)
        .unwrap();
    assert_eq!(filled, [0xD4, 0xC3, 0xB2, 0xA1, 0xD4, 0xC3, 0xB2, 0xA1]);
    assert_eq!(dst, src, "system memory -> VRAM -> system memory");
    // Pages 16-17 (the fill) and 32 (the transfer into VRAM); the transfer
    // out of VRAM wrote no VRAM.
    assert_eq!(dirty_pages(&rig, basis), [16, 17, 32]);
}

/// Without a test memory the engine writes the adapter's own VRAM backing
/// (bound at StartDevice): the bytes a FILL and a TRANSFER store are read
/// back through the host's VRAM access (what the model's copier and proof
/// read), and exactly their pages are reported dirty.
#[test]
fn the_engine_writes_the_bytes_the_host_reads_from_the_driver_backing() {
    let rig = Rig::on_driver_vram();
    let basis = rig
        .adapter()
        .create_memory_basis(VRAM, &[(0, 1 << 20)])
        .unwrap();
    assert_eq!(rig.adapter().start_dirty_tracking(basis), STATUS_SUCCESS);
    let vram = gpup_miniport::host::vram(rig.adapter().context(), VRAM).expect("VRAM backing");
    // An unaligned FILL (bytewise) and a word-aligned one.
    let odd = rig.build(fill_args(VRAM, (64 << 10) + 4, 12, 0x1122_3344), 4096);
    let even = rig.build(fill_args(VRAM, 96 << 10, 4096, 0xA1B2_C3D4), 4096);
    let src: Vec<u8> = (0..4096u32).map(|i| (i * 13 + 1) as u8).collect();
    let src_mdl = HostMdl {
        Va: src.as_ptr().addr() as u64,
        ByteCount: 4096,
    };
    let mdl = core::ptr::from_ref(&src_mdl).addr() as u64;
    let down = rig.build(transfer_args((0, mdl), (VRAM, 200 << 10), 4096), 4096);
    let mut before = vec![0u8; 16];
    vram.read_bytes(64 << 10, &mut before).unwrap();
    assert_eq!(before, [0u8; 16], "nothing runs at build time");
    rig.submit(&odd[0], 1);
    rig.submit(&even[0], 2);
    rig.submit(&down[0], 3);
    assert!(rig.wait_delivered(3));
    let mut got = vec![0u8; 20];
    vram.read_bytes(64 << 10, &mut got).unwrap();
    assert_eq!(
        got,
        [
            0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11, 0,
            0, 0, 0
        ]
    );
    let mut word = vec![0u8; 8];
    vram.read_bytes((96 << 10) + 4088, &mut word).unwrap();
    assert_eq!(word, [0xD4, 0xC3, 0xB2, 0xA1, 0xD4, 0xC3, 0xB2, 0xA1]);
    let mut moved = vec![0u8; 4096];
    vram.read_bytes(200 << 10, &mut moved).unwrap();
    assert_eq!(moved, src);
    assert_eq!(rig.memory.written(), 0, "the test memory is not bound");
    // Page 16 (the odd fill), 24 (the word fill), 50 (the transfer).
    assert_eq!(dirty_pages(&rig, basis), [16, 24, 50]);
}

#[test]
fn an_operation_larger_than_the_buffer_continues_through_multipass_offset() {
    let rig = Rig::new();
    let size = 3 * CHUNK + 12;
    let bufs = rig.build(fill_args(VRAM, 0, size, 7), 2 * COMMAND_SIZE);
    assert_eq!(bufs.iter().map(Vec::len).collect::<Vec<_>>(), [128, 128]);
    for (fence, b) in (10..).zip(&bufs) {
        rig.submit(b, fence);
    }
    assert!(rig.wait_delivered(11));
    let mut last = [0u8; 4];
    rig.memory.read(VRAM, size - 4, &mut last).unwrap();
    assert_eq!(last, 7u32.to_le_bytes());
    assert_eq!(rig.memory.written(), usize::try_from(size).unwrap());
    let st = rig.state();
    assert_eq!((st.executed, st.last_completed), (4, 11));
}

#[test]
fn a_buffer_too_small_for_one_command_writes_nothing_and_asks_for_more() {
    let rig = Rig::new();
    let mut buf = [0u8; COMMAND_SIZE - 1];
    let (status, used, after) = rig.build_once(fill_args(VRAM, 0, 64, 0), &mut buf, 0);
    assert_eq!(status.as_u32(), rig::INSUFFICIENT_DMA_BUFFER);
    assert_eq!((used, after.MultipassOffset), (0, 0));
}

#[test]
fn each_operation_records_what_spec_5_2_says() {
    let rig = Rig::new();
    let recorded = |op| {
        let mut buf = [0u8; 4 * COMMAND_SIZE];
        let (status, used, _) = rig.build_once(op_args(op), &mut buf, 0);
        assert_eq!(status, STATUS_SUCCESS, "{op:?}");
        buf[..used]
            .chunks_exact(COMMAND_SIZE)
            .map(|c| Command::decode(c.try_into().unwrap()).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(matches!(
        recorded(DXGK_OPERATION_DISCARD_CONTENT)[..],
        [Command::Discard { .. }]
    ));
    for op in [
        DXGK_OPERATION_MAP_APERTURE_SEGMENT,
        DXGK_OPERATION_UNMAP_APERTURE_SEGMENT,
        DXGK_OPERATION_FLUSH_TLB,
    ] {
        let c = recorded(op);
        assert!(
            matches!(c[..], [Command::Recorded { operation, .. }] if operation == op.0 as u32),
            "{op:?}: {c:?}"
        );
    }
    assert!(matches!(
        recorded(DXGK_OPERATION_SIGNAL_MONITORED_FENCE)[..],
        [Command::SignalFence { .. }]
    ));
    for op in [
        DXGK_OPERATION_UPDATE_PAGE_TABLE,
        DXGK_OPERATION_VIRTUAL_TRANSFER,
        DXGK_OPERATION_VIRTUAL_FILL,
        DXGK_OPERATION_NOTIFY_RESIDENCY,
        DXGK_OPERATION_NOTIFY_RESIDENCY2,
        DXGK_OPERATION_NOTIFY_ALLOC,
        DXGK_OPERATION_INIT_CONTEXT_RESOURCE,
        DXGK_OPERATION_MAP_MMU,
        DXGK_BUILDPAGINGBUFFER_OPERATION(99),
    ] {
        assert!(recorded(op).is_empty(), "{op:?}: accepted, nothing written");
    }
}

#[test]
fn the_virtual_operations_and_page_table_updates_record_engine_commands() {
    let rig = Rig::new();
    // The operations the engine executes (tests/engine_vaddr.rs): a
    // VIRTUAL_FILL or VIRTUAL_TRANSFER of 0 bytes and an UPDATE_PAGE_TABLE
    // of 0 entries are no commands; 4 KiB is one, 6 entries are two.
    let mut fill = op_args(DXGK_OPERATION_VIRTUAL_FILL);
    fill.Transfer[2] = 4096;
    fill.Transfer[3] = 0xFFFF_FFFF_0102_0304;
    fill.Transfer[4] = 0x20_0000;
    let c = rig_record(&rig, fill);
    assert!(
        matches!(
            c[..],
            [Command::VirtualFill {
                dst: 0x20_0000,
                len: 4096,
                pattern: 0x0102_0304,
                ..
            }]
        ),
        "{c:?}"
    );
    let mut transfer = op_args(DXGK_OPERATION_VIRTUAL_TRANSFER);
    transfer.Transfer[2] = 16;
    transfer.Transfer[3] = 0x1000;
    transfer.Transfer[4] = 0x2000;
    let c = rig_record(&rig, transfer);
    assert!(
        matches!(
            c[..],
            [Command::VirtualTransfer {
                src: 0x1000,
                dst: 0x2000,
                len: 16,
                ..
            }]
        ),
        "{c:?}"
    );
    let ptes: Vec<[u64; 2]> = (0..6).map(|i| [1, 0x100 + i]).collect();
    let mut update = op_args(DXGK_OPERATION_UPDATE_PAGE_TABLE);
    update.Transfer[3] = 0x5000;
    update.Transfer[4] = ptes.as_ptr().addr() as u64;
    update.Transfer[5] = 10 | (6 << 32);
    let c = rig_record(&rig, update);
    let entry = |i: u64| gpup_miniport::engine::vaddr::pte::from_dxgk(1, 0x100 + i);
    assert_eq!(
        c,
        [
            Command::WritePtes {
                segment: 0,
                address: 0x5000,
                start: 10,
                count: 4,
                ptes: [entry(0), entry(1), entry(2), entry(3)],
            },
            Command::WritePtes {
                segment: 0,
                address: 0x5000,
                start: 14,
                count: 2,
                ptes: [entry(4), entry(5), 0, 0],
            }
        ]
    );
}

/// The commands `args` is recorded as (one 4-command buffer).
fn rig_record(rig: &Rig, args: DXGKARG_BUILDPAGINGBUFFER) -> Vec<Command> {
    let mut buf = [0u8; 4 * COMMAND_SIZE];
    let (status, used, _) = rig.build_once(args, &mut buf, 0);
    assert_eq!(status, STATUS_SUCCESS);
    buf[..used]
        .chunks_exact(COMMAND_SIZE)
        .map(|c| Command::decode(c.try_into().unwrap()).unwrap())
        .collect()
}

#[test]
fn signal_monitored_fence_writes_the_value_when_the_buffer_runs() {
    let rig = Rig::new();
    // The fence's 8 bytes, written by the engine through their address.
    let cell = Box::into_raw(Box::new(0u64));
    let mut a = op_args(DXGK_OPERATION_SIGNAL_MONITORED_FENCE);
    a.Transfer[0] = cell.addr() as u64;
    a.Transfer[1] = 0x1234_5678_9abc;
    let buf = rig.build(a, 4096);
    rig.submit(&buf[0], 1);
    assert!(rig.wait_delivered(1));
    // SAFETY: `cell` came from `Box::into_raw` and the engine is done with
    // it (its fence was delivered, through the fake's lock).
    let value = unsafe { Box::from_raw(cell) };
    assert_eq!(*value, 0x1234_5678_9abc);
}

#[test]
fn submit_command_virtual_finds_the_buffer_build_paging_buffer_recorded() {
    let rig = Rig::new();
    // The GPU VA is not a host address: the engine can only find the bytes
    // through what BuildPagingBuffer recorded (engine::dma_dir).
    let va = 0x7f00_0000_0000_u64;
    let mut buf = vec![0u8; 4096];
    let (status, used, _) = rig.build_once(fill_args(VRAM, 4096, 16, 0x0102_0304), &mut buf, va);
    assert_eq!(status, STATUS_SUCCESS);
    rig.submit_virtual(va, used, 1);
    assert!(rig.wait_delivered(1));
    let mut got = [0u8; 4];
    rig.memory.read(VRAM, 4096 + 12, &mut got).unwrap();
    assert_eq!(got, [4, 3, 2, 1]);
}

#[test]
fn build_paging_buffer_refuses_only_what_dxgkrnl_never_passes() {
    let rig = Rig::new();
    let driver = dxgkrnl_model::Driver::load().unwrap();
    let build = driver.table().DxgkDdiBuildPagingBuffer.unwrap();
    // SAFETY: a NULL block, which the DDI must refuse without reading.
    let null_block = unsafe { build(rig.ctx, core::ptr::null_mut()) };
    assert_eq!(null_block, STATUS_INVALID_PARAMETER);
    let mut a = fill_args(VRAM, 0, 64, 0);
    let forged = core::ptr::without_provenance_mut(0x1234_5678);
    // SAFETY: a forged adapter handle is looked up, never dereferenced.
    let forged_adapter = unsafe { build(forged, &raw mut a) };
    assert_eq!(forged_adapter, STATUS_INVALID_PARAMETER);
}
