//! Adapter state: created in `DxgkDdiAddDevice`, started and stopped by
//! Dxgkrnl, dropped in `DxgkDdiRemoveDevice`. Safe code only: the DDI
//! trampolines (`crate::ddi`) read the OS's arguments and call in here.
//!
//! An adapter is protected by one reader-writer lock, its slot's in the
//! adapter table ([`registry`]): DDIs that change state (lifecycle, creating,
//! destroying, starting or stopping memory bases) hold it for writing, the
//! others (queries, marks, QueryAdapterInfo) for reading.

pub(crate) mod caps;
pub(crate) mod memory;
pub(crate) mod registry;

use crate::basis::Engine;
use crate::ddi::dxgkrnl::KernelInterface;
use crate::status::{Result, Status};
use memory::MemoryConfig;

/// What a started adapter has.
pub(crate) struct Started {
    /// Dxgkrnl's callbacks (kept for later DDIs: ETW logging).
    #[allow(dead_code)]
    pub(crate) kernel: KernelInterface,
    /// The memory-basis engine, built at start from the memory configuration.
    pub(crate) bases: Engine,
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
    lifecycle: Lifecycle,
}

impl Adapter {
    /// A new adapter for the given physical device object, with the built-in
    /// memory configuration.
    pub(crate) fn new(physical_device: usize) -> Self {
        Self {
            physical_device,
            memory: MemoryConfig::builtin(),
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

    /// Moves the adapter to `Started`, building its memory-basis engine.
    ///
    /// # Errors
    /// `InvalidDeviceState` if it is already started; `NoMemory` if the engine
    /// cannot be allocated (the adapter is then unchanged).
    pub(crate) fn start(&mut self, kernel: KernelInterface) -> Result<()> {
        if matches!(self.lifecycle, Lifecycle::Started(_)) {
            return Err(Status::InvalidDeviceState);
        }
        let bases = Engine::new(self.memory.segments(), self.memory.max_bases())?;
        self.lifecycle = Lifecycle::Started(Started { kernel, bases });
        Ok(())
    }

    /// Moves a started adapter to `Stopped`. Memory bases do not survive a
    /// stop: Dxgkrnl destroys them before, and any it did not are gone.
    ///
    /// # Errors
    /// `InvalidDeviceState` if it is not started.
    pub(crate) fn stop(&mut self) -> Result<()> {
        if !matches!(self.lifecycle, Lifecycle::Started(_)) {
            return Err(Status::InvalidDeviceState);
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

    /// The started state, mutably.
    ///
    /// # Errors
    /// `InvalidDeviceState` unless the adapter is started.
    pub(crate) fn started_mut(&mut self) -> Result<&mut Started> {
        match &mut self.lifecycle {
            Lifecycle::Started(started) => Ok(started),
            Lifecycle::Added | Lifecycle::Stopped => Err(Status::InvalidDeviceState),
        }
    }
}
