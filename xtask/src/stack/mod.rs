//! The stack check of `cargo xtask check-image`: the stack a kernel thread
//! needs for each entry point of the image, computed from the image itself
//! (see `docs/image-checks.md`).
//!
//! - names: the linker map `rust-lld` writes beside the image ([`map`]);
//! - frames: the `.pdata`/`UNWIND_INFO` of each function ([`unwind`]);
//! - calls: disassembly with `iced-x86`, direct calls, tail jumps, import
//!   calls and indirect calls with the functions they can reach ([`graph`]);
//! - entry points: `DriverEntry` and every function of the driver's `ddi`
//!   module whose address the image takes (the `DRIVER_INITIALIZATION_DATA`
//!   slots DriverEntry fills and the interface tables QueryInterface hands
//!   out: Dxgkrnl calls them, never the driver);
//! - it fails on any cycle (recursion, mutual included), on a frame over
//!   [`Limits::frame`], on an entry point's deepest chain over
//!   [`Limits::chain`], and on an indirect call whose targets are not
//!   determined unless its function is in [`ALLOWED`].

pub mod demo;
mod depth;
mod graph;
mod indirect;
pub mod map;
mod unwind;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use graph::{Graph, Reach};

/// The budget.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest frame of any one function, bytes.
    pub frame: u64,
    /// Largest deepest chain of an entry point, bytes (of a 24 KiB x64
    /// kernel stack: the rest is Dxgkrnl's, the kernel's and interrupts').
    pub chain: u64,
}

/// The budget of the miniport's image.
pub const LIMITS: Limits = Limits {
    frame: 4096,
    chain: 8192,
};

/// What an allow-listed indirect call reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaches {
    /// A routine outside the image (ntoskrnl's, Dxgkrnl's): nothing in the
    /// image's chains; its own stack use is the kernel's budget.
    Kernel,
    /// A formatting function of `core::fmt::Arguments`: any function whose
    /// address the image takes and whose name ends in `::fmt`.
    Formatters,
}

/// An indirect call whose targets the disassembly cannot determine,
/// accepted for a reason.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// The calling function's name starts with this.
    pub function: &'static str,
    /// The target's origin (as the report prints it) contains this.
    pub origin: &'static str,
    /// What it reaches.
    pub reaches: Reaches,
    /// Why that is all it can reach.
    pub reason: &'static str,
}

