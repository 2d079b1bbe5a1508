//! The three rules over a crate's reference graph and files. See the crate
//! documentation for their exact statement.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Config, Layers};
use crate::model::{Crate, Loc};
use crate::resolve::Edge;

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// `cycle`, `upward`, `sibling`, `unranked`, `file-size`, `fn-size`, `error`.
    pub kind: &'static str,
    /// Where (for a cycle: its first edge).
    pub loc: Loc,
    /// The full explanation.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// The child of `ancestor` on the way down to `m`, if `m` is strictly below it.
fn child_towards(krate: &Crate, ancestor: usize, m: usize) -> Option<usize> {
    let chain = krate.ancestry(m);
    let at = chain.iter().position(|&x| x == ancestor)?;
    chain.get(at + 1).copied()
}

/// The lowest common ancestor of two modules.
fn common_ancestor(krate: &Crate, a: usize, b: usize) -> usize {
    let (ca, cb) = (krate.ancestry(a), krate.ancestry(b));
    ca.iter()
        .zip(cb.iter())
        .take_while(|(x, y)| x == y)
        .last()
        .map_or(0, |(x, _)| *x)
}

/// Rule 1: the sibling graph under every module is acyclic.
pub fn sibling_cycles(krate: &Crate, edges: &[Edge]) -> Vec<Violation> {
    // parent → (child, child) → the references making that sibling edge.
    let mut graphs: BTreeMap<usize, BTreeMap<(usize, usize), Vec<&Edge>>> = BTreeMap::new();
    for e in edges {
        let parent = common_ancestor(krate, e.from, e.to);
        if let (Some(a), Some(b)) = (
            child_towards(krate, parent, e.from),
            child_towards(krate, parent, e.to),
        ) {
            graphs
                .entry(parent)
                .or_default()
                .entry((a, b))
                .or_default()
                .push(e);
        }
    }
    let mut out = Vec::new();
    for (parent, graph) in &graphs {
        let succ = |n: usize| graph.keys().filter(move |(a, _)| *a == n).map(|&(_, b)| b);
        let nodes: BTreeSet<usize> = graph.keys().flat_map(|&(a, b)| [a, b]).collect();
        let reach: BTreeMap<usize, BTreeSet<usize>> =
            nodes.iter().map(|&n| (n, reachable(n, &succ))).collect();
        let mut done = BTreeSet::new();
        for &n in &nodes {
            let Some(from_n) = reach.get(&n) else {
                continue;
            };
            let scc: BTreeSet<usize> = from_n
                .iter()
                .copied()
                .filter(|m| reach.get(m).is_some_and(|r| r.contains(&n)))
                .collect();
            if scc.len() < 2 || !done.insert(scc.iter().copied().min().unwrap_or(n)) {
                continue;
            }
            out.push(cycle_violation(krate, *parent, &scc, graph, &succ));
        }
    }
    out
}

/// Nodes reachable from `start` in one or more steps (`start` included only
/// if on a cycle).
fn reachable<I: Iterator<Item = usize>>(
    start: usize,
    succ: &impl Fn(usize) -> I,
) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<usize> = succ(start).collect();
    while let Some(n) = queue.pop_front() {
        if seen.insert(n) {
            queue.extend(succ(n));
        }
    }
    seen
}

