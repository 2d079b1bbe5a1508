//! The software engine (`../shared/spec/adapter-start.md` section 5): the
//! adapter's one node, run on the CPU by a driver worker.
//!
//! - [`command`]: the command format `DxgkDdiBuildPagingBuffer` records into
//!   DMA buffers, and the paging operations it splits into commands;
//! - [`dma_dir`]: where recorded DMA buffers lie in kernel memory, by the
//!   record BuildPagingBuffer leaves in a buffer's private data or by GPU
//!   virtual address (how the worker reads a submitted buffer);
//! - [`vaddr`]: the hardware page-table entry, the GPU-VA walk and the
//!   VIRTUAL operations executed through it;
//! - [`ring`]: the lock-free submission ring SubmitCommand and
//!   PreemptCommand push into (at up to DISPATCH_LEVEL);
//! - here: [`Engine`], its fence state and TDR state, and
//!   [`Engine::run_pending`], which the worker (`crate::kernel::worker`)
//!   calls to execute the queued buffers in fence order and report each
//!   through an [`EngineHost`] (completion: `crate::ddi` calls
//!   `DxgkCbSynchronizeExecution` -> `DxgkCbNotifyInterrupt` + `DxgkCbQueueDpc`).
//!
//! The engine writes VRAM through [`EngineMemory`] and marks every byte it
//! writes into a segment through [`EngineHost::mark_dirty`], which the
//! driver binds to the memory-basis tracker's marking path (the one
//! `gpup_sw_mark_dirty` uses): the engine is a writer the dirty-bit contract
//! sees. `docs/engine.md` documents all of it.

mod access;
pub mod command;
pub mod dma_dir;
mod exec;
#[cfg(all(test, loom))]
mod model_ring;
pub mod ring;
pub mod vaddr;

use crate::foundation::status::{Result, Status};
use crate::kernel::sync::{AtomicU32, AtomicU64, Ordering};

pub use command::{CHUNK, COMMAND_SIZE, Command, Location, PagingOp};
pub use dma_dir::{DmaDirectory, Ticket};
pub use exec::SCRATCH;
pub use vaddr::Root;

/// Entries of the submission ring. Dxgkrnl's scheduler keeps a bounded
/// number of DMA packets queued per node (its hardware queue); 1024 is far
/// above what it has in flight (`docs/engine.md`, "Ring bound"). A full ring
/// is not expected; if it happens the engine faults (see [`Engine::submit`]).
pub const RING_CAPACITY: usize = 1024;

/// VRAM as the engine sees it: byte access by (segment, offset). The
/// coordinator binds it to the driver's VRAM backing (`src/memory`); tests
/// bind a memory of their own.
pub trait EngineMemory: Send + Sync {
    /// Stores `bytes` at `offset` of segment `segment`.
    ///
    /// # Errors
    /// The backing's failure (a range outside the segment, say).
    fn write(&self, segment: u32, offset: u64, bytes: &[u8]) -> Result<()>;
    /// Fills `len` bytes at `offset` with the 32-bit `pattern` repeated.
    ///
    /// # Errors
    /// The backing's failure.
    fn fill(&self, segment: u32, offset: u64, len: u64, pattern: u32) -> Result<()>;
    /// Reads `out.len()` bytes at `offset`.
    ///
    /// # Errors
    /// The backing's failure.
    fn read(&self, segment: u32, offset: u64, out: &mut [u8]) -> Result<()>;
}

/// Where a submitted DMA buffer lies, as SubmitCommand(Virtual) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmaAddress {
    /// A segment (or 0: contiguous system memory) and a physical address.
    Physical {
        /// `DmaBufferSegmentId`.
        segment: u32,
        /// `DmaBufferPhysicalAddress`.
        address: u64,
    },
    /// `DmaBufferVirtualAddress` (SubmitCommandVirtual).
    Virtual(u64),
}

