//! The harvest cases: every plane, implementation and density.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use dxgkrnl_model::{Adapter, BasisHandle};
use vm_memory::bitmap::AtomicBitmap;

use crate::cases::*;
use crate::counting::*;
use crate::timings::*;

/// Runs `iters` harvests of `which`, each after re-dirtying `density`'s pages
/// untimed; returns the time of the harvests alone.
pub(crate) fn timed_harvests(
    h: &Harvesters,
    which: Impl,
    density: Density,
    out: &mut [u8],
    iters: u64,
) -> Duration {
    if density.fraction <= 0.0 {
        // Nothing to re-dirty: time the batch, like memcpy's.
        let start = Instant::now();
        for _ in 0..iters {
            h.harvest(which, out);
            black_box(&mut *out);
        }
        return start.elapsed();
    }
    timed_after(
        iters,
        out,
        |_| h.redirty(which, density),
        |out| {
            h.harvest(which, out);
            black_box(out);
        },
    )
}

pub(crate) fn harvest_key(plane: Plane, which: &str, density: &str) -> String {
    format!("harvest/{}/{which}/{density}", plane.name)
}

/// Allocations per harvest, by (plane, implementation, density).
pub(crate) type AllocTable = BTreeMap<(String, &'static str, &'static str), u64>;

pub(crate) fn bench_harvest(
    c: &mut Criterion,
    adapter: &Adapter,
    bases: &[BasisHandle],
    allocs: &mut AllocTable,
) {
    for (plane, &basis) in PLANES.iter().copied().zip(bases) {
        let h = Harvesters {
            plane,
            adapter,
            basis,
            peer: AtomicBitmap::new(
                usize::try_from(plane.vram).expect("fits"),
                NonZeroUsize::new(usize::try_from(plane.page).expect("fits")).expect("non-zero"),
            ),
            naive: Mutex::new(vec![0; plane.bytes() / 8]),
        };
        let mut out = vec![0u8; plane.bytes()];
        let mut group = c.benchmark_group(format!("harvest/{}", plane.name));
        group
            .throughput(Throughput::Bytes(plane.bytes() as u64))
            .sampling_mode(SamplingMode::Flat);

        let src = vec![0x5Au8; plane.bytes()];
        let mut dst = vec![0u8; plane.bytes()];
        let floor: Vec<AtomicU64> = (0..plane.bytes() / 8).map(|_| AtomicU64::new(0)).collect();
        let mut plain = vec![0u64; plane.bytes() / 8];
        let key = harvest_key(plane, "memcpy", "-");
        group.bench_function("memcpy", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    dst.copy_from_slice(black_box(&src));
                    black_box(&mut dst);
                }
                record(&key, iters, start.elapsed())
            })
        });

        for density in DENSITIES {
            // All three report the same bits, and what each allocates per harvest.
            let mut reference: Option<Vec<u8>> = None;
            for which in Impl::ALL {
                h.redirty(which, density);
                let n = allocations_of(|| h.harvest(which, &mut out));
                allocs.insert((plane.name.to_owned(), which.name(), density.label), n);
                let dirty: u64 = out.iter().map(|b| u64::from(b.count_ones())).sum();
                assert_eq!(
                    dirty,
                    density.dirty_pages(plane.pages()),
                    "{}",
                    which.name()
                );
                match &reference {
                    None => reference = Some(out.clone()),
                    Some(r) => assert!(*r == out, "{} differs from ours", which.name()),
                }
            }
            bench_write_floors(&mut group, plane, density, &mut plain, &mut out);
            let key = harvest_key(plane, "floor", density.label);
            group.bench_with_input(
                BenchmarkId::new("swap-floor", density.label),
                &density,
                |b, &density| {
                    b.iter_custom(|iters| {
                        let time = timed_after(
                            iters,
                            &mut (),
                            |_| floor_redirty(&floor, plane, density),
                            |_| {
                                black_box(floor_harvest(black_box(&floor)));
                            },
                        );
                        record(&key, iters, time)
                    })
                },
            );
            for which in Impl::ALL {
                let key = harvest_key(plane, which.name(), density.label);
                group.bench_with_input(
                    BenchmarkId::new(which.name(), density.label),
                    &density,
                    |b, &density| {
                        b.iter_custom(|iters| {
                            let time = timed_harvests(&h, which, density, &mut out, iters);
                            record(&key, iters, time)
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

/// The two write floors of `plane` at `density` (see `table.rs`): one
/// `memset` of the bytes any clearing harvest writes (its output, and the
/// plane's dirty lines zeroed), and the same stores where they land, the
/// dirty lines zeroed in place in `plain`, re-dirtied (untimed) before each.
fn bench_write_floors(
    group: &mut BenchmarkGroup<'_, WallTime>,
    plane: Plane,
    density: Density,
    plain: &mut [u64],
    out: &mut [u8],
) {
    let lines = density.dirty_lines(plane.pages());
    let key = harvest_key(plane, "wfloor", density.label);
    let mut wbuf = vec![0u8; plane.bytes() + 64 * lines.len()];
    group.bench_with_input(
        BenchmarkId::new("write-floor", density.label),
        &density,
        |b, _| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    wbuf.fill(black_box(0));
                    black_box(&mut wbuf);
                }
                record(&key, iters, start.elapsed())
            })
        },
    );
    let key = harvest_key(plane, "sfloor", density.label);
    group.bench_with_input(
        BenchmarkId::new("scatter-floor", density.label),
        &density,
        |b, &density| {
            b.iter_custom(|iters| {
                let time = timed_after(
                    iters,
                    &mut *plain,
                    |plain| plain_redirty(plain, plane, density),
                    |plain| {
                        scatter_floor(black_box(plain), &lines, out);
                        black_box(&mut *out);
                    },
                );
                record(&key, iters, time)
            })
        },
    );
}
