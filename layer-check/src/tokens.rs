//! What a macro invocation's tokens name: syn cannot parse them (they are
//! whatever the macro accepts), so paths and `unsafe` are found by token
//! patterns instead.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

use crate::model::UnsafeKind;

/// Paths and `unsafe` keywords found in a token stream.
#[derive(Debug, Default)]
pub struct Found {
    /// `a::b::c` sequences (two segments or more) with their lines.
    pub paths: Vec<(Vec<String>, usize)>,
    /// `unsafe` keywords with what they introduce and their lines.
    pub unsafes: Vec<(UnsafeKind, usize)>,
}

/// Scans `ts` at any depth of delimiters.
///
/// Paths: `$crate::` counts as `crate::`; a path after `.` (a method),
/// after `::` (a leading `::` or a path's tail) or starting with a
/// metavariable (`$x::`) does not count. `unsafe` counts when followed by
/// a brace block, `fn`, `extern ... fn`, `impl` or `trait`.
pub fn scan(ts: TokenStream, out: &mut Found) {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    let mut i = 0;
    while let Some(tok) = toks.get(i) {
        match tok {
            TokenTree::Group(g) => {
                scan(g.stream(), out);
                i += 1;
            }
            TokenTree::Ident(id) => {
                if id == "unsafe"
                    && let Some(kind) = unsafe_kind(toks.get(i + 1..).unwrap_or_default())
                {
                    out.unsafes.push((kind, id.span().start().line));
                }
                let (segs, next) = read_path(&toks, i);
                if segs.len() >= 2 && counts(&toks, i, id) {
                    out.paths.push((segs, id.span().start().line));
                }
                i = next.max(i + 1);
            }
            _ => i += 1,
        }
    }
}

/// What an `unsafe` followed by `after` introduces.
fn unsafe_kind(after: &[TokenTree]) -> Option<UnsafeKind> {
    let ident =
        |t: Option<&TokenTree>, name: &str| matches!(t, Some(TokenTree::Ident(i)) if i == name);
    match after.first() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => Some(UnsafeKind::Block),
        t if ident(t, "fn") => Some(UnsafeKind::Fn),
        t if ident(t, "impl") => Some(UnsafeKind::Impl),
        t if ident(t, "trait") => Some(UnsafeKind::Trait),
        t if ident(t, "extern") => {
            // `unsafe extern "abi" fn` or `unsafe extern "abi" { ... }`.
            let rest = after.get(1..).unwrap_or_default();
            let rest = match rest.first() {
                Some(TokenTree::Literal(_)) => rest.get(1..).unwrap_or_default(),
                _ => rest,
            };
            match rest.first() {
                t if ident(t, "fn") => Some(UnsafeKind::Fn),
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                    Some(UnsafeKind::Extern)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_punct(tok: Option<&TokenTree>, c: char) -> bool {
    matches!(tok, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// Whether the path starting at `toks[i]` is a path of its own.
fn counts(toks: &[TokenTree], i: usize, id: &proc_macro2::Ident) -> bool {
    let before = |back: usize| i.checked_sub(back).and_then(|j| toks.get(j));
    if is_punct(before(1), '$') {
        return id == "crate";
    }
    if is_punct(before(1), '.') {
        return false;
    }
    !(is_punct(before(1), ':') && is_punct(before(2), ':'))
}

/// Reads `ident (:: ident)*` from `toks[i]`; returns the segments and the
/// index after the path.
fn read_path(toks: &[TokenTree], i: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    let Some(TokenTree::Ident(first)) = toks.get(i) else {
        return (segs, i);
    };
    segs.push(first.to_string());
    let mut j = i + 1;
    loop {
        let joint = matches!(toks.get(j), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint);
        match (joint, toks.get(j + 1), toks.get(j + 2)) {
            (true, Some(TokenTree::Punct(p)), Some(TokenTree::Ident(next)))
                if p.as_char() == ':' =>
            {
                segs.push(next.to_string());
                j += 3;
            }
            _ => break,
        }
    }
    (segs, j)
}
