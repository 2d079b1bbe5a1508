//! The GPU-P live-migration DDIs (slots 177-185) as Dxgkrnl calls them: one
//! raw call per DDI (for tests) and the calling patterns Dxgkrnl uses (the
//! two-call Save protocol, a Restore with the whole buffer). The binding
//! of a reserve over its memory basis (`DxgkDdiSetVirtualGpuResources2`) and
//! `DXGKQAITYPE_SCATTER_RESERVE`, which vGPU creation needs too, are with the
//! other vGPU DDIs ([`crate::vgpu`]).

use dxgk_sys::abi::Zeroable;
use dxgk_sys::*;
use gpup_miniport::vgpu::escape::{GPUP_VGPU_ESCAPE_MSIX, GPUP_VGPU_ESCAPE_MSIX_TABLE};

use crate::adapter::Adapter;
use crate::records::VgpuInfo;
use crate::status::{Result, check};

/// Which of the two blobs of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationData {
    /// `DxgkDdiSave/RestoreImmutableMigrationData`.
    Immutable,
    /// `DxgkDdiSave/RestoreMutableMigrationData`.
    Mutable,
}

/// `DXGK_GPUP_MIGRATIONTYPE`, as the model names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationType {
    /// This adapter sends the VF.
    Source,
    /// This adapter receives the VF.
    Target,
}

impl MigrationType {
    fn raw(self) -> DXGK_GPUP_MIGRATIONTYPE {
        match self {
            Self::Source => DXGK_GPUP_MIGRATIONTYPE_SOURCE,
            Self::Target => DXGK_GPUP_MIGRATIONTYPE_TARGET,
        }
    }
}

/// The save block (immutable and mutable have the same layout).
#[derive(Clone, Copy)]
#[repr(C)]
struct SaveBlock {
    vf_index: UINT,
    data_size: *mut UINT64,
    data: *mut BYTE,
}

const _: () = assert!(
    core::mem::size_of::<SaveBlock>()
        == core::mem::size_of::<DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA>()
);

