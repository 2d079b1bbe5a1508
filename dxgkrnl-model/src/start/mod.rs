//! The adapter start as Dxgkrnl plays it (`../shared/spec/adapter-start.md`
//! 2.1-2.5): [`rules`] is the list of rules and their plain-data checks,
//! `sequence`/`phases` the order in which they are applied to a driver;
//! all three (and `abi`, the offsets they read) are shared with the Wine
//! fixture (`tests/wine/fake-dxgkrnl`) through `#[path]`, so they use plain
//! `core` only. This module is the model's side: `ModelTarget` calls the
//! loaded driver's DDIs for the sequence, and keeps the report it prints.
//!
//! [`StartChecks`] selects what [`crate::Adapter::start`] does: the full
//! sequence, or the legacy start (StartDevice, DRIVERCAPS' version, tracking
//! caps, GPU-P) that the pre-MCDM driver passed. [`DEFAULT_START_CHECKS`] is
//! the full sequence for the shipped environment ([`MCDM`]), so every test's
//! start goes through every rule (the paging process of 2.4 included),
//! waiving only [`rules::AWAITING_DRIVER`], if any: the rule the driver is
//! known not to pass yet.

pub mod abi;
mod phases;
pub mod rules;
pub mod sequence;
mod vidmm;

use std::fmt;

use dxgk_sys::*;

use crate::loader::slot_is_set;
/// The "always" list, for `rules` (which the Wine test's fake DXGKrnl
/// includes too: it names the list through its parent, `start`).
use crate::mandatory_slots::MANDATORY_SLOTS;
use crate::miniport::Miniport;

pub use rules::{RULES, Rule};
pub use sequence::{Environment, Learned, Mode, Segment, Verdict};

/// What [`crate::Adapter::start`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartChecks {
    /// Before issue 16: StartDevice, DRIVERCAPS' `WDDMVersion` against the
    /// table's version, the tracking caps, GPU-P.
    Legacy,
    /// Every rule of spec 2.1-2.5 in order, refusing at the first broken one
    /// (then GPU-P).
    Full(Environment),
    /// As `Full`, except that the given rule, broken, is reported as refused
    /// and the start goes on ([`sequence::Mode::EnforceExcept`]).
    FullExcept(Environment, &'static Rule),
    /// Every rule played and reported; the start then fails with the first
    /// refusal's status, if any (the report says which rules a driver breaks).
    Report(Environment),
}

/// The environment of the adapter the project ships: a ComputeAccelerator
/// INF, no user-mode driver.
pub const MCDM: Environment = Environment {
    compute_accelerator_class: true,
    umd_registered: false,
};

/// The model's default: every rule, for the shipped environment, waiving
/// [`rules::AWAITING_DRIVER`] while it is `Some` (see the module doc).
pub const DEFAULT_START_CHECKS: StartChecks = match rules::AWAITING_DRIVER {
    Some(rule) => StartChecks::FullExcept(MCDM, rule),
    None => StartChecks::Full(MCDM),
};

/// One line of a start report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    /// The rule.
    pub rule: &'static Rule,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
}

impl fmt::Display for ReportLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Passed => "ok".to_owned(),
            Verdict::NotApplicable => "n/a".to_owned(),
            Verdict::Tolerated => "tolerated".to_owned(),
            Verdict::Refused(s) => {
                let name = ntstatus_name(NTSTATUS::from_u32(s)).unwrap_or("NTSTATUS");
                format!("REFUSED {name} ({s:#010x})")
            }
        };
        write!(f, "{:<40} {verdict}: {}", self.rule.id, self.detail)
    }
}

/// The model's adapter as the sequence's [`sequence::Target`]: the loaded
/// driver's DDIs, called with raw pointers to the sequence's buffers.
pub(crate) struct ModelTarget<'a> {
    miniport: &'a Miniport,
    start: &'a mut dyn FnMut() -> NTSTATUS,
    /// The report so far.
    pub(crate) report: Vec<ReportLine>,
    /// Every context created, in order, with the `DXGK_CONTEXTINFO` the
    /// driver filled (the system contexts, then the paging context).
    pub(crate) contexts: Vec<crate::records::Context>,
}

impl<'a> ModelTarget<'a> {
    /// A target over `miniport`, whose StartDevice is `start`.
    pub(crate) fn new(miniport: &'a Miniport, start: &'a mut dyn FnMut() -> NTSTATUS) -> Self {
        Self {
            miniport,
            start,
            report: Vec::new(),
            contexts: Vec::new(),
        }
    }

    fn table(&self) -> &DRIVER_INITIALIZATION_DATA {
        self.miniport.driver().table()
    }
}

/// A driver handle from the 8 bytes the sequence keeps.
fn handle(h: u64) -> HANDLE {
    core::ptr::without_provenance_mut(usize::try_from(h).unwrap_or(usize::MAX))
}

