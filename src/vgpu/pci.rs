//! The synthetic PCI function each vGPU is to Hyper-V's virtual PCI stack: a
//! 4 KiB configuration space with real register semantics, and the BARs the
//! FlexIOV interface describes (every page emulated).
//!
//! # Layout
//! | offset | register | behaviour |
//! |---|---|---|
//! | 0x00 / 0x02 | vendor / device id | read-only ([`VENDOR_ID`], [`DEVICE_ID`]) |
//! | 0x04 | command | bits 1 (memory space), 2 (bus master), 10 (INTx disable) writable |
//! | 0x06 | status | read-only: capabilities list |
//! | 0x08 | revision, class | read-only: 3D controller (class 03, subclass 02) |
//! | 0x0C | cache line size | writable |
//! | 0x10 | BAR0 | 32-bit memory, [`BAR0_SIZE`] (registers, MSI-X table) |
//! | 0x18 / 0x1C | BAR2 / BAR3 | one 64-bit prefetchable memory BAR: the VRAM aperture, the reserve size rounded up to a power of two |
//! | 0x2C | subsystem ids | read-only, = vendor / device |
//! | 0x34 | capabilities pointer | 0x40 |
//! | 0x3C | interrupt line | writable; interrupt pin 0 (MSI-X only) |
//! | 0x40 | MSI-X capability | 4 vectors, table and PBA in BAR0; enable and function-mask bits writable |
//! | 0x50 | PCI Express capability (v2, endpoint) | FLR capable; device control writable, bit 15 "initiate FLR" resets the function and reads 0 |
//! | 0x100.. | extended space | no extended capabilities (reads 0) |
//!
//! BAR sizing works as on hardware: the address bits below the BAR's size
//! are not writable, so writing all ones and reading back gives the size.

use alloc::vec::Vec;

use crate::foundation::status::{Result, Status};

/// Bytes of a VF's configuration space.
pub(crate) const CONFIG_SPACE_SIZE: usize = 4096;

/// The VF's PCI vendor id. This software adapter has no PCI-SIG vendor id of
/// its own; 0xFFFE is a documented placeholder (not 0xFFFF, which PCI
/// reserves for "no function"), to be replaced by a product's own id.
pub(crate) const VENDOR_ID: u16 = 0xFFFE;
/// The VF's PCI device id (placeholder, see [`VENDOR_ID`]).
pub(crate) const DEVICE_ID: u16 = 0x6770;
/// Revision id.
pub(crate) const REVISION_ID: u8 = 0x01;

/// BAR0: the VF's register file and MSI-X structures (1 MiB).
pub(crate) const BAR0_SIZE: u64 = 1 << 20;
/// The smallest VRAM aperture (BAR2).
const MIN_APERTURE: u64 = 1 << 12;
/// MSI-X vectors.
pub(crate) const MSIX_VECTORS: u16 = 4;
/// MSI-X table offset in BAR0.
const MSIX_TABLE_OFFSET: u32 = 0x1_0000;
/// MSI-X pending-bit array offset in BAR0.
const MSIX_PBA_OFFSET: u32 = 0x1_8000;

const COMMAND: usize = 0x04;
const BAR0: usize = 0x10;
const BAR2: usize = 0x18;
const BAR3: usize = 0x1C;
const CAPABILITIES_POINTER: usize = 0x34;
/// The MSI-X capability: id and next pointer, message control, table, PBA.
const MSIX_CAP: u8 = 0x40;
const MSIX_CONTROL: usize = 0x42;
const MSIX_TABLE: usize = 0x44;
const MSIX_PBA: usize = 0x48;
/// The PCI Express capability: id and next pointer, capabilities, device
/// capabilities, device control.
const PCIE_CAP: u8 = 0x50;
const PCIE_DEVICE_CAPS: usize = 0x54;
const DEVICE_CONTROL: usize = 0x58;
/// Bit 15 of device control: initiate function-level reset.
const INITIATE_FLR: u8 = 0x80;

/// The PCI address bits a memory BAR of `size` bytes implements: `!(size - 1)`.
/// `size` is a power of two of at least 16 bytes.
fn bar_address_mask(size: u64) -> u64 {
    !size.saturating_sub(1)
}

