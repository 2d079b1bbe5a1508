//! Model checking of the submission/completion path (`super::ring` and
//! [`Engine::run_pending`]) with loom: SubmitCommand and PreemptCommand
//! pushing from two threads while the worker runs what is queued.
//!
//! What is checked, on the real ring and engine:
//! - [`no_fence_is_lost_or_reordered`]: two submissions racing the worker:
//!   both fences complete, once each, in order.
//! - [`a_preemption_racing_completion_keeps_the_stream_monotonic`]: two
//!   submissions and a preemption racing the worker: completed fences
//!   strictly increase; every buffer is either completed or counted
//!   preempted (none lost); the preemption is reported once, naming the
//!   last fence completed before it.
//!
//! And that the model can fail: [`a_ring_publishing_before_writing_is_caught`]
//! runs the first check with a push that publishes its slot before it
//! writes the entry (`Ring::push_publishing_first`): the worker can read a
//! stale entry, and loom finds the interleaving.

use std::sync::Mutex;

use loom::sync::Arc;
use loom::thread;

use super::{DmaAddress, Engine, EngineHost, EngineMemory, Ticket};
use crate::foundation::status::{Result, Status};

/// What the model's Dxgkrnl saw.
#[derive(Default)]
struct Seen {
    completed: Vec<u32>,
    preempted: Vec<(u32, u32)>,
}

struct NoMemory;
impl EngineMemory for NoMemory {
    fn write(&self, _: u32, _: u64, _: &[u8]) -> Result<()> {
        Err(Status::NotSupported)
    }
    fn fill(&self, _: u32, _: u64, _: u64, _: u32) -> Result<()> {
        Err(Status::NotSupported)
    }
    fn read(&self, _: u32, _: u64, _: &mut [u8]) -> Result<()> {
        Err(Status::NotSupported)
    }
}

/// The model's host: empty buffers (no commands), completions recorded.
struct Host {
    seen: Mutex<Seen>,
}

impl EngineHost for Host {
    type Memory = NoMemory;
    fn memory(&self) -> &NoMemory {
        &NoMemory
    }
    fn mark_dirty(&self, _: u32, _: u64, _: u64) -> Result<()> {
        Ok(())
    }
    fn read_system(&self, _: u64, _: u64, _: &mut [u8]) -> Result<()> {
        Err(Status::NotSupported)
    }
    fn write_system(&self, _: u64, _: u64, _: &[u8]) -> Result<()> {
        Err(Status::NotSupported)
    }
    fn read_dma(&self, _: DmaAddress, _: Option<Ticket>, _: u64, _: &mut [u8]) -> Result<()> {
        Err(Status::NotSupported)
    }
    fn signal_fence(&self, _: u64, _: u64) -> Result<()> {
        Err(Status::NotSupported)
    }
    fn completed(&self, fence: u32, _: u32, _: u32, _: bool) {
        self.seen.lock().unwrap().completed.push(fence);
    }
    fn preempted(&self, preemption: u32, last: u32, _: u32, _: u32) {
        // The engine reports only fences it completed: compare with what
        // was seen so far.
        let mut s = self.seen.lock().unwrap();
        assert_eq!(
            s.completed.last().copied().unwrap_or(0),
            last,
            "last completed fence"
        );
        s.preempted.push((preemption, last));
    }
}

const EMPTY: DmaAddress = DmaAddress::Physical {
    segment: 1,
    address: 0x1000,
};

fn model(broken_push: bool, preempt: bool) {
    let engine = Arc::new(Engine::with_capacity(4).unwrap());
    let host = Arc::new(Host {
        seen: Mutex::new(Seen::default()),
    });
    let submitter = {
        let engine = Arc::clone(&engine);
        thread::spawn(move || {
            for fence in 1..=2 {
                if broken_push {
                    let entry = [1 | (u64::from(fence) << 32), 0x1000, 0, 1];
                    assert!(engine.ring.push_publishing_first(entry));
                } else {
                    assert!(engine.submit(fence, 0, 0, EMPTY, None, (0, 0)));
                }
            }
        })
    };
    let preempter = preempt.then(|| {
        let engine = Arc::clone(&engine);
        thread::spawn(move || {
            assert!(engine.preempt(7, 0, 0));
        })
    });
    let mut scratch = [0u8; 8];
    // The worker runs while the others push (woken early, or late).
    engine.run_pending(&*host, &mut scratch);
    thread::yield_now();
    engine.run_pending(&*host, &mut scratch);
    submitter.join().unwrap();
    if let Some(p) = preempter {
        p.join().unwrap();
    }
    engine.run_pending(&*host, &mut scratch);

    let seen = host.seen.lock().unwrap();
    assert!(
        seen.completed.windows(2).all(|w| w[0] < w[1]),
        "fences complete in order: {:?}",
        seen.completed
    );
    assert!(
        seen.completed.iter().all(|f| (1..=2).contains(f)),
        "{:?}",
        seen.completed
    );
    let preempted = usize::try_from(engine.state().preempted).unwrap();
    assert_eq!(seen.completed.len() + preempted, 2, "no buffer lost");
    if preempt {
        assert_eq!(seen.preempted.len(), 1, "the preemption reported once");
        assert_eq!(seen.preempted[0].0, 7);
    } else {
        assert_eq!(seen.completed, [1, 2]);
    }
    assert!(engine.responsive());
}

#[test]
fn no_fence_is_lost_or_reordered() {
    explore("ring: two submissions racing the worker", || {
        model(false, false)
    });
}

#[test]
fn a_preemption_racing_completion_keeps_the_stream_monotonic() {
    explore(
        "ring: submissions and a preemption racing the worker",
        || model(false, true),
    );
}

#[test]
#[should_panic]
fn a_ring_publishing_before_writing_is_caught() {
    explore("ring: broken push (publishes first)", || model(true, false));
}

/// Runs `model` under loom (preemption bound 3 unless `LOOM_MAX_PREEMPTIONS` says otherwise).
fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    let started = std::time::Instant::now();
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&runs);
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        model();
    });
    let n = runs.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "loom: {name}: {n} executions, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(n > 1, "loom explored more than one interleaving");
}
