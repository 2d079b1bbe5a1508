//! The callgrind mode (see the bench's documentation): one case's harvests,
//! each inside `counted`, the only code counted.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use dxgkrnl_model::{Adapter, BasisHandle};
use vm_memory::bitmap::AtomicBitmap;

use crate::cases::*;

/// Harvests per case in the callgrind mode.
pub(crate) const CALLGRIND_HARVESTS: u64 = 5;

/// What the callgrind mode counts.
#[derive(Clone, Copy)]
pub(crate) enum Counted {
    Harvest(Impl),
    Floor,
    Memcpy,
}

/// One harvest, one pass of the swap floor, or one memcpy of the plane's
/// bytes: the only code the callgrind mode counts.
#[inline(never)]
pub(crate) fn counted(
    h: &Harvesters,
    what: Counted,
    floor: &[AtomicU64],
    out: &mut [u8],
    src: &[u8],
) {
    match what {
        Counted::Harvest(which) => h.harvest(which, out),
        Counted::Floor => {
            black_box(floor_harvest(floor));
        }
        Counted::Memcpy => out.copy_from_slice(src),
    }
    black_box(out);
}

/// The callgrind mode (see the file's documentation).
pub(crate) fn run_counted(adapter: &Adapter, bases: &[BasisHandle], spec: &str) {
    let mut parts = spec.split('/');
    let (Some(plane), Some(which), Some(density)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("DIRTY_TRACKING_CALLGRIND is <plane>/<impl>/<density>, not {spec:?}");
    };
    let index = PLANES
        .iter()
        .position(|p| p.name == plane)
        .unwrap_or_else(|| panic!("unknown plane {plane:?}"));
    let plane = PLANES[index];
    let what = match Impl::ALL.into_iter().find(|i| i.name() == which) {
        Some(which) => Counted::Harvest(which),
        None if which == "floor" => Counted::Floor,
        None => Counted::Memcpy,
    };
    let density = DENSITIES
        .into_iter()
        .find(|d| d.label == density)
        .unwrap_or(DENSITIES[0]);
    let h = Harvesters {
        plane,
        adapter,
        basis: bases[index],
        peer: AtomicBitmap::new(
            usize::try_from(plane.vram).expect("fits"),
            NonZeroUsize::new(usize::try_from(plane.page).expect("fits")).expect("non-zero"),
        ),
        naive: Mutex::new(vec![0; plane.bytes() / 8]),
    };
    let src = vec![0x5Au8; plane.bytes()];
    let mut out = vec![0u8; plane.bytes()];
    let floor: Vec<AtomicU64> = (0..plane.bytes() / 8).map(|_| AtomicU64::new(0)).collect();
    for _ in 0..CALLGRIND_HARVESTS {
        match what {
            Counted::Harvest(which) => h.redirty(which, density),
            Counted::Floor => floor_redirty(&floor, plane, density),
            Counted::Memcpy => {}
        }
        counted(&h, what, &floor, &mut out, &src);
    }
    // Words holding a dirty page: the clearing RMWs ours makes per harvest.
    let mut words = vec![false; plane.bytes() / 8];
    density.for_each_run(plane.pages(), |first, pages| {
        for word in first / 64..=(first + pages - 1) / 64 {
            words[usize::try_from(word).expect("fits")] = true;
        }
    });
    println!(
        "{CALLGRIND_HARVESTS} harvests of {spec}: {} dirty pages in {} of {} words each",
        density.dirty_pages(plane.pages()),
        words.iter().filter(|w| **w).count(),
        words.len(),
    );
}
