//! What one module's code names: `use` trees, inline paths, paths inside
//! macro invocations, plus the function sizes and `unsafe` sites found on
//! the way. The module tree itself is built by [`crate::tree`].

use std::collections::BTreeSet;
use syn::spanned::Spanned;

use syn::visit::{self, Visit};

use crate::model::{Binding, Crate, FnSize, Loc, Ref, RefKind, UnsafeKind, UnsafeSite};
use crate::tokens;

/// Records module `module`'s `use` item: one [`Ref`] per leaf, a binding
/// per imported name, a glob per `*`.
pub fn record_use(krate: &mut Crate, module: usize, item: &syn::ItemUse, file: &str) {
    if item.leading_colon.is_some() {
        // `use ::name::...` names an external crate.
        return;
    }
    let mut leaves = Vec::new();
    flatten_use(&item.tree, &mut Vec::new(), &mut leaves);
    let Some(m) = krate.modules.get_mut(module) else {
        return;
    };
    for leaf in leaves {
        m.refs.push(Ref {
            segs: leaf.segs.clone(),
            loc: Loc {
                file: file.to_owned(),
                line: leaf.line,
            },
            kind: RefKind::Use,
            include_owner: None,
        });
        match leaf.name {
            None => m.globs.push(leaf.segs),
            Some(name) if name != "_" => m.bindings.push(Binding {
                name,
                segs: leaf.segs,
            }),
            Some(_) => {}
        }
    }
}

/// One leaf of a `use` tree.
struct UseLeaf {
    segs: Vec<String>,
    /// The name bound, `None` for a glob.
    name: Option<String>,
    line: usize,
}

fn flatten_use(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseLeaf>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => out.push(use_leaf(prefix, &n.ident, None)),
        syn::UseTree::Rename(r) => out.push(use_leaf(prefix, &r.ident, Some(&r.rename))),
        syn::UseTree::Glob(g) => out.push(UseLeaf {
            segs: prefix.clone(),
            name: None,
            line: g.star_token.span.start().line,
        }),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}

fn use_leaf(prefix: &[String], ident: &syn::Ident, rename: Option<&syn::Ident>) -> UseLeaf {
    let mut segs = prefix.to_vec();
    let name = if ident == "self" {
        // `use a::{self}` binds `a` itself.
        prefix.last().cloned().unwrap_or_default()
    } else {
        segs.push(ident.to_string());
        ident.to_string()
    };
    UseLeaf {
        segs,
        name: Some(rename.map_or(name, ToString::to_string)),
        line: ident.span().start().line,
    }
}

