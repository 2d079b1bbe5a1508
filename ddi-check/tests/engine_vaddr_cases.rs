//! The VIRTUAL operations' other cases against the model (issue 17 item
//! 7), one fixed sequence each, on the real engine: leaf entries mapping
//! the checker's system pages (a VIRTUAL_FILL of one, a VIRTUAL_TRANSFER
//! from VRAM into one and back); the ReadOnly and Zero entry flags and an
//! invalid entry that keeps them; UPDATE_PAGE_TABLE of several entries at a
//! non-zero StartIndex, with and without `Flags.Repeat`; VAs of a second
//! root entry and past the root's entry count. An engine that writes
//! through read-only entries (`Broken::IgnoresReadOnly`) is caught.

use std::time::Duration;

use ddi_check::ops::*;
use ddi_check::{Broken, Flaw, Stats, check_sequence_with};

const THIS: AdapterSel = AdapterSel::This;
const PAGE: u16 = 4096;
/// The first system page's target.
const SYS0: u8 = VA_TARGETS;

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

fn fill(region: u8, at: u16, size: u16, pattern: u32) -> Paging {
    Paging::VirtualFill {
        region,
        at,
        size,
        pattern,
    }
}

fn transfer(from: u16, at: u16, size: u16) -> Paging {
    Paging::VirtualTransfer {
        regions: [0, 0],
        from,
        at,
        size,
    }
}

/// Waits, then QueryEngineStatus and ResetEngine (after a fault).
fn reset() -> [Op; 3] {
    [
        e(EngineOp::Wait),
        e(EngineOp::QueryStatus {
            adapter: THIS,
            null_args: false,
            node: 0,
        }),
        e(EngineOp::Reset {
            adapter: THIS,
            null_args: false,
            node: 0,
        }),
    ]
}

/// A tracked basis over the first 16 VRAM pages, started, root entry 0
/// naming the leaf table, then `maps`.
fn with(maps: &[Paging]) -> Vec<Op> {
    let mut ops = Vec::from(Op::tracked_pages(THIS, 16));
    ops.extend(run(Paging::map(false, 0, 0, 0, false, 0)));
    for &m in maps {
        ops.extend(run(m));
    }
    ops
}

/// The sequence ends: a wait, a clearing query of what the engine marked.
fn end(mut ops: Vec<Op>) -> Vec<Op> {
    ops.push(e(EngineOp::Wait));
    ops.push(Op::whole_query(THIS, HandleSel::Issued(0), 1));
    ops
}

fn check(ops: &[Op], broken: Broken) -> Result<Stats, String> {
    check_sequence_with(ops, Flaw::None, broken, Duration::from_secs(5))
}

/// VA page 0 -> VRAM page 5, pages 1 and 2 -> system pages 0 and 1: a fill
/// of VRAM and of a system page, VRAM into a system page, a system page
/// into VRAM, across page boundaries; only VRAM is reported dirty.
fn system_pages() -> Vec<Op> {
    let mut ops = with(&[
        Paging::map(true, 0, 5, 0, false, 0),
        Paging::map(true, 1, SYS0, 1, false, 0),
    ]);
    ops.extend(run(fill(0, 0, PAGE, 0x1122_3344)));
    ops.extend(run(fill(0, PAGE + 100, 200, 0xA5A5_0F0F)));
    ops.push(e(EngineOp::Wait));
    ops.push(Op::whole_query(THIS, HandleSel::Issued(0), 1));
    // VRAM (VA page 0, from byte 16) into system pages 0 and 1 (from VA
    // page 1's byte 3000): the pieces cross the system pages' boundary.
    ops.extend(run(transfer(16, PAGE + 3000, 2000)));
    // System page 0 back into VRAM: a query must find only VRAM page 5.
    ops.extend(run(transfer(PAGE + 50, 7, 3000)));
    end(ops)
}

/// VA page 3 -> VRAM page 7 read-only, page 4 -> VRAM page 8 (written,
/// then mapped Zero), page 5
/// Zero without Valid, page 0 -> VRAM page 5: a transfer from the Zero page
/// writes zeros, a fill of it writes nothing, a fill across the read-only
/// page faults after the pages before it, a transfer into the invalid Zero
/// entry faults.
fn flags() -> Vec<Op> {
    let mut ops = with(&[
        Paging::map(true, 0, 5, 0, false, 0),
        Paging::map(true, 2, 6, 0, false, 0),
        Paging::map(true, 3, 7, 0, false, MAP_READ_ONLY),
        Paging::map(true, 4, 8, 0, false, 0),
        Paging::map(true, 5, 200, 0, false, MAP_ZERO),
    ]);
    ops.extend(run(fill(0, 0, PAGE, 0x5566_7788)));
    // VRAM page 8 gets bytes, then VA page 4 maps it Zero: reads give
    // zeros, not its bytes, and a fill leaves them.
    ops.extend(run(fill(0, 4 * PAGE, PAGE, 0x3141_5926)));
    ops.extend(run(Paging::map(true, 4, 8, 0, false, MAP_ZERO)));
    ops.extend(run(transfer(4 * PAGE + 8, 100, 300)));
    ops.extend(run(fill(0, 4 * PAGE, PAGE, 0xDEAD_BEEF)));
    // A read-only page is read (into VRAM page 5) without a fault.
    ops.extend(run(transfer(3 * PAGE, 1000, 64)));
    // VA page 2 is written, then page 3 (read-only) faults.
    ops.extend(run(fill(0, 2 * PAGE + 4000, 200, 0x0102_0304)));
    ops.extend(reset());
    // A Zero entry without Valid faults.
    ops.extend(run(transfer(0, 5 * PAGE, 16)));
    ops.extend(reset());
    // A Zero and read-only page faults a fill too.
    ops.extend(run(Paging::map(
        true,
        4,
        8,
        0,
        false,
        MAP_ZERO | MAP_READ_ONLY,
    )));
    ops.extend(run(fill(0, 4 * PAGE, 8, 7)));
    ops.extend(reset());
    end(ops)
}

