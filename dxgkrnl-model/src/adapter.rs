//! One adapter, driven through the DDI table as Dxgkrnl drives it, and the
//! `DXGKRNL_INTERFACE` callbacks the model provides to the driver.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;

use crate::loader::Driver;
use crate::{Result, check};

/// What the model knows of an adapter, reached by the driver through the
/// `DeviceHandle` of the `DXGKRNL_INTERFACE`.
struct DeviceState {
    physical_device: PDEVICE_OBJECT,
    miniport_context: PVOID,
    registry_path: Vec<u16>,
}

/// The device states alive, by address, so that a callback can tell a
/// `DeviceHandle` it issued from anything else without dereferencing it.
fn live_devices() -> &'static Mutex<HashSet<usize>> {
    static LIVE: OnceLock<Mutex<HashSet<usize>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// `DxgkCbGetDeviceInformation`.
unsafe extern "system" fn get_device_information(
    DeviceHandle: HANDLE,
    DeviceInfo: *mut DXGK_DEVICE_INFO,
) -> NTSTATUS {
    if DeviceInfo.is_null()
        || !live_devices()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&DeviceHandle.addr())
    {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `DeviceHandle` is a live `DeviceState` the model owns (checked above).
    let state = unsafe { &*DeviceHandle.cast::<DeviceState>() };
    let mut info = DXGK_DEVICE_INFO::zeroed();
    info.MiniportDeviceContext = state.miniport_context;
    info.PhysicalDeviceObject = state.physical_device;
    let bytes = u16::try_from(state.registry_path.len() * 2).unwrap_or(u16::MAX);
    info.DeviceRegistryPath = UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: state.registry_path.as_ptr().cast_mut(),
    };
    info.SystemMemorySize = LARGE_INTEGER { QuadPart: 16 << 30 };
    info.HighestPhysicalAddress = LARGE_INTEGER {
        QuadPart: (1 << 46) - 1,
    };
    // SAFETY: non-NULL, and the driver passes a writable DXGK_DEVICE_INFO.
    unsafe { DeviceInfo.write_unaligned(info) };
    STATUS_SUCCESS
}

/// One event the driver logged through `DxgkCbLogEtwEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtwEvent {
    /// The event's provider GUID.
    pub guid: GUID,
    /// The event type.
    pub event_type: u8,
    /// The event payload.
    pub payload: Vec<u8>,
}

thread_local! {
    /// The callback has no device argument; DDIs run on the caller's thread,
    /// so a per-thread log attributes each event to the test that caused it.
    static ETW_EVENTS: RefCell<Vec<EtwEvent>> = const { RefCell::new(Vec::new()) };
}

/// The ETW events the driver logged on this thread since the last call.
#[must_use]
pub fn take_etw_events() -> Vec<EtwEvent> {
    ETW_EVENTS.with(|events| std::mem::take(&mut *events.borrow_mut()))
}

/// `DxgkCbLogEtwEvent`.
unsafe extern "system" fn log_etw_event(
    EventGuid: *const GUID,
    Type: UCHAR,
    EventBufferSize: USHORT,
    EventBuffer: PVOID,
) {
    if EventGuid.is_null() || (EventBuffer.is_null() && EventBufferSize != 0) {
        return;
    }
    // SAFETY: non-NULL; the driver passes a readable GUID.
    let guid = unsafe { EventGuid.read_unaligned() };
    let payload = if EventBufferSize == 0 {
        Vec::new()
    } else {
        // SAFETY: the driver passes `EventBufferSize` readable bytes.
        unsafe {
            std::slice::from_raw_parts(EventBuffer.cast::<u8>(), usize::from(EventBufferSize))
        }
        .to_vec()
    };
    ETW_EVENTS.with(|events| {
        events.borrow_mut().push(EtwEvent {
            guid,
            event_type: Type,
            payload,
        })
    });
}

/// The physical device object the model creates per adapter: opaque to the driver.
struct PhysicalDeviceObject {
    _reserved: [u64; 4],
}

