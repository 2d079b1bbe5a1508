//! Runs operation sequences through the driver's C ABI and compares every
//! answer with the reference model.
//!
//! Each sequence gets a freshly loaded driver (`DriverEntry` ->
//! `DxgkInitialize` in `dxgkrnl-model`), the adapter under test, a second
//! adapter holding one tracked basis (whose handle is the "foreign" one, and
//! whose bits must stay clean), and the handle of an adapter that was added
//! and removed. DDIs are called through the registered table's function
//! pointers with argument blocks built here, so any `hAdapter`, handle,
//! pointer or size can be passed.
//!
//! Checked at every step: the status (or NULL handle) is one the model
//! allows; a failed call changed nothing (its buffers are untouched, and the
//! model, which it did not change, goes on matching); a query wrote exactly
//! the model's bits into exactly `ceil(pages / 8)` bytes and nothing past
//! them; Create never returns a handle issued before. At the end: every live
//! tracked basis reads back the model's bits, every basis destroys, every
//! handle issued is then dead, and the other adapter's basis is intact.

use core::ffi::c_void;
use std::time::Duration;

use dxgk_sys::*;
use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, MemorySegment};

pub use gpup_miniport::ddi::engine::host::Broken;

use crate::model::{self, Flaw, Model, SEGMENTS};
use crate::ops::*;

mod basis;
mod engine;
mod engine_build;
mod engine_vaddr;
mod finish;
mod qai;
mod render;
mod stats;
mod vgpu;

use self::basis::Control;
pub use self::stats::Stats;

/// The adapter configuration matching [`model::SEGMENTS`].
#[must_use]
pub fn adapter_config() -> AdapterConfig {
    AdapterConfig {
        segments: SEGMENTS
            .iter()
            .map(|s| MemorySegment {
                id: s.id,
                size: s.size,
                page_size: s.page.map_or(0, |p| u32::try_from(p).unwrap_or(0)),
            })
            .collect(),
        max_bases: u32::try_from(model::MAX_BASES).unwrap_or(1),
        partitions: None,
    }
}

/// Bytes guarding every output buffer past the size passed to the driver.
const GUARD: usize = 16;

/// A loaded driver with the adapters of one sequence.
pub struct World {
    // Field order is drop order: adapters before the driver.
    adapter: Adapter,
    other: Adapter,
    foreign: BasisHandle,
    removed: usize,
    driver: Driver,
    /// Every handle the adapter under test returned, in order.
    issued: Vec<usize>,
    /// The GPU partition interface GPU-virtualization initialization took
    /// (its functions, called with any `Context`).
    partition: DXGKDDI_GPU_PARTITION_INTERFACE,
    /// The SR-IOV interface, kept the same way.
    sriov: DXGKDDI_SRIOV_INTERFACE,
    /// The FlexIOV device interface, kept the same way.
    flexiov: DXGKDDI_FLEXIOV_DEVICE_INTERFACE,
    /// Every allocation handle CreateAllocation returned, in order.
    allocs: Vec<usize>,
    /// Every device handle CreateDevice returned, in order.
    devices: Vec<usize>,
    /// Every context handle CreateContext returned, in order.
    contexts: Vec<usize>,
    /// Every blob a Save filled, in order.
    blobs: Vec<Vec<u8>>,
    /// What CreateVirtualGpu asked for, by model uid.
    asked: std::collections::BTreeMap<u64, vgpu::Asked>,
    /// Every vGPU LUID issued (LowPart, HighPart).
    luids: Vec<(u32, i32)>,
    /// The LUID CreateVirtualGpu returned, by slot (the escape passes it).
    vf_luids: std::collections::BTreeMap<u32, (u32, i32)>,
    model: Model,
    stats: Stats,
    step: usize,
    /// The engine's memory and cursors (last: dropped after the adapters,
    /// whose engines it served).
    engine: engine::EngineSide,
}

fn raw_ptr(v: usize) -> *mut c_void {
    core::ptr::without_provenance_mut(v)
}

impl World {
    /// Loads the driver and sets up the adapters.
    ///
    /// # Errors
    /// A description of what failed to set up.
    pub fn new(flaw: Flaw) -> Result<Self, String> {
        Self::with_engine(flaw, Broken::No, Duration::from_secs(5))
    }

