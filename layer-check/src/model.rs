//! The data the scan produces and the rules read: one [`Crate`] per crate
//! root, its module tree, and every path each module's code names.

use std::collections::{BTreeMap, BTreeSet};

/// A position in the source: the file (relative to the checked root, `/`
/// separated) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    /// File relative to the root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// How a path was written; only changes the wording of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// A leaf of a `use` tree.
    Use,
    /// A path in an expression, type, pattern or bound.
    Inline,
    /// A path found in a macro invocation's tokens.
    Macro,
    /// A single name in code, which counts only when a glob import brings
    /// it in (an explicit `use` of it already counts on its own line).
    GlobName,
    /// A `#[path]` module or an `include!` of a file that belongs to another
    /// module of the same crate.
    Include,
}

/// One path written in a module.
#[derive(Clone, Debug)]
pub struct Ref {
    /// The segments as written (`crate`, `super`, `self` kept).
    pub segs: Vec<String>,
    /// Where it was written.
    pub loc: Loc,
    /// How it was written.
    pub kind: RefKind,
    /// For [`RefKind::Include`]: the module that owns the included file.
    pub include_owner: Option<usize>,
}

impl Ref {
    /// The path as text, e.g. `crate::ddi::entry::f`.
    pub fn text(&self) -> String {
        self.segs.join("::")
    }
}

/// A name a `use` brings into a module's scope.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The name in scope (after `as`).
    pub name: String,
    /// The full path it stands for.
    pub segs: Vec<String>,
}

/// One module of a crate.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// Its name (`crate` for the root).
    pub name: String,
    /// Its parent, `None` for the root.
    pub parent: Option<usize>,
    /// Child modules by name.
    pub children: BTreeMap<String, usize>,
    /// The file holding its `mod` body (for an inline module, the enclosing file).
    pub file: String,
    /// Where the module starts in that file.
    pub line: usize,
    /// Whether the module has a file of its own (not an inline `mod x { }`).
    pub own_file: bool,
    /// Names of the items it defines (other than child modules).
    pub items: BTreeSet<String>,
    /// Names `use` brings into scope.
    pub bindings: Vec<Binding>,
    /// Paths of its glob imports.
    pub globs: Vec<Vec<String>>,
    /// Every path its code names.
    pub refs: Vec<Ref>,
}

/// A function and its length.
#[derive(Clone, Debug)]
pub struct FnSize {
    /// Its name (`Type::name` for methods).
    pub name: String,
    /// Where its signature starts.
    pub loc: Loc,
    /// Lines from the signature to the closing brace, inclusive.
    pub lines: usize,
    /// The module it is in.
    pub module: usize,
}

/// What kind of `unsafe` an [`UnsafeSite`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnsafeKind {
    /// An `unsafe { }` block.
    Block,
    /// An `unsafe fn` (free, method or trait method).
    Fn,
    /// An `unsafe impl`.
    Impl,
    /// An `unsafe trait`.
    Trait,
    /// An `unsafe extern { }` block.
    Extern,
}

/// One use of the `unsafe` keyword.
#[derive(Clone, Debug)]
pub struct UnsafeSite {
    /// Block, fn, impl or trait.
    pub kind: UnsafeKind,
    /// Where.
    pub loc: Loc,
    /// The module it is in.
    pub module: usize,
}

/// One crate root (library, binary, test, bench or build script) and its tree.
#[derive(Clone, Debug, Default)]
pub struct Crate {
    /// The package name.
    pub package: String,
    /// The target: `lib`, `bin NAME`, `test NAME`, `bench NAME`, `build`...
    pub target: String,
    /// Modules; index 0 is the root.
    pub modules: Vec<Module>,
    /// Every function with a body.
    pub fns: Vec<FnSize>,
    /// Every `unsafe` keyword.
    pub unsafes: Vec<UnsafeSite>,
    /// Files read, with their line counts.
    pub files: BTreeMap<String, usize>,
    /// Files that could not be read or parsed, with the reason.
    pub errors: Vec<(Loc, String)>,
}

impl Crate {
    /// The `::`-joined path of a module (`crate` for the root).
    pub fn path_of(&self, m: usize) -> String {
        let mut names = Vec::new();
        let mut cur = Some(m);
        while let Some(i) = cur {
            let Some(module) = self.modules.get(i) else {
                break;
            };
            if module.parent.is_some() {
                names.push(module.name.clone());
            }
            cur = module.parent;
        }
        if names.is_empty() {
            return "crate".to_owned();
        }
        names.reverse();
        names.join("::")
    }

    /// The chain root..=m of module indices.
    pub fn ancestry(&self, m: usize) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut cur = Some(m);
        while let Some(i) = cur {
            chain.push(i);
            cur = self.modules.get(i).and_then(|module| module.parent);
        }
        chain.reverse();
        chain
    }

    /// A label for reports: `package` for the library, `package (target)` otherwise.
    pub fn label(&self) -> String {
        if self.target == "lib" {
            self.package.clone()
        } else {
            format!("{} ({})", self.package, self.target)
        }
    }
}
