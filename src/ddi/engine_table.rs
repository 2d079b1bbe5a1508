//! The engines of the started adapters, found from `hAdapter` without a lock:
//! SubmitCommand, PreemptCommand and the DPC routine run at up to
//! DISPATCH_LEVEL, where the adapter table's lock may not be taken.
//!
//! Each slot holds an `AtomicPtr` to a heap [`Attached`] and a count of the
//! DDIs using it. A reader counts itself in, then loads the pointer; the
//! detacher (StopDevice/RemoveDevice, PASSIVE_LEVEL) swaps the pointer out,
//! then waits for the count to drain before it stops the worker and frees
//! the engine (a rundown: all SeqCst, so a reader that saw the old pointer
//! is counted before the detacher reads the count). `docs/engine.md`.
//!
//! Everything is reached by static dispatch (no trait objects in the
//! Windows image: its stack check follows every call); the only indirect
//! calls are Dxgkrnl's callbacks (`KernelInterface`).

use alloc::vec::Vec;
use core::cell::RefCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use dxgk_sys::*;

use crate::engine::{
    DmaAddress, DmaDirectory, Engine, EngineHost, EngineMemory, Root, SCRATCH, Ticket,
};
use crate::foundation::fallible;
use crate::foundation::status::{Result, Status};
use crate::foundation::units::SegmentId;
use crate::kernel::KernelInterface;
use crate::kernel::physmap::Segment0;
use crate::kernel::sync::{ReadGuard, RwLock, WriteGuard};
use crate::kernel::worker::{self, Signal, Thread, WorkerJob};
use crate::memory::backing::{Backing, Backings, WORD};

/// Engines at once (the adapter table's size).
const SLOTS: usize = 64;

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

/// Where the engine's VRAM bytes go.
pub(crate) enum MemoryBinding {
    /// The adapter's VRAM backings (`crate::memory::backing`), shared at
    /// StartDevice: the bytes the model's writers, copier and proof use too.
    Vram(Backings),
    /// A host test's memory.
    #[cfg(not(target_os = "windows"))]
    Test(alloc::sync::Arc<dyn EngineMemory>),
}

impl EngineMemory for MemoryBinding {
    fn write(&self, segment: u32, offset: u64, bytes: &[u8]) -> Result<()> {
        match self {
            Self::Vram(v) => v.segment(SegmentId(segment))?.write_bytes(offset, bytes),
            #[cfg(not(target_os = "windows"))]
            Self::Test(m) => m.write(segment, offset, bytes),
        }
    }
    fn fill(&self, segment: u32, offset: u64, len: u64, pattern: u32) -> Result<()> {
        match self {
            Self::Vram(v) => fill(v.segment(SegmentId(segment))?, offset, len, pattern),
            #[cfg(not(target_os = "windows"))]
            Self::Test(m) => m.fill(segment, offset, len, pattern),
        }
    }
    fn read(&self, segment: u32, offset: u64, out: &mut [u8]) -> Result<()> {
        match self {
            Self::Vram(v) => v.segment(SegmentId(segment))?.read_bytes(offset, out),
            #[cfg(not(target_os = "windows"))]
            Self::Test(m) => m.read(segment, offset, out),
        }
    }
}

/// FILL on a backing: whole words where the span is word-aligned (a zero
/// fill commits nothing), otherwise the repeated pattern stored bytewise
/// from a small stack buffer, in bounded pieces.
fn fill(backing: &Backing, offset: u64, len: u64, pattern: u32) -> Result<()> {
    let word = u64::from(pattern) | (u64::from(pattern) << 32);
    if offset.is_multiple_of(WORD) && len.is_multiple_of(WORD) {
        return backing.fill(offset, len, word);
    }
    let mut piece = [0u8; 64];
    for (i, b) in piece.iter_mut().enumerate() {
        *b = pattern.to_le_bytes().get(i % 4).copied().unwrap_or(0);
    }
    // Pieces of 64 bytes (a multiple of 4) keep the pattern's phase: each
    // piece starts on a whole pattern from the fill's start.
    let mut done = 0u64;
    while done < len {
        let n = len.saturating_sub(done).min(64);
        let at = offset.checked_add(done).ok_or(Status::InvalidParameter)?;
        let bytes = piece
            .get(..usize::try_from(n).map_err(|_| Status::InvalidParameter)?)
            .ok_or(Status::InvalidParameter)?;
        backing.write_bytes(at, bytes)?;
        done = done.saturating_add(n);
    }
    Ok(())
}

