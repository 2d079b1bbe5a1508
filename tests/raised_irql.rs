//! The DDIs that may run above PASSIVE_LEVEL (issue 15, section 1): every
//! one listed in `gpup_miniport::ddi::irql::ABOVE_PASSIVE` is called by the
//! model while another thread holds the adapter lock for writing (parked on
//! a barrier inside `hold_adapter_lock_for_writing`), and each returns at
//! once with an answer its reference page allows. PreemptCommand must
//! succeed (an error bugchecks 0x119); CollectDbgInfo may return only
//! STATUS_SUCCESS, STATUS_NO_MEMORY or STATUS_UNSUCCESSFUL.

#[path = "common/mod.rs"]
mod common;

use dxgk_sys::*;
use dxgkrnl_model::irql::RaisedAnswer;
use gpup_miniport::ddi::irql::ABOVE_PASSIVE;

/// Whether `answer` is one the page of `name` allows.
fn allowed(name: &str, answer: RaisedAnswer) -> bool {
    match (name, answer) {
        (
            "DxgkDdiPreemptCommand" | "DxgkDdiSubmitCommand" | "DxgkDdiSubmitCommandVirtual",
            RaisedAnswer::Status(s),
        ) => s == STATUS_SUCCESS,
        ("DxgkDdiCollectDbgInfo", RaisedAnswer::Status(s)) => {
            [STATUS_SUCCESS, STATUS_NO_MEMORY, STATUS_UNSUCCESSFUL].contains(&s)
        }
        ("DxgkDdiInterruptRoutine", RaisedAnswer::Claimed(mine)) => !mine,
        (
            "DxgkDdiDpcRoutine"
            | "DxgkDdiResetDevice"
            | "DxgkDdiFormatHistoryBuffer"
            | "DxgkDdiSetRootPageTable",
            a,
        ) => a == RaisedAnswer::Done,
        ("DxgkDdiGetRootPageTableSize", RaisedAnswer::Size(n)) => n > 0 && n % 4096 == 0,
        // The host has a performance counter: the calibration succeeds.
        ("DxgkDdiCalibrateGpuClock", RaisedAnswer::Status(s)) => s == STATUS_SUCCESS,
        (_, RaisedAnswer::Status(_)) => true,
        _ => false,
    }
}

#[test]
fn the_table_names_the_slots_that_may_run_above_passive_level() {
    let names: Vec<_> = ABOVE_PASSIVE.iter().map(|d| d.name).collect();
    for must in [
        "DxgkDdiInterruptRoutine",
        "DxgkDdiDpcRoutine",
        "DxgkDdiResetDevice",
        "DxgkDdiPreemptCommand",
        "DxgkDdiSubmitCommand",
        "DxgkDdiSubmitCommandVirtual",
        "DxgkDdiCollectDbgInfo",
        "DxgkDdiCalibrateGpuClock",
        "DxgkDdiFormatHistoryBuffer",
        "DxgkDdiGetRootPageTableSize",
        "DxgkDdiSetRootPageTable",
    ] {
        assert!(names.contains(&must), "{must} is not in ABOVE_PASSIVE");
    }
    let (_d, a) = common::started();
    for d in ABOVE_PASSIVE {
        assert!(
            a.call_above_passive(d.name).is_some(),
            "{}: the driver leaves it NULL, or the model cannot call it",
            d.name
        );
    }
}

#[test]
fn raised_irql_ddis_return_at_once_while_the_adapter_lock_is_held_for_writing() {
    let (_d, a) = common::started();
    // The adapter lock is held for writing meanwhile.
    let a = &a;
    let answers = common::sent_while_the_adapter_lock_is_held(a, |tx| {
        for d in ABOVE_PASSIVE {
            let _ = tx.send((d.name, a.call_above_passive(d.name)));
        }
    });
    assert_eq!(
        answers.len(),
        ABOVE_PASSIVE.len(),
        "{} waited for the adapter lock",
        ABOVE_PASSIVE[answers.len().min(ABOVE_PASSIVE.len() - 1)].name
    );
    for (name, answer) in answers {
        let answer = answer.unwrap_or_else(|| panic!("{name}: not called"));
        assert!(allowed(name, answer), "{name}: {answer:?} is not allowed");
        println!("{name}: {answer:?} with the adapter lock held for writing");
    }
}

/// `DxgkDdiCalibrateGpuClock` answers the software engine's clock, the
/// performance counter (the host's: 1 GHz), as both clocks of one reading;
/// a later call reads a later counter; node or engine 1 and a NULL block are
/// refused with nothing written.
#[test]
fn the_gpu_clock_is_the_performance_counter() {
    let (_d, a) = common::started();
    let f = gpup_miniport::initialization_data()
        .DxgkDdiCalibrateGpuClock
        .expect("CalibrateGpuClock");
    let calibrate = |node: u32, engine: u32| {
        let mut out = [0xEEu8; 28];
        // SAFETY: the driver's DDI with a live 28-byte block.
        let status = unsafe { f(a.context(), node, engine, out.as_mut_ptr().cast()) };
        let word = |i: usize| u64::from_le_bytes(out[i * 8..i * 8 + 8].try_into().unwrap());
        (status, [word(0), word(1), word(2)], out[24..].to_vec())
    };
    let (status, first, tail) = calibrate(0, 0);
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(first[0], 1_000_000_000, "GpuFrequency");
    assert_eq!(first[1], first[2], "one reading for both clocks");
    assert_eq!(tail, [0xEE; 4], "Flags (an input) untouched");
    std::thread::sleep(std::time::Duration::from_millis(2));
    let (_, later, _) = calibrate(0, 0);
    assert!(
        later[1] >= first[1] + 1_000_000,
        "{later:?} after {first:?}"
    );
    for (node, engine) in [(1, 0), (0, 1)] {
        let (status, words, _) = calibrate(node, engine);
        assert_eq!(status, STATUS_INVALID_PARAMETER);
        assert_eq!(words, [0xEEEE_EEEE_EEEE_EEEE; 3], "nothing written");
    }
    // SAFETY: NULL is refused before anything is written.
    let status = unsafe { f(a.context(), 0, 0, std::ptr::null_mut()) };
    assert_eq!(status, STATUS_INVALID_PARAMETER);
}
