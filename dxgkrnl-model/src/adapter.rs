//! One adapter, driven through the DDI table as Dxgkrnl drives it: AddDevice,
//! the configuration its hardware would have, StartDevice with the caps
//! queries and GPU-virtualization initialization ([`crate::gpuvirt`]),
//! StopDevice, RemoveDevice. The DDIs of memory bases, vGPUs and live
//! migration are adapter methods too, in the layers above this one.

use std::sync::atomic::{AtomicU32, Ordering};

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;

use crate::callbacks::DeviceState;
use crate::gpuvirt::{self, GpuVirtualization};
use crate::loader::Driver;
use crate::miniport::Miniport;
use crate::records::{DeviceHandle, PagingProcess};
use crate::start::{DEFAULT_START_CHECKS, ModelTarget, ReportLine, StartChecks, sequence};
use crate::status::{Result, check};

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

/// The driver segment id of the paging aperture the driver always creates
/// (64 MiB, untracked, not part of an [`AdapterConfig`]).
pub const APERTURE_SEGMENT: u32 = 1;
/// The id of the first VRAM segment of an [`AdapterConfig`].
pub const FIRST_VRAM_SEGMENT: u32 = 2;

/// One VRAM segment of an adapter, as its hardware would define it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySegment {
    /// Driver segment id: [`FIRST_VRAM_SEGMENT`] for the first, then one
    /// more for each (segment 1 is the driver's own paging aperture).
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
    /// The adapter's VRAM segments (at most 8), ids 2, 3, ... in order.
    pub segments: Vec<MemorySegment>,
    /// How many memory bases the adapter holds at most.
    pub max_bases: u32,
    /// The partition configuration, or `None` for the driver's built-in one
    /// (partitioning on, counts 1, 2, 4, 8).
    pub partitions: Option<PartitionConfig>,
}

impl AdapterConfig {
    /// One tracked VRAM segment, id 2, of `size` bytes and `page_size`-byte pages.
    #[must_use]
    pub fn single(size: u64, page_size: u32) -> Self {
        Self {
            segments: vec![MemorySegment {
                id: FIRST_VRAM_SEGMENT,
                size,
                page_size,
            }],
            max_bases: 256,
            partitions: None,
        }
    }