/// An adapter's engine and everything its worker uses: one heap block at a
/// stable address, shared by the DDIs and the worker thread.
pub(crate) struct Job {
    adapter: usize,
    pub(crate) engine: Engine,
    pub(crate) kernel: KernelInterface,
    memory: RwLock<MemoryBinding>,
    scratch: RwLock<Vec<u8>>,
    /// The DMA buffers BuildPagingBuffer recorded into (`engine::dma_dir`):
    /// written by BuildPagingBuffer and read by the worker, both at
    /// PASSIVE_LEVEL; never by the submit DDIs.
    dma: RwLock<DmaDirectory>,
    /// System memory by physical address (on Windows the one-page reserved
    /// mapping, made at attach and freed with the job at detach).
    segment0: RwLock<Segment0>,
    signal: Signal,
}

/// A table entry: the job (exactly one, in its own heap block, so that its
/// address never changes) and the thread running it.
pub(crate) struct Attached {
    key: usize,
    job: Vec<Job>,
    thread: Option<Thread>,
}

impl Attached {
    /// The job.
    pub(crate) fn job(&self) -> Option<&Job> {
        self.job.first()
    }
}

/// The context `DxgkCbSynchronizeExecution` passes to [`notify_routine`].
struct Notify {
    kernel: KernelInterface,
    data: DXGKARGCB_NOTIFY_INTERRUPT_DATA,
    queue_dpc: bool,
}

/// The interrupt-synchronised routine: `DxgkCbNotifyInterrupt`, then
/// `DxgkCbQueueDpc` (spec 5.3). Touches only its context, a stack record
/// of the worker thread (resident while it runs): no lock, no allocation,
/// nothing pageable.
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

    /// Runs the engine's pending work (the worker; PASSIVE_LEVEL).
    pub(crate) fn run_now(&self) {
        let memory = self.memory.read();
        let mut scratch = self.scratch.write();
        let segment0 = RefCell::new(self.segment0.write());
        let bound = Bound {
            job: self,
            memory,
            segment0,
        };
        self.engine.run_pending(&bound, &mut scratch);
    }

    /// Records where a DMA buffer lies, `len` bytes at kernel address
    /// `kernel` and GPU VA `va` (0: none), and returns the ticket its
    /// private data is to hold (BuildPagingBuffer, PASSIVE_LEVEL).
    pub(crate) fn record_dma(&self, va: u64, kernel: u64, len: u64) -> Option<Ticket> {
        self.dma.write().record(va, kernel, len)
    }

    /// Wakes the worker (up to DISPATCH_LEVEL).
    pub(crate) fn wake(&self) {
        self.signal.wake();
    }
}

impl WorkerJob for Job {
    fn signal(&self) -> &Signal {
        &self.signal
    }
    fn run(&self) {
        self.run_now();
    }
}

/// The job with its memory binding and its segment-0 access held for one
/// run (the access is used through `&mut`: one page mapped at a time).
struct Bound<'a> {
    job: &'a Job,
    memory: ReadGuard<'a, MemoryBinding>,
    segment0: RefCell<WriteGuard<'a, Segment0>>,
}

impl<'a> Bound<'a> {
    /// The segment-0 access (never borrowed twice: the engine makes one
    /// access at a time).
    fn segment0(&self) -> Result<core::cell::RefMut<'_, WriteGuard<'a, Segment0>>> {
        self.segment0
            .try_borrow_mut()
            .map_err(|_| Status::InvalidParameter)
    }
}

