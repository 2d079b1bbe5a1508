//! Helpers for the GPU-partitioning tests: the interfaces of a started
//! adapter and raw calls of their DDIs.

#![allow(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use dxgkrnl_model::{Adapter, AdapterConfig, Driver, PartitionConfig};
use gpup_miniport::host::{GPUP_INTERFACE_REFERENCES, gpup_host_interface_references};

#[allow(unused_imports)]
pub use gpup_miniport::interfaces::{
    FLEXIOV_DEVICE, GPU_PARTITION, MITIGABLE_DEVICE, POWER_DEVICE_D0, POWER_DEVICE_D1,
    POWER_DEVICE_D2, POWER_DEVICE_D3, SRIOV,
};

/// A started adapter with [`super::gpup_layout`] and, if given, that partition count set.
pub fn started_gpup(count: Option<u32>) -> (Driver, Adapter) {
    let (d, a) = super::started_with(&super::gpup_layout());
    if let Some(n) = count {
        a.set_partition_count(n).unwrap();
    }
    (d, a)
}

/// A started adapter whose partition configuration is `partitions`.
pub fn started_with_partitions(partitions: PartitionConfig) -> (Driver, Adapter) {
    super::started_with(&AdapterConfig {
        partitions: Some(partitions),
        ..super::gpup_layout()
    })
}

/// The three interfaces Dxgkrnl holds.
pub fn ifaces(
    a: &Adapter,
) -> (
    DXGKDDI_GPU_PARTITION_INTERFACE,
    DXGKDDI_SRIOV_INTERFACE,
    DXGKDDI_FLEXIOV_DEVICE_INTERFACE,
) {
    let g = a.gpu_virtualization().expect("GPU-P");
    (g.partition, g.sriov, g.flexiov.expect("FlexIOV"))
}

/// The driver's interface reference counts.
pub fn refs(a: &Adapter) -> GPUP_INTERFACE_REFERENCES {
    let mut r = GPUP_INTERFACE_REFERENCES::default();
    assert_eq!(
        unsafe { gpup_host_interface_references(a.context(), &raw mut r) },
        STATUS_SUCCESS
    );
    r
}

/// `DxgkDdiQueryInterface` into `buf` (its length is not `Size`: the caller says).
pub fn qi(a: &Adapter, guid: *const GUID, size: u16, version: u16, buf: *mut u8) -> NTSTATUS {
    let mut q = QUERY_INTERFACE::zeroed();
    q.InterfaceType = guid;
    q.Size = size;
    q.Version = version;
    q.Interface = buf.cast();
    q.DeviceUid = 0xFFFF_FFFF;
    unsafe { a.query_interface_raw(&raw mut q) }
}

/// A CreateVirtualGpu block for `partition` with `profile` (Min, Max, Optimal).
pub fn create_block(
    partition: u32,
    profile: [(u64, u64, u64); 4],
) -> Box<DXGKARG_CREATEVIRTUALGPU> {
    let mut args = Box::new(DXGKARG_CREATEVIRTUALGPU::zeroed());
    args.PartitionId = partition;
    for (c, (min, max, opt)) in args.Profile.Capability.iter_mut().zip(profile) {
        *c = DXGK_VIRTUALGPUCAPABILITY {
            MinValue: min,
            MaxValue: max,
            OptimalValue: opt,
        };
    }
    args
}

/// Raw DxgkDdiCreateVirtualGpu.
pub fn raw_create(a: &Adapter, args: &mut DXGKARG_CREATEVIRTUALGPU) -> NTSTATUS {
    let (p, _, _) = ifaces(a);
    unsafe { (p.DxgkDdiCreateVirtualGpu.unwrap())(p.Context, args) }
}

/// Raw DxgkDdiGetVirtualGpuInfo.
pub fn raw_info(a: &Adapter, partition: u32) -> (NTSTATUS, DXGKARG_GETVIRTUALGPUINFO) {
    let (p, _, _) = ifaces(a);
    let mut args = DXGKARG_GETVIRTUALGPUINFO::zeroed();
    args.PartitionId = partition;
    let s = unsafe { (p.DxgkDdiGetVirtualGpuInfo.unwrap())(p.Context, &raw mut args) };
    (s, args)
}

/// Raw DxgkDdiQueryVirtualFunctionLuid (zero for an unknown VF).
pub fn vf_luid(a: &Adapter, vf: u32) -> LUID {
    let (_, s, _) = ifaces(a);
    let mut luid = LUID {
        LowPart: 0xDEAD,
        HighPart: 0xBEEF,
    };
    let mut args = DXGKARG_QUERYVIRTUALFUNCTIONLUID {
        VirtualFunctionIndex: vf,
        pLuid: &raw mut luid,
    };
    unsafe { (s.DxgkDdiQueryVirtualFunctionLuid.unwrap())(s.Context, &raw mut args) };
    luid
}

/// An 8-byte-aligned buffer of `bytes` bytes, every byte `fill`: an
/// argument block whose every byte can be checked afterwards.
pub fn sentinel(bytes: usize, fill: u8) -> Vec<u64> {
    vec![u64::from_ne_bytes([fill; 8]); bytes.div_ceil(8)]
}

/// The bytes of a [`sentinel`] buffer.
pub fn bytes(buf: &[u64]) -> Vec<u8> {
    buf.iter().flat_map(|w| w.to_ne_bytes()).collect()
}
