//! Calls to the DDIs Dxgkrnl may make above PASSIVE_LEVEL
//! (`gpup_miniport::ddi::irql::ABOVE_PASSIVE`), by name, as the OS would
//! at raised IRQL: with the adapter's context and zeroed argument blocks.
//! The model cannot raise IRQL; what it checks instead is what raised IRQL
//! forbids, that such a DDI never waits: the tests call these while another
//! thread holds the adapter lock for writing.

use dxgk_sys::*;

use crate::Adapter;

/// What one raised-IRQL DDI answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaisedAnswer {
    /// An `NTSTATUS`.
    Status(NTSTATUS),
    /// A `BOOLEAN` (the interrupt routine: whether the interrupt was its own).
    Claimed(bool),
    /// Nothing (a `VOID` DDI).
    Done,
    /// A size in bytes (DxgkDdiGetRootPageTableSize).
    Size(usize),
}

/// A zeroed block big enough for any of these DDIs' argument blocks.
#[repr(C, align(8))]
struct Scratch([u8; 512]);

impl Adapter {
    /// Calls the DDI `name` of [`gpup_miniport::ddi::irql::ABOVE_PASSIVE`];
    /// `None` for a name the model does not know or a slot the driver left
    /// NULL (so a DDI added to the table must be added here too).
    #[must_use]
    pub fn call_above_passive(&self, name: &str) -> Option<RaisedAnswer> {
        let t = self.driver().table();
        let ctx = self.context();
        let mut scratch = Scratch([0; 512]);
        let args: PVOID = (&raw mut scratch).cast();
        // Each call: a DDI of the loaded driver, with its own adapter
        // context and a zeroed, writable block larger than any of their
        // argument blocks.
        let answer = match name {
            "DxgkDdiInterruptRoutine" => {
                let f = t.DxgkDdiInterruptRoutine?;
                // SAFETY: as above.
                RaisedAnswer::Claimed(unsafe { f(ctx, 0) } != 0)
            }
            "DxgkDdiDpcRoutine" => {
                let f = t.DxgkDdiDpcRoutine?;
                // SAFETY: as above.
                unsafe { f(ctx) };
                RaisedAnswer::Done
            }
            "DxgkDdiResetDevice" => {
                let f = t.DxgkDdiResetDevice?;
                // SAFETY: as above.
                unsafe { f(ctx) };
                RaisedAnswer::Done
            }
            "DxgkDdiFormatHistoryBuffer" => {
                let f = t.DxgkDdiFormatHistoryBuffer?;
                // SAFETY: as above (no context: the driver has none).
                unsafe { f(core::ptr::null_mut(), args) };
                RaisedAnswer::Done
            }
            "DxgkDdiGetRootPageTableSize" => {
                let f = t.DxgkDdiGetRootPageTableSize?;
                // SAFETY: as above.
                RaisedAnswer::Size(unsafe { f(ctx, args.cast()) })
            }
            "DxgkDdiSetRootPageTable" => {
                let f = t.DxgkDdiSetRootPageTable?;
                // SAFETY: as above (a NULL context handle: ignored).
                unsafe { f(ctx, args.cast_const().cast()) };
                RaisedAnswer::Done
            }
            "DxgkDdiCalibrateGpuClock" => {
                let f = t.DxgkDdiCalibrateGpuClock?;
                // SAFETY: as above.
                RaisedAnswer::Status(unsafe { f(ctx, 0, 0, args) })
            }
            "DxgkDdiPreemptCommand" => {
                let f = t.DxgkDdiPreemptCommand?;
                // SAFETY: as above.
                RaisedAnswer::Status(unsafe { f(ctx, args.cast_const().cast()) })
            }
            "DxgkDdiSubmitCommand" => {
                let f = t.DxgkDdiSubmitCommand?;
                // SAFETY: as above (a zeroed submission: fence 0, no buffer).
                RaisedAnswer::Status(unsafe { f(ctx, args.cast_const().cast()) })
            }
            "DxgkDdiSubmitCommandVirtual" => {
                let f = t.DxgkDdiSubmitCommandVirtual?;
                // SAFETY: as above.
                RaisedAnswer::Status(unsafe { f(ctx, args.cast_const().cast()) })
            }
            _ => {
                let f = match name {
                    "DxgkDdiCollectDbgInfo" => t.DxgkDdiCollectDbgInfo?,
                    "DxgkDdiSetVirtualMachineData" => t.DxgkDdiSetVirtualMachineData?,
                    "DxgkDdiSetStablePowerState" => t.DxgkDdiSetStablePowerState?,
                    _ => return None,
                };
                // SAFETY: as above.
                RaisedAnswer::Status(unsafe { f(ctx, args) })
            }
        };
        Some(answer)
    }
}
