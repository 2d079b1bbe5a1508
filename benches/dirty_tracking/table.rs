//! The table printed after criterion's report: absolute figures, the
//! ratios to memcpy and to vm-memory, and the targets.

use crate::cases::*;
use crate::harvest::*;
use crate::marks::MARK_CASES;
use crate::timings::*;

pub(crate) fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub(crate) fn opt(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".to_owned())
}

/// Issue 20's targets for a plane and density: (min ours/memcpy, min
/// ours/vm-memory). They are set for 4 KiB pages (16 and 80 GiB).
pub(crate) fn targets(plane: Plane, density: &str) -> (Option<f64>, Option<f64>) {
    if plane.page != 4 * KIB {
        return (None, None);
    }
    match density {
        "0%" | "0.1%" => (Some(0.8), None),
        "1%" => (Some(0.8), Some(3.0)),
        "100%" => (Some(0.5), Some(3.0)),
        _ => (None, None),
    }
}

/// The harvest table's title, legend and column headings.
fn print_harvest_header() {
    println!();
    println!("== harvest: DxgkDdiQueryDirtyBitData(CLEARDATA), whole basis, through the C ABI ==");
    println!("time per harvest (median of {SAMPLES} samples); GB/s = bitmap bytes / time;");
    println!(
        "memcpy copies the bitmap's bytes (reads and writes them); vm-memory = get_and_reset + copy out;"
    );
    println!(
        "naive = Mutex<Vec<u64>>, copy then clear; x = ratio of bandwidths (ours/memcpy) or speed-up (ours vs vm-memory)"
    );
    println!(
        "floor = a plain load of every word and swap(0) of each non-zero one, nothing else (the clearing protocol"
    );
    println!(
        "before issue 20, alone); floor/memcpy and vm/floor bound any harvest that clears with one RMW per dirty word;"
    );
    println!(
        "ours flips two planes and drains the retired one with plain loads and stores, so it is not bound by them"
    );
    println!(
        "write floor = one memset of the bytes any clearing harvest must write: its output and the plane's dirty"
    );
    println!(
        "64-byte lines zeroed; wf/mcpy (memcpy time / write floor time) bounds every such harvest's ratio to memcpy;"
    );
    println!(
        "scatter floor = the same stores where they land: the output filled, each dirty line zeroed in place"
    );
    println!();
    println!(
        "{:<24} {:>5} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  {:<8} {:>10} {:>8} {:>8} {:>10} {:>8} {:>10} {:>8}  targets",
        "plane (bitmap)",
        "dirty",
        "ours",
        "GB/s",
        "vm-memory",
        "naive",
        "memcpy",
        "GB/s",
        "/memcpy",
        "/vm-mem",
        "allocs",
        "floor",
        "fl/mcpy",
        "vm/fl",
        "wfloor",
        "wf/mcpy",
        "sfloor",
        "sf/mcpy"
    );
}

/// The targets met and missed so far.
struct Verdicts {
    met: usize,
    missed: Vec<String>,
}

/// One target check: (target, ratio, what bounds the ratio (said when it is
/// missed), what the ratio is against).
type Check<'a> = (Option<f64>, Option<f64>, String, &'a str);

