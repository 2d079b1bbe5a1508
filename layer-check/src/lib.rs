//! Static check of the module structure of every crate in the workspace.
//!
//! # What is read
//!
//! Every crate root cargo would build ([`discover`]): each package's library,
//! binaries, integration tests (each file its own crate, `tests/common`
//! included through its `mod common;`), benches, examples and build script,
//! for the workspace's members, the root package, and excluded directories
//! that are workspaces of their own (`fuzz/`). From each root the module tree
//! is built ([`tree`]) from `mod x;` (x.rs or x/mod.rs), inline `mod x { }`,
//! `#[path]` modules and `include!`d source, ignoring `cfg`: the checked code
//! is the union of every configuration.
//!
//! # Paths
//!
//! Every path a module's code writes is collected ([`scan`]): each leaf of a
//! `use` tree (groups, globs, renames, `pub use`; a `use` inside a function
//! counts for its module), every path of two segments or more in an
//! expression, type, pattern or bound, every `a::b` token sequence inside a
//! macro invocation ([`tokens`]: `format!("{}", crate::a::f())`,
//! `matches!(x, m::E::V)`, `$crate::` in `macro_rules!`), and every single
//! name that only a glob import brings into scope (a name bound by a pattern
//! of the enclosing function is a local and does not count). Attributes and
//! visibilities (`pub(super)`) are not references. Each path is resolved
//! ([`resolve`]) to the module defining what it names, following `use`
//! bindings and globs, so a re-export counts as a reference to the module
//! that defines the item, not to the one re-exporting it. A `#[path]` module
//! or an `include!` whose file belongs to another module of the crate (that
//! module's own file or a file inside its directory) is a reference to that
//! module. The result is a reference graph per crate: an edge A -> B when
//! code in module A names an item defined in module B (A != B).
//!
//! # Rules ([`rules`])
//!
//! 1. **No cycles between sibling modules**, in every crate. Each edge A -> B
//!    is taken at the lowest common ancestor P of A and B: it becomes the
//!    sibling edge a -> b between the children a, b of P that contain A and
//!    B. If A or B *is* P (code in the parent's own file, or code naming
//!    it), the edge is no sibling edge at that level; it counts one level up.
//!    The sibling graph under every module must be acyclic; a strongly
//!    connected set is reported with a shortest cycle and every edge inside
//!    the set, each with the file:line of one path making it.
//! 2. **Layer order**, for a library whose package has a table in
//!    `layer-check/layers.toml` (`[layers.PACKAGE.ranks]`, module path →
//!    rank; an entry may name a nested module such as `migration::format`).
//!    A module's layer is the deepest entry that is a prefix of its path.
//!    The crate root is exempt (edges from or to it are ignored). For every
//!    edge between two different layers: an edge from rank r to a rank
//!    above r is *upward*, an edge between two different entries of equal
//!    rank is *sibling* (unless `[layers.PACKAGE.may_use]` names that pair);
//!    both are violations. A top-level module covered by no entry is
//!    *unranked*, a violation too, so a new module must be placed.
//! 3. **Sizes**: no source file over `limits.file_lines` (800) lines and no
//!    function with a body (free, impl or trait fn, nested ones too) over
//!    `limits.fn_lines` (100), counted from the first line of its signature
//!    (visibility included, attributes and doc comments not) to its closing
//!    brace, inclusive. Files listed under `[[exempt]]` (each with a reason)
//!    are exempt from both.
//!
//! Files that cannot be read or parsed are reported as `error`.
//!
//! # Limits of a static read
//!
//! Items a macro invocation defines (`bitflags!`, `records!`) are unknown by
//! name: a path to one resolves to the module holding the invocation, which
//! is where it is defined. Functions written inside a macro invocation are
//! not measured. Nothing that cargo does not build from the files above
//! (generated `OUT_DIR` sources) is read.
//!
//! # Metrics ([`metrics`])
//!
//! `--metrics` prints the lines of each crate and of its top-level modules,
//! the largest files and functions, and every `unsafe` keyword where it is
//! written (blocks, `unsafe fn`, `unsafe impl`, `unsafe trait`, `unsafe
//! extern` blocks; inside macro invocations and `macro_rules!` bodies too,
//! counted once where written), per top-level module and per file.

pub mod config;
pub mod discover;
pub mod metrics;
pub mod model;
pub mod resolve;
pub mod rules;
pub mod scan;
pub mod tokens;
pub mod tree;

use std::path::Path;

use config::Config;
use model::Crate;
use rules::Violation;

/// The table shipped with this crate, used when the checked tree has no
/// `layer-check/layers.toml` of its own.
pub const BUILTIN_LAYERS: &str = include_str!("../layers.toml");

/// The crates of a workspace and the configuration they are checked against.
#[derive(Debug)]
pub struct Analysis {
    /// Every crate read.
    pub crates: Vec<Crate>,
    /// The limits and layer tables.
    pub config: Config,
}

/// Reads the configuration: `config` if given, else the checked tree's
/// `layer-check/layers.toml`, else [`BUILTIN_LAYERS`].
pub fn load_config(root: &Path, config: Option<&Path>) -> Result<Config, String> {
    let in_tree = root.join("layer-check/layers.toml");
    let text = match config {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None if in_tree.is_file() => {
            std::fs::read_to_string(&in_tree).map_err(|e| format!("{}: {e}", in_tree.display()))?
        }
        None => BUILTIN_LAYERS.to_owned(),
    };
    Config::parse(&text)
}

/// Reads every crate of the workspace at `root` (only those of package
/// `only`, if given).
pub fn analyse(root: &Path, config: Config, only: Option<&str>) -> Result<Analysis, String> {
    let root = tree::normalize(&std::path::absolute(root).map_err(|e| e.to_string())?);
    let targets = discover::targets(&root)?;
    let crates: Vec<Crate> = targets
        .iter()
        .filter(|t| only.is_none_or(|o| t.package == o))
        .map(|t| tree::load_crate(&root, &t.package, &t.kind, &t.root_file))
        .collect();
    if let Some(o) = only.filter(|_| crates.is_empty()) {
        return Err(format!("no package named {o} under {}", root.display()));
    }
    Ok(Analysis { crates, config })
}

/// Every violation, sorted, each reported once (a file shared by several
/// crates is checked once).
pub fn violations(analysis: &Analysis) -> Vec<Violation> {
    let mut out = Vec::new();
    for k in &analysis.crates {
        let edges = resolve::edges(k);
        out.extend(rules::sibling_cycles(k, &edges));
        if let Some(layers) = analysis
            .config
            .layers
            .get(&k.package)
            .filter(|_| k.target == "lib")
        {
            out.extend(rules::layer_order(k, layers, &edges));
        }
        out.extend(rules::sizes(k, &analysis.config));
        out.extend(k.errors.iter().map(|(loc, msg)| Violation {
            kind: "error",
            loc: loc.clone(),
            message: format!("{loc} {msg}"),
        }));
    }
    out.sort_by(|a, b| (a.kind, &a.loc, &a.message).cmp(&(b.kind, &b.loc, &b.message)));
    out.dedup_by(|a, b| a.kind == b.kind && a.message == b.message);
    out
}

/// Checks the workspace at `root` with its own configuration.
pub fn check(root: &Path) -> Result<Vec<Violation>, String> {
    let config = load_config(root, None)?;
    Ok(violations(&analyse(root, config, None)?))
}
