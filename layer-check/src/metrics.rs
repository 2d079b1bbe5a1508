//! Figures for a before/after comparison: lines per top-level module of each
//! crate, the largest files and functions, and where `unsafe` is.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{Crate, Loc, UnsafeKind};

/// How many of the largest files and functions to list.
const TOP: usize = 15;

/// The top-level module (child of the root) holding module `m`, or the
/// root itself.
fn top_level(krate: &Crate, m: usize) -> usize {
    krate.ancestry(m).get(1).copied().unwrap_or(0)
}

/// The module whose own file `file` is (the first one, for a file shared by
/// inline modules), if any.
fn module_of_file(krate: &Crate, file: &str) -> Option<usize> {
    krate.modules.iter().position(|m| m.file == file)
}

fn top_name(krate: &Crate, top: usize) -> String {
    if top == 0 {
        "(crate root)".to_owned()
    } else {
        krate
            .modules
            .get(top)
            .map_or("?".to_owned(), |m| m.name.clone())
    }
}

/// Lines per top-level module of one crate, as report lines.
fn module_lines(krate: &Crate, out: &mut String) {
    let mut per_top: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    let mut total = 0;
    for (file, &lines) in &krate.files {
        let top = module_of_file(krate, file).map_or(0, |m| top_level(krate, m));
        let slot = per_top.entry(top).or_default();
        slot.0 += lines;
        slot.1 += 1;
        total += lines;
    }
    let _ = writeln!(
        out,
        "{}: {total} lines in {} files",
        krate.label(),
        krate.files.len()
    );
    if per_top.len() > 1 {
        for (top, (lines, files)) in &per_top {
            let _ = writeln!(
                out,
                "  {:<28} {lines:>6} lines {files:>3} files",
                top_name(krate, *top)
            );
        }
    }
}

/// The metrics report over the given crates.
pub fn report(crates: &[Crate]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== lines per module (top-level modules of each crate)");
    for k in crates {
        module_lines(k, &mut out);
    }
    let files: BTreeMap<&String, &usize> = crates.iter().flat_map(|k| k.files.iter()).collect();
    let total: usize = files.values().copied().sum();
    let _ = writeln!(
        out,
        "\n== largest files ({} distinct files, {total} lines)",
        files.len()
    );
    let mut by_size: Vec<_> = files.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (file, lines) in by_size.iter().take(TOP) {
        let _ = writeln!(out, "  {lines:>6}  {file}");
    }
    let fns: BTreeMap<&Loc, (&str, usize)> = crates
        .iter()
        .flat_map(|k| k.fns.iter())
        .map(|f| (&f.loc, (f.name.as_str(), f.lines)))
        .collect();
    let over = fns.values().filter(|(_, n)| *n > 100).count();
    let _ = writeln!(
        out,
        "\n== largest functions ({} distinct functions, {over} over 100 lines)",
        fns.len()
    );
    let mut by_len: Vec<_> = fns.into_iter().collect();
    by_len.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(b.0)));
    for (loc, (name, lines)) in by_len.iter().take(TOP) {
        let _ = writeln!(out, "  {lines:>6}  {loc} fn {name}");
    }
    unsafe_report(crates, &mut out);
    out
}

fn kind_name(k: UnsafeKind) -> &'static str {
    match k {
        UnsafeKind::Block => "blocks",
        UnsafeKind::Fn => "unsafe fns",
        UnsafeKind::Impl => "unsafe impls",
        UnsafeKind::Trait => "unsafe traits",
        UnsafeKind::Extern => "unsafe extern blocks",
    }
}

fn counts_text(counts: &BTreeMap<UnsafeKind, usize>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{n} {}", kind_name(*k)))
        .collect();
    parts.join(", ")
}

fn unsafe_report(crates: &[Crate], out: &mut String) {
    // Distinct sites (a file shared by several crates counts once).
    let sites: BTreeSet<(&Loc, UnsafeKind)> = crates
        .iter()
        .flat_map(|k| k.unsafes.iter())
        .map(|u| (&u.loc, u.kind))
        .collect();
    let mut totals: BTreeMap<UnsafeKind, usize> = BTreeMap::new();
    for (_, kind) in &sites {
        *totals.entry(*kind).or_default() += 1;
    }
    let _ = writeln!(out, "\n== unsafe: {}", counts_text(&totals));
    let _ = writeln!(out, "per top-level module:");
    for k in crates {
        let mut per_top: BTreeMap<usize, BTreeMap<UnsafeKind, usize>> = BTreeMap::new();
        for u in &k.unsafes {
            *per_top
                .entry(top_level(k, u.module))
                .or_default()
                .entry(u.kind)
                .or_default() += 1;
        }
        for (top, counts) in &per_top {
            let _ = writeln!(
                out,
                "  {}::{}: {}",
                k.label(),
                top_name(k, *top),
                counts_text(counts)
            );
        }
    }
    let _ = writeln!(out, "per file (lines):");
    let mut per_file: BTreeMap<&str, BTreeMap<UnsafeKind, Vec<usize>>> = BTreeMap::new();
    for (loc, kind) in &sites {
        per_file
            .entry(loc.file.as_str())
            .or_default()
            .entry(*kind)
            .or_default()
            .push(loc.line);
    }
    for (file, kinds) in per_file {
        let parts: Vec<String> = kinds
            .iter()
            .map(|(k, lines)| {
                let l: Vec<String> = lines.iter().map(ToString::to_string).collect();
                format!("{} {} at {}", lines.len(), kind_name(*k), l.join(","))
            })
            .collect();
        let _ = writeln!(out, "  {file}: {}", parts.join("; "));
    }
}