/// What the engine needs of the platform and of Dxgkrnl while it runs.
pub trait EngineHost {
    /// The VRAM binding.
    type Memory: EngineMemory;
    /// VRAM.
    fn memory(&self) -> &Self::Memory;
    /// Marks `len` bytes at `offset` of `segment` dirty, through the tracker.
    ///
    /// # Errors
    /// The tracker's refusal (a span outside the segment).
    fn mark_dirty(&self, segment: u32, offset: u64, len: u64) -> Result<()>;
    /// Reads `out.len()` bytes of the system memory `mdl` describes, from `offset`.
    ///
    /// # Errors
    /// `NotSupported` where MDLs cannot be resolved; `InvalidParameter` out of range.
    fn read_system(&self, mdl: u64, offset: u64, out: &mut [u8]) -> Result<()>;
    /// Writes `bytes` into the system memory `mdl` describes, at `offset`.
    ///
    /// # Errors
    /// As [`Self::read_system`].
    fn write_system(&self, mdl: u64, offset: u64, bytes: &[u8]) -> Result<()>;
    /// Reads submitted DMA-buffer bytes: `out.len()` bytes from `offset` of
    /// the buffer at `at`, whose private data held `ticket` when submitted
    /// (`dma_dir`: the ticket is tried first, then the address form).
    ///
    /// # Errors
    /// `NotSupported` where the buffer cannot be resolved.
    fn read_dma(
        &self,
        at: DmaAddress,
        ticket: Option<Ticket>,
        offset: u64,
        out: &mut [u8],
    ) -> Result<()>;
    /// Reads `out.len()` bytes of system memory at `address` (segment 0: a
    /// page table, or a page a table maps there).
    ///
    /// # Errors
    /// `NotSupported` where system memory cannot be reached by address
    /// (Windows without the reserved-mapping routines, `docs/engine.md`
    /// O-ENG-3; the default).
    fn read_physical(&self, address: u64, out: &mut [u8]) -> Result<()> {
        let _ = (address, out);
        Err(Status::NotSupported)
    }
    /// Writes `bytes` into system memory at `address`.
    ///
    /// # Errors
    /// As [`Self::read_physical`].
    fn write_physical(&self, address: u64, bytes: &[u8]) -> Result<()> {
        let _ = (address, bytes);
        Err(Status::NotSupported)
    }
    /// The root page table the last SetRootPageTable of `context` (a
    /// context handle's value) gave, or `None` (the default).
    fn root_table(&self, context: u64) -> Option<Root> {
        let _ = context;
        None
    }
    /// Writes a monitored fence's value at its GPU virtual address by the
    /// platform's direct path, which the engine takes only when the paging
    /// context's tables do not map the VA (`vaddr::write_fence`).
    ///
    /// # Errors
    /// `NotSupported` where the address cannot be resolved.
    fn signal_fence(&self, va: u64, value: u64) -> Result<()>;
    /// Reports fence `fence` complete (`DXGK_INTERRUPT_DMA_COMPLETED`);
    /// `queue_dpc` false only for the broken engine that never queues it.
    fn completed(&self, fence: u32, node: u32, engine: u32, queue_dpc: bool);
    /// Reports a preemption (`DXGK_INTERRUPT_DMA_PREEMPTED`).
    fn preempted(&self, preemption: u32, last_completed: u32, node: u32, engine: u32);
}

/// A deliberately broken engine, for the tests that show the completion
/// checks can fail (issue 17's acceptance). Never set outside tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Broken {
    /// Behaves.
    No = 0,
    /// Reports fence N+1 before fence N.
    CompletesOutOfOrder = 1,
    /// Never queues the DPC after NotifyInterrupt.
    NeverQueuesDpc = 2,
    /// Executes and completes inside SubmitCommand.
    CompletesInSubmit = 3,
    /// Writes VRAM without marking what it wrote dirty (the migration
    /// proof must then fail: `gpup-sim migrate --engine-drops-marks`).
    DropsMarks = 4,
    /// Translates a GPU VA ignoring the leaf index (every VA of a 2 MiB
    /// range lands on the leaf table's first page): the VIRTUAL tests must
    /// catch it (`tests/engine_vaddr.rs`).
    IgnoresLeafIndex = 5,
    /// Writes a monitored fence by the platform's direct path only, never
    /// through the paging context's tables (O-ENG-2 undone): a fence at a
    /// real GPU VA must then fault (`tests/engine_vaddr.rs`).
    FenceSkipsWalk = 6,
    /// Writes through read-only leaf entries as if they were writable: the
    /// ReadOnly flag must fault a write (`ddi-check/tests/engine_vaddr_ops.rs`).
    IgnoresReadOnly = 7,
    /// BuildPagingBuffer writes no record into the buffer's private data:
    /// a buffer submitted by a physical address that is not a host address
    /// must then fault (`tests/paging_process.rs`).
    WritesNoPrivateData = 8,
}

