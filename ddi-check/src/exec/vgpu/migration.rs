//! The live-migration slots of the DDI table: pause, the virtualized MSI-X
//! table, Prepare and End, and Save and Restore of the immutable and mutable
//! data.

use core::ffi::c_void;

use dxgk_sys::*;

use crate::exec::{GUARD, World};
use crate::model::Blob;
use crate::ops::*;

impl World {
    /// `DxgkDdiSetVirtualFunctionPauseState`.
    pub(super) fn pause(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        pause: u8,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.pause(ok, vf);
        let args = DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE {
            vfIndex: vf,
            bPause: pause,
        };
        let f = self
            .table()
            .DxgkDdiSetVirtualFunctionPauseState
            .ok_or("no pause slot")?;
        // SAFETY: the args block is live; `h` is a value.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.paused(vf, pause != 0);
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// `DxgkDdiWriteVirtualizedInterrupt`.
    pub(super) fn write_interrupt(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        index: i16,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.write_interrupt(ok, vf, index);
        let args = DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX {
            vfIndex: vf,
            InterruptTableIndex: index,
            WriteValue: DXGK_INTERRUPT_TABLE_ENTRY {
                MessageAddress: 0xFEE0_0000 | u64::from(vf) << 12,
                MessageData: 0x40 + u32::from(index.unsigned_abs()),
                VectorControl: 0,
            },
        };
        let f = self
            .table()
            .DxgkDdiWriteVirtualizedInterrupt
            .ok_or("no interrupt slot")?;
        // SAFETY: the args block is live; `h` is a value.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.interrupt_written(vf, index);
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// `DxgkDdiPrepareLiveMigration`.
    pub(super) fn prepare(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        ty: i32,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.prepare(ok, vf, ty);
        let args = DXGKARG_GPUP_PREPARE_LIVE_MIGRATION {
            vfIndex: vf,
            MigrationType: DXGK_GPUP_MIGRATIONTYPE(ty),
        };
        let f = self
            .table()
            .DxgkDdiPrepareLiveMigration
            .ok_or("no Prepare slot")?;
        // SAFETY: the args block is live; `h` is a value.
        let status = unsafe { f(h, &raw const args) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.prepared(vf, ty);
        }
        Ok(status == STATUS_SUCCESS)
    }

    /// `DxgkDdiSave{Immutable,Mutable}MigrationData`, in the shape `call`
    /// names (sizing, filling, or with a NULL pointer).
    pub(super) fn save(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        mutable: bool,
        call: SaveCall,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let needed = self.model.save_needed(vf, mutable);
        let (size_in, buffer, capacity) = match call {
            SaveCall::Size => (0, None, None),
            SaveCall::Fill { extra } => {
                let n = needed
                    .unwrap_or(0)
                    .saturating_add_signed(i64::from(extra))
                    .min(1 << 16);
                (n, Some(n as usize), Some(n))
            }
            SaveCall::NullData => (needed.unwrap_or(64).max(1), None, None),
            SaveCall::NullDataSize | SaveCall::NullArgs => (0, None, None),
        };
        let arg_fault = matches!(
            call,
            SaveCall::NullData | SaveCall::NullDataSize | SaveCall::NullArgs
        );
        let faults = self.model.save(ok, vf, mutable, arg_fault, capacity);
        let pattern = 0x3Cu8 ^ (self.step as u8).wrapping_mul(0x3B);
        let mut buf = vec![pattern; buffer.unwrap_or(0) + GUARD];
        let mut data_size: UINT64 = size_in;
        let data = buffer.is_some().then_some(&mut buf[..]);
        let status = self.call_save(h, vf, mutable, call, &mut data_size, data)?;
        self.expect(op, &faults, status)?;
        let written = buf.iter().rposition(|&b| b != pattern).map(|i| i + 1);
        match status {
            STATUS_SUCCESS | STATUS_BUFFER_TOO_SMALL if Some(data_size) != needed => {
                return Err(self.fail(
                    op,
                    format!(
                        "*DataSize is {data_size} after {status:?}, the model needs {needed:?}"
                    ),
                ));
            }
            STATUS_SUCCESS if buffer.is_some() => {
                let n = data_size as usize;
                if written.is_some_and(|w| w > n) {
                    return Err(self.fail(op, format!("wrote past the {n} bytes it needs")));
                }
                return self.keep_blob(op, vf, mutable, buf[..n].to_vec());
            }
            STATUS_SUCCESS => return Ok(true),
            STATUS_BUFFER_TOO_SMALL => {}
            _ if data_size != size_in => {
                return Err(self.fail(op, format!("failed with {status:?} but set *DataSize")));
            }
            _ => {}
        }
        if let Some(i) = written {
            return Err(self.fail(
                op,
                format!("failed with {status:?} but wrote byte {}", i - 1),
            ));
        }
        Ok(false)
    }

    /// `DxgkDdiRestore{Immutable,Mutable}MigrationData` of a saved blob
    /// (perhaps damaged) or of a deliberately bad argument.
    pub(super) fn restore(
        &mut self,
        op: &Op,
        adapter: AdapterSel,
        vf: u32,
        mutable: bool,
        blob: BlobSel,
    ) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let (mut bytes, size, described, damaged) = self.restore_input(blob);
        let arg_fault = matches!(blob, BlobSel::NullData | BlobSel::NullArgs);
        let faults = self.model.restore(ok, vf, mutable, arg_fault, &described);
        let _ = dxgkrnl_model::take_etw_events();
        let status = self.call_restore(h, vf, mutable, blob, size, &mut bytes)?;
        self.expect(op, &faults, status)?;
        let events = dxgkrnl_model::take_etw_events().len();
        let want = usize::from(status == STATUS_OBJECT_TYPE_MISMATCH);
        if events != want {
            return Err(self.fail(
                op,
                format!("{status:?} logged {events} ETW event(s), not {want}"),
            ));
        }
        if status == STATUS_OBJECT_TYPE_MISMATCH && damaged {
            self.stats.corrupt_rejected += 1;
        }
        if status != STATUS_SUCCESS {
            return Ok(false);
        }
        self.model.restored(vf, &described);
        self.stats.restores += 1;
        if mutable {
            self.stats.migrations += 1;
        }
        Ok(true)
    }

    /// Calls the Save slot of the immutable or `mutable` data, with the
    /// argument block NULL for [`SaveCall::NullArgs`], `DataSize` NULL for
    /// [`SaveCall::NullDataSize`] (else `data_size`), and `Data` NULL unless
    /// `data` is given.
    fn call_save(
        &self,
        h: *mut c_void,
        vf: u32,
        mutable: bool,
        call: SaveCall,
        data_size: &mut UINT64,
        data: Option<&mut [u8]>,
    ) -> Result<NTSTATUS, String> {
        let p_size: *mut UINT64 = if call == SaveCall::NullDataSize {
            core::ptr::null_mut()
        } else {
            data_size
        };
        let p_data: *mut BYTE = data.map_or(core::ptr::null_mut(), <[u8]>::as_mut_ptr);
        let status = if mutable {
            let mut args = DXGKARG_GPUP_SAVE_MUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: p_size,
                Data: p_data,
            };
            let f = self
                .table()
                .DxgkDdiSaveMutableMigrationData
                .ok_or("no SaveMutable slot")?;
            let p: *mut _ = if call == SaveCall::NullArgs {
                core::ptr::null_mut()
            } else {
                &raw mut args
            };
            // SAFETY: `p` is NULL or the live `args`; its `DataSize` is NULL
            // or the live `data_size`; its `Data` is NULL or `data`, which the
            // caller sizes to at least `*data_size` bytes (plus a guard).
            unsafe { f(h, p) }
        } else {
            let mut args = DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: p_size,
                Data: p_data,
            };
            let f = self
                .table()
                .DxgkDdiSaveImmutableMigrationData
                .ok_or("no SaveImmutable slot")?;
            let p: *mut _ = if call == SaveCall::NullArgs {
                core::ptr::null_mut()
            } else {
                &raw mut args
            };
            // SAFETY: the immutable block, built the same way: `p` is NULL or
            // the live `args`, `DataSize` NULL or the live `data_size`, `Data`
            // NULL or `data`, at least `*data_size` bytes long.
            unsafe { f(h, p) }
        };
        Ok(status)
    }

    /// A filled Save's `blob`: it must decode as the kind saved, and an
    /// immutable one must equal any earlier one of the same vGPU under the
    /// same count; then it is kept for later Restores.
    fn keep_blob(
        &mut self,
        op: &Op,
        vf: u32,
        mutable: bool,
        blob: Vec<u8>,
    ) -> Result<bool, String> {
        let kind = if mutable {
            gpup_miniport::migration::BlobKind::Mutable
        } else {
            gpup_miniport::migration::BlobKind::Immutable
        };
        if gpup_miniport::migration::inspect(&blob) != Ok(kind) {
            return Err(self.fail(
                op,
                format!(
                    "saved data that decodes as {:?}",
                    gpup_miniport::migration::inspect(&blob)
                ),
            ));
        }
        // The immutable data cannot change: a repeated Save of the
        // same vGPU under the same count writes the same bytes.
        let same = self.model.gpu().blobs.iter().rposition(|b| {
            !mutable
                && matches!(*b, Blob::Immutable { uid, count, .. }
                    if Some(uid) == self.model.gpu().vgpu(vf).map(|v| v.uid)
                        && count == self.model.gpu().count)
        });
        if let Some(i) = same
            && self.blobs[i] != blob
        {
            return Err(self.fail(op, "saved other immutable data than before".into()));
        }
        self.blobs.push(blob);
        self.model.saved(vf, mutable);
        self.stats.saves += 1;
        Ok(true)
    }

    /// What a Restore passes for `blob`: the bytes (one longer than
    /// `DataSize`, so `Data` is never an empty allocation), `DataSize`, the
    /// model's description of the data, and whether it was damaged.
    fn restore_input(&self, blob: BlobSel) -> (Vec<u8>, u64, Blob, bool) {
        match blob {
            BlobSel::Saved { back, damage } => {
                if self.blobs.is_empty() {
                    (vec![0u8; 64], 64, Blob::Garbage, false)
                } else {
                    let n = self.blobs.len();
                    let i = n - 1 - usize::from(back) % n;
                    let mut b = self.blobs[i].clone();
                    let len = b.len().max(1);
                    match damage {
                        Damage::None => {}
                        Damage::Flip { at, bit } => {
                            if let Some(byte) = b.get_mut(usize::from(at) % len) {
                                *byte ^= 1 << (bit % 8);
                            }
                        }
                        Damage::Truncate { by } => {
                            b.truncate(len.saturating_sub(1 + usize::from(by) % len));
                        }
                        Damage::Append(v) => b.push(v),
                    }
                    let described = if damage == Damage::None {
                        self.model.gpu().blobs[i].clone()
                    } else {
                        Blob::Garbage
                    };
                    let size = b.len() as u64;
                    // Never an empty allocation: `Data` stays non-NULL.
                    b.push(0);
                    (b, size, described, damage != Damage::None)
                }
            }
            BlobSel::Empty => (vec![0u8; 1], 0, Blob::Garbage, false),
            BlobSel::NullData | BlobSel::NullArgs => (vec![0u8; 1], 64, Blob::Garbage, false),
        }
    }

    /// Calls the Restore slot of the immutable or `mutable` data with
    /// `DataSize` `size` and `Data` `bytes` (NULL for [`BlobSel::NullData`]),
    /// the argument block NULL for [`BlobSel::NullArgs`].
    fn call_restore(
        &self,
        h: *mut c_void,
        vf: u32,
        mutable: bool,
        blob: BlobSel,
        size: u64,
        bytes: &mut [u8],
    ) -> Result<NTSTATUS, String> {
        let data: *mut BYTE = if blob == BlobSel::NullData {
            core::ptr::null_mut()
        } else {
            bytes.as_mut_ptr()
        };
        let status = if mutable {
            let args = DXGKARG_GPUP_RESTORE_MUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: size,
                Data: data,
            };
            let f = self
                .table()
                .DxgkDdiRestoreMutableMigrationData
                .ok_or("no RestoreMutable slot")?;
            let p: *const _ = if blob == BlobSel::NullArgs {
                core::ptr::null()
            } else {
                &raw const args
            };
            // SAFETY: `p` is NULL or live; `Data` is NULL or `bytes`, readable
            // for `DataSize` bytes (`bytes` is one longer).
            unsafe { f(h, p) }
        } else {
            let args = DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA {
                vfIndex: vf,
                DataSize: size,
                Data: data,
            };
            let f = self
                .table()
                .DxgkDdiRestoreImmutableMigrationData
                .ok_or("no RestoreImmutable slot")?;
            let p: *const _ = if blob == BlobSel::NullArgs {
                core::ptr::null()
            } else {
                &raw const args
            };
            // SAFETY: the immutable block, built the same way: `p` is NULL or
            // the live `args`; `Data` is NULL or `bytes`, readable for
            // `DataSize` bytes (`bytes` is one longer).
            unsafe { f(h, p) }
        };
        Ok(status)
    }

    /// `DxgkDdiEndLiveMigration`.
    pub(super) fn end(&mut self, op: &Op, adapter: AdapterSel, vf: u32) -> Result<bool, String> {
        let (h, ok) = self.adapter_arg(adapter);
        let faults = self.model.end(ok, vf);
        let f = self.table().DxgkDdiEndLiveMigration.ok_or("no End slot")?;
        // SAFETY: both arguments are values.
        let status = unsafe { f(h, vf) };
        self.expect(op, &faults, status)?;
        if status == STATUS_SUCCESS {
            self.model.ended(vf);
        }
        Ok(status == STATUS_SUCCESS)
    }
}
