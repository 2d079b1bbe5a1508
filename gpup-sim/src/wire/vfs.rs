//! What both sides do with their own adapter: start it with one tracked
//! segment and partitioning for the VF count, check the caps a live
//! migration needs, create a VF through the partition interface with its
//! memory basis (tracked from creation when the caps say tracking is
//! performant) and tear it down in the OS's order — the steps of the
//! modelled orchestration (`dxgkrnl_model::migration`), one side at a time.

use dxgk_sys::{DirtyBitTrackingCaps, GpupCaps, NTSTATUS};
use dxgkrnl_model::migration::SEGMENT;
use dxgkrnl_model::vf::{PartitionVfs, Reserve, VfProvider};
use dxgkrnl_model::{Adapter, AdapterConfig, BasisHandle, Driver, PartitionConfig};

/// One VF on this side.
#[derive(Debug, Clone)]
pub struct SideVf {
    /// Partition id (the same on both sides).
    pub vf: u32,
    /// Its reserve.
    pub reserve: Reserve,
    /// The memory basis over it.
    pub basis: BasisHandle,
    /// Whether StartDirtyTracking ran on the basis.
    pub tracking: bool,
}

/// Starts an adapter of `vram` bytes, `page`-byte tracking pages and `vfs`
/// partitions; checks the live-migration caps and sets the partition count.
/// Returns the adapter and whether tracking is performant.
///
/// # Errors
/// A message naming what failed.
pub fn start(
    driver: &Driver,
    vram: u64,
    page: u32,
    vfs: u32,
    ranges: u32,
) -> Result<(Adapter, bool), String> {
    let mut config = AdapterConfig::single(vram, page);
    config.max_bases = vfs.saturating_mul(2).max(8);
    config.partitions = Some(PartitionConfig {
        enabled: true,
        options: vec![u16::try_from(vfs).unwrap_or(u16::MAX)],
    });
    let adapter = driver
        .start_adapter(&config)
        .map_err(|s| format!("adapter start failed: {s:?}"))?;
    let caps = adapter.caps().clone();
    if caps.page_size(SEGMENT) != Some(page) {
        return Err(format!("the adapter does not track {page}-byte pages"));
    }
    let needed = if ranges > 1 {
        GpupCaps::LiveMigration | GpupCaps::ScatterMapReserve
    } else {
        GpupCaps::LiveMigration
    };
    if !caps.gpup.contains(needed) {
        return Err(format!(
            "GPUPCAPS {:#x} lack {:#x}",
            caps.gpup.bits(),
            needed.bits()
        ));
    }
    adapter
        .set_partition_count(vfs)
        .map_err(|s| format!("SetGpuPartitionCount failed: {s:?}"))?;
    let performant = caps
        .dirty_bit_tracking
        .contains(DirtyBitTrackingCaps::DirtyBitTrackingPerformant);
    Ok((adapter, performant))
}

/// Creates VF `vf`: the vGPU and its reserve, a basis over the reserve,
/// tracking if `track`, then the binding.
///
/// # Errors
/// A message naming the failing step; what was created is destroyed.
pub fn create(
    adapter: &Adapter,
    provider: &mut PartitionVfs,
    vf: u32,
    track: bool,
) -> Result<SideVf, String> {
    let reserve = provider
        .create_vf(adapter, vf)
        .map_err(|s| format!("CreateVirtualGpu (VF {vf}) failed: {s:?}"))?;
    let Some(basis) = adapter.create_memory_basis(reserve.segment(), reserve.ranges()) else {
        let _ = provider.destroy_vf(adapter, vf);
        return Err(format!("CreateMemoryBasis (VF {vf}) failed"));
    };
    let side = SideVf {
        vf,
        reserve,
        basis,
        tracking: false,
    };
    let mut side = side;
    if track {
        let status = adapter.start_dirty_tracking(basis);
        if !status.is_success() {
            let _ = teardown(adapter, provider, &side);
            return Err(format!("StartDirtyTracking (VF {vf}) failed: {status:?}"));
        }
        side.tracking = true;
    }
    if let Err(s) = provider.bind_reserve(adapter, vf, &side.reserve, basis) {
        let _ = teardown(adapter, provider, &side);
        return Err(format!("binding VF {vf}'s reserve failed: {s:?}"));
    }
    Ok(side)
}

/// The OS's teardown: destroy the vGPU and free its reserve, then
/// StopDirtyTracking (if tracking), then DestroyMemoryBasis. Goes on past a
/// failure and returns the first failing status.
pub fn teardown(
    adapter: &Adapter,
    provider: &mut PartitionVfs,
    v: &SideVf,
) -> Result<(), NTSTATUS> {
    let mut first = Ok(());
    if provider.vgpu(v.vf).is_some()
        && let Err(s) = provider.destroy_vf(adapter, v.vf)
    {
        first = Err(s);
    }
    if v.tracking {
        let s = adapter.stop_dirty_tracking(v.basis);
        if !s.is_success() && first.is_ok() {
            first = Err(s);
        }
    }
    let s = adapter.destroy_memory_basis(v.basis);
    if !s.is_success() && first.is_ok() {
        first = Err(s);
    }
    first
}