    /// Loads the driver and sets up the adapters, the adapter under test's
    /// engine deliberately `broken` (tests; `Broken::No` otherwise), each
    /// drain of the engine waiting `wait` at most.
    ///
    /// # Errors
    /// A description of what failed to set up.
    pub fn with_engine(flaw: Flaw, broken: Broken, wait: Duration) -> Result<Self, String> {
        let driver = Driver::load().map_err(|s| format!("load: {s:?}"))?;
        let config = adapter_config();
        // Added and removed first, so the adapter under test may reuse its slot.
        let removed = {
            let gone = driver.add_device().map_err(|s| format!("add: {s:?}"))?;
            let ctx = gone.context().addr();
            gone.remove().map_err(|s| format!("remove: {s:?}"))?;
            ctx
        };
        let adapter = driver
            .start_adapter(&config)
            .map_err(|s| format!("start: {s:?}"))?;
        let other = driver
            .start_adapter(&config)
            .map_err(|s| format!("start other: {s:?}"))?;
        let foreign = other
            .create_memory_basis(SEGMENTS[0].id, &[(0, 64 * 4096)])
            .ok_or("create on the other adapter")?;
        if other.start_dirty_tracking(foreign) != STATUS_SUCCESS {
            return Err("start on the other adapter".into());
        }
        let g = adapter
            .gpu_virtualization()
            .ok_or("no GPU partition interface")?;
        let (partition, sriov) = (g.partition, g.sriov);
        let flexiov = g.flexiov.ok_or("no FlexIOV device interface")?;
        // As Dxgkrnl does before the first vGPU.
        adapter
            .set_partition_count(model::vgpu::SETUP_COUNT)
            .map_err(|s| format!("set partition count: {s:?}"))?;
        Ok(Self {
            adapter,
            other,
            foreign,
            removed,
            driver,
            sriov,
            flexiov,
            issued: Vec::new(),
            partition,
            allocs: Vec::new(),
            devices: Vec::new(),
            contexts: Vec::new(),
            blobs: Vec::new(),
            asked: std::collections::BTreeMap::new(),
            luids: Vec::new(),
            vf_luids: std::collections::BTreeMap::new(),
            model: Model::new(flaw),
            stats: Stats::default(),
            step: 0,
            engine: engine::EngineSide::new(broken, wait),
        })
        .map(|mut w: Self| {
            w.engine_started();
            w
        })
    }