const KIND_SUBMIT: u64 = 1;
const KIND_PREEMPT: u64 = 2;
const VIRTUAL_SEGMENT: u64 = u32::MAX as u64;
/// Marks [`Engine`]'s held completion as present (the out-of-order broken engine).
const HELD: u64 = 1 << 63;

/// One node's engine.
///
/// # Invariants
/// Fences are reported complete in ring order, which is submission order:
/// the fence stream Dxgkrnl sees is monotonic.
pub struct Engine {
    ring: ring::Ring,
    preempts_queued: AtomicU32,
    last_submitted: AtomicU32,
    last_completed: AtomicU32,
    faulted: AtomicU32,
    broken: AtomicU32,
    executed_commands: AtomicU64,
    recorded_commands: AtomicU64,
    preempted_buffers: AtomicU64,
    /// The completion the out-of-order broken engine holds back (0: none).
    held: AtomicU64,
}

/// What [`Engine::state`] reports, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineState {
    /// The last fence SubmitCommand queued.
    pub last_submitted: u32,
    /// The last fence reported complete.
    pub last_completed: u32,
    /// Whether the engine faulted (not responsive until reset).
    pub faulted: bool,
    /// Commands executed.
    pub executed: u64,
    /// Commands recorded without effect (MAP_APERTURE, FLUSH_TLB, a page-table
    /// update the platform cannot reach, ...).
    pub recorded: u64,
    /// Buffers not run because a preemption was queued behind them.
    pub preempted: u64,
}

impl Engine {
    /// An idle engine with its ring allocated (PASSIVE_LEVEL).
    ///
    /// # Errors
    /// `NoMemory`.
    pub fn new() -> Result<Self> {
        Self::with_capacity(RING_CAPACITY)
    }

    /// An idle engine whose ring holds `capacity` entries (a power of two).
    ///
    /// # Errors
    /// `NoMemory`; `InvalidParameter` for a capacity that is not a power of two.
    pub fn with_capacity(capacity: usize) -> Result<Self> {
        Ok(Self {
            ring: ring::Ring::new(capacity)?,
            preempts_queued: AtomicU32::new(0),
            last_submitted: AtomicU32::new(0),
            last_completed: AtomicU32::new(0),
            faulted: AtomicU32::new(0),
            broken: AtomicU32::new(0),
            executed_commands: AtomicU64::new(0),
            recorded_commands: AtomicU64::new(0),
            preempted_buffers: AtomicU64::new(0),
            held: AtomicU64::new(0),
        })
    }

    /// Makes this a broken engine (tests only).
    pub fn set_broken(&self, mode: Broken) {
        self.broken.store(mode as u32, Ordering::SeqCst);
    }

    /// The broken mode.
    pub fn broken(&self) -> Broken {
        match self.broken.load(Ordering::SeqCst) {
            1 => Broken::CompletesOutOfOrder,
            2 => Broken::NeverQueuesDpc,
            3 => Broken::CompletesInSubmit,
            4 => Broken::DropsMarks,
            5 => Broken::IgnoresLeafIndex,
            6 => Broken::FenceSkipsWalk,
            7 => Broken::IgnoresReadOnly,
            8 => Broken::WritesNoPrivateData,
            _ => Broken::No,
        }
    }

    /// Queues a submitted DMA buffer: `[start, end)` of the buffer at `at`,
    /// with the ticket its private data held (`dma_dir`), if any.
    /// At up to DISPATCH_LEVEL: no allocation, no lock, no wait. Returns
    /// whether the worker must be woken. A full ring (not expected, see
    /// [`RING_CAPACITY`]) faults the engine: the buffer is not run, and
    /// QueryEngineStatus reports the engine not responsive, so Dxgkrnl's TDR
    /// resets it ([`Engine::reset`]) instead of waiting forever.
    pub fn submit(
        &self,
        fence: u32,
        node: u32,
        engine: u32,
        at: DmaAddress,
        ticket: Option<Ticket>,
        (start, end): (u32, u32),
    ) -> bool {
        let (segment, address) = match at {
            DmaAddress::Physical { segment, address } => (u64::from(segment), address),
            DmaAddress::Virtual(va) => (VIRTUAL_SEGMENT, va),
        };
        // The ticket rides in bits the entry leaves free: its index in the
        // head's bits 24..32, its generation (never 0; 0: no ticket) in the
        // segment word's upper half.
        let (index, generation) = ticket.map_or((0, 0), |t| (t.index, t.generation));
        let head = KIND_SUBMIT
            | (u64::from(node & 0xFF) << 8)
            | (u64::from(engine & 0xFF) << 16)
            | (u64::from(index) << 24);
        let entry = [
            head | (u64::from(fence) << 32),
            address,
            u64::from(start) | (u64::from(end) << 32),
            (segment & 0xFFFF_FFFF) | (u64::from(generation) << 32),
        ];
        self.last_submitted.store(fence, Ordering::SeqCst);
        if self.ring.push(entry) {
            true
        } else {
            self.faulted.store(1, Ordering::SeqCst);
            false
        }
    }

