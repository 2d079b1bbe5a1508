//! The bodies of the fuzz targets (`../fuzz/fuzz_targets/*.rs` only call
//! these), so that the seed-corpus replay test (`tests/fuzz_seeds.rs`) runs
//! exactly what the fuzzer runs, on the stable toolchain.
//!
//! Every target turns its bytes into an operation sequence and checks it
//! against the reference model with [`crate::check_sequence`]: besides "no
//! crash, no sanitizer report", any disagreement with the model is a finding.
//!
//! Adding a target: write `pub fn name(data: &[u8])` here, add it to
//! [`TARGETS`], add `fuzz/fuzz_targets/name.rs` (three lines, like the others)
//! and its `[[bin]]` in `fuzz/Cargo.toml`, and a few seeds in
//! `fuzz/seeds/name/`. `tests/fuzz_seeds.rs` checks that all four exist.

use crate::model::Flaw;
use crate::ops::*;

mod engine;
mod vf;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every fuzz target: its name (the file in `fuzz/fuzz_targets/` and the
/// folder in `fuzz/seeds/`) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("migration_decoder", migration_decoder),
    ("ops", ops),
    ("create_args", create_args),
    ("query_args", query_args),
    ("query_adapter_info", query_adapter_info),
    ("restore_records", crate::restore_fuzz::restore_records),
];

#[path = "../../fuzz/migration_decoder_check.rs"]
mod migration_decoder_check;

/// Arbitrary bytes as saved live-migration data: the decoder never panics and
/// re-encodes what it accepts to a canonical fixed point (the property lives
/// in `fuzz/migration_decoder_check.rs`, which the fuzz target includes too;
/// `tests/migration_corpus.rs` also replays its seeds, checking `ok_*` seeds
/// decode and `bad_*` ones do not).
pub fn migration_decoder(data: &[u8]) {
    migration_decoder_check::check(data);
}

