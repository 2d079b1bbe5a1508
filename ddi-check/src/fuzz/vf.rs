//! The `ops` target's decoder of [`VfOp`]: reached by a GPU-partition
//! selector whose kind byte is 0xE0 to 0xEF (its low nibble picks the kind,
//! in [`VfOp::KINDS`] order; 15 is more writes), then the
//! adapter and the fields, each mostly one byte with a meaningful value.

use super::Input;
use crate::ops::*;

/// Register offsets with behaviour.
const REGISTERS: [u32; 13] = [
    0x00, 0x04, 0x06, 0x0C, 0x10, 0x18, 0x1C, 0x3C, 0x40, 0x42, 0x43, 0x58, 0x59,
];

impl Input<'_> {
    /// A config offset: mostly a register, else anywhere in the space, or any.
    fn config_offset(&mut self) -> u32 {
        match self.u8() {
            b @ 0..=199 => REGISTERS[usize::from(b) % REGISTERS.len()],
            200..=239 => u32::from(self.u16()) % 4200,
            _ => self.u32(),
        }
    }

    /// A read length: mostly a register width, else any short one, or any.
    fn config_len(&mut self) -> u32 {
        match self.u8() {
            b @ 0..=199 => [1, 2, 4, 8][usize::from(b % 4)],
            200..=229 => u32::from(self.u16()),
            _ => self.u32(),
        }
    }

    /// A write's data: the sizing all-ones, an enable, an FLR, or bytes.
    fn config_data(&mut self) -> Vec<u8> {
        match self.u8() {
            0..=63 => vec![0xFF; 4],
            64..=95 => vec![0x06, 0x00],
            96..=127 => vec![0x00, 0xC0],
            128..=143 => vec![0x00, 0x80],
            b => {
                let n = usize::from(b - 144) % 13;
                (0..n).map(|_| self.u8()).collect()
            }
        }
    }

    fn iface(&mut self) -> IfaceSel {
        match self.u8() % 5 {
            0 => IfaceSel::Partition,
            1 => IfaceSel::Sriov,
            2 => IfaceSel::FlexIov,
            3 => IfaceSel::Mitigable,
            _ => IfaceSel::Other(self.take()),
        }
    }

    fn priv_data(&mut self) -> PrivData {
        match self.u8() {
            b @ 0..=179 => PrivData::Reserve {
                vf: u32::from(b % 8),
                size_pages: if b >= 160 {
                    i8::from_le_bytes([self.u8()])
                } else {
                    0
                },
                word: (b >= 170).then(|| (self.u8(), self.u32())),
                len: (b >= 175).then(|| self.u8()),
            },
            180..=219 => {
                let n = usize::from(self.u8() % 40);
                PrivData::Raw((0..n).map(|_| self.u8()).collect())
            }
            b => PrivData::Null(if b & 1 == 0 { 32 } else { self.u32() }),
        }
    }

    /// A QueryInterface: mostly a known GUID with its size and version 1.
    fn query_interface(&mut self, adapter: AdapterSel) -> VfOp {
        let iface = self.iface();
        let size = match self.u8() {
            b @ 0..=199 => [128, 120, 56][usize::from(b % 3)],
            _ => self.u16(),
        };
        let version = match self.u8() {
            0..=199 => 1,
            _ => self.u16(),
        };
        let nulls = match self.u8() {
            b @ 240.. => b & 7,
            _ => 0,
        };
        VfOp::QueryInterface {
            adapter,
            iface,
            size,
            version,
            nulls,
        }
    }

    /// A [`VfOp`] of kind `kind` (the low nibble of its kind byte).
    pub(super) fn vf_op(&mut self, kind: u8) -> VfOp {
        let adapter = self.adapter();
        if kind == 4 {
            return self.query_interface(adapter);
        }
        if kind == 5 {
            let count = self.partition_count();
            return VfOp::GetProfile { adapter, count };
        }
        if kind == 13 {
            let n = 1 + self.u8() % 3;
            let entries = (0..n).map(|_| self.priv_data()).collect();
            let flags = self.u8();
            return VfOp::CreateAllocation {
                adapter,
                entries,
                declared: (flags >= 240).then(|| self.u32()),
                null_array: flags == 239,
            };
        }
        if kind == 14 {
            return VfOp::NullArgs {
                adapter,
                which: self.u8(),
            };
        }
        let vf = self.vf();
        match kind {
            0 => VfOp::ReadConfig {
                adapter,
                vf,
                offset: self.config_offset(),
                len: self.config_len(),
                null_data: self.u8() == 255,
            },
            2 => VfOp::Reset { adapter, vf },
            3 => VfOp::SetVmBus {
                adapter,
                vf,
                handle: match self.u8() {
                    b @ 0..=239 => 0x100 + u64::from(b),
                    240..=247 => 0,
                    _ => self.u64(),
                },
            },
            6 => VfOp::MmioRangeCount { adapter, vf },
            7 => VfOp::MmioRanges {
                adapter,
                vf,
                bar: match self.u8() {
                    b @ 0..=199 => u32::from(b % 2) * 2,
                    _ => self.u32(),
                },
                capacity: self.u8(),
                null_array: self.u8() == 255,
            },
            8 => VfOp::BackingResource {
                adapter,
                vf,
                index: self.u16(),
                null_resource: self.bool(),
            },
            9 => VfOp::ProbedBars { adapter, vf },
            10 => VfOp::VendorAndDevice { adapter, vf },
            11 => VfOp::DeviceLocation { adapter, vf },
            12 => VfOp::Unsupported {
                adapter,
                vf,
                which: self.u8(),
            },
            _ => {
                let offset = self.config_offset();
                let data = self.config_data();
                let flags = self.u8();
                VfOp::WriteConfig {
                    adapter,
                    vf,
                    offset,
                    data,
                    declared: (flags >= 240).then(|| self.u32()),
                    null_data: flags == 239,
                }
            }
        }
    }
}