/// Judges the ratios of one row against the targets; returns the
/// row's verdict column.
fn judge(
    verdicts: &mut Verdicts,
    plane: Plane,
    density: Density,
    ratios: [Check<'_>; 2],
) -> String {
    let mut row = Vec::new();
    for (target, ratio, bound, what) in ratios {
        if let (Some(target), Some(ratio)) = (target, ratio) {
            let ok = ratio >= target;
            row.push(format!(
                "{what}>={target}:{}",
                if ok { "ok" } else { "MISS" }
            ));
            if ok {
                verdicts.met += 1;
            } else {
                verdicts.missed.push(format!(
                    "{} {} {what}: {ratio:.2}x < {target}x{bound}",
                    plane.name, density.label
                ));
            }
        }
    }
    row.join(" ")
}

/// One row of the harvest table: `plane` at `density`, `memcpy` being the
/// plane's memcpy time.
fn print_harvest_row(
    verdicts: &mut Verdicts,
    allocs: &AllocTable,
    plane: Plane,
    density: Density,
    memcpy: Option<f64>,
) {
    let bytes = plane.bytes() as f64;
    let get = |which: Impl| median_ns(&harvest_key(plane, which.name(), density.label));
    let (ours, vm, naive) = (get(Impl::Ours), get(Impl::VmMemory), get(Impl::Naive));
    let vs_memcpy = ours.zip(memcpy).map(|(o, m)| m / o);
    let vs_vm = ours.zip(vm).map(|(o, v)| v / o);
    let floor = median_ns(&harvest_key(plane, "floor", density.label));
    let floor_memcpy = floor.zip(memcpy).map(|(f, m)| m / f);
    let vm_floor = floor.zip(vm).map(|(f, v)| v / f);
    let wfloor = median_ns(&harvest_key(plane, "wfloor", density.label));
    let wfloor_memcpy = wfloor.zip(memcpy).map(|(f, m)| m / f);
    let sfloor = median_ns(&harvest_key(plane, "sfloor", density.label));
    let sfloor_memcpy = sfloor.zip(memcpy).map(|(f, m)| m / f);
    let (t_memcpy, t_vm) = targets(plane, density.label);
    let memcpy_bound = match (floor_memcpy, wfloor_memcpy, sfloor_memcpy) {
        (Some(f), Some(w), Some(sc)) => format!(
            " (the old protocol's swap floor: {f:.2}x; the write floor: {w:.2}x, scattered: {sc:.2}x)"
        ),
        _ => String::new(),
    };
    let vm_bound = vm_floor.map_or_else(String::new, |b| {
        format!(" (vm-memory over the old protocol's swap floor: {b:.2}x)")
    });
    let verdict = judge(
        verdicts,
        plane,
        density,
        [
            (t_memcpy, vs_memcpy, memcpy_bound, "memcpy"),
            (t_vm, vs_vm, vm_bound, "vm"),
        ],
    );
    let alloc = |which: Impl| {
        allocs
            .get(&(plane.name.to_owned(), which.name(), density.label))
            .map_or_else(|| "-".to_owned(), u64::to_string)
    };
    println!(
        "{:<24} {:>5} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}  {:<8} {:>10} {:>8} {:>8} {:>10} {:>8} {:>10} {:>8}  {}",
        format!("{} ({} KiB)", plane.name, plane.bytes() / 1024),
        density.label,
        opt(ours.map(time)),
        opt(ours.map(|o| format!("{:.1}", bytes / o))),
        opt(vm.map(time)),
        opt(naive.map(time)),
        opt(memcpy.map(time)),
        opt(memcpy.map(|m| format!("{:.1}", bytes / m))),
        opt(vs_memcpy.map(|r| format!("{r:.2}x"))),
        opt(vs_vm.map(|r| format!("{r:.1}x"))),
        format!("{}/{}", alloc(Impl::Ours), alloc(Impl::VmMemory)),
        opt(floor.map(time)),
        opt(floor_memcpy.map(|r| format!("{r:.2}x"))),
        opt(vm_floor.map(|r| format!("{r:.1}x"))),
        opt(wfloor.map(time)),
        opt(wfloor_memcpy.map(|r| format!("{r:.2}x"))),
        opt(sfloor.map(time)),
        opt(sfloor_memcpy.map(|r| format!("{r:.2}x"))),
        verdict,
    );
}

/// The mark table: pages per second for one thread and two threads
/// (disjoint and same words), and issue 20's targets on them.
fn print_mark_table(verdicts: &mut Verdicts) {
    println!();
    println!("== mark: gpup_sw_mark_dirty, one 4 KiB page per call (16 GiB segment, tracked) ==");
    println!(
        "pages per second (all threads); a clearing harvest before each pass over 65536 pages, so marks find bits clear"
    );
    println!();
    println!(
        "{:<12} {:>14} {:>14} {:>14} {:>9} {:>9}  targets",
        "threads", "ours", "vm-memory", "naive", "ours/vm", "vs 1thr"
    );
    let rate = |name: &str, suffix: &str, threads: u64| {
        median_ns(&format!("mark/{name}/{suffix}")).map(|ns| threads as f64 * 1e9 / ns)
    };
    let one = rate("ours", "1", 1);
    for (threads, _, suffix) in MARK_CASES {
        let (ours, vm, naive) = (
            rate("ours", suffix, threads),
            rate("vm-memory", suffix, threads),
            rate("naive", suffix, threads),
        );
        let vs_vm = ours.zip(vm).map(|(o, v)| o / v);
        let vs_one = ours.zip(one).map(|(o, b)| o / b);
        let (target, ratio, what) = match suffix {
            "1" => (0.5, vs_vm, "vm"),
            "2-disjoint" => (1.6, vs_one, "1thr"),
            _ => (1.0, vs_one, "1thr"),
        };
        let verdict = match ratio {
            Some(r) if r >= target => {
                verdicts.met += 1;
                format!("{what}>={target}:ok")
            }
            Some(r) => {
                verdicts
                    .missed
                    .push(format!("mark {suffix} {what}: {r:.2}x < {target}x"));
                format!("{what}>={target}:MISS")
            }
            None => String::new(),
        };
        let mpps = |r: Option<f64>| opt(r.map(|r| format!("{:.1} M/s", r / 1e6)));
        println!(
            "{:<12} {:>14} {:>14} {:>14} {:>9} {:>9}  {}",
            suffix,
            mpps(ours),
            mpps(vm),
            mpps(naive),
            opt(vs_vm.map(|r| format!("{r:.2}x"))),
            opt(vs_one.map(|r| format!("{r:.2}x"))),
            verdict
        );
    }
}

/// The lifecycle table.
fn print_lifecycle_table() {
    println!();
    println!("== lifecycle: create + start + stop + destroy, 1 GiB of 4 KiB pages ==");
    for (name, what) in [("1range", "1 range"), ("64ranges", "64 ranges of 16 MiB")] {
        println!(
            "{:<22} {:>10}",
            what,
            opt(median_ns(&format!("lifecycle/{name}")).map(time))
        );
    }
}

/// Prints the harvest, mark and lifecycle tables and the targets missed.
pub(crate) fn print_tables(allocs: &AllocTable) {
    let mut verdicts = Verdicts {
        met: 0,
        missed: Vec::new(),
    };
    print_harvest_header();
    for plane in PLANES {
        let memcpy = median_ns(&harvest_key(plane, "memcpy", "-"));
        for density in DENSITIES {
            print_harvest_row(&mut verdicts, allocs, plane, density, memcpy);
        }
    }
    print_mark_table(&mut verdicts);
    print_lifecycle_table();
    let Verdicts { met, missed } = verdicts;

    println!();
    println!("targets met: {met} of {}", met + missed.len());
    for m in &missed {
        println!("  missed: {m}");
    }
}
