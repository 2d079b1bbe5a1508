//! `dispmprt.h` subset: the registration table, the kernel interface handed
//! to StartDevice, and the DDI and callback typedefs the driver implements or calls.
//!
//! Function-pointer slots the driver does not use are typed `PVOID`: same size,
//! same null niche, and nothing here pretends to know their signatures.

use crate::*;

// ---- DDI typedefs: adapter lifecycle (dispmprt.h) ----

/// `DXGKDDI_ADD_DEVICE`.
pub type PDXGKDDI_ADD_DEVICE = Option<
    unsafe extern "system" fn(
        PhysicalDeviceObject: PDEVICE_OBJECT,
        MiniportDeviceContext: *mut PVOID,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_START_DEVICE`.
pub type PDXGKDDI_START_DEVICE = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        DxgkStartInfo: *mut DXGK_START_INFO,
        DxgkInterface: *mut DXGKRNL_INTERFACE,
        NumberOfVideoPresentSources: *mut ULONG,
        NumberOfChildren: *mut ULONG,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_STOP_DEVICE`.
pub type PDXGKDDI_STOP_DEVICE =
    Option<unsafe extern "system" fn(MiniportDeviceContext: PVOID) -> NTSTATUS>;
/// `DXGKDDI_REMOVE_DEVICE`.
pub type PDXGKDDI_REMOVE_DEVICE =
    Option<unsafe extern "system" fn(MiniportDeviceContext: PVOID) -> NTSTATUS>;
/// `DXGKDDI_INTERRUPT_ROUTINE`: TRUE if the interrupt was the device's.
pub type PDXGKDDI_INTERRUPT_ROUTINE = Option<
    unsafe extern "system" fn(MiniportDeviceContext: PVOID, MessageNumber: ULONG) -> BOOLEAN,
>;
/// `DXGKDDI_DPC_ROUTINE`.
pub type PDXGKDDI_DPC_ROUTINE = Option<unsafe extern "system" fn(MiniportDeviceContext: PVOID)>;
/// `DXGKDDI_QUERY_CHILD_RELATIONS` (`ChildRelations`: `PDXGK_CHILD_DESCRIPTOR`).
pub type PDXGKDDI_QUERY_CHILD_RELATIONS = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        ChildRelations: PVOID,
        ChildRelationsSize: ULONG,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_QUERY_CHILD_STATUS` (`ChildStatus`: `PDXGK_CHILD_STATUS`).
pub type PDXGKDDI_QUERY_CHILD_STATUS = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        ChildStatus: PVOID,
        NonDestructiveOnly: BOOLEAN,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_QUERY_DEVICE_DESCRIPTOR` (`DeviceDescriptor`: `PDXGK_DEVICE_DESCRIPTOR`).
pub type PDXGKDDI_QUERY_DEVICE_DESCRIPTOR = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        ChildUid: ULONG,
        DeviceDescriptor: PVOID,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_SET_POWER_STATE`.
pub type PDXGKDDI_SET_POWER_STATE = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        DeviceUid: ULONG,
        DevicePowerState: DEVICE_POWER_STATE,
        ActionType: POWER_ACTION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_RESET_DEVICE`.
pub type PDXGKDDI_RESET_DEVICE = Option<unsafe extern "system" fn(MiniportDeviceContext: PVOID)>;
/// `DXGKDDI_UNLOAD`.
pub type PDXGKDDI_UNLOAD = Option<unsafe extern "system" fn()>;
/// `DXGKDDI_QUERY_INTERFACE`.
pub type PDXGKDDI_QUERY_INTERFACE = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        QueryInterface: *mut QUERY_INTERFACE,
    ) -> NTSTATUS,
>;

// ---- DDI typedefs: d3dkmddi.h, render-less adapter minimum ----
// Argument blocks the driver does not interpret are `PVOID`.

