//! Virtual functions (vGPUs) and their VRAM reserves.
//!
//! Dxgkrnl creates a vGPU through the miniport's GPU partition interface
//! (`DxgkDdiCreateVirtualGpu`), has VidMm allocate and pin its VRAM reserve,
//! creates one memory basis per reserve, and binds the reserve with
//! `DxgkDdiSetVirtualGpuResources(2)` (`gpu-partitioning.md` section 5, steps
//! 7-10); teardown is `DxgkDdiDestroyVirtualGpu`, then the reserve is freed,
//! then StopDirtyTracking and DestroyMemoryBasis (step 18).
//!
//! [`VfProvider`] is the seam for the vGPU part of that sequence (create,
//! bind, destroy); the memory-basis part is the orchestration's
//! ([`crate::migration`]). [`ModelVfs`] is the provider used while the driver
//! has no partition interface: the model plays VidMm and lays the reserves out
//! itself. A provider over `DxgkDdiCreateVirtualGpu` replaces it without
//! touching the orchestration.

use dxgk_sys::{NTSTATUS, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER};

use crate::Result;
use crate::adapter::Adapter;

/// A VF's VRAM reserve: byte ranges of one segment, in the VF's address order
/// (VF address 0 is the first byte of the first range). The same order is the
/// `Ranges[]` order of the reserve's memory basis, so bit `n` of a whole-basis
/// query is page `n` of the VF's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserve {
    segment: u32,
    ranges: Vec<(u64, u64)>,
    /// VF address of each range's first byte.
    starts: Vec<u64>,
    size: u64,
}

impl Reserve {
    /// A reserve of `ranges` (segment offset, size in bytes) in `segment`.
    ///
    /// # Errors
    /// `STATUS_INVALID_PARAMETER` for no ranges, an empty range or a total
    /// size that overflows.
    pub fn new(segment: u32, ranges: Vec<(u64, u64)>) -> Result<Self> {
        let mut starts = Vec::with_capacity(ranges.len());
        let mut size = 0u64;
        for &(offset, len) in &ranges {
            if len == 0 || offset.checked_add(len).is_none() {
                return Err(STATUS_INVALID_PARAMETER);
            }
            starts.push(size);
            size = size.checked_add(len).ok_or(STATUS_INVALID_PARAMETER)?;
        }
        if ranges.is_empty() {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(Self {
            segment,
            ranges,
            starts,
            size,
        })
    }

    /// The driver segment id.
    #[must_use]
    pub fn segment(&self) -> u32 {
        self.segment
    }

    /// The ranges (segment offset, size), in VF address order.
    #[must_use]
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Total size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The segment offset of VF address `addr` and how many bytes of its
    /// range follow it (at least 1); `None` past the end.
    #[must_use]
    pub fn locate(&self, addr: u64) -> Option<(u64, u64)> {
        let i = self.starts.partition_point(|&s| s <= addr).checked_sub(1)?;
        let (offset, len) = *self.ranges.get(i)?;
        let within = addr.checked_sub(*self.starts.get(i)?)?;
        (within < len).then(|| (offset + within, len - within))
    }

    /// The pieces (segment offset, length) that VF addresses
    /// `[addr, addr + len)` occupy, in order; empty if the span leaves the reserve.
    #[must_use]
    pub fn pieces(&self, mut addr: u64, mut len: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        while len > 0 {
            let Some((offset, left)) = self.locate(addr) else {
                return Vec::new();
            };
            let n = left.min(len);
            out.push((offset, n));
            addr += n;
            len -= n;
        }
        out
    }
}

/// Creates and destroys VFs on one adapter: the seam between the
/// orchestration and however the vGPUs come to exist.
pub trait VfProvider {
    /// Creates VF `vf` and returns its VRAM reserve (pinned, not yet bound).
    ///
    /// # Errors
    /// The failing status; nothing of the VF remains then.
    fn create_vf(&mut self, adapter: &Adapter, vf: u32) -> Result<Reserve>;

    /// Binds the reserve to the VF (`DxgkDdiSetVirtualGpuResources`), after
    /// its memory basis was created (and, if performant, tracked).
    ///
    /// # Errors
    /// The failing status.
    fn bind_reserve(&mut self, adapter: &Adapter, vf: u32, reserve: &Reserve) -> Result<()> {
        let _ = (adapter, vf, reserve);
        Ok(())
    }