/// Reads fixed-size values from the fuzzer's bytes; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    fn adapter(&mut self) -> AdapterSel {
        match self.u8() {
            0..=239 => AdapterSel::This,
            240..=243 => AdapterSel::Null,
            244..=247 => AdapterSel::Forged(self.u64()),
            _ => AdapterSel::Removed,
        }
    }
    fn segment(&mut self) -> SegSel {
        match self.u8() {
            0..=239 => SegSel::Configured(self.u8()),
            _ => SegSel::Raw(self.u32()),
        }
    }
    fn handle(&mut self) -> HandleSel {
        match self.u8() {
            0..=199 => HandleSel::Issued(self.u8()),
            200..=209 => HandleSel::Null,
            210..=219 => HandleSel::Forged(self.u64()),
            220..=239 => HandleSel::Tampered {
                of: self.u8(),
                xor: self.u64(),
            },
            _ => HandleSel::Foreign,
        }
    }
    fn bytes(&mut self) -> Bytes {
        match self.u8() {
            0..=199 => Bytes::Pages {
                pages: self.u16() % 1100,
                jitter: 0,
            },
            200..=239 => Bytes::Pages {
                pages: self.u16(),
                jitter: self.u32(),
            },
            _ => Bytes::Raw(self.u64()),
        }
    }
    fn qai_buf(&mut self) -> QaiBuf {
        let n = self.u8();
        if self.u8() < 32 {
            QaiBuf::Null(n)
        } else {
            QaiBuf::Size(n)
        }
    }
    fn query(&mut self) -> Op {
        Op::Query {
            adapter: self.adapter(),
            null_args: self.u8() == 255,
            basis: self.handle(),
            subrange: SubrangeSpec {
                index: u64::from(self.u8() % 4),
                offset: self.bytes(),
                size: if self.bool() {
                    Bytes::Raw(0)
                } else {
                    self.bytes()
                },
            },
            buffer: match self.u8() {
                0..=199 => BufSpec::Fit { extra: 0 },
                200..=229 => BufSpec::Fit {
                    extra: i8::from_le_bytes([self.u8()]),
                },
                230..=249 => BufSpec::Size(self.u16()),
                _ => BufSpec::Null,
            },
            flags: match self.u8() {
                0..=119 => 1,
                120..=239 => 0,
                _ => self.u32(),
            },
        }
    }
    fn vf(&mut self) -> u32 {
        match self.u8() {
            b @ 0..=239 => u32::from(b % 8),
            _ => self.u32(),
        }
    }
    fn alloc(&mut self) -> AllocSel {
        match self.u8() {
            b @ 0..=199 => AllocSel::Issued(b % 4),
            200..=239 => AllocSel::Null,
            _ => AllocSel::Forged(self.u64()),
        }
    }
    fn damage(&mut self) -> Damage {
        match self.u8() {
            0..=191 => Damage::None,
            192..=215 => Damage::Flip {
                at: self.u16(),
                bit: self.u8(),
            },
            216..=239 => Damage::Truncate { by: self.u16() },
            _ => Damage::Append(self.u8()),
        }
    }
    /// A [`ReserveLayout`]: mostly without a fault.
    fn reserve_layout(&mut self) -> ReserveLayout {
        ReserveLayout {
            vf: self.vf(),
            pieces: self.u8(),
            rotate: self.u8(),
            fault: match self.u8() {
                0..=199 => 0,
                b => b % 4,
            },
        }
    }

    /// A partition count: mostly one the adapter offers.
    fn partition_count(&mut self) -> u32 {
        match self.u8() {
            b @ 0..=239 => [1, 2, 4, 8][usize::from(b % 4)],
            _ => self.u32(),
        }
    }

    /// A [`VramSpec`]: mostly the default.
    fn vram(&mut self) -> VramSpec {
        match self.u8() {
            0..=159 => VramSpec::Default,
            160..=223 => VramSpec::Pages {
                min: self.u16(),
                max: self.u16(),
                optimal: self.u16(),
            },
            _ => VramSpec::Raw {
                min: self.u64(),
                max: self.u64(),
                optimal: self.u64(),
            },
        }
    }

    /// An engine capability: mostly none.
    fn engine(&mut self) -> u8 {
        match self.u8() {
            b @ 250.. => b,
            _ => 0,
        }
    }

    /// A reserve's segment id: mostly 0 (the VF segment).
    fn reserve_segment(&mut self) -> u32 {
        match self.u8() {
            0..=239 => 0,
            _ => self.u32(),
        }
    }

    /// Where a reserve is placed: mostly at the start of `vf`'s own region.
    fn place(&mut self, vf: u32) -> Place {
        match self.u8() {
            0..=199 => Place {
                slot: vf as u8,
                pages: 0,
                bytes: 0,
            },
            _ => Place {
                slot: self.u8(),
                pages: self.u16(),
                bytes: self.u32(),
            },
        }
    }

    /// Pages short of a vGPU's size: mostly none.
    fn short(&mut self) -> u8 {
        match self.u8() {
            b @ 240.. => b,
            _ => 0,
        }
    }

    /// An MSI-X table index: mostly one of the first five.
    fn interrupt_index(&mut self) -> i16 {
        match self.u8() {
            b @ 0..=239 => i16::from(b % 5),
            _ => i16::from_le_bytes(self.take()),
        }
    }

    /// A migration type: mostly SOURCE or TARGET.
    fn migration_type(&mut self) -> i32 {
        match self.u8() {
            b @ 0..=239 => i32::from(b % 2),
            _ => i32::from_le_bytes(self.take()),
        }
    }

    /// A [`SaveCall`]: mostly sizing or filling exactly.
    fn save_call(&mut self) -> SaveCall {
        match self.u8() {
            0..=79 => SaveCall::Size,
            80..=199 => SaveCall::Fill { extra: 0 },
            200..=229 => SaveCall::Fill {
                extra: i8::from_le_bytes([self.u8()]),
            },
            230..=239 => SaveCall::NullData,
            240..=247 => SaveCall::NullDataSize,
            _ => SaveCall::NullArgs,
        }
    }

    /// A [`BlobSel`]: mostly a saved blob.
    fn blob(&mut self) -> BlobSel {
        match self.u8() {
            b @ 0..=223 => BlobSel::Saved {
                back: b % 4,
                damage: self.damage(),
            },
            224..=235 => BlobSel::Empty,
            236..=245 => BlobSel::NullData,
            _ => BlobSel::NullArgs,
        }
    }
    /// A [`VgpuOp`]: a kind byte (modulo 16, in [`VgpuOp::KINDS`] order;
    /// 0xF0 and above: the guest-facing kinds 16 to 18, so that the
    /// committed seeds keep their meaning; 0xE0 to 0xEF never get here, see
    /// `vf`), then its fields, each mostly one byte with a meaningful value.
    fn vgpu_op(&mut self) -> VgpuOp {
        let byte = self.u8();
        let adapter = self.adapter();
        if byte >= 0xF0 {
            if byte & 3 == 2 {
                let vf = u32::from(self.u8() % 9);
                return VgpuOp::QueryLuid { adapter, vf };
            }
            return self.guest_op(adapter, byte & 1 == 1);
        }
        let kind = byte % 16;
        if kind == 7 {
            return VgpuOp::ReserveBasis(self.reserve_layout());
        }
        if kind == 0 {
            let count = self.partition_count();
            return VgpuOp::SetPartitionCount { adapter, count };
        }
        if kind == 1 {
            return VgpuOp::GetPartitionInfo {
                adapter,
                capacity: self.u8(),
                null_array: self.u8() >= 240,
            };
        }
        if kind == 6 {
            return VgpuOp::DestroyReserve {
                adapter,
                alloc: self.alloc(),
            };
        }
        let vf = self.vf();
        match kind {
            2 => VgpuOp::CreateVgpu {
                adapter,
                vf,
                vram: self.vram(),
                engine: self.engine(),
            },
            3 => VgpuOp::DestroyVgpu { adapter, vf },
            4 => VgpuOp::GetVgpuInfo { adapter, vf },
            5 => VgpuOp::CreateReserve { adapter, vf },
            8 => VgpuOp::SetResources {
                adapter,
                vf,
                alloc: self.alloc(),
                segment: self.reserve_segment(),
                place: self.place(vf),
                short: self.short(),
            },
            9 => VgpuOp::SetResources2 {
                adapter,
                vf,
                alloc: self.alloc(),
                basis: self.handle(),
            },
            10 => VgpuOp::Pause {
                adapter,
                vf,
                pause: self.u8(),
            },
            11 => VgpuOp::WriteInterrupt {
                adapter,
                vf,
                index: self.interrupt_index(),
            },
            12 => VgpuOp::Prepare {
                adapter,
                vf,
                ty: self.migration_type(),
            },
            13 => VgpuOp::Save {
                adapter,
                vf,
                mutable: self.bool(),
                call: self.save_call(),
            },
            14 => VgpuOp::Restore {
                adapter,
                vf,
                mutable: self.bool(),
                blob: self.blob(),
            },
            _ => VgpuOp::End { adapter, vf },
        }
    }
    /// SetPower (`escape` false) or Escape: every command, any bytes.
    fn guest_op(&mut self, adapter: AdapterSel, escape: bool) -> VgpuOp {
        let vf = u32::from(self.u8() % 9);
        if !escape {
            let state = match self.u8() {
                0..=99 => 1,
                100..=199 => 4,
                200..=219 => 2,
                220..=239 => 3,
                _ => self.u32(),
            };
            return VgpuOp::SetPower { adapter, vf, state };
        }
        let flags = self.u8();
        let command = match flags % 8 {
            0..=2 => 1 + u32::from(flags % 8),
            3 | 4 => 2,
            5 => 0,
            6 => 4,
            _ => self.u32(),
        };
        let payload = if command == 2 && flags & 0x80 == 0 {
            // Pages of the reserve: offset, length.
            let (at, len) = (u64::from(self.u8()) * 4096, u64::from(self.u8()) * 4096);
            [at.to_le_bytes(), len.to_le_bytes()].concat()
        } else {
            let n = usize::from(self.u8() % 49);
            (0..n).map(|_| self.u8()).collect()
        };
        VgpuOp::Escape {
            adapter,
            vf,
            luid_ok: flags & 0x40 == 0,
            command,
            declared: (flags & 0x20 != 0).then(|| u32::from(self.u8())),
            payload,
            out: self.u8(),
        }
    }
    fn op(&mut self) -> Op {
        match self.u8() % 16 {
            0 | 1 => {
                let (adapter, null_args, segment) =
                    (self.adapter(), self.u8() == 255, self.segment());
                let n = self.u8() % 6;
                let ranges = (0..n)
                    .map(|_| RangeSpec {
                        offset: self.bytes(),
                        size: self.bytes(),
                    })
                    .collect();
                let count = match self.u8() {
                    0..=239 => CountSpec::Exact,
                    _ => CountSpec::Declared(self.u64()),
                };
                Op::Create {
                    adapter,
                    null_args,
                    segment,
                    ranges,
                    count,
                    misaligned: self.bool(),
                }
            }
            2 => Op::Destroy {
                adapter: self.adapter(),
                basis: self.handle(),
            },
            3 => Op::Start {
                adapter: self.adapter(),
                basis: self.handle(),
            },
            4 => Op::Stop {
                adapter: self.adapter(),
                basis: self.handle(),
            },
            5 => self.query(),
            6 | 7 => Op::Mark {
                adapter: self.adapter(),
                segment: self.segment(),
                offset: self.bytes(),
                len: self.bytes(),
            },
            8 => Op::QueryAdapterInfo {
                adapter: self.adapter(),
                ty: i32::from_le_bytes(self.take()),
                input: self.qai_buf(),
                segment: self.segment(),
                output: self.qai_buf(),
            },
            9 => {
                if self.bool() {
                    Op::StopDevice
                } else {
                    Op::StartDevice
                }
            }
            _ => match self.0.first() {
                // Kind bytes 0xE0 to 0xEF: the VF-facing calls.
                Some(&b @ 0xE0..=0xEF) => {
                    self.u8();
                    Op::Vf(self.vf_op(b & 0x0F))
                }
                // Kind bytes 0xD0 to 0xDF: the software engine (`engine`).
                Some(&b @ 0xD0..=0xDF) => {
                    self.u8();
                    Op::Engine(self.engine_op(b & 0x0F))
                }
                _ => Op::Vgpu(self.vgpu_op()),
            },
        }
    }
}

