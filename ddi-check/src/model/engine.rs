//! The software engine's contract (`docs/engine.md`; issue 17 items 1-3),
//! as a reference model: what `DxgkDdiBuildPagingBuffer` records (how many
//! 64-byte commands, the multipass protocol), what a submitted buffer does
//! when it runs (the bytes of a small VRAM shadowed here, system memory,
//! monitored fences, and the pages a tracked basis must then report dirty),
//! and the fence stream Dxgkrnl sees: every fence completes, in submission
//! order; a buffer queued before a preemption either completes or is not
//! run, and the preemption names the last fence completed; a buffer the
//! engine cannot run (a span that is not whole commands, bytes that are no
//! command, a range outside its segment or MDL, an MDL FILL, a NULL fence)
//! completes nothing and the engine reports itself hung until reset, so no
//! later fence completes either.
//!
//! The worker races SubmitCommand and PreemptCommand, so which buffers a
//! preemption stops is not determined; [`Model::settle`] accepts every
//! outcome the race allows and applies exactly the buffers that ran. What a
//! faulting command wrote before it failed is unspecified: its destination
//! bytes become unknown (the next comparison adopts the driver's) and its
//! pages unsure (the next query adopts the driver's bit).

use std::collections::VecDeque;

use super::engine_vaddr::{Leaf, PAGE};
use super::{Model, SEGMENTS, segments::APERTURE};
use crate::ops::{FENCE_CELLS, MAP_ENTRIES, MDL_BYTES, MDLS, SYS_TARGETS};

/// Page-table entries one recorded command stores at most.
pub const PTES: u8 = 4;

/// Bytes one command moves at most (`docs/engine.md`, "TDR bound").
pub const CHUNK: u64 = 256 << 10;
/// Bytes of one recorded command.
pub const COMMAND: u64 = 64;

/// One end of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Segment `id`, from byte `offset`.
    Seg {
        /// Segment id.
        id: u32,
        /// Byte offset.
        offset: u64,
    },
    /// The checker's MDL `index` (`None`: NULL), from byte `offset`.
    Mdl {
        /// Which.
        index: Option<u8>,
        /// Byte offset.
        offset: u64,
    },
}

impl End {
    fn advanced(self, by: u64) -> Option<Self> {
        Some(match self {
            Self::Seg { id, offset } => Self::Seg {
                id,
                offset: offset.checked_add(by)?,
            },
            Self::Mdl { index, offset } => Self::Mdl {
                index,
                offset: offset.checked_add(by)?,
            },
        })
    }
}

/// A command as the model predicts the build recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// FILL `len` bytes with the pattern (byte `i` is the pattern's byte `i % 4`).
    Fill {
        /// Destination.
        dst: End,
        /// Bytes.
        len: u64,
        /// Pattern.
        pattern: u32,
    },
    /// TRANSFER `len` bytes.
    Transfer {
        /// Source.
        src: End,
        /// Destination.
        dst: End,
        /// Bytes.
        len: u64,
    },
    /// Write `value` into fence cell `cell` (`None`: GPU VA 0).
    Signal {
        /// Which cell.
        cell: Option<u8>,
        /// Value.
        value: u64,
    },
    /// DISCARD_CONTENT and the recorded operations: no effect.
    Nop,
    /// UPDATE_PAGE_TABLE of `count` entries of the checker's tables
    /// ([`super::engine_vaddr`]) from entry `start` of the leaf table
    /// (`leaf`) or the root: `entries[k]` for entry `start + k` (`None`:
    /// invalid; for the root, any valid entry names the leaf table).
    Map {
        /// The leaf table rather than the root.
        leaf: bool,
        /// First entry.
        start: u8,
        /// Entries written (at most [`PTES`]).
        count: u8,
        /// What each maps.
        entries: [Option<Leaf>; PTES as usize],
    },
    /// VIRTUAL_TRANSFER of `len` bytes from GPU VA `src` to `dst`.
    VirtualTransfer {
        /// As for [`Cmd::VirtualFill`].
        rooted: bool,
        /// Source VA.
        src: u64,
        /// Destination VA.
        dst: u64,
        /// Bytes.
        len: u64,
    },
    /// VIRTUAL_FILL of `len` bytes at GPU VA `va` of the paging context.
    VirtualFill {
        /// `hSystemContext` names the context SetRootPageTable gave the
        /// checker's root (else the engine finds no root and faults).
        rooted: bool,
        /// Destination VA.
        va: u64,
        /// Bytes.
        len: u64,
        /// Pattern.
        pattern: u32,
    },
}

