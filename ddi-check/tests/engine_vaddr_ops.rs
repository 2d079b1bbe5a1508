//! The engine's page-table and VIRTUAL operations against the model
//! (issue 17 item 7): a fixed sequence (root entry -> the checker's leaf
//! table, leaf entries -> VRAM pages out of order, a VIRTUAL_FILL through
//! them, a VIRTUAL_TRANSFER from VA page 0 into page 1, a basis queried, then a VIRTUAL_FILL that runs into an unmapped
//! page and faults after writing the mapped part) passes on the real engine,
//! and an engine that ignores the leaf index (`Broken::IgnoresLeafIndex`) is
//! caught.

use std::time::Duration;

use ddi_check::ops::*;
use ddi_check::{Broken, Flaw, check_sequence_with};

const THIS: AdapterSel = AdapterSel::This;
const PAGE: u16 = 4096;

fn e(op: EngineOp) -> Op {
    Op::Engine(op)
}

/// The build of `paging` and its submission.
fn run(paging: Paging) -> [Op; 2] {
    [
        e(EngineOp::build_of(THIS, paging)),
        e(EngineOp::submit_built(THIS, 0, false)),
    ]
}

fn query() -> Op {
    Op::whole_query(THIS, HandleSel::Issued(0), 1)
}

/// A tracked basis over the first 16 VRAM pages, started.
fn tracked() -> Vec<Op> {
    Vec::from(Op::tracked_pages(THIS, 16))
}

fn sequence() -> Vec<Op> {
    let mut ops = tracked();
    let map = |leaf, index, target| Paging::map_one(leaf, index, target, 0);
    // Root entry 0 -> the leaf; VA pages 0, 1, 2 -> VRAM pages 5, 2, 9;
    // VA page 3 invalid.
    for p in [
        map(false, 0, 0),
        map(true, 0, 5),
        map(true, 1, 2),
        map(true, 2, 9),
        map(true, 3, 200),
    ] {
        ops.extend(run(p));
    }
    ops.extend(run(Paging::VirtualFill {
        region: 0,
        at: 100,
        size: 3 * PAGE - 200,
        pattern: 0xA1B2_C3D4,
    }));
    // VA page 0 (from byte 50) to VA page 1 (from byte 10): pieces that
    // cross a source and a destination page boundary.
    ops.extend(run(Paging::VirtualTransfer {
        regions: [0, 0],
        from: 50,
        at: PAGE + 10,
        size: PAGE,
    }));
    ops.push(e(EngineOp::Wait));
    ops.push(query());
    // From VA page 2 into page 3 (unmapped): page 2's part is written,
    // then the buffer faults.
    ops.extend(run(Paging::VirtualFill {
        region: 0,
        at: 2 * PAGE + 8,
        size: 2 * PAGE,
        pattern: 0x0102_0304,
    }));
    ops.push(e(EngineOp::QueryStatus {
        adapter: THIS,
        null_args: false,
        node: 0,
    }));
    ops.push(e(EngineOp::Reset {
        adapter: THIS,
        null_args: false,
        node: 0,
    }));
    ops.push(query());
    ops.push(e(EngineOp::Wait));
    ops
}

fn check(broken: Broken) -> Result<ddi_check::Stats, String> {
    check_sequence_with(&sequence(), Flaw::None, broken, Duration::from_secs(5))
}

#[test]
fn the_real_engine_matches_the_model_through_the_page_tables() {
    let stats = check(Broken::No).unwrap();
    println!("VIRTUAL sequence: {stats}");
    assert!(stats.fences >= 7, "{stats}");
    assert!(stats.dirty_reports >= 1, "{stats}");
}

#[test]
fn an_engine_that_ignores_the_leaf_index_is_caught() {
    let err = check(Broken::IgnoresLeafIndex).expect_err("a broken engine must be caught");
    println!("IgnoresLeafIndex caught: {err}");
    assert!(err.contains("the engine left"), "{err}");
}

/// The random search finds the engine that ignores the leaf index too.
#[test]
fn the_random_search_catches_an_engine_that_ignores_the_leaf_index() {
    let caught = ddi_check::strategy::search_broken_engine(Broken::IgnoresLeafIndex, 500);
    assert!(
        caught.is_some(),
        "the engine that ignores the leaf index was not caught"
    );
}
