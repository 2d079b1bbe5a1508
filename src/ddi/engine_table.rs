//! The engines of the started adapters, found from `hAdapter` without a lock:
//! SubmitCommand, PreemptCommand and the DPC routine run at up to
//! DISPATCH_LEVEL, where the adapter table's lock may not be taken.
//!
//! Each slot holds an `AtomicPtr` to a leaked `Attached` and a count of the
//! DDIs using it. A reader counts itself in, then loads the pointer; the
//! detacher (StopDevice/RemoveDevice, PASSIVE_LEVEL) swaps the pointer out,
//! then waits for the count to drain before it stops the worker and frees
//! the engine (a rundown: all SeqCst, so a reader that saw the old pointer
//! is counted before the detacher checks the count).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use dxgk_sys::*;

use crate::engine::{DmaAddress, DmaDirectory, Engine, EngineHost, EngineMemory, SCRATCH};
use crate::foundation::status::{Result, Status};
use crate::kernel::KernelInterface;
use crate::kernel::sync::RwLock;
use crate::kernel::worker::{Worker, WorkerJob};

/// Engines at once (the adapter table's size).
const SLOTS: usize = 64;

/// An adapter's engine and what runs it.
pub(crate) struct Attached {
    key: usize,
    pub(crate) engine: Arc<Engine>,
    pub(crate) kernel: KernelInterface,
    job: Arc<Job>,
    worker: Option<Worker>,
}

struct Slot {
    ptr: AtomicPtr<Attached>,
    users: AtomicU32,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        ptr: AtomicPtr::new(core::ptr::null_mut()),
        users: AtomicU32::new(0),
    }
}; SLOTS];

/// The driver's binding of the engine to the platform and to Dxgkrnl.
pub(crate) struct Job {
    adapter: usize,
    engine: Arc<Engine>,
    kernel: KernelInterface,
    memory: RwLock<Arc<dyn EngineMemory>>,
    scratch: RwLock<Vec<u8>>,
    /// The DMA buffers BuildPagingBuffer recorded into, by GPU VA.
    pub(crate) dma: RwLock<DmaDirectory>,
}

/// The memory bound at attach until the coordinator binds the driver's VRAM
/// backing (wt/vram): stores nothing, reads zeros. Every write is still
/// marked dirty (the marking does not depend on the memory binding).
struct Unbacked;

impl EngineMemory for Unbacked {
    fn write(&self, _: u32, _: u64, _: &[u8]) -> Result<()> {
        Ok(())
    }
    fn fill(&self, _: u32, _: u64, _: u64, _: u32) -> Result<()> {
        Ok(())
    }
    fn read(&self, _: u32, _: u64, out: &mut [u8]) -> Result<()> {
        out.fill(0);
        Ok(())
    }
}

/// The context `DxgkCbSynchronizeExecution` passes to [`notify_routine`].
struct Notify {
    kernel: KernelInterface,
    data: DXGKARGCB_NOTIFY_INTERRUPT_DATA,
    queue_dpc: bool,
}

/// The interrupt-synchronised routine: `DxgkCbNotifyInterrupt`, then
/// `DxgkCbQueueDpc` (spec 5.3). Touches only its context (a stack record of
/// the caller, non-paged on Windows: kernel stacks are resident while
/// their thread runs): no lock, no allocation.
///
/// # Safety
/// `context` points to a live [`Notify`].
unsafe extern "system" fn notify_routine(context: PVOID) -> BOOLEAN {
    // SAFETY: a live `Notify` (this function's contract), only read.
    let n = unsafe { &*context.cast_const().cast::<Notify>() };
    n.kernel.notify_interrupt(&n.data);
    if n.queue_dpc {
        n.kernel.queue_dpc();
    }
    1
}

impl Job {
    fn notify(&self, data: DXGKARGCB_NOTIFY_INTERRUPT_DATA, queue_dpc: bool) {
        let mut n = Notify {
            kernel: self.kernel,
            data,
            queue_dpc,
        };
        // SAFETY: `n` lives until the call returns, which is when Dxgkrnl is
        // done with the routine and its context.
        let done = unsafe {
            self.kernel
                .synchronize_execution(notify_routine, (&raw mut n).cast())
        };
        if !done {
            crate::trace!("engine: DxgkCbSynchronizeExecution missing or failed");
        }
    }
}