/// At most this many operations per input.
const MAX_OPS: usize = 64;

fn check(ops: &[Op]) {
    if let Err(mismatch) = crate::check_sequence(ops, Flaw::None) {
        panic!("driver and model disagree: {mismatch}\nsequence: {ops:#?}");
    }
}

/// Arbitrary bytes as an operation sequence over every DDI: a selector byte
/// per operation (modulo 16: 0 and 1 Create, 2 Destroy, 3 Start, 4 Stop, 5
/// Query, 6 and 7 Mark, 8 QueryAdapterInfo, 9 StopDevice or StartDevice,
/// 10 to 15 a GPU-partition or migration call, or, with a kind byte of 0xE0
/// to 0xEF, a VF-facing call: `vf`, or of 0xD0 to 0xDF, a software-engine
/// call: `engine`), then its fields.
pub fn ops(data: &[u8]) {
    check(&ops_of(data));
}

/// The operation sequence the `ops` target makes of `data`.
#[must_use]
pub fn ops_of(data: &[u8]) -> Vec<Op> {
    let mut input = Input(data);
    let mut ops = Vec::new();
    while !input.is_empty() && ops.len() < MAX_OPS {
        ops.push(input.op());
    }
    ops
}

/// Arbitrary bytes as a `DXGKARG_CREATEMEMORYBASIS` block (`SegmentId`,
/// padding, `RangeCount`, then ranges), placed at an odd address when its
/// length is odd; a created basis is then tracked, marked, queried and
/// destroyed.
pub fn create_args(data: &[u8]) {
    let mut input = Input(data);
    let segment = input.u32();
    let _padding = input.u32();
    let count = input.u64();
    let mut ranges = Vec::new();
    while input.0.len() >= 16 && ranges.len() < 256 {
        ranges.push(RangeSpec {
            offset: Bytes::Raw(input.u64()),
            size: Bytes::Raw(input.u64()),
        });
    }
    let this = |basis| (AdapterSel::This, basis);
    let (adapter, basis) = this(HandleSel::Issued(0));
    check(&[
        Op::Create {
            adapter,
            null_args: false,
            segment: SegSel::Raw(segment),
            ranges,
            count: CountSpec::Declared(count),
            misaligned: data.len() % 2 == 1,
        },
        Op::Start { adapter, basis },
        Op::Mark {
            adapter,
            segment: SegSel::Raw(segment),
            offset: Bytes::Raw(0),
            len: Bytes::Raw(1 << 20),
        },
        Op::whole_query(adapter, basis, 1),
        Op::Destroy { adapter, basis },
    ]);
}

