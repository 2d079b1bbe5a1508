//! Profiles and capabilities: what each partition count offers
//! (`DxgkDdiGetVirtualGpuProfile`), how a VM's request is resolved against
//! it and the free VRAM when a vGPU is created (`DxgkDdiCreateVirtualGpu`),
//! and what a vGPU got (`DxgkDdiGetVirtualGpuInfo`).

use dxgk_sys::LUID;

use super::{ConfigSpace, MSIX_TABLE_SIZE, Partitioning, Power, VfIndex, VfMigration, Vgpu, luid};
use crate::foundation::status::{Result, Status};
use crate::foundation::units::{PageSize, SegmentId};
use crate::kernel::sync::RwLock;

/// Capability indices (`DXGK_VGPU_CAPABILITY_TYPE`).
pub(crate) const CAPABILITIES: usize = 4;
/// `DXGK_VGPU_CAPABILITY_MEMORY`.
pub(super) const MEMORY: usize = 0;

/// One capability of a partition profile (`DXGK_VGPU_PROFILE_CAPABILITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProfileValue {
    pub(crate) total: u64,
    pub(crate) available: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) optimal: u64,
}

/// What a VM asks for one capability (`DXGK_VIRTUALGPUCAPABILITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requested {
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) optimal: u64,
}

/// One capability of a vGPU (`DXGK_VGPU_CAPABILITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Capability {
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) current: u64,
}

/// The reserve a new vGPU asks for (`DXGK_VIRTUALGPUSEGMENTINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReserveRequest {
    pub(crate) segment: SegmentId,
    pub(crate) size: u64,
    pub(crate) alignment: u32,
    /// Goes out as `PrivateDriverData`.
    pub(crate) instance: u32,
}

/// What CreateVirtualGpu returns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Created {
    pub(crate) luid: LUID,
    pub(crate) reserve: ReserveRequest,
}

fn round_down(bytes: u64, page: PageSize) -> u64 {
    page.pages_in(bytes)
        .checked_mul(u64::from(page.bytes()))
        .unwrap_or(0)
}

fn round_up(bytes: u64, page: PageSize) -> Option<u64> {
    let p = u64::from(page.bytes());
    bytes
        .checked_add(p.checked_sub(1)?)
        .map(|b| round_down(b, page))
}

impl Vgpu {
    /// `DxgkDdiGetVirtualGpuInfo`: min, max and current of each capability.
    pub(crate) fn info(&self) -> [Capability; CAPABILITIES] {
        self.caps
    }
}

impl Partitioning {
    /// VRAM not yet promised to a vGPU.
    pub(super) fn free(&self) -> u64 {
        let used = self
            .live()
            .fold(0u64, |sum, v| sum.saturating_add(v.reserve_size));
        self.segment_size.saturating_sub(used)
    }

    /// Each partition's most VRAM for `count` partitions.
    fn share(&self, count: u32) -> u64 {
        round_down(
            self.segment_size.checked_div(u64::from(count)).unwrap_or(0),
            self.page,
        )
    }

    /// `DxgkDdiGetVirtualGpuProfile` for `count` partitions: the flags and
    /// the four capabilities.
    ///
    /// # Errors
    /// `InvalidParameter` unless `count` is an option.
    pub(crate) fn profile(&self, count: u32) -> Result<(u32, [ProfileValue; CAPABILITIES])> {
        if !self.config.offers(count) {
            return Err(Status::InvalidParameter);
        }
        let share = self.share(count);
        let mut caps = [ProfileValue::default(); CAPABILITIES];
        if let Some(memory) = caps.get_mut(MEMORY) {
            *memory = ProfileValue {
                total: self.segment_size,
                available: self.free(),
                min: u64::from(self.page.bytes()).min(share),
                max: share,
                optimal: share,
            };
        }
        Ok((dxgk_sys::DXGK_VIRTUALIZED_HOST_VIRTUAL_DEVICE, caps))
    }

    /// Resolves one requested capability against what the adapter can give.
    fn resolve(
        &self,
        index: usize,
        request: Requested,
        profile: ProfileValue,
    ) -> Result<Capability> {
        let unspecified = request == Requested::default();
        if !unspecified
            && (request.min > request.max
                || (request.optimal != 0
                    && (request.optimal < request.min || request.optimal > request.max)))
        {
            return Err(Status::InvalidParameter);
        }
        let (min, max, target) = if unspecified {
            (profile.min, profile.max, profile.optimal)
        } else {
            let target = if request.optimal != 0 {
                request.optimal
            } else {
                profile.optimal
            };
            (request.min, request.max, target)
        };
        if index != MEMORY {
            // No engines: nothing above zero can be given.
            if min > 0 {
                return Err(Status::InsufficientResources);
            }
            return Ok(Capability {
                min,
                max,
                current: 0,
            });
        }
        let limit = max.min(profile.max).min(round_down(self.free(), self.page));
        if min > limit {
            return Err(Status::InsufficientResources);
        }
        // `min <= limit` (checked above); `max`/`min` rather than `clamp`,
        // which would assert it.
        let clamped = target.max(min).min(limit);
        let mut size = round_up(clamped, self.page).unwrap_or(u64::MAX);
        if size > limit {
            // `limit` is not a page multiple (the VM's Max is not): stay within it.
            size = round_down(limit, self.page);
        }
        if size == 0 || size < min {
            return Err(Status::InsufficientResources);
        }
        Ok(Capability {
            min,
            max,
            current: size,
        })
    }