    /// Destroys VF `vf` and frees its reserve (`DxgkDdiDestroyVirtualGpu`,
    /// then the reserve's allocations). Its memory basis outlives it.
    ///
    /// # Errors
    /// The failing status.
    fn destroy_vf(&mut self, adapter: &Adapter, vf: u32) -> Result<()>;
}

/// The model's own VFs: the model plays VidMm and lays out every reserve.
///
/// The tracked segment is cut into `vfs * ranges` equal chunks (whole pages,
/// deliberately not a multiple of 64 pages when the sizes allow); VF `v` owns
/// chunks `v, v + vfs, v + 2 * vfs, ...`, so the reserves interleave and each
/// VF's chunks touch the other VFs' chunks. Each reserve lists its chunks in
/// a rotated, descending order, so `Ranges[]` is not sorted by offset.
#[derive(Debug, Clone)]
pub struct ModelVfs {
    reserves: Vec<Reserve>,
    live: Vec<bool>,
}

impl ModelVfs {
    /// A layout of `vfs` reserves of `ranges` chunks each in `segment`
    /// (`segment_size` bytes, dirty-tracking pages of `page` bytes).
    ///
    /// # Errors
    /// A message when the segment cannot hold `vfs * ranges` chunks of at
    /// least one page, or a count is zero.
    pub fn new(
        segment: u32,
        segment_size: u64,
        page: u64,
        vfs: u32,
        ranges: u32,
    ) -> core::result::Result<Self, String> {
        let chunks = u64::from(vfs) * u64::from(ranges);
        if chunks == 0 || page == 0 {
            return Err("at least one VF of at least one range is needed".into());
        }
        let chunk = segment_size / chunks / page * page;
        if chunk == 0 {
            return Err(format!(
                "{segment_size} bytes of VRAM cannot hold {vfs} VF(s) x {ranges} range(s) of at least one {page}-byte page"
            ));
        }
        let mut reserves = Vec::new();
        for v in 0..u64::from(vfs) {
            let mut list = Vec::new();
            for k in 0..u64::from(ranges) {
                let j = u64::from(ranges) - 1 - (k + v) % u64::from(ranges);
                let index = v + j * u64::from(vfs);
                list.push((index * chunk, chunk));
            }
            reserves.push(Reserve::new(segment, list).map_err(|s| format!("layout: {s:?}"))?);
        }
        Ok(Self {
            live: vec![false; reserves.len()],
            reserves,
        })
    }

    /// The reserve VF `vf` gets.
    #[must_use]
    pub fn reserve(&self, vf: u32) -> Option<&Reserve> {
        self.reserves.get(usize::try_from(vf).ok()?)
    }
}

impl VfProvider for ModelVfs {
    fn create_vf(&mut self, _adapter: &Adapter, vf: u32) -> Result<Reserve> {
        let i = usize::try_from(vf).map_err(|_| STATUS_INVALID_PARAMETER)?;
        let (Some(live), Some(reserve)) = (self.live.get_mut(i), self.reserves.get(i)) else {
            return Err(STATUS_INVALID_PARAMETER);
        };
        if *live {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        *live = true;
        Ok(reserve.clone())
    }

    fn destroy_vf(&mut self, _adapter: &Adapter, vf: u32) -> Result<()> {
        let i = usize::try_from(vf).map_err(|_| STATUS_INVALID_PARAMETER)?;
        match self.live.get_mut(i) {
            Some(live) if *live => {
                *live = false;
                Ok(())
            }
            _ => Err(STATUS_INVALID_PARAMETER),
        }
    }
}

/// `NTSTATUS` of a provider result, for traces.
#[must_use]
pub fn status_of<T>(result: &Result<T>) -> NTSTATUS {
    match result {
        Ok(_) => dxgk_sys::STATUS_SUCCESS,
        Err(status) => *status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_interleave_are_disjoint_and_unsorted() {
        let vfs = ModelVfs::new(1, 64 << 20, 4096, 2, 3).unwrap();
        let a = vfs.reserve(0).unwrap();
        let b = vfs.reserve(1).unwrap();
        assert_eq!(a.ranges().len(), 3);
        let mut all: Vec<_> = a.ranges().iter().chain(b.ranges()).copied().collect();
        assert!(a.ranges().windows(2).any(|w| w[0].0 > w[1].0), "not sorted");
        all.sort_unstable();
        assert!(all.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
        assert!(all.last().map(|r| r.0 + r.1).unwrap() <= 64 << 20);
        // 64 MiB / 6 = 2730 pages per chunk: not a multiple of 64 pages.
        assert_eq!(a.ranges()[0].1, 2730 * 4096);
        assert_eq!(a.size(), 3 * 2730 * 4096);
    }

    #[test]
    fn vf_addresses_map_through_the_ranges_in_order() {
        let r = Reserve::new(1, vec![(40960, 8192), (4096, 4096)]).unwrap();
        assert_eq!(r.locate(0), Some((40960, 8192)));
        assert_eq!(r.locate(8191), Some((49151, 1)));
        assert_eq!(r.locate(8192), Some((4096, 4096)));
        assert_eq!(r.locate(12288), None);
        assert_eq!(r.pieces(4096, 8192), vec![(45056, 4096), (4096, 4096)]);
        assert!(r.pieces(8192, 8192).is_empty());
    }

    #[test]
    fn a_vf_cannot_be_created_twice_or_destroyed_when_absent() {
        let driver = crate::Driver::load().unwrap();
        let adapter = driver
            .start_adapter(&crate::AdapterConfig::single(16 << 20, 4096))
            .unwrap();
        let mut vfs = ModelVfs::new(1, 16 << 20, 4096, 2, 1).unwrap();
        assert!(vfs.create_vf(&adapter, 0).is_ok());
        assert_eq!(
            vfs.create_vf(&adapter, 0).unwrap_err(),
            STATUS_INVALID_DEVICE_STATE
        );
        assert_eq!(
            vfs.create_vf(&adapter, 2).unwrap_err(),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            vfs.destroy_vf(&adapter, 1).unwrap_err(),
            STATUS_INVALID_PARAMETER
        );
        assert!(vfs.destroy_vf(&adapter, 0).is_ok());
    }
}