/// A few bases (two tracked, one untracked, one destroyed) with marks, then
/// arbitrary bytes as `DXGKARG_QUERYDIRTYBITDATA` blocks.
pub fn query_args(data: &[u8]) {
    let pages = |pages| Bytes::Pages { pages, jitter: 0 };
    let create = |segment, ranges: &[(u16, u16)]| Op::Create {
        adapter: AdapterSel::This,
        null_args: false,
        segment: SegSel::Configured(segment),
        ranges: ranges
            .iter()
            .map(|&(o, s)| RangeSpec {
                offset: pages(o),
                size: pages(s),
            })
            .collect(),
        count: CountSpec::Exact,
        misaligned: false,
    };
    let start = |i| Op::Start {
        adapter: AdapterSel::This,
        basis: HandleSel::Issued(i),
    };
    let mark = |segment, o, n| Op::Mark {
        adapter: AdapterSel::This,
        segment: SegSel::Configured(segment),
        offset: pages(o),
        len: pages(n),
    };
    let mut ops = vec![
        create(0, &[(600, 100), (0, 70), (200, 1)]),
        start(0),
        create(1, &[(3, 5)]),
        start(1),
        create(0, &[(64, 8)]),
        create(0, &[(900, 8)]),
        Op::Destroy {
            adapter: AdapterSel::This,
            basis: HandleSel::Issued(3),
        },
        mark(0, 0, 3),
        mark(0, 63, 3),
        mark(0, 650, 1),
        mark(0, 698, 10),
        mark(1, 4, 1),
    ];
    let mut input = Input(data);
    while !input.is_empty() && ops.len() < MAX_OPS {
        if input.u8() < 32 {
            ops.push(mark(
                input.u8() % 2,
                input.u16() % 1100,
                u16::from(input.u8() % 16),
            ));
        } else {
            ops.push(input.query());
        }
    }
    check(&ops);
}

/// Arbitrary bytes as `DXGKARG_QUERYADAPTERINFO` blocks (type, input and
/// output buffers, their sizes), with the adapter sometimes stopped.
pub fn query_adapter_info(data: &[u8]) {
    let mut input = Input(data);
    let mut ops = Vec::new();
    while !input.is_empty() && ops.len() < MAX_OPS {
        ops.push(match input.u8() {
            0..=3 => Op::StopDevice,
            4..=7 => Op::StartDevice,
            sel => Op::QueryAdapterInfo {
                adapter: input.adapter(),
                ty: if sel < 128 {
                    -1 - i32::from(sel % 20)
                } else {
                    i32::from_le_bytes(input.take())
                },
                input: input.qai_buf(),
                segment: input.segment(),
                output: input.qai_buf(),
            },
        });
    }
    check(&ops);
}