    /// `DxgkDdiCreateVirtualGpu`: everything is validated and allocated before
    /// the slot is filled, so a failure leaves no trace.
    ///
    /// # Errors
    /// `InvalidParameter` before any count, for a partition at or above the
    /// count, or for a malformed request; `InvalidDeviceState` for an
    /// occupied slot; `InsufficientResources` for a request the adapter
    /// cannot meet; `NoMemory`.
    pub(crate) fn create(
        &mut self,
        vf: VfIndex,
        request: &[Requested; CAPABILITIES],
    ) -> Result<Created> {
        if self.count == 0 || vf.0 >= self.count {
            return Err(Status::InvalidParameter);
        }
        let index = usize::try_from(vf.0).map_err(|_| Status::InvalidParameter)?;
        if self.slots.get(index).is_some_and(Option::is_some) {
            return Err(Status::InvalidDeviceState);
        }
        let (_, profile) = self.profile(self.count)?;
        let mut caps = [Capability::default(); CAPABILITIES];
        for (i, ((cap, req), prof)) in caps.iter_mut().zip(request).zip(profile).enumerate() {
            *cap = self.resolve(i, *req, prof)?;
        }
        let size = caps.get(MEMORY).map_or(0, |c| c.current);
        let config = ConfigSpace::new(size)?;
        let instance = self.take_instance();
        let luid = luid::allocate()?;
        let vgpu = Vgpu {
            index: vf.0,
            instance,
            luid,
            caps,
            segment: self.segment,
            partition_count: self.count,
            reserve_size: size,
            reserve: None,
            revoked: false,
            power: Power::D3,
            wake_armed: false,
            vmbus: None,
            config,
            msix: [None; MSIX_TABLE_SIZE],
            migration: VfMigration::new(),
        };
        let slot = self.slots.get_mut(index).ok_or(Status::InvalidParameter)?;
        *slot = Some(RwLock::try_new(vgpu)?);
        Ok(Created {
            luid,
            reserve: ReserveRequest {
                segment: self.segment,
                size,
                alignment: self.page.bytes(),
                instance,
            },
        })
    }

    /// A fresh, non-zero instance number no live vGPU or allocation uses.
    fn take_instance(&mut self) -> u32 {
        loop {
            let candidate = self.next_instance;
            self.next_instance = candidate.checked_add(1).unwrap_or(1);
            let in_use = self.live().any(|v| v.instance == candidate);
            if candidate != 0 && !in_use {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::units::Segment;
    use crate::vgpu::options::PartitionConfig;

    fn partitioning() -> Partitioning {
        let segments = [Segment {
            id: SegmentId(1),
            size: 64 << 20,
            page: PageSize::new(4096).ok(),
        }];
        Partitioning::new(&PartitionConfig::builtin(), &segments)
            .unwrap()
            .unwrap()
    }

    fn vram(min: u64, max: u64, optimal: u64) -> [Requested; CAPABILITIES] {
        let mut r = [Requested::default(); CAPABILITIES];
        r[MEMORY] = Requested { min, max, optimal };
        r
    }

    #[test]
    fn min_vram_above_the_free_vram_is_refused_and_nothing_is_kept() {
        // The split keeps N x share within the segment, so free VRAM never
        // drops below a share while a slot is free through the DDIs alone;
        // make it so by hand to pin the row of section 6.
        let mut p = partitioning();
        p.set_count(2).unwrap();
        p.create(VfIndex(0), &vram(0, 0, 0)).unwrap();
        if let Some(Some(v)) = p.slots.get_mut(0) {
            v.get_mut().reserve_size = 60 << 20;
        }
        assert_eq!(p.free(), 4 << 20);
        assert_eq!(
            p.create(VfIndex(1), &vram(8 << 20, 32 << 20, 0)).err(),
            Some(Status::InsufficientResources)
        );
        assert!(p.slots.get(1).is_some_and(Option::is_none), "no trace");
        // A request that fits what is left gets it, clamped to the free VRAM.
        let c = p.create(VfIndex(1), &vram(1 << 20, 32 << 20, 0)).unwrap();
        assert_eq!(c.reserve.size, 4 << 20);
    }

    #[test]
    fn instances_are_never_zero_nor_reused_by_a_live_vgpu() {
        let mut p = partitioning();
        p.set_count(2).unwrap();
        p.next_instance = u32::MAX;
        let a = p
            .create(VfIndex(0), &vram(0, 0, 0))
            .unwrap()
            .reserve
            .instance;
        assert_eq!(a, u32::MAX);
        p.next_instance = u32::MAX;
        let b = p
            .create(VfIndex(1), &vram(0, 0, 0))
            .unwrap()
            .reserve
            .instance;
        assert_eq!(b, 1, "wraps past 0, skipping the live u32::MAX");
    }
}
