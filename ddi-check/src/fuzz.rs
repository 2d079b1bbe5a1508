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
    fn op(&mut self) -> Op {
        match self.u8() % 10 {
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
            _ => {
                if self.bool() {
                    Op::StopDevice
                } else {
                    Op::StartDevice
                }
            }
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

/// Arbitrary bytes as an operation sequence over every DDI.
pub fn ops(data: &[u8]) {
    let mut input = Input(data);
    let mut ops = Vec::new();
    while !input.is_empty() && ops.len() < MAX_OPS {
        ops.push(input.op());
    }
    check(&ops);
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
        Op::Query {
            adapter,
            null_args: false,
            basis,
            subrange: SubrangeSpec {
                index: 0,
                offset: Bytes::Raw(0),
                size: Bytes::Raw(0),
            },
            buffer: BufSpec::Fit { extra: 0 },
            flags: 1,
        },
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
                    -1 - i32::from(sel % 5)
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