/// A shortest cycle through `start` inside `scc`.
fn shortest_cycle<I: Iterator<Item = usize>>(
    start: usize,
    scc: &BTreeSet<usize>,
    succ: &impl Fn(usize) -> I,
) -> Vec<usize> {
    let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in succ(n).filter(|m| scc.contains(m)) {
            if m == start {
                let mut path = vec![n];
                while let Some(&p) = path.last().and_then(|l| prev.get(l)) {
                    path.push(p);
                }
                path.reverse();
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(v) = prev.entry(m) {
                v.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start]
}

fn cycle_violation<I: Iterator<Item = usize>>(
    krate: &Crate,
    parent: usize,
    scc: &BTreeSet<usize>,
    graph: &BTreeMap<(usize, usize), Vec<&Edge>>,
    succ: &impl Fn(usize) -> I,
) -> Violation {
    let start = scc.iter().copied().min().unwrap_or(parent);
    let cycle = shortest_cycle(start, scc, succ);
    let name = |m: usize| {
        krate
            .modules
            .get(m)
            .map_or("?".to_owned(), |x| x.name.clone())
    };
    let mut names: Vec<String> = cycle.iter().map(|&m| name(m)).collect();
    names.push(name(start));
    let mut message = format!(
        "{} under {}: {}",
        krate.label(),
        krate.path_of(parent),
        names.join(" -> ")
    );
    let mut loc = None;
    for ((a, b), refs) in graph
        .iter()
        .filter(|((a, b), _)| scc.contains(a) && scc.contains(b))
    {
        let Some(first) = refs.first() else { continue };
        loc.get_or_insert_with(|| first.via.loc.clone());
        let more = if refs.len() > 1 {
            format!(" (+{} more)", refs.len() - 1)
        } else {
            String::new()
        };
        message.push_str(&format!(
            "\n    {} -> {}: {} via {}{more}",
            name(*a),
            name(*b),
            first.via.loc,
            first.via.text()
        ));
    }
    let loc = loc.unwrap_or(Loc {
        file: krate
            .modules
            .first()
            .map(|m| m.file.clone())
            .unwrap_or_default(),
        line: 1,
    });
    Violation {
        kind: "cycle",
        loc,
        message,
    }
}

/// The deepest layer entry covering module `m`: its index in `layers.ranks`.
fn entry_of(krate: &Crate, layers: &Layers, m: usize) -> Option<usize> {
    let names: Vec<&str> = krate
        .ancestry(m)
        .iter()
        .skip(1)
        .filter_map(|&i| krate.modules.get(i))
        .map(|x| x.name.as_str())
        .collect();
    layers
        .ranks
        .iter()
        .enumerate()
        .filter(|(_, (path, _))| {
            path.len() <= names.len() && path.iter().zip(&names).all(|(a, b)| a == b)
        })
        .max_by_key(|(_, (path, _))| path.len())
        .map(|(i, _)| i)
}

/// Rule 2: the layer order of a crate with a layer table.
pub fn layer_order(krate: &Crate, layers: &Layers, edges: &[Edge]) -> Vec<Violation> {
    let mut out = Vec::new();
    let root = krate.modules.first();
    for &child in root
        .map(|r| r.children.values().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if entry_of(krate, layers, child).is_none() {
            let Some(m) = krate.modules.get(child) else {
                continue;
            };
            out.push(Violation {
                kind: "unranked",
                loc: Loc { file: m.file.clone(), line: m.line },
                message: format!(
                    "{}:{} module `{}` of {} has no rank in layer-check/layers.toml: place it in a layer",
                    m.file,
                    m.line,
                    m.name,
                    krate.label()
                ),
            });
        }
    }
    let entry_name = |i: usize| {
        layers
            .ranks
            .get(i)
            .map(|(p, _)| p.join("::"))
            .unwrap_or_default()
    };
    for e in edges.iter().filter(|e| e.from != 0 && e.to != 0) {
        let (Some(ef), Some(et)) = (
            entry_of(krate, layers, e.from),
            entry_of(krate, layers, e.to),
        ) else {
            continue;
        };
        let (Some((_, rf)), Some((_, rt))) = (layers.ranks.get(ef), layers.ranks.get(et)) else {
            continue;
        };
        let allowed = layers
            .may_use
            .get(&entry_name(ef))
            .is_some_and(|l| l.contains(&entry_name(et)));
        if ef == et || allowed || rf > rt {
            continue;
        }
        let kind = if rf < rt { "upward" } else { "sibling" };
        out.push(Violation {
            kind,
            loc: e.via.loc.clone(),
            message: format!(
                "{} {} ({rf}) -> {} ({rt}) via {}",
                e.via.loc,
                entry_name(ef),
                entry_name(et),
                e.via.text()
            ),
        });
    }
    out
}

/// Rule 3: file and function sizes.
pub fn sizes(krate: &Crate, config: &Config) -> Vec<Violation> {
    let mut out = Vec::new();
    for (file, &lines) in &krate.files {
        if lines > config.file_lines && !config.exempt.contains_key(file) {
            out.push(Violation {
                kind: "file-size",
                loc: Loc {
                    file: file.clone(),
                    line: 1,
                },
                message: format!("{file} has {lines} lines (limit {})", config.file_lines),
            });
        }
    }
    for f in &krate.fns {
        if f.lines > config.fn_lines && !config.exempt.contains_key(&f.loc.file) {
            out.push(Violation {
                kind: "fn-size",
                loc: f.loc.clone(),
                message: format!(
                    "{} fn {} is {} lines (limit {})",
                    f.loc, f.name, f.lines, config.fn_lines
                ),
            });
        }
    }
    out
}
