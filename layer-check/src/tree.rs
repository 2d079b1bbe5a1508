//! Builds a crate's module tree from its root file, as rustc would find the
//! files, but regardless of `cfg`: every `mod` of every configuration.
//!
//! - `mod x;` in a "mod-rs" file (a crate root, a `mod.rs`, or a file loaded
//!   through `#[path]`) is `DIR/x.rs` or `DIR/x/mod.rs`, DIR being the file's
//!   directory; in any other file `a/b.rs` it is under `a/b/`.
//! - An inline `mod x { ... }` adds `x/` to the directory its `mod y;` use.
//! - `#[path = "p"] mod x;` is `p` relative to the file's directory (inside
//!   an inline module: relative to the inline module's directory).
//! - `include!("f.rs")` at module level parses `f.rs` into the module.
//!
//! A `#[path]` module or an `include!` whose file belongs to another module
//! of the same crate (that module's own file, or a file in its directory)
//! is recorded as a reference ([`RefKind::Include`]) to that module.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::model::{Crate, Loc, Module, Ref, RefKind};
use crate::scan;

/// Where `mod x;` declarations of the items being read look for files.
#[derive(Clone)]
struct DirCtx {
    /// The directory of the file being read.
    file_dir: PathBuf,
    /// The directory `mod x;` looks in.
    mod_dir: PathBuf,
    /// Whether the items are inside an inline `mod x { }`.
    inline: bool,
    /// Whether the file sits where rustc looks without `#[path]` (its
    /// directory then says which module owns the files in it).
    natural: bool,
}

/// A `#[path]` module or `include!`, resolved once the tree is complete.
struct Include {
    /// The module that receives the file's items.
    module: usize,
    file: String,
    loc: Loc,
}

struct Loader<'a> {
    root: &'a Path,
    krate: Crate,
    /// Files being read, to stop include loops.
    reading: Vec<PathBuf>,
    /// Each module's `mod x;` directory, relative to the root.
    dirs: BTreeMap<usize, String>,
    /// Files loaded as a module's own file without `#[path]`.
    natural: BTreeMap<String, usize>,
    includes: Vec<Include>,
}

/// Reads the crate whose root file is `root_file`; paths in the result are
/// relative to `root`.
pub fn load_crate(root: &Path, package: &str, target: &str, root_file: &Path) -> Crate {
    let mut loader = Loader {
        root,
        krate: Crate {
            package: package.to_owned(),
            target: target.to_owned(),
            ..Crate::default()
        },
        reading: Vec::new(),
        dirs: BTreeMap::new(),
        natural: BTreeMap::new(),
        includes: Vec::new(),
    };
    let file = normalize(root_file);
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    loader.krate.modules.push(Module {
        name: "crate".to_owned(),
        file: loader.rel(&file),
        line: 1,
        own_file: true,
        ..Module::default()
    });
    loader.natural.insert(loader.rel(&file), 0);
    let ctx = DirCtx {
        file_dir: dir.clone(),
        mod_dir: dir,
        inline: false,
        natural: true,
    };
    loader.load_file(0, &file, &ctx, None);
    loader.resolve_includes();
    loader.krate
}

