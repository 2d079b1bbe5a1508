//! The slots Dxgkrnl requires to be non-NULL in a miniport's table, in one
//! place for every stand-in that checks a table: the model's `validate_table`
//! and the fake DXGKrnl of the Wine smoke test
//! (`tests/wine/fake-dxgkrnl`, which includes this file with `#[path]`, so
//! it must stay free of dependencies: plain `core` only).

/// Slots Dxgkrnl refuses to find NULL in the table of a render-less adapter:
/// Microsoft's MCDM "minimum required support" list (without
/// DxgkDdiQueryConnectionChange, which the same page also lists as prohibited).
pub const MANDATORY_SLOTS: &[&str] = &[
    "DxgkDdiAddDevice",
    "DxgkDdiBuildPagingBuffer",
    "DxgkDdiCalibrateGpuClock",
    "DxgkDdiCloseAllocation",
    "DxgkDdiCollectDbgInfo",
    "DxgkDdiCreateAllocation",
    "DxgkDdiCreateContext",
    "DxgkDdiCreateDevice",
    "DxgkDdiDescribeAllocation",
    "DxgkDdiDestroyAllocation",
    "DxgkDdiDestroyContext",
    "DxgkDdiDestroyDevice",
    "DxgkDdiDpcRoutine",
    "DxgkDdiFormatHistoryBuffer",
    "DxgkDdiGetNodeMetadata",
    "DxgkDdiGetStandardAllocationDriverData",
    "DxgkDdiInterruptRoutine",
    "DxgkDdiOpenAllocation",
    "DxgkDdiPreemptCommand",
    "DxgkDdiQueryAdapterInfo",
    "DxgkDdiQueryDependentEngineGroup",
    "DxgkDdiQueryDeviceDescriptor",
    "DxgkDdiQueryEngineStatus",
    "DxgkDdiRemoveDevice",
    "DxgkDdiResetDevice",
    "DxgkDdiResetEngine",
    "DxgkDdiResetFromTimeout",
    "DxgkDdiRestartFromTimeout",
    "DxgkDdiSetPowerState",
    "DxgkDdiSetStablePowerState",
    "DxgkDdiSetVirtualMachineData",
    "DxgkDdiStartDevice",
    "DxgkDdiStopDevice",
    "DxgkDdiUnload",
    "DxgkDdiQueryChildStatus",
    "DxgkDdiQueryChildRelations",
];
