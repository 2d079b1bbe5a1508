//! GPU partitioning (GPU-P): `QUERY_INTERFACE`/`INTERFACE` (video.h, wdm.h),
//! the GPU partition interface that `DxgkDdiQueryInterface` returns
//! (dispmprt.h), its twelve DDIs and their argument blocks.
//!
//! The interface GUIDs are not here: the ABI tables do not list them, so they
//! live beside the code that answers them (the driver's `interfaces` module).

use crate::*;

/// `PINTERFACE_REFERENCE` / `PINTERFACE_DEREFERENCE` (wdm.h).
pub type PINTERFACE_REFERENCE = Option<unsafe extern "system" fn(Context: PVOID)>;
/// `PINTERFACE_DEREFERENCE` (wdm.h).
pub type PINTERFACE_DEREFERENCE = Option<unsafe extern "system" fn(Context: PVOID)>;

/// `DXGKDDI_GETGPUPARTITIONINFO`.
pub type PDXGKDDI_GETGPUPARTITIONINFO = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETGPUPARTITIONINFO) -> NTSTATUS,
>;
/// `DXGKDDI_SETGPUPARTITIONCOUNT`.
pub type PDXGKDDI_SETGPUPARTITIONCOUNT = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_SETGPUPARTITIONCOUNT,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_GETGPUENGINES` (obsolete, never called).
pub type PDXGKDDI_GETGPUENGINES = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETGPUENGINES) -> NTSTATUS,
>;
/// `DXGKDDI_GETVIRTUALGPUPROFILE`.
pub type PDXGKDDI_GETVIRTUALGPUPROFILE = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *mut DXGKARG_GETVIRTUALGPUPROFILE,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_CREATEVIRTUALGPU`.
pub type PDXGKDDI_CREATEVIRTUALGPU = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_CREATEVIRTUALGPU) -> NTSTATUS,
>;
/// `DXGKDDI_GETVIRTUALGPUINFO`.
pub type PDXGKDDI_GETVIRTUALGPUINFO = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETVIRTUALGPUINFO) -> NTSTATUS,
>;
/// `DXGKDDI_SETVIRTUALGPURESOURCES`.
pub type PDXGKDDI_SETVIRTUALGPURESOURCES = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_SETVIRTUALGPURESOURCES,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_DESTROYVIRTUALGPU`.
pub type PDXGKDDI_DESTROYVIRTUALGPU = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *const DXGKARG_DESTROYVIRTUALGPU) -> NTSTATUS,
>;
/// `DXGKDDI_SUSPENDVIRTUALGPU` (obsolete).
pub type PDXGKDDI_SUSPENDVIRTUALGPU = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *const DXGKARG_SUSPENDVIRTUALGPU) -> NTSTATUS,
>;
/// `DXGKDDI_RESUMEVIRTUALGPU` (obsolete).
pub type PDXGKDDI_RESUMEVIRTUALGPU = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *const DXGKARG_RESUMEVIRTUALGPU) -> NTSTATUS,
>;
/// `DXGKDDI_VIRTUALGPUDRIVERESCAPE`.
pub type PDXGKDDI_VIRTUALGPUDRIVERESCAPE = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGK_VIRTUALGPUDRIVERESCAPE) -> NTSTATUS,
>;
/// `DXGKDDI_SETVIRTUALGPUVMBUS`.
pub type PDXGKDDI_SETVIRTUALGPUVMBUS = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_SETVIRTUALGPUVMBUS,
    ) -> NTSTATUS,
>;

crate::c_enum! {
    /// `DXGK_VGPU_CAPABILITY_TYPE`: the index into the capability arrays of
    /// the profile, create and info blocks.
    pub enum DXGK_VGPU_CAPABILITY_TYPE: i32 {
        /// Bytes of VRAM.
        DXGK_VGPU_CAPABILITY_MEMORY = 0,
        /// Encode throughput, in 540p60 units.
        DXGK_VGPU_CAPABILITY_ENCODE = 1,
        /// Decode throughput, in 540p60 units.
        DXGK_VGPU_CAPABILITY_DECODE = 2,
        /// FP16 GFLOPS.
        DXGK_VGPU_CAPABILITY_COMPUTE = 3,
        /// Number of capability types (the arrays' length).
        DXGK_VGPU_CAPABILITY_MAX = 4,
    }

    /// `DXGK_ENGINE_TYPE` (an unnamed enum in the header; no enumerator is used here).
    pub enum DXGK_ENGINE_TYPE: i32 {}
}

crate::macro_constants! {
    PARTITION_CONSTANTS;
    /// `DXGKDDI_GPU_PARTITION_INTERFACE_VERSION`.
    pub const DXGKDDI_GPU_PARTITION_INTERFACE_VERSION: USHORT = 1;
    /// `DXGK_VIRTUALIZED_ACS_CAPABLE`: `VirtualizationFlags` bit.
    pub const DXGK_VIRTUALIZED_ACS_CAPABLE: ULONG = 0x80;
    /// `DXGK_VIRTUALIZED_UNIQUE_RID`.
    pub const DXGK_VIRTUALIZED_UNIQUE_RID: ULONG = 0x100;
    /// `DXGK_VIRTUALIZED_PARAVIRTUALIZED`: a shared host device, virtualized in software.
    pub const DXGK_VIRTUALIZED_PARAVIRTUALIZED: ULONG = 0x400;
    /// `DXGK_VIRTUALIZED_HOST_VIRTUAL_DEVICE`: no hardware at all.
    pub const DXGK_VIRTUALIZED_HOST_VIRTUAL_DEVICE: ULONG = 0x800;
    /// `IOCTL_GPUP_DRIVER_ESCAPE`: the UMED's IOCTL that reaches `DxgkDdiVirtualGpuDriverEscape`.
    pub const IOCTL_GPUP_DRIVER_ESCAPE: ULONG = 0x0022_6460;
}

crate::records! {
    /// `INTERFACE` (wdm.h): the header every queried interface starts with.
    pub struct INTERFACE {
        /// Bytes of the whole interface structure.
        pub Size: USHORT,
        /// Interface version.
        pub Version: USHORT,
        /// The exporter's context, first argument of every function.
        pub Context: PVOID,
        /// Takes a reference.
        pub InterfaceReference: PINTERFACE_REFERENCE,
        /// Releases a reference.
        pub InterfaceDereference: PINTERFACE_DEREFERENCE,
    }

    /// `QUERY_INTERFACE` (video.h): the argument of `DxgkDdiQueryInterface`.
    pub struct QUERY_INTERFACE {
        /// The GUID of the interface asked for.
        pub InterfaceType: *const GUID,
        /// Bytes the caller's buffer at `Interface` holds.
        pub Size: USHORT,
        /// The version asked for.
        pub Version: USHORT,
        /// The caller-owned buffer the exporter fills.
        pub Interface: *mut INTERFACE,
        /// Interface-specific input (NULL for the GPU-P interfaces).
        pub InterfaceSpecificData: PVOID,
        /// Child id, or 0xFFFFFFFF for an adapter-level query.
        pub DeviceUid: ULONG,
    }

    /// `DXGKDDI_GPU_PARTITION_INTERFACE`: 128 bytes, version 1.
    pub struct DXGKDDI_GPU_PARTITION_INTERFACE {
        /// Bytes of this structure.
        pub Size: USHORT,
        /// `DXGKDDI_GPU_PARTITION_INTERFACE_VERSION`.
        pub Version: USHORT,
        /// First argument of every function below.
        pub Context: PVOID,
        /// Takes a reference.
        pub InterfaceReference: PINTERFACE_REFERENCE,
        /// Releases a reference.
        pub InterfaceDereference: PINTERFACE_DEREFERENCE,
        /// Partition options and the current count.
        pub DxgkDdiGetGpuPartitionInfo: PDXGKDDI_GETGPUPARTITIONINFO,
        /// Sets the partition count.
        pub DxgkDdiSetGpuPartitionCount: PDXGKDDI_SETGPUPARTITIONCOUNT,
        /// Obsolete.
        pub DxgkDdiGetGpuEngines: PDXGKDDI_GETGPUENGINES,
        /// The per-partition resources of a partition count.
        pub DxgkDdiGetVirtualGpuProfile: PDXGKDDI_GETVIRTUALGPUPROFILE,
        /// Creates a vGPU in a slot the OS picked.
        pub DxgkDdiCreateVirtualGpu: PDXGKDDI_CREATEVIRTUALGPU,
        /// Capability values of a vGPU.
        pub DxgkDdiGetVirtualGpuInfo: PDXGKDDI_GETVIRTUALGPUINFO,
        /// Binds the pinned VRAM reserves.
        pub DxgkDdiSetVirtualGpuResources: PDXGKDDI_SETVIRTUALGPURESOURCES,
        /// Destroys a vGPU.
        pub DxgkDdiDestroyVirtualGpu: PDXGKDDI_DESTROYVIRTUALGPU,
        /// Obsolete.
        pub DxgkDdiSuspendVirtualGpu: PDXGKDDI_SUSPENDVIRTUALGPU,
        /// Obsolete.
        pub DxgkDdiResumeVirtualGpu: PDXGKDDI_RESUMEVIRTUALGPU,
        /// Driver-private requests from the vGPU's user-mode emulation DLL.
        pub DxgkDdiVirtualGpuDriverEscape: PDXGKDDI_VIRTUALGPUDRIVERESCAPE,
        /// The VM-bus handle for the vGPU's guest channels.
        pub DxgkDdiSetVirtualGpuVmBus: PDXGKDDI_SETVIRTUALGPUVMBUS,
    }

    /// `DXGKARG_GETGPUPARTITIONINFO`.
    pub struct DXGKARG_GETGPUPARTITIONINFO {
        /// In: capacity of `pGpuPartitionOptions`; out: number of options.
        pub NumGpuPartitionOptions: ULONG,
        /// Out: the supported partition counts.
        pub pGpuPartitionOptions: *mut USHORT,
        /// Out: the count now configured (0 before any SetGpuPartitionCount).
        pub CurrentGpuPartitionCount: USHORT,
    }

    /// `DXGKARG_SETGPUPARTITIONCOUNT`.
    pub struct DXGKARG_SETGPUPARTITIONCOUNT {
        /// One of the options.
        pub PartitionCount: ULONG,
    }

    /// `DXGK_GPUENGINE`.
    pub struct DXGK_GPUENGINE {
        /// Engine type.
        pub EngineType: DXGK_ENGINE_TYPE,
        /// Engine name.
        pub Name: [WCHAR; 32],
        /// Partition units of the engine.
        pub NumPartitionUnits: ULONG,
    }

    /// `DXGKARG_GETGPUENGINES`: variable length, `NumEngines` entries.
    pub struct DXGKARG_GETGPUENGINES {
        /// Number of entries in `EngineInfo`.
        pub NumEngines: ULONG,
        /// The first engine; the rest follow.
        pub EngineInfo: [DXGK_GPUENGINE; 1],
    }

    /// `DXGK_VGPU_PROFILE_CAPABILITY`: one capability of a partition profile.
    pub struct DXGK_VGPU_PROFILE_CAPABILITY {
        /// Total the adapter has.
        pub TotalValue: UINT64,
        /// Not yet given to vGPUs.
        pub AvailableValue: UINT64,
        /// Least a partition can have.
        pub MinPartitionValue: UINT64,
        /// Most a partition can have.
        pub MaxPartitionValue: UINT64,
        /// What a partition should have.
        pub OptimalPartitionValue: UINT64,
    }

    /// `DXGKARG_GETVIRTUALGPUPROFILE`.
    pub struct DXGKARG_GETVIRTUALGPUPROFILE {
        /// In: the partition count asked about.
        pub PartitionCount: ULONG,
        /// Out: `DXGK_VIRTUALIZED_*` bits.
        pub VirtualizationFlags: ULONG,
        /// Out: by `DXGK_VGPU_CAPABILITY_TYPE`.
        pub ProfileCapability: [DXGK_VGPU_PROFILE_CAPABILITY; 4],
    }

    /// `DXGK_VIRTUALGPUCAPABILITY`: what a VM asks for one capability.
    pub struct DXGK_VIRTUALGPUCAPABILITY {
        /// Least acceptable.
        pub MinValue: UINT64,
        /// Most usable.
        pub MaxValue: UINT64,
        /// Wanted.
        pub OptimalValue: UINT64,
    }

    /// `DXGK_VIRTUALGPUPROFILE`.
    pub struct DXGK_VIRTUALGPUPROFILE {
        /// By `DXGK_VGPU_CAPABILITY_TYPE`.
        pub Capability: [DXGK_VIRTUALGPUCAPABILITY; 4],
    }

    /// `DXGK_VIRTUALGPUSEGMENTINFO`: one VRAM reserve the KMD asks for.
    pub struct DXGK_VIRTUALGPUSEGMENTINFO {
        /// Driver segment id (1-based).
        pub DriverSegmentId: ULONG,
        /// Bytes.
        pub Size: UINT64,
        /// 0 or a multiple of 4096.
        pub Alignment: UINT,
        /// Deprecated, 0.
        pub MinSegmentOffset: UINT64,
        /// Deprecated, 0.
        pub MaxSegmentOffset: UINT64,
        /// Handed back in the standard allocation's `D3DKMDT_VIRTUALGPUSURFACEDATA`.
        pub PrivateDriverData: UINT,
    }

    /// `DXGK_VIRTUALGPUENGINEINFO` (deprecated).
    pub struct DXGK_VIRTUALGPUENGINEINFO {
        /// Deprecated.
        pub MinPartitionUnits: ULONG,
        /// Deprecated.
        pub MaxPartitionUnits: ULONG,
        /// Deprecated.
        pub EngineId: ULONG,
    }

    /// `DXGKARG_CREATEVIRTUALGPU`.
    pub struct DXGKARG_CREATEVIRTUALGPU {
        /// In: the slot Dxgkrnl chose.
        pub PartitionId: ULONG,
        /// In: what the VM asks for.
        pub Profile: DXGK_VIRTUALGPUPROFILE,
        /// Out: the UMED's CLSID; all zero for none.
        pub UserModeVirtualDeviceProvider: GUID,
        /// Out: the vGPU's LUID.
        pub VirtualGpuLuid: LUID,
        /// Out: valid entries of `SegmentInfo`.
        pub NumMemorySegments: ULONG,
        /// Out: the VRAM reserves the vGPU needs.
        pub SegmentInfo: [DXGK_VIRTUALGPUSEGMENTINFO; 32],
        /// Out: deprecated, 0.
        pub NumEngines: ULONG,
        /// Out: deprecated, zero.
        pub EngineInfo: [DXGK_VIRTUALGPUENGINEINFO; 64],
    }

    /// `DXGK_GPU_PHYSICAL_ADDRESS`: a place in a segment.
    pub struct DXGK_GPU_PHYSICAL_ADDRESS {
        /// Driver segment id (1-based).
        pub MemorySegmentId: ULONG,
        /// Byte offset in the segment.
        pub MemorySegmentOffset: UINT64,
    }

    /// `DXGK_VIRTUALGPUMEMORYRESOURCE`: one pinned reserve.
    pub struct DXGK_VIRTUALGPUMEMORYRESOURCE {
        /// The KMD's handle from `DxgkDdiCreateAllocation`.
        pub DriverAllocationHandle: HANDLE,
        /// Where VidMm pinned it.
        pub AllocationAddress: DXGK_GPU_PHYSICAL_ADDRESS,
        /// Bytes.
        pub AllocationSize: UINT64,
    }

    /// `DXGKARG_SETVIRTUALGPURESOURCES`: variable length, `NumMemoryAllocations` entries.
    pub struct DXGKARG_SETVIRTUALGPURESOURCES {
        /// The vGPU.
        pub PartitionId: ULONG,
        /// Entries in `MemoryInfo` (one per `SegmentInfo` of Create).
        pub NumMemoryAllocations: ULONG,
        /// The first entry; the rest follow.
        pub MemoryInfo: [DXGK_VIRTUALGPUMEMORYRESOURCE; 1],
    }

    /// `DXGK_VGPU_CAPABILITY`: one capability of a running vGPU.
    pub struct DXGK_VGPU_CAPABILITY {
        /// Least it may have.
        pub MinValue: UINT64,
        /// Most it may have.
        pub MaxValue: UINT64,
        /// What it has.
        pub CurrentValue: UINT64,
    }

    /// `DXGKARG_GETVIRTUALGPUINFO`.
    pub struct DXGKARG_GETVIRTUALGPUINFO {
        /// In: the vGPU.
        pub PartitionId: ULONG,
        /// Out: by `DXGK_VGPU_CAPABILITY_TYPE`.
        pub Capability: [DXGK_VGPU_CAPABILITY; 4],
    }

    /// `DXGKARG_DESTROYVIRTUALGPU`.
    pub struct DXGKARG_DESTROYVIRTUALGPU {
        /// The vGPU.
        pub PartitionId: ULONG,
    }

    /// `DXGKARG_SUSPENDVIRTUALGPU`.
    pub struct DXGKARG_SUSPENDVIRTUALGPU {
        /// The vGPU.
        pub PartitionId: ULONG,
    }

    /// `DXGKARG_RESUMEVIRTUALGPU`.
    pub struct DXGKARG_RESUMEVIRTUALGPU {
        /// The vGPU.
        pub PartitionId: ULONG,
    }

    /// `DXGK_VIRTUALGPUDRIVERESCAPE`.
    pub struct DXGK_VIRTUALGPUDRIVERESCAPE {
        /// The vGPU (filled by Dxgkrnl from the LUID).
        pub PartitionId: ULONG,
        /// Bytes at `pInputBuffer`.
        pub InputBufferSize: ULONG,
        /// In: capacity of `pOutputBuffer`; out: bytes written.
        pub OutputBufferSize: ULONG,
        /// Starts with `GPUP_DRIVER_ESCAPE_INPUT`.
        pub pInputBuffer: PVOID,
        /// May be the same buffer as `pInputBuffer`.
        pub pOutputBuffer: PVOID,
    }

    /// `GPUP_DRIVER_ESCAPE_INPUT`: the start of every escape's input.
    pub struct GPUP_DRIVER_ESCAPE_INPUT {
        /// The vGPU's LUID.
        pub vfLUID: LUID,
    }

    /// `DXGKARG_SETVIRTUALGPUVMBUS`.
    pub struct DXGKARG_SETVIRTUALGPUVMBUS {
        /// The vGPU (partition id).
        pub VirtualGpuIndex: ULONG,
        /// Kernel VM-bus handle for the guest channels.
        pub VmBusHandle: HANDLE,
    }
}