/// The miniport's allow-list.
pub const ALLOWED: &[Allowed] = &[
    Allowed {
        function: "DriverEntry",
        origin: "pointer at [rsp+",
        reaches: Reaches::Kernel,
        reason: "DxgkInitialize, the entry Dxgkrnl returns to IOCTL_VIDEO_DDI_FUNC_REGISTER (kernel::raw)",
    },
    Allowed {
        function: "gpup_miniport::ddi::device::DxgkDdiStartDevice",
        origin: "pointer at [rsp+",
        reaches: Reaches::Kernel,
        reason: "DxgkCbGetDeviceInformation from the DXGKRNL_INTERFACE Dxgkrnl hands StartDevice",
    },
    Allowed {
        function: "gpup_miniport::migration::restore::Rejection::report",
        origin: "",
        reaches: Reaches::Kernel,
        reason: "DxgkCbLogEtwEvent from the DXGKRNL_INTERFACE (KernelInterface::log_etw_event)",
    },
    Allowed {
        function: "gpup_miniport::ddi::migration::DxgkDdiRestore",
        origin: "pointer at [",
        reaches: Reaches::Kernel,
        reason: "DxgkCbLogEtwEvent from the DXGKRNL_INTERFACE (Rejection::report, inlined)",
    },
    Allowed {
        // Any caller: the allocator is inlined wherever the driver allocates
        // (vectors, the ERESOURCE blocks of kernel::resource); the origin
        // names the one pointer it can be.
        function: "",
        origin: "pointer in gpup_miniport::kernel::raw::pool::EX_ALLOCATE_POOL2",
        reaches: Reaches::Kernel,
        reason: "ExAllocatePool2, looked up with MmGetSystemRoutineAddress at load (kernel::raw::pool)",
    },
    Allowed {
        function: "",
        origin: "pointer in gpup_miniport::kernel::raw::clock::KE_QUERY_PERFORMANCE_COUNTER",
        reaches: Reaches::Kernel,
        reason: "KeQueryPerformanceCounter, looked up with MmGetSystemRoutineAddress at load (kernel::raw::clock; CalibrateGpuClock)",
    },
    Allowed {
        function: "",
        origin: "pointer in gpup_miniport::kernel::physmap::win::MM_ALLOCATE_MAPPING_ADDRESS",
        reaches: Reaches::Kernel,
        reason: "MmAllocateMappingAddress, looked up with MmGetSystemRoutineAddress at engine attach (kernel::physmap; the segment-0 window)",
    },
    Allowed {
        function: "",
        origin: "pointer in gpup_miniport::kernel::physmap::win::MM_FREE_MAPPING_ADDRESS",
        reaches: Reaches::Kernel,
        reason: "MmFreeMappingAddress, looked up at engine attach (kernel::physmap; the window freed at detach)",
    },
    Allowed {
        function: "",
        origin: "pointer in gpup_miniport::kernel::physmap::win::MM_MAP_LOCKED_PAGES_WITH_RESERVED_MAPPING",
        reaches: Reaches::Kernel,
        reason: "MmMapLockedPagesWithReservedMapping, looked up at engine attach (kernel::physmap; one page per access on the worker)",
    },
    Allowed {
        function: "",
        origin: "pointer in gpup_miniport::kernel::physmap::win::MM_UNMAP_RESERVED_MAPPING",
        reaches: Reaches::Kernel,
        reason: "MmUnmapReservedMapping, looked up at engine attach (kernel::physmap; after each page's copy)",
    },
    Allowed {
        function: "",
        origin: "import ntoskrnl.exe!",
        reaches: Reaches::Kernel,
        reason: "an ntoskrnl routine of the import table whose address was loaded into a register before the call (e.g. ExFreePoolWithTag in a loop)",
    },
    Allowed {
        function: "gpup_miniport::kernel::interface::KernelInterface::synchronize_execution",
        origin: "",
        reaches: Reaches::Kernel,
        reason: "DxgkCbSynchronizeExecution from the DXGKRNL_INTERFACE (the engine's completion path)",
    },
    Allowed {
        function: "gpup_miniport::kernel::interface::KernelInterface::notify_interrupt",
        origin: "",
        reaches: Reaches::Kernel,
        reason: "DxgkCbNotifyInterrupt from the DXGKRNL_INTERFACE (inside the synchronised routine)",
    },
    Allowed {
        function: "gpup_miniport::kernel::interface::KernelInterface::queue_dpc",
        origin: "",
        reaches: Reaches::Kernel,
        reason: "DxgkCbQueueDpc from the DXGKRNL_INTERFACE (inside the synchronised routine)",
    },
    Allowed {
        function: "gpup_miniport::kernel::interface::KernelInterface::notify_dpc",
        origin: "",
        reaches: Reaches::Kernel,
        reason: "DxgkCbNotifyDpc from the DXGKRNL_INTERFACE (the DPC routine)",
    },
    Allowed {
        function: "core::fmt::write",
        origin: "pointer at [",
        reaches: Reaches::Formatters,
        reason: "the formatting function of each core::fmt::Argument (the trace's arguments)",
    },
];

/// What the stack check found.
#[derive(Debug, Clone, Default)]
pub struct StackReport {
    /// Human-readable lines.
    pub lines: Vec<String>,
    /// Why it fails (empty when it passes).
    pub failures: Vec<String>,
    /// Entry points and their deepest chains, deepest first.
    pub chains: Vec<(u64, Vec<(String, u32)>)>,
}