impl Job {
    pub(crate) fn mark_dirty(&self, segment: u32, offset: u64, len: u64) -> Result<()> {
        // The tracker's marking path, the one `gpup_sw_mark_dirty` uses.
        // A segment the tracker does not know (the aperture) is untracked.
        let status = super::basis::sw_mark_dirty(
            core::ptr::with_exposed_provenance_mut(self.adapter),
            segment,
            offset,
            len,
        );
        if !status.is_success() {
            crate::trace!("engine: mark {}:{:#x}+{:#x} refused", segment, offset, len);
        }
        Ok(())
    }
    pub(crate) fn read_system(&self, mdl: u64, offset: u64, out: &mut [u8]) -> Result<()> {
        crate::kernel::dma::read_mdl(mdl, offset, out)
    }
    pub(crate) fn write_system(&self, mdl: u64, offset: u64, bytes: &[u8]) -> Result<()> {
        crate::kernel::dma::write_mdl(mdl, offset, bytes)
    }
    pub(crate) fn read_dma(&self, at: DmaAddress, offset: u64, out: &mut [u8]) -> Result<()> {
        if let DmaAddress::Virtual(va) = at {
            let len = u64::try_from(out.len()).map_err(|_| Status::InvalidParameter)?;
            let at_va = va.checked_add(offset).ok_or(Status::InvalidParameter)?;
            if let Some(kernel) = self.dma.read().resolve(at_va, len) {
                // SAFETY: a buffer BuildPagingBuffer recorded into, which
                // VidMm keeps mapped until its fence completes, and this
                // buffer's fence has not completed (it is being run).
                return unsafe { crate::kernel::dma::read_kernel(kernel, 0, out) };
            }
        }
        let address = match at {
            DmaAddress::Physical { address, .. } | DmaAddress::Virtual(address) => address,
        };
        crate::kernel::dma::read_dma(address, offset, out)
    }
    pub(crate) fn signal_fence(&self, va: u64, value: u64) -> Result<()> {
        crate::kernel::dma::write_fence(va, value)
    }
    pub(crate) fn completed(&self, fence: u32, node: u32, engine: u32, queue_dpc: bool) {
        self.notify(
            DXGKARGCB_NOTIFY_INTERRUPT_DATA::dma_completed(fence, node, engine),
            queue_dpc,
        );
    }
    pub(crate) fn preempted(&self, preemption: u32, last_completed: u32, node: u32, engine: u32) {
        self.notify(
            DXGKARGCB_NOTIFY_INTERRUPT_DATA::dma_preempted(
                preemption,
                last_completed,
                node,
                engine,
            ),
            true,
        );
    }
}

/// [`Job`] with the memory binding read once per run.
struct Bound<'a> {
    job: &'a Job,
    memory: &'a dyn EngineMemory,
}

impl EngineHost for Bound<'_> {
    fn memory(&self) -> &dyn EngineMemory {
        self.memory
    }
    fn mark_dirty(&self, s: u32, o: u64, l: u64) -> Result<()> {
        self.job.mark_dirty(s, o, l)
    }
    fn read_system(&self, m: u64, o: u64, out: &mut [u8]) -> Result<()> {
        self.job.read_system(m, o, out)
    }
    fn write_system(&self, m: u64, o: u64, b: &[u8]) -> Result<()> {
        self.job.write_system(m, o, b)
    }
    fn read_dma(&self, at: DmaAddress, o: u64, out: &mut [u8]) -> Result<()> {
        self.job.read_dma(at, o, out)
    }
    fn signal_fence(&self, va: u64, v: u64) -> Result<()> {
        self.job.signal_fence(va, v)
    }
    fn completed(&self, f: u32, n: u32, e: u32, q: bool) {
        self.job.completed(f, n, e, q);
    }
    fn preempted(&self, p: u32, l: u32, n: u32, e: u32) {
        self.job.preempted(p, l, n, e);
    }
}

impl Job {
    /// Runs the engine's pending work with the current memory binding.
    pub(crate) fn run_now(&self) {
        let memory = Arc::clone(&*self.memory.read());
        let mut scratch = self.scratch.write();
        let bound = Bound {
            job: self,
            memory: &*memory,
        };
        self.engine.run_pending(&bound, &mut scratch);
    }
}

impl WorkerJob for Job {
    fn run(&self) {
        self.run_now();
    }
}

