//! The operations of a VF's PCI face and the rest of the surface the guest
//! and the OS reach: the SR-IOV interface's configuration space, reset,
//! probed BARs, ids and location, the FlexIOV device interface,
//! SetVirtualGpuVmBus, GetVirtualGpuProfile, `DxgkDdiQueryInterface` with
//! any arguments, and `DxgkDdiCreateAllocation` with any private data.
//! `vf` is the raw `VirtualFunctionIndex` / `PartitionId` passed.

use super::AdapterSel;

/// The interface a [`VfOp::QueryInterface`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfaceSel {
    /// The GPU partition interface.
    Partition,
    /// The SR-IOV interface.
    Sriov,
    /// The FlexIOV device interface.
    FlexIov,
    /// The mitigable device interface (the driver does not export it).
    Mitigable,
    /// Any other GUID (these 16 bytes).
    Other([u8; 16]),
}

/// The private data of one `DXGK_ALLOCATIONINFO` a [`VfOp::CreateAllocation`]
/// passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivData {
    /// The reserve data GetStandardAllocationDriverData describes for the
    /// vGPU in slot `vf` (the one that was there last, if it is gone; a
    /// description no vGPU asked for if none ever was), then changed.
    Reserve {
        /// The slot.
        vf: u32,
        /// Pages added to (negative: taken from) the size, wrapping.
        size_pages: i8,
        /// One 32-bit word (index `at % 8`) overwritten with `value`.
        word: Option<(u8, u32)>,
        /// The data cut or zero-extended to this many bytes.
        len: Option<u8>,
    },
    /// These bytes.
    Raw(Vec<u8>),
    /// `pPrivateDriverData` NULL, `PrivateDriverDataSize` this.
    Null(u32),
}

/// One call of the VF-facing or remaining GPU-P surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VfOp {
    /// `DxgkDdiReadVirtualFunctionConfig`.
    ReadConfig {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
        /// `Offset`.
        offset: u32,
        /// `Length` (any value: the buffer holds `min(Length, 8 KiB)`).
        len: u32,
        /// `Data == NULL`.
        null_data: bool,
    },
    /// `DxgkDdiWriteVirtualFunctionConfig`.
    WriteConfig {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
        /// `Offset`.
        offset: u32,
        /// The bytes (zero-extended to `declared` when that is at most 8 KiB).
        data: Vec<u8>,
        /// `Length` as declared, or `None` for the data's length.
        declared: Option<u32>,
        /// `Data == NULL`.
        null_data: bool,
    },
    /// `DxgkDdiResetVirtualFunction`.
    Reset {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
    },
    /// `DxgkDdiSetVirtualGpuVmBus`.
    SetVmBus {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualGpuIndex`.
        vf: u32,
        /// `VmBusHandle` (an opaque value; 0 is NULL).
        handle: u64,
    },
    /// `DxgkDdiQueryInterface`.
    QueryInterface {
        /// `MiniportDeviceContext`.
        adapter: AdapterSel,
        /// `InterfaceType`.
        iface: IfaceSel,
        /// `Size` (the buffer holds `max(Size, 256)` bytes).
        size: u16,
        /// `Version`.
        version: u16,
        /// NULL pointers: bit 0 `QueryInterface`, bit 1 `InterfaceType`,
        /// bit 2 `Interface`.
        nulls: u8,
    },
    /// `DxgkDdiGetVirtualGpuProfile`.
    GetProfile {
        /// `Context`.
        adapter: AdapterSel,
        /// `PartitionCount`.
        count: u32,
    },
    /// `DxgkDdiGetMmioRangeCount` (FlexIOV).
    MmioRangeCount {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
    },
    /// `DxgkDdiGetMmioRanges` (FlexIOV).
    MmioRanges {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
        /// `BarIndex`.
        bar: u32,
        /// `NumRanges` (the array holds this many entries).
        capacity: u8,
        /// `pMmioRanges == NULL`.
        null_array: bool,
    },
    /// `DxgkDdiGetBackingResource` (FlexIOV).
    BackingResource {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
        /// `ResourceIndex`.
        index: u16,
        /// `Resource == NULL`.
        null_resource: bool,
    },
    /// `DxgkDdiQueryProbedBars` (no status).
    ProbedBars {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
    },
    /// `DxgkDdiGetVendorAndDevice` (no status).
    VendorAndDevice {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
    },
    /// `DxgkDdiGetDeviceLocation` (no status).
    DeviceLocation {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
    },
    /// One of the SR-IOV DDIs this adapter does not support for a known VF:
    /// `which % 3` = 0 GetResourceForBar, 1 ReadVirtualFunctionConfigBlock,
    /// 2 WriteVirtualFunctionConfigBlock.
    Unsupported {
        /// `Context`.
        adapter: AdapterSel,
        /// `VirtualFunctionIndex`.
        vf: u32,
        /// Which DDI.
        which: u8,
    },
    /// A DDI of this list called with `pArgs` NULL (`which % 16`): 0
    /// ReadVirtualFunctionConfig, 1 WriteVirtualFunctionConfig, 2
    /// ResetVirtualFunction, 3 SetVirtualGpuVmBus, 4 GetVirtualGpuProfile, 5
    /// GetMmioRangeCount, 6 GetMmioRanges, 7 GetBackingResource, 8
    /// GetResourceForBar, 9 ReadVirtualFunctionConfigBlock, 10
    /// WriteVirtualFunctionConfigBlock, 11 CreateAllocation, 12 QueryProbedBars,
    /// 13 GetVendorAndDevice, 14 GetDeviceLocation, 15 QueryInterface.
    NullArgs {
        /// `Context` / `hAdapter`.
        adapter: AdapterSel,
        /// Which DDI.
        which: u8,
    },
    /// `DxgkDdiCreateAllocation` with these entries' private data.
    CreateAllocation {
        /// `hAdapter`.
        adapter: AdapterSel,
        /// One entry each.
        entries: Vec<PrivData>,
        /// `NumAllocations` as declared, or `None` for the entries' number
        /// (the array is padded with zeroed entries up to it when it is at
        /// most 64).
        declared: Option<u32>,
        /// `pAllocationInfo == NULL`.
        null_array: bool,
    },
}

impl VfOp {
    /// Names of the kinds, in [`VfOp::kind`] order.
    pub const KINDS: [&'static str; 15] = [
        "ReadConfig",
        "WriteConfig",
        "ResetVf",
        "SetVmBus",
        "QueryInterface",
        "GetProfile",
        "MmioRangeCount",
        "MmioRanges",
        "BackingResource",
        "ProbedBars",
        "VendorAndDevice",
        "DeviceLocation",
        "UnsupportedSriov",
        "CreateAllocation",
        "NullArgs",
    ];

    /// Index of this operation's kind in [`VfOp::KINDS`].
    #[must_use]
    pub fn kind(&self) -> usize {
        match self {
            Self::ReadConfig { .. } => 0,
            Self::WriteConfig { .. } => 1,
            Self::Reset { .. } => 2,
            Self::SetVmBus { .. } => 3,
            Self::QueryInterface { .. } => 4,
            Self::GetProfile { .. } => 5,
            Self::MmioRangeCount { .. } => 6,
            Self::MmioRanges { .. } => 7,
            Self::BackingResource { .. } => 8,
            Self::ProbedBars { .. } => 9,
            Self::VendorAndDevice { .. } => 10,
            Self::DeviceLocation { .. } => 11,
            Self::Unsupported { .. } => 12,
            Self::CreateAllocation { .. } => 13,
            Self::NullArgs { .. } => 14,
        }
    }
}
