//! The DDIs Dxgkrnl may call above PASSIVE_LEVEL, and their trampolines.
//!
//! A DDI that can run at DISPATCH_LEVEL or higher may not wait (every lock of
//! this driver is a PASSIVE_LEVEL wait: `crate::kernel::sync`), may not
//! allocate (paged or not, the allocator is not made for it) and may not
//! touch pageable memory. So none of these takes the adapter lock, reads the
//! adapter table, allocates or traces: each answers from its arguments
//! alone, with the value its reference page allows. The table
//! [`ABOVE_PASSIVE`] lists every slot the driver fills whose reference page
//! (MicrosoftDocs/windows-driver-docs-ddi, `wdk-ddi-src/content/d3dkmddi/`
//! and `dispmprt/`) gives an IRQL above PASSIVE_LEVEL, or none; the tests
//! call each of them while another thread holds the adapter lock for
//! writing. The engine's DDIs that may run above PASSIVE_LEVEL
//! (SubmitCommand(Virtual), PreemptCommand, the DPC routine) live in
//! `ddi::engine` and are listed here too: they only touch the engine's
//! lock-free ring and table. Two live elsewhere: DxgkDdiGetRootPageTableSize
//! and DxgkDdiSetRootPageTable (`ddi::render`, pages without an IRQL).

use dxgk_sys::*;

use crate::adapter::registry;
use crate::ddi::OutBuffer;
use crate::foundation::status::{Status, to_ntstatus};

/// The highest IRQL a DDI may be called at, per its reference page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxIrql {
    /// DISPATCH_LEVEL.
    Dispatch,
    /// The device's interrupt IRQL (DIRQL).
    Device,
    /// Any IRQL, HIGH_LEVEL included (the page says so, or says it is
    /// undefined, or gives none).
    Any,
}

/// One DDI of [`ABOVE_PASSIVE`].
#[derive(Debug, Clone, Copy)]
pub struct RaisedDdi {
    /// Its name, as in `DRIVER_INITIALIZATION_DATA`.
    pub name: &'static str,
    /// The highest IRQL it may run at.
    pub max_irql: MaxIrql,
    /// What its page requires of the answer.
    pub answer: &'static str,
}

/// Every filled DDI slot that may run above PASSIVE_LEVEL.
pub const ABOVE_PASSIVE: &[RaisedDdi] = &[
    RaisedDdi {
        name: "DxgkDdiInterruptRoutine",
        max_irql: MaxIrql::Device,
        answer: "FALSE: the adapter raises no interrupt",
    },
    RaisedDdi {
        name: "DxgkDdiDpcRoutine",
        max_irql: MaxIrql::Dispatch,
        answer: "nothing (VOID); calls DxgkCbNotifyDpc (ddi::engine)",
    },
    RaisedDdi {
        name: "DxgkDdiResetDevice",
        max_irql: MaxIrql::Any,
        answer: "nothing (VOID); 'can be called at any IRQL'",
    },
    RaisedDdi {
        name: "DxgkDdiPreemptCommand",
        max_irql: MaxIrql::Dispatch,
        answer: "STATUS_SUCCESS: any error return bugchecks (0x119); queues into the engine's lock-free ring",
    },
    RaisedDdi {
        name: "DxgkDdiSubmitCommand",
        max_irql: MaxIrql::Dispatch,
        answer: "STATUS_SUCCESS: any error return bugchecks (0x119); queues into the engine's lock-free ring",
    },
    RaisedDdi {
        name: "DxgkDdiSubmitCommandVirtual",
        max_irql: MaxIrql::Dispatch,
        answer: "STATUS_SUCCESS: any error return bugchecks (0x119); queues into the engine's lock-free ring",
    },
    RaisedDdi {
        name: "DxgkDdiCollectDbgInfo",
        max_irql: MaxIrql::Any,
        answer: "STATUS_SUCCESS (nothing added to the report); 'generally runs at an undefined IRQL'",
    },
    RaisedDdi {
        name: "DxgkDdiCalibrateGpuClock",
        max_irql: MaxIrql::Dispatch,
        answer: "STATUS_SUCCESS: the performance counter as both clocks (STATUS_NOT_SUPPORTED where the kernel has none)",
    },
    RaisedDdi {
        name: "DxgkDdiFormatHistoryBuffer",
        max_irql: MaxIrql::Dispatch,
        answer: "nothing (VOID)",
    },
    RaisedDdi {
        name: "DxgkDdiSetVirtualMachineData",
        max_irql: MaxIrql::Any,
        answer: "STATUS_SUCCESS: the VM data is accepted, nothing to keep (the page gives no IRQL)",
    },
    RaisedDdi {
        name: "DxgkDdiGetRootPageTableSize",
        max_irql: MaxIrql::Any,
        answer: "the size in bytes, a multiple of 4 KiB (the page gives no IRQL); arithmetic only (ddi::render)",
    },
    RaisedDdi {
        name: "DxgkDdiSetRootPageTable",
        max_irql: MaxIrql::Any,
        answer: "nothing (VOID; the page gives no IRQL): recorded lock-free (render::root)",
    },
    RaisedDdi {
        name: "DxgkDdiSetStablePowerState",
        max_irql: MaxIrql::Any,
        answer: "STATUS_SUCCESS: a software clock is always stable (no reference page in d3dkmddi)",
    },
];