impl sequence::Target for ModelTarget<'_> {
    fn slot(&self, name: &str) -> bool {
        slot_is_set(self.table(), name)
    }

    fn ddi_version(&self) -> u32 {
        self.table().Version
    }

    fn query(&mut self, ty: u32, input: &[u8], output: &mut [u8]) -> u32 {
        let ty = DXGK_QUERYADAPTERINFOTYPE(i32::try_from(ty).unwrap_or(i32::MAX));
        self.miniport
            .query_adapter_info_raw(ty, input, output)
            .as_u32()
    }

    fn start_device(&mut self) -> u32 {
        (self.start)().as_u32()
    }

    fn node_metadata(&mut self, node_and_adapter: u32, out: &mut [u8]) -> u32 {
        let Some(f) = self.table().DxgkDdiGetNodeMetadata else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the loaded driver; `out` holds the 74 bytes of a
        // DXGK_NODEMETADATA and lives across the call.
        unsafe {
            f(
                self.miniport.context(),
                node_and_adapter,
                out.as_mut_ptr().cast(),
            )
        }
        .as_u32()
    }

    fn create_device(&mut self, args: &mut [u8]) -> u32 {
        let Some(f) = self.table().DxgkDdiCreateDevice else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the loaded driver; `args` is a whole
        // DXGKARG_CREATEDEVICE block that lives across the call.
        unsafe { f(self.miniport.context(), args.as_mut_ptr().cast()) }.as_u32()
    }

    fn create_context(&mut self, device: u64, args: &mut [u8]) -> u32 {
        let Some(f) = self.table().DxgkDdiCreateContext else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        if args.len() < size_of::<DXGKARG_CREATECONTEXT>() {
            return STATUS_INVALID_PARAMETER.as_u32();
        }
        // SAFETY: a DDI of the loaded driver, with a device it returned and a
        // whole DXGKARG_CREATECONTEXT block that lives across the call.
        let status = unsafe { f(handle(device), args.as_mut_ptr().cast()) };
        if status == STATUS_SUCCESS {
            // SAFETY: `args` holds a whole DXGKARG_CREATECONTEXT (checked
            // above); plain data, read unaligned.
            let done = unsafe {
                args.as_ptr()
                    .cast::<DXGKARG_CREATECONTEXT>()
                    .read_unaligned()
            };
            self.contexts.push(crate::records::Context {
                handle: crate::records::ContextHandle(done.hContext.addr()),
                info: done.ContextInfo,
            });
        }
        status.as_u32()
    }

    fn destroy_context(&mut self, context: u64) -> u32 {
        let Some(f) = self.table().DxgkDdiDestroyContext else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the loaded driver, with a context it returned.
        unsafe { f(handle(context)) }.as_u32()
    }

    fn destroy_device(&mut self, device: u64) -> u32 {
        let Some(f) = self.table().DxgkDdiDestroyDevice else {
            return STATUS_NOT_SUPPORTED.as_u32();
        };
        // SAFETY: a DDI of the loaded driver, with a device it returned.
        unsafe { f(handle(device)) }.as_u32()
    }

    fn report(&mut self, rule: &'static Rule, verdict: Verdict, detail: fmt::Arguments<'_>) {
        let line = ReportLine {
            rule,
            verdict,
            detail: detail.to_string(),
        };
        println!("dxgkrnl-model: start {line}");
        self.report.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_unique_id_and_is_modelled_but_unverified() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                r.modelled_from_public_sources && !r.verified_on_24h2,
                "{}",
                r.id
            );
            assert!(RULES.iter().skip(i + 1).all(|o| o.id != r.id), "{}", r.id);
            assert_eq!(rules::rule(r.id), Some(r));
        }
    }

    #[test]
    fn wddm_versions_follow_2_2_e() {
        for ok in [
            0x1000, 0x1200, 0x1300, 0x2000, 0x2500, 0x3000, 0x3100, 0x3200,
        ] {
            assert_eq!(rules::wddm_version(ok, 0x11007), Ok(()), "{ok:#x}");
        }
        for bad in [0, 0x1100, 0x2050, 0x2A00, 0x3300] {
            assert!(rules::wddm_version(bad, 0x11007).is_err(), "{bad:#x}");
        }
        assert!(rules::wddm_version(0x2600, 0xA00B).is_err());
        assert_eq!(rules::wddm_version(0x2500, 0xA00B), Ok(()));
    }

    #[test]
    fn driver_caps_buffer_size_follows_the_ddi_version() {
        assert_eq!(rules::driver_caps_size(0x11007), 592);
        assert_eq!(rules::driver_caps_size(0xE003), 592);
        assert_eq!(rules::driver_caps_size(0x9001), 576);
        assert_eq!(rules::driver_caps_size(0x1000), 0);
        assert_eq!(abi::caps::SIZE, size_of::<DXGK_DRIVERCAPS>());
        assert_eq!(
            abi::caps::MISC_CAPS,
            core::mem::offset_of!(DXGK_DRIVERCAPS, MiscCaps)
        );
        assert_eq!(
            abi::caps::WDDM_VERSION,
            core::mem::offset_of!(DXGK_DRIVERCAPS, WDDMVersion)
        );
        assert_eq!(
            abi::caps::SUPPORT_PER_ENGINE_TDR,
            core::mem::offset_of!(DXGK_DRIVERCAPS, SupportPerEngineTDR)
        );
    }
}
