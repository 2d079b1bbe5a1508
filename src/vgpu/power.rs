//! A vGPU's power state (`DxgkDdiSetVirtualFunctionPowerState`) and the
//! pause overlay (`DxgkDdiSetVirtualFunctionPauseState`): whether it runs.

use super::Vgpu;
use crate::foundation::status::{Result, Status};

/// A vGPU's power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Power {
    /// Running.
    D0,
    /// Stopped (also its state after creation).
    D3,
}

/// The D-states `DxgkDdiSetVirtualFunctionPowerState` distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PowerRequest {
    /// Run.
    D0,
    /// D1 or D2: not implemented by this VF.
    Intermediate,
    /// Stop.
    D3,
}

impl Vgpu {
    /// Whether its GPU runs: in D0 and not paused (a paused VF is not
    /// scheduled, so it writes nothing).
    pub(crate) fn running(&self) -> bool {
        self.power == Power::D0 && !self.migration.paused()
    }

    /// `DxgkDdiSetVirtualFunctionPowerState`.
    ///
    /// # Errors
    /// `NotSupported` for D1/D2; `InvalidDeviceState` for D0 without a bound
    /// reserve.
    pub(crate) fn set_power(&mut self, state: PowerRequest, wake: bool) -> Result<()> {
        match state {
            PowerRequest::D0 => {
                if self.reserve.is_none() {
                    return Err(Status::InvalidDeviceState);
                }
                self.power = Power::D0;
            }
            PowerRequest::D3 => self.power = Power::D3,
            PowerRequest::Intermediate => return Err(Status::NotSupported),
        }
        self.wake_armed = wake;
        Ok(())
    }

    /// `DxgkDdiSetVirtualFunctionPauseState`: sets or clears the pause
    /// overlay (idempotent, in any migration phase and power state). A
    /// paused VF is not scheduled: its GPU writes nothing.
    pub(crate) fn set_pause(&mut self, pause: bool) {
        self.migration.set_paused(pause);
    }
}
