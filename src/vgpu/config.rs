//! A vGPU as a PCI function: its configuration space
//! (`DxgkDdi{Read,Write}VirtualFunctionConfig`, function-level reset), the
//! BARs SR-IOV probes and FlexIOV describes, and its synthetic MSI-X table
//! (`DxgkDdiWriteVirtualizedInterrupt`). The register model is in
//! [`super::pci`].

use super::{MSIX_TABLE_SIZE, Vgpu, pci};
use crate::foundation::status::{Result, Status};

/// One MSI-X table entry (`DXGK_INTERRUPT_TABLE_ENTRY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MsixValue {
    pub(crate) address: u64,
    pub(crate) data: u32,
    pub(crate) vector_control: u32,
}

/// One run of pages of a virtual BAR (`DXGK_MMIORANGEINFO`), all emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MmioRange {
    pub(crate) first_page: u64,
    pub(crate) pages: u32,
}

/// Most pages one MMIO range describes (`PageCount` is a ULONG).
const MAX_RANGE_PAGES: u64 = 1 << 31;
/// The MMIO page size the FlexIOV ranges count in.
const MMIO_PAGE: u64 = 4096;

impl Vgpu {
    /// `DxgkDdiReadVirtualFunctionConfig`: the `len` bytes at `offset`.
    ///
    /// # Errors
    /// `InvalidParameter` for a length of 0 or a span past 4 KiB.
    pub(crate) fn config_bytes(&self, offset: u32, len: usize) -> Result<&[u8]> {
        self.config.bytes(offset, len)
    }

    /// `DxgkDdiWriteVirtualFunctionConfig`, with its side effects (an FLR
    /// write resets the VF as `DxgkDdiResetVirtualFunction` does).
    ///
    /// # Errors
    /// `InvalidParameter` for a length of 0 or a span past 4 KiB.
    pub(crate) fn config_write(&mut self, offset: u32, data: &[u8]) -> Result<()> {
        if self.config.write(offset, data)? == pci::WriteEffect::FunctionLevelReset {
            self.wake_armed = false;
            self.msix = [None; MSIX_TABLE_SIZE];
        }
        Ok(())
    }

    /// The configuration space, whole (what migration saves and checks).
    pub(crate) fn config_space(&self) -> &pci::ConfigSpace {
        &self.config
    }

    /// `DxgkDdiResetVirtualFunction`: function-level reset. The config space
    /// returns to its power-on values, the MSI-X table is cleared and wake is
    /// disarmed; the power state, the bound reserve, the VM-bus handle, the
    /// pause state and any migration in progress are kept.
    pub(crate) fn reset(&mut self) {
        self.config.reset();
        self.wake_armed = false;
        self.msix = [None; MSIX_TABLE_SIZE];
    }

    /// `DxgkDdiQueryProbedBars`.
    pub(crate) fn probed_bars(&self) -> [u32; 6] {
        pci::probed_bars(self.reserve_size)
    }

    /// `DxgkDdiGetVendorAndDevice`.
    pub(crate) fn vendor_and_device(&self) -> (u16, u16) {
        (pci::VENDOR_ID, pci::DEVICE_ID)
    }

    /// `DxgkDdiGetMmioRangeCount`: ranges per virtual BAR.
    pub(crate) fn mmio_range_count(&self) -> [u32; 6] {
        let ranges = |size: u64| {
            let pages = size.div_ceil(MMIO_PAGE);
            u32::try_from(pages.div_ceil(MAX_RANGE_PAGES)).unwrap_or(u32::MAX)
        };
        [ranges(pci::BAR0_SIZE), 0, ranges(self.aperture()), 0, 0, 0]
    }

    /// `DxgkDdiGetMmioRanges`: the ranges of virtual BAR `bar`, every page
    /// emulated.
    ///
    /// # Errors
    /// `InvalidParameter` for a BAR without ranges.
    pub(crate) fn mmio_ranges(&self, bar: u32) -> Result<impl Iterator<Item = MmioRange> + Clone> {
        let size = match bar {
            0 => pci::BAR0_SIZE,
            2 => self.aperture(),
            _ => return Err(Status::InvalidParameter),
        };
        let pages = size.div_ceil(MMIO_PAGE);
        let count = pages.div_ceil(MAX_RANGE_PAGES);
        Ok((0..count).map(move |i| {
            let first = i.saturating_mul(MAX_RANGE_PAGES);
            let left = pages.saturating_sub(first).min(MAX_RANGE_PAGES);
            MmioRange {
                first_page: first,
                pages: u32::try_from(left).unwrap_or(u32::MAX),
            }
        }))
    }

    /// `DxgkDdiWriteVirtualizedInterrupt`: writes one entry of the VF's
    /// MSI-X table (any value: the address is the one Dxgkrnl substituted).
    ///
    /// # Errors
    /// `InvalidParameter` for an index outside the table (negative, or at
    /// least its size).
    pub(crate) fn write_interrupt(&mut self, index: i16, value: MsixValue) -> Result<()> {
        let i = usize::try_from(index).map_err(|_| Status::InvalidParameter)?;
        let entry = self.msix.get_mut(i).ok_or(Status::InvalidParameter)?;
        *entry = Some(value);
        Ok(())
    }

    /// The MSI-X table: `None` for an entry not written since creation or
    /// the last function reset.
    pub(crate) fn msix(&self) -> &[Option<MsixValue>; MSIX_TABLE_SIZE] {
        &self.msix
    }

    /// Applies the writable bits of a restored configuration space (live
    /// migration, after every check passed). The MSI-X table is left as the
    /// target's OS programmed it: its entries are this host's interrupt
    /// routing, not state the source may overwrite.
    pub(crate) fn apply_restored(&mut self, config: &[u8]) {
        self.config.restore(config);
    }
}