impl Adapter {
    /// `DxgkDdiPrepareLiveMigration` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or readable.
    #[must_use]
    pub unsafe fn prepare_live_migration_raw(
        &self,
        args: *const DXGKARG_GPUP_PREPARE_LIVE_MIGRATION,
    ) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiPrepareLiveMigration else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiPrepareLiveMigration`.
    #[must_use]
    pub fn prepare_live_migration(&self, vf: u32, ty: MigrationType) -> NTSTATUS {
        let args = DXGKARG_GPUP_PREPARE_LIVE_MIGRATION {
            vfIndex: vf,
            MigrationType: ty.raw(),
        };
        // SAFETY: `args` is live.
        unsafe { self.prepare_live_migration_raw(&raw const args) }
    }

    /// `DxgkDdiSave{Immutable,Mutable}MigrationData` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a readable block whose `DataSize` is NULL or
    /// readable and writable, and whose `Data` is NULL or writable for
    /// `*DataSize` bytes.
    #[must_use]
    pub unsafe fn save_migration_data_raw(
        &self,
        kind: MigrationData,
        args: *mut DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA,
    ) -> NTSTATUS {
        let t = self.driver().table();
        match kind {
            MigrationData::Immutable => match t.DxgkDdiSaveImmutableMigrationData {
                // SAFETY: a DDI of the loaded driver; the caller owns the block.
                Some(f) => unsafe { f(self.context(), args) },
                None => STATUS_NOT_SUPPORTED,
            },
            MigrationData::Mutable => match t.DxgkDdiSaveMutableMigrationData {
                // SAFETY: as above; the two blocks have the same layout.
                Some(f) => unsafe { f(self.context(), args.cast()) },
                None => STATUS_NOT_SUPPORTED,
            },
        }
    }

    /// One Save call with `*DataSize = size` and `data` as the buffer (NULL
    /// when `None`); returns the status and what `*DataSize` holds after it.
    #[must_use]
    pub fn save_migration_call(
        &self,
        kind: MigrationData,
        vf: u32,
        size: u64,
        data: Option<&mut [u8]>,
    ) -> (NTSTATUS, u64) {
        let mut data_size = size;
        let mut block = SaveBlock {
            vf_index: vf,
            data_size: &raw mut data_size,
            data: data.map_or(core::ptr::null_mut(), <[u8]>::as_mut_ptr),
        };
        // SAFETY: the block is live, its size is live, and the caller's
        // buffer (if any) is borrowed for the call; the caller says how big
        // it is (a test may deliberately say more than it is only with a
        // buffer at least that large: `size` is what the DDI trusts).
        let status = unsafe {
            self.save_migration_data_raw(
                kind,
                (&raw mut block).cast::<DXGKARG_GPUP_SAVE_IMMUTABLE_MIGRATION_DATA>(),
            )
        };
        (status, data_size)
    }

    /// Saves the VF's data as Dxgkrnl does: a sizing call, a buffer of that
    /// size, a filling call. Returns the bytes written.
    ///
    /// # Errors
    /// Either call's failure; `STATUS_UNSUCCESSFUL` if the filling call
    /// reports more bytes than the buffer holds.
    pub fn save_migration_data(&self, kind: MigrationData, vf: u32) -> Result<Vec<u8>> {
        let (status, needed) = self.save_migration_call(kind, vf, 0, None);
        check(status)?;
        let mut buffer = vec![0u8; usize::try_from(needed).map_err(|_| STATUS_UNSUCCESSFUL)?];
        let (status, written) = self.save_migration_call(kind, vf, needed, Some(&mut buffer));
        check(status)?;
        let written = usize::try_from(written).map_err(|_| STATUS_UNSUCCESSFUL)?;
        if written > buffer.len() {
            return Err(STATUS_UNSUCCESSFUL);
        }
        buffer.truncate(written);
        Ok(buffer)
    }

    /// `DxgkDdiRestore{Immutable,Mutable}MigrationData` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or a readable block whose `Data` is NULL or readable
    /// for `DataSize` bytes.
    #[must_use]
    pub unsafe fn restore_migration_data_raw(
        &self,
        kind: MigrationData,
        args: *const DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA,
    ) -> NTSTATUS {
        let t = self.driver().table();
        match kind {
            MigrationData::Immutable => match t.DxgkDdiRestoreImmutableMigrationData {
                // SAFETY: a DDI of the loaded driver; the caller owns the block.
                Some(f) => unsafe { f(self.context(), args) },
                None => STATUS_NOT_SUPPORTED,
            },
            MigrationData::Mutable => match t.DxgkDdiRestoreMutableMigrationData {
                // SAFETY: as above; the two blocks have the same layout.
                Some(f) => unsafe { f(self.context(), args.cast()) },
                None => STATUS_NOT_SUPPORTED,
            },
        }
    }

    /// Restores `data` (the whole buffer, once) into VF `vf`.
    #[must_use]
    pub fn restore_migration_data(&self, kind: MigrationData, vf: u32, data: &[u8]) -> NTSTATUS {
        let args = DXGKARG_GPUP_RESTORE_IMMUTABLE_MIGRATION_DATA {
            vfIndex: vf,
            DataSize: data.len() as UINT64,
            Data: data.as_ptr().cast_mut(),
        };
        // SAFETY: `args` is live and names `data`, borrowed for the call.
        unsafe { self.restore_migration_data_raw(kind, &raw const args) }
    }

    /// `DxgkDdiEndLiveMigration`.
    #[must_use]
    pub fn end_live_migration(&self, vf: u32) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiEndLiveMigration else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the index is passed by value.
        unsafe { f(self.context(), vf) }
    }

    /// `DxgkDdiWriteVirtualizedInterrupt` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or readable.
    #[must_use]
    pub unsafe fn write_virtualized_interrupt_raw(
        &self,
        args: *const DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX,
    ) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiWriteVirtualizedInterrupt else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiWriteVirtualizedInterrupt`: entry `index` of VF `vf`'s MSI-X table.
    #[must_use]
    pub fn write_virtualized_interrupt(
        &self,
        vf: u32,
        index: i16,
        entry: DXGK_INTERRUPT_TABLE_ENTRY,
    ) -> NTSTATUS {
        let args = DXGKARG_GPUP_WRITE_VIRTUALIZED_MSIX {
            vfIndex: vf,
            InterruptTableIndex: index,
            WriteValue: entry,
        };
        // SAFETY: `args` is live.
        unsafe { self.write_virtualized_interrupt_raw(&raw const args) }
    }

