//! The adapter-start sequence of `../shared/spec/adapter-start.md` 2.1-2.5,
//! played against a [`Target`] (the model's adapter, or the Wine fixture's),
//! applying every rule of [`super::rules`] in order and reporting each rule
//! once, before the next.
//!
//! Like `rules.rs`, this file is shared with the Wine fixture through
//! `#[path]`: plain `core`, fixed-size buffers, no panics, no indexing, no
//! unchecked arithmetic.

use core::fmt;

use super::rules::abi::{bits, qai, rec};
use super::rules::bytes::u32_at;
use super::rules::status::UNSUCCESSFUL;
use super::rules::*;

/// Dxgkrnl's own interface version, passed in `DXGK_WDDMDEVICECAPSIN`.
pub const DXGKRNL_INTERFACE_VERSION: u32 = 0x11007;
/// Most nodes this stand-in handles (its buffers are fixed).
pub const MAX_NODES: usize = 8;
/// Most segments (4.1).
pub const MAX_SEGMENTS: usize = 32;

/// What a stand-in offers the sequence: the table and the DDIs, raw.
pub trait Target {
    /// Whether the slot `name` of the table is non-NULL.
    fn slot(&self, name: &str) -> bool;
    /// The table's `Version`.
    fn ddi_version(&self) -> u32;
    /// `DxgkDdiQueryAdapterInfo` (adapter-level, physical adapter 0).
    fn query(&mut self, ty: u32, input: &[u8], output: &mut [u8]) -> u32;
    /// `DxgkDdiStartDevice`.
    fn start_device(&mut self) -> u32;
    /// `DxgkDdiGetNodeMetadata` into `out` (74 bytes).
    fn node_metadata(&mut self, node_and_adapter: u32, out: &mut [u8]) -> u32;
    /// `DxgkDdiCreateDevice` with a `DXGKARG_CREATEDEVICE` block.
    fn create_device(&mut self, args: &mut [u8]) -> u32;
    /// `DxgkDdiCreateContext` on `device` with a `DXGKARG_CREATECONTEXT` block.
    fn create_context(&mut self, device: u64, args: &mut [u8]) -> u32;
    /// `DxgkDdiDestroyContext`.
    fn destroy_context(&mut self, context: u64) -> u32;
    /// `DxgkDdiDestroyDevice`.
    fn destroy_device(&mut self, device: u64) -> u32;
    /// One rule's verdict, in order, with what was seen.
    fn report(&mut self, rule: &'static Rule, verdict: Verdict, detail: fmt::Arguments<'_>);
}

/// A rule's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The rule held.
    Passed,
    /// The rule does not apply to this adapter.
    NotApplicable,
    /// Broken, and Dxgkrnl tolerates it.
    Tolerated,
    /// Broken: the start fails with this status.
    Refused(u32),
}

/// What the stand-in knows that the DDIs do not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Environment {
    /// The device's INF class is ComputeAccelerator (2.2 f).
    pub compute_accelerator_class: bool,
    /// A user-mode driver is registered for the device (2.2 g): never, here.
    pub umd_registered: bool,
}

/// Stop at the first refusal (Dxgkrnl), or play every rule and report all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As Dxgkrnl: the first refusal ends the start.
    Enforce,
    /// As [`Mode::Enforce`], except that this one rule, when broken, is
    /// reported as refused and the start goes on (it is not the start's
    /// refusal): for the rule the driver is known not to pass yet
    /// ([`AWAITING_DRIVER`]).
    EnforceExcept(&'static Rule),
    /// Every rule is played and reported; nothing ends the start early
    /// (except a failed StartDevice).
    Report,
}

/// One segment as the start learned it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Driver segment id (1-based).
    pub id: u32,
    /// `DXGK_SEGMENTFLAGS`.
    pub flags: u32,
    /// Bytes.
    pub size: u64,
    /// DIRTYBITTRACKINGSEGMENTCAPS: the page size, 0 = not tracked.
    pub page_size: u32,
}