impl EngineHost for Bound<'_> {
    type Memory = MemoryBinding;

    fn memory(&self) -> &MemoryBinding {
        &self.memory
    }

    fn mark_dirty(&self, segment: u32, offset: u64, len: u64) -> Result<()> {
        // The tracker's marking path, the one `gpup_sw_mark_dirty` uses (no
        // lock: the adapter's published mark state, in a grace-period read
        // section). A segment
        // the tracker does not know (the aperture) is untracked.
        let status = super::basis::sw_mark_dirty(
            core::ptr::with_exposed_provenance_mut(self.job.adapter),
            segment,
            offset,
            len,
        );
        if !status.is_success() {
            crate::trace!("engine: mark of segment {} refused", segment);
        }
        Ok(())
    }

    fn read_system(&self, mdl: u64, offset: u64, out: &mut [u8]) -> Result<()> {
        crate::kernel::dma::read_mdl(mdl, offset, out)
    }

    fn write_system(&self, mdl: u64, offset: u64, bytes: &[u8]) -> Result<()> {
        crate::kernel::dma::write_mdl(mdl, offset, bytes)
    }

    fn read_dma(
        &self,
        at: DmaAddress,
        ticket: Option<Ticket>,
        offset: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let len = u64::try_from(out.len()).map_err(|_| Status::InvalidParameter)?;
        let found = {
            let dma = self.job.dma.read();
            let va = match at {
                DmaAddress::Virtual(va) => Some(va),
                DmaAddress::Physical { .. } => None,
            };
            // The private data's record first, whatever the address form;
            // then the GPU VA BuildPagingBuffer recorded.
            ticket
                .and_then(|t| dma.resolve_ticket(t, va, offset, len))
                .or_else(|| {
                    let at_va = va?.checked_add(offset)?;
                    dma.resolve(at_va, len)
                })
        };
        if let Some(kernel) = found {
            // SAFETY: a buffer BuildPagingBuffer recorded into, which
            // VidMm keeps mapped until its fence completes, and this
            // buffer's fence has not completed (it is being run); the
            // directory bounded the read by the length recorded.
            return unsafe { crate::kernel::dma::read_kernel(kernel, 0, out) };
        }
        let address = match at {
            DmaAddress::Physical { address, .. } | DmaAddress::Virtual(address) => address,
        };
        crate::kernel::dma::read_dma(address, offset, out)
    }

    fn read_physical(&self, address: u64, out: &mut [u8]) -> Result<()> {
        self.segment0()?.read(address, out)
    }

    fn write_physical(&self, address: u64, bytes: &[u8]) -> Result<()> {
        self.segment0()?.write(address, bytes)
    }

    fn root_table(&self, context: u64) -> Option<Root> {
        // The record SetRootPageTable keeps (lock-free, `render::root`);
        // a value that is not a context handle has none.
        let raw = core::ptr::without_provenance_mut(usize::try_from(context).ok()?);
        let root =
            crate::render::root::recorded(crate::render::ContextHandle::from_raw(raw).ok()?)?;
        Some(Root {
            segment: root.segment,
            address: root.offset,
            entries: root.entries,
        })
    }

    fn signal_fence(&self, va: u64, value: u64) -> Result<()> {
        // The direct path, taken when the paging context's tables do not
        // map `va` (`engine::vaddr::write_fence`). On the host a VA inside
        // the GPU's address space is a GPU VA, never a host address (the
        // stand-in's memory lies far above 2^30): only the walk reaches it.
        #[cfg(not(target_os = "windows"))]
        if va >> crate::mmu::VIRTUAL_ADDRESS_BITS == 0 {
            return Err(Status::InvalidParameter);
        }
        crate::kernel::dma::write_fence(va, value)
    }

    fn completed(&self, fence: u32, node: u32, engine: u32, queue_dpc: bool) {
        self.job.notify(
            DXGKARGCB_NOTIFY_INTERRUPT_DATA::dma_completed(fence, node, engine),
            queue_dpc,
        );
    }

    fn preempted(&self, preemption: u32, last_completed: u32, node: u32, engine: u32) {
        self.job.notify(
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

/// Runs `f` on the entry of `hAdapter`, if it has an engine. Lock-free and
/// allocation-free: callable at up to DISPATCH_LEVEL.
pub(crate) fn with_engine<R>(h: *mut c_void, f: impl FnOnce(&Job) -> R) -> Option<R> {
    let key = h.addr();
    if key == 0 {
        return None;
    }
    for slot in &TABLE {
        slot.users.fetch_add(1, Ordering::SeqCst);
        let p = slot.ptr.load(Ordering::SeqCst);
        // SAFETY: a non-NULL pointer in the table is a live `Attached` that
        // `detach` frees only after swapping it out and seeing `users` drop
        // to zero; this reader is counted in `users` until below.
        let found = unsafe { p.as_ref() }
            .filter(|a| a.key == key)
            .and_then(Attached::job);
        if let Some(job) = found {
            let r = f(job);
            slot.users.fetch_sub(1, Ordering::SeqCst);
            return Some(r);
        }
        slot.users.fetch_sub(1, Ordering::SeqCst);
    }
    None
}

/// One value in its own heap block (a `Vec` of one: the allocation fails
/// softly, where `Box::new` would abort).
fn one<T>(value: T) -> Result<Vec<T>> {
    let mut v = fallible::try_vec(1)?;
    fallible::push(&mut v, value)?;
    Ok(v)
}

/// Gives the started adapter `h` its engine and worker (StartDevice, PASSIVE_LEVEL).
///
/// # Errors
/// `NoMemory`; `InsufficientResources` when no slot or thread is free.
pub(crate) fn attach(h: *mut c_void, kernel: KernelInterface, memory: MemoryBinding) -> Result<()> {
    let mut scratch = fallible::try_vec(SCRATCH)?;
    for _ in 0..SCRATCH {
        fallible::push(&mut scratch, 0u8)?;
    }
    let mut job = one(Job {
        adapter: h.addr(),
        engine: Engine::new()?,
        kernel,
        memory: RwLock::try_new(memory)?,
        scratch: RwLock::try_new(scratch)?,
        dma: RwLock::try_new(DmaDirectory::new()?)?,
        segment0: RwLock::try_new(Segment0::new()?)?,
        signal: Signal::new(),
    })?;
    let first = job.first_mut().ok_or(Status::NoMemory)?;
    first.signal.init();
    let job_ptr = job.as_ptr();
    // Every allocation is made before the thread starts: a failure after it
    // would have to stop it again.
    let mut entry = one(Attached {
        key: h.addr(),
        job,
        thread: None,
    })?;
    // SAFETY: the job's heap block (moving its `Vec` into the entry did not
    // move it) outlives the thread: `detach` (or the failure path below)
    // stops the thread before the block is freed.
    let thread = unsafe { worker::spawn(job_ptr) }?;
    if let Some(a) = entry.first_mut() {
        // The worker holds only the job's block, not the entry: this write
        // aliases nothing it reads.
        a.thread = Some(thread);
    }
    let p = entry.as_mut_ptr();
    for slot in &TABLE {
        if slot
            .ptr
            .compare_exchange(core::ptr::null_mut(), p, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // Owned by the table from now on; `detach` rebuilds the Vec.
            core::mem::forget(entry);
            return Ok(());
        }
    }
    stop(entry.first_mut());
    Err(Status::InsufficientResources)
}

/// Stops the thread of an entry (PASSIVE_LEVEL).
fn stop(entry: Option<&mut Attached>) {
    if let Some(a) = entry
        && let Some(thread) = a.thread.take()
        && let Some(job) = a.job.first()
    {
        thread.stop(job);
    }
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
        // SAFETY: `p` came from a `Vec` of length and capacity 1 that
        // `attach` forgot; it was swapped out above and no reader holds it.
        let mut entry = unsafe { Vec::from_raw_parts(p, 1, 1) };
        stop(entry.first_mut());
        return;
    }
}

/// Replaces the engine's memory binding (host tests; the coordinator's
/// VRAM-backing binding at merge). PASSIVE_LEVEL.
///
/// # Errors
/// `InvalidParameter` for an adapter without an engine.
#[cfg(not(target_os = "windows"))]
pub(crate) fn bind_memory(h: *mut c_void, memory: MemoryBinding) -> Result<()> {
    with_engine(h, |job| *job.memory.write() = memory).ok_or(Status::InvalidParameter)
}