/// The `DXGK_DRIVERCAPS::WDDMVersion` a table `Version` must come with.
fn wddm_version_for(interface_version: ULONG) -> Option<DXGK_WDDMVERSION> {
    match interface_version {
        DXGKDDI_INTERFACE_VERSION_WDDM3_2 => Some(DXGKDDI_WDDMv3_2),
        DXGKDDI_INTERFACE_VERSION_WDDM3_1 => Some(DXGKDDI_WDDMv3_1),
        DXGKDDI_INTERFACE_VERSION_WDDM3_0 => Some(DXGKDDI_WDDMv3_0),
        _ => None,
    }
}

/// One memory segment of an adapter, as its hardware would define it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySegment {
    /// Driver segment id (1-based).
    pub id: u32,
    /// Size in bytes.
    pub size: u64,
    /// Dirty-tracking page size in bytes, or 0 for a segment without tracking.
    pub page_size: u32,
}

/// Whether an adapter offers GPU partitioning, and with which counts
/// (`gpup_host_set_partition_config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionConfig {
    /// `false`: no GPU partitioning (QueryInterface answers `STATUS_NOT_SUPPORTED`).
    pub enabled: bool,
    /// The partition counts offered (1..=32 of them, each 1..=64).
    pub options: Vec<u16>,
}

/// What the model configures on an adapter before starting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterConfig {
    /// The adapter's memory segments (at most 8).
    pub segments: Vec<MemorySegment>,
    /// How many memory bases the adapter holds at most.
    pub max_bases: u32,
    /// The partition configuration, or `None` for the driver's built-in one
    /// (partitioning on, counts 1, 2, 4, 8).
    pub partitions: Option<PartitionConfig>,
}

impl AdapterConfig {
    /// One tracked segment, id 1, of `size` bytes and `page_size`-byte pages.
    #[must_use]
    pub fn single(size: u64, page_size: u32) -> Self {
        Self {
            segments: vec![MemorySegment {
                id: 1,
                size,
                page_size,
            }],
            max_bases: 256,
            partitions: None,
        }
    }

    fn to_driver(&self) -> gpup_miniport::host::GPUP_MEMORY_CONFIG {
        let mut config = gpup_miniport::host::GPUP_MEMORY_CONFIG {
            SegmentCount: u32::try_from(self.segments.len()).unwrap_or(u32::MAX),
            MaxMemoryBases: self.max_bases,
            ..Default::default()
        };
        for (dst, src) in config.Segments.iter_mut().zip(&self.segments) {
            *dst = gpup_miniport::host::GPUP_SEGMENT_CONFIG {
                SegmentId: src.id,
                PageSize: src.page_size,
                SizeInBytes: src.size,
            };
        }
        config
    }
}

/// What Dxgkrnl learned at adapter start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartedCaps {
    /// `DXGKQAITYPE_DIRTYBITTRACKINGCAPS`.
    pub dirty_bit_tracking: DirtyBitTrackingCaps,
    /// `DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS` per configured segment: the
    /// page size, or `None` where the driver answered `STATUS_NOT_IMPLEMENTED`.
    pub segment_page_sizes: Vec<(u32, Option<u32>)>,
    /// `DXGKQAITYPE_GPUPCAPS`; all zero when the query failed (as Dxgkrnl
    /// counts it) or was not made.
    pub gpup: GpupCaps,
    /// The status of the `DXGKQAITYPE_GPUPCAPS` query; `None` when it was not
    /// made because the adapter has no GPU partition interface.
    pub gpup_query: Option<NTSTATUS>,
}

impl StartedCaps {
    /// The dirty-tracking page size the driver reported for `segment`, if tracked.
    #[must_use]
    pub fn page_size(&self, segment: u32) -> Option<u32> {
        self.segment_page_sizes
            .iter()
            .find(|(id, _)| *id == segment)
            .and_then(|(_, page)| *page)
    }
}

/// An adapter the driver created in `DxgkDdiAddDevice`.
///
/// Dropping an adapter that was not removed stops (if started) and removes it.
pub struct Adapter {
    driver: Driver,
    context: PVOID,
    /// Kept alive for as long as the driver may compare against its address.
    _pdo: Box<PhysicalDeviceObject>,
    device: Box<DeviceState>,
    started: bool,
    removed: bool,
    config: Option<AdapterConfig>,
    caps: StartedCaps,
    /// What GPU-virtualization initialization kept at the last start.
    gpup: Option<crate::vgpu::GpuVirtualization>,
}