/// `a/./b/../c` → `a/c`, without touching the file system.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Loader<'_> {
    fn rel(&self, p: &Path) -> String {
        let shown = p.strip_prefix(self.root).unwrap_or(p);
        shown.to_string_lossy().replace('\\', "/")
    }

    /// Reads `file` into `module`; `from` is where it was named, for errors.
    fn load_file(&mut self, module: usize, file: &Path, ctx: &DirCtx, from: Option<&Loc>) {
        let shown = self.rel(file);
        if self.reading.iter().any(|f| f == file) {
            return;
        }
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                let loc = from.cloned().unwrap_or(Loc {
                    file: shown,
                    line: 1,
                });
                self.krate
                    .errors
                    .push((loc, format!("cannot read {}: {e}", file.display())));
                return;
            }
        };
        self.krate.files.insert(shown.clone(), text.lines().count());
        let parsed = match syn::parse_file(&text) {
            Ok(f) => f,
            Err(e) => {
                let line = e.span().start().line;
                self.krate
                    .errors
                    .push((Loc { file: shown, line }, format!("cannot parse: {e}")));
                return;
            }
        };
        if ctx.natural {
            let dir = self.rel(&ctx.mod_dir);
            self.dirs.entry(module).or_insert(dir);
        }
        self.reading.push(file.to_path_buf());
        self.items(module, &parsed.items, ctx, &shown);
        self.reading.pop();
    }

    fn items(&mut self, module: usize, items: &[syn::Item], ctx: &DirCtx, file: &str) {
        for item in items {
            match item {
                syn::Item::Mod(m) => self.child(module, m, ctx, file),
                syn::Item::Use(u) => scan::record_use(&mut self.krate, module, u, file),
                syn::Item::Macro(m) if m.mac.path.is_ident("include") => {
                    self.include(module, m, ctx, file);
                }
                other => {
                    if let Some(m) = self.krate.modules.get_mut(module) {
                        m.items.extend(scan::item_name(other));
                    }
                    scan::scan_item(&mut self.krate, module, file, other);
                }
            }
        }
    }

    fn child(&mut self, parent: usize, m: &syn::ItemMod, ctx: &DirCtx, file: &str) {
        let name = m.ident.to_string();
        let line = m.mod_token.span.start().line;
        let loc = Loc {
            file: file.to_owned(),
            line,
        };
        let idx = self.krate.modules.len();
        self.krate.modules.push(Module {
            name: name.clone(),
            parent: Some(parent),
            file: file.to_owned(),
            line,
            own_file: m.content.is_none(),
            ..Module::default()
        });
        if let Some(p) = self.krate.modules.get_mut(parent) {
            p.children.insert(name.clone(), idx);
        }
        let path_attr = path_attr(&m.attrs);
        if let Some((_, items)) = &m.content {
            let mod_dir = match &path_attr {
                Some(p) => normalize(&ctx.mod_dir.join(p)),
                None => ctx.mod_dir.join(&name),
            };
            if ctx.natural {
                self.dirs.insert(idx, self.rel(&mod_dir));
            }
            let sub = DirCtx {
                file_dir: ctx.file_dir.clone(),
                mod_dir,
                inline: true,
                natural: ctx.natural,
            };
            self.items(idx, items, &sub, file);
            return;
        }
        let target = match &path_attr {
            Some(p) if ctx.inline => normalize(&ctx.mod_dir.join(p)),
            Some(p) => normalize(&ctx.file_dir.join(p)),
            None => {
                let flat = ctx.mod_dir.join(format!("{name}.rs"));
                let nested = ctx.mod_dir.join(&name).join("mod.rs");
                normalize(if flat.exists() || !nested.exists() {
                    &flat
                } else {
                    &nested
                })
            }
        };
        let file_dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let mod_rs = path_attr.is_some() || target.file_name().is_some_and(|f| f == "mod.rs");
        let mod_dir = if mod_rs {
            file_dir.clone()
        } else {
            file_dir.join(&name)
        };
        let shown = self.rel(&target);
        if let Some(module) = self.krate.modules.get_mut(idx) {
            module.file.clone_from(&shown);
            module.line = 1;
        }
        if path_attr.is_some() {
            self.includes.push(Include {
                module: idx,
                file: shown,
                loc: loc.clone(),
            });
        } else if ctx.natural {
            self.natural.entry(shown).or_insert(idx);
        }
        let natural = ctx.natural && path_attr.is_none();
        let sub = DirCtx {
            file_dir,
            mod_dir,
            inline: false,
            natural,
        };
        self.load_file(idx, &target, &sub, Some(&loc));
    }

    fn include(&mut self, module: usize, m: &syn::ItemMacro, ctx: &DirCtx, file: &str) {
        let loc = Loc {
            file: file.to_owned(),
            line: m.mac.path.span_line(),
        };
        let Ok(lit) = m.mac.parse_body::<syn::LitStr>() else {
            // `include!(concat!(env!("OUT_DIR"), ...))`: generated, not source.
            return;
        };
        let target = normalize(&ctx.file_dir.join(lit.value()));
        self.includes.push(Include {
            module,
            file: self.rel(&target),
            loc: loc.clone(),
        });
        self.load_file(module, &target, ctx, Some(&loc));
    }

    /// Turns every include of a file another module owns into a reference.
    fn resolve_includes(&mut self) {
        for inc in std::mem::take(&mut self.includes) {
            let Some(owner) = self.owner_of(&inc.file, inc.module) else {
                continue;
            };
            if self.krate.ancestry(inc.module).contains(&owner) {
                continue;
            }
            if let Some(m) = self.krate.modules.get_mut(inc.module) {
                m.refs.push(Ref {
                    segs: vec![format!("#[path]/include! \"{}\"", inc.file)],
                    loc: inc.loc,
                    kind: RefKind::Include,
                    include_owner: Some(owner),
                });
            }
        }
    }

    /// The module `file` belongs to apart from `includer`'s subtree: the
    /// module whose own file it is, else the deepest module whose directory
    /// holds it.
    fn owner_of(&self, file: &str, includer: usize) -> Option<usize> {
        let outside = |m: usize| !self.krate.ancestry(m).contains(&includer);
        if let Some(&m) = self.natural.get(file)
            && outside(m)
        {
            return Some(m);
        }
        self.dirs
            .iter()
            .filter(|&(&m, dir)| {
                outside(m) && (dir.is_empty() || file.starts_with(&format!("{dir}/")))
            })
            .max_by_key(|(_, dir)| dir.len())
            .map(|(&m, _)| m)
    }
}

/// The value of a `#[path = "..."]` attribute.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// The line of a path's first segment.
trait SpanLine {
    fn span_line(&self) -> usize;
}

impl SpanLine for syn::Path {
    fn span_line(&self) -> usize {
        self.segments
            .first()
            .map_or(0, |s| s.ident.span().start().line)
    }
}