/// A paging operation with its arguments resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// FILL or TRANSFER: split into [`CHUNK`]s. `None` ends overflowed
    /// when the driver added an offset (the build refuses).
    Split {
        /// Source (TRANSFER only).
        src: Option<Option<End>>,
        /// Destination.
        dst: Option<End>,
        /// Bytes.
        size: u64,
        /// FILL pattern (`None`: a TRANSFER).
        pattern: Option<u32>,
    },
    /// One command.
    Single(Cmd),
    /// UPDATE_PAGE_TABLE of `count` entries from `start`: one
    /// [`Cmd::Map`] per [`PTES`] entries.
    Map {
        /// The leaf table rather than the root.
        leaf: bool,
        /// First entry.
        start: u8,
        /// Entries (at most [`MAP_ENTRIES`]).
        count: u8,
        /// What each maps.
        entries: [Option<Leaf>; MAP_ENTRIES as usize],
    },
    /// Nothing recorded.
    Nothing,
}

impl Paging {
    fn count(&self) -> u64 {
        match *self {
            Self::Split { size, .. } => size.div_ceil(CHUNK),
            Self::Single(_) => 1,
            Self::Map { count, .. } => u64::from(count.div_ceil(PTES)),
            Self::Nothing => 0,
        }
    }

    /// Command `i`, or `None` when an offset overflows.
    fn command(&self, i: u64) -> Option<Cmd> {
        match *self {
            Self::Split {
                src,
                dst,
                size,
                pattern,
            } => {
                let at = i.checked_mul(CHUNK)?;
                let len = size.saturating_sub(at).min(CHUNK);
                let dst = dst?.advanced(at)?;
                Some(match (pattern, src) {
                    (Some(pattern), _) => Cmd::Fill { dst, len, pattern },
                    (None, src) => Cmd::Transfer {
                        src: src.flatten()?.advanced(at)?,
                        dst,
                        len,
                    },
                })
            }
            Self::Single(c) => Some(c),
            Self::Map {
                leaf,
                start,
                count,
                entries,
            } => {
                let first = u8::try_from(i).ok()?.checked_mul(PTES)?;
                let mut these = [None; PTES as usize];
                for (k, e) in these.iter_mut().enumerate() {
                    *e = *entries.get(usize::from(first) + k)?;
                }
                Some(Cmd::Map {
                    leaf,
                    start: start.checked_add(first)?,
                    count: count.checked_sub(first)?.min(PTES),
                    entries: these,
                })
            }
            Self::Nothing => None,
        }
    }

    /// Whether the driver refuses the operation before recording anything
    /// (an end whose offset overflowed).
    fn refused(&self) -> bool {
        matches!(
            self,
            Self::Split { dst: None, .. }
                | Self::Split {
                    src: Some(None),
                    ..
                }
        )
    }
}

/// What one BuildPagingBuffer call must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildAnswer {
    /// `STATUS_INVALID_PARAMETER`, the block unchanged.
    Invalid,
    /// `STATUS_SUCCESS` (`more: None`, `MultipassOffset` 0) or
    /// `STATUS_GRAPHICS_INSUFFICIENT_DMA_BUFFER` (`more`: the new
    /// `MultipassOffset`), with these commands recorded.
    Recorded {
        /// The commands written, in order.
        written: Vec<Cmd>,
        /// The `MultipassOffset` answered with INSUFFICIENT_DMA_BUFFER.
        more: Option<u32>,
    },
}

/// A 64-byte slot of a submitted span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A recorded command.
    Cmd(Cmd),
    /// Bytes that are no command.
    Junk,
}