    /// Queues a preemption request (PreemptCommand, up to DISPATCH_LEVEL).
    /// Buffers queued before it are not run but reported preempted together
    /// with the last fence completed; a buffer already running completes
    /// first. Returns whether the worker must be woken.
    pub fn preempt(&self, fence: u32, node: u32, engine: u32) -> bool {
        let head = KIND_PREEMPT | (u64::from(node & 0xFF) << 8) | (u64::from(engine & 0xFF) << 16);
        self.preempts_queued.fetch_add(1, Ordering::SeqCst);
        if self.ring.push([head | (u64::from(fence) << 32), 0, 0, 0]) {
            true
        } else {
            self.preempts_queued.fetch_sub(1, Ordering::SeqCst);
            self.faulted.store(1, Ordering::SeqCst);
            false
        }
    }

    /// Whether the engine is responsive (QueryEngineStatus).
    pub fn responsive(&self) -> bool {
        self.faulted.load(Ordering::SeqCst) == 0
    }

    /// The engine's state.
    pub fn state(&self) -> EngineState {
        EngineState {
            last_submitted: self.last_submitted.load(Ordering::SeqCst),
            last_completed: self.last_completed.load(Ordering::SeqCst),
            faulted: !self.responsive(),
            executed: self.executed_commands.load(Ordering::SeqCst),
            recorded: self.recorded_commands.load(Ordering::SeqCst),
            preempted: self.preempted_buffers.load(Ordering::SeqCst),
        }
    }

