//! What a migration simulates ([`MigrationConfig`], checked before anything
//! runs), the link model ([`Link`]) and why a run can fail ([`MigrationError`]).

use std::time::Duration;

use dxgk_sys::NTSTATUS;

use crate::adapter::{AdapterConfig, PartitionConfig};
use crate::vf::{Layout, Reserve};
use crate::vram::{VramError, format_size as size};
use crate::writers::Workload;

/// The segment the model tracks (driver segment id): the first VRAM
/// segment (segment 1 is the driver's paging aperture).
pub const SEGMENT: u32 = crate::adapter::FIRST_VRAM_SEGMENT;

/// Most engine operations per round (each waits for its paging fences).
pub const MAX_ENGINE_OPS: u32 = 4096;

/// When dirty-bit tracking starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingStart {
    /// As the caps say: at VF creation if tracking is performant, else at
    /// migration start (what Dxgkrnl does).
    FromCaps,
    /// At migration start, as for an adapter whose tracking is not
    /// performant, whatever the caps say.
    AtMigration,
}

/// A deliberate fault in the live-migration protocol, to show that the
/// checks catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationFault {
    /// None: the protocol as Dxgkrnl runs it.
    #[default]
    None,
    /// One bit of the mutable data flipped on its way to the target: the
    /// target's RestoreMutableMigrationData must refuse it.
    CorruptMutableData,
    /// The target never gets RestoreMutableMigrationData (End comes right
    /// after the pages): the VF-state check must fail.
    SkipMutableRestore,
}

/// Engine traffic during the live phase (none by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineTraffic {
    /// Paging operations (FILL, TRANSFER alternately) per brownout round,
    /// each one page inside the migrating VF's reserve; 0 for none.
    pub ops_per_round: u32,
    /// Test only: the source's engine drops its dirty marks
    /// (`Broken::DropsMarks`): the proof must fail.
    pub drops_marks: bool,
}

/// What the engine wrote inside one VF's reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineTotals {
    /// FILL operations.
    pub fills: u64,
    /// TRANSFER operations.
    pub transfers: u64,
    /// Bytes the engine wrote into the reserve.
    pub bytes: u64,
    /// Paging fences delivered for them.
    pub fences: u64,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationConfig {
    /// Size of the tracked VRAM segment, bytes (each adapter).
    pub vram_size: u64,
    /// Dirty-tracking page size the adapter's hardware uses, bytes.
    pub page_size: u32,
    /// Number of VFs.
    pub vf_count: u32,
    /// Ranges each VF's reserve is scattered over.
    pub ranges_per_vf: u32,
    /// What the GPU writes.
    pub workload: Workload,
    /// Link bandwidth, bits per second.
    pub link_bits_per_second: u64,
    /// Stop pre-copy once the pending set can be sent within this.
    pub downtime_budget: Duration,
    /// Stop pre-copy after this many rounds (at least 1; the last is the blackout).
    pub max_rounds: u32,
    /// When tracking starts.
    pub tracking: TrackingStart,
    /// Seed of the writers' random streams (and of the guest's programming).
    pub seed: u64,
    /// A deliberate fault in the protocol.
    pub fault: MigrationFault,
    /// The source engine's writes inside the migrating VF's reserve.
    pub engine: EngineTraffic,
}

/// Why a migration could not run (a proof failure is not an error: see
/// `MigrationReport::passed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationError {
    /// The configuration cannot be simulated.
    Config(String),
    /// The adapters' VRAM (the driver's backing) is not available.
    Vram(VramError),
    /// A DDI (or a check the model makes where Dxgkrnl would) failed.
    Driver {
        /// What was being done.
        step: String,
        /// The status.
        status: NTSTATUS,
    },
}

impl core::fmt::Display for MigrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Config(message) => f.write_str(message),
            Self::Vram(e) => write!(f, "VRAM: {e} (try a smaller VRAM size)"),
            Self::Driver { step, status } => write!(f, "{step} failed: {status:?}"),
        }
    }
}

impl std::error::Error for MigrationError {}

impl From<VramError> for MigrationError {
    fn from(e: VramError) -> Self {
        Self::Vram(e)
    }
}

/// A link of `bits_per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Bandwidth, bits per second (non-zero).
    pub bits_per_second: u64,
}

impl Link {
    /// Modelled time to send `bytes`, in nanoseconds.
    #[must_use]
    pub fn transfer_ns(&self, bytes: u64) -> u64 {
        let bits = u128::from(bytes) * 8 * 1_000_000_000;
        u64::try_from(bits.div_ceil(u128::from(self.bits_per_second.max(1)))).unwrap_or(u64::MAX)
    }

