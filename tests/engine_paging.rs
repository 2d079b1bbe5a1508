//! The software engine through the C ABI (issue 17 items 1-3): paging
//! buffers built by `DxgkDdiBuildPagingBuffer`, submitted through
//! `DxgkDdiSubmitCommand`, run by the driver's worker, and completed through
//! a fake of Dxgkrnl's four interrupt-path callbacks
//! (`DxgkCbSynchronizeExecution` -> `DxgkCbNotifyInterrupt` + `DxgkCbQueueDpc`,
//! then `DxgkDdiDpcRoutine` -> `DxgkCbNotifyDpc`). The fake checks what
//! Windows would bugcheck on: a fence completed out of order, a completion
//! inside SubmitCommand, a DPC never queued (fences never delivered).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, Driver};
use gpup_miniport::HostMdl;
use gpup_miniport::ddi::engine::host::{self as engine, Broken, EngineMemory};

/// What the fake Dxgkrnl saw of one adapter.
#[derive(Default)]
struct Seen {
    /// Fences reported complete, in order.
    completed: Vec<u32>,
    /// (preemption fence, last completed) reported.
    preempted: Vec<(u32, u32)>,
    /// Fences delivered by a DPC (NotifyDpc after QueueDpc).
    delivered: Vec<u32>,
    /// Completions not yet delivered.
    pending: Vec<u32>,
    dpc_queued: bool,
    in_sync: bool,
    /// Violations of Dxgkrnl's rules.
    errors: Vec<String>,
    in_submit: bool,
    miniport: usize,
}

type Fakes = Mutex<HashMap<usize, Arc<Mutex<Seen>>>>;
fn fakes() -> &'static Fakes {
    static F: OnceLock<Fakes> = OnceLock::new();
    F.get_or_init(Default::default)
}
fn seen(device: HANDLE) -> Option<Arc<Mutex<Seen>>> {
    fakes().lock().unwrap().get(&device.addr()).cloned()
}

static DPC: OnceLock<unsafe extern "system" fn(PVOID)> = OnceLock::new();

unsafe extern "system" fn synchronize_execution(
    device: HANDLE,
    routine: PKSYNCHRONIZE_ROUTINE,
    context: PVOID,
    _message: ULONG,
    ret: *mut BOOLEAN,
) -> NTSTATUS {
    let Some(s) = seen(device) else {
        return STATUS_INVALID_PARAMETER;
    };
    s.lock().unwrap().in_sync = true;
    let r = unsafe { routine.unwrap()(context) };
    if !ret.is_null() {
        unsafe { *ret = r };
    }
    let (queued, miniport) = {
        let mut g = s.lock().unwrap();
        g.in_sync = false;
        (std::mem::take(&mut g.dpc_queued), g.miniport)
    };
    if queued {
        // The DPC runs once the synchronised routine is done.
        unsafe { DPC.get().unwrap()(core::ptr::with_exposed_provenance_mut(miniport)) };
    }
    STATUS_SUCCESS
}