/// The VRAM aperture for a reserve of `reserve` bytes: the next power of two,
/// at least 4 KiB (at most 2^63).
pub(crate) fn aperture_size(reserve: u64) -> u64 {
    reserve
        .max(MIN_APERTURE)
        .checked_next_power_of_two()
        .unwrap_or(1 << 63)
}

/// The six values PCI BAR sizing reads back after writing all ones to each
/// BAR of the VF of a `reserve`-byte reserve: (size mask | type bits), a
/// 64-bit BAR taking two registers.
pub(crate) fn probed_bars(reserve: u64) -> [u32; 6] {
    let mask2 = bar_address_mask(aperture_size(reserve));
    [
        low32(bar_address_mask(BAR0_SIZE)),
        0,
        // 64-bit (type 0b10 in bits 1-2) and prefetchable (bit 3).
        low32(mask2) & 0xFFFF_FFF0 | 0x0C,
        high32(mask2),
        0,
        0,
    ]
}

fn low32(v: u64) -> u32 {
    u32::try_from(v & 0xFFFF_FFFF).unwrap_or(0)
}

fn high32(v: u64) -> u32 {
    u32::try_from(v >> 32).unwrap_or(0)
}

/// A VF's configuration space.
///
/// # Invariants
/// `bytes`, `defaults` and `masks` are each `CONFIG_SPACE_SIZE` long, fixed at
/// construction; `masks` has exactly the writable bits set.
pub(crate) struct ConfigSpace {
    bytes: Vec<u8>,
    defaults: Vec<u8>,
    masks: Vec<u8>,
}

/// What a configuration write did besides storing bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteEffect {
    /// Nothing else.
    None,
    /// The write initiated a function-level reset (the space is back at its
    /// power-on values; the caller resets the rest of the VF).
    FunctionLevelReset,
}

fn put(buf: &mut [u8], offset: usize, value: &[u8]) {
    if let Some(dst) = offset
        .checked_add(value.len())
        .and_then(|end| buf.get_mut(offset..end))
    {
        dst.copy_from_slice(value);
    }
}

/// `len` zero bytes; `resize` only fills the capacity reserved exactly.
fn try_zeroed(len: usize) -> Result<Vec<u8>> {
    let mut v = crate::foundation::fallible::try_vec(len)?;
    v.resize(len, 0);
    Ok(v)
}

impl ConfigSpace {
    /// The power-on configuration space of the VF of a `reserve`-byte reserve.
    ///
    /// # Errors
    /// `NoMemory` if the space cannot be allocated (nothing is kept then).
    pub(crate) fn new(reserve: u64) -> Result<Self> {
        let mut d = try_zeroed(CONFIG_SPACE_SIZE)?;
        let mut m = try_zeroed(CONFIG_SPACE_SIZE)?;
        let bytes = try_zeroed(CONFIG_SPACE_SIZE)?;

        put(&mut d, 0x00, &VENDOR_ID.to_le_bytes());
        put(&mut d, 0x02, &DEVICE_ID.to_le_bytes());
        put(&mut m, COMMAND, &0x0406u16.to_le_bytes());
        // Status: capabilities list.
        put(&mut d, 0x06, &0x0010u16.to_le_bytes());
        put(&mut d, 0x08, &[REVISION_ID, 0x00, 0x02, 0x03]);
        put(&mut m, 0x0C, &[0xFF]);
        // BAR0: 32-bit non-prefetchable memory; address bits above its size writable.
        put(
            &mut m,
            BAR0,
            &(low32(bar_address_mask(BAR0_SIZE)) & 0xFFFF_FFF0).to_le_bytes(),
        );
        // BAR2/3: 64-bit prefetchable memory.
        let mask2 = bar_address_mask(aperture_size(reserve));
        put(&mut d, BAR2, &0x0000_000Cu32.to_le_bytes());
        put(&mut m, BAR2, &(low32(mask2) & 0xFFFF_FFF0).to_le_bytes());
        put(&mut m, BAR3, &high32(mask2).to_le_bytes());
        put(&mut d, 0x2C, &VENDOR_ID.to_le_bytes());
        put(&mut d, 0x2E, &DEVICE_ID.to_le_bytes());
        put(&mut d, CAPABILITIES_POINTER, &[MSIX_CAP]);
        put(&mut m, 0x3C, &[0xFF]);
        // MSI-X: id 0x11, next = PCIe cap, table size N-1; enable (15) and mask (14) writable.
        put(&mut d, usize::from(MSIX_CAP), &[0x11, PCIE_CAP]);
        put(
            &mut d,
            MSIX_CONTROL,
            &MSIX_VECTORS.saturating_sub(1).to_le_bytes(),
        );
        put(&mut m, MSIX_CONTROL, &0xC000u16.to_le_bytes());
        put(&mut d, MSIX_TABLE, &MSIX_TABLE_OFFSET.to_le_bytes());
        put(&mut d, MSIX_PBA, &MSIX_PBA_OFFSET.to_le_bytes());
        // PCI Express v2, endpoint; device capabilities: FLR capable (bit 28).
        put(&mut d, usize::from(PCIE_CAP), &[0x10, 0x00, 0x02, 0x00]);
        put(&mut d, PCIE_DEVICE_CAPS, &(1u32 << 28).to_le_bytes());
        // Device control: bits 0-14 writable; bit 15 (initiate FLR) is a command.
        put(&mut m, DEVICE_CONTROL, &0x7FFFu16.to_le_bytes());

        let mut space = Self {
            bytes,
            defaults: d,
            masks: m,
        };
        space.reset();
        Ok(space)
    }

