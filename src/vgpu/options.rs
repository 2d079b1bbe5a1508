//! The partition configuration: whether the adapter offers GPU partitioning
//! at all, and the partition counts it offers.
//!
//! On Windows the adapter uses [`PartitionConfig::builtin`]: partitioning on,
//! counts 1, 2, 4 and 8. On the host a loader may replace it between
//! AddDevice and the first StartDevice (`gpup_host_set_partition_config`).

use crate::foundation::status::{Result, Status};

/// The most partition counts an adapter offers (`DXGKARG_GETGPUPARTITIONINFO`
/// carries them in a caller-sized array; 32 is this driver's bound).
pub(crate) const MAX_OPTIONS: usize = 32;
/// The largest partition count accepted: bounds the vGPU table.
pub(crate) const MAX_PARTITION_COUNT: u16 = 64;
/// The built-in partition counts.
pub(crate) const BUILTIN_OPTIONS: [u16; 4] = [1, 2, 4, 8];

/// Validated partition configuration.
///
/// # Invariants
/// When enabled, `1 <= count <= MAX_OPTIONS`, and the first `count` options
/// are strictly ascending values in `1..=MAX_PARTITION_COUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionConfig {
    enabled: bool,
    options: [u16; MAX_OPTIONS],
    count: usize,
}

impl PartitionConfig {
    /// Partitioning on, with counts 1, 2, 4 and 8.
    pub(crate) fn builtin() -> Self {
        let mut options = [0; MAX_OPTIONS];
        for (slot, value) in options.iter_mut().zip(BUILTIN_OPTIONS) {
            *slot = value;
        }
        Self {
            enabled: true,
            options,
            count: BUILTIN_OPTIONS.len(),
        }
    }

    /// Partitioning off: `DxgkDdiQueryInterface` answers `STATUS_NOT_SUPPORTED`
    /// for every interface.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn disabled() -> Self {
        Self {
            enabled: false,
            options: [0; MAX_OPTIONS],
            count: 0,
        }
    }

    /// Validates a list of partition counts, in any order.
    ///
    /// # Errors
    /// `InvalidParameter` for no counts, more than [`MAX_OPTIONS`], a count of
    /// 0 or above [`MAX_PARTITION_COUNT`], or a count given twice.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn new(counts: &[u16]) -> Result<Self> {
        if counts.is_empty() || counts.len() > MAX_OPTIONS {
            return Err(Status::InvalidParameter);
        }
        let mut options = [0; MAX_OPTIONS];
        for (slot, &value) in options.iter_mut().zip(counts) {
            if value == 0 || value > MAX_PARTITION_COUNT {
                return Err(Status::InvalidParameter);
            }
            *slot = value;
        }
        let sorted = options.get_mut(..counts.len()).unwrap_or_default();
        crate::foundation::sort::sort(sorted);
        if sorted.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(Status::InvalidParameter);
        }
        Ok(Self {
            enabled: true,
            options,
            count: counts.len(),
        })
    }

    /// Whether partitioning is offered.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The partition counts offered, ascending.
    pub(crate) fn options(&self) -> &[u16] {
        self.options.get(..self.count).unwrap_or_default()
    }

    /// Whether `count` is one of the options.
    pub(crate) fn offers(&self, count: u32) -> bool {
        self.options().iter().any(|&o| u32::from(o) == count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated_and_sorted() {
        assert_eq!(PartitionConfig::builtin().options(), &[1, 2, 4, 8]);
        let c = PartitionConfig::new(&[8, 1, 32]).unwrap();
        assert_eq!(c.options(), &[1, 8, 32]);
        assert!(c.offers(32) && !c.offers(2) && !c.offers(0));
        for bad in [&[][..], &[0], &[65], &[2, 2], &[1; 33]] {
            assert_eq!(PartitionConfig::new(bad), Err(Status::InvalidParameter));
        }
        assert!(!PartitionConfig::disabled().enabled());
        assert!(PartitionConfig::disabled().options().is_empty());
    }
}