/// One entry of the engine's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A submitted buffer (`None`: a span that is not whole commands).
    Submit {
        /// `SubmissionFenceId`.
        fence: u32,
        /// Its commands.
        slots: Option<Vec<Slot>>,
    },
    /// A preemption request.
    Preempt {
        /// `PreemptionFenceId`.
        fence: u32,
    },
}

/// Where bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// [`SEGMENTS`] index.
    Vram(usize),
    /// MDL index.
    Mdl(usize),
    /// The checker's system page a leaf entry may map.
    Sys(usize),
}

/// Bytes the model shadows, and which of them it no longer knows.
#[derive(Debug, Clone, Default)]
pub struct Shadow {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Unknown since a faulted command wrote them (or a source of them).
    pub unknown: Vec<bool>,
}

impl Shadow {
    fn new(len: u64, fill: impl Fn(usize) -> u8) -> Self {
        let len = usize::try_from(len).unwrap_or(0);
        Self {
            bytes: (0..len).map(fill).collect(),
            unknown: vec![false; len],
        }
    }
}

/// The engine as the model knows it.
#[derive(Debug, Clone)]
pub struct Engine {
    /// VRAM, per [`SEGMENTS`] entry.
    pub vram: Vec<Shadow>,
    /// The checker's system-memory buffers.
    pub mdl: Vec<Shadow>,
    /// The checker's system pages leaf entries may map ([`Place::Sys`]).
    pub sys: Vec<Shadow>,
    /// The checker's monitored-fence cells.
    pub cells: [u64; FENCE_CELLS as usize],
    /// Queued, not yet settled.
    pub pending: VecDeque<Entry>,
    /// Hung until reset.
    pub faulted: bool,
    /// The last fence submitted to this engine (since its start).
    pub last_submitted: u32,
    /// The last fence completed by this engine (since its start).
    pub last_completed: u32,
    /// Ranges written since the executor last compared them.
    pub touched: Vec<(Place, u64, u64)>,
    /// Whether the engine ever wrote VRAM (the final whole comparison).
    pub wrote_vram: bool,
    /// The checker's page tables (system memory: kept over restarts).
    pub tables: super::engine_vaddr::Tables,
}

/// The initial content of MDL `m`'s byte `i`.
#[must_use]
pub fn mdl_byte(m: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (m + 1).wrapping_mul(0x5A)) as u8
}

/// The initial content of system page `p`'s byte `i`.
#[must_use]
pub fn sys_byte(p: usize, i: usize) -> u8 {
    (i.wrapping_mul(13) ^ (p + 1).wrapping_mul(0xC3)) as u8
}

impl Engine {
    /// A fresh engine: zero VRAM, the MDLs' initial bytes, zero cells.
    #[must_use]
    pub fn new() -> Self {
        Self {
            vram: SEGMENTS
                .iter()
                .map(|s| Shadow::new(s.size, |_| 0))
                .collect(),
            mdl: (0..usize::from(MDLS))
                .map(|m| Shadow::new(MDL_BYTES, |i| mdl_byte(m, i)))
                .collect(),
            sys: (0..usize::from(SYS_TARGETS))
                .map(|p| Shadow::new(PAGE, |i| sys_byte(p, i)))
                .collect(),
            cells: [0; FENCE_CELLS as usize],
            pending: VecDeque::new(),
            faulted: false,
            last_submitted: 0,
            last_completed: 0,
            touched: Vec::new(),
            wrote_vram: false,
            tables: Default::default(),
        }
    }

    /// The shadow of `p`.
    pub fn shadow_mut(&mut self, p: Place) -> &mut Shadow {
        match p {
            Place::Vram(i) => &mut self.vram[i],
            Place::Mdl(i) => &mut self.mdl[i],
            Place::Sys(i) => &mut self.sys[i],
        }
    }

    /// The adapter stopped (its engine and VRAM are gone) or restarted: a
    /// new engine over zero VRAM; system memory and cells keep their bytes.
    pub fn restarted(&mut self) {
        let fresh = Self::new();
        self.vram = fresh.vram;
        self.pending.clear();
        self.faulted = false;
        self.last_submitted = 0;
        self.last_completed = 0;
        self.touched.clear();
    }

