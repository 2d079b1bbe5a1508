//! Recursion and depth over the call graph: the strongly connected
//! components (Tarjan's algorithm, written with an explicit stack) and, on
//! the acyclic graph, each function's deepest chain.

use std::collections::BTreeSet;

use super::graph::{Graph, Reach};

/// The functions `f` can enter next: `(callee, is_tail)`. Indirect calls
/// reach their resolved targets; unresolved ones reach nothing in the image
/// (the check fails on them unless allow-listed).
pub fn successors(graph: &Graph, f: usize) -> Vec<(usize, bool)> {
    let Some(function) = graph.functions.get(f) else {
        return Vec::new();
    };
    let mut out: Vec<(usize, bool)> = function.calls.iter().map(|&c| (c, false)).collect();
    out.extend(function.tails.iter().map(|&t| (t, true)));
    for site in &function.indirect {
        if let Reach::Functions(targets) = &site.reach {
            out.extend(targets.iter().map(|&t| (t, site.tail)));
        }
    }
    out
}

/// The cycles of the graph: every strongly connected component of more than
/// one function, and every function that enters itself.
pub fn cycles(graph: &Graph) -> Vec<Vec<usize>> {
    let n = graph.functions.len();
    let succ: Vec<Vec<usize>> = (0..n)
        .map(|f| successors(graph, f).into_iter().map(|(c, _)| c).collect())
        .collect();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, position in its successor list)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if let Some(&w) = succ[v].get(*i) {
                *i += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 || succ[v].contains(&v) {
                    component.sort_unstable();
                    out.push(component);
                }
            }
        }
    }
    out
}

/// Each function's deepest chain in bytes, and the next function on it.
/// Edges inside a cycle are not followed (the check has failed already).
/// A depth-first search with an explicit stack: a function is computed once
/// every successor not on the current path is.
pub fn deepest(graph: &Graph, cyclic: &BTreeSet<usize>) -> (Vec<u64>, Vec<Option<usize>>) {
    let n = graph.functions.len();
    let mut depth = vec![None::<u64>; n];
    let mut next = vec![None; n];
    let mut on_path = vec![false; n];
    let succ = |v: usize| -> Vec<(usize, bool)> {
        successors(graph, v)
            .into_iter()
            .filter(|&(c, _)| c != v && !(cyclic.contains(&v) && cyclic.contains(&c)))
            .collect()
    };
    for root in 0..n {
        let mut work = vec![(root, false)];
        while let Some(&(v, expanded)) = work.last() {
            if depth[v].is_some() {
                work.pop();
                continue;
            }
            if !expanded {
                if let Some(top) = work.last_mut() {
                    top.1 = true;
                }
                on_path[v] = true;
                for (c, _) in succ(v) {
                    if depth[c].is_none() && !on_path[c] {
                        work.push((c, false));
                    }
                }
                continue;
            }
            let frame = u64::from(graph.functions[v].frame);
            let mut best = (frame, None);
            for (c, tail) in succ(v) {
                let below = depth[c].unwrap_or(0);
                let total = if tail {
                    below.max(frame)
                } else {
                    frame + below
                };
                if total > best.0 {
                    best = (total, Some(c));
                }
            }
            depth[v] = Some(best.0);
            next[v] = best.1;
            on_path[v] = false;
            work.pop();
        }
    }
    (depth.into_iter().map(|d| d.unwrap_or(0)).collect(), next)
}

/// The chain from `f` down its deepest path.
pub fn chain(next: &[Option<usize>], f: usize) -> Vec<usize> {
    let mut out = vec![f];
    let mut at = f;
    while let Some(Some(c)) = next.get(at) {
        if out.contains(c) {
            break;
        }
        out.push(*c);
        at = *c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::graph::{Function, Indirect};

    fn function(name: &str, frame: u32, calls: &[usize], tails: &[usize]) -> Function {
        Function {
            name: name.into(),
            frame,
            calls: calls.iter().copied().collect(),
            tails: tails.iter().copied().collect(),
            ..Function::default()
        }
    }

    #[test]
    fn mutual_recursion_and_self_calls_are_cycles() {
        let graph = Graph {
            functions: vec![
                function("entry", 40, &[1, 3], &[]),
                function("ping", 32, &[2], &[]),
                function("pong", 32, &[1], &[]),
                function("self", 16, &[3], &[]),
                function("leaf", 8, &[], &[]),
            ],
            ..Graph::default()
        };
        assert_eq!(cycles(&graph), vec![vec![1, 2], vec![3]]);
    }

    #[test]
    fn the_deepest_chain_adds_frames_and_a_tail_jump_replaces_the_frame() {
        let mut graph = Graph {
            functions: vec![
                function("entry", 100, &[1, 2], &[]),
                function("shallow", 50, &[], &[]),
                function("deep", 200, &[3], &[]),
                function("leaf", 8, &[], &[]),
                function("tailer", 300, &[], &[3]),
            ],
            ..Graph::default()
        };
        let (depths, next) = deepest(&graph, &BTreeSet::new());
        assert_eq!(depths[0], 100 + 200 + 8);
        assert_eq!(chain(&next, 0), vec![0, 2, 3]);
        // A tail jump runs the target in place of the jumper's frame.
        assert_eq!(depths[4], 300);
        // An indirect call counts its deepest resolved target.
        graph.functions[1].indirect.push(Indirect {
            reach: Reach::Functions(BTreeSet::from([4])),
            ..Indirect::default()
        });
        let (depths, next) = deepest(&graph, &BTreeSet::new());
        assert_eq!(depths[0], 100 + 50 + 300);
        assert_eq!(chain(&next, 0), vec![0, 1, 4]);
    }
}
