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
//! ([`crate::migration`]). [`PartitionVfs`] is the provider: every VF comes
//! from `DxgkDdiCreateVirtualGpu` through the partition interface, its
//! reserve placed where the [`Layout`] (the model playing VidMm) says.

use std::collections::BTreeMap;

use dxgk_sys::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_UNSUCCESSFUL};

use crate::adapter::Adapter;
use crate::records::{BasisHandle, VgpuInfo};
use crate::status::Result;
use crate::vgpu::{Stage, VgpuRequest};

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

    /// The VF address of segment offset `at`, and how many bytes of its
    /// range follow it (at least 1); `None` if the reserve does not hold it.
    #[must_use]
    pub fn vf_address(&self, at: u64) -> Option<(u64, u64)> {
        self.ranges
            .iter()
            .zip(&self.starts)
            .find_map(|(&(offset, len), &start)| {
                let within = at.checked_sub(offset)?;
                (within < len).then(|| (start + within, len - within))
            })
    }

    /// The VF-address runs that `ranges` (segment offset, size) cover, in
    /// order, adjacent runs merged; `None` if a byte of them lies outside
    /// the reserve. A memory basis over the reserve's own ranges covers
    /// `[(0, size)]`, however scattered the reserve is.
    #[must_use]
    pub fn vf_runs(&self, ranges: &[(u64, u64)]) -> Option<Vec<(u64, u64)>> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &(mut at, mut left) in ranges {
            while left > 0 {
                let (vf, room) = self.vf_address(at)?;
                let n = room.min(left);
                match runs.last_mut() {
                    Some(last) if last.0 + last.1 == vf => last.1 += n,
                    _ => runs.push((vf, n)),
                }
                at += n;
                left -= n;
            }
        }
        Some(runs)
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

    /// Binds the reserve to the VF and brings the VF up, after its memory
    /// basis `basis` (over the reserve's ranges, in VF address order) was
    /// created and, if performant, tracked.
    ///
    /// # Errors
    /// The failing status.
    fn bind_reserve(
        &mut self,
        adapter: &Adapter,
        vf: u32,
        reserve: &Reserve,
        basis: BasisHandle,
    ) -> Result<()>;

    /// The vGPU as the partition interface described it, once bound.
    fn vgpu(&self, vf: u32) -> Option<&VgpuInfo>;

    /// Destroys VF `vf` and frees its reserve (`DxgkDdiDestroyVirtualGpu`,
    /// then the reserve's allocations). Its memory basis outlives it.
    ///
    /// # Errors
    /// The failing status.
    fn destroy_vf(&mut self, adapter: &Adapter, vf: u32) -> Result<()>;
}

/// Where VidMm places each VF's reserve: the model's placement plan.
///
/// The tracked segment is cut into `vfs * ranges` equal chunks (whole pages,
/// deliberately not a multiple of 64 pages when the sizes allow); VF `v` owns
/// chunks `v, v + vfs, v + 2 * vfs, ...`, so the reserves interleave and each
/// VF's chunks touch the other VFs' chunks. Each reserve lists its chunks in
/// a rotated, descending order, so its VF address order is not its offset order.
#[derive(Debug, Clone)]
pub struct Layout {
    reserves: Vec<Reserve>,
}

impl Layout {
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
                "{} of VRAM cannot hold {vfs} VF(s) x {ranges} range(s) of at least one {} page",
                crate::vram::format_size(segment_size),
                crate::vram::format_size(page)
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
        Ok(Self { reserves })
    }

    /// The reserve VF `vf` gets.
    #[must_use]
    pub fn reserve(&self, vf: u32) -> Option<&Reserve> {
        self.reserves.get(usize::try_from(vf).ok()?)
    }
}

/// VFs created through the driver's GPU partition interface, as Dxgkrnl and
/// VidMm create them ([`crate::vgpu`]): `DxgkDdiCreateVirtualGpu` in the
/// VF's slot for exactly its [`Layout`] reserve size, the standard vGPU
/// allocation, pinned by VidMm at the layout's ranges; then, once the
/// orchestration made the memory basis over those ranges,
/// `DxgkDdiSetVirtualGpuResources2` with that basis (a reserve of several
/// ranges) or `DxgkDdiSetVirtualGpuResources` (one range, placed first fit),
/// GetVirtualGpuInfo, the virtual-PCI probe, the VM bus and D0. Teardown: D3,
/// `DxgkDdiDestroyVirtualGpu`, `DxgkDdiDestroyAllocation`.
#[derive(Debug, Clone)]
pub struct PartitionVfs {
    layout: Layout,
    vgpus: BTreeMap<u32, VgpuInfo>,
}

impl PartitionVfs {
    /// VFs laid out as `layout` says.
    #[must_use]
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            vgpus: BTreeMap::new(),
        }
    }
}

