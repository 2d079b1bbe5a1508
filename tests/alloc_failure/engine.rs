//! The software engine (issue 17 item 7, allocation-failure part): its
//! attach in StartDevice walked, with the engine shown absent after each
//! failure and running a paging buffer after the retried start; the engine
//! DDIs shown to allocate nothing.
//!
//! Only the calling thread is armed: what the engine's worker thread does
//! (it runs the buffers) is not counted here; the worker allocates nothing
//! by design (its scratch is preallocated at attach, `ddi::engine_table`).

use std::time::{Duration, Instant};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, Driver};
use gpup_miniport::ddi::engine::host as engine;

use crate::basis::{dirty_caps_status, start_device_raw};
use crate::harness::*;

/// The built-in configuration's VRAM segment (segment 1 is the aperture).
const VRAM: u32 = 2;
/// The FILL's pattern.
const PATTERN: u32 = 0xA1B2_C3D4;

/// Bytes of a paging buffer's private data (the adapter's
/// `PagingBufferPrivateDataSize`), kept right after its 512 bytes.
const PRIVATE: u32 = 16;

/// A paging buffer's bytes and then its private data: kept alive for the
/// whole test process, since the engine may read a submitted buffer after
/// the call that submitted it.
fn leaked_buffer() -> *mut u8 {
    Box::leak(vec![0u8; 512 + PRIVATE as usize].into_boxed_slice()).as_mut_ptr()
}

/// The private data of the buffer at `buf`.
fn private_of(buf: *mut u8) -> PVOID {
    buf.wrapping_add(512).cast()
}

/// A FILL of `size` bytes at `offset` of the VRAM segment, into the 512
/// bytes at `buf` (with its private data), built at GPU VA `va`.
fn fill_block(offset: u64, size: u64, buf: *mut u8, va: u64) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = DXGK_OPERATION_FILL;
    // The `Fill` alternative: FillSize, FillPattern, Destination.{SegmentId, SegmentAddress}.
    a.Transfer[1] = size;
    a.Transfer[2] = u64::from(PATTERN);
    a.Transfer[3] = u64::from(VRAM);
    a.Transfer[4] = offset;
    a.pDmaBuffer = buf.cast();
    a.DmaSize = 512;
    a.pDmaBufferPrivateData = private_of(buf);
    a.DmaBufferPrivateDataSize = PRIVATE;
    a.DmaBufferGpuVirtualAddress = va;
    a
}

fn build_raw(a: &Adapter, args: &mut DXGKARG_BUILDPAGINGBUFFER) -> NTSTATUS {
    let build = a.driver().table().DxgkDdiBuildPagingBuffer.unwrap();
    unsafe { build(a.context(), args) }
}

fn submit_virtual_block(
    va: u64,
    buf: *mut u8,
    len: u32,
    fence: u32,
) -> DXGKARG_SUBMITCOMMANDVIRTUAL {
    let mut s = DXGKARG_SUBMITCOMMANDVIRTUAL::zeroed();
    s.DmaBufferVirtualAddress = va;
    s.DmaBufferSize = len;
    s.pDmaBufferPrivateData = private_of(buf);
    s.DmaBufferPrivateDataSize = PRIVATE;
    s.SubmissionFenceId = fence;
    s.Flags.Value = 1; // Paging
    s
}

fn submit_virtual_raw(a: &Adapter, s: &DXGKARG_SUBMITCOMMANDVIRTUAL) -> NTSTATUS {
    let submit = a.driver().table().DxgkDdiSubmitCommandVirtual.unwrap();
    unsafe { submit(a.context(), s) }
}

/// SubmitCommand of `len` bytes of `buf` at an aperture-style physical
/// address (not a host address: found through its private data).
fn submit_block(buf: *mut u8, len: u32, fence: u32) -> DXGKARG_SUBMITCOMMAND {
    let mut s = DXGKARG_SUBMITCOMMAND::zeroed();
    s.DmaBufferSegmentId = 1;
    s.DmaBufferPhysicalAddress.QuadPart = 0x2000;
    s.DmaBufferSize = len;
    s.DmaBufferSubmissionEndOffset = len;
    s.pDmaBufferPrivateData = private_of(buf);
    s.DmaBufferPrivateDataSize = PRIVATE;
    s.SubmissionFenceId = fence;
    s.Flags.Value = 1; // Paging
    s
}