/// What the start learned and created.
#[derive(Clone, Copy, Debug)]
pub struct Learned {
    /// The first refusal: the rule and the status the start fails with.
    pub refusal: Option<(&'static Rule, u32)>,
    /// Refusals seen (more than one only in [`Mode::Report`]).
    pub refusals: u32,
    /// The rule [`Mode::EnforceExcept`] waived, when the driver broke it.
    pub waived: Option<&'static Rule>,
    /// StartDevice succeeded (so StopDevice is owed).
    pub device_started: bool,
    /// The render core exists.
    pub render_core: bool,
    /// `DXGK_DIRTY_BIT_TRACKING_CAPS` (0 when the query failed).
    pub dirty_caps: u32,
    /// Nodes (after 2.3 step 2).
    pub nodes: u32,
    /// The paging node.
    pub paging_node: u32,
    /// The segments, `segments[..segment_count]`.
    pub segments: [Segment; MAX_SEGMENTS],
    /// How many segments.
    pub segment_count: usize,
    /// `PagingBufferSegmentId`, `PagingBufferSize`.
    pub paging_buffer: (u32, u32),
    /// `PagingBufferPrivateDataSize`: the private data VidMm allocates per
    /// paging buffer (QUERYSEGMENT4).
    pub paging_private_data: u32,
    /// The system devices created, `devices[..device_count]`.
    pub devices: [u64; 2],
    /// How many.
    pub device_count: usize,
    /// The contexts created (system contexts, then the paging context).
    pub contexts: [u64; MAX_NODES + 1],
    /// How many.
    pub context_count: usize,
}

impl Learned {
    const fn new() -> Self {
        Self {
            refusal: None,
            refusals: 0,
            waived: None,
            device_started: false,
            render_core: false,
            dirty_caps: 0,
            nodes: 0,
            paging_node: 0,
            segments: [Segment {
                id: 0,
                flags: 0,
                size: 0,
                page_size: 0,
            }; MAX_SEGMENTS],
            segment_count: 0,
            paging_buffer: (0, 0),
            paging_private_data: 0,
            devices: [0; 2],
            device_count: 0,
            contexts: [0; MAX_NODES + 1],
            context_count: 0,
        }
    }

    /// The segments learned.
    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        self.segments.get(..self.segment_count).unwrap_or(&[])
    }

    /// Whether dirty-bit tracking was reported.
    #[must_use]
    pub const fn tracking(&self) -> bool {
        self.dirty_caps & bits::DIRTY_BIT_TRACKING_SUPPORTED != 0
    }
}

/// The first refusal ended the start ([`Mode::Enforce`]) or nothing can go on.
pub(super) struct Stop;

/// One step of the sequence.
pub(super) type Step = Result<(), Stop>;

/// One run of the sequence (its phases are in `phases.rs`).
pub(super) struct Run<'t, T: Target + ?Sized> {
    pub(super) t: &'t mut T,
    pub(super) mode: Mode,
    pub(super) env: Environment,
    /// The DRIVERCAPS answer (592 bytes, zero past what the driver wrote).
    pub(super) caps: [u8; caps_len()],
    /// The pre-start WDDMDEVICECAPS answer.
    pub(super) wddm_device_caps: u32,
    /// 2.2 b's record.
    pub(super) interrupt_dpc: bool,
    /// Node metadata answers, `nodes[..learned.nodes]`.
    pub(super) node_data: [[u8; rec::NODE_SIZE]; MAX_NODES],
    /// The paging context's `DmaBufferSegmentSet`.
    pub(super) paging_segment_set: u32,
    /// PHYSICALADAPTERCAPS answered: its `PagingNodeIndex` names the paging
    /// node (otherwise DRIVERCAPS' `MemoryManagementCaps.PagingNode`).
    pub(super) physical_paging_node: Option<u32>,
    pub(super) learned: Learned,
}

const fn caps_len() -> usize {
    abi::caps::SIZE
}

/// Plays the start sequence: pre-start WDDMDEVICECAPS, StartDevice, then
/// every rule of 2.2-2.4 in order. The caller owes StopDevice when
/// [`Learned::device_started`], and [`teardown`] of what was created when
/// the start was refused.
pub fn play<T: Target + ?Sized>(target: &mut T, env: Environment, mode: Mode) -> Learned {
    let mut run = Run {
        t: target,
        mode,
        env,
        caps: [0; caps_len()],
        wddm_device_caps: 0,
        interrupt_dpc: false,
        node_data: [[0; rec::NODE_SIZE]; MAX_NODES],
        paging_segment_set: 0,
        physical_paging_node: None,
        learned: Learned::new(),
    };
    let _ = run.all();
    run.learned
}

