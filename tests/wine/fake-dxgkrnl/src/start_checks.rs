//! The start checks of the fake Dxgkrnl: the model's start sequence
//! ([`crate::start`]) played against the miniport's table, one line per rule.
//!
//! [`START_MODE`] enforces every rule, as the model's default start does:
//! each rule is a counted check, and the first refusal ends the run as it
//! ends a start on Windows; every refused rule also gets a
//! `start refused: <rule id>` note that `cargo xtask wine-smoke` compares
//! between the real image and the deliberately broken one. The one rule the
//! miniport is known not to pass yet (`rules::AWAITING_DRIVER`: 2.3.9 until
//! the software engine's SubmitCommandVirtual lands) is waived: a note, not
//! a check, and the run goes on. [`Mode::Report`] (every verdict a note,
//! nothing ends the run) remains for looking at a driver that breaks many.

use core::fmt;

use core::mem::size_of;
use core::ptr::from_ref;

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;

use crate::start::rules::{AWAITING_DRIVER, RULES, Rule};
use crate::start::sequence::{Environment, Learned, Mode, Target, Verdict};
use crate::tally::Tally;

/// How the fixture plays the start rules (see the module doc).
pub const START_MODE: Mode = match AWAITING_DRIVER {
    Some(rule) => Mode::EnforceExcept(rule),
    None => Mode::Enforce,
};

/// The adapter the project ships: a ComputeAccelerator-class INF (issue 16
/// item 1), no user-mode driver.
pub const START_ENVIRONMENT: Environment = Environment {
    compute_accelerator_class: true,
    umd_registered: false,
};

/// Counted checks the start rules add to the plan.
pub const START_CHECKS: u32 = match START_MODE {
    // RULES has 43 entries: the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    Mode::Enforce => RULES.len() as u32,
    // The waived rule is a note.
    #[allow(clippy::cast_possible_truncation)]
    Mode::EnforceExcept(_) => RULES.len().saturating_sub(1) as u32,
    Mode::Report => 0,
};

/// The note prefix of a refused rule, read by `cargo xtask wine-smoke`.
pub const REFUSED_NOTE: &str = "start refused: ";

/// Whether the slot named `name` of `table` is non-NULL (an unknown name
/// counts as NULL), located through the record's own layout metadata.
pub fn slot_is_set(table: &DRIVER_INITIALIZATION_DATA, name: &str) -> bool {
    let Some(field) = DRIVER_INITIALIZATION_DATA::ABI
        .fields
        .iter()
        .find(|f| f.name == name && f.size == size_of::<usize>())
    else {
        return false;
    };
    let slot = from_ref(table)
        .cast::<u8>()
        .wrapping_add(field.offset)
        .cast::<usize>();
    // SAFETY: `field` is a pointer-sized field of `table` (offset and size
    // from the type's metadata), whose bytes are initialised.
    let value = unsafe { slot.read_unaligned() };
    value != 0
}

/// A driver handle from the 8 bytes the sequence keeps.
fn handle(h: u64) -> HANDLE {
    core::ptr::without_provenance_mut(usize::try_from(h).unwrap_or(usize::MAX))
}

/// The miniport as the sequence's target.
pub struct FixtureTarget<'a> {
    /// Where the lines go.
    pub tally: &'a Tally,
    /// The miniport's table.
    pub table: &'a DRIVER_INITIALIZATION_DATA,
    /// The `MiniportDeviceContext`.
    pub adapter: HANDLE,
    /// StartDevice, as the fixture calls it.
    pub start: &'a mut dyn FnMut() -> NTSTATUS,
}