fn submit_raw(a: &Adapter, s: &DXGKARG_SUBMITCOMMAND) -> NTSTATUS {
    let submit = a.driver().table().DxgkDdiSubmitCommand.unwrap();
    unsafe { submit(a.context(), s) }
}

/// Waits (5 s at most) until the engine reports `fence` complete.
fn completed(a: &Adapter, fence: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if engine::state(a.context()).is_some_and(|s| s.last_completed >= fence) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// The engine runs a FILL end to end: built, submitted by VA, its fence
/// completed, its bytes in the adapter's VRAM.
fn engine_runs(a: &Adapter, fence: u32) -> Result<(), String> {
    let buf = leaked_buffer();
    let va = 0x7f00_0000_0000_u64 + (u64::from(fence) << 16);
    let offset = u64::from(fence) << 12;
    let mut args = fill_block(offset, 64, buf, va);
    expect(
        "BuildPagingBuffer(FILL)",
        build_raw(a, &mut args),
        STATUS_SUCCESS,
    )?;
    let used = 512 - args.DmaSize;
    let s = submit_virtual_block(va, buf, used, fence);
    expect(
        "SubmitCommandVirtual",
        submit_virtual_raw(a, &s),
        STATUS_SUCCESS,
    )?;
    if !completed(a, fence) {
        return Err(format!("fence {fence} never completed"));
    }
    let vram = gpup_miniport::host::vram(a.context(), VRAM).ok_or("no VRAM backing")?;
    let mut got = [0u8; 4];
    vram.read_bytes(offset + 60, &mut got)
        .map_err(|e| format!("read VRAM: {e:?}"))?;
    want("the filled bytes", got, PATTERN.to_le_bytes())
}

struct Unstarted {
    _driver: Driver,
    adapter: Adapter,
}

fn unstarted() -> Unstarted {
    let driver = Driver::load().unwrap();
    let adapter = driver.add_device().unwrap();
    Unstarted {
        _driver: driver,
        adapter,
    }
}

/// StartDevice with the built-in configuration: every allocation of the
/// adapter's start and of the engine's attach (its ring, DMA directory,
/// scratch, job and table entry) failed in turn.
fn walk_start_device() -> Result<Walked, String> {
    walk(
        "StartDevice with the engine's attach (built-in segments)",
        unstarted,
        |s| start_device_raw(&s.adapter),
        |s, status| {
            expect("StartDevice", status, STATUS_SUCCESS)?;
            if engine::state(s.adapter.context()).is_none() {
                return Err("no engine after a successful start".into());
            }
            engine_runs(&s.adapter, 1)
        },
        |s, status| {
            expect("StartDevice", status, STATUS_NO_MEMORY)?;
            // Not started, and no engine (a failed attach stops the adapter again).
            expect(
                "caps",
                dirty_caps_status(&s.adapter),
                STATUS_INVALID_DEVICE_STATE,
            )?;
            if let Some(state) = engine::state(s.adapter.context()) {
                return Err(format!("an engine after the failed start: {state:?}"));
            }
            expect(
                "StartDevice again",
                start_device_raw(&s.adapter),
                STATUS_SUCCESS,
            )?;
            engine_runs(&s.adapter, 1)
        },
    )
}

/// A started adapter with a paging buffer built (not submitted).
struct Built {
    _driver: Driver,
    adapter: Adapter,
    buf: *mut u8,
}

const VA: u64 = 0x7e00_0000_0000;

fn built() -> Built {
    let driver = Driver::load().unwrap();
    let adapter = driver.add_device().unwrap();
    assert_eq!(start_device_raw(&adapter), STATUS_SUCCESS);
    let buf = leaked_buffer();
    Built {
        _driver: driver,
        adapter,
        buf,
    }
}

/// Builds a FILL into a fresh buffer; returns it and the bytes used.
fn build_one(b: &Built) -> (*mut u8, u32) {
    let buf = leaked_buffer();
    let mut args = fill_block(8192, 64, buf, VA);
    assert_eq!(build_raw(&b.adapter, &mut args), STATUS_SUCCESS);
    (buf, 512 - args.DmaSize)
}

/// The engine DDIs that allocate nothing.
pub(crate) fn engine_ddis(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
    run(walk_start_device());
    run(allocates_nothing(
        "BuildPagingBuffer (FILL, recorded with its GPU VA)",
        built,
        |b| {
            let mut args = fill_block(4096, 64, b.buf, VA);
            build_raw(&b.adapter, &mut args)
        },
    ));
    run(allocates_nothing(
        "BuildPagingBuffer (UPDATE_PAGE_TABLE of 6 entries, VIRTUAL_FILL, VIRTUAL_TRANSFER)",
        built,
        virtual_ops,
    ));
    run(allocates_nothing(
        "SubmitCommandVirtual (paging, with its private data)",
        || {
            let b = built();
            let (buf, used) = build_one(&b);
            let s = submit_virtual_block(VA, buf, used, 1);
            (b, s)
        },
        |(b, s)| submit_virtual_raw(&b.adapter, s),
    ));
    run(allocates_nothing(
        "SubmitCommand (paging, at an aperture address, with its private data)",
        || {
            let b = built();
            let (buf, used) = build_one(&b);
            let s = submit_block(buf, used, 1);
            (b, s)
        },
        |(b, s)| submit_raw(&b.adapter, s),
    ));
    run(allocates_nothing(
        "PreemptCommand, QueryEngineStatus, QueryDependentEngineGroup, ResetEngine, DpcRoutine, Reset/RestartFromTimeout",
        built,
        |b| other_ddis(&b.adapter),
    ));
    run(allocates_nothing(
        "StopDevice with an engine (its worker stopped, its blocks freed)",
        built,
        |b| {
            let stop = b.adapter.driver().table().DxgkDdiStopDevice.unwrap();
            unsafe { stop(b.adapter.context()) }
        },
    ));
}

/// BuildPagingBuffer of the operations the engine executes by GPU VA:
/// their commands carry everything (the entries, the VAs), so building
/// them allocates nothing (and neither does running them: the walk reads
/// the tables in place, through the worker's preallocated scratch).
fn virtual_ops(b: &Built) -> [NTSTATUS; 3] {
    let ptes: [[u64; 2]; 6] = [[1, 0x100]; 6];
    let mut update = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    update.Operation = DXGK_OPERATION_UPDATE_PAGE_TABLE;
    update.Transfer[3] = 0x5000;
    update.Transfer[4] = ptes.as_ptr().addr() as u64;
    update.Transfer[5] = 6 << 32;
    let mut fill = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    fill.Operation = DXGK_OPERATION_VIRTUAL_FILL;
    fill.Transfer[2] = 4096;
    fill.Transfer[4] = 0x20_0000;
    let mut transfer = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    transfer.Operation = DXGK_OPERATION_VIRTUAL_TRANSFER;
    transfer.Transfer[2] = 4096;
    transfer.Transfer[3] = 0x20_0000;
    transfer.Transfer[4] = 0x20_1000;
    [update, fill, transfer].map(|mut a| {
        a.pDmaBuffer = b.buf.cast();
        a.DmaSize = 512;
        build_raw(&b.adapter, &mut a)
    })
}

/// The engine DDIs other than build and submit, each called once.
fn other_ddis(a: &Adapter) -> [NTSTATUS; 6] {
    let t = a.driver().table();
    let ctx = a.context();
    let p = DXGKARG_PREEMPTCOMMAND {
        PreemptionFenceId: 1,
        ..DXGKARG_PREEMPTCOMMAND::zeroed()
    };
    let mut q = DXGKARG_QUERYENGINESTATUS::zeroed();
    let mut d = DXGKARG_QUERYDEPENDENTENGINEGROUP::zeroed();
    let mut r = DXGKARG_RESETENGINE::zeroed();
    unsafe {
        let out = [
            t.DxgkDdiPreemptCommand.unwrap()(ctx, &raw const p),
            t.DxgkDdiQueryEngineStatus.unwrap()(ctx, &raw mut q),
            t.DxgkDdiQueryDependentEngineGroup.unwrap()(ctx, &raw mut d),
            t.DxgkDdiResetEngine.unwrap()(ctx, &raw mut r),
            t.DxgkDdiResetFromTimeout.unwrap()(ctx),
            t.DxgkDdiRestartFromTimeout.unwrap()(ctx),
        ];
        t.DxgkDdiDpcRoutine.unwrap()(ctx);
        out
    }
}