/// Destroys the contexts, then the devices, that [`play`] created (newest first).
pub fn teardown<T: Target + ?Sized>(target: &mut T, learned: &mut Learned) {
    while let Some(last) = learned.context_count.checked_sub(1) {
        if let Some(&h) = learned.contexts.get(last) {
            let _ = target.destroy_context(h);
        }
        learned.context_count = last;
    }
    while let Some(last) = learned.device_count.checked_sub(1) {
        if let Some(&h) = learned.devices.get(last) {
            let _ = target.destroy_device(h);
        }
        learned.device_count = last;
    }
}

/// Not `NT_SUCCESS`.
pub(super) const fn failed(status: u32) -> bool {
    status & 0x8000_0000 != 0
}

impl<T: Target + ?Sized> Run<'_, T> {
    pub(super) fn caps(&self) -> DriverCaps<'_> {
        DriverCaps(&self.caps)
    }

    pub(super) fn pass(&mut self, rule: &'static Rule, detail: fmt::Arguments<'_>) -> Step {
        self.t.report(rule, Verdict::Passed, detail);
        Ok(())
    }

    pub(super) fn not_applicable(
        &mut self,
        rule: &'static Rule,
        detail: fmt::Arguments<'_>,
    ) -> Step {
        self.t.report(rule, Verdict::NotApplicable, detail);
        Ok(())
    }

    pub(super) fn tolerate(&mut self, rule: &'static Rule, detail: fmt::Arguments<'_>) -> Step {
        self.t.report(rule, Verdict::Tolerated, detail);
        Ok(())
    }

    /// A broken rule: reported; ends the start in [`Mode::Enforce`] (and in
    /// [`Mode::EnforceExcept`] unless it is the waived rule).
    pub(super) fn refuse(
        &mut self,
        rule: &'static Rule,
        driver: Option<u32>,
        detail: fmt::Arguments<'_>,
    ) -> Step {
        let status = rule.failure_status(driver).unwrap_or(UNSUCCESSFUL);
        self.t.report(rule, Verdict::Refused(status), detail);
        if matches!(self.mode, Mode::EnforceExcept(waived) if waived == rule) {
            self.learned.waived = Some(rule);
            return Ok(());
        }
        if self.learned.refusal.is_none() {
            self.learned.refusal = Some((rule, status));
        }
        self.learned.refusals = self.learned.refusals.saturating_add(1);
        match self.mode {
            Mode::Enforce | Mode::EnforceExcept(_) => Err(Stop),
            Mode::Report => Ok(()),
        }
    }

    /// A plain-data check's verdict.
    pub(super) fn judge(
        &mut self,
        rule: &'static Rule,
        check: Check,
        seen: fmt::Arguments<'_>,
    ) -> Step {
        match check {
            Ok(()) => self.pass(rule, seen),
            Err(why) => self.refuse(rule, None, format_args!("{why} ({seen})")),
        }
    }

    pub(super) fn query(&mut self, ty: u32, input: &[u8], output: &mut [u8]) -> u32 {
        self.t.query(ty, input, output)
    }

    fn all(&mut self) -> Step {
        self.pre_start()?;
        self.initialize()?;
        self.initialize_tail()?;
        self.render_core()?;
        self.node_checks()?;
        self.segments()?;
        self.pbmm()?;
        self.segment_tracking()?;
        self.history_and_paging()?;
        self.closing()
    }

    /// 2.1 steps 1-3.
    fn pre_start(&mut self) -> Step {
        if self.t.slot("DxgkDdiQueryAdapterInfo") {
            let mut out = [0_u8; 4];
            let status = self.query(
                qai::WDDMDEVICECAPS,
                &DXGKRNL_INTERFACE_VERSION.to_le_bytes(),
                &mut out,
            );
            let version = u32_at(&out, 0);
            self.wddm_device_caps = version;
            if failed(status) {
                self.refuse(
                    &WDDM_DEVICE_CAPS,
                    Some(status),
                    format_args!("status {status:#x}"),
                )?;
            } else {
                self.pass(&WDDM_DEVICE_CAPS, format_args!("WDDMVersion {version:#x}"))?;
            }
        } else {
            self.not_applicable(
                &WDDM_DEVICE_CAPS,
                format_args!("no DxgkDdiQueryAdapterInfo to ask"),
            )?;
        }
        let status = self.t.start_device();
        if failed(status) {
            // Nothing can go on without a started device, in either mode.
            let _ = self.refuse(
                &START_DEVICE,
                Some(status),
                format_args!("status {status:#x}"),
            );
            return Err(Stop);
        }
        self.learned.device_started = true;
        self.pass(&START_DEVICE, format_args!("status {status:#x}"))
    }
}