/// `DxgkDdiInterruptRoutine`: the adapter raises no interrupts, so none is its
/// own (FALSE). Runs at device IRQL: touches no lock and no memory.
///
/// # Safety
/// Always safe to call: no argument is read.
pub(crate) unsafe extern "system" fn DxgkDdiInterruptRoutine(
    MiniportDeviceContext: PVOID,
    MessageNumber: ULONG,
) -> BOOLEAN {
    let _ = (MiniportDeviceContext, MessageNumber);
    0
}

/// `DxgkDdiResetDevice`: nothing to bring back to a VGA state.
///
/// # Safety
/// Always safe to call: no argument is read.
pub(crate) unsafe extern "system" fn DxgkDdiResetDevice(MiniportDeviceContext: PVOID) {
    let _ = MiniportDeviceContext;
}

/// `DxgkDdiCollectDbgInfo`: nothing to add to the report
/// (`STATUS_SUCCESS`, the buffer left as the OS passed it). At an undefined
/// IRQL, before a TDR or a bugcheck: no lock, no allocation, no trace.
///
/// # Safety
/// Always safe to call: no argument is read.
pub(crate) unsafe extern "system" fn DxgkDdiCollectDbgInfo(
    hAdapter: HANDLE,
    pCollectDbgInfo: PVOID,
) -> NTSTATUS {
    let _ = (hAdapter, pCollectDbgInfo);
    STATUS_SUCCESS
}

/// `DxgkDdiCalibrateGpuClock`: the software engine's clock is the CPU's
/// performance counter, so `GpuFrequency` is its frequency and
/// `GpuClockCounter` = `CpuClockCounter` = one reading of it (computed "as
/// close together as possible": the same instant). Writes the first three
/// members (`UINT64`s at 0, 8, 16) of `DXGKARG_CALIBRATEGPUCLOCK`
/// (`DXGK_GPUCLOCKDATA`'s prefix; its `Flags`, an input, is not read: the
/// engine and its context management have one clock).
///
/// May run at DISPATCH_LEVEL: no lock, no allocation, no adapter lookup
/// (`hAdapter` is only checked to have an adapter handle's shape).
/// `STATUS_INVALID_PARAMETER` for a node or engine other than 0 or a NULL
/// block; `STATUS_NOT_SUPPORTED` where the kernel has no performance
/// counter (Wine's ntoskrnl: `crate::kernel`); nothing written then.
///
/// # Safety
/// `pClockCalibration` is NULL or writable for 24 bytes.
pub(crate) unsafe extern "system" fn DxgkDdiCalibrateGpuClock(
    hAdapter: HANDLE,
    NodeOrdinal: UINT32,
    EngineOrdinal: UINT32,
    pClockCalibration: PVOID,
) -> NTSTATUS {
    to_ntstatus((|| {
        registry::AdapterHandle::from_raw(hAdapter).map_err(|_| Status::InvalidParameter)?;
        if NodeOrdinal != 0 || EngineOrdinal != 0 {
            return Err(Status::InvalidParameter);
        }
        // SAFETY: NULL or writable for the record's 24 bytes (this
        // function's contract); the block is only written.
        let out = unsafe { OutBuffer::new(pClockCalibration, CLOCK_CALIBRATION_SIZE) }?;
        let (count, frequency) =
            crate::kernel::performance_counter().ok_or(Status::NotSupported)?;
        let mut record = [0u8; CLOCK_CALIBRATION_SIZE];
        for (i, value) in [frequency, count, count].into_iter().enumerate() {
            let at = i.saturating_mul(8);
            if let Some(dst) = record.get_mut(at..at.saturating_add(8)) {
                dst.copy_from_slice(&value.to_le_bytes());
            }
        }
        let dst = out
            .into_zeroed_prefix(CLOCK_CALIBRATION_SIZE)
            .ok_or(Status::BufferTooSmall)?;
        for (d, b) in dst.iter_mut().zip(record) {
            *d = b;
        }
        Ok(())
    })())
}

/// Bytes of `DXGKARG_CALIBRATEGPUCLOCK` the driver writes: `GpuFrequency`,
/// `GpuClockCounter`, `CpuClockCounter`.
const CLOCK_CALIBRATION_SIZE: usize = 24;

/// `DxgkDdiFormatHistoryBuffer`: contexts keep no history buffer (the
/// driver reports no history-buffer support), so there is nothing to format.
///
/// # Safety
/// Always safe to call: no argument is read.
pub(crate) unsafe extern "system" fn DxgkDdiFormatHistoryBuffer(
    hContext: HANDLE,
    pFormatData: PVOID,
) {
    let _ = (hContext, pFormatData);
}

/// `DxgkDdiSetVirtualMachineData`: `STATUS_SUCCESS` (spec 3.3: present,
/// may succeed trivially); the software adapter keeps no per-VM data. Its
/// page gives no IRQL, so it is treated as callable at any.
///
/// # Safety
/// Always safe to call: no argument is read.
pub(crate) unsafe extern "system" fn DxgkDdiSetVirtualMachineData(
    hAdapter: HANDLE,
    pArgs: PVOID,
) -> NTSTATUS {
    let _ = (hAdapter, pArgs);
    STATUS_SUCCESS
}

/// `DxgkDdiSetStablePowerState`: `STATUS_SUCCESS` (spec 3.3): the software
/// engine's clock never changes, so it is always in a stable power state.
/// No reference page gives its IRQL, so it is treated as callable at any.
///
/// # Safety
/// Always safe to call: no argument is read.
pub(crate) unsafe extern "system" fn DxgkDdiSetStablePowerState(
    hAdapter: HANDLE,
    pArgs: PVOID,
) -> NTSTATUS {
    let _ = (hAdapter, pArgs);
    STATUS_SUCCESS
}
