//! The contract of the render-object DDIs (`docs/contract.md`, "Render
//! objects"): devices and contexts of the adapter under test, their bounds,
//! the refusal of destroyed and forged handles, and that a device takes its
//! contexts with it and a stop takes everything.

use dxgk_sys::*;

use super::Faults;
use crate::ops::ObjSel;

/// Devices (and contexts) an adapter holds at once.
pub const PER_ADAPTER: usize = 64;
/// The adapter's nodes.
pub const NODES: u8 = 1;

/// What the model knows of the render objects: every handle issued, by
/// kind, in order, and whether it is still alive.
#[derive(Debug, Clone, Default)]
pub struct Render {
    /// Issued devices: alive?
    devices: Vec<bool>,
    /// Issued contexts: (alive?, index of its device).
    contexts: Vec<(bool, usize)>,
}

/// Resolves an [`ObjSel::Issued`] to an index of `n` issued handles.
#[must_use]
pub fn issued(sel: ObjSel, n: usize) -> Option<usize> {
    match sel {
        ObjSel::Issued(k) if n > 0 => Some(n - 1 - usize::from(k) % n),
        _ => None,
    }
}

impl Render {
    /// How many devices were issued.
    #[must_use]
    pub fn devices_issued(&self) -> usize {
        self.devices.len()
    }

    /// How many contexts were issued.
    #[must_use]
    pub fn contexts_issued(&self) -> usize {
        self.contexts.len()
    }

    fn live_device(&self, device: Option<usize>) -> bool {
        device.is_some_and(|i| self.devices[i])
    }

    /// `DxgkDdiCreateDevice` on the adapter (`started` or not).
    #[must_use]
    pub fn create_device(&self, started: bool) -> Faults {
        let mut f = Faults::default();
        if !started {
            f.add(STATUS_INVALID_PARAMETER);
        } else if self.devices.iter().filter(|a| **a).count() >= PER_ADAPTER {
            f.add(STATUS_NO_MEMORY);
        }
        f
    }

    /// Records a created device.
    pub fn device_created(&mut self) {
        self.devices.push(true);
    }

    /// `DxgkDdiDestroyDevice` of issued device `device` (`None`: NULL or forged).
    #[must_use]
    pub fn destroy_device(&self, device: Option<usize>) -> Faults {
        let mut f = Faults::default();
        if !self.live_device(device) {
            f.add(STATUS_INVALID_HANDLE);
        }
        f
    }

    /// Records a destroyed device: its contexts go with it.
    pub fn device_destroyed(&mut self, device: usize) {
        self.devices[device] = false;
        for c in &mut self.contexts {
            if c.1 == device {
                c.0 = false;
            }
        }
    }

    /// `DxgkDdiCreateContext` on issued device `device`, node `node`.
    #[must_use]
    pub fn create_context(&self, device: Option<usize>, node: u8) -> Faults {
        let mut f = Faults::default();
        if !self.live_device(device) || node >= NODES {
            f.add(STATUS_INVALID_PARAMETER);
        } else if self.contexts.iter().filter(|c| c.0).count() >= PER_ADAPTER {
            f.add(STATUS_NO_MEMORY);
        }
        f
    }

    /// Records a created context of device `device`.
    pub fn context_created(&mut self, device: usize) {
        self.contexts.push((true, device));
    }

    /// `DxgkDdiDestroyContext` of issued context `context`.
    #[must_use]
    pub fn destroy_context(&self, context: Option<usize>) -> Faults {
        let mut f = Faults::default();
        if !context.is_some_and(|i| self.contexts[i].0) {
            f.add(STATUS_INVALID_HANDLE);
        }
        f
    }

    /// Records a destroyed context.
    pub fn context_destroyed(&mut self, context: usize) {
        self.contexts[context].0 = false;
    }

    /// The adapter stopped: every device and context is gone.
    pub fn stopped(&mut self) {
        self.devices.iter_mut().for_each(|d| *d = false);
        self.contexts.iter_mut().for_each(|c| c.0 = false);
    }
}