    /// Back to the power-on values (a function-level reset).
    pub(crate) fn reset(&mut self) {
        // Both are CONFIG_SPACE_SIZE from construction on; copied pairwise,
        // which has no length check to fail (`copy_from_slice` would keep
        // a panic path in the image).
        for (byte, default) in self.bytes.iter_mut().zip(&self.defaults) {
            *byte = *default;
        }
    }

    /// Checks an access of `len` bytes at `offset`.
    fn span(offset: u32, len: usize) -> Result<core::ops::Range<usize>> {
        let start = usize::try_from(offset).map_err(|_| Status::InvalidParameter)?;
        let end = start.checked_add(len).ok_or(Status::InvalidParameter)?;
        if len == 0 || end > CONFIG_SPACE_SIZE {
            return Err(Status::InvalidParameter);
        }
        Ok(start..end)
    }

    /// Validates an access without performing it.
    ///
    /// # Errors
    /// `InvalidParameter` for a length of 0 or a span past 4 KiB.
    pub(crate) fn check(offset: u32, len: usize) -> Result<()> {
        Self::span(offset, len).map(drop)
    }

    /// The `len` bytes at `offset`. Reads have no side effects.
    ///
    /// # Errors
    /// `InvalidParameter` for a length of 0 or a span past 4 KiB.
    pub(crate) fn bytes(&self, offset: u32, len: usize) -> Result<&[u8]> {
        let span = Self::span(offset, len)?;
        self.bytes.get(span).ok_or(Status::InvalidParameter)
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    ///
    /// # Errors
    /// `InvalidParameter` for a length of 0 or a span past 4 KiB.
    #[cfg(test)]
    pub(crate) fn read(&self, offset: u32, out: &mut [u8]) -> Result<()> {
        out.copy_from_slice(self.bytes(offset, out.len())?);
        Ok(())
    }

    /// Writes `data` at `offset`: only writable bits change; a write of
    /// "initiate FLR" resets the space after the write.
    ///
    /// # Errors
    /// `InvalidParameter` for a length of 0 or a span past 4 KiB (nothing is written).
    pub(crate) fn write(&mut self, offset: u32, data: &[u8]) -> Result<WriteEffect> {
        let span = Self::span(offset, data.len())?;
        let start = span.start;
        let bytes = self
            .bytes
            .get_mut(span.clone())
            .ok_or(Status::InvalidParameter)?;
        let masks = self.masks.get(span).ok_or(Status::InvalidParameter)?;
        for ((byte, mask), value) in bytes.iter_mut().zip(masks).zip(data) {
            *byte = (*byte & !mask) | (value & mask);
        }
        let flr_byte = DEVICE_CONTROL.saturating_add(1);
        let flr = flr_byte
            .checked_sub(start)
            .and_then(|i| data.get(i))
            .is_some_and(|b| b & INITIATE_FLR != 0);
        if flr {
            self.reset();
            return Ok(WriteEffect::FunctionLevelReset);
        }
        Ok(WriteEffect::None)
    }

    /// All 4 KiB, as they read (live migration saves them).
    pub(crate) fn snapshot(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks a space saved from another VF before [`Self::restore`]: it must
    /// be 4 KiB and agree with this one in every read-only bit (same ids,
    /// class, capabilities and BAR sizes).
    ///
    /// # Errors
    /// The first byte that differs: (offset, this VF's byte, the saved byte);
    /// a saved space of another size reports its size as the offset.
    pub(crate) fn check_restore(&self, saved: &[u8]) -> core::result::Result<(), (usize, u8, u8)> {
        if saved.len() != CONFIG_SPACE_SIZE {
            return Err((saved.len(), 0, 0));
        }
        for (i, ((ours, mask), theirs)) in self.bytes.iter().zip(&self.masks).zip(saved).enumerate()
        {
            if (ours & !mask) != (theirs & !mask) {
                return Err((i, *ours, *theirs));
            }
        }
        Ok(())
    }

    /// Takes every writable bit from `saved` (checked with
    /// [`Self::check_restore`]); read-only bits stay. No side effects: an
    /// initiate-FLR bit is not writable, so a restore never resets.
    pub(crate) fn restore(&mut self, saved: &[u8]) {
        for ((byte, mask), value) in self.bytes.iter_mut().zip(&self.masks).zip(saved) {
            *byte = (*byte & !mask) | (value & mask);
        }
    }

    /// Whether the command register enables memory decoding.
    pub(crate) fn memory_enabled(&self) -> bool {
        self.bytes.get(COMMAND).is_some_and(|b| b & 0x02 != 0)
    }

    /// Whether MSI-X is enabled.
    pub(crate) fn msix_enabled(&self) -> bool {
        self.bytes
            .get(MSIX_CONTROL.saturating_add(1))
            .is_some_and(|b| b & 0x80 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read32(space: &ConfigSpace, offset: u32) -> u32 {
        let mut b = [0u8; 4];
        space.read(offset, &mut b).unwrap();
        u32::from_le_bytes(b)
    }

    #[test]
    fn bar_sizing_reads_back_the_size_and_type() {
        let mut s = ConfigSpace::new(200 << 20).unwrap();
        for (bar, expected) in (0x10..0x28).step_by(4).zip(probed_bars(200 << 20)) {
            s.write(bar, &u32::MAX.to_le_bytes()).unwrap();
            assert_eq!(read32(&s, bar), expected, "BAR at {bar:#x}");
        }
        // 200 MiB rounds up to a 256 MiB aperture: 0xF0000000 with 64-bit + prefetchable.
        assert_eq!(probed_bars(200 << 20)[2], 0xF000_000C);
        assert_eq!(probed_bars(200 << 20)[3], 0xFFFF_FFFF);
        assert_eq!(probed_bars(8 << 30)[2], 0x0000_000C);
        assert_eq!(probed_bars(8 << 30)[3], 0xFFFF_FFFE);
        assert_eq!(probed_bars(0)[0], 0xFFF0_0000);
    }

    #[test]
    fn read_only_registers_ignore_writes_and_flr_resets() {
        let mut s = ConfigSpace::new(1 << 20).unwrap();
        s.write(0, &[0xAA; 4]).unwrap();
        assert_eq!(
            read32(&s, 0),
            u32::from(VENDOR_ID) | u32::from(DEVICE_ID) << 16
        );
        s.write(0x04, &0xFFFFu16.to_le_bytes()).unwrap();
        assert_eq!(read32(&s, 0x04) & 0xFFFF, 0x0406);
        assert!(s.memory_enabled());
        s.write(0x42, &0xC000u16.to_le_bytes()).unwrap();
        assert!(s.msix_enabled());
        assert_eq!(
            s.write(0x58, &0x8000u16.to_le_bytes()).unwrap(),
            WriteEffect::FunctionLevelReset
        );
        assert!(!s.memory_enabled() && !s.msix_enabled());
        assert_eq!(read32(&s, 0x58) & 0xFFFF, 0, "initiate-FLR reads 0");
    }

    #[test]
    fn accesses_outside_the_space_or_empty_are_refused() {
        let mut s = ConfigSpace::new(1 << 20).unwrap();
        assert!(s.read(4095, &mut [0; 1]).is_ok());
        assert_eq!(s.read(4095, &mut [0; 2]), Err(Status::InvalidParameter));
        assert_eq!(s.read(0, &mut []), Err(Status::InvalidParameter));
        assert_eq!(s.write(4096, &[0]), Err(Status::InvalidParameter));
        assert_eq!(s.write(u32::MAX, &[0; 4]), Err(Status::InvalidParameter));
    }
}