impl StackReport {
    /// Whether the image is within the budget.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Whether `name` is one of the functions a panic ends in.
pub fn is_panic_function(name: &str) -> bool {
    name.starts_with("core::panicking::")
        || name.contains("rust_begin_unwind")
        || name.starts_with("core::slice::index::")
        || name.contains("len_mismatch_fail")
        || name.starts_with("core::option::unwrap_failed")
        || name.starts_with("core::option::expect_failed")
        || name.starts_with("core::result::unwrap_failed")
        || name.starts_with("alloc::raw_vec::handle_error")
        || name.starts_with("alloc::raw_vec::capacity_overflow")
        || name.starts_with("alloc::alloc::handle_alloc_error")
        || name.contains("panic_bounds_check")
}

/// Runs the stack check on `data` (the image) with the names of `map_text`.
///
/// # Errors
/// If the image or the map cannot be read (a failed check is not an error:
/// see [`StackReport::failures`]).
pub fn check(
    data: &[u8],
    map_text: &str,
    limits: &Limits,
    allowed: &[Allowed],
) -> Result<StackReport, String> {
    let map = map::parse(map_text)?;
    let mut graph = graph::build(data, &map)?;
    // Allow-listed formatter calls reach every formatter: cycles and depth
    // follow them.
    let fmt = formatters(&graph);
    for function in &mut graph.functions {
        let name = function.name.clone();
        for site in &mut function.indirect {
            let class = find_allowed(allowed, &name, &site.origin).map(|a| a.reaches);
            if site.reach == Reach::Unresolved && class == Some(Reaches::Formatters) {
                site.reach = Reach::Functions(fmt.clone());
                site.origin = format!("{} (allow-listed: formatters)", site.origin);
            }
        }
    }
    let mut report = StackReport::default();
    let roots = roots(&graph, &mut report)?;
    let cycles = depth::cycles(&graph);
    let cyclic: BTreeSet<usize> = cycles.iter().flatten().copied().collect();
    let (depths, next) = depth::deepest(&graph, &cyclic);
    summary(&graph, &roots, &mut report);
    recursion(&graph, &cycles, &mut report);
    frames(&graph, limits, &mut report);
    chains(&graph, &roots, &depths, &next, limits, &mut report);
    indirect(&graph, &depths, allowed, &mut report);
    stale(&graph, allowed, &mut report);
    panics(&graph, &roots, &mut report);
    Ok(report)
}

/// `DriverEntry` and the address-taken functions of the `ddi` module.
fn roots(graph: &Graph, report: &mut StackReport) -> Result<Vec<usize>, String> {
    let entry = graph
        .named("DriverEntry")
        .ok_or("the map names no DriverEntry")?;
    let mut roots = vec![entry];
    roots.extend(
        graph
            .address_taken
            .iter()
            .copied()
            .filter(|&f| graph.functions[f].name.starts_with("gpup_miniport::ddi::")),
    );
    // Every DDI the driver defines must be found as an entry point.
    for (f, function) in graph.functions.iter().enumerate() {
        let last = function.name.rsplit("::").next().unwrap_or_default();
        if last.starts_with("DxgkDdi") && !roots.contains(&f) {
            report.failures.push(format!(
                "{} is in the image but its address is not taken",
                function.name
            ));
        }
    }
    Ok(roots)
}

fn summary(graph: &Graph, roots: &[usize], report: &mut StackReport) {
    let with_frame = graph.functions.iter().filter(|f| f.frame > 8).count();
    let calls: usize = graph.functions.iter().map(|f| f.calls.len()).sum();
    let tails: usize = graph.functions.iter().map(|f| f.tails.len()).sum();
    let indirect: usize = graph.functions.iter().map(|f| f.indirect.len()).sum();
    let imports: BTreeSet<&String> = graph.functions.iter().flat_map(|f| &f.imports).collect();
    report.lines.push(format!(
        "{} functions ({with_frame} with a .pdata frame); {calls} call edges, {tails} tail-jump edges, {indirect} indirect call sites, {} imports called",
        graph.functions.len(),
        imports.len()
    ));
    report.lines.push(format!(
        "entry points: {} (DriverEntry + {} DDI and interface functions whose address the image hands out)",
        roots.len(),
        roots.len() - 1
    ));
}

fn recursion(graph: &Graph, cycles: &[Vec<usize>], report: &mut StackReport) {
    if cycles.is_empty() {
        report
            .lines
            .push("ok   no recursion (no cycle in the call graph)".into());
        return;
    }
    for cycle in cycles {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&f| graph.functions[f].name.as_str())
            .collect();
        let line = format!(
            "recursion: a cycle of {} function(s): {}",
            cycle.len(),
            names.join(" <-> ")
        );
        report.lines.push(format!("FAIL {line}"));
        report.failures.push(line);
    }
}