/// Runs `f` on the engine of `hAdapter`, if it has one. Lock-free and
/// allocation-free: callable at up to DISPATCH_LEVEL.
pub(crate) fn with_engine<R>(h: *mut c_void, f: impl FnOnce(&Attached) -> R) -> Option<R> {
    let key = h.addr();
    if key == 0 {
        return None;
    }
    for slot in &TABLE {
        slot.users.fetch_add(1, Ordering::SeqCst);
        let p = slot.ptr.load(Ordering::SeqCst);
        // SAFETY: a non-NULL pointer in the table is a leaked `Attached`
        // that `detach` frees only after swapping it out and seeing `users`
        // drop to zero; this reader is counted in `users` until below.
        if let Some(a) = unsafe { p.as_ref() }.filter(|a| a.key == key) {
            let r = f(a);
            slot.users.fetch_sub(1, Ordering::SeqCst);
            return Some(r);
        }
        slot.users.fetch_sub(1, Ordering::SeqCst);
    }
    None
}

/// Gives the started adapter `h` its engine and worker (StartDevice, PASSIVE_LEVEL).
///
/// # Errors
/// `NoMemory`; `InsufficientResources` when no slot or thread is free.
pub(crate) fn attach(h: *mut c_void, kernel: KernelInterface) -> Result<()> {
    let key = h.addr();
    let engine = Arc::new(Engine::new()?);
    let mut scratch = Vec::new();
    scratch
        .try_reserve_exact(SCRATCH)
        .map_err(|_| Status::NoMemory)?;
    scratch.resize(SCRATCH, 0);
    let job = Arc::new(Job {
        adapter: key,
        engine: Arc::clone(&engine),
        kernel,
        memory: RwLock::try_new(Arc::new(Unbacked) as Arc<dyn EngineMemory>)?,
        scratch: RwLock::try_new(scratch)?,
        dma: RwLock::try_new(DmaDirectory::default())?,
    });
    let worker = Worker::spawn(Arc::clone(&job) as Arc<dyn WorkerJob>)?;
    let attached = Box::into_raw(Box::new(Attached {
        key,
        engine,
        kernel,
        job,
        worker: Some(worker),
    }));
    for slot in &TABLE {
        if slot
            .ptr
            .compare_exchange(
                core::ptr::null_mut(),
                attached,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        {
            return Ok(());
        }
    }
    // SAFETY: never published: this is the only pointer to it.
    drop(unsafe { Box::from_raw(attached) });
    Err(Status::InsufficientResources)
}

/// Takes the engine of `h` out of the table, waits for the DDIs using it,
/// stops its worker and frees it (StopDevice/RemoveDevice, PASSIVE_LEVEL;
/// nothing if it has none).
pub(crate) fn detach(h: *mut c_void) {
    let key = h.addr();
    for slot in &TABLE {
        let p = slot.ptr.load(Ordering::SeqCst);
        // SAFETY: as in `with_engine`: only this function frees, and only
        // what it swapped out itself; StopDevice/RemoveDevice of one adapter
        // do not run concurrently (Dxgkrnl's PnP serialisation).
        let mine = unsafe { p.as_ref() }.is_some_and(|a| a.key == key);
        if !mine
            || slot
                .ptr
                .compare_exchange(p, core::ptr::null_mut(), Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            continue;
        }
        while slot.users.load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
        }
        // SAFETY: swapped out above and no reader holds it any more.
        let mut attached = unsafe { Box::from_raw(p) };
        if let Some(worker) = attached.worker.take() {
            worker.stop();
        }
        return;
    }
}

/// Replaces the engine's memory binding (host tests; the coordinator's
/// VRAM-backing binding at merge).
#[cfg_attr(target_os = "windows", allow(dead_code))]
pub(crate) fn bind_memory(h: *mut c_void, memory: Arc<dyn EngineMemory>) -> Result<()> {
    let job = with_engine(h, |a| Arc::clone(&a.job)).ok_or(Status::InvalidParameter)?;
    *job.memory.write() = memory;
    Ok(())
}

/// Records where the DMA buffer at GPU VA `va` lies (BuildPagingBuffer, PASSIVE_LEVEL).
pub(crate) fn record_dma(a: &Attached, va: u64, kernel: u64, len: u64) {
    a.job.dma.write().record(va, kernel, len);
}

/// Wakes the worker of `a` (up to DISPATCH_LEVEL).
pub(crate) fn wake(a: &Attached) {
    if let Some(w) = &a.worker {
        w.wake();
    }
}

/// Runs the engine of `a` on the calling thread (the broken engine that
/// completes inside SubmitCommand; tests only).
pub(crate) fn run_inline(a: &Attached) {
    a.job.run_now();
}