/// Leaf entries 2, 3, 4 -> VRAM pages 3, 4, 5 in one update; entries 5, 6,
/// 7 -> VRAM page 9 with Repeat (the array's other entries name pages 10
/// and 11); then entry 2 again with 2 entries: 2 -> system page 2, 3 ->
/// system page 3. A fill from VA page 2 to 8 writes through all of them.
/// Then updates of 7 and 8 entries (two engine commands each, the second
/// with Repeat) and fills through them.
fn entries_and_repeat() -> Vec<Op> {
    let mut ops = with(&[
        Paging::map(true, 2, 3, 2, false, 0),
        Paging::map(true, 5, 9, 2, true, 0),
    ]);
    ops.extend(run(fill(0, 2 * PAGE, 6 * PAGE, 0x0BAD_F00D)));
    ops.push(e(EngineOp::Wait));
    ops.push(Op::whole_query(THIS, HandleSel::Issued(0), 1));
    ops.extend(run(Paging::map(true, 2, SYS0 + 2, 1, false, 0)));
    ops.extend(run(fill(0, 2 * PAGE + 10, 2 * PAGE, 0x1357_9BDF)));
    // A transfer out of the repeated page (VA 7) into VA page 4.
    ops.extend(run(transfer(7 * PAGE, 4 * PAGE, PAGE)));
    // Two engine commands each: entries 1..7 -> VRAM pages 0..6 (7
    // entries), then a fill through them; entries 0..7 -> system page 3,
    // repeated (8 entries), then a fill of all 8 VA pages lands on it.
    ops.extend(run(Paging::map(true, 1, 0, 6, false, 0)));
    ops.extend(run(fill(0, PAGE + 5, 7 * PAGE - 5, 0x7766_5544)));
    ops.extend(run(Paging::map(true, 0, SYS0 + 3, 7, true, 0)));
    ops.extend(run(fill(0, 3, 8 * PAGE - 3, 0x2222_1111)));
    end(ops)
}

/// Root entries 1 and 2 (past the root's 2 entries) with Repeat, leaf
/// entry 0 -> VRAM page 6: region 1 reaches it, region 2 faults, as does
/// region 200; after root entry 1 is made invalid, region 1 faults too.
fn past_the_root() -> Vec<Op> {
    let mut ops = with(&[
        Paging::map(false, 1, 0, 1, true, 0),
        Paging::map(true, 0, 6, 0, false, 0),
    ]);
    ops.extend(run(fill(1, 0, 100, 0x2468_ACE0)));
    ops.extend(run(Paging::VirtualTransfer {
        regions: [1, 0],
        from: 10,
        at: 2000,
        size: 50,
    }));
    ops.extend(run(fill(ROOT_ENTRIES, 0, 16, 0xFFFF_FFFF)));
    ops.extend(reset());
    ops.extend(run(fill(200, 0, 16, 0xFFFF_FFFF)));
    ops.extend(reset());
    ops.extend(run(Paging::map(false, 1, 1, 0, false, 0)));
    ops.extend(run(fill(1, 0, 16, 0xFFFF_FFFF)));
    ops.extend(reset());
    end(ops)
}

#[test]
fn system_pages_match_the_model() {
    let stats = check(&system_pages(), Broken::No).unwrap();
    println!("system pages: {stats}");
    assert!(stats.fences >= 7, "{stats}");
}

#[test]
fn entry_flags_match_the_model() {
    let stats = check(&flags(), Broken::No).unwrap();
    println!("flags: {stats}");
    assert!(stats.fences >= 13, "{stats}");
}

#[test]
fn several_entries_and_repeat_match_the_model() {
    let stats = check(&entries_and_repeat(), Broken::No).unwrap();
    println!("entries and Repeat: {stats}");
    assert!(stats.fences >= 11, "{stats}");
}

#[test]
fn vas_past_the_root_match_the_model() {
    let stats = check(&past_the_root(), Broken::No).unwrap();
    println!("past the root: {stats}");
    assert!(stats.fences >= 6, "{stats}");
}

#[test]
fn an_engine_that_ignores_read_only_entries_is_caught() {
    let err = check(&flags(), Broken::IgnoresReadOnly).expect_err("a broken engine is caught");
    println!("IgnoresReadOnly caught: {err}");
    assert!(err.contains("cannot run"), "{err}");
}

#[test]
fn an_engine_that_ignores_the_leaf_index_is_caught_through_system_pages() {
    let err = check(&system_pages(), Broken::IgnoresLeafIndex).expect_err("caught");
    println!("IgnoresLeafIndex caught (system pages): {err}");
    assert!(err.contains("the engine left"), "{err}");
}

/// The random search finds the engine that writes through read-only
/// entries too.
#[test]
fn the_random_search_catches_an_engine_that_ignores_read_only_entries() {
    let caught = ddi_check::strategy::search_broken_engine(Broken::IgnoresReadOnly, 1000);
    assert!(
        caught.is_some(),
        "the engine that ignores read-only entries was not caught"
    );
}