fn frames(graph: &Graph, limits: &Limits, report: &mut StackReport) {
    let mut over = false;
    for function in &graph.functions {
        if u64::from(function.frame) > limits.frame {
            let line = format!(
                "frame of {} bytes > {}: {}",
                function.frame, limits.frame, function.name
            );
            report.lines.push(format!("FAIL {line}"));
            report.failures.push(line);
            over = true;
        }
    }
    if let Some(largest) = graph.functions.iter().max_by_key(|f| f.frame)
        && !over
    {
        report.lines.push(format!(
            "ok   every frame <= {} bytes (largest {}: {})",
            limits.frame, largest.frame, largest.name
        ));
    }
}

fn chains(
    graph: &Graph,
    roots: &[usize],
    depths: &[u64],
    next: &[Option<usize>],
    limits: &Limits,
    report: &mut StackReport,
) {
    let mut all: Vec<(u64, usize)> = roots.iter().map(|&r| (depths[r], r)).collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut over = false;
    for &(d, r) in &all {
        if d > limits.chain {
            let line = format!(
                "chain of {d} bytes > {} from {}",
                limits.chain, graph.functions[r].name
            );
            report.lines.push(format!("FAIL {line}"));
            report.failures.push(line);
            over = true;
        }
    }
    if !over && let Some(&(d, r)) = all.first() {
        report.lines.push(format!(
            "ok   every entry point's deepest chain <= {} bytes (deepest {d}: {})",
            limits.chain, graph.functions[r].name
        ));
    }
    report.chains = all
        .iter()
        .map(|&(d, r)| {
            let chain = depth::chain(next, r)
                .into_iter()
                .map(|f| (graph.functions[f].name.clone(), graph.functions[f].frame))
                .collect();
            (d, chain)
        })
        .collect();
    report.lines.push(
        "the ten deepest entry-point chains (bytes: frame per function, return address included):"
            .into(),
    );
    for (i, (d, chain)) in report.chains.clone().iter().take(10).enumerate() {
        report.lines.push(format!("{:>3}. total {d} bytes:", i + 1));
        for (name, frame) in chain {
            report.lines.push(format!("      {frame:>5}  {name}"));
        }
    }
}