// SAFETY: `context` is an opaque handle the driver accepts from any thread;
// the boxes are owned and only read by the driver's callbacks.
unsafe impl Send for Adapter {}
// SAFETY: as above; the driver's DDIs may be called concurrently.
unsafe impl Sync for Adapter {}

static NEXT_LUID: AtomicU32 = AtomicU32::new(1);

impl Adapter {
    pub(crate) fn add(driver: Driver) -> Result<Self> {
        let add = driver
            .table()
            .DxgkDdiAddDevice
            .ok_or(STATUS_REVISION_MISMATCH)?;
        let mut pdo = Box::new(PhysicalDeviceObject { _reserved: [0; 4] });
        let pdo_ptr: PDEVICE_OBJECT = (&raw mut *pdo).cast();
        let mut context: PVOID = core::ptr::null_mut();
        // SAFETY: a DDI of the loaded driver, with a live PDO and out-parameter.
        check(unsafe { add(pdo_ptr, &raw mut context) })?;
        let device = Box::new(DeviceState {
            physical_device: pdo_ptr,
            miniport_context: context,
            registry_path:
                "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Video\\{gpup}\\0000"
                    .encode_utf16()
                    .collect(),
        });
        live_devices()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(core::ptr::from_ref::<DeviceState>(&device).addr());
        Ok(Self {
            driver,
            context,
            _pdo: pdo,
            device,
            started: false,
            removed: false,
            config: None,
            caps: StartedCaps::default(),
            gpup: None,
        })
    }

    /// Gives the adapter its memory configuration (`gpup_host_set_memory_config`),
    /// as its hardware would; before the first start.
    ///
    /// # Errors
    /// The driver's status for an invalid configuration or a started adapter.
    pub fn configure(&mut self, config: &AdapterConfig) -> Result<()> {
        let raw = config.to_driver();
        // SAFETY: the host export of the linked driver, with a live configuration.
        check(unsafe {
            gpup_miniport::host::gpup_host_set_memory_config(self.context, &raw const raw)
        })?;
        if let Some(partitions) = &config.partitions {
            let mut raw = gpup_miniport::host::GPUP_PARTITION_CONFIG {
                Enabled: u32::from(partitions.enabled),
                OptionCount: u32::try_from(partitions.options.len()).unwrap_or(u32::MAX),
                ..Default::default()
            };
            for (dst, src) in raw.Options.iter_mut().zip(&partitions.options) {
                *dst = *src;
            }
            // SAFETY: the host export of the linked driver, with a live configuration.
            check(unsafe {
                gpup_miniport::host::gpup_host_set_partition_config(self.context, &raw const raw)
            })?;
        }
        self.config = Some(config.clone());
        Ok(())
    }

    /// The memory configuration given with [`Self::configure`], or the
    /// driver's built-in one (one 1 GiB segment, id 1, 4 KiB pages, 256 bases).
    #[must_use]
    pub fn memory_config(&self) -> AdapterConfig {
        self.config
            .clone()
            .unwrap_or_else(|| AdapterConfig::single(1 << 30, 4096))
    }

    /// The caps the model read at the last start.
    #[must_use]
    pub fn caps(&self) -> &StartedCaps {
        &self.caps
    }

    /// The driver that created this adapter.
    #[must_use]
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The `MiniportDeviceContext` (`hAdapter`) the driver returned.
    #[must_use]
    pub fn context(&self) -> PVOID {
        self.context
    }

    /// The `DXGKRNL_INTERFACE` the model hands to StartDevice.
    #[must_use]
    pub fn kernel_interface(&self) -> DXGKRNL_INTERFACE {
        let mut kernel = DXGKRNL_INTERFACE::zeroed();
        kernel.Size =
            ULONG::try_from(core::mem::size_of::<DXGKRNL_INTERFACE>()).unwrap_or(ULONG::MAX);
        kernel.Version = DXGKDDI_INTERFACE_VERSION_WDDM3_2;
        kernel.DeviceHandle = core::ptr::from_ref::<DeviceState>(&self.device)
            .cast_mut()
            .cast();
        kernel.DxgkCbGetDeviceInformation = Some(get_device_information);
        kernel.DxgkCbLogEtwEvent = Some(log_etw_event);
        kernel
    }

