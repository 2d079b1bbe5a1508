//! Writers on real clocks: one thread per VF writes its VRAM at the
//! workload's dirty rate measured against the wall clock (not modelled
//! time), data first and then the mark (`gpup_sw_mark_dirty`), exactly as
//! the modelled writers do. A VF's writer can be paused (it parks after its
//! last mark, so the source's final harvest sees every write), resumed
//! after an abort (its rate restarts from the resume instant, no burst),
//! and retired before the VF is torn down.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dxgkrnl_model::Adapter;
use dxgkrnl_model::vf::Reserve;
use dxgkrnl_model::vram::Vram;
use dxgkrnl_model::writers::{Pattern, Workload, portion};
use gpup_rng::XorShift64Star;

const RUNNING: u8 = 0;
const PAUSED: u8 = 1;
const DONE: u8 = 2;

/// What one VF's writer shares with the source.
#[derive(Debug, Default)]
pub struct WriterState {
    state: AtomicU8,
    parked: AtomicBool,
    /// Writes made so far.
    pub writes: AtomicU64,
    /// Marks the driver refused.
    pub failed_marks: AtomicU64,
    /// Marks skipped by fault injection.
    pub dropped_marks: AtomicU64,
}

impl WriterState {
    /// Pauses the writer and waits (at most 10 s) until it parked after its
    /// last mark.
    pub fn pause(&self) {
        self.state.store(PAUSED, Ordering::Release);
        let until = Instant::now() + Duration::from_secs(10);
        while !self.parked.load(Ordering::Acquire) && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Lets a paused writer go on.
    pub fn resume(&self) {
        let _ = self
            .state
            .compare_exchange(PAUSED, RUNNING, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Retires the writer for good.
    pub fn finish(&self) {
        self.state.store(DONE, Ordering::Release);
    }

    /// Whether it is running (neither paused nor retired).
    #[must_use]
    pub fn running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }
}

/// One VF's writer thread.
pub struct Writer<'a> {
    /// The source adapter (marks).
    pub adapter: &'a Adapter,
    /// The source VRAM.
    pub vram: &'a Vram,
    /// The VF's reserve.
    pub reserve: Reserve,
    /// What it writes.
    pub workload: &'a Workload,
    /// Its shared state.
    pub state: &'a WriterState,
    /// Distinguishes its stamps and random stream.
    pub id: u64,
    /// Seed of its random stream.
    pub seed: u64,
}

impl Writer<'_> {
    /// The slot of write `n`: the working set in order first (the fill), then the pattern.
    fn slot(&self, n: u64, rng: &mut XorShift64Star) -> u64 {
        let slots = self.workload.slots();
        if n < slots {
            return n;
        }
        match self.workload.pattern {
            Pattern::Sweep => n % slots,
            Pattern::Uniform => rng.below_mul_shift(slots),
            Pattern::HotSet {
                hot_fraction,
                hot_writes,
            } => {
                let hot = portion(slots, hot_fraction).clamp(1, slots.max(1));
                if hot >= slots || rng.unit_24_bits() < hot_writes {
                    rng.below_mul_shift(hot)
                } else {
                    hot + rng.below_mul_shift(slots - hot)
                }
            }
        }
    }

    /// Runs until retired.
    pub fn run(self) {
        let w = self.workload;
        let me = self.state;
        let mut rng =
            XorShift64Star::from_seed(self.seed ^ self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (mut n, mut marks) = (0u64, 0u64);
        // The schedule: write n is due at base + (n - base_n) / rate.
        let (mut base, mut base_n) = (Instant::now(), 0u64);
        let per_write = w.write_size as f64 / w.dirty_rate.max(1) as f64;
        loop {
            match me.state.load(Ordering::Acquire) {
                DONE => return,
                PAUSED => {
                    me.parked.store(true, Ordering::Release);
                    while me.state.load(Ordering::Acquire) == PAUSED {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    me.parked.store(false, Ordering::Release);
                    (base, base_n) = (Instant::now(), n);
                    continue;
                }
                _ => {}
            }
            let idle = w.slots() == 0 || w.dirty_rate == 0 || w.write_limit.is_some_and(|l| n >= l);
            let due = base + Duration::from_secs_f64((n - base_n) as f64 * per_write);
            if idle || due > Instant::now() {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            let addr = self.slot(n, &mut rng) * w.write_size;
            let stamp = self.id << 40 ^ n;
            for (offset, len) in self.reserve.pieces(addr, w.write_size) {
                // Data first, then the mark.
                self.vram.write(offset, len, stamp);
                marks += 1;
                if w.drop_one_mark_in
                    .is_some_and(|k| k > 0 && marks.is_multiple_of(k))
                {
                    me.dropped_marks.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let status = self.adapter.mark_dirty(self.reserve.segment(), offset, len);
                if !status.is_success() {
                    me.failed_marks.fetch_add(1, Ordering::Relaxed);
                }
            }
            n += 1;
            me.writes.store(n, Ordering::Release);
        }
    }
}
