//! Resolves each path a module names to the module defining what it names,
//! giving the crate's reference graph.
//!
//! A path starts at the crate root (`crate`, `$crate`), the module itself
//! (`self`), its parent (`super`, repeated), or a name in the module's scope:
//! a child module, an item it defines, a name a `use` binds (followed to
//! where that `use` points, so re-exports resolve to the defining module),
//! or a name a glob import brings in. A first segment found nowhere is an
//! external crate, a prelude name, a generic or a local: not a reference.
//! Each further segment descends into a child module or follows a `use`
//! binding of the module reached; the first segment that is neither names
//! an item of (or inside) the module reached, which is the target: the
//! deepest module that exists on the path.

use std::collections::HashMap;

use crate::model::{Crate, Ref, RefKind};

/// How deep `use` chains are followed before giving up (a `use` cycle is a
/// compile error, but the scan is a superset of every configuration).
const MAX_DEPTH: usize = 24;

/// What a path prefix has reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A module; further segments descend into it.
    Module(usize),
    /// An item of this module; further segments are associated items.
    Item(usize),
}

impl Target {
    fn module(self) -> usize {
        match self {
            Target::Module(m) | Target::Item(m) => m,
        }
    }
}

/// One edge of the reference graph: module `from`'s code names an item of
/// module `to` through `via`.
#[derive(Clone, Debug)]
pub struct Edge {
    /// The module whose code holds the path.
    pub from: usize,
    /// The module defining what the path names.
    pub to: usize,
    /// The path, with its location.
    pub via: Ref,
}

/// Every edge of the crate's reference graph (a module naming itself is
/// not an edge).
pub fn edges(krate: &Crate) -> Vec<Edge> {
    let mut resolver = Resolver::new(krate);
    let mut out = Vec::new();
    for (from, module) in krate.modules.iter().enumerate() {
        for r in &module.refs {
            let to = match (r.kind, r.segs.as_slice()) {
                (RefKind::Include, _) => r.include_owner,
                (RefKind::GlobName, [name]) => resolver.glob_name(from, name),
                _ => resolver.resolve(from, &r.segs),
            };
            if let Some(to) = to.filter(|&to| to != from) {
                out.push(Edge {
                    from,
                    to,
                    via: r.clone(),
                });
            }
        }
    }
    out
}

/// The module defining what `segs`, written in module `ctx`, names; `None`
/// for a path leaving the crate.
pub fn resolve(krate: &Crate, ctx: usize, segs: &[String]) -> Option<usize> {
    Resolver::new(krate).resolve(ctx, segs)
}

/// Path resolution with each name lookup done once: `use` chains and globs
/// (`use super::*` in every child) would otherwise be walked again and
/// again, and a glob cycle forever.
pub struct Resolver<'a> {
    krate: &'a Crate,
    /// `(module, name)` → what it means there; `None` while being looked up,
    /// so a lookup that comes back to itself finds nothing.
    memo: HashMap<(usize, String), Option<Target>>,
}

impl<'a> Resolver<'a> {
    /// A resolver over `krate`.
    pub fn new(krate: &'a Crate) -> Self {
        Resolver {
            krate,
            memo: HashMap::new(),
        }
    }

    /// The module defining what `segs`, written in module `ctx`, names.
    pub fn resolve(&mut self, ctx: usize, segs: &[String]) -> Option<usize> {
        self.resolve_at(ctx, segs, 0).map(Target::module)
    }

    /// The module defining `name`, used alone in module `m`, when only a
    /// glob import of `m` brings it into scope (an item of `m` or an
    /// explicit `use` shadows globs; a module cannot be used alone).
    pub fn glob_name(&mut self, m: usize, name: &str) -> Option<usize> {
        let krate = self.krate;
        let module = krate.modules.get(m)?;
        if module.items.contains(name) || module.bindings.iter().any(|b| b.name == name) {
            return None;
        }
        for glob in &module.globs {
            if let Some(Target::Module(g)) = self.resolve_at(m, glob, 0)
                && g != m
                && let Some(Target::Item(t)) = self.lookup(g, name, 0)
            {
                return Some(t);
            }
        }
        None
    }

    fn resolve_at(&mut self, ctx: usize, segs: &[String], depth: usize) -> Option<Target> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (first, rest) = segs.split_first()?;
        let parent = |m: usize| self.krate.modules.get(m).and_then(|x| x.parent);
        let mut cur = match first.as_str() {
            "crate" | "$crate" => Target::Module(0),
            "self" => Target::Module(ctx),
            "super" => Target::Module(parent(ctx)?),
            name => self.lookup(ctx, name, depth)?,
        };
        for seg in rest {
            let Target::Module(m) = cur else { break };
            cur = match seg.as_str() {
                "self" => cur,
                "super" => Target::Module(self.krate.modules.get(m)?.parent.unwrap_or(m)),
                name => self.lookup(m, name, depth).unwrap_or(Target::Item(m)),
            };
        }
        Some(cur)
    }

    /// What `name` means in module `m`'s scope.
    fn lookup(&mut self, m: usize, name: &str, depth: usize) -> Option<Target> {
        let key = (m, name.to_owned());
        if let Some(known) = self.memo.get(&key) {
            return *known;
        }
        self.memo.insert(key.clone(), None);
        let found = self.lookup_uncached(m, name, depth);
        self.memo.insert(key, found);
        found
    }

    fn lookup_uncached(&mut self, m: usize, name: &str, depth: usize) -> Option<Target> {
        let krate = self.krate;
        let module = krate.modules.get(m)?;
        if let Some(&child) = module.children.get(name) {
            return Some(Target::Module(child));
        }
        if module.items.contains(name) {
            return Some(Target::Item(m));
        }
        for b in module.bindings.iter().filter(|b| b.name == name) {
            if let Some(t) = self.resolve_at(m, &b.segs, depth + 1) {
                return Some(t);
            }
        }
        for glob in &module.globs {
            if let Some(Target::Module(g)) = self.resolve_at(m, glob, depth + 1)
                && g != m
                && let Some(t) = self.lookup(g, name, depth + 1)
            {
                return Some(t);
            }
        }
        None
    }
}
