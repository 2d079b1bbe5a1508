//! What is measured: the planes, the dirty densities, and the four
//! harvesters (ours, the peer, the naive baseline, the swap floor) with
//! their re-dirtying.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use dxgk_sys::STATUS_SUCCESS;
use dxgkrnl_model::{Adapter, BasisHandle};
use gpup_rng::XorShift64Star;
use vm_memory::bitmap::AtomicBitmap;

pub(crate) const KIB: u64 = 1024;
pub(crate) const GIB: u64 = 1024 * 1024 * KIB;

/// One bitplane size: a whole segment of `vram` bytes at `page`-byte pages.
#[derive(Clone, Copy)]
pub(crate) struct Plane {
    pub(crate) name: &'static str,
    pub(crate) segment: u32,
    pub(crate) vram: u64,
    pub(crate) page: u64,
}

impl Plane {
    pub(crate) fn pages(self) -> u64 {
        self.vram / self.page
    }
    /// Bytes of bits (also the bytes a harvest writes, and memcpy copies).
    pub(crate) fn bytes(self) -> usize {
        usize::try_from(self.pages() / 8).expect("fits")
    }
}

/// The planes, one VRAM segment each (ids from 2: segment 1 is the driver's
/// paging aperture).
pub(crate) const PLANES: [Plane; 4] = [
    Plane {
        name: "16GiB@4KiB",
        segment: 2,
        vram: 16 * GIB,
        page: 4 * KIB,
    },
    Plane {
        name: "80GiB@4KiB",
        segment: 3,
        vram: 80 * GIB,
        page: 4 * KIB,
    },
    Plane {
        name: "16GiB@64KiB",
        segment: 4,
        vram: 16 * GIB,
        page: 64 * KIB,
    },
    Plane {
        name: "80GiB@64KiB",
        segment: 5,
        vram: 80 * GIB,
        page: 64 * KIB,
    },
];

/// A dirty density and how its pages are chosen (the same pages for every
/// implementation: the generator is seeded the same way each time).
#[derive(Clone, Copy)]
pub(crate) struct Density {
    pub(crate) label: &'static str,
    pub(crate) fraction: f64,
}

pub(crate) const DENSITIES: [Density; 5] = [
    Density {
        label: "0%",
        fraction: 0.0,
    },
    Density {
        label: "0.1%",
        fraction: 0.001,
    },
    Density {
        label: "1%",
        fraction: 0.01,
    },
    Density {
        label: "50%",
        fraction: 0.5,
    },
    Density {
        label: "100%",
        fraction: 1.0,
    },
];

impl Density {
    /// Calls `f(first_page, pages)` for each run of dirty pages.
    ///
    /// - below 50 %: independent pages, each dirty with probability
    ///   `fraction` (geometric gaps), so at 1 % about 47 % of the 64-page
    ///   words are non-zero, as with real scattered writes;
    /// - 50 %: one run of 32 pages at a random offset in every 64-page word
    ///   (every word non-zero, as with independent 50 % pages, but one mark
    ///   per word keeps re-dirtying quick);
    /// - 100 %: one run of every page.
    pub(crate) fn for_each_run(self, pages: u64, mut f: impl FnMut(u64, u64)) {
        let mut rng = XorShift64Star::from_state(0x9E37_79B9_7F4A_7C15);
        if self.fraction <= 0.0 {
        } else if self.fraction >= 1.0 {
            f(0, pages);
        } else if self.fraction >= 0.5 {
            for word in 0..pages / 64 {
                f(word * 64 + rng.next_u64() % 33, 32);
            }
        } else {
            let ln_clean = (1.0 - self.fraction).ln();
            let mut page = 0u64;
            loop {
                // u in (0, 1]: the gap before the next dirty page is geometric.
                let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                page += (u.ln() / ln_clean) as u64;
                if page >= pages {
                    break;
                }
                f(page, 1);
                page += 1;
            }
        }
    }

    /// The 64-byte lines of a plane of `pages` bits that hold a dirty bit
    /// (ascending): the least a clearing harvest must zero besides writing
    /// its output.
    pub(crate) fn dirty_lines(self, pages: u64) -> Vec<usize> {
        let mut lines = vec![false; usize::try_from(pages.div_ceil(512)).expect("fits")];
        self.for_each_run(pages, |first, n| {
            for_each_word(first, n, |word, _| lines[word / 8] = true);
        });
        (0..lines.len()).filter(|&l| lines[l]).collect()
    }

    pub(crate) fn dirty_pages(self, pages: u64) -> u64 {
        let mut n = 0;
        self.for_each_run(pages, |_, len| n += len);
        n
    }
}

/// The harvesting implementations of one plane size.
pub(crate) struct Harvesters<'a> {
    pub(crate) plane: Plane,
    pub(crate) adapter: &'a Adapter,
    pub(crate) basis: BasisHandle,
    pub(crate) peer: AtomicBitmap,
    pub(crate) naive: Mutex<Vec<u64>>,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Impl {
    Ours,
    VmMemory,
    Naive,
}