    /// Starts the adapter as Dxgkrnl does: `DxgkDdiStartDevice`, then the
    /// `DXGKQAITYPE_DRIVERCAPS` query, whose `WDDMVersion` must match the
    /// table's interface version (otherwise the adapter is stopped again and
    /// the start fails with `STATUS_REVISION_MISMATCH`), then
    /// `DXGKQAITYPE_DIRTYBITTRACKINGCAPS`, `DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS`
    /// per segment, then GPU-virtualization initialization (the interfaces,
    /// `DXGKQAITYPE_GPUPCAPS`, the checks of gpu-partitioning.md section 2).
    /// Caps that offer live migration without dirty-bit tracking stop the
    /// adapter again and fail the start with `STATUS_INVALID_PARAMETER`.
    ///
    /// Returns (video present sources, children).
    ///
    /// # Errors
    /// StartDevice's failure status, or the caps checks above.
    pub fn start(&mut self) -> Result<(u32, u32)> {
        let start = self
            .driver
            .table()
            .DxgkDdiStartDevice
            .ok_or(STATUS_REVISION_MISMATCH)?;
        let luid = NEXT_LUID.fetch_add(1, Ordering::Relaxed);
        let mut start_info = DXGK_START_INFO::zeroed();
        start_info.AdapterLuid = LUID {
            LowPart: luid,
            HighPart: 0,
        };
        start_info.AdapterGuid = GUID::new(
            0x6770_7570,
            0x6d6f,
            0x6465,
            [0x6c, 0, 0, 0, 0, 0, 0, luid.to_le_bytes()[0]],
        );
        let mut kernel = self.kernel_interface();
        let (mut sources, mut children) = (u32::MAX, u32::MAX);
        // SAFETY: a DDI of the loaded driver, with live argument blocks.
        check(unsafe {
            start(
                self.context,
                &raw mut start_info,
                &raw mut kernel,
                &raw mut sources,
                &raw mut children,
            )
        })?;
        self.started = true;
        let caps: DXGK_DRIVERCAPS = self.query_adapter_info(DXGKQAITYPE_DRIVERCAPS, &[])?;
        if Some(caps.WDDMVersion) != wddm_version_for(self.driver.table().Version) {
            eprintln!(
                "dxgkrnl-model: DRIVERCAPS.WDDMVersion {:#x} does not match interface version {:#x}",
                caps.WDDMVersion.0,
                self.driver.table().Version
            );
            self.stop()?;
            return Err(STATUS_REVISION_MISMATCH);
        }
        // Adapter initialisation, as Dxgkrnl does it: dirty-bit tracking caps,
        // then the page size of every segment.
        let dirty: DXGK_DIRTY_BIT_TRACKING_CAPS =
            self.query_adapter_info(DXGKQAITYPE_DIRTYBITTRACKINGCAPS, &[])?;
        let mut pages = Vec::new();
        if dirty
            .Value
            .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
        {
            for segment in self.memory_config().segments {
                let answer = self.query_adapter_info::<DXGK_DIRTY_BIT_TRACKING_SEGMENT_CAPS>(
                    DXGKQAITYPE_DIRTYBITTRACKINGSEGMENTCAPS,
                    &segment.id.to_le_bytes(),
                );
                match answer {
                    Ok(caps) => pages.push((segment.id, Some(caps.PageSize))),
                    Err(STATUS_NOT_IMPLEMENTED) => pages.push((segment.id, None)),
                    Err(status) => {
                        self.stop()?;
                        return Err(status);
                    }
                }
            }
        }
        self.caps = StartedCaps {
            dirty_bit_tracking: dirty.Value,
            segment_page_sizes: pages,
            gpup: GpupCaps::empty(),
            gpup_query: None,
        };
        // GPU virtualization (gpu-partitioning.md section 2): the partition
        // interface, then GPUPCAPS (only then: Dxgkrnl asks only adapters
        // that have the interface) and the other interfaces. It may fail the
        // start, or leave the adapter without GPU-P.
        match self.init_gpu_virtualization() {
            Ok(gpup) => self.gpup = gpup,
            Err(status) => {
                self.stop()?;
                return Err(status);
            }
        }
        Ok((sources, children))
    }

