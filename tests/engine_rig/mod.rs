//! A fake of the four Dxgkrnl callbacks of the engine's completion path,
//! and a started adapter whose engine runs against a test memory: what the
//! `tests/engine_*.rs` files drive the driver with.
//!
//! The fake plays Dxgkrnl's rules (spec 5.3): `DxgkCbNotifyInterrupt` only
//! inside `DxgkCbSynchronizeExecution`, never while SubmitCommand runs,
//! `DMA_COMPLETED` fences strictly increasing; after the synchronised
//! routine returns, a queued DPC runs the driver's `DxgkDdiDpcRoutine`,
//! whose `DxgkCbNotifyDpc` delivers the completed fences. A fence that is
//! never delivered is what Windows would TDR on.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, Driver};
use gpup_miniport::ddi::engine::host::{self as engine, EngineMemory, EngineState, Result};

/// The tracked VRAM segment of the built-in configuration (segment 1 is
/// the paging aperture, where DMA buffers lie).
pub const VRAM: u32 = 2;

/// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER`.
pub const INSUFFICIENT_DMA_BUFFER: u32 = 0xC01E_0001;

/// What the fake Dxgkrnl saw of one adapter.
#[derive(Default, Debug)]
pub struct Seen {
    /// Fences reported complete, in order.
    pub completed: Vec<u32>,
    /// (preemption fence, last completed) reported.
    pub preempted: Vec<(u32, u32)>,
    /// Fences delivered by a DPC (NotifyDpc after QueueDpc).
    pub delivered: Vec<u32>,
    /// Violations of Dxgkrnl's rules.
    pub errors: Vec<String>,
    pending: Vec<u32>,
    dpc_queued: bool,
    in_sync: bool,
    miniport: usize,
}

thread_local! {
    /// Whether this thread is inside SubmitCommand(Virtual): a completion
    /// reported from it is one made inside SubmitCommand (the worker's own
    /// completions race the test thread's submissions legitimately).
    static IN_SUBMIT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

type Fakes = Mutex<HashMap<usize, Arc<Mutex<Seen>>>>;

fn fakes() -> &'static Fakes {
    static F: OnceLock<Fakes> = OnceLock::new();
    F.get_or_init(Fakes::default)
}

fn seen(device: HANDLE) -> Option<Arc<Mutex<Seen>>> {
    fakes().lock().unwrap().get(&device.addr()).cloned()
}

/// The driver's DPC routine (one driver image per test process).
static DPC: OnceLock<unsafe extern "system" fn(PVOID)> = OnceLock::new();

