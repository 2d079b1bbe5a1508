//! Adapter state: created in `DxgkDdiAddDevice`, started and stopped by
//! Dxgkrnl, dropped in `DxgkDdiRemoveDevice`. Safe code only: the DDI
//! trampolines (`ddi`) read the OS's arguments and call in here.
//!
//! An adapter is protected by its slot's lock in the adapter table
//! ([`registry`], the adapter lock): the lifecycle DDIs hold it for writing,
//! every other DDI at PASSIVE_LEVEL for reading. Below it, the partitioning
//! lock, one lock per VF (`crate::vgpu`), and innermost the basis lock
//! (`Started::bases`), which the memory-basis control DDIs (create, destroy,
//! start and stop tracking; short, bounded) take exclusively; the order and
//! what each guards are in `docs/locking.md`. Marks take none of them
//! (`registry::with_marks`).

pub(crate) mod caps;
pub(crate) mod registry;
pub(crate) mod segments;

use crate::basis::Tracker;
use crate::basis::marks::Marks;
use crate::foundation::status::{Result, Status};
use crate::kernel::KernelInterface;
use crate::kernel::lazy::Shared;
use crate::kernel::sync::{AtomicU32, Ordering, RwLock};
use crate::memory::MemoryConfig;
use crate::memory::backing::Backings;
use crate::render::Render;
use crate::vgpu::Partitioning;
use crate::vgpu::options::PartitionConfig;

/// What a started adapter has.
pub(crate) struct Started {
    /// Dxgkrnl's callbacks (ETW logging of rejected migration data).
    pub(crate) kernel: KernelInterface,
    /// The memory-basis tracker, built at start from the memory
    /// configuration, behind the basis lock (`docs/locking.md`: taken under
    /// the adapter lock held shared, innermost; the control DDIs take it
    /// exclusively, queries and the migration code shared, briefly).
    pub(crate) bases: RwLock<Tracker>,
    /// What marks read (`basis::marks`): the tracker's, reachable with no
    /// lock; the adapter table publishes it (`registry::with_marks`).
    pub(crate) marks: Shared<Marks>,
    /// GPU partitioning, built at start from the partition configuration,
    /// behind the partitioning lock (`crate::vgpu` for who takes it how);
    /// `None` when it is disabled or no segment is tracked.
    pub(crate) partitions: Option<RwLock<Partitioning>>,
    /// The render core's objects (`crate::render`), behind the render lock.
    pub(crate) render: RwLock<Render>,
    /// The bytes of each VRAM segment (`crate::memory::backing`), chunks
    /// committed on first write; freed at StopDevice (on the host, once no
    /// `crate::host::VramRef` holds one either). The software engine is its
    /// first reader on Windows.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) vram: Backings,
}

impl Started {
    /// The partitioning state.
    ///
    /// # Errors
    /// `NotSupported` when the adapter does not offer GPU partitioning.
    pub(crate) fn partitions(&self) -> Result<&RwLock<Partitioning>> {
        self.partitions.as_ref().ok_or(Status::NotSupported)
    }
}

/// The interfaces `DxgkDdiQueryInterface` hands out, for reference counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InterfaceKind {
    /// `DXGKDDI_GPU_PARTITION_INTERFACE`.
    Partition,
    /// `DXGKDDI_SRIOV_INTERFACE`.
    Sriov,
    /// `DXGKDDI_FLEXIOV_DEVICE_INTERFACE`.
    FlexIov,
}

/// Reference counts of the interfaces handed out (one per successful query,
/// minus InterfaceDereference calls). They belong to the adapter, not to one
/// start: Dxgkrnl dereferences before it stops the adapter.
pub(crate) struct InterfaceRefs {
    counts: [AtomicU32; 3],
    underflows: AtomicU32,
}

impl InterfaceRefs {
    fn new() -> Self {
        Self {
            counts: [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)],
            underflows: AtomicU32::new(0),
        }
    }

    fn count(&self, kind: InterfaceKind) -> Option<&AtomicU32> {
        let index = match kind {
            InterfaceKind::Partition => 0,
            InterfaceKind::Sriov => 1,
            InterfaceKind::FlexIov => 2,
        };
        self.counts.get(index)
    }

    /// InterfaceReference (and the reference a successful query takes).
    pub(crate) fn reference(&self, kind: InterfaceKind) {
        if let Some(c) = self.count(kind) {
            // Saturates: 2^32 references are not a real situation, and a
            // wrapped count would later under-report.
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
        }
    }

    /// InterfaceDereference: a call below zero is ignored and counted.
    pub(crate) fn dereference(&self, kind: InterfaceKind) {
        let Some(c) = self.count(kind) else { return };
        if c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
        {
            self.underflows.fetch_add(1, Ordering::Relaxed);
            crate::trace!(
                "InterfaceDereference({:?}) with no reference held: ignored",
                kind
            );
        }
    }

    /// The counts (partition, SR-IOV, FlexIOV) and the ignored dereferences.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn snapshot(&self) -> ([u32; 3], u32) {
        let get = |i: usize| self.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
        (
            [get(0), get(1), get(2)],
            self.underflows.load(Ordering::Relaxed),
        )
    }
}

/// Where an adapter is in its PnP life.
// One per adapter, kept inline: boxing `Started` would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lifecycle {
    /// After AddDevice, before the first StartDevice.
    Added,
    /// Between StartDevice and StopDevice.
    Started(Started),
    /// After StopDevice; StartDevice may come again.
    Stopped,
}