impl Impl {
    pub(crate) const ALL: [Impl; 3] = [Impl::Ours, Impl::VmMemory, Impl::Naive];
    pub(crate) fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::VmMemory => "vm-memory",
            Impl::Naive => "naive",
        }
    }
}

/// Calls `f(word, mask)` for each 64-page word of the run `[first, first +
/// pages)` with the run's bits in it.
pub(crate) fn for_each_word(first: u64, pages: u64, mut f: impl FnMut(usize, u64)) {
    let mut bit = first;
    let end = first + pages;
    while bit < end {
        let in_word = (64 - bit % 64).min(end - bit);
        let mask = (u64::MAX >> (64 - in_word)) << (bit % 64);
        f(usize::try_from(bit / 64).expect("fits"), mask);
        bit += in_word;
    }
}

/// The naive baseline's mark: under the lock, OR the run's bits into the words.
pub(crate) fn naive_mark(words: &Mutex<Vec<u64>>, first: u64, pages: u64) {
    let mut words = words.lock().unwrap_or_else(PoisonError::into_inner);
    for_each_word(first, pages, |index, mask| words[index] |= mask);
}

/// The floor of the clearing protocol issue 4 fixes (a plain load of every
/// word, `swap(0)` of each non-zero one): that alone, on a plain array of
/// atomics with no summary, no DDI and no output. No harvest that clears with
/// one atomic RMW per dirty word can take less time than this; its ratios to
/// memcpy and vm-memory bound what the targets can ask of such a harvest.
#[inline(never)]
pub(crate) fn floor_harvest(words: &[AtomicU64]) -> u64 {
    let mut seen = 0;
    for word in words {
        if word.load(Ordering::SeqCst) != 0 {
            seen ^= word.swap(0, Ordering::SeqCst);
        }
    }
    seen
}

/// The scattered write floor: fills `out` with zeros and zeroes each
/// 64-byte line of `words` that holds a set bit (`lines` lists them), in
/// place: the stores any
/// clearing harvest that zeroes its plane in place makes, with no read of a
/// bit and no copy.
#[inline(never)]
pub(crate) fn scatter_floor(words: &mut [u64], lines: &[usize], out: &mut [u8]) {
    out.fill(0);
    for &line in lines {
        if let Some(l) = words.get_mut(line * 8..line * 8 + 8) {
            l.fill(0);
        }
    }
}

/// Sets `density`'s pages in plain `words` (the scattered floor's plane).
pub(crate) fn plain_redirty(words: &mut [u64], plane: Plane, density: Density) {
    density.for_each_run(plane.pages(), |first, pages| {
        for_each_word(first, pages, |index, mask| words[index] |= mask);
    });
}

/// Re-dirties the floor's words with `density`'s pages.
pub(crate) fn floor_redirty(words: &[AtomicU64], plane: Plane, density: Density) {
    density.for_each_run(plane.pages(), |first, pages| {
        for_each_word(first, pages, |index, mask| {
            words[index].fetch_or(mask, Ordering::SeqCst);
        });
    });
}

impl Harvesters<'_> {
    /// Marks `density`'s pages through `which`'s own marking API.
    pub(crate) fn redirty(&self, which: Impl, density: Density) {
        let page = self.plane.page;
        density.for_each_run(self.plane.pages(), |first, pages| match which {
            Impl::Ours => {
                let status =
                    self.adapter
                        .mark_dirty(self.plane.segment, first * page, pages * page);
                debug_assert_eq!(status, STATUS_SUCCESS);
            }
            Impl::VmMemory => {
                self.peer.set_addr_range(
                    usize::try_from(first * page).expect("fits"),
                    usize::try_from(pages * page).expect("fits"),
                );
            }
            Impl::Naive => naive_mark(&self.naive, first, pages),
        });
    }

    /// Takes and clears every bit into `out` (RTL_BITMAP order).
    #[inline(never)]
    pub(crate) fn harvest(&self, which: Impl, out: &mut [u8]) {
        match which {
            Impl::Ours => {
                let status = self.adapter.query_dirty_bits(self.basis, None, true, out);
                assert_eq!(status, STATUS_SUCCESS);
            }
            Impl::VmMemory => {
                let words = self.peer.get_and_reset();
                for (dst, word) in out.chunks_exact_mut(8).zip(&words) {
                    dst.copy_from_slice(&word.to_le_bytes());
                }
            }
            Impl::Naive => {
                let mut words = self.naive.lock().unwrap_or_else(PoisonError::into_inner);
                for (dst, word) in out.chunks_exact_mut(8).zip(words.iter()) {
                    dst.copy_from_slice(&word.to_le_bytes());
                }
                words.fill(0);
            }
        }
    }
}