/// The name an item defines in its module's namespace, if any.
pub fn item_name(item: &syn::Item) -> Vec<String> {
    let one = |i: &syn::Ident| vec![i.to_string()];
    match item {
        syn::Item::Const(i) => one(&i.ident),
        syn::Item::Enum(i) => one(&i.ident),
        syn::Item::ExternCrate(i) => one(i.rename.as_ref().map_or(&i.ident, |r| &r.1)),
        syn::Item::Fn(i) => one(&i.sig.ident),
        syn::Item::Macro(i) => i.ident.as_ref().map(one).unwrap_or_default(),
        syn::Item::Static(i) => one(&i.ident),
        syn::Item::Struct(i) => one(&i.ident),
        syn::Item::Trait(i) => one(&i.ident),
        syn::Item::TraitAlias(i) => one(&i.ident),
        syn::Item::Type(i) => one(&i.ident),
        syn::Item::Union(i) => one(&i.ident),
        syn::Item::ForeignMod(f) => f
            .items
            .iter()
            .filter_map(|fi| match fi {
                syn::ForeignItem::Fn(f) => Some(f.sig.ident.to_string()),
                syn::ForeignItem::Static(s) => Some(s.ident.to_string()),
                syn::ForeignItem::Type(t) => Some(t.ident.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Walks one item of module `module` (not a `mod` or module-level `use`,
/// which [`crate::tree`] handles) and records what it names.
pub fn scan_item(krate: &mut Crate, module: usize, file: &str, item: &syn::Item) {
    let mut v = RefVisitor {
        krate,
        module,
        file,
        owner: Vec::new(),
        locals: Vec::new(),
    };
    v.visit_item(item);
}

struct RefVisitor<'a> {
    krate: &'a mut Crate,
    module: usize,
    file: &'a str,
    /// The `impl`/`trait` whose methods are being walked, for names.
    owner: Vec<String>,
    /// Names bound by patterns (parameters, `let`, arms) in each function
    /// being walked: a single name among them is a local, not an item.
    locals: Vec<BTreeSet<String>>,
}

impl RefVisitor<'_> {
    fn loc(&self, line: usize) -> Loc {
        Loc {
            file: self.file.to_owned(),
            line,
        }
    }

    fn push_ref(&mut self, segs: Vec<String>, line: usize, kind: RefKind) {
        let loc = self.loc(line);
        if let Some(m) = self.krate.modules.get_mut(self.module) {
            m.refs.push(Ref {
                segs,
                loc,
                kind,
                include_owner: None,
            });
        }
    }

    /// Leaves the function [`Self::function`] entered.
    fn end_function(&mut self) {
        self.owner.pop();
        self.locals.pop();
    }

    fn unsafe_site(&mut self, kind: UnsafeKind, line: usize) {
        let loc = self.loc(line);
        self.krate.unsafes.push(UnsafeSite {
            kind,
            loc,
            module: self.module,
        });
    }

    /// Records a function (`start` is its first signature line, `block` its
    /// body) and makes it the owner of the functions nested in it; the
    /// caller pops it after walking the body.
    fn function(
        &mut self,
        name: &syn::Ident,
        start: usize,
        sig: &syn::Signature,
        block: &syn::Block,
    ) {
        let end = block.brace_token.span.close().start().line;
        let name = match self.owner.last() {
            Some(owner) => format!("{owner}::{name}"),
            None => name.to_string(),
        };
        let loc = self.loc(start);
        let lines = end.saturating_sub(start).saturating_add(1);
        self.owner.push(name.clone());
        let mut locals = LocalNames::default();
        locals.visit_signature(sig);
        locals.visit_block(block);
        self.locals.push(locals.0);
        self.krate.fns.push(FnSize {
            name,
            loc,
            lines,
            module: self.module,
        });
        if let Some(u) = &sig.unsafety {
            self.unsafe_site(UnsafeKind::Fn, u.span.start().line);
        }
    }
}

/// Every name a pattern binds in a function (all scopes at once).
#[derive(Default)]
struct LocalNames(BTreeSet<String>);

impl<'ast> Visit<'ast> for LocalNames {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.0.insert(p.ident.to_string());
        visit::visit_pat_ident(self, p);
    }
}

/// The first line of a signature, its visibility included.
fn sig_start(vis: Option<&syn::Visibility>, sig: &syn::Signature) -> usize {
    match vis {
        Some(v @ (syn::Visibility::Public(_) | syn::Visibility::Restricted(_))) => {
            v.span().start().line
        }
        _ => sig.span().start().line,
    }
}

impl<'ast> Visit<'ast> for RefVisitor<'_> {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        // A single segment is a local name, a generic, an item of this
        // module, or an imported item: only the last is a reference, and
        // counts here only when a glob brought it in and no pattern of the
        // enclosing functions binds it. `::x` is external.
        let local = |name: &syn::Ident| self.locals.iter().any(|l| l.contains(&name.to_string()));
        let is_local = p.segments.len() == 1 && p.segments.first().is_some_and(|s| local(&s.ident));
        if p.leading_colon.is_none() && !is_local {
            let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = p
                .segments
                .first()
                .map_or(0, |s| s.ident.span().start().line);
            let kind = if segs.len() >= 2 {
                RefKind::Inline
            } else {
                RefKind::GlobName
            };
            self.push_ref(segs, line, kind);
        }
        visit::visit_path(self, p);
    }

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {
        // `pub(super)` and `pub(in path)` name no item.
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Attributes (docs, derives, cfgs) are outside the rules.
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        let mut found = tokens::Found::default();
        tokens::scan(mac.tokens.clone(), &mut found);
        for (segs, line) in found.paths {
            self.push_ref(segs, line, RefKind::Macro);
        }
        for (kind, line) in found.unsafes {
            self.unsafe_site(kind, line);
        }
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // A module inside a function body: not part of the tree.
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // A `use` in a block: scoped to the block, counted for the module.
        record_use(self.krate, self.module, u, self.file);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(
            &f.sig.ident,
            sig_start(Some(&f.vis), &f.sig),
            &f.sig,
            &f.block,
        );
        visit::visit_item_fn(self, f);
        self.end_function();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(
            &f.sig.ident,
            sig_start(Some(&f.vis), &f.sig),
            &f.sig,
            &f.block,
        );
        visit::visit_impl_item_fn(self, f);
        self.end_function();
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        match &f.default {
            Some(block) => {
                self.function(&f.sig.ident, sig_start(None, &f.sig), &f.sig, block);
                visit::visit_trait_item_fn(self, f);
                self.end_function();
            }
            None => {
                if let Some(u) = &f.sig.unsafety {
                    self.unsafe_site(UnsafeKind::Fn, u.span.start().line);
                }
                visit::visit_trait_item_fn(self, f);
            }
        }
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if let Some(u) = &i.unsafety {
            self.unsafe_site(UnsafeKind::Impl, u.span.start().line);
        }
        let owner = match &*i.self_ty {
            syn::Type::Path(t) => t.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.owner.push(owner.unwrap_or_else(|| "impl".to_owned()));
        visit::visit_item_impl(self, i);
        self.owner.pop();
    }

    fn visit_item_foreign_mod(&mut self, f: &'ast syn::ItemForeignMod) {
        if let Some(u) = &f.unsafety {
            self.unsafe_site(UnsafeKind::Extern, u.span.start().line);
        }
        visit::visit_item_foreign_mod(self, f);
    }

    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        if let Some(u) = &t.unsafety {
            self.unsafe_site(UnsafeKind::Trait, u.span.start().line);
        }
        self.owner.push(t.ident.to_string());
        visit::visit_item_trait(self, t);
        self.owner.pop();
    }

    fn visit_expr_unsafe(&mut self, e: &'ast syn::ExprUnsafe) {
        self.unsafe_site(UnsafeKind::Block, e.unsafe_token.span.start().line);
        visit::visit_expr_unsafe(self, e);
    }
}