impl Target for FixtureTarget<'_> {
    fn slot(&self, name: &str) -> bool {
        slot_is_set(self.table, name)
    }

    fn ddi_version(&self) -> u32 {
        self.table.Version
    }

    fn query(&mut self, ty: u32, input: &[u8], output: &mut [u8]) -> u32 {
        let Some(qai) = self.table.DxgkDdiQueryAdapterInfo else {
            return STATUS_REVISION_MISMATCH.as_u32();
        };
        let mut args = DXGKARG_QUERYADAPTERINFO::zeroed();
        args.Type = DXGK_QUERYADAPTERINFOTYPE(i32::try_from(ty).unwrap_or(i32::MAX));
        if !input.is_empty() {
            args.pInputData = input.as_ptr().cast_mut().cast();
        }
        args.InputDataSize = UINT::try_from(input.len()).unwrap_or(UINT::MAX);
        args.pOutputData = output.as_mut_ptr().cast();
        args.OutputDataSize = UINT::try_from(output.len()).unwrap_or(UINT::MAX);
        // SAFETY: a DDI of the miniport's table, with its adapter handle and
        // a live block whose buffers outlive the call.
        unsafe { qai(self.adapter, &raw const args) }.as_u32()
    }

    fn start_device(&mut self) -> u32 {
        (self.start)().as_u32()
    }

    fn node_metadata(&mut self, node_and_adapter: u32, out: &mut [u8]) -> u32 {
        let Some(f) = self.table.DxgkDdiGetNodeMetadata else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the miniport; `out` holds a whole DXGK_NODEMETADATA.
        unsafe { f(self.adapter, node_and_adapter, out.as_mut_ptr().cast()) }.as_u32()
    }

    fn create_device(&mut self, args: &mut [u8]) -> u32 {
        let Some(f) = self.table.DxgkDdiCreateDevice else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the miniport; `args` is a whole DXGKARG_CREATEDEVICE.
        unsafe { f(self.adapter, args.as_mut_ptr().cast()) }.as_u32()
    }

    fn create_context(&mut self, device: u64, args: &mut [u8]) -> u32 {
        let Some(f) = self.table.DxgkDdiCreateContext else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the miniport, with a device it returned and a
        // whole DXGKARG_CREATECONTEXT.
        unsafe { f(handle(device), args.as_mut_ptr().cast()) }.as_u32()
    }

    fn destroy_context(&mut self, context: u64) -> u32 {
        let Some(f) = self.table.DxgkDdiDestroyContext else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the miniport, with a context it returned.
        unsafe { f(handle(context)) }.as_u32()
    }

    fn destroy_device(&mut self, device: u64) -> u32 {
        let Some(f) = self.table.DxgkDdiDestroyDevice else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the miniport, with a device it returned.
        unsafe { f(handle(device)) }.as_u32()
    }

    fn report(&mut self, rule: &'static Rule, verdict: Verdict, detail: fmt::Arguments<'_>) {
        let (ok, word, status) = match verdict {
            Verdict::Passed => (true, "ok", 0),
            Verdict::NotApplicable => (true, "n/a", 0),
            Verdict::Tolerated => (true, "tolerated", 0),
            Verdict::Refused(s) => (false, "REFUSED", s),
        };
        let line = format_args!("start {}: {word} {status:#x}: {detail}", rule.id);
        match START_MODE {
            Mode::EnforceExcept(waived) if waived == rule => self.tally.note(line),
            Mode::Enforce | Mode::EnforceExcept(_) => {
                self.tally.check(ok, line);
            }
            Mode::Report => self.tally.note(line),
        }
        if !ok {
            self.tally.note(format_args!("{REFUSED_NOTE}{}", rule.id));
        }
    }
}

/// The verdict note of a start.
pub fn verdict_note(tally: &Tally, learned: &Learned) {
    match learned.refusal {
        Some((rule, status)) => tally.note(format_args!(
            "start verdict: refused at {} ({status:#x}), {} rule(s) refused",
            rule.id, learned.refusals
        )),
        None => match learned.waived {
            Some(rule) => tally.note(format_args!(
                "start verdict: every rule held but {}, waived (awaited from the driver)",
                rule.id
            )),
            None => tally.note(format_args!("start verdict: every rule held")),
        },
    }
}
