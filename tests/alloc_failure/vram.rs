//! The VRAM backing: a write, fill or copy that must commit a chunk and
//! cannot reports `NoMemory` with nothing committed or leaked; the same
//! operations on committed chunks, and every read, allocate nothing.

use dxgk_sys::*;
use dxgkrnl_model::vram::Vram;
use dxgkrnl_model::{Adapter, Driver};

use crate::basis::one_segment;
use crate::common::*;
use crate::harness::*;

/// A started adapter and the driver's backing of its segment.
pub(crate) struct Started {
    pub(crate) adapter: Adapter,
    pub(crate) vram: Vram,
}

fn started() -> Started {
    let adapter = Driver::load()
        .unwrap()
        .start_adapter(&one_segment())
        .unwrap();
    let vram = Vram::of(adapter.context(), SEG_4K).unwrap();
    Started { adapter, vram }
}

/// As [`started`], with the first chunk written.
fn written() -> Started {
    let s = started();
    s.vram.backing().fill(0, 4096, 0x55).unwrap();
    s
}

/// A failed commit: `NoMemory`, nothing committed, and the retry works.
fn refused(s: &Started, r: Result<(), gpup_miniport::Status>) -> Result<(), String> {
    want("result", r, Err(gpup_miniport::Status::NoMemory))?;
    want("touched chunks", s.vram.touched_chunks(), 0)
}

pub(crate) fn commits(walked: &mut Vec<Walked>) {
    let mut run = recorder(walked);
    let ok = |s: &Started, r: Result<(), gpup_miniport::Status>| {
        want("result", r, Ok(()))?;
        want("touched chunks", s.vram.touched_chunks(), 1)
    };
    run(walk(
        "VRAM write_bytes committing a chunk",
        started,
        |s| s.vram.backing().write_bytes(MIB + 3, &[1, 2, 3]),
        ok,
        refused,
    ));
    run(walk(
        "VRAM fill committing a chunk",
        started,
        |s| s.vram.backing().fill(2 * MIB, 4096, 7),
        ok,
        refused,
    ));
    run(walk(
        "VRAM copy committing its destination chunk",
        || {
            let s = written();
            let other = started();
            (s, other)
        },
        |(src, dst)| {
            dst.vram
                .backing()
                .copy_from(5 * MIB, src.vram.backing(), 0, 4096)
        },
        |(src, dst), r| {
            want("result", r, Ok(()))?;
            want(
                "same",
                dst.vram.same(5 * MIB, &src.vram, 0, 4096),
                Some(true),
            )
        },
        |(_, dst), r| refused(dst, r),
    ));
    // Through the C ABI: the status a C loader sees.
    run(walk(
        "gpup_host_vram_write committing a chunk",
        started,
        |s| {
            let data = [9u8; 16];
            unsafe {
                gpup_miniport::host::gpup_host_vram_write(
                    s.adapter.context(),
                    SEG_4K,
                    4096,
                    data.as_ptr(),
                    16,
                )
            }
        },
        |s, status| {
            expect("write", status, STATUS_SUCCESS)?;
            want("word", s.vram.read(4096), Some(0x0909_0909_0909_0909))
        },
        |s, status| {
            expect("write", status, STATUS_NO_MEMORY)?;
            want("touched chunks", s.vram.touched_chunks(), 0)
        },
    ));
    run(allocates_nothing(
        "VRAM writes into committed chunks, reads and comparisons",
        || (written(), written()),
        |(a, b)| {
            let (va, vb) = (a.vram.backing(), b.vram.backing());
            va.write_bytes(100, &[1, 2, 3]).unwrap();
            va.write_words(512, 64, |i| i).unwrap();
            va.fill(1024, 64, 0).unwrap();
            let mut out = [0u8; 4096];
            va.read_bytes(3, &mut out[..100]).unwrap();
            vb.read_bytes(MIB, &mut out).unwrap();
            vb.copy_from(0, va, 0, 4096).unwrap();
            vb.copy_from(0, va, 3 * MIB, 4096).unwrap();
            assert!(!va.same(0, vb, 0, 64 * MIB).unwrap());
            assert!(!va.is_zero(0, 64 * MIB).unwrap());
        },
    ));
}