    /// `DxgkDdiSetVirtualFunctionPauseState` with a raw block.
    ///
    /// # Safety
    /// `args` is NULL or readable.
    #[must_use]
    pub unsafe fn set_vf_pause_raw(
        &self,
        args: *const DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE,
    ) -> NTSTATUS {
        let Some(f) = self.driver().table().DxgkDdiSetVirtualFunctionPauseState else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block.
        unsafe { f(self.context(), args) }
    }

    /// `DxgkDdiSetVirtualFunctionPauseState`.
    #[must_use]
    pub fn set_vf_pause(&self, vf: u32, pause: bool) -> NTSTATUS {
        let args = DXGKARG_SETVIRTUALFUNCTIONPAUSESTATE {
            vfIndex: vf,
            bPause: u8::from(pause),
        };
        // SAFETY: `args` is live.
        unsafe { self.set_vf_pause_raw(&raw const args) }
    }

    /// The VF's MSI-X table (`GPUP_VGPU_ESCAPE_MSIX`).
    ///
    /// # Errors
    /// The driver's status; `STATUS_UNSUCCESSFUL` for a malformed reply.
    pub fn vgpu_msix(&self, vgpu: &VgpuInfo) -> Result<GPUP_VGPU_ESCAPE_MSIX_TABLE> {
        let out = self.vgpu_escape(
            vgpu.partition,
            vgpu.luid,
            GPUP_VGPU_ESCAPE_MSIX,
            &[],
            GPUP_VGPU_ESCAPE_MSIX_TABLE::SIZE,
        )?;
        GPUP_VGPU_ESCAPE_MSIX_TABLE::decode(&out).ok_or(STATUS_UNSUCCESSFUL)
    }

    /// What only the host may see of the VF (`gpup_host_vgpu_state`): the
    /// reserve's segment offset, the VM-bus handle and the MSI-X entries
    /// with their host interrupt addresses. The escape reports none of them.
    ///
    /// # Errors
    /// The driver's status.
    pub fn vgpu_host_state(&self, vf: u32) -> Result<gpup_miniport::host::GPUP_HOST_VGPU_STATE> {
        let mut state = gpup_miniport::host::GPUP_HOST_VGPU_STATE::default();
        // SAFETY: `state` is live and writable.
        let status = unsafe {
            gpup_miniport::host::gpup_host_vgpu_state(self.context(), vf, &raw mut state)
        };
        crate::status::check(status).map(|()| state)
    }

    /// The VF's whole 4 KiB configuration space (`DxgkDdiReadVirtualFunctionConfig`).
    ///
    /// # Errors
    /// The driver's status.
    pub fn vf_config_space(&self, vf: u32) -> Result<Vec<u8>> {
        let mut space = vec![0u8; 4096];
        self.vf_config_read(vf, 0, &mut space)?;
        Ok(space)
    }
}

/// An all-zero `DXGK_INTERRUPT_TABLE_ENTRY` with these fields.
#[must_use]
pub fn msix_entry(address: u64, data: u32, vector_control: u32) -> DXGK_INTERRUPT_TABLE_ENTRY {
    let mut e = DXGK_INTERRUPT_TABLE_ENTRY::zeroed();
    e.MessageAddress = address;
    e.MessageData = data;
    e.VectorControl = vector_control;
    e
}