unsafe extern "system" fn synchronize_execution(
    device: HANDLE,
    routine: PKSYNCHRONIZE_ROUTINE,
    context: PVOID,
    _message: ULONG,
    ret: *mut BOOLEAN,
) -> NTSTATUS {
    let (Some(s), Some(routine)) = (seen(device), routine) else {
        return STATUS_INVALID_PARAMETER;
    };
    s.lock().unwrap().in_sync = true;
    // SAFETY: the driver's routine with the context it passed for it.
    let r = unsafe { routine(context) };
    if !ret.is_null() {
        // SAFETY: the driver's out-parameter, checked non-NULL.
        unsafe { ret.write(r) };
    }
    let (queued, miniport) = {
        let mut g = s.lock().unwrap();
        g.in_sync = false;
        (std::mem::take(&mut g.dpc_queued), g.miniport)
    };
    if queued {
        let dpc = DPC.get().unwrap();
        // SAFETY: the driver's DPC routine with its own adapter context.
        unsafe { dpc(core::ptr::with_exposed_provenance_mut(miniport)) };
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn notify_interrupt(
    device: HANDLE,
    data: *const DXGKARGCB_NOTIFY_INTERRUPT_DATA,
) {
    let s = seen(device).unwrap();
    let mut g = s.lock().unwrap();
    // SAFETY: the driver passes a live record for the duration of the call.
    let d = unsafe { data.read() };
    if !g.in_sync {
        g.errors
            .push("NotifyInterrupt outside SynchronizeExecution".into());
    }
    if IN_SUBMIT.with(core::cell::Cell::get) {
        g.errors.push("completion inside SubmitCommand".into());
    }
    match d.InterruptType {
        DXGK_INTERRUPT_DMA_COMPLETED => {
            let f = d.completed().SubmissionFenceId;
            if let Some(&l) = g.completed.last().filter(|&&l| f <= l) {
                g.errors
                    .push(format!("fence {f} after {l}: out of order (0x119)"));
            }
            g.completed.push(f);
            g.pending.push(f);
        }
        DXGK_INTERRUPT_DMA_PREEMPTED => {
            let p = d.preempted();
            g.preempted
                .push((p.PreemptionFenceId, p.LastCompletedFenceId));
        }
        other => g.errors.push(format!("interrupt type {other:?}")),
    }
}

unsafe extern "system" fn queue_dpc(device: HANDLE) -> BOOLEAN {
    seen(device).unwrap().lock().unwrap().dpc_queued = true;
    1
}

unsafe extern "system" fn notify_dpc(device: HANDLE) {
    let s = seen(device).unwrap();
    let mut g = s.lock().unwrap();
    let p = std::mem::take(&mut g.pending);
    g.delivered.extend(p);
}

/// VRAM the test owns (a sparse byte map).
#[derive(Default)]
pub struct TestMemory {
    bytes: Mutex<HashMap<(u32, u64), u8>>,
}

impl TestMemory {
    /// How many bytes were ever written.
    pub fn written(&self) -> usize {
        self.bytes.lock().unwrap().len()
    }
}

impl EngineMemory for TestMemory {
    fn write(&self, s: u32, o: u64, b: &[u8]) -> Result<()> {
        let mut m = self.bytes.lock().unwrap();
        for (i, v) in (0u64..).zip(b) {
            m.insert((s, o + i), *v);
        }
        Ok(())
    }
    fn fill(&self, s: u32, o: u64, len: u64, p: u32) -> Result<()> {
        let pat = p.to_le_bytes();
        let mut m = self.bytes.lock().unwrap();
        for i in 0..len {
            m.insert((s, o + i), pat[usize::try_from(i % 4).unwrap()]);
        }
        Ok(())
    }
    fn read(&self, s: u32, o: u64, out: &mut [u8]) -> Result<()> {
        let m = self.bytes.lock().unwrap();
        for (i, v) in (0u64..).zip(out.iter_mut()) {
            *v = m.get(&(s, o + i)).copied().unwrap_or(0);
        }
        Ok(())
    }
}

/// A started adapter with the fake callbacks and a test memory.
pub struct Rig {
    driver: Driver,
    adapter: Option<Adapter>,
    /// What the fake saw.
    pub seen: Arc<Mutex<Seen>>,
    /// The engine's VRAM.
    pub memory: Arc<TestMemory>,
    /// `MiniportDeviceContext`.
    pub ctx: PVOID,
}

impl Rig {
    /// Loads the driver, adds an adapter and starts it with the fake
    /// callbacks; binds its engine to a fresh [`TestMemory`].
    pub fn new() -> Self {
        Self::start(true)
    }

    /// The same, with the engine left on the adapter's own VRAM backing
    /// (what StartDevice binds it to); [`Rig::memory`] then stays unused.
    #[allow(dead_code)] // Used by one of the two test files sharing the rig.
    pub fn on_driver_vram() -> Self {
        Self::start(false)
    }

    fn start(test_memory: bool) -> Self {
        let driver = Driver::load().unwrap();
        let adapter = driver.add_device().unwrap();
        let ctx = adapter.context();
        let mut kernel = adapter.kernel_interface();
        kernel.DxgkCbSynchronizeExecution = Some(synchronize_execution);
        kernel.DxgkCbNotifyInterrupt = Some(notify_interrupt);
        kernel.DxgkCbQueueDpc = Some(queue_dpc);
        kernel.DxgkCbNotifyDpc = Some(notify_dpc);
        let seen = Arc::new(Mutex::new(Seen {
            miniport: ctx.addr(),
            ..Seen::default()
        }));
        fakes()
            .lock()
            .unwrap()
            .insert(kernel.DeviceHandle.addr(), Arc::clone(&seen));
        let _ = DPC.set(driver.table().DxgkDdiDpcRoutine.unwrap());
        let mut info = DXGK_START_INFO::zeroed();
        let (mut sources, mut children) = (0, 0);
        let start = driver.table().DxgkDdiStartDevice.unwrap();
        // SAFETY: the driver's StartDevice with its own context and live,
        // writable arguments.
        let status = unsafe {
            start(
                ctx,
                &raw mut info,
                &raw mut kernel,
                &raw mut sources,
                &raw mut children,
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        let memory = Arc::new(TestMemory::default());
        if test_memory {
            engine::bind_memory(ctx, Arc::clone(&memory) as Arc<dyn EngineMemory>).unwrap();
        }
        Self {
            driver,
            adapter: Some(adapter),
            seen,
            memory,
            ctx,
        }
    }

    /// The model's adapter.
    pub fn adapter(&self) -> &Adapter {
        self.adapter.as_ref().unwrap()
    }

    fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        self.driver.table()
    }

    /// What the fake saw.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// The engine's state.
    pub fn state(&self) -> EngineState {
        engine::state(self.ctx).unwrap()
    }

    /// One `DxgkDdiBuildPagingBuffer` call into `buf` (whole), with
    /// `DmaBufferGpuVirtualAddress` = `va`; returns the status, the bytes
    /// used, and the updated block.
    pub fn build_once(
        &self,
        mut args: DXGKARG_BUILDPAGINGBUFFER,
        buf: &mut [u8],
        va: u64,
    ) -> (NTSTATUS, usize, DXGKARG_BUILDPAGINGBUFFER) {
        args.pDmaBuffer = buf.as_mut_ptr().cast();
        args.DmaSize = u32::try_from(buf.len()).unwrap();
        args.DmaBufferGpuVirtualAddress = va;
        args.DmaBufferWriteOffset = 0;
        let build = self.table().DxgkDdiBuildPagingBuffer.unwrap();
        // SAFETY: a live block whose DMA buffer is writable for DmaSize bytes.
        let status = unsafe { build(self.ctx, &raw mut args) };
        let used = buf.len() - usize::try_from(args.DmaSize).unwrap();
        assert_eq!(
            args.pDmaBuffer.addr() - buf.as_ptr().addr(),
            used,
            "pDmaBuffer advanced by what was written"
        );
        (status, used, args)
    }

    /// Builds an operation into as many DMA buffers of `capacity` bytes as
    /// it takes (the multipass protocol), returning them.
    pub fn build(&self, mut args: DXGKARG_BUILDPAGINGBUFFER, capacity: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut buf = vec![0u8; capacity];
            let (status, used, after) = self.build_once(args, &mut buf, 0);
            buf.truncate(used);
            out.push(buf);
            if status == STATUS_SUCCESS {
                assert_eq!(after.MultipassOffset, 0);
                return out;
            }
            assert_eq!(status.as_u32(), INSUFFICIENT_DMA_BUFFER);
            assert_ne!(after.MultipassOffset, 0, "progress kept across calls");
            args.MultipassOffset = after.MultipassOffset;
        }
    }

    /// `DxgkDdiSubmitCommand` of `buf` (a paging buffer) with `fence`.
    pub fn submit(&self, buf: &[u8], fence: u32) {
        let mut s = DXGKARG_SUBMITCOMMAND::zeroed();
        s.DmaBufferSegmentId = 1;
        s.DmaBufferPhysicalAddress.QuadPart = i64::try_from(buf.as_ptr().addr()).unwrap();
        s.DmaBufferSize = u32::try_from(buf.len()).unwrap();
        s.DmaBufferSubmissionEndOffset = s.DmaBufferSize;
        s.SubmissionFenceId = fence;
        s.Flags.Value = 1;
        let submit = self.table().DxgkDdiSubmitCommand.unwrap();
        IN_SUBMIT.with(|f| f.set(true));
        // SAFETY: a live block naming a buffer that outlives the fence.
        let status = unsafe { submit(self.ctx, &raw const s) };
        IN_SUBMIT.with(|f| f.set(false));
        assert_eq!(status, STATUS_SUCCESS);
    }

    /// `DxgkDdiSubmitCommandVirtual` of `len` bytes at GPU VA `va`.
    pub fn submit_virtual(&self, va: u64, len: usize, fence: u32) {
        let mut s = DXGKARG_SUBMITCOMMANDVIRTUAL::zeroed();
        s.DmaBufferVirtualAddress = va;
        s.DmaBufferSize = u32::try_from(len).unwrap();
        s.SubmissionFenceId = fence;
        s.Flags.Value = 1;
        let submit = self.table().DxgkDdiSubmitCommandVirtual.unwrap();
        IN_SUBMIT.with(|f| f.set(true));
        // SAFETY: a live block.
        let status = unsafe { submit(self.ctx, &raw const s) };
        IN_SUBMIT.with(|f| f.set(false));
        assert_eq!(status, STATUS_SUCCESS);
    }

    /// `DxgkDdiPreemptCommand`.
    pub fn preempt(&self, fence: u32) -> NTSTATUS {
        let p = DXGKARG_PREEMPTCOMMAND {
            PreemptionFenceId: fence,
            ..DXGKARG_PREEMPTCOMMAND::zeroed()
        };
        let preempt = self.table().DxgkDdiPreemptCommand.unwrap();
        // SAFETY: a live block.
        unsafe { preempt(self.ctx, &raw const p) }
    }

    /// `DxgkDdiQueryEngineStatus` of node `node`: (status, Responsive).
    pub fn engine_status(&self, node: u32) -> (NTSTATUS, bool) {
        let mut q = DXGKARG_QUERYENGINESTATUS::zeroed();
        q.NodeOrdinal = node;
        let f = self.table().DxgkDdiQueryEngineStatus.unwrap();
        // SAFETY: a live, writable block.
        let s = unsafe { f(self.ctx, &raw mut q) };
        (s, q.EngineStatus.Value & 1 != 0)
    }

    /// `DxgkDdiResetEngine` of node 0: (status, LastAbortedFenceId).
    pub fn reset_engine(&self) -> (NTSTATUS, u32) {
        let mut r = DXGKARG_RESETENGINE::zeroed();
        let f = self.table().DxgkDdiResetEngine.unwrap();
        // SAFETY: a live, writable block.
        let s = unsafe { f(self.ctx, &raw mut r) };
        (s, r.LastAbortedFenceId)
    }

    /// `DxgkDdiQueryDependentEngineGroup` of `node`: (status, mask).
    pub fn dependent_group(&self, node: u32) -> (NTSTATUS, u64) {
        let mut d = DXGKARG_QUERYDEPENDENTENGINEGROUP::zeroed();
        d.NodeOrdinal = node;
        let f = self.table().DxgkDdiQueryDependentEngineGroup.unwrap();
        // SAFETY: a live, writable block.
        let s = unsafe { f(self.ctx, &raw mut d) };
        (s, d.DependentNodeOrdinalMask)
    }

    /// `DxgkDdiResetFromTimeout` then `DxgkDdiRestartFromTimeout`.
    pub fn reset_and_restart_from_timeout(&self) -> (NTSTATUS, NTSTATUS) {
        let reset = self.table().DxgkDdiResetFromTimeout.unwrap();
        let restart = self.table().DxgkDdiRestartFromTimeout.unwrap();
        // SAFETY: takes only the adapter handle.
        let reset = unsafe { reset(self.ctx) };
        // SAFETY: takes only the adapter handle.
        let restart = unsafe { restart(self.ctx) };
        (reset, restart)
    }

    /// Waits (5 s at most) until `fence` is delivered through NotifyDpc.
    pub fn wait_delivered(&self, fence: u32) -> bool {
        self.wait(|s| s.delivered.contains(&fence))
    }

    /// Waits (5 s at most) until `done` holds of what the fake saw.
    pub fn wait(&self, done: impl Fn(&Seen) -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if done(&self.seen()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(a) = self.adapter.take() {
            let _ = a.remove();
        }
    }
}

/// A FILL of `size` bytes at `offset` of `segment`.
pub fn fill_args(segment: u32, offset: u64, size: u64, pattern: u32) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = DXGK_OPERATION_FILL;
    // The `Fill` alternative: FillSize, FillPattern, Destination.{SegmentId, SegmentAddress}.
    a.Transfer[1] = size;
    a.Transfer[2] = u64::from(pattern);
    a.Transfer[3] = u64::from(segment);
    a.Transfer[4] = offset;
    a
}

/// A TRANSFER of `size` bytes; an end with segment 0 names an MDL address.
pub fn transfer_args(src: (u32, u64), dst: (u32, u64), size: u64) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = DXGK_OPERATION_TRANSFER;
    // The `Transfer` alternative: TransferSize, Source, Destination.
    a.Transfer[2] = size;
    a.Transfer[3] = u64::from(src.0);
    a.Transfer[4] = src.1;
    a.Transfer[5] = u64::from(dst.0);
    a.Transfer[6] = dst.1;
    a
}

/// Any other operation, its union zeroed.
pub fn op_args(operation: DXGK_BUILDPAGINGBUFFER_OPERATION) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = operation;
    a
}