fn indirect(graph: &Graph, depths: &[u64], allowed: &[Allowed], report: &mut StackReport) {
    report
        .lines
        .push("indirect calls (site, operand: what it reaches, bounded by the deepest):".into());
    for function in &graph.functions {
        for site in &function.indirect {
            let kind = if site.tail { "jmp" } else { "call" };
            let head = format!(
                "  {:#x} {kind} {} ({}) in {}",
                site.at, site.operand, site.origin, function.name
            );
            match &site.reach {
                Reach::Functions(targets) => {
                    let deepest = targets.iter().max_by_key(|&&t| depths[t]).copied();
                    let slot = site
                        .slot
                        .map(|s| format!("vtable slot {s:#x}, "))
                        .unwrap_or_default();
                    report.lines.push(format!(
                        "{head}: {slot}{} target(s), deepest {} bytes ({})",
                        targets.len(),
                        deepest.map_or(0, |t| depths[t]),
                        deepest.map_or("", |t| graph.functions[t].name.as_str())
                    ));
                    let names: Vec<&str> = targets
                        .iter()
                        .map(|&t| graph.functions[t].name.as_str())
                        .collect();
                    report.lines.push(format!("      -> {}", names.join(", ")));
                }
                Reach::Unresolved => match find_allowed(allowed, &function.name, &site.origin) {
                    Some(a) if a.reaches == Reaches::Formatters => {
                        let targets = formatters(graph);
                        let deepest = targets.iter().max_by_key(|&&t| depths[t]).copied();
                        report.lines.push(format!(
                            "{head}: allow-listed, {} formatter(s), deepest {} bytes ({}): {}",
                            targets.len(),
                            deepest.map_or(0, |t| depths[t]),
                            deepest.map_or("", |t| graph.functions[t].name.as_str()),
                            a.reason
                        ));
                    }
                    Some(a) => report.lines.push(format!(
                        "{head}: allow-listed, outside the image: {}",
                        a.reason
                    )),
                    None => {
                        let line = format!("{head}: targets not determined and not allow-listed");
                        report
                            .lines
                            .push(format!("FAIL{}", line.trim_start_matches(' ')));
                        report.failures.push(line.trim().to_owned());
                    }
                },
            }
        }
    }
}

/// Notes allow-list entries that match no indirect call of this image
/// (inlining moved the call, or it is gone): to review, not a failure.
fn stale(graph: &Graph, allowed: &[Allowed], report: &mut StackReport) {
    for a in allowed {
        let used = graph.functions.iter().any(|f| {
            f.name.starts_with(a.function) && f.indirect.iter().any(|s| s.origin.contains(a.origin))
        });
        if !used {
            report.lines.push(format!(
                "note: allow-list entry for {} ({:?}) matches no indirect call of this image",
                a.function, a.origin
            ));
        }
    }
}

/// The allow-list entry matching an unresolved call in `function`.
pub fn find_allowed<'a>(
    allowed: &'a [Allowed],
    function: &str,
    origin: &str,
) -> Option<&'a Allowed> {
    allowed
        .iter()
        .find(|a| function.starts_with(a.function) && origin.contains(a.origin))
}

/// The functions a `core::fmt::Argument` can hold: address-taken `fmt`s.
pub fn formatters(graph: &Graph) -> BTreeSet<usize> {
    graph
        .address_taken
        .iter()
        .copied()
        .filter(|&f| graph.functions[f].name.ends_with("::fmt"))
        .collect()
}

/// Calls into the panic machinery from functions an entry point reaches.
fn panics(graph: &Graph, roots: &[usize], report: &mut StackReport) {
    let panic: BTreeSet<usize> = (0..graph.functions.len())
        .filter(|&f| is_panic_function(&graph.functions[f].name))
        .collect();
    let mut seen = BTreeSet::new();
    let mut work: Vec<usize> = roots.to_vec();
    while let Some(f) = work.pop() {
        if panic.contains(&f) || !seen.insert(f) {
            continue;
        }
        work.extend(depth::successors(graph, f).into_iter().map(|(c, _)| c));
    }
    let mut edges = Vec::new();
    for &f in &seen {
        for (c, _) in depth::successors(graph, f) {
            if panic.contains(&c) {
                edges.push(format!(
                    "{} -> {}",
                    graph.functions[f].name, graph.functions[c].name
                ));
            }
        }
    }
    edges.sort();
    edges.dedup();
    report.lines.push(format!(
        "panic edges reachable from entry points: {} (caller -> panic function){}",
        edges.len(),
        if edges.is_empty() { "" } else { ":" }
    ));
    report
        .lines
        .extend(edges.into_iter().map(|e| format!("  {e}")));
}

/// The report as text.
pub fn render(report: &StackReport) -> String {
    let mut out = String::from(
        "stack check (frames from .pdata/UNWIND_INFO, calls from disassembly, names from the linker map)\n",
    );
    for line in &report.lines {
        let _ = writeln!(out, "  {line}");
    }
    out
}
