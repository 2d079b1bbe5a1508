//! The SR-IOV interface and its two companions, the mitigable-device and
//! FlexIOV-device interfaces (dispmprt.h): how Hyper-V's virtual PCI stack
//! sees each vGPU as a PCI function.

use crate::*;

/// `PCM_PARTIAL_RESOURCE_DESCRIPTOR`: wdm.h's resource descriptor. Its layout
/// is not in the ABI tables; only its address passes through this crate.
pub type PCM_PARTIAL_RESOURCE_DESCRIPTOR = PVOID;
/// `PMDL`: only its address passes through this crate.
pub type PMDL = PVOID;

/// `DXGKDDI_READVIRTUALFUNCTIONCONFIG`.
pub type PDXGKDDI_READVIRTUALFUNCTIONCONFIG = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_READVIRTUALFUNCTIONCONFIG,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_WRITEVIRTUALFUNCTIONCONFIG`.
pub type PDXGKDDI_WRITEVIRTUALFUNCTIONCONFIG = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_WRITEVIRTUALFUNCTIONCONFIG,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_READVIRTUALFUNCTIONCONFIGBLOCK`.
pub type PDXGKDDI_READVIRTUALFUNCTIONCONFIGBLOCK = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_WRITEVIRTUALFUNCTIONCONFIGBLOCK`.
pub type PDXGKDDI_WRITEVIRTUALFUNCTIONCONFIGBLOCK = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_QUERYPROBEDBARS`.
pub type PDXGKDDI_QUERYPROBEDBARS =
    Option<unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_QUERYPROBEDBARS)>;
/// `DXGKDDI_GETVENDORANDDEVICE`.
pub type PDXGKDDI_GETVENDORANDDEVICE =
    Option<unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETVENDORANDDEVICE)>;
/// `DXGKDDI_GETDEVICELOCATION`.
pub type PDXGKDDI_GETDEVICELOCATION =
    Option<unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETDEVICELOCATION)>;
/// `DXGKDDI_RESETVIRTUALFUNCTION`.
pub type PDXGKDDI_RESETVIRTUALFUNCTION = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_RESETVIRTUALFUNCTION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SETVIRTUALFUNCTIONPOWERSTATE`.
pub type PDXGKDDI_SETVIRTUALFUNCTIONPOWERSTATE = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *const DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_GETRESOURCEFORBAR`.
pub type PDXGKDDI_GETRESOURCEFORBAR = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETRESOURCEFORBAR) -> NTSTATUS,
>;
/// `DXGKDDI_QUERYVIRTUALFUNCTIONLUID`.
pub type PDXGKDDI_QUERYVIRTUALFUNCTIONLUID = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_QUERYVIRTUALFUNCTIONLUID),
>;