    /// ResetEngine / ResetFromTimeout: drops every queued buffer unrun and
    /// clears the fault. Returns the last fence aborted (the last submitted,
    /// when anything was dropped or a buffer faulted; else the last completed). Called with the
    /// worker idle or racing: a buffer the worker already took completes
    /// normally, which keeps the fence stream monotonic.
    pub fn reset(&self) -> u32 {
        let mut dropped = false;
        while let Some(entry) = self.ring.pop() {
            dropped = true;
            if entry[0] & 0xFF == KIND_PREEMPT {
                self.preempts_queued.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.held.store(0, Ordering::SeqCst);
        // The buffer the engine faulted on was aborted too.
        let faulted = self.faulted.swap(0, Ordering::SeqCst) != 0;
        if dropped || faulted {
            self.last_submitted.load(Ordering::SeqCst)
        } else {
            self.last_completed.load(Ordering::SeqCst)
        }
    }

    /// Runs every queued entry (the worker; PASSIVE_LEVEL): each buffer's
    /// commands in order, then its completion; each preemption's report.
    pub fn run_pending<H: EngineHost>(&self, host: &H, scratch: &mut [u8]) {
        // A faulted engine runs nothing until reset: what is queued stays in
        // the ring for ResetEngine to drop (and count as aborted), so no
        // fence after the faulted one completes.
        while self.responsive()
            && let Some(entry) = self.ring.pop()
        {
            let fence = u32::try_from(entry[0] >> 32).unwrap_or(0);
            let node = u32::try_from((entry[0] >> 8) & 0xFF).unwrap_or(0);
            let engine = u32::try_from((entry[0] >> 16) & 0xFF).unwrap_or(0);
            if entry[0] & 0xFF == KIND_PREEMPT {
                self.preempts_queued.fetch_sub(1, Ordering::SeqCst);
                let last = self.last_completed.load(Ordering::SeqCst);
                host.preempted(fence, last, node, engine);
                continue;
            }
            if self.preempts_queued.load(Ordering::SeqCst) != 0 {
                // A preemption is queued behind this buffer: it is not run,
                // and the preemption report names the last fence completed.
                self.preempted_buffers.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            if self.run_buffer(host, entry, scratch).is_err() {
                // A buffer the engine cannot run: no completion; the engine
                // reports itself not responsive and Dxgkrnl's TDR resets it.
                self.faulted.store(1, Ordering::SeqCst);
                #[cfg(not(loom))]
                crate::trace!("engine: fence {} faulted", fence);
                continue;
            }
            self.complete(host, (fence, node, engine));
        }
    }

    /// Reports one completed buffer. The out-of-order broken engine holds
    /// a completion back until the next buffer completes, then reports the
    /// later fence first (across runs of the worker, so the order does not
    /// depend on when the worker wakes).
    fn complete<H: EngineHost>(&self, host: &H, done: (u32, u32, u32)) {
        if self.broken() == Broken::CompletesOutOfOrder {
            let (fence, node, engine) = done;
            let packed = HELD
                | u64::from(fence)
                | (u64::from(node & 0xFF) << 32)
                | (u64::from(engine & 0xFF) << 40);
            let earlier = self.held.swap(0, Ordering::SeqCst);
            if earlier == 0 {
                self.held.store(packed, Ordering::SeqCst);
                return;
            }
            self.report(host, fence, node, engine);
            let field =
                |shift: u32, mask: u64| u32::try_from((earlier >> shift) & mask).unwrap_or(0);
            self.report(
                host,
                field(0, 0xFFFF_FFFF),
                field(32, 0xFF),
                field(40, 0xFF),
            );
            return;
        }
        self.report(host, done.0, done.1, done.2);
    }

    fn report<H: EngineHost>(&self, host: &H, fence: u32, node: u32, engine: u32) {
        self.last_completed.store(fence, Ordering::SeqCst);
        host.completed(fence, node, engine, self.broken() != Broken::NeverQueuesDpc);
    }

    /// Executes the commands of one queued buffer.
    fn run_buffer<H: EngineHost>(
        &self,
        host: &H,
        entry: [u64; ring::WORDS],
        scratch: &mut [u8],
    ) -> Result<()> {
        let segment = entry[3] & 0xFFFF_FFFF;
        let at = if segment == VIRTUAL_SEGMENT {
            DmaAddress::Virtual(entry[1])
        } else {
            DmaAddress::Physical {
                segment: u32::try_from(segment).map_err(|_| Status::InvalidParameter)?,
                address: entry[1],
            }
        };
        let generation = u32::try_from(entry[3] >> 32).map_err(|_| Status::InvalidParameter)?;
        let ticket = (generation != 0).then_some(Ticket {
            index: u8::try_from((entry[0] >> 24) & 0xFF).map_err(|_| Status::InvalidParameter)?,
            generation,
        });
        let start = entry[2] & 0xFFFF_FFFF;
        let end = entry[2] >> 32;
        let len = end.checked_sub(start).ok_or(Status::InvalidParameter)?;
        let size = u64::try_from(COMMAND_SIZE).map_err(|_| Status::InvalidParameter)?;
        if len.checked_rem(size) != Some(0) {
            return Err(Status::InvalidParameter);
        }
        let broken = self.broken();
        let mut offset = start;
        while offset < end {
            let mut bytes = [0u8; COMMAND_SIZE];
            host.read_dma(at, ticket, offset, &mut bytes)?;
            let command = Command::decode(&bytes)?;
            if exec::execute(host, &command, scratch, broken)? {
                self.executed_commands.fetch_add(1, Ordering::Relaxed);
            } else {
                self.recorded_commands.fetch_add(1, Ordering::Relaxed);
            }
            offset = offset.checked_add(size).ok_or(Status::InvalidParameter)?;
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_full_ring_faults_the_engine_and_a_reset_recovers_it() {
        let e = Engine::with_capacity(2).unwrap();
        let at = DmaAddress::Virtual(0x1000);
        assert!(e.submit(1, 0, 0, at, None, (0, 0)));
        assert!(e.submit(2, 0, 0, at, None, (0, 0)));
        assert!(e.responsive());
        assert!(!e.submit(3, 0, 0, at, None, (0, 0)), "full: not queued");
        assert!(!e.responsive(), "and the engine reports itself hung");
        assert_eq!(e.reset(), 3, "the last fence aborted");
        assert!(e.responsive());
        assert!(
            e.submit(4, 0, 0, at, None, (0, 0)),
            "room again after the reset"
        );
    }
}