/// `DXGKDDI_QUERYADAPTERINFO`.
pub type PDXGKDDI_QUERYADAPTERINFO = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pQueryAdapterInfo: *const DXGKARG_QUERYADAPTERINFO,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_CREATEDEVICE`.
pub type PDXGKDDI_CREATEDEVICE = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pCreateDevice: *mut DXGKARG_CREATEDEVICE,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_CREATEALLOCATION`.
pub type PDXGKDDI_CREATEALLOCATION = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pCreateAllocation: *mut DXGKARG_CREATEALLOCATION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_DESTROYALLOCATION`.
pub type PDXGKDDI_DESTROYALLOCATION = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pDestroyAllocation: *const DXGKARG_DESTROYALLOCATION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_DESCRIBEALLOCATION`.
pub type PDXGKDDI_DESCRIBEALLOCATION = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pDescribeAllocation: *mut DXGKARG_DESCRIBEALLOCATION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_GETSTANDARDALLOCATIONDRIVERDATA`.
pub type PDXGKDDI_GETSTANDARDALLOCATIONDRIVERDATA = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pGetStandardAllocationDriverData: *mut DXGKARG_GETSTANDARDALLOCATIONDRIVERDATA,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_PREEMPTCOMMAND`.
pub type PDXGKDDI_PREEMPTCOMMAND = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pPreemptCommand: *const DXGKARG_PREEMPTCOMMAND,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_BUILDPAGINGBUFFER`.
pub type PDXGKDDI_BUILDPAGINGBUFFER = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pBuildPagingBuffer: *mut DXGKARG_BUILDPAGINGBUFFER,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_RESETFROMTIMEOUT`.
pub type PDXGKDDI_RESETFROMTIMEOUT =
    Option<unsafe extern "system" fn(hAdapter: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_RESTARTFROMTIMEOUT`.
pub type PDXGKDDI_RESTARTFROMTIMEOUT =
    Option<unsafe extern "system" fn(hAdapter: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_COLLECTDBGINFO`.
pub type PDXGKDDI_COLLECTDBGINFO =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, pCollectDbgInfo: PVOID) -> NTSTATUS>;
/// `DXGKDDI_DESTROYDEVICE`.
pub type PDXGKDDI_DESTROYDEVICE = Option<unsafe extern "system" fn(hDevice: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_OPENALLOCATIONINFO`.
pub type PDXGKDDI_OPENALLOCATIONINFO = Option<
    unsafe extern "system" fn(
        hDevice: HANDLE,
        pOpenAllocation: *const DXGKARG_OPENALLOCATION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_CLOSEALLOCATION`.
pub type PDXGKDDI_CLOSEALLOCATION = Option<
    unsafe extern "system" fn(
        hDevice: HANDLE,
        pCloseAllocation: *const DXGKARG_CLOSEALLOCATION,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_CREATECONTEXT`.
pub type PDXGKDDI_CREATECONTEXT = Option<
    unsafe extern "system" fn(
        hDevice: HANDLE,
        pCreateContext: *mut DXGKARG_CREATECONTEXT,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_DESTROYCONTEXT`.
pub type PDXGKDDI_DESTROYCONTEXT = Option<unsafe extern "system" fn(hContext: HANDLE) -> NTSTATUS>;
/// `DXGKDDI_QUERYDEPENDENTENGINEGROUP`.
pub type PDXGKDDI_QUERYDEPENDENTENGINEGROUP = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pQueryDependentEngineGroup: *mut DXGKARG_QUERYDEPENDENTENGINEGROUP,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_QUERYENGINESTATUS`.
pub type PDXGKDDI_QUERYENGINESTATUS = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pQueryEngineStatus: *mut DXGKARG_QUERYENGINESTATUS,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_RESETENGINE`.
pub type PDXGKDDI_RESETENGINE = Option<
    unsafe extern "system" fn(hAdapter: HANDLE, pResetEngine: *mut DXGKARG_RESETENGINE) -> NTSTATUS,
>;
/// `DXGKDDI_GETNODEMETADATA`.
pub type PDXGKDDI_GETNODEMETADATA = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        NodeOrdinalAndAdapterIndex: UINT,
        pGetNodeMetadata: *mut DXGK_NODEMETADATA,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_CALIBRATEGPUCLOCK`.
pub type PDXGKDDI_CALIBRATEGPUCLOCK = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        NodeOrdinal: UINT32,
        EngineOrdinal: UINT32,
        pClockCalibration: PVOID,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_FORMATHISTORYBUFFER`.
pub type PDXGKDDI_FORMATHISTORYBUFFER =
    Option<unsafe extern "system" fn(hContext: HANDLE, pFormatData: PVOID)>;
/// `DXGKDDI_SETSTABLEPOWERSTATE`.
pub type PDXGKDDI_SETSTABLEPOWERSTATE =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, pArgs: PVOID) -> NTSTATUS>;
/// `DXGKDDI_SETVIRTUALMACHINEDATA`.
pub type PDXGKDDI_SETVIRTUALMACHINEDATA =
    Option<unsafe extern "system" fn(hAdapter: HANDLE, pArgs: PVOID) -> NTSTATUS>;

// ---- Callback typedefs (DXGKRNL_INTERFACE) ----

/// `DXGKCB_GET_DEVICE_INFORMATION`.
pub type DXGKCB_GET_DEVICE_INFORMATION = Option<
    unsafe extern "system" fn(DeviceHandle: HANDLE, DeviceInfo: *mut DXGK_DEVICE_INFO) -> NTSTATUS,
>;
/// `DXGKCB_LOG_ETW_EVENT`.
pub type DXGKCB_LOG_ETW_EVENT = Option<
    unsafe extern "system" fn(
        EventGuid: *const GUID,
        Type: UCHAR,
        EventBufferSize: USHORT,
        EventBuffer: PVOID,
    ),
>;

/// `DxgkInitialize` (displib.lib): hands the table to Dxgkrnl.
pub type PFN_DXGK_INITIALIZE = unsafe extern "system" fn(
    DriverObject: PDRIVER_OBJECT,
    RegistryPath: *mut UNICODE_STRING,
    DriverInitializationData: *mut DRIVER_INITIALIZATION_DATA,
) -> NTSTATUS;

crate::records! {
    /// `DRIVER_INITIALIZATION_DATA`: `Version` and the 192 DDI slots, in header order.
    pub struct DRIVER_INITIALIZATION_DATA {
        /// `DXGKDDI_INTERFACE_VERSION_*` the driver was built for.
        pub Version: ULONG,
        /// Slot 1.
        pub DxgkDdiAddDevice: PDXGKDDI_ADD_DEVICE,
        /// Slot 2.
        pub DxgkDdiStartDevice: PDXGKDDI_START_DEVICE,
        /// Slot 3.
        pub DxgkDdiStopDevice: PDXGKDDI_STOP_DEVICE,
        /// Slot 4.
        pub DxgkDdiRemoveDevice: PDXGKDDI_REMOVE_DEVICE,
        /// Slot 5 (`PDXGKDDI_DISPATCH_IO_REQUEST` in the header; not used by this driver).
        pub DxgkDdiDispatchIoRequest: PVOID,
        /// Slot 6.
        pub DxgkDdiInterruptRoutine: PDXGKDDI_INTERRUPT_ROUTINE,
        /// Slot 7.
        pub DxgkDdiDpcRoutine: PDXGKDDI_DPC_ROUTINE,
        /// Slot 8.
        pub DxgkDdiQueryChildRelations: PDXGKDDI_QUERY_CHILD_RELATIONS,
        /// Slot 9.
        pub DxgkDdiQueryChildStatus: PDXGKDDI_QUERY_CHILD_STATUS,
        /// Slot 10.
        pub DxgkDdiQueryDeviceDescriptor: PDXGKDDI_QUERY_DEVICE_DESCRIPTOR,
        /// Slot 11.
        pub DxgkDdiSetPowerState: PDXGKDDI_SET_POWER_STATE,
        /// Slot 12 (`PDXGKDDI_NOTIFY_ACPI_EVENT` in the header; not used by this driver).
        pub DxgkDdiNotifyAcpiEvent: PVOID,
        /// Slot 13.
        pub DxgkDdiResetDevice: PDXGKDDI_RESET_DEVICE,
        /// Slot 14.
        pub DxgkDdiUnload: PDXGKDDI_UNLOAD,
        /// Slot 15.
        pub DxgkDdiQueryInterface: PDXGKDDI_QUERY_INTERFACE,
        /// Slot 16 (`PDXGKDDI_CONTROL_ETW_LOGGING` in the header; not used by this driver).
        pub DxgkDdiControlEtwLogging: PVOID,
        /// Slot 17.
        pub DxgkDdiQueryAdapterInfo: PDXGKDDI_QUERYADAPTERINFO,
        /// Slot 18.
        pub DxgkDdiCreateDevice: PDXGKDDI_CREATEDEVICE,
        /// Slot 19.
        pub DxgkDdiCreateAllocation: PDXGKDDI_CREATEALLOCATION,
        /// Slot 20.
        pub DxgkDdiDestroyAllocation: PDXGKDDI_DESTROYALLOCATION,
        /// Slot 21.
        pub DxgkDdiDescribeAllocation: PDXGKDDI_DESCRIBEALLOCATION,
        /// Slot 22.
        pub DxgkDdiGetStandardAllocationDriverData: PDXGKDDI_GETSTANDARDALLOCATIONDRIVERDATA,
        /// Slot 23 (`PDXGKDDI_ACQUIRESWIZZLINGRANGE` in the header; not used by this driver).
        pub DxgkDdiAcquireSwizzlingRange: PVOID,
        /// Slot 24 (`PDXGKDDI_RELEASESWIZZLINGRANGE` in the header; not used by this driver).
        pub DxgkDdiReleaseSwizzlingRange: PVOID,
        /// Slot 25 (`PDXGKDDI_PATCH` in the header; not used by this driver).
        pub DxgkDdiPatch: PVOID,
        /// Slot 26.
        pub DxgkDdiSubmitCommand: PDXGKDDI_SUBMITCOMMAND,
        /// Slot 27.
        pub DxgkDdiPreemptCommand: PDXGKDDI_PREEMPTCOMMAND,
        /// Slot 28.
        pub DxgkDdiBuildPagingBuffer: PDXGKDDI_BUILDPAGINGBUFFER,
        /// Slot 29 (`PDXGKDDI_SETPALETTE` in the header; not used by this driver).
        pub DxgkDdiSetPalette: PVOID,
        /// Slot 30 (`PDXGKDDI_SETPOINTERPOSITION` in the header; not used by this driver).
        pub DxgkDdiSetPointerPosition: PVOID,
        /// Slot 31 (`PDXGKDDI_SETPOINTERSHAPE` in the header; not used by this driver).
        pub DxgkDdiSetPointerShape: PVOID,
        /// Slot 32.
        pub DxgkDdiResetFromTimeout: PDXGKDDI_RESETFROMTIMEOUT,
        /// Slot 33.
        pub DxgkDdiRestartFromTimeout: PDXGKDDI_RESTARTFROMTIMEOUT,
        /// Slot 34 (`PDXGKDDI_ESCAPE` in the header; not used by this driver).
        pub DxgkDdiEscape: PVOID,
        /// Slot 35.
        pub DxgkDdiCollectDbgInfo: PDXGKDDI_COLLECTDBGINFO,
        /// Slot 36 (`PDXGKDDI_QUERYCURRENTFENCE` in the header; not used by this driver).
        pub DxgkDdiQueryCurrentFence: PVOID,
        /// Slot 37 (`PDXGKDDI_ISSUPPORTEDVIDPN` in the header; not used by this driver).
        pub DxgkDdiIsSupportedVidPn: PVOID,
        /// Slot 38 (`PDXGKDDI_RECOMMENDFUNCTIONALVIDPN` in the header; not used by this driver).
        pub DxgkDdiRecommendFunctionalVidPn: PVOID,
        /// Slot 39 (`PDXGKDDI_ENUMVIDPNCOFUNCMODALITY` in the header; not used by this driver).
        pub DxgkDdiEnumVidPnCofuncModality: PVOID,
        /// Slot 40 (`PDXGKDDI_SETVIDPNSOURCEADDRESS` in the header; not used by this driver).
        pub DxgkDdiSetVidPnSourceAddress: PVOID,
        /// Slot 41 (`PDXGKDDI_SETVIDPNSOURCEVISIBILITY` in the header; not used by this driver).
        pub DxgkDdiSetVidPnSourceVisibility: PVOID,
        /// Slot 42 (`PDXGKDDI_COMMITVIDPN` in the header; not used by this driver).
        pub DxgkDdiCommitVidPn: PVOID,
        /// Slot 43 (`PDXGKDDI_UPDATEACTIVEVIDPNPRESENTPATH` in the header; not used by this driver).
        pub DxgkDdiUpdateActiveVidPnPresentPath: PVOID,
        /// Slot 44 (`PDXGKDDI_RECOMMENDMONITORMODES` in the header; not used by this driver).
        pub DxgkDdiRecommendMonitorModes: PVOID,
        /// Slot 45 (`PDXGKDDI_RECOMMENDVIDPNTOPOLOGY` in the header; not used by this driver).
        pub DxgkDdiRecommendVidPnTopology: PVOID,
        /// Slot 46 (`PDXGKDDI_GETSCANLINE` in the header; not used by this driver).
        pub DxgkDdiGetScanLine: PVOID,
        /// Slot 47 (`PDXGKDDI_STOPCAPTURE` in the header; not used by this driver).
        pub DxgkDdiStopCapture: PVOID,
        /// Slot 48 (`PDXGKDDI_CONTROLINTERRUPT` in the header; not used by this driver).
        pub DxgkDdiControlInterrupt: PVOID,
        /// Slot 49 (`PDXGKDDI_CREATEOVERLAY` in the header; not used by this driver).
        pub DxgkDdiCreateOverlay: PVOID,
        /// Slot 50.
        pub DxgkDdiDestroyDevice: PDXGKDDI_DESTROYDEVICE,
        /// Slot 51.
        pub DxgkDdiOpenAllocation: PDXGKDDI_OPENALLOCATIONINFO,
        /// Slot 52.
        pub DxgkDdiCloseAllocation: PDXGKDDI_CLOSEALLOCATION,
        /// Slot 53 (`PDXGKDDI_RENDER` in the header; not used by this driver).
        pub DxgkDdiRender: PVOID,
        /// Slot 54 (`PDXGKDDI_PRESENT` in the header; not used by this driver).
        pub DxgkDdiPresent: PVOID,
        /// Slot 55 (`PDXGKDDI_UPDATEOVERLAY` in the header; not used by this driver).
        pub DxgkDdiUpdateOverlay: PVOID,
        /// Slot 56 (`PDXGKDDI_FLIPOVERLAY` in the header; not used by this driver).
        pub DxgkDdiFlipOverlay: PVOID,
        /// Slot 57 (`PDXGKDDI_DESTROYOVERLAY` in the header; not used by this driver).
        pub DxgkDdiDestroyOverlay: PVOID,
        /// Slot 58.
        pub DxgkDdiCreateContext: PDXGKDDI_CREATECONTEXT,
        /// Slot 59.
        pub DxgkDdiDestroyContext: PDXGKDDI_DESTROYCONTEXT,
        /// Slot 60 (`PDXGKDDI_LINK_DEVICE` in the header; not used by this driver).
        pub DxgkDdiLinkDevice: PVOID,
        /// Slot 61 (`PDXGKDDI_SETDISPLAYPRIVATEDRIVERFORMAT` in the header; not used by this driver).
        pub DxgkDdiSetDisplayPrivateDriverFormat: PVOID,
        /// Slot 62 (`PVOID` in the header; not used by this driver).
        pub DxgkDdiDescribePageTable: PVOID,
        /// Slot 63 (`PVOID` in the header; not used by this driver).
        pub DxgkDdiUpdatePageTable: PVOID,
        /// Slot 64 (`PVOID` in the header; not used by this driver).
        pub DxgkDdiUpdatePageDirectory: PVOID,
        /// Slot 65 (`PVOID` in the header; not used by this driver).
        pub DxgkDdiMovePageDirectory: PVOID,
        /// Slot 66 (`PVOID` in the header; not used by this driver).
        pub DxgkDdiSubmitRender: PVOID,
        /// Slot 67 (`PVOID` in the header; not used by this driver).
        pub DxgkDdiCreateAllocation2: PVOID,
        /// Slot 68 (`PDXGKDDI_RENDER` in the header; not used by this driver).
        pub DxgkDdiRenderKm: PVOID,
        /// Slot 69 (`void *` in the header; not used by this driver).
        pub Reserved: PVOID,
        /// Slot 70 (`PDXGKDDI_QUERYVIDPNHWCAPABILITY` in the header; not used by this driver).
        pub DxgkDdiQueryVidPnHWCapability: PVOID,
        /// Slot 71 (`PDXGKDDISETPOWERCOMPONENTFSTATE` in the header; not used by this driver).
        pub DxgkDdiSetPowerComponentFState: PVOID,
        /// Slot 72.
        pub DxgkDdiQueryDependentEngineGroup: PDXGKDDI_QUERYDEPENDENTENGINEGROUP,
        /// Slot 73.
        pub DxgkDdiQueryEngineStatus: PDXGKDDI_QUERYENGINESTATUS,
        /// Slot 74.
        pub DxgkDdiResetEngine: PDXGKDDI_RESETENGINE,
        /// Slot 75 (`PDXGKDDI_STOP_DEVICE_AND_RELEASE_POST_DISPLAY_OWNERSHIP` in the header; not used by this driver).
        pub DxgkDdiStopDeviceAndReleasePostDisplayOwnership: PVOID,
        /// Slot 76 (`PDXGKDDI_SYSTEM_DISPLAY_ENABLE` in the header; not used by this driver).
        pub DxgkDdiSystemDisplayEnable: PVOID,
        /// Slot 77 (`PDXGKDDI_SYSTEM_DISPLAY_WRITE` in the header; not used by this driver).
        pub DxgkDdiSystemDisplayWrite: PVOID,
        /// Slot 78 (`PDXGKDDI_CANCELCOMMAND` in the header; not used by this driver).
        pub DxgkDdiCancelCommand: PVOID,
        /// Slot 79 (`PDXGKDDI_GET_CHILD_CONTAINER_ID` in the header; not used by this driver).
        pub DxgkDdiGetChildContainerId: PVOID,
        /// Slot 80 (`PDXGKDDIPOWERRUNTIMECONTROLREQUEST` in the header; not used by this driver).
        pub DxgkDdiPowerRuntimeControlRequest: PVOID,
        /// Slot 81 (`PDXGKDDI_SETVIDPNSOURCEADDRESSWITHMULTIPLANEOVERLAY` in the header; not used by this driver).
        pub DxgkDdiSetVidPnSourceAddressWithMultiPlaneOverlay: PVOID,
        /// Slot 82 (`PDXGKDDI_NOTIFY_SURPRISE_REMOVAL` in the header; not used by this driver).
        pub DxgkDdiNotifySurpriseRemoval: PVOID,
        /// Slot 83.
        pub DxgkDdiGetNodeMetadata: PDXGKDDI_GETNODEMETADATA,
        /// Slot 84 (`PDXGKDDISETPOWERPSTATE` in the header; not used by this driver).
        pub DxgkDdiSetPowerPState: PVOID,
        /// Slot 85 (`PDXGKDDI_CONTROLINTERRUPT2` in the header; not used by this driver).
        pub DxgkDdiControlInterrupt2: PVOID,
        /// Slot 86 (`PDXGKDDI_CHECKMULTIPLANEOVERLAYSUPPORT` in the header; not used by this driver).
        pub DxgkDdiCheckMultiPlaneOverlaySupport: PVOID,
        /// Slot 87.
        pub DxgkDdiCalibrateGpuClock: PDXGKDDI_CALIBRATEGPUCLOCK,
        /// Slot 88.
        pub DxgkDdiFormatHistoryBuffer: PDXGKDDI_FORMATHISTORYBUFFER,
        /// Slot 89 (`PDXGKDDI_RENDERGDI` in the header; not used by this driver).
        pub DxgkDdiRenderGdi: PVOID,
        /// Slot 90.
        pub DxgkDdiSubmitCommandVirtual: PDXGKDDI_SUBMITCOMMANDVIRTUAL,
        /// Slot 91.
        pub DxgkDdiSetRootPageTable: PDXGKDDI_SETROOTPAGETABLE,
        /// Slot 92.
        pub DxgkDdiGetRootPageTableSize: PDXGKDDI_GETROOTPAGETABLESIZE,
        /// Slot 93 (`PDXGKDDI_MAPCPUHOSTAPERTURE` in the header; not used by this driver).
        pub DxgkDdiMapCpuHostAperture: PVOID,
        /// Slot 94 (`PDXGKDDI_UNMAPCPUHOSTAPERTURE` in the header; not used by this driver).
        pub DxgkDdiUnmapCpuHostAperture: PVOID,
        /// Slot 95 (`PDXGKDDI_CHECKMULTIPLANEOVERLAYSUPPORT2` in the header; not used by this driver).
        pub DxgkDdiCheckMultiPlaneOverlaySupport2: PVOID,
        /// Slot 96.
        pub DxgkDdiCreateProcess: PDXGKDDI_CREATEPROCESS,
        /// Slot 97.
        pub DxgkDdiDestroyProcess: PDXGKDDI_DESTROYPROCESS,
        /// Slot 98 (`PDXGKDDI_SETVIDPNSOURCEADDRESSWITHMULTIPLANEOVERLAY2` in the header; not used by this driver).
        pub DxgkDdiSetVidPnSourceAddressWithMultiPlaneOverlay2: PVOID,
        /// Slot 99 (`void *` in the header; not used by this driver).
        pub Reserved1: PVOID,
        /// Slot 100 (`void *` in the header; not used by this driver).
        pub Reserved2: PVOID,
        /// Slot 101 (`PDXGKDDI_POWERRUNTIMESETDEVICEHANDLE` in the header; not used by this driver).
        pub DxgkDdiPowerRuntimeSetDeviceHandle: PVOID,
        /// Slot 102.
        pub DxgkDdiSetStablePowerState: PDXGKDDI_SETSTABLEPOWERSTATE,
        /// Slot 103 (`PDXGKDDI_SETVIDEOPROTECTEDREGION` in the header; not used by this driver).
        pub DxgkDdiSetVideoProtectedRegion: PVOID,
        /// Slot 104 (`PDXGKDDI_CHECKMULTIPLANEOVERLAYSUPPORT3` in the header; not used by this driver).
        pub DxgkDdiCheckMultiPlaneOverlaySupport3: PVOID,
        /// Slot 105 (`PDXGKDDI_SETVIDPNSOURCEADDRESSWITHMULTIPLANEOVERLAY3` in the header; not used by this driver).
        pub DxgkDdiSetVidPnSourceAddressWithMultiPlaneOverlay3: PVOID,
        /// Slot 106 (`PDXGKDDI_POSTMULTIPLANEOVERLAYPRESENT` in the header; not used by this driver).
        pub DxgkDdiPostMultiPlaneOverlayPresent: PVOID,
        /// Slot 107 (`PDXGKDDI_VALIDATEUPDATEALLOCATIONPROPERTY` in the header; not used by this driver).
        pub DxgkDdiValidateUpdateAllocationProperty: PVOID,
        /// Slot 108 (`PDXGKDDI_CONTROLMODEBEHAVIOR` in the header; not used by this driver).
        pub DxgkDdiControlModeBehavior: PVOID,
        /// Slot 109 (`PDXGKDDI_UPDATEMONITORLINKINFO` in the header; not used by this driver).
        pub DxgkDdiUpdateMonitorLinkInfo: PVOID,
        /// Slot 110 (`PDXGKDDI_CREATEHWCONTEXT` in the header; not used by this driver).
        pub DxgkDdiCreateHwContext: PVOID,
        /// Slot 111 (`PDXGKDDI_DESTROYHWCONTEXT` in the header; not used by this driver).
        pub DxgkDdiDestroyHwContext: PVOID,
        /// Slot 112 (`PDXGKDDI_CREATEHWQUEUE` in the header; not used by this driver).
        pub DxgkDdiCreateHwQueue: PVOID,
        /// Slot 113 (`PDXGKDDI_DESTROYHWQUEUE` in the header; not used by this driver).
        pub DxgkDdiDestroyHwQueue: PVOID,
        /// Slot 114 (`PDXGKDDI_SUBMITCOMMANDTOHWQUEUE` in the header; not used by this driver).
        pub DxgkDdiSubmitCommandToHwQueue: PVOID,
        /// Slot 115 (`PDXGKDDI_SWITCHTOHWCONTEXTLIST` in the header; not used by this driver).
        pub DxgkDdiSwitchToHwContextList: PVOID,
        /// Slot 116 (`PDXGKDDI_RESETHWENGINE` in the header; not used by this driver).
        pub DxgkDdiResetHwEngine: PVOID,
        /// Slot 117 (`PDXGKDDI_CREATEPERIODICFRAMENOTIFICATION` in the header; not used by this driver).
        pub DxgkDdiCreatePeriodicFrameNotification: PVOID,
        /// Slot 118 (`PDXGKDDI_DESTROYPERIODICFRAMENOTIFICATION` in the header; not used by this driver).
        pub DxgkDdiDestroyPeriodicFrameNotification: PVOID,
        /// Slot 119 (`PDXGKDDI_SETTIMINGSFROMVIDPN` in the header; not used by this driver).
        pub DxgkDdiSetTimingsFromVidPn: PVOID,
        /// Slot 120 (`PDXGKDDI_SETTARGETGAMMA` in the header; not used by this driver).
        pub DxgkDdiSetTargetGamma: PVOID,
        /// Slot 121 (`PDXGKDDI_SETTARGETCONTENTTYPE` in the header; not used by this driver).
        pub DxgkDdiSetTargetContentType: PVOID,
        /// Slot 122 (`PDXGKDDI_SETTARGETANALOGCOPYPROTECTION` in the header; not used by this driver).
        pub DxgkDdiSetTargetAnalogCopyProtection: PVOID,
        /// Slot 123 (`PDXGKDDI_SETTARGETADJUSTEDCOLORIMETRY` in the header; not used by this driver).
        pub DxgkDdiSetTargetAdjustedColorimetry: PVOID,
        /// Slot 124 (`PDXGKDDI_DISPLAYDETECTCONTROL` in the header; not used by this driver).
        pub DxgkDdiDisplayDetectControl: PVOID,
        /// Slot 125 (`PDXGKDDI_QUERYCONNECTIONCHANGE` in the header; not used by this driver).
        pub DxgkDdiQueryConnectionChange: PVOID,
        /// Slot 126 (`PDXGKDDI_EXCHANGEPRESTARTINFO` in the header; not used by this driver).
        pub DxgkDdiExchangePreStartInfo: PVOID,
        /// Slot 127 (`PDXGKDDI_GETMULTIPLANEOVERLAYCAPS` in the header; not used by this driver).
        pub DxgkDdiGetMultiPlaneOverlayCaps: PVOID,
        /// Slot 128 (`PDXGKDDI_GETPOSTCOMPOSITIONCAPS` in the header; not used by this driver).
        pub DxgkDdiGetPostCompositionCaps: PVOID,
        /// Slot 129 (`PDXGKDDI_UPDATEHWCONTEXTSTATE` in the header; not used by this driver).
        pub DxgkDdiUpdateHwContextState: PVOID,
        /// Slot 130 (`PDXGKDDI_CREATEPROTECTEDSESSION` in the header; not used by this driver).
        pub DxgkDdiCreateProtectedSession: PVOID,
        /// Slot 131 (`PDXGKDDI_DESTROYPROTECTEDSESSION` in the header; not used by this driver).
        pub DxgkDdiDestroyProtectedSession: PVOID,
        /// Slot 132 (`PDXGKDDI_SETSCHEDULINGLOGBUFFER` in the header; not used by this driver).
        pub DxgkDdiSetSchedulingLogBuffer: PVOID,
        /// Slot 133 (`PDXGKDDI_SETUPPRIORITYBANDS` in the header; not used by this driver).
        pub DxgkDdiSetupPriorityBands: PVOID,
        /// Slot 134 (`PDXGKDDI_NOTIFYFOCUSPRESENT` in the header; not used by this driver).
        pub DxgkDdiNotifyFocusPresent: PVOID,
        /// Slot 135 (`PDXGKDDI_SETCONTEXTSCHEDULINGPROPERTIES` in the header; not used by this driver).
        pub DxgkDdiSetContextSchedulingProperties: PVOID,
        /// Slot 136 (`PDXGKDDI_SUSPENDCONTEXT` in the header; not used by this driver).
        pub DxgkDdiSuspendContext: PVOID,
        /// Slot 137 (`PDXGKDDI_RESUMECONTEXT` in the header; not used by this driver).
        pub DxgkDdiResumeContext: PVOID,
        /// Slot 138.
        pub DxgkDdiSetVirtualMachineData: PDXGKDDI_SETVIRTUALMACHINEDATA,
        /// Slot 139 (`PDXGKDDI_BEGINEXCLUSIVEACCESS` in the header; not used by this driver).
        pub DxgkDdiBeginExclusiveAccess: PVOID,
        /// Slot 140 (`PDXGKDDI_ENDEXCLUSIVEACCESS` in the header; not used by this driver).
        pub DxgkDdiEndExclusiveAccess: PVOID,
        /// Slot 141 (`PDXGKDDI_QUERYDIAGNOSTICTYPESSUPPORT` in the header; not used by this driver).
        pub DxgkDdiQueryDiagnosticTypesSupport: PVOID,
        /// Slot 142 (`PDXGKDDI_CONTROLDIAGNOSTICREPORTING` in the header; not used by this driver).
        pub DxgkDdiControlDiagnosticReporting: PVOID,
        /// Slot 143 (`PDXGKDDI_RESUMEHWENGINE` in the header; not used by this driver).
        pub DxgkDdiResumeHwEngine: PVOID,
        /// Slot 144 (`PDXGKDDI_SIGNALMONITOREDFENCE` in the header; not used by this driver).
        pub DxgkDdiSignalMonitoredFence: PVOID,
        /// Slot 145 (`PDXGKDDI_PRESENTTOHWQUEUE` in the header; not used by this driver).
        pub DxgkDdiPresentToHwQueue: PVOID,
        /// Slot 146 (`PDXGKDDI_VALIDATESUBMITCOMMAND` in the header; not used by this driver).
        pub DxgkDdiValidateSubmitCommand: PVOID,
        /// Slot 147 (`PDXGKDDI_SETTARGETADJUSTEDCOLORIMETRY2` in the header; not used by this driver).
        pub DxgkDdiSetTargetAdjustedColorimetry2: PVOID,
        /// Slot 148 (`PDXGKDDI_SETTRACKEDWORKLOADPOWERLEVEL` in the header; not used by this driver).
        pub DxgkDdiSetTrackedWorkloadPowerLevel: PVOID,
        /// Slot 149 (`PDXGKDDI_SAVEMEMORYFORHOTUPDATE` in the header; not used by this driver).
        pub DxgkDdiSaveMemoryForHotUpdate: PVOID,
        /// Slot 150 (`PDXGKDDI_RESTOREMEMORYFORHOTUPDATE` in the header; not used by this driver).
        pub DxgkDdiRestoreMemoryForHotUpdate: PVOID,
        /// Slot 151 (`PDXGKDDI_COLLECTDIAGNOSTICINFO` in the header; not used by this driver).
        pub DxgkDdiCollectDiagnosticInfo: PVOID,
        /// Slot 152 (`void *` in the header; not used by this driver).
        pub Reserved3: PVOID,
        /// Slot 153 (`PDXGKDDI_CONTROLINTERRUPT3` in the header; not used by this driver).
        pub DxgkDdiControlInterrupt3: PVOID,
        /// Slot 154 (`PDXGKDDI_SETFLIPQUEUELOGBUFFER` in the header; not used by this driver).
        pub DxgkDdiSetFlipQueueLogBuffer: PVOID,
        /// Slot 155 (`PDXGKDDI_UPDATEFLIPQUEUELOG` in the header; not used by this driver).
        pub DxgkDdiUpdateFlipQueueLog: PVOID,
        /// Slot 156 (`PDXGKDDI_CANCELQUEUEDFLIPS` in the header; not used by this driver).
        pub DxgkDdiCancelQueuedFlips: PVOID,
        /// Slot 157 (`PDXGKDDI_SETINTERRUPTTARGETPRESENTID` in the header; not used by this driver).
        pub DxgkDdiSetInterruptTargetPresentId: PVOID,
        /// Slot 158 (`PDXGKDDI_SETALLOCATIONBACKINGSTORE` in the header; not used by this driver).
        pub DxgkDdiSetAllocationBackingStore: PVOID,
        /// Slot 159 (`PDXGKDDI_CREATECPUEVENT` in the header; not used by this driver).
        pub DxgkDdiCreateCpuEvent: PVOID,
        /// Slot 160 (`PDXGKDDI_DESTROYCPUEVENT` in the header; not used by this driver).
        pub DxgkDdiDestroyCpuEvent: PVOID,
        /// Slot 161 (`PDXGKDDI_CANCELFLIPS` in the header; not used by this driver).
        pub DxgkDdiCancelFlips: PVOID,
        /// Slot 162 (`PDXGKDDI_CREATENATIVEFENCE` in the header; not used by this driver).
        pub DxgkDdiCreateNativeFence: PVOID,
        /// Slot 163 (`PDXGKDDI_DESTROYNATIVEFENCE` in the header; not used by this driver).
        pub DxgkDdiDestroyNativeFence: PVOID,
        /// Slot 164 (`PDXGKDDI_UPDATEMONITOREDVALUES` in the header; not used by this driver).
        pub DxgkDdiUpdateMonitoredValues: PVOID,
        /// Slot 165 (`PDXGKDDI_UPDATECURRENTVALUESFROMCPU` in the header; not used by this driver).
        pub DxgkDdiUpdateCurrentValuesFromCpu: PVOID,
        /// Slot 166 (`PDXGKDDI_CREATEDOORBELL` in the header; not used by this driver).
        pub DxgkDdiCreateDoorbell: PVOID,
        /// Slot 167 (`PDXGKDDI_CONNECTDOORBELL` in the header; not used by this driver).
        pub DxgkDdiConnectDoorbell: PVOID,
        /// Slot 168 (`PDXGKDDI_DISCONNECTDOORBELL` in the header; not used by this driver).
        pub DxgkDdiDisconnectDoorbell: PVOID,
        /// Slot 169 (`PDXGKDDI_DESTROYDOORBELL` in the header; not used by this driver).
        pub DxgkDdiDestroyDoorbell: PVOID,
        /// Slot 170 (`PDXGKDDI_NOTIFYWORKSUBMISSION` in the header; not used by this driver).
        pub DxgkDdiNotifyWorkSubmission: PVOID,
        /// Slot 171 (`void *` in the header; not used by this driver).
        pub Reserved4: PVOID,
        /// Slot 172.
        pub DxgkDdiCreateMemoryBasis: PDXGKDDI_CREATEMEMORYBASIS,
        /// Slot 173.
        pub DxgkDdiDestroyMemoryBasis: PDXGKDDI_DESTROYMEMORYBASIS,
        /// Slot 174.
        pub DxgkDdiStartDirtyTracking: PDXGKDDI_STARTDIRTYTRACKING,
        /// Slot 175.
        pub DxgkDdiStopDirtyTracking: PDXGKDDI_STOPDIRTYTRACKING,
        /// Slot 176.
        pub DxgkDdiQueryDirtyBitData: PDXGKDDI_QUERYDIRTYBITDATA,
        /// Slot 177.
        pub DxgkDdiPrepareLiveMigration: PDXGKDDI_PREPARELIVEMIGRATION,
        /// Slot 178.
        pub DxgkDdiSaveImmutableMigrationData: PDXGKDDI_SAVEIMMUTABLEMIGRATIONDATA,
        /// Slot 179.
        pub DxgkDdiSaveMutableMigrationData: PDXGKDDI_SAVEMUTABLEMIGRATIONDATA,
        /// Slot 180.
        pub DxgkDdiEndLiveMigration: PDXGKDDI_ENDLIVEMIGRATION,
        /// Slot 181.
        pub DxgkDdiRestoreImmutableMigrationData: PDXGKDDI_RESTOREIMMUTABLEMIGRATIONDATA,
        /// Slot 182.
        pub DxgkDdiRestoreMutableMigrationData: PDXGKDDI_RESTOREMUTABLEMIGRATIONDATA,
        /// Slot 183.
        pub DxgkDdiWriteVirtualizedInterrupt: PDXGKDDI_WRITEVIRTUALIZEDINTERRUPT,
        /// Slot 184.
        pub DxgkDdiSetVirtualGpuResources2: PDXGKDDI_SETVIRTUALGPURESOURCES2,
        /// Slot 185.
        pub DxgkDdiSetVirtualFunctionPauseState: PDXGKDDI_SETVIRTUALFUNCTIONPAUSESTATE,
        /// Slot 186 (`PDXGKDDI_OPENNATIVEFENCE` in the header; not used by this driver).
        pub DxgkDdiOpenNativeFence: PVOID,
        /// Slot 187 (`PDXGKDDI_CLOSENATIVEFENCE` in the header; not used by this driver).
        pub DxgkDdiCloseNativeFence: PVOID,
        /// Slot 188 (`PDXGKDDI_SETNATIVEFENCELOGBUFFER` in the header; not used by this driver).
        pub DxgkDdiSetNativeFenceLogBuffer: PVOID,
        /// Slot 189 (`PDXGKDDI_UPDATENATIVEFENCELOGS` in the header; not used by this driver).
        pub DxgkDdiUpdateNativeFenceLogs: PVOID,
        /// Slot 190 (`PDXGKDDI_COLLECTDBGINFO2` in the header; not used by this driver).
        pub DxgkDdiCollectDbgInfo2: PVOID,
        /// Slot 191 (`PDXGKDDI_NOTIFYCONTEXTPRIORITYCHANGE` in the header; not used by this driver).
        pub DxgkDdiNotifyContextPriorityChange: PVOID,
        /// Slot 192 (`PDXGKDDI_RESETDISPLAYENGINE` in the header; not used by this driver).
        pub DxgkDdiResetDisplayEngine: PVOID,
    }

    /// `DXGKRNL_INTERFACE`: Dxgkrnl's callbacks, handed to DxgkDdiStartDevice.
    pub struct DXGKRNL_INTERFACE {
        /// `sizeof(DXGKRNL_INTERFACE)` as Dxgkrnl filled it.
        pub Size: ULONG,
        /// `DXGKDDI_INTERFACE_VERSION_*` of the callbacks.
        pub Version: ULONG,
        /// Dxgkrnl's handle for the adapter: the first argument of most callbacks.
        pub DeviceHandle: HANDLE,
        /// `DXGKCB_EVAL_ACPI_METHOD` (not used by this driver).
        pub DxgkCbEvalAcpiMethod: PVOID,
        /// `DXGKCB_GET_DEVICE_INFORMATION`.
        pub DxgkCbGetDeviceInformation: DXGKCB_GET_DEVICE_INFORMATION,
        /// `DXGKCB_INDICATE_CHILD_STATUS` (not used by this driver).
        pub DxgkCbIndicateChildStatus: PVOID,
        /// `DXGKCB_MAP_MEMORY` (not used by this driver).
        pub DxgkCbMapMemory: PVOID,
        /// `DXGKCB_QUEUE_DPC`.
        pub DxgkCbQueueDpc: DXGKCB_QUEUE_DPC,
        /// `DXGKCB_QUERY_SERVICES` (not used by this driver).
        pub DxgkCbQueryServices: PVOID,
        /// `DXGKCB_READ_DEVICE_SPACE` (not used by this driver).
        pub DxgkCbReadDeviceSpace: PVOID,
        /// `DXGKCB_SYNCHRONIZE_EXECUTION`.
        pub DxgkCbSynchronizeExecution: DXGKCB_SYNCHRONIZE_EXECUTION,
        /// `DXGKCB_UNMAP_MEMORY` (not used by this driver).
        pub DxgkCbUnmapMemory: PVOID,
        /// `DXGKCB_WRITE_DEVICE_SPACE` (not used by this driver).
        pub DxgkCbWriteDeviceSpace: PVOID,
        /// `DXGKCB_IS_DEVICE_PRESENT` (not used by this driver).
        pub DxgkCbIsDevicePresent: PVOID,
        /// `DXGKCB_GETHANDLEDATA` (not used by this driver).
        pub DxgkCbGetHandleData: PVOID,
        /// `DXGKCB_GETHANDLEPARENT` (not used by this driver).
        pub DxgkCbGetHandleParent: PVOID,
        /// `DXGKCB_ENUMHANDLECHILDREN` (not used by this driver).
        pub DxgkCbEnumHandleChildren: PVOID,
        /// `DXGKCB_NOTIFY_INTERRUPT`.
        pub DxgkCbNotifyInterrupt: DXGKCB_NOTIFY_INTERRUPT,
        /// `DXGKCB_NOTIFY_DPC`.
        pub DxgkCbNotifyDpc: DXGKCB_NOTIFY_DPC,
        /// `DXGKCB_QUERYVIDPNINTERFACE` (not used by this driver).
        pub DxgkCbQueryVidPnInterface: PVOID,
        /// `DXGKCB_QUERYMONITORINTERFACE` (not used by this driver).
        pub DxgkCbQueryMonitorInterface: PVOID,
        /// `DXGKCB_GETCAPTUREADDRESS` (not used by this driver).
        pub DxgkCbGetCaptureAddress: PVOID,
        /// `DXGKCB_LOG_ETW_EVENT`.
        pub DxgkCbLogEtwEvent: DXGKCB_LOG_ETW_EVENT,
        /// `DXGKCB_EXCLUDE_ADAPTER_ACCESS` (not used by this driver).
        pub DxgkCbExcludeAdapterAccess: PVOID,
        /// `DXGKCB_CREATECONTEXTALLOCATION` (not used by this driver).
        pub DxgkCbCreateContextAllocation: PVOID,
        /// `DXGKCB_DESTROYCONTEXTALLOCATION` (not used by this driver).
        pub DxgkCbDestroyContextAllocation: PVOID,
        /// `DXGKCB_SETPOWERCOMPONENTACTIVE` (not used by this driver).
        pub DxgkCbSetPowerComponentActive: PVOID,
        /// `DXGKCB_SETPOWERCOMPONENTIDLE` (not used by this driver).
        pub DxgkCbSetPowerComponentIdle: PVOID,
        /// `DXGKCB_ACQUIRE_POST_DISPLAY_OWNERSHIP` (not used by this driver).
        pub DxgkCbAcquirePostDisplayOwnership: PVOID,
        /// `DXGKCB_POWERRUNTIMECONTROLREQUEST` (not used by this driver).
        pub DxgkCbPowerRuntimeControlRequest: PVOID,
        /// `DXGKCB_SETPOWERCOMPONENTLATENCY` (not used by this driver).
        pub DxgkCbSetPowerComponentLatency: PVOID,
        /// `DXGKCB_SETPOWERCOMPONENTRESIDENCY` (not used by this driver).
        pub DxgkCbSetPowerComponentResidency: PVOID,
        /// `DXGKCB_COMPLETEFSTATETRANSITION` (not used by this driver).
        pub DxgkCbCompleteFStateTransition: PVOID,
        /// `DXGKCB_COMPLETEPSTATETRANSITION` (not used by this driver).
        pub DxgkCbCompletePStateTransition: PVOID,
        /// `DXGKCB_MAPCONTEXTALLOCATION` (not used by this driver).
        pub DxgkCbMapContextAllocation: PVOID,
        /// `DXGKCB_UPDATECONTEXTALLOCATION` (not used by this driver).
        pub DxgkCbUpdateContextAllocation: PVOID,
        /// `DXGKCB_RESERVEGPUVIRTUALADDRESSRANGE` (not used by this driver).
        pub DxgkCbReserveGpuVirtualAddressRange: PVOID,
        /// `DXGKCB_ACQUIREHANDLEDATA` (not used by this driver).
        pub DxgkCbAcquireHandleData: PVOID,
        /// `DXGKCB_RELEASEHANDLEDATA` (not used by this driver).
        pub DxgkCbReleaseHandleData: PVOID,
        /// `DXGKCB_HARDWARECONTENTPROTECTIONTEARDOWN` (not used by this driver).
        pub DxgkCbHardwareContentProtectionTeardown: PVOID,
        /// `DXGKCB_MULTIPLANEOVERLAYDISABLED` (not used by this driver).
        pub DxgkCbMultiPlaneOverlayDisabled: PVOID,
        /// `DXGKCB_DXGKCB_MITIGATEDRANGEUPDATE` (not used by this driver).
        pub DxgkCbMitigatedRangeUpdate: PVOID,
        /// `DXGKCB_INVALIDATEHWCONTEXT` (not used by this driver).
        pub DxgkCbInvalidateHwContext: PVOID,
        /// `DXGKCB_INDICATE_CONNECTOR_CHANGE` (not used by this driver).
        pub DxgkCbIndicateConnectorChange: PVOID,
        /// `DXGKCB_UNBLOCKUEFIFRAMEBUFFERRANGES` (not used by this driver).
        pub DxgkCbUnblockUEFIFrameBufferRanges: PVOID,
        /// `DXGKCB_ACQUIRE_POST_DISPLAY_OWNERSHIP2` (not used by this driver).
        pub DxgkCbAcquirePostDisplayOwnership2: PVOID,
        /// `DXGKCB_SETPROTECTEDSESSIONSTATUS` (not used by this driver).
        pub DxgkCbSetProtectedSessionStatus: PVOID,
        /// `DXGKCB_ALLOCATECONTIGUOUSMEMORY` (not used by this driver).
        pub DxgkCbAllocateContiguousMemory: PVOID,
        /// `DXGKCB_FREECONTIGUOUSMEMORY` (not used by this driver).
        pub DxgkCbFreeContiguousMemory: PVOID,
        /// `DXGKCB_ALLOCATEPAGESFORMDL` (not used by this driver).
        pub DxgkCbAllocatePagesForMdl: PVOID,
        /// `DXGKCB_FREEPAGESFROMMDL` (not used by this driver).
        pub DxgkCbFreePagesFromMdl: PVOID,
        /// `DXGKCB_PINFRAMEBUFFERFORSAVE` (not used by this driver).
        pub DxgkCbPinFrameBufferForSave: PVOID,
        /// `DXGKCB_UNPINFRAMEBUFFERFORSAVE` (not used by this driver).
        pub DxgkCbUnpinFrameBufferForSave: PVOID,
        /// `DXGKCB_MAPFRAMEBUFFERPOINTER` (not used by this driver).
        pub DxgkCbMapFrameBufferPointer: PVOID,
        /// `DXGKCB_UNMAPFRAMEBUFFERPOINTER` (not used by this driver).
        pub DxgkCbUnmapFrameBufferPointer: PVOID,
        /// `DXGKCB_MAPMDLTOIOMMU` (not used by this driver).
        pub DxgkCbMapMdlToIoMmu: PVOID,
        /// `DXGKCB_UNMAPMDLFROMIOMMU` (not used by this driver).
        pub DxgkCbUnmapMdlFromIoMmu: PVOID,
        /// `DXGKCB_REPORT_DIAGNOSTIC` (not used by this driver).
        pub DxgkCbReportDiagnostic: PVOID,
        /// `DXGKCB_SIGNALEVENT` (not used by this driver).
        pub DxgkCbSignalEvent: PVOID,
        /// `DXGKCB_ISFEATUREENABLED` (not used by this driver).
        pub DxgkCbIsFeatureEnabled: PVOID,
        /// `DXGKCB_SAVEMEMORYFORHOTUPDATE` (not used by this driver).
        pub DxgkCbSaveMemoryForHotUpdate: PVOID,
        /// `DXGKCB_NOTIFYCURSORSUPPORTCHANGE` (not used by this driver).
        pub DxgkCbNotifyCursorSupportChange: PVOID,
        /// `DXGKCB_QUERYFEATURESUPPORT` (not used by this driver).
        pub DxgkCbQueryFeatureSupport: PVOID,
        /// `DXGKCB_CREATEPHYSICALMEMORYOBJECT` (not used by this driver).
        pub DxgkCbCreatePhysicalMemoryObject: PVOID,
        /// `DXGKCB_DESTROYPHYSICALMEMORYOBJECT` (not used by this driver).
        pub DxgkCbDestroyPhysicalMemoryObject: PVOID,
        /// `DXGKCB_MAPPHYSICALMEMORY` (not used by this driver).
        pub DxgkCbMapPhysicalMemory: PVOID,
        /// `DXGKCB_UNMAPPHYSICALMEMORY` (not used by this driver).
        pub DxgkCbUnmapPhysicalMemory: PVOID,
        /// `DXGKCB_ALLOCATEADL` (not used by this driver).
        pub DxgkCbAllocateAdl: PVOID,
        /// `DXGKCB_FREEADL` (not used by this driver).
        pub DxgkCbFreeAdl: PVOID,
        /// `DXGKCB_OPENPHYSICALMEMORYOBJECT` (not used by this driver).
        pub DxgkCbOpenPhysicalMemoryObject: PVOID,
        /// `DXGKCB_CLOSEPHYSICALMEMORYOBJECT` (not used by this driver).
        pub DxgkCbClosePhysicalMemoryObject: PVOID,
        /// `DXGKCB_PINFRAMEBUFFERFORSAVE2` (not used by this driver).
        pub DxgkCbPinFrameBufferForSave2: PVOID,
        /// `DXGKCB_DISCONNECTDOORBELL` (not used by this driver).
        pub DxgkCbDisconnectDoorbell: PVOID,
    }

    /// `DXGK_START_INFO`.
    pub struct DXGK_START_INFO {
        /// DMA queue entries Dxgkrnl requires (obsolete).
        pub RequiredDmaQueueEntry: ULONG,
        /// The adapter's GUID.
        pub AdapterGuid: GUID,
        /// The adapter's LUID.
        pub AdapterLuid: LUID,
    }

    /// `DXGK_DEVICE_INFO`, returned by `DxgkCbGetDeviceInformation`.
    pub struct DXGK_DEVICE_INFO {
        /// The miniport's context (as returned from AddDevice).
        pub MiniportDeviceContext: PVOID,
        /// The adapter's physical device object.
        pub PhysicalDeviceObject: PDEVICE_OBJECT,
        /// The adapter's registry key.
        pub DeviceRegistryPath: UNICODE_STRING,
        /// Translated hardware resources.
        pub TranslatedResourceList: PCM_RESOURCE_LIST,
        /// System memory size in bytes.
        pub SystemMemorySize: LARGE_INTEGER,
        /// Highest physical address.
        pub HighestPhysicalAddress: LARGE_INTEGER,
        /// AGP aperture base (obsolete).
        pub AgpApertureBase: LARGE_INTEGER,
        /// AGP aperture size (obsolete).
        pub AgpApertureSize: SIZE_T,
        /// Docking state.
        pub DockingState: DOCKING_STATE,
    }
}

impl DRIVER_INITIALIZATION_DATA {
    /// Number of function-pointer slots after `Version`.
    pub const SLOT_COUNT: usize = 192;
}