    fn to_driver(&self) -> gpup_miniport::host::GPUP_MEMORY_CONFIG {
        // `Default` sets `Size` to this revision's record size.
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
    /// The driver and the context AddDevice returned.
    miniport: Miniport,
    /// Kept alive for as long as the driver may compare against its address.
    _pdo: Box<PhysicalDeviceObject>,
    device: Box<DeviceState>,
    started: bool,
    removed: bool,
    config: Option<AdapterConfig>,
    caps: StartedCaps,
    /// What GPU-virtualization initialization kept at the last start.
    gpup: Option<GpuVirtualization>,
    /// What [`Adapter::start`] checks.
    checks: StartChecks,
    /// The report of the last full start sequence.
    report: Vec<ReportLine>,
    /// The system devices and contexts the last start created (destroyed at stop).
    system: Option<sequence::Learned>,
    /// The paging process the last full start created (spec 2.4).
    paging: Option<PagingProcess>,
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
        let device = DeviceState::register(pdo_ptr, context, driver.table().DxgkDdiDpcRoutine);
        Ok(Self {
            miniport: Miniport::new(driver, context),
            _pdo: pdo,
            device,
            started: false,
            removed: false,
            config: None,
            caps: StartedCaps::default(),
            gpup: None,
            checks: DEFAULT_START_CHECKS,
            report: Vec::new(),
            system: None,
            paging: None,
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
            gpup_miniport::host::gpup_host_set_memory_config(self.context(), &raw const raw)
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
                gpup_miniport::host::gpup_host_set_partition_config(self.context(), &raw const raw)
            })?;
        }
        self.config = Some(config.clone());
        Ok(())
    }

    /// The memory configuration given with [`Self::configure`], or the
    /// driver's built-in one (one 1 GiB VRAM segment, id 2, 4 KiB pages, 256 bases).
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
        self.miniport.driver()
    }

    /// The `MiniportDeviceContext` (`hAdapter`) the driver returned.
    #[must_use]
    pub fn context(&self) -> PVOID {
        self.miniport.context()
    }

    /// The `DXGKRNL_INTERFACE` the model hands to StartDevice.
    #[must_use]
    pub fn kernel_interface(&self) -> DXGKRNL_INTERFACE {
        self.device.kernel_interface()
    }

    /// Chooses what [`Self::start`] checks (default [`DEFAULT_START_CHECKS`]).
    pub fn set_start_checks(&mut self, checks: StartChecks) {
        self.checks = checks;
    }

    /// The report of the last start with [`StartChecks::Full`] or
    /// [`StartChecks::Report`]: one line per rule, in order, up to the first
    /// refusal (`Full`) or all of them (`Report`).
    #[must_use]
    pub fn start_report(&self) -> &[ReportLine] {
        &self.report
    }

    /// What VidSch created at the end of the last full start (spec 2.4,
    /// `crate::start`'s 2.4 phase, the one implementation of it): the two
    /// system devices, a system context per node and the paging context,
    /// with the context info the driver answered. `None` after a legacy or
    /// refused start, and after [`Self::stop`], which destroys them.
    #[must_use]
    pub fn paging_process(&self) -> Option<&PagingProcess> {
        self.paging.as_ref()
    }

    /// `PagingBufferPrivateDataSize` as the last full start learned it
    /// (QUERYSEGMENT4): the private data VidMm allocates per paging buffer.
    /// 0 after a legacy or refused start, or a stop.
    #[must_use]
    pub fn paging_private_data_size(&self) -> u32 {
        self.system
            .as_ref()
            .filter(|l| l.refusal.is_none())
            .map_or(0, |l| l.paging_private_data)
    }

    /// The segments the last full start learned from the driver's own
    /// answers (QUERYSEGMENT4, checked against the PBMM set): (id, bytes);
    /// `None` after a legacy start, a refused start, or a stop.
    pub(crate) fn started_segments(&self) -> Option<Vec<(u32, u64)>> {
        let learned = self
            .system
            .as_ref()
            .filter(|l| l.refusal.is_none() && l.segment_count > 0)?;
        Some(learned.segments().iter().map(|s| (s.id, s.size)).collect())
    }

    /// Starts the adapter as [`Self::set_start_checks`] chose: the legacy
    /// start ([`Self::start_legacy`]) or the start sequence of
    /// `../shared/spec/adapter-start.md` 2.1-2.5 ([`crate::start`]), each rule
    /// printed as it is checked; on the first refusal the system contexts
    /// and devices it created are destroyed, the adapter is stopped again
    /// (as Dxgkrnl does, 2.1) and the start fails with the rule's status.
    /// Then GPU-virtualization initialization, as in the legacy start.
    ///
    /// Returns (video present sources, children).
    ///
    /// # Errors
    /// The first refused rule's status, or GPU-virtualization's.
    pub fn start(&mut self) -> Result<(u32, u32)> {
        let (env, mode) = match self.checks {
            StartChecks::Legacy => return self.start_legacy(),
            StartChecks::Full(env) => (env, sequence::Mode::Enforce),
            StartChecks::FullExcept(env, rule) => (env, sequence::Mode::EnforceExcept(rule)),
            StartChecks::Report(env) => (env, sequence::Mode::Report),
        };
        let mut started = None;
        let mut start_device = || match self.start_device() {
            Ok(answer) => {
                started = Some(answer);
                STATUS_SUCCESS
            }
            Err(status) => status,
        };
        let mut target = ModelTarget::new(&self.miniport, &mut start_device);
        let mut learned = sequence::play(&mut target, env, mode);
        if learned.refusal.is_some() {
            sequence::teardown(&mut target, &mut learned);
        }
        let ModelTarget {
            report, contexts, ..
        } = target;
        self.report = report;
        self.paging = paging_process(&learned, contexts);
        self.started = learned.device_started;
        self.system = Some(learned);
        if let Some((_, status)) = learned.refusal {
            if self.started {
                self.stop()?;
            }
            return Err(NTSTATUS::from_u32(status));
        }
        self.caps = StartedCaps {
            dirty_bit_tracking: DirtyBitTrackingCaps::from_bits_retain(learned.dirty_caps),
            segment_page_sizes: learned
                .segments()
                .iter()
                .map(|s| (s.id, (s.page_size != 0).then_some(s.page_size)))
                .collect(),
            gpup: GpupCaps::empty(),
            gpup_query: None,
        };
        let answer = started.unwrap_or((0, 0));
        self.init_gpu_virtualization()?;
        Ok(answer)
    }

    /// GPU virtualization (gpu-partitioning.md section 2): the partition
    /// interface, then GPUPCAPS (only then: Dxgkrnl asks only adapters
    /// that have the interface) and the other interfaces. It may fail the
    /// start (the adapter is stopped again), or leave the adapter without GPU-P.
    fn init_gpu_virtualization(&mut self) -> Result<()> {
        let caps = &mut self.caps;
        let initialized = gpuvirt::init(&self.miniport, caps.dirty_bit_tracking, |gpup, status| {
            caps.gpup = gpup;
            caps.gpup_query = Some(status);
        });
        match initialized {
            Ok(gpup) => {
                self.gpup = gpup;
                Ok(())
            }
            Err(status) => {
                self.stop()?;
                Err(status)
            }
        }
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
    pub fn start_legacy(&mut self) -> Result<(u32, u32)> {
        let (sources, children) = self.start_device()?;
        self.started = true;
        let caps: DXGK_DRIVERCAPS = self.query_adapter_info(DXGKQAITYPE_DRIVERCAPS, &[])?;
        if Some(caps.WDDMVersion) != wddm_version_for(self.driver().table().Version) {
            eprintln!(
                "dxgkrnl-model: DRIVERCAPS.WDDMVersion {:#x} does not match interface version {:#x}",
                caps.WDDMVersion.0,
                self.driver().table().Version
            );
            self.stop()?;
            return Err(STATUS_REVISION_MISMATCH);
        }
        self.caps = self.tracking_caps()?;
        self.init_gpu_virtualization()?;
        Ok((sources, children))
    }

    /// `DxgkDdiStartDevice` with a fresh LUID and the model's
    /// `DXGKRNL_INTERFACE`: (video present sources, children).
    fn start_device(&self) -> Result<(u32, u32)> {
        let start = self
            .driver()
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
                self.context(),
                &raw mut start_info,
                &raw mut kernel,
                &raw mut sources,
                &raw mut children,
            )
        })?;
        Ok((sources, children))
    }

    /// Adapter initialisation, as Dxgkrnl does it: dirty-bit tracking caps,
    /// then the page size of every segment (GPU-P caps not read yet). A
    /// segment query failing otherwise than `STATUS_NOT_IMPLEMENTED` stops
    /// the adapter again and fails the start.
    fn tracking_caps(&mut self) -> Result<StartedCaps> {
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
        Ok(StartedCaps {
            dirty_bit_tracking: dirty.Value,
            segment_page_sizes: pages,
            gpup: GpupCaps::empty(),
            gpup_query: None,
        })
    }

    /// The interfaces GPU-virtualization initialization kept, if any.
    #[must_use]
    pub fn gpu_virtualization(&self) -> Option<&GpuVirtualization> {
        self.gpup.as_ref()
    }

    /// The interfaces GPU-virtualization initialization kept, or
    /// `STATUS_NOT_SUPPORTED` (for the vGPU DDIs, which need them).
    pub(crate) fn gpup(&self) -> Result<&GpuVirtualization> {
        self.gpu_virtualization().ok_or(STATUS_NOT_SUPPORTED)
    }

    /// `DxgkDdiQueryAdapterInfo` with raw buffers.
    #[must_use]
    pub fn query_adapter_info_raw(
        &self,
        ty: DXGK_QUERYADAPTERINFOTYPE,
        input: &[u8],
        output: &mut [u8],
    ) -> NTSTATUS {
        self.miniport.query_adapter_info_raw(ty, input, output)
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
        self.miniport.query_adapter_info(ty, input)
    }

    /// `DxgkDdiQueryInterface` with a raw argument block.
    ///
    /// # Safety
    /// `q` is NULL or a readable block whose pointers are NULL or valid for
    /// what they name (the GUID, `Size` writable bytes of interface).
    #[must_use]
    pub unsafe fn query_interface_raw(&self, q: *mut QUERY_INTERFACE) -> NTSTATUS {
        // SAFETY: the caller's guarantee is the one the miniport call needs.
        unsafe { self.miniport.query_interface_raw(q) }
    }

    /// `DxgkDdiStopDevice`, after InterfaceDereference of every GPU-P
    /// interface held (as Dxgkrnl tears GPU virtualization down first).
    ///
    /// # Errors
    /// StopDevice's failure status.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(g) = self.gpup.take() {
            // The GPU-P host device goes before the interfaces [inf].
            if let Some(device) = g.state().host_device.take() {
                let _ = self.destroy_device(device);
            }
            g.release();
        }
        // The paging process's contexts and system devices go first [inf].
        self.paging = None;
        if let Some(mut learned) = self.system.take() {
            let mut no_start = || STATUS_INVALID_DEVICE_STATE;
            sequence::teardown(
                &mut ModelTarget::new(&self.miniport, &mut no_start),
                &mut learned,
            );
        }
        let stop = self
            .driver()
            .table()
            .DxgkDdiStopDevice
            .ok_or(STATUS_REVISION_MISMATCH)?;
        // SAFETY: a DDI of the loaded driver.
        check(unsafe { stop(self.context()) })?;
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
            .driver()
            .table()
            .DxgkDdiRemoveDevice
            .ok_or(STATUS_REVISION_MISMATCH)?;
        // SAFETY: a DDI of the loaded driver.
        check(unsafe { remove(self.context()) })
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
        // `device` drops after this, unregistering it from the callbacks.
    }
}

