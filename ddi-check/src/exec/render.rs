//! The render-object operations: devices and contexts through the model's
//! wrappers (`dxgkrnl_model::render`), each answer compared with
//! [`crate::model::render`].

use dxgk_sys::*;
use dxgkrnl_model::render::{ContextHandle, DeviceHandle};

use super::World;
use crate::model::render::issued;
use crate::ops::{ObjSel, Op, RenderOp};

/// The handle value `sel` names among `issued` handles.
fn value(sel: ObjSel, handles: &[usize]) -> usize {
    match sel {
        ObjSel::Issued(_) => issued(sel, handles.len()).map_or(0, |i| handles[i]),
        ObjSel::Null => 0,
        ObjSel::Forged(v) => v as usize,
    }
}

/// Which issued handle `raw` is, if any (a forged value may equal one).
fn index_of(raw: usize, handles: &[usize]) -> Option<usize> {
    handles.iter().rposition(|&h| h == raw && raw != 0)
}

fn status<T>(r: &Result<T, NTSTATUS>) -> NTSTATUS {
    match r {
        Ok(_) => STATUS_SUCCESS,
        Err(s) => *s,
    }
}

impl World {
    /// Runs one render operation; returns whether it succeeded.
    pub(super) fn render(&mut self, op: &Op, r: &RenderOp) -> Result<bool, String> {
        let ok = match *r {
            RenderOp::CreateDevice { system } => {
                let faults = self.model.render.create_device(self.model.started());
                let flags = if system {
                    CreateDeviceFlags::SystemDevice
                } else {
                    CreateDeviceFlags::empty()
                };
                let made = self.adapter.create_device(flags, None);
                self.expect(op, &faults, status(&made))?;
                if let Ok(d) = made {
                    self.devices.push(d.0);
                    self.model.render.device_created();
                }
                made.is_ok()
            }
            RenderOp::DestroyDevice { device } => {
                let raw = value(device, &self.devices);
                let index = index_of(raw, &self.devices);
                let faults = self.model.render.destroy_device(index);
                let s = status(&self.adapter.destroy_device(DeviceHandle(raw)));
                self.expect(op, &faults, s)?;
                if let (STATUS_SUCCESS, Some(i)) = (s, index) {
                    self.model.render.device_destroyed(i);
                }
                s == STATUS_SUCCESS
            }
            RenderOp::CreateContext { device, node } => {
                let raw = value(device, &self.devices);
                let index = index_of(raw, &self.devices);
                let faults = self.model.render.create_context(index, node);
                let made = self.adapter.create_context(
                    DeviceHandle(raw),
                    u32::from(node),
                    CreateContextFlags::empty(),
                );
                self.expect(op, &faults, status(&made))?;
                if let (Ok(c), Some(i)) = (&made, index) {
                    self.contexts.push(c.handle.0);
                    self.model.render.context_created(i);
                }
                made.is_ok()
            }
            RenderOp::DestroyContext { context } => {
                let raw = value(context, &self.contexts);
                let index = index_of(raw, &self.contexts);
                let faults = self.model.render.destroy_context(index);
                let s = status(&self.adapter.destroy_context(ContextHandle(raw)));
                self.expect(op, &faults, s)?;
                if let (STATUS_SUCCESS, Some(i)) = (s, index) {
                    self.model.render.context_destroyed(i);
                }
                s == STATUS_SUCCESS
            }
        };
        Ok(ok)
    }
}
