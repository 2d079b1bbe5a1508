//! Adapter state: created in `DxgkDdiAddDevice`, started and stopped by
//! Dxgkrnl, dropped in `DxgkDdiRemoveDevice`. Safe code only: the DDI
//! trampolines (`crate::ddi`) read the OS's arguments and call in here.

pub(crate) mod caps;
pub(crate) mod registry;

use crate::ddi::dxgkrnl::KernelInterface;
use crate::status::{Result, Status};
use crate::sync::RwLock;

/// What DxgkDdiStartDevice gave the adapter.
pub(crate) struct Started {
    /// Dxgkrnl's callbacks (kept for later DDIs: ETW logging, device info).
    #[allow(dead_code)]
    pub(crate) kernel: KernelInterface,
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
    /// Protects the PnP state. Lock order: taken after the registry slot lock.
    lifecycle: RwLock<Lifecycle>,
}

impl Adapter {
    /// A new adapter for the given physical device object.
    pub(crate) fn new(physical_device: usize) -> Self {
        Self {
            physical_device,
            lifecycle: RwLock::new(Lifecycle::Added),
        }
    }

    /// The physical device object's address.
    pub(crate) fn physical_device(&self) -> usize {
        self.physical_device
    }

    /// Moves the adapter to `Started`.
    ///
    /// # Errors
    /// `InvalidDeviceState` if it is already started.
    pub(crate) fn start(&self, kernel: KernelInterface) -> Result<()> {
        let mut lifecycle = self.lifecycle.write();
        if matches!(*lifecycle, Lifecycle::Started(_)) {
            return Err(Status::InvalidDeviceState);
        }
        *lifecycle = Lifecycle::Started(Started { kernel });
        Ok(())
    }

    /// Moves a started adapter to `Stopped`.
    ///
    /// # Errors
    /// `InvalidDeviceState` if it is not started.
    pub(crate) fn stop(&self) -> Result<()> {
        let mut lifecycle = self.lifecycle.write();
        if !matches!(*lifecycle, Lifecycle::Started(_)) {
            return Err(Status::InvalidDeviceState);
        }
        *lifecycle = Lifecycle::Stopped;
        Ok(())
    }

    /// Runs `f` with the started state.
    ///
    /// # Errors
    /// `InvalidDeviceState` unless the adapter is started; otherwise what `f` returns.
    pub(crate) fn with_started<R>(&self, f: impl FnOnce(&Started) -> Result<R>) -> Result<R> {
        match &*self.lifecycle.read() {
            Lifecycle::Started(started) => f(started),
            Lifecycle::Added | Lifecycle::Stopped => Err(Status::InvalidDeviceState),
        }
    }
}
