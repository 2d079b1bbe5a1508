//! One adapter's seam into the loaded driver: the [`Driver`] and the
//! `MiniportDeviceContext` (`hAdapter`) its AddDevice returned, the pair
//! every adapter-level DDI is called with, and the two queries the adapter
//! start and GPU-virtualization initialization both need (QueryAdapterInfo,
//! QueryInterface).

use dxgk_sys::abi::{Record, Zeroable};
use dxgk_sys::*;

use crate::loader::Driver;
use crate::status::{Result, check};

/// A loaded driver and one adapter's context in it.
pub(crate) struct Miniport {
    driver: Driver,
    context: PVOID,
}

impl Miniport {
    /// The adapter `context` (from AddDevice) of `driver`.
    pub(crate) fn new(driver: Driver, context: PVOID) -> Self {
        Self { driver, context }
    }

    /// The driver that created the adapter.
    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The `MiniportDeviceContext` (`hAdapter`) the driver returned.
    pub(crate) fn context(&self) -> PVOID {
        self.context
    }

    /// `DxgkDdiQueryAdapterInfo` with raw buffers.
    pub(crate) fn query_adapter_info_raw(
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
    pub(crate) fn query_adapter_info<T: Record>(
        &self,
        ty: DXGK_QUERYADAPTERINFOTYPE,
        input: &[u8],
    ) -> Result<T> {
        let mut out = vec![0u8; core::mem::size_of::<T>()];
        check(self.query_adapter_info_raw(ty, input, &mut out))?;
        // SAFETY: `out` holds `size_of::<T>()` bytes and `T: Record` is plain data.
        Ok(unsafe { out.as_ptr().cast::<T>().read_unaligned() })
    }

    /// `DxgkDdiQueryInterface` with a raw argument block.
    ///
    /// # Safety
    /// `q` is NULL or a readable block whose pointers are NULL or valid for
    /// what they name (the GUID, `Size` writable bytes of interface).
    pub(crate) unsafe fn query_interface_raw(&self, q: *mut QUERY_INTERFACE) -> NTSTATUS {
        let Some(qi) = self.driver.table().DxgkDdiQueryInterface else {
            return STATUS_NOT_SUPPORTED;
        };
        // SAFETY: a DDI of the loaded driver; the caller owns the block and
        // vouches for it (this function's contract).
        unsafe { qi(self.context, q) }
    }
}