/// One display adapter (the `MiniportDeviceContext`).
pub(crate) struct Adapter {
    /// The physical device object Dxgkrnl named in AddDevice, as an address:
    /// kept to check `DxgkCbGetDeviceInformation`'s answer, never dereferenced.
    physical_device: usize,
    /// Segments and page sizes; fixed from the first StartDevice on.
    memory: MemoryConfig,
    /// Partition counts offered; fixed from the first StartDevice on.
    partition: PartitionConfig,
    /// References of the interfaces handed out.
    refs: InterfaceRefs,
    lifecycle: Lifecycle,
}

impl Adapter {
    /// A new adapter for the given physical device object, with the built-in
    /// memory configuration.
    pub(crate) fn new(physical_device: usize) -> Self {
        Self {
            physical_device,
            memory: MemoryConfig::builtin(),
            partition: PartitionConfig::builtin(),
            refs: InterfaceRefs::new(),
            lifecycle: Lifecycle::Added,
        }
    }

    /// The physical device object's address.
    pub(crate) fn physical_device(&self) -> usize {
        self.physical_device
    }

    /// Replaces the memory configuration.
    ///
    /// # Errors
    /// `InvalidDeviceState` once the adapter has been started.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn set_memory(&mut self, memory: MemoryConfig) -> Result<()> {
        if !matches!(self.lifecycle, Lifecycle::Added) {
            return Err(Status::InvalidDeviceState);
        }
        self.memory = memory;
        Ok(())
    }

    /// Replaces the partition configuration.
    ///
    /// # Errors
    /// `InvalidDeviceState` once the adapter has been started.
    #[cfg_attr(target_os = "windows", allow(dead_code))]
    pub(crate) fn set_partition(&mut self, partition: PartitionConfig) -> Result<()> {
        if !matches!(self.lifecycle, Lifecycle::Added) {
            return Err(Status::InvalidDeviceState);
        }
        self.partition = partition;
        Ok(())
    }

    /// The interface reference counts.
    pub(crate) fn refs(&self) -> &InterfaceRefs {
        &self.refs
    }

    /// Moves the adapter (in registry slot `slot`) to `Started`, building its
    /// memory-basis tracker, its VRAM backings (their chunk tables only) and its
    /// (empty) render objects.
    ///
    /// # Errors
    /// `InvalidDeviceState` if it is already started; `NoMemory` if the tracker,
    /// a backing's chunk table or the render tables cannot be allocated (the adapter is then unchanged).
    pub(crate) fn start(&mut self, kernel: KernelInterface, slot: usize) -> Result<()> {
        if matches!(self.lifecycle, Lifecycle::Started(_)) {
            return Err(Status::InvalidDeviceState);
        }
        let bases = Tracker::new(self.memory.segments(), self.memory.max_bases())?;
        let marks = bases.marks().try_clone().ok_or(Status::NoMemory)?;
        let bases = RwLock::try_new(bases)?;
        let partitions = match Partitioning::new(&self.partition, self.memory.segments())? {
            Some(p) => Some(RwLock::try_new(p)?),
            None => None,
        };
        // Ordinary VRAM allocations go in the first VRAM segment (the
        // segment list starts with the paging aperture).
        let render_vram = *self
            .memory
            .segments()
            .iter()
            .find(|s| !crate::memory::is_aperture(s.id))
            .ok_or(Status::InvalidParameter)?;
        let render = RwLock::try_new(Render::new(slot, render_vram)?)?;
        let vram = Backings::new(self.memory.segments())?;
        self.lifecycle = Lifecycle::Started(Started {
            kernel,
            bases,
            marks,
            partitions,
            render,
            vram,
        });
        Ok(())
    }

    /// Moves a started adapter to `Stopped`. Memory bases do not survive a
    /// stop: Dxgkrnl destroys them before, and any it did not are gone.
    /// vGPUs still alive are destroyed first, as DestroyVirtualGpu would,
    /// before the VRAM they use is released.
    ///
    /// # Errors
    /// `InvalidDeviceState` if it is not started.
    pub(crate) fn stop(&mut self) -> Result<()> {
        let Lifecycle::Started(started) = &mut self.lifecycle else {
            return Err(Status::InvalidDeviceState);
        };
        if let Some(partitions) = &mut started.partitions {
            partitions.get_mut().destroy_all();
        }
        let ([partition, sriov, flexiov], _) = self.refs.snapshot();
        if partition != 0 || sriov != 0 || flexiov != 0 {
            // Each count by itself: `{:?}` of the array would link
            // core::fmt's pretty-printing adapter, which recurses through
            // `dyn Write` (the image's stack check refuses any recursion).
            crate::trace!(
                "StopDevice with interface references still held: [{}, {}, {}]",
                partition,
                sriov,
                flexiov
            );
        }
        self.lifecycle = Lifecycle::Stopped;
        Ok(())
    }

    /// The started state.
    ///
    /// # Errors
    /// `InvalidDeviceState` unless the adapter is started.
    pub(crate) fn started(&self) -> Result<&Started> {
        match &self.lifecycle {
            Lifecycle::Started(started) => Ok(started),
            Lifecycle::Added | Lifecycle::Stopped => Err(Status::InvalidDeviceState),
        }
    }
}