/// Adapters are created from a loaded driver, as the PnP manager asks
/// Dxgkrnl to (the methods live here, with the adapter they create, so the
/// loader stays below the adapter).
impl Driver {
    /// Creates an adapter through `DxgkDdiAddDevice`.
    ///
    /// # Errors
    /// AddDevice's failure status.
    pub fn add_device(&self) -> Result<Adapter> {
        Adapter::add(self.clone())
    }

    /// Creates an adapter, gives it `config` (as its hardware would), and
    /// starts it the way Dxgkrnl does (see [`Adapter::start`]).
    ///
    /// # Errors
    /// The failure status of AddDevice, the configuration, or StartDevice.
    pub fn start_adapter(&self, config: &AdapterConfig) -> Result<Adapter> {
        let mut adapter = self.add_device()?;
        adapter.configure(config)?;
        adapter.start()?;
        Ok(adapter)
    }
}

/// The paging process a start created: its two system devices, then its
/// contexts (the system contexts, the paging context last); `None` unless
/// the start was accepted and created all of them.
fn paging_process(
    learned: &sequence::Learned,
    contexts: Vec<crate::render::Context>,
) -> Option<PagingProcess> {
    if learned.refusal.is_some() || learned.device_count != 2 {
        return None;
    }
    let device = |i: usize| {
        learned
            .devices
            .get(i)
            .and_then(|&h| usize::try_from(h).ok())
            .map(DeviceHandle)
    };
    let devices = [device(0)?, device(1)?];
    let (paging_context, system_contexts) = contexts.split_last()?;
    Some(PagingProcess {
        devices,
        system_contexts: system_contexts.to_vec(),
        paging_context: *paging_context,
    })
}