impl VfProvider for PartitionVfs {
    fn create_vf(&mut self, adapter: &Adapter, vf: u32) -> Result<Reserve> {
        let planned = self.layout.reserve(vf).ok_or(STATUS_INVALID_PARAMETER)?;
        let scattered = planned.ranges().len() > 1;
        let request = VgpuRequest {
            partition: Some(vf),
            placement: scattered.then(|| planned.ranges().to_vec()),
            ..VgpuRequest::vram(planned.size())
        };
        let vgpu = adapter.create_vgpu_until(&request, Stage::Reserved)?;
        let pieces = vgpu.pieces.first().cloned().unwrap_or_default();
        let reserve = vgpu
            .reserves
            .first()
            .map(|r| r.segment)
            .ok_or(STATUS_UNSUCCESSFUL)
            .and_then(|segment| Reserve::new(segment, pieces));
        match reserve {
            Ok(reserve) if reserve.size() == planned.size() => {
                self.vgpus.insert(vf, vgpu);
                Ok(reserve)
            }
            other => {
                let _ = adapter.destroy_vgpu(vf);
                Err(other.err().unwrap_or(STATUS_UNSUCCESSFUL))
            }
        }
    }

    fn bind_reserve(
        &mut self,
        adapter: &Adapter,
        vf: u32,
        reserve: &Reserve,
        basis: BasisHandle,
    ) -> Result<()> {
        let bases = if reserve.ranges().len() > 1 {
            vec![basis]
        } else {
            Vec::new()
        };
        let vgpu = adapter.run_vgpu_with(vf, &bases)?;
        self.vgpus.insert(vf, vgpu);
        Ok(())
    }

    fn vgpu(&self, vf: u32) -> Option<&VgpuInfo> {
        self.vgpus.get(&vf)
    }

    fn destroy_vf(&mut self, adapter: &Adapter, vf: u32) -> Result<()> {
        self.vgpus.remove(&vf).ok_or(STATUS_INVALID_PARAMETER)?;
        adapter.destroy_vgpu(vf)
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
        let vfs = Layout::new(crate::adapter::FIRST_VRAM_SEGMENT, 64 << 20, 4096, 2, 3).unwrap();
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
        assert_eq!(r.vf_address(4096), Some((8192, 4096)));
        assert_eq!(r.vf_address(0), None);
        assert_eq!(r.vf_runs(r.ranges()), Some(vec![(0, 12288)]));
        assert_eq!(
            r.vf_runs(&[(4096, 4096), (40960, 4096)]),
            Some(vec![(8192, 4096), (0, 4096)])
        );
        assert_eq!(r.vf_runs(&[(0, 4096)]), None);
    }

    #[test]
    fn partition_vfs_come_from_create_virtual_gpu_at_the_layout() {
        let driver = crate::loader::Driver::load().unwrap();
        let mut config = crate::adapter::AdapterConfig::single(16 << 20, 4096);
        config.partitions = Some(crate::adapter::PartitionConfig {
            enabled: true,
            options: vec![2],
        });
        let adapter = driver.start_adapter(&config).unwrap();
        adapter.set_partition_count(2).unwrap();
        let layout = Layout::new(crate::adapter::FIRST_VRAM_SEGMENT, 16 << 20, 4096, 2, 3).unwrap();
        let mut vfs = PartitionVfs::new(layout.clone());
        let reserve = vfs.create_vf(&adapter, 1).unwrap();
        assert_eq!(&reserve, layout.reserve(1).unwrap());
        assert!(vfs.vgpu(1).is_some_and(|v| v.reserves[0].scattered));
        assert_eq!(
            vfs.create_vf(&adapter, 1).unwrap_err(),
            dxgk_sys::STATUS_INVALID_DEVICE_STATE,
            "the slot is taken"
        );
        assert_eq!(
            vfs.create_vf(&adapter, 2).unwrap_err(),
            STATUS_INVALID_PARAMETER
        );
        let basis = adapter
            .create_memory_basis(crate::adapter::FIRST_VRAM_SEGMENT, reserve.ranges())
            .expect("basis");
        vfs.bind_reserve(&adapter, 1, &reserve, basis).unwrap();
        let q = adapter.vgpu_query(vfs.vgpu(1).unwrap()).unwrap();
        assert_ne!(
            q.Flags & gpup_miniport::vgpu::escape::GPUP_VGPU_FLAG_SCATTERED,
            0
        );
        // The segment offset is host-only state: the escape no longer reports it.
        assert_eq!(
            adapter.vgpu_host_state(1).unwrap().ReserveOffset,
            reserve.ranges()[0].0
        );
        vfs.destroy_vf(&adapter, 1).unwrap();
        assert_eq!(
            vfs.destroy_vf(&adapter, 1).unwrap_err(),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            adapter.destroy_memory_basis(basis),
            dxgk_sys::STATUS_SUCCESS
        );
    }
}