/// `DXGKDDI_QUERYMITIGATEDRANGECOUNT`.
pub type PDXGKDDI_QUERYMITIGATEDRANGECOUNT = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *mut DXGKARG_QUERYMITIGATEDRANGECOUNT,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_QUERYMITIGATEDRANGES`.
pub type PDXGKDDI_QUERYMITIGATEDRANGES = Option<
    unsafe extern "system" fn(
        Context: HANDLE,
        pArgs: *mut DXGKARG_QUERYMITIGATEDRANGES,
    ) -> NTSTATUS,
>;

/// `DXGKDDI_GETBACKINGRESOURCE`.
pub type PDXGKDDI_GETBACKINGRESOURCE = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETBACKINGRESOURCE) -> NTSTATUS,
>;
/// `DXGKDDI_GETMMIORANGECOUNT`.
pub type PDXGKDDI_GETMMIORANGECOUNT = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETMMIORANGECOUNT) -> NTSTATUS,
>;
/// `DXGKDDI_GETMMIORANGES`.
pub type PDXGKDDI_GETMMIORANGES = Option<
    unsafe extern "system" fn(Context: HANDLE, pArgs: *mut DXGKARG_GETMMIORANGES) -> NTSTATUS,
>;

crate::macro_constants! {
    SRIOV_CONSTANTS;
    /// `DXGKDDI_SRIOV_INTERFACE_VERSION`.
    pub const DXGKDDI_SRIOV_INTERFACE_VERSION: USHORT = 1;
    /// `DXGKDDI_MITIGABLE_DEVICE_INTERFACE_VERSION`.
    pub const DXGKDDI_MITIGABLE_DEVICE_INTERFACE_VERSION: USHORT = 1;
    /// `DXGKDDI_FLEXIOV_DEVICE_INTERFACE_VERSION`.
    pub const DXGKDDI_FLEXIOV_DEVICE_INTERFACE_VERSION: USHORT = 1;
    /// `DXGK_MMIO_RANGES_EMULATED_PAGE`: the header's `((ULONG64)-1)`, spelled
    /// signed as the ABI table records it; `BasePhysicalPageNumber` takes
    /// `DXGK_MMIO_RANGES_EMULATED_PAGE.cast_unsigned()`.
    pub const DXGK_MMIO_RANGES_EMULATED_PAGE: i64 = -1;
}

crate::records! {
    /// `DXGKDDI_SRIOV_INTERFACE`: 120 bytes, version 1.
    pub struct DXGKDDI_SRIOV_INTERFACE {
        /// Bytes of this structure.
        pub Size: USHORT,
        /// `DXGKDDI_SRIOV_INTERFACE_VERSION`.
        pub Version: USHORT,
        /// First argument of every function below.
        pub Context: PVOID,
        /// Takes a reference.
        pub InterfaceReference: PINTERFACE_REFERENCE,
        /// Releases a reference.
        pub InterfaceDereference: PINTERFACE_DEREFERENCE,
        /// Reads the VF's config space.
        pub DxgkDdiReadVirtualFunctionConfig: PDXGKDDI_READVIRTUALFUNCTIONCONFIG,
        /// Writes the VF's config space.
        pub DxgkDdiWriteVirtualFunctionConfig: PDXGKDDI_WRITEVIRTUALFUNCTIONCONFIG,
        /// Reads a driver-defined config block.
        pub DxgkDdiReadVirtualFunctionConfigBlock: PDXGKDDI_READVIRTUALFUNCTIONCONFIGBLOCK,
        /// Writes a driver-defined config block.
        pub DxgkDdiWriteVirtualFunctionConfigBlock: PDXGKDDI_WRITEVIRTUALFUNCTIONCONFIGBLOCK,
        /// The BAR values PCI sizing reads.
        pub DxgkDdiQueryProbedBars: PDXGKDDI_QUERYPROBEDBARS,
        /// PCI vendor and device ids of the VF.
        pub DxgkDdiGetVendorAndDevice: PDXGKDDI_GETVENDORANDDEVICE,
        /// PCI location of the VF.
        pub DxgkDdiGetDeviceLocation: PDXGKDDI_GETDEVICELOCATION,
        /// Function-level reset.
        pub DxgkDdiResetVirtualFunction: PDXGKDDI_RESETVIRTUALFUNCTION,
        /// D0 / D3 of the VF.
        pub DxgkDdiSetVirtualFunctionPowerState: PDXGKDDI_SETVIRTUALFUNCTIONPOWERSTATE,
        /// Host-physical MMIO behind a VF BAR.
        pub DxgkDdiGetResourceForBar: PDXGKDDI_GETRESOURCEFORBAR,
        /// The vGPU's LUID.
        pub DxgkDdiQueryVirtualFunctionLuid: PDXGKDDI_QUERYVIRTUALFUNCTIONLUID,
    }

    /// `DXGKDDI_MITIGABLE_DEVICE_INTERFACE`: 48 bytes, version 1.
    pub struct DXGKDDI_MITIGABLE_DEVICE_INTERFACE {
        /// Bytes of this structure.
        pub Size: USHORT,
        /// `DXGKDDI_MITIGABLE_DEVICE_INTERFACE_VERSION`.
        pub Version: USHORT,
        /// First argument of every function below.
        pub Context: PVOID,
        /// Takes a reference.
        pub InterfaceReference: PINTERFACE_REFERENCE,
        /// Releases a reference.
        pub InterfaceDereference: PINTERFACE_DEREFERENCE,
        /// Intercepted ranges per BAR.
        pub DxgkDdiQueryMitigatedRangeCount: PDXGKDDI_QUERYMITIGATEDRANGECOUNT,
        /// The intercepted ranges of one BAR.
        pub DxgkDdiQueryMitigatedRanges: PDXGKDDI_QUERYMITIGATEDRANGES,
    }

    /// `DXGKDDI_FLEXIOV_DEVICE_INTERFACE`: 56 bytes, version 1.
    pub struct DXGKDDI_FLEXIOV_DEVICE_INTERFACE {
        /// Bytes of this structure.
        pub Size: USHORT,
        /// `DXGKDDI_FLEXIOV_DEVICE_INTERFACE_VERSION`.
        pub Version: USHORT,
        /// First argument of every function below.
        pub Context: PVOID,
        /// Takes a reference.
        pub InterfaceReference: PINTERFACE_REFERENCE,
        /// Releases a reference.
        pub InterfaceDereference: PINTERFACE_DEREFERENCE,
        /// Physical resources backing the virtual BARs.
        pub DxgkDdiGetBackingResource: PDXGKDDI_GETBACKINGRESOURCE,
        /// Ranges per virtual BAR.
        pub DxgkDdiGetMmioRangeCount: PDXGKDDI_GETMMIORANGECOUNT,
        /// The ranges of one virtual BAR.
        pub DxgkDdiGetMmioRanges: PDXGKDDI_GETMMIORANGES,
    }

    /// `DXGKARG_READVIRTUALFUNCTIONCONFIG`.
    pub struct DXGKARG_READVIRTUALFUNCTIONCONFIG {
        /// Out: `Length` bytes.
        pub Data: PVOID,
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Byte offset in config space.
        pub Offset: ULONG,
        /// Bytes.
        pub Length: ULONG,
    }

    /// `DXGKARG_WRITEVIRTUALFUNCTIONCONFIG`.
    pub struct DXGKARG_WRITEVIRTUALFUNCTIONCONFIG {
        /// In: `Length` bytes.
        pub Data: PVOID,
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Byte offset in config space.
        pub Offset: ULONG,
        /// Bytes.
        pub Length: ULONG,
    }

    /// `DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK`.
    pub struct DXGKARG_READVIRTUALFUNCTIONCONFIGBLOCK {
        /// Out: `Length` bytes.
        pub Data: PVOID,
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Driver-defined block id.
        pub BlockId: ULONG,
        /// Bytes.
        pub Length: ULONG,
    }

    /// `DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK`.
    pub struct DXGKARG_WRITEVIRTUALFUNCTIONCONFIGBLOCK {
        /// In: `Length` bytes.
        pub Data: PVOID,
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Driver-defined block id.
        pub BlockId: ULONG,
        /// Bytes.
        pub Length: ULONG,
    }

    /// `DXGKARG_QUERYPROBEDBARS`.
    pub struct DXGKARG_QUERYPROBEDBARS {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Out: six `ULONG`s, the values PCI BAR sizing reads back.
        pub BaseRegisterValues: *mut ULONG,
    }

    /// `DXGKARG_GETVENDORANDDEVICE`.
    pub struct DXGKARG_GETVENDORANDDEVICE {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Out: PCI vendor id.
        pub VendorId: USHORT,
        /// Out: PCI device id.
        pub DeviceId: USHORT,
    }

    /// `DXGKARG_GETDEVICELOCATION`.
    pub struct DXGKARG_GETDEVICELOCATION {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Out: PCI segment.
        pub SegmentNumber: ULONG,
        /// Out: PCI bus.
        pub BusNumber: ULONG,
        /// Out: PCI function (device and function).
        pub FunctionNumber: ULONG,
    }

    /// `DXGKARG_RESETVIRTUALFUNCTION`.
    pub struct DXGKARG_RESETVIRTUALFUNCTION {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
    }

    /// `DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE`.
    pub struct DXGKARG_SETVIRTUALFUNCTIONPOWERSTATE {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// The D-state.
        pub PowerState: DEVICE_POWER_STATE,
        /// Arm wake.
        pub Wake: BOOLEAN,
    }

    /// `DXGKARG_GETRESOURCEFORBAR`.
    pub struct DXGKARG_GETRESOURCEFORBAR {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// BAR index.
        pub BarIndex: ULONG,
        /// Out: the resource.
        pub pResource: PCM_PARTIAL_RESOURCE_DESCRIPTOR,
    }

    /// `DXGKARG_QUERYVIRTUALFUNCTIONLUID`.
    pub struct DXGKARG_QUERYVIRTUALFUNCTIONLUID {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Out: the vGPU's LUID.
        pub pLuid: *mut LUID,
    }

    /// `DXGKARG_QUERYMITIGATEDRANGECOUNT`.
    pub struct DXGKARG_QUERYMITIGATEDRANGECOUNT {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Out: ranges per BAR.
        pub RangeCount: [ULONG; 6],
    }

    /// `DXGK_MITIGATEDRANGEINFO`.
    pub struct DXGK_MITIGATEDRANGEINFO {
        /// First page in the BAR.
        pub BasePageNumber: ULONG64,
        /// Pages.
        pub PageCount: ULONG,
        /// Intercept guest reads.
        pub InterceptReads: BOOLEAN,
        /// Intercept guest writes.
        pub InterceptWrites: BOOLEAN,
    }

    /// `DXGKARG_QUERYMITIGATEDRANGES`.
    pub struct DXGKARG_QUERYMITIGATEDRANGES {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// BAR index.
        pub BarIndex: ULONG,
        /// Entries at `pMitigatedRange`.
        pub NumRanges: ULONG,
        /// Out: the ranges.
        pub pMitigatedRange: *mut DXGK_MITIGATEDRANGEINFO,
    }

    /// `DXGKARG_GETBACKINGRESOURCE`.
    pub struct DXGKARG_GETBACKINGRESOURCE {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Resource index (`BasePhysicalResourceNumber` of a range).
        pub ResourceIndex: USHORT,
        /// Out: the resource descriptor.
        pub Resource: PCM_PARTIAL_RESOURCE_DESCRIPTOR,
        /// Out: alternatively, an MDL of the backing memory.
        pub pMdl: PMDL,
    }

    /// `DXGKARG_GETMMIORANGECOUNT`.
    pub struct DXGKARG_GETMMIORANGECOUNT {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Out: ranges per virtual BAR.
        pub RangeCount: [ULONG; 6],
    }

    /// `DXGK_MMIORANGEINFO`: a run of pages of a virtual BAR.
    pub struct DXGK_MMIORANGEINFO {
        /// First page in the virtual BAR.
        pub BasePageNumber: ULONG64,
        /// First backing page, or `DXGK_MMIO_RANGES_EMULATED_PAGE`.
        pub BasePhysicalPageNumber: ULONG64,
        /// Backing resource index.
        pub BasePhysicalResourceNumber: UCHAR,
        /// Intercept guest reads.
        pub InterceptReads: BOOLEAN,
        /// Intercept guest writes.
        pub InterceptWrites: BOOLEAN,
        /// Pages.
        pub PageCount: ULONG,
    }

    /// `DXGKARG_GETMMIORANGES`.
    pub struct DXGKARG_GETMMIORANGES {
        /// The VF (partition id).
        pub VirtualFunctionIndex: ULONG,
        /// Virtual BAR index.
        pub BarIndex: ULONG,
        /// Entries at `pMmioRanges`.
        pub NumRanges: ULONG,
        /// Out: the ranges.
        pub pMmioRanges: *mut DXGK_MMIORANGEINFO,
    }
}