    /// What the GPUPCAPS query of GPU-virtualization initialization answered.
    pub(crate) fn record_gpup_caps(&mut self, caps: GpupCaps, status: NTSTATUS) {
        self.caps.gpup = caps;
        self.caps.gpup_query = Some(status);
    }

    pub(crate) fn take_gpu_virtualization(&mut self) -> Option<crate::vgpu::GpuVirtualization> {
        self.gpup.take()
    }

    pub(crate) fn gpu_virtualization_ref(&self) -> Option<&crate::vgpu::GpuVirtualization> {
        self.gpup.as_ref()
    }

    /// `DxgkDdiQueryAdapterInfo` with raw buffers.
    #[must_use]
    pub fn query_adapter_info_raw(
        &self,
        ty: DXGK_QUERYADAPTERINFOTYPE,
        input: &[u8],
        output: &mut [u8],
    ) -> NTSTATUS {
        let Some(qai) = self.driver.table().DxgkDdiQueryAdapterInfo else {
            return STATUS_REVISION_MISMATCH;
        };
        let mut args = DXGKARG_QUERYADAPTERINFO::zeroed();
        args.Type = ty;
        args.pInputData = if input.is_empty() {
            core::ptr::null_mut()
        } else {
            input.as_ptr().cast_mut().cast()
        };
        args.InputDataSize = UINT::try_from(input.len()).unwrap_or(UINT::MAX);
        args.pOutputData = output.as_mut_ptr().cast();
        args.OutputDataSize = UINT::try_from(output.len()).unwrap_or(UINT::MAX);
        // SAFETY: a DDI of the loaded driver; the buffers live across the call.
        unsafe { qai(self.context, &raw const args) }
    }

    /// `DxgkDdiQueryAdapterInfo` answered into a zeroed `T` (as Dxgkrnl zeroes
    /// its buffers).
    ///
    /// # Errors
    /// The query's failure status.
    pub fn query_adapter_info<T: Record>(
        &self,
        ty: DXGK_QUERYADAPTERINFOTYPE,
        input: &[u8],
    ) -> Result<T> {
        let mut out = vec![0u8; core::mem::size_of::<T>()];
        check(self.query_adapter_info_raw(ty, input, &mut out))?;
        // SAFETY: `out` holds `size_of::<T>()` bytes and `T: Record` is plain data.
        Ok(unsafe { out.as_ptr().cast::<T>().read_unaligned() })
    }

    /// `DxgkDdiStopDevice`, after InterfaceDereference of every GPU-P
    /// interface held (as Dxgkrnl tears GPU virtualization down first).
    ///
    /// # Errors
    /// StopDevice's failure status.
    pub fn stop(&mut self) -> Result<()> {
        self.release_gpu_virtualization();
        let stop = self
            .driver
            .table()
            .DxgkDdiStopDevice
            .ok_or(STATUS_REVISION_MISMATCH)?;
        // SAFETY: a DDI of the loaded driver.
        check(unsafe { stop(self.context) })?;
        self.started = false;
        Ok(())
    }

    /// `DxgkDdiRemoveDevice`.
    ///
    /// # Errors
    /// RemoveDevice's failure status.
    pub fn remove(mut self) -> Result<()> {
        self.removed = true;
        self.remove_raw()
    }

    fn remove_raw(&self) -> Result<()> {
        let remove = self
            .driver
            .table()
            .DxgkDdiRemoveDevice
            .ok_or(STATUS_REVISION_MISMATCH)?;
        // SAFETY: a DDI of the loaded driver.
        check(unsafe { remove(self.context) })
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        if !self.removed {
            if self.started {
                let _ = self.stop();
            }
            let _ = self.remove_raw();
        }
        live_devices()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&core::ptr::from_ref::<DeviceState>(&self.device).addr());
    }
}