    /// BuildPagingBuffer of `op` into `dma` bytes (`dma_null`: NULL
    /// `pDmaBuffer`) from `multipass`, by an adapter with an engine (`ok`)
    /// and a non-NULL block.
    #[must_use]
    pub fn build(ok: bool, op: &Paging, multipass: u32, dma: u32, dma_null: bool) -> BuildAnswer {
        if !ok || op.refused() {
            return BuildAnswer::Invalid;
        }
        let (mut index, mut room, mut written) = (u64::from(multipass), dma, Vec::new());
        while index < op.count() {
            let Some(cmd) = op.command(index) else {
                return BuildAnswer::Invalid;
            };
            if u64::from(room) < COMMAND {
                return BuildAnswer::Recorded {
                    written,
                    more: Some(u32::try_from(index).unwrap_or(u32::MAX)),
                };
            }
            if dma_null {
                return BuildAnswer::Invalid;
            }
            written.push(cmd);
            room -= COMMAND as u32;
            index += 1;
        }
        BuildAnswer::Recorded {
            written,
            more: None,
        }
    }

    /// A submission reached the engine.
    pub fn submitted(&mut self, fence: u32, slots: Option<Vec<Slot>>) {
        self.last_submitted = fence;
        self.pending.push_back(Entry::Submit { fence, slots });
    }

    /// A preemption reached the engine.
    pub fn preempt(&mut self, fence: u32) {
        self.pending.push_back(Entry::Preempt { fence });
    }

    /// How many submissions and preemptions are queued and unsettled.
    #[must_use]
    pub fn queued(&self) -> (usize, usize) {
        let submits = self
            .pending
            .iter()
            .filter(|e| matches!(e, Entry::Submit { .. }))
            .count();
        (submits, self.pending.len() - submits)
    }

    /// ResetEngine / ResetFromTimeout: what `LastAbortedFenceId` must be
    /// (the last submitted when anything was dropped or a buffer faulted,
    /// else the last completed); the queue is emptied and the fault cleared.
    pub fn reset(&mut self) -> u32 {
        let aborted = if self.pending.is_empty() && !self.faulted {
            self.last_completed
        } else {
            self.last_submitted
        };
        self.pending.clear();
        self.faulted = false;
        aborted
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// What the executor saw of the engine once it was idle: the fences
/// completed and the preemptions reported since the last settle, the
/// buffers the engine left unrun for a preemption, and whether it faulted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// `DMA_COMPLETED` fences, in order.
    pub completed: Vec<u32>,
    /// `DMA_PREEMPTED`: (preemption fence, last completed fence).
    pub preempted: Vec<(u32, u32)>,
    /// Buffers not run because a preemption was queued behind them.
    pub skipped: u64,
    /// The engine reports itself hung.
    pub faulted: bool,
}

/// The segment an id names: a [`SEGMENTS`] index, or the aperture (sized,
/// its bytes not shadowed), else none.
fn segment(id: u32) -> Option<(Option<usize>, u64)> {
    if id == APERTURE.id {
        return Some((None, APERTURE.size));
    }
    SEGMENTS
        .iter()
        .position(|s| s.id == id)
        .map(|i| (Some(i), SEGMENTS[i].size))
}

/// An end resolved: where its bytes are (`None`: unshadowed aperture),
/// its offset and the bytes available there; `None` when it names nothing.
fn resolve(end: End) -> Option<(Option<Place>, u64, u64)> {
    match end {
        End::Seg { id, offset } => {
            let (index, size) = segment(id)?;
            Some((index.map(Place::Vram), offset, size))
        }
        End::Mdl { index, offset } => {
            let m = index.filter(|&m| m < MDLS)?;
            Some((Some(Place::Mdl(usize::from(m))), offset, MDL_BYTES))
        }
    }
}

/// `[offset, offset + len)` inside `size`.
fn inside(offset: u64, len: u64, size: u64) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= size)
}

/// Whether a FILL of `len` bytes at `dst` (a segment) is accepted: inside
/// the segment; an empty one off a word boundary anywhere (stored bytewise,
/// no byte to check: `docs/engine.md`, "Memory and dirty marking").
fn fill_fits(dst: End, len: u64) -> bool {
    resolve(dst)
        .is_some_and(|(_, o, size)| inside(o, len, size) || (len == 0 && !o.is_multiple_of(8)))
}

