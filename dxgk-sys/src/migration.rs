//! WDDM 3.2 GPU-P live migration: the DDI argument blocks of slots 177-185 and
//! the GPU-P caps (`DXGKQAITYPE_GPUPCAPS`, `DXGKQAITYPE_SCATTER_RESERVE`).

use crate::*;

/// `DXGKDDI_PREPARELIVEMIGRATION`.
pub type PDXGKDDI_PREPARELIVEMIGRATION = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *const DXGKARG_GPUP_PREPARE_LIVE_MIGRATION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SAVEIMMUTABLEMIGRATIONDATA`.
pub type PDXGKDDI_SAVEIMMUTABLEMIGRATIONDATA = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *mut DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SAVEMUTABLEMIGRATIONDATA`.
pub type PDXGKDDI_SAVEMUTABLEMIGRATIONDATA = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *mut DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_ENDLIVEMIGRATION`: `vfIndex` by value.
pub type PDXGKDDI_ENDLIVEMIGRATION =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, vfIndex: UINT) -> NTSTATUS>;
/// `DXGKDDI_RESTOREIMMUTABLEMIGRATIONDATA`.
pub type PDXGKDDI_RESTOREIMMUTABLEMIGRATIONDATA = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *const DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_RESTOREMUTABLEMIGRATIONDATA`.
pub type PDXGKDDI_RESTOREMUTABLEMIGRATIONDATA = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *const DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_WRITEVIRTUALIZEDINTERRUPT`.
pub type PDXGKDDI_WRITEVIRTUALIZEDINTERRUPT = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *const DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SETVIRTUALGPURESOURCES2`.
pub type PDXGKDDI_SETVIRTUALGPURESOURCES2 = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *const DXGKARG_SETVIRTUALGPURESOURCES2,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SETVIRTUALFUNCTIONPAUSESTATE`.
pub type PDXGKDDI_SETVIRTUALFUNCTIONPAUSESTATE = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pArgs: *const DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE,
    ) -> NTSTATUS,
>;

crate::c_enum! {
    /// `DXGK_GPUP_MIGRATIONTYPE`.
    pub enum DXGK_GPUP_MIGRATIONTYPE: i32 {
        /// This adapter sends the VF.
        DXGK_GPUP_MIGRATIONTYPE_SOURCE = 0,
        /// This adapter receives the VF.
        DXGK_GPUP_MIGRATIONTYPE_TARGET = 1,
    }
}

bitflags::bitflags! {
    /// The bits of `DXGK_GPUPCAPS::Caps`.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct GpupCaps: u32 {
        /// Guest VMs with a partition can hibernate.
        const VirtualMachineHibernation = 1 << 0;
        /// The driver can be updated while partitions run.
        const HotDriverUpdate = 1 << 1;
        /// Partitions can be live-migrated (requires dirty-bit tracking).
        const LiveMigration = 1 << 2;
        /// `DxgkDdiSetVirtualGpuResources2` (scatter-mapped reserves) is supported.
        const ScatterMapReserve = 1 << 3;
        // Dxgkrnl rejects any bit above 3 at adapter start; keep them visible.
        const _ = !0;
    }
}
crate::zeroable_bitflags!(GpupCaps);

crate::records! {
    /// `DXGK_GPUPCAPS`, answered for `DXGKQAITYPE_GPUPCAPS`.
    pub struct DXGK_GPUPCAPS {
        /// The caps bits.
        pub Caps: GpupCaps,
    }

    /// `DXGK_QUERYSCATTERRESERVEIN`: input of `DXGKQAITYPE_SCATTER_RESERVE`.
    pub struct DXGK_QUERYSCATTERRESERVEIN {
        /// Driver segment id.
        pub SegmentId: UINT,
    }

    /// `DXGK_QUERYSCATTERRESERVEOUT`: output of `DXGKQAITYPE_SCATTER_RESERVE`.
    pub struct DXGK_QUERYSCATTERRESERVEOUT {
        /// Granularity of the memory-basis ranges `SetVirtualGpuResources2` accepts.
        pub SetVGPUResourcesPageSize: UINT64,
    }

    /// `DXGKARG_GPUP_PREPARE_LIVE_MIGRATION`.
    pub struct DXGKARG_GPUP_PREPARE_LIVE_MIGRATION {
        /// The VF (partition id).
        pub vfIndex: UINT,
        /// Source or target.
        pub MigrationType: DXGK_GPUP_MIGRATIONTYPE,
    }

    /// `DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA`.
    pub struct DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA {
        /// The VF (partition id).
        pub vfIndex: UINT,
        /// In: the buffer's size (0 on the sizing call); out: bytes needed or written.
        pub DataSize: *mut UINT64,
        /// OS buffer; NULL on the sizing call.
        pub Data: *mut BYTE,
    }

    /// `DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA`.
    pub struct DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA {
        /// The VF (partition id).
        pub vfIndex: UINT,
        /// In: the buffer's size (0 on the sizing call); out: bytes needed or written.
        pub DataSize: *mut UINT64,
        /// OS buffer; NULL on the sizing call.
        pub Data: *mut BYTE,
    }

    /// `DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA`.
    pub struct DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA {
        /// The VF (partition id).
        pub vfIndex: UINT,
        /// Bytes at `Data`.
        pub DataSize: UINT64,
        /// The saved data.
        pub Data: *mut BYTE,
    }

    /// `DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA`.
    pub struct DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA {
        /// The VF (partition id).
        pub vfIndex: UINT,
        /// Bytes at `Data`.
        pub DataSize: UINT64,
        /// The saved data.
        pub Data: *mut BYTE,
    }

    /// `DXGK_INTERRUPT_TABLE_ENTRY`: one MSI-X table entry.
    pub struct DXGK_INTERRUPT_TABLE_ENTRY {
        /// Message address.
        pub MessageAddress: UINT64,
        /// Message data.
        pub MessageData: UINT32,
        /// Vector control (bit 0: masked).
        pub VectorControl: UINT32,
    }

    /// `DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX`: argument of `DxgkDdiWriteVirtualizedInterrupt`.
    pub struct DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX {
        /// The VF (partition id).
        pub vfIndex: UINT,
        /// MSI-X table index.
        pub InterruptTableIndex: INT16,
        /// The entry to write.
        pub WriteValue: DXGK_INTERRUPT_TABLE_ENTRY,
    }

    /// `DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR`: one segment's reserve, as a memory basis.
    pub struct DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR {
        /// The driver's allocation handle of the reserve.
        pub DriverAllocationHandle: HANDLE,
        /// A memory basis (from `DxgkDdiCreateMemoryBasis`) naming the reserve's ranges.
        pub MemoryBasis: HANDLE,
    }

    /// `DXGKARG_SETVIRTUALGPURESOURCES2`: variable length, `SegmentCount` descriptors.
    pub struct DXGKARG_SETVIRTUALGPURESOURCES2 {
        /// The VF (partition id).
        pub vfIndex: ULONG,
        /// Number of entries in `SegmentDescriptors`.
        pub SegmentCount: ULONG,
        /// The first descriptor; the rest follow contiguously.
        pub SegmentDescriptors: [DXGK_GPU_PHYSICAL_RESERVE_DESCRIPTOR; 1],
    }

    /// `DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE`.
    pub struct DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE {
        /// The VF (partition id).
        pub vfIndex: ULONG,
        /// TRUE to pause, FALSE to resume.
        pub bPause: BOOLEAN,
    }
}
