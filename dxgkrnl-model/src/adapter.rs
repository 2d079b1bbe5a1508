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

/// What the model configures on an adapter before starting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterConfig {
    /// The adapter's memory segments (at most 8).
    pub segments: Vec<MemorySegment>,
    /// How many memory bases the adapter holds at most.
    pub max_bases: u32,
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
    /// `DXGKQAITYPE_GPUPCAPS`; all zero when the query failed (as Dxgkrnl counts it).
    pub gpup: GpupCaps,
    /// The status of the `DXGKQAITYPE_GPUPCAPS` query.
    pub gpup_query: NTSTATUS,
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
    /// per segment and `DXGKQAITYPE_GPUPCAPS`. Caps that offer live migration
    /// without dirty-bit tracking stop the adapter again and fail the start
    /// with `STATUS_INVALID_PARAMETER`.
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
        // GPU-P caps. Dxgkrnl counts a failing query as all-zero caps, and
        // refuses an adapter that offers live migration without dirty-bit
        // tracking (dirty-bit-tracking.md section 3). Dxgkrnl asks only once
        // the partition interface was obtained (gpu-partitioning.md section
        // 2); until the driver has that interface the model asks always.
        let (gpup, gpup_query) =
            match self.query_adapter_info::<DXGK_GPUPCAPS>(DXGKQAITYPE_GPUPCAPS, &[]) {
                Ok(caps) => (caps.Caps, STATUS_SUCCESS),
                Err(status) => (GpupCaps::empty(), status),
            };
        if gpup.contains(GpupCaps::LiveMigration)
            && !dirty
                .Value
                .contains(DirtyBitTrackingCaps::DirtyBitTrackingSupported)
        {
            eprintln!(
                "dxgkrnl-model: GPUPCAPS.LiveMigration is set without DirtyBitTrackingSupported"
            );
            self.stop()?;
            return Err(STATUS_INVALID_PARAMETER);
        }
        self.caps = StartedCaps {
            dirty_bit_tracking: dirty.Value,
            segment_page_sizes: pages,
            gpup,
            gpup_query,
        };
        Ok((sources, children))
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

    /// `DxgkDdiStopDevice`.
    ///
    /// # Errors
    /// StopDevice's failure status.
    pub fn stop(&mut self) -> Result<()> {
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