impl Model {
    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, for the executor's bookkeeping.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    fn shadow(&mut self, p: Place) -> &mut Shadow {
        self.engine.shadow_mut(p)
    }

    /// The destination `[offset, offset + len)` (clipped) becomes unknown,
    /// and its pages unsure, after a command faulted on it.
    fn unknown(&mut self, dst: End, len: u64) {
        let Some((place, offset, size)) = resolve(dst) else {
            return;
        };
        let end = offset.saturating_add(len).min(size);
        if offset >= end {
            return;
        }
        if let Some(p) = place {
            let s = self.shadow(p);
            s.unknown[offset as usize..end as usize].fill(true);
            self.engine.touched.push((p, offset, end - offset));
        }
        if let End::Seg { id, .. } = dst {
            self.marked_unsure(id, offset, end - offset);
        }
    }

    /// Writes `bytes` (with their unknown flags) at a destination.
    pub(super) fn put(&mut self, dst: End, bytes: &[u8], unknown: &[bool]) {
        let Some((place, offset, _)) = resolve(dst).filter(|_| !bytes.is_empty()) else {
            return;
        };
        let len = bytes.len() as u64;
        if let Some(p) = place {
            let s = self.shadow(p);
            let (a, b) = (offset as usize, offset as usize + bytes.len());
            s.bytes[a..b].copy_from_slice(bytes);
            s.unknown[a..b].copy_from_slice(unknown);
            self.engine.touched.push((p, offset, len));
            if matches!(p, Place::Vram(_)) {
                self.engine.wrote_vram = true;
            }
        }
        if let End::Seg { id, offset } = dst {
            self.marked(id, offset, len);
        }
    }

    /// Runs one command; `false` when the engine faults on it.
    fn run(&mut self, cmd: Cmd) -> bool {
        if let Some(ran) = self.run_vaddr(cmd) {
            return ran;
        }
        match cmd {
            // Run above.
            Cmd::Map { .. } | Cmd::VirtualFill { .. } | Cmd::VirtualTransfer { .. } => false,
            Cmd::Nop => true,
            Cmd::Signal { cell, value } => match cell.filter(|&c| c < FENCE_CELLS) {
                Some(c) => {
                    self.engine.cells[usize::from(c)] = value;
                    true
                }
                None => false,
            },
            Cmd::Fill { dst, len, pattern } => {
                let ok = matches!(dst, End::Seg { .. }) && fill_fits(dst, len);
                if !ok {
                    if matches!(dst, End::Seg { .. }) {
                        self.unknown(dst, len);
                    }
                    return false;
                }
                let p = pattern.to_le_bytes();
                let bytes: Vec<u8> = (0..len as usize).map(|i| p[i % 4]).collect();
                self.put(dst, &bytes, &vec![false; bytes.len()]);
                true
            }
            Cmd::Transfer { src, dst, len } => {
                if len == 0 {
                    return true;
                }
                let from = resolve(src).filter(|&(_, o, size)| inside(o, len, size));
                let to = resolve(dst).filter(|&(_, o, size)| inside(o, len, size));
                let (Some((from, at, _)), Some(_)) = (from, to) else {
                    self.unknown(dst, len);
                    return false;
                };
                let (a, n) = (at as usize, len as usize);
                let (bytes, mut unknown) = match from {
                    Some(p) => {
                        let s = self.shadow(p);
                        (s.bytes[a..a + n].to_vec(), s.unknown[a..a + n].to_vec())
                    }
                    None => (vec![0; n], vec![true; n]),
                };
                let overlap = match (resolve(src), resolve(dst)) {
                    (Some((Some(p), s, _)), Some((Some(q), d, _))) => {
                        p == q && s < d + len && d < s + len && s != d
                    }
                    _ => false,
                };
                if overlap {
                    // Copied in pieces: how an overlap reads is not specified.
                    unknown.fill(true);
                }
                self.put(dst, &bytes, &unknown);
                true
            }
        }
    }

    /// Runs a buffer's slots; `false` when the engine faults on one.
    fn run_buffer(&mut self, slots: Option<&[Slot]>) -> bool {
        let Some(slots) = slots else {
            return false;
        };
        for slot in slots {
            match *slot {
                Slot::Cmd(c) if self.run(c) => {}
                _ => return false,
            }
        }
        true
    }

    /// Whether `slots` run without a fault (every slot a command whose
    /// ranges lie inside what they name).
    fn would_run(&self, slots: Option<&[Slot]>) -> bool {
        let ok = |c: &Cmd| match *c {
            Cmd::Map { .. } | Cmd::VirtualFill { .. } | Cmd::VirtualTransfer { .. } => {
                self.vaddr_runs(c).unwrap_or(false)
            }
            Cmd::Nop => true,
            Cmd::Signal { cell, .. } => cell.is_some_and(|c| c < FENCE_CELLS),
            Cmd::Fill { dst, len, .. } => matches!(dst, End::Seg { .. }) && fill_fits(dst, len),
            Cmd::Transfer { src, dst, len } => {
                len == 0
                    || [src, dst]
                        .iter()
                        .all(|&e| resolve(e).is_some_and(|(_, o, size)| inside(o, len, size)))
            }
        };
        slots.is_some_and(|s| s.iter().all(|slot| matches!(slot, Slot::Cmd(c) if ok(c))))
    }

    /// Settles the queue against what the engine did (see the module
    /// documentation), applying the buffers that ran.
    ///
    /// # Errors
    /// The first disagreement, described.
    pub fn settle(&mut self, seen: &Observed) -> Result<(), String> {
        let mut completed = seen.completed.iter().copied().peekable();
        let mut preempted = seen.preempted.iter().copied().peekable();
        let (mut skipping, mut skipped) = (false, 0u64);
        while !self.engine.faulted
            && let Some(entry) = self.engine.pending.pop_front()
        {
            match entry {
                Entry::Submit { fence, slots } => {
                    if completed.peek() == Some(&fence) {
                        completed.next();
                        if skipping {
                            return Err(format!(
                                "fence {fence} completed after an earlier buffer was left \
                                 unrun for a preemption"
                            ));
                        }
                        if !self.would_run(slots.as_deref()) {
                            return Err(format!(
                                "fence {fence} completed, but its buffer cannot run (the \
                                 engine must fault): {slots:?}"
                            ));
                        }
                        self.run_buffer(slots.as_deref());
                        self.engine.last_completed = fence;
                        continue;
                    }
                    let next_preempt = self.engine.pending.iter().find_map(|e| match e {
                        Entry::Preempt { fence } => Some(*fence),
                        Entry::Submit { .. } => None,
                    });
                    if skipping
                        || next_preempt.is_some_and(|p| preempted.peek().map(|r| r.0) == Some(p))
                    {
                        skipping = true;
                        skipped += 1;
                        continue;
                    }
                    if self.run_buffer(slots.as_deref()) {
                        return Err(format!(
                            "fence {fence} never completed (the driver completed {:?})",
                            seen.completed
                        ));
                    }
                    self.engine.faulted = true;
                }
                Entry::Preempt { fence } => {
                    skipping = false;
                    let want = (fence, self.engine.last_completed);
                    match preempted.next() {
                        Some(got) if got == want => {}
                        got => {
                            return Err(format!(
                                "preemption {fence}: reported {got:?}, the model expects \
                                 (preemption, last completed) = {want:?}"
                            ));
                        }
                    }
                }
            }
        }
        if let Some(extra) = completed.next() {
            return Err(format!("fence {extra} completed out of turn or unexpected"));
        }
        if let Some(extra) = preempted.next() {
            return Err(format!("preemption {extra:?} reported out of turn"));
        }
        if skipped != seen.skipped {
            return Err(format!(
                "{} buffers left unrun for a preemption, the model says {skipped}",
                seen.skipped
            ));
        }
        if seen.faulted != self.engine.faulted {
            return Err(format!(
                "engine faulted: {}, the model says {}",
                seen.faulted, self.engine.faulted
            ));
        }
        Ok(())
    }
}