unsafe extern "system" fn notify_interrupt(
    device: HANDLE,
    data: *const DXGKARGCB_NOTIFY_INTERRUPT_DATA,
) {
    let s = seen(device).unwrap();
    let mut g = s.lock().unwrap();
    let d = unsafe { *data };
    if !g.in_sync {
        g.errors
            .push("NotifyInterrupt outside SynchronizeExecution".into());
    }
    if g.in_submit {
        g.errors.push("completion inside SubmitCommand".into());
    }
    match d.InterruptType {
        DXGK_INTERRUPT_DMA_COMPLETED => {
            let f = d.completed().SubmissionFenceId;
            if let Some(&l) = g.completed.last().filter(|&&l| f <= l) {
                g.errors.push(format!("fence {f} after {l}: out of order (0x119)"));
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
    let s = seen(device).unwrap();
    s.lock().unwrap().dpc_queued = true;
    1
}

unsafe extern "system" fn notify_dpc(device: HANDLE) {
    let s = seen(device).unwrap();
    let mut g = s.lock().unwrap();
    let p = std::mem::take(&mut g.pending);
    g.delivered.extend(p);
}

/// VRAM and system memory the test owns, with every write recorded.
#[derive(Default)]
struct TestMemory {
    bytes: Mutex<HashMap<(u32, u64), u8>>,
}

impl EngineMemory for TestMemory {
    fn write(&self, s: u32, o: u64, b: &[u8]) -> gpup_miniport::ddi::engine::host::Result<()> {
        let mut m = self.bytes.lock().unwrap();
        for (i, v) in b.iter().enumerate() {
            m.insert((s, o + i as u64), *v);
        }
        Ok(())
    }
    fn fill(
        &self,
        s: u32,
        o: u64,
        len: u64,
        p: u32,
    ) -> gpup_miniport::ddi::engine::host::Result<()> {
        let pat = p.to_le_bytes();
        let mut m = self.bytes.lock().unwrap();
        for i in 0..len {
            m.insert((s, o + i), pat[(i % 4) as usize]);
        }
        Ok(())
    }
    fn read(&self, s: u32, o: u64, out: &mut [u8]) -> gpup_miniport::ddi::engine::host::Result<()> {
        let m = self.bytes.lock().unwrap();
        for (i, v) in out.iter_mut().enumerate() {
            *v = m.get(&(s, o + i as u64)).copied().unwrap_or(0);
        }
        Ok(())
    }
}

struct Rig {
    _driver: Driver,
    adapter: Option<Adapter>,
    seen: Arc<Mutex<Seen>>,
    memory: Arc<TestMemory>,
    ctx: PVOID,
}

impl Rig {
    fn new() -> Self {
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
            .insert(kernel.DeviceHandle.addr(), seen.clone());
        let t = driver.table();
        let _ = DPC.set(t.DxgkDdiDpcRoutine.unwrap());
        let mut info = DXGK_START_INFO::zeroed();
        let (mut a, mut b) = (0, 0);
        let status = unsafe {
            t.DxgkDdiStartDevice.unwrap()(
                ctx,
                &raw mut info,
                &raw mut kernel,
                &raw mut a,
                &raw mut b,
            )
        };
        assert_eq!(status, STATUS_SUCCESS);
        let memory = Arc::new(TestMemory::default());
        engine::bind_memory(ctx, memory.clone()).unwrap();
        Self {
            _driver: driver,
            adapter: Some(adapter),
            seen,
            memory,
            ctx,
        }
    }

    fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        self._driver.table()
    }

    /// Builds `op` into a fresh DMA buffer of `capacity` bytes, as many
    /// buffers as it takes; returns the buffers.
    fn build(&self, mut args: DXGKARG_BUILDPAGINGBUFFER, capacity: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut buf = vec![0u8; capacity];
            args.pDmaBuffer = buf.as_mut_ptr().cast();
            args.DmaSize = capacity as u32;
            let status =
                unsafe { self.table().DxgkDdiBuildPagingBuffer.unwrap()(self.ctx, &raw mut args) };
            let used = capacity - args.DmaSize as usize;
            assert_eq!(
                args.pDmaBuffer.addr() - buf.as_ptr().addr(),
                used,
                "pDmaBuffer advanced"
            );
            buf.truncate(used);
            out.push(buf);
            if status == STATUS_SUCCESS {
                return out;
            }
            assert_eq!(status.as_u32(), 0xC01E_0001, "INSUFFICIENT_DMA_BUFFER");
            assert_ne!(args.MultipassOffset, 0);
        }
    }

    fn submit(&self, buf: &[u8], fence: u32) {
        let mut s = DXGKARG_SUBMITCOMMAND::zeroed();
        s.DmaBufferSegmentId = 1;
        s.DmaBufferPhysicalAddress.QuadPart = buf.as_ptr().addr() as i64;
        s.DmaBufferSize = buf.len() as u32;
        s.DmaBufferSubmissionEndOffset = buf.len() as u32;
        s.SubmissionFenceId = fence;
        s.Flags.Value = 1;
        self.seen.lock().unwrap().in_submit = true;
        let status = unsafe { self.table().DxgkDdiSubmitCommand.unwrap()(self.ctx, &raw const s) };
        self.seen.lock().unwrap().in_submit = false;
        assert_eq!(status, STATUS_SUCCESS);
    }

    /// Waits until `fence` is delivered (or the timeout).
    fn wait_delivered(&self, fence: u32) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if self.seen.lock().unwrap().delivered.contains(&fence) {
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

fn fill_args(segment: u32, offset: u64, size: u64, pattern: u32) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = DXGK_OPERATION_FILL;
    a.Transfer[1] = size; // FillSize
    a.Transfer[2] = u64::from(pattern); // FillPattern
    a.Transfer[3] = u64::from(segment); // Destination.SegmentId
    a.Transfer[4] = offset; // Destination.SegmentAddress
    a
}

fn transfer_args(src: (u32, u64), dst: (u32, u64), size: u64) -> DXGKARG_BUILDPAGINGBUFFER {
    let mut a = DXGKARG_BUILDPAGINGBUFFER::zeroed();
    a.Operation = DXGK_OPERATION_TRANSFER;
    a.Transfer[2] = size as u64; // TransferSize
    a.Transfer[3] = u64::from(src.0);
    a.Transfer[4] = src.1;
    a.Transfer[5] = u64::from(dst.0);
    a.Transfer[6] = dst.1;
    a
}

#[test]
fn fill_and_transfer_run_on_submission_in_fence_order_and_mark_dirty() {
    let rig = Rig::new();
    let adapter = rig.adapter.as_ref().unwrap();
    let basis = adapter.create_memory_basis(1, &[(0, 1 << 20)]).unwrap();
    assert_eq!(adapter.start_dirty_tracking(basis), STATUS_SUCCESS);

    // FILL 8 KiB at 64 KiB of segment 1: recorded now, not run.
    let fill = rig.build(fill_args(1, 64 << 10, 8 << 10, 0xA1B2_C3D4), 4096);
    assert_eq!(fill.len(), 1);
    assert!(
        rig.memory.bytes.lock().unwrap().is_empty(),
        "nothing runs at build time"
    );

    // TRANSFER 4 KiB from host memory (an MDL) to 128 KiB, and back out to another MDL.
    let src: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let src_mdl = HostMdl {
        Va: src.as_ptr().addr() as u64,
        ByteCount: 4096,
    };
    let down = rig.build(
        transfer_args(
            (0, (&raw const src_mdl).addr() as u64),
            (1, 128 << 10),
            4096,
        ),
        4096,
    );
    let mut dst = vec![0u8; 4096];
    let dst_mdl = HostMdl {
        Va: dst.as_mut_ptr().addr() as u64,
        ByteCount: 4096,
    };
    let up = rig.build(
        transfer_args(
            (1, 128 << 10),
            (0, (&raw const dst_mdl).addr() as u64),
            4096,
        ),
        4096,
    );

    rig.submit(&fill[0], 1);
    rig.submit(&down[0], 2);
    rig.submit(&up[0], 3);
    assert!(rig.wait_delivered(3), "fence 3 delivered through NotifyDpc");
    let g = rig.seen.lock().unwrap();
    assert_eq!(g.completed, [1, 2, 3]);
    assert_eq!(g.delivered, [1, 2, 3]);
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    drop(g);

    let mut back = [0u8; 8];
    rig.memory.read(1, (64 << 10) + 4, &mut back).unwrap();
    assert_eq!(back, [0xD4, 0xC3, 0xB2, 0xA1, 0xD4, 0xC3, 0xB2, 0xA1]);
    assert_eq!(dst, src, "VRAM -> system memory round trip");

    // Dirty: exactly the pages the engine wrote (16-17 for the fill, 32 for the transfer).
    let mut bits = vec![0u8; (1 << 20) / 4096 / 8];
    assert_eq!(
        adapter.query_dirty_bits(basis, None, true, &mut bits),
        STATUS_SUCCESS
    );
    let dirty: Vec<usize> = (0..256)
        .filter(|p| bits[p / 8] & (1 << (p % 8)) != 0)
        .collect();
    assert_eq!(dirty, [16, 17, 32]);
}

#[test]
fn a_big_fill_takes_several_dma_buffers_through_multipass_offset() {
    let rig = Rig::new();
    let size = 3 * gpup_miniport::engine::CHUNK + 12;
    let bufs = rig.build(fill_args(1, 0, size, 7), 2 * 64);
    assert_eq!(bufs.len(), 2, "4 commands in buffers of 2");
    for (i, b) in bufs.iter().enumerate() {
        rig.submit(b, 10 + i as u32);
    }
    assert!(rig.wait_delivered(11));
    let mut last = [0u8; 4];
    rig.memory.read(1, size - 4, &mut last).unwrap();
    assert_eq!(last, 7u32.to_le_bytes());
    let st = engine::state(rig.ctx).unwrap();
    assert_eq!((st.executed, st.last_completed), (4, 11));
}

#[test]
fn preemption_racing_completion_keeps_the_fence_stream_monotonic() {
    let rig = Rig::new();
    let fill = rig.build(fill_args(1, 0, 4096, 1), 4096);
    for round in 0..20u32 {
        let base = 100 + round * 10;
        rig.submit(&fill[0], base);
        rig.submit(&fill[0], base + 1);
        let p = DXGKARG_PREEMPTCOMMAND {
            PreemptionFenceId: round + 1,
            ..DXGKARG_PREEMPTCOMMAND::zeroed()
        };
        let s = unsafe { rig.table().DxgkDdiPreemptCommand.unwrap()(rig.ctx, &raw const p) };
        assert_eq!(s, STATUS_SUCCESS);
        rig.submit(&fill[0], base + 2);
        assert!(rig.wait_delivered(base + 2));
    }
    let g = rig.seen.lock().unwrap();
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    assert_eq!(g.preempted.len(), 20);
    for (p, last) in &g.preempted {
        // The last completed fence reported is one the engine did complete.
        assert!(
            *last == 0 || g.completed.contains(last),
            "preemption {p}: {last}"
        );
    }
}

#[test]
fn engine_status_reset_and_dependent_group_answer_from_the_engine() {
    let rig = Rig::new();
    let t = rig.table();
    let mut q = DXGKARG_QUERYENGINESTATUS::zeroed();
    assert_eq!(
        unsafe { t.DxgkDdiQueryEngineStatus.unwrap()(rig.ctx, &raw mut q) },
        STATUS_SUCCESS
    );
    assert_eq!(q.EngineStatus.Value & 1, 1, "responsive");
    // A buffer the engine cannot decode faults it: not responsive, no completion.
    let junk = vec![0xEEu8; 64];
    rig.submit(&junk, 5);
    let until = Instant::now() + Duration::from_secs(5);
    while engine::state(rig.ctx).unwrap().faulted == false && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        unsafe { t.DxgkDdiQueryEngineStatus.unwrap()(rig.ctx, &raw mut q) },
        STATUS_SUCCESS
    );
    assert_eq!(q.EngineStatus.Value & 1, 0, "not responsive after a fault");
    let mut r = DXGKARG_RESETENGINE::zeroed();
    assert_eq!(
        unsafe { t.DxgkDdiResetEngine.unwrap()(rig.ctx, &raw mut r) },
        STATUS_SUCCESS
    );
    assert_eq!(
        unsafe { t.DxgkDdiQueryEngineStatus.unwrap()(rig.ctx, &raw mut q) },
        STATUS_SUCCESS
    );
    assert_eq!(q.EngineStatus.Value & 1, 1, "responsive after the reset");
    let mut d = DXGKARG_QUERYDEPENDENTENGINEGROUP::zeroed();
    assert_eq!(
        unsafe { t.DxgkDdiQueryDependentEngineGroup.unwrap()(rig.ctx, &raw mut d) },
        STATUS_SUCCESS
    );
    assert_eq!(d.DependentNodeOrdinalMask, 1);
    d.NodeOrdinal = 3;
    assert_eq!(
        unsafe { t.DxgkDdiQueryDependentEngineGroup.unwrap()(rig.ctx, &raw mut d) },
        STATUS_INVALID_PARAMETER
    );
    assert!(rig.seen.lock().unwrap().completed.is_empty());
}

/// Runs two FILL buffers on an engine broken in `mode`; returns what the fake saw.
fn run_broken(mode: Broken) -> (Vec<String>, Vec<u32>, Vec<u32>) {
    let rig = Rig::new();
    engine::set_broken(rig.ctx, mode).unwrap();
    let fill = rig.build(fill_args(1, 0, 64, 1), 4096);
    rig.submit(&fill[0], 1);
    rig.submit(&fill[0], 2);
    let delivered = rig.wait_delivered(2);
    let g = rig.seen.lock().unwrap();
    let _ = delivered;
    (g.errors.clone(), g.completed.clone(), g.delivered.clone())
}

#[test]
fn the_checks_fail_on_an_engine_that_completes_fence_n_plus_1_before_n() {
    let (errors, completed, _) = run_broken(Broken::CompletesOutOfOrder);
    assert_eq!(completed, [2, 1]);
    assert!(
        errors.iter().any(|e| e.contains("out of order")),
        "{errors:?}"
    );
}

#[test]
fn the_checks_fail_on_an_engine_that_never_queues_the_dpc() {
    let (errors, completed, delivered) = run_broken(Broken::NeverQueuesDpc);
    assert_eq!(completed, [1, 2]);
    assert!(errors.is_empty());
    assert!(
        delivered.is_empty(),
        "no DPC, so no fence delivered: Dxgkrnl would TDR"
    );
}

#[test]
fn the_checks_fail_on_an_engine_that_completes_inside_submit_command() {
    let (errors, _, _) = run_broken(Broken::CompletesInSubmit);
    assert!(
        errors.iter().any(|e| e.contains("inside SubmitCommand")),
        "{errors:?}"
    );
}
