//! The `ops` target's decoder of [`EngineOp`]: reached by a GPU-partition
//! selector whose kind byte is 0xD0 to 0xDF (its low nibble picks the kind:
//! 0-3 a build, 4-7 a submission, 8 a preemption, 9-11 a wait, 12 engine
//! status, 13 reset, 14 the dependent group, 15 the timeout pair), then its
//! fields, each mostly one byte with a meaningful value.

use super::Input;
use crate::ops::*;

impl Input<'_> {
    fn end(&mut self) -> EndSel {
        match self.u8() {
            0..=215 => EndSel::Vram {
                segment: self.segment(),
                offset: self.bytes(),
            },
            b => EndSel::Mdl(b % (MDLS + 1)),
        }
    }

    fn paging(&mut self) -> Paging {
        match self.u8() % 8 {
            0..=2 => Paging::Fill {
                dst: self.end(),
                size: self.bytes(),
                pattern: self.u32(),
            },
            3 | 4 => Paging::Transfer {
                src: self.end(),
                dst: self.end(),
                size: self.bytes(),
                offset: u32::from(self.u8() / 200) * self.u32(),
                mdl_page: u32::from(self.u8() % 5),
            },
            5 => match self.u8() % 6 {
                0 => Paging::Discard {
                    segment: self.segment(),
                    offset: self.bytes(),
                },
                1 => Paging::Recorded {
                    which: self.u8(),
                    args: [self.u64(), self.u64(), self.u64()],
                },
                2 => Paging::Map {
                    leaf: self.u8() & 1 == 1,
                    index: self.u8(),
                    target: self.u8() % (VA_TARGETS + SYS_TARGETS + 2),
                    count: self.u8(),
                    repeat: self.bool(),
                    flags: self.u8() % 4,
                },
                3 => Paging::VirtualFill {
                    at: self.u16(),
                    size: self.u16(),
                    pattern: self.u32(),
                    region: self.region(),
                },
                4 => Paging::VirtualTransfer {
                    from: self.u16(),
                    at: self.u16(),
                    size: self.u16(),
                    regions: [self.region(), self.region()],
                },
                _ => Paging::Other(self.u32()),
            },
            _ => Paging::Signal {
                cell: self.u8() % (FENCE_CELLS + 1),
                value: self.u64(),
            },
        }
    }

    /// A VA region: mostly 0, then 1, 2 (past the root) or any.
    fn region(&mut self) -> u8 {
        match self.u8() {
            0..=199 => 0,
            200..=239 => 1,
            b => b - 238,
        }
    }

    fn node(&mut self) -> u8 {
        match self.u8() {
            0..=239 => 0,
            b => b,
        }
    }

    /// An engine operation of kind `kind` (the low nibble).
    pub(super) fn engine_op(&mut self, kind: u8) -> EngineOp {
        let adapter = self.adapter();
        let null_args = self.u8() == 255;
        match kind {
            0..=3 => EngineOp::Build {
                adapter,
                null_args,
                paging: self.paging(),
                dma: match self.u8() {
                    0..=199 => 4096,
                    b @ 200..=249 => u16::from(b - 199) * 64,
                    _ => self.u16(),
                },
                null_dma: self.u8() == 255,
                multipass: if self.u8() == 255 { self.u32() } else { 0 },
            },
            4..=7 => EngineOp::Submit {
                adapter,
                null_args,
                buffer: self.u8() % 4,
                start: if self.u8() >= 240 { self.u8() } else { 0 },
                end: match self.u8() {
                    0..=229 => SubmitEnd::Built,
                    230..=242 => SubmitEnd::Slot(self.u8()),
                    _ => SubmitEnd::Byte(self.u16()),
                },
                by_va: self.bool(),
                gap: if self.u8() >= 240 { self.u8() } else { 0 },
            },
            8 => EngineOp::Preempt { adapter, null_args },
            9..=11 => EngineOp::Wait,
            12 => EngineOp::QueryStatus {
                adapter,
                null_args,
                node: self.node(),
            },
            13 => EngineOp::Reset {
                adapter,
                null_args,
                node: self.node(),
            },
            14 => EngineOp::DependentGroup {
                adapter,
                node: self.node(),
            },
            _ => EngineOp::Timeout { adapter },
        }
    }
}