    /// Bytes the link sends in `time`.
    #[must_use]
    pub fn bytes_in(&self, time: Duration) -> u64 {
        let bits = time.as_nanos() * u128::from(self.bits_per_second) / 1_000_000_000;
        u64::try_from(bits / 8).unwrap_or(u64::MAX)
    }
}

impl MigrationConfig {
    /// Checks what can be checked before anything runs.
    ///
    /// # Errors
    /// [`MigrationError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), MigrationError> {
        let bad = |m: String| Err(MigrationError::Config(m));
        let page = u64::from(self.page_size);
        if !self.page_size.is_power_of_two() || self.page_size < 4096 {
            return bad(format!(
                "page size {} is not a power of two of at least 4096 bytes",
                self.page_size
            ));
        }
        if self.vram_size == 0 || !self.vram_size.is_multiple_of(page) {
            return bad(format!(
                "VRAM size {} is not a non-zero multiple of the page size {}",
                size(self.vram_size),
                size(page)
            ));
        }
        if self.vf_count == 0 || self.vf_count > 32 {
            return bad(format!("VF count {} is not in 1..=32", self.vf_count));
        }
        if self.ranges_per_vf == 0 || self.ranges_per_vf > 64 {
            return bad(format!(
                "ranges per VF {} is not in 1..=64",
                self.ranges_per_vf
            ));
        }
        let w = &self.workload;
        if w.write_size < 8 || !w.write_size.is_multiple_of(8) || w.write_size > 1 << 30 {
            return bad(format!(
                "write size {} is not a multiple of 8 bytes in 8 B..=1 GiB",
                size(w.write_size)
            ));
        }
        if w.working_set > 0 && w.write_size > w.working_set {
            return bad(format!(
                "write size {} is larger than the working set {}",
                size(w.write_size),
                size(w.working_set)
            ));
        }
        if w.writers_per_vf == 0 || w.writers_per_vf > 16 {
            return bad(format!(
                "writers per VF {} is not in 1..=16",
                w.writers_per_vf
            ));
        }
        if w.drop_one_mark_in == Some(0) {
            return bad("--drop-one-mark-in must be at least 1".into());
        }
        if self.engine.ops_per_round > MAX_ENGINE_OPS {
            return bad(format!(
                "--engine-traffic {} is over {MAX_ENGINE_OPS} operations per round",
                self.engine.ops_per_round
            ));
        }
        if self.engine.drops_marks && self.engine.ops_per_round == 0 {
            return bad("--engine-drops-marks needs --engine-traffic above zero".into());
        }
        if self.link_bits_per_second == 0 {
            return bad("the link speed must be above zero".into());
        }
        if self.max_rounds == 0 {
            return bad("at least one round is needed".into());
        }
        let layout = self.layout()?;
        let reserve = layout.reserve(0).map_or(0, Reserve::size);
        if w.working_set > reserve {
            return bad(format!(
                "working set {} is larger than a VF's reserve ({})",
                size(w.working_set),
                size(reserve)
            ));
        }
        Ok(())
    }

    /// Where VidMm places the reserves for this configuration.
    ///
    /// # Errors
    /// [`MigrationError::Config`] if the segment cannot hold the reserves.
    pub fn layout(&self) -> Result<Layout, MigrationError> {
        Layout::new(
            SEGMENT,
            self.vram_size,
            u64::from(self.page_size),
            self.vf_count,
            self.ranges_per_vf,
        )
        .map_err(MigrationError::Config)
    }

    /// The link.
    #[must_use]
    pub fn link(&self) -> Link {
        Link {
            bits_per_second: self.link_bits_per_second,
        }
    }

    /// Each adapter: one tracked segment, and partitioning offered with
    /// exactly the VF count as its partition count, so that each partition's
    /// share of the segment holds one VF's reserve.
    pub(super) fn adapter_config(&self) -> AdapterConfig {
        let mut config = AdapterConfig::single(self.vram_size, self.page_size);
        config.max_bases = self.vf_count.saturating_mul(2).max(8);
        config.partitions = Some(PartitionConfig {
            enabled: true,
            options: vec![u16::try_from(self.vf_count).unwrap_or(u16::MAX)],
        });
        config
    }
}

/// A DDI's failure during `step`.
pub(super) fn driver_error(step: &str, status: NTSTATUS) -> MigrationError {
    MigrationError::Driver {
        step: step.to_owned(),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_model_is_bytes_over_bandwidth() {
        let link = Link {
            bits_per_second: 10_000_000_000,
        };
        assert_eq!(link.transfer_ns(1_250_000_000), 1_000_000_000);
        assert_eq!(link.transfer_ns(1), 1);
        assert_eq!(link.bytes_in(Duration::from_millis(750)), 937_500_000);
    }
}