    /// What the run did so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        self.driver.table()
    }

    fn fail(&self, op: &dyn core::fmt::Debug, what: String) -> String {
        format!("step {}: {op:?}: {what}", self.step)
    }

    /// `(hAdapter, whether it names the adapter under test)`.
    fn adapter_arg(&self, sel: AdapterSel) -> (*mut c_void, bool) {
        let this = self.adapter.context();
        let v = match sel {
            AdapterSel::This => return (this, true),
            AdapterSel::Null => 0,
            AdapterSel::Forged(v) => usize::try_from(v).unwrap_or(usize::MAX),
            AdapterSel::Removed => self.removed,
        };
        if v == self.other.context().addr() {
            // Not forged after all: the other adapter is not under test.
            return (core::ptr::null_mut(), false);
        }
        (raw_ptr(v), v == this.addr())
    }

    fn segment_arg(sel: SegSel) -> u32 {
        match sel {
            SegSel::Configured(i) => SEGMENTS[usize::from(i) % SEGMENTS.len()].id,
            SegSel::Raw(id) => id,
        }
    }

    fn page_of_segment(id: u32) -> u64 {
        SEGMENTS
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.page)
            .unwrap_or(4096)
    }

    fn bytes(b: Bytes, page: u64) -> u64 {
        match b {
            Bytes::Pages { pages, jitter } => u64::from(pages)
                .wrapping_mul(page)
                .wrapping_add(u64::from(jitter)),
            Bytes::Raw(v) => v,
        }
    }

    fn handle_arg(&self, sel: HandleSel) -> usize {
        let issued = |i: u8| {
            if self.issued.is_empty() {
                None
            } else {
                let n = self.issued.len();
                Some(self.issued[n - 1 - usize::from(i) % n])
            }
        };
        match sel {
            HandleSel::Issued(i) => issued(i).unwrap_or(0),
            HandleSel::Null => 0,
            HandleSel::Forged(v) => usize::try_from(v).unwrap_or(usize::MAX),
            HandleSel::Tampered { of, xor } => {
                let xor = usize::try_from(xor).unwrap_or(usize::MAX).max(1);
                issued(of).unwrap_or(0) ^ xor
            }
            HandleSel::Foreign => self.foreign.0.addr(),
        }
    }

    /// Executes one operation and compares it with the model.
    ///
    /// # Errors
    /// The first difference, described.
    pub fn run(&mut self, op: &Op) -> Result<(), String> {
        self.step += 1;
        self.stats.ops += 1;
        if !matches!(op, Op::Engine(e) if e.races_the_worker()) {
            self.drain(op)?;
        }
        let ok = match op {
            Op::Create {
                adapter,
                null_args,
                segment,
                ranges,
                count,
                misaligned,
            } => self.create(
                op,
                *adapter,
                *null_args,
                *segment,
                ranges,
                *count,
                *misaligned,
            )?,
            Op::Destroy { adapter, basis } => {
                self.control(op, Control::Destroy, *adapter, *basis)?
            }
            Op::Start { adapter, basis } => self.control(op, Control::Start, *adapter, *basis)?,
            Op::Stop { adapter, basis } => self.control(op, Control::Stop, *adapter, *basis)?,
            Op::Query {
                adapter,
                null_args,
                basis,
                subrange,
                buffer,
                flags,
            } => self.query(op, *adapter, *null_args, *basis, *subrange, *buffer, *flags)?,
            Op::Mark {
                adapter,
                segment,
                offset,
                len,
            } => self.mark(op, *adapter, *segment, *offset, *len)?,
            Op::QueryAdapterInfo {
                adapter,
                ty,
                input,
                segment,
                output,
            } => self.query_adapter_info(op, *adapter, *ty, *input, *segment, *output)?,
            Op::StopDevice => {
                let faults = self.model.stop_device();
                let status = match self.adapter.stop() {
                    Ok(()) => STATUS_SUCCESS,
                    Err(s) => s,
                };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.device_stopped();
                }
                status == STATUS_SUCCESS
            }
            Op::StartDevice => {
                let faults = self.model.start_device();
                let status = match self.adapter.start() {
                    Ok(_) => STATUS_SUCCESS,
                    Err(s) => s,
                };
                self.expect(op, &faults, status)?;
                if status == STATUS_SUCCESS {
                    self.model.device_started();
                    self.engine_started();
                }
                status == STATUS_SUCCESS
            }
            Op::Vgpu(v) => self.vgpu(op, v)?,
            Op::Vf(v) => self.vf_op(op, v)?,
            Op::Render(r) => self.render(op, r)?,
            Op::Engine(e) => self.engine_op(op, e)?,
        };
        let kind = &mut self.stats.by_kind[op.kind()];
        kind.0 += 1;
        if ok {
            kind.1 += 1;
            self.stats.succeeded += 1;
        }
        Ok(())
    }

    fn expect(&self, op: &Op, faults: &model::Faults, status: NTSTATUS) -> Result<(), String> {
        if faults.allows(status) {
            Ok(())
        } else {
            Err(self.fail(
                op,
                format!(
                    "driver returned {status:?}, the model allows {:?}",
                    if faults.none() {
                        vec![STATUS_SUCCESS]
                    } else {
                        faults.0.clone()
                    }
                ),
            ))
        }
    }
}

/// Runs `ops` on a fresh world and checks the end state.
///
/// # Errors
/// The first difference between driver and model, described.
pub fn check_sequence(ops: &[Op], flaw: Flaw) -> Result<Stats, String> {
    check_sequence_with(ops, flaw, Broken::No, Duration::from_secs(5))
}

/// As [`check_sequence`], on an engine deliberately `broken`, each drain
/// waiting `wait` at most.
///
/// # Errors
/// The first difference between driver and model, described.
pub fn check_sequence_with(
    ops: &[Op],
    flaw: Flaw,
    broken: Broken,
    wait: Duration,
) -> Result<Stats, String> {
    let mut world = World::with_engine(flaw, broken, wait)?;
    for op in ops {
        world.run(op)?;
    }
    world.finish()
}
