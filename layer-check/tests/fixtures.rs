//! The checker against small crates written to a temporary directory: each
//! rule caught on the smallest case that breaks it, and a clean crate passing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary workspace: package `fx` (with a layer table: `low` 0, `mid`
/// 1, `high` 2) and package `plain` (no table), removed on drop.
struct Fixture {
    root: PathBuf,
}

const MANIFEST: &str = r#"[workspace]
members = ["plain"]

[package]
name = "fx"
version = "0.1.0"
edition = "2024"
"#;

const LAYERS: &str = r#"[limits]
file_lines = 800
fn_lines = 100

[layers.fx.ranks]
low = 0
mid = 1
high = 2
"#;

impl Fixture {
    /// A clean layered crate: `high` uses `mid`, `mid` uses `low`, in every
    /// way a path can be written.
    fn new() -> Fixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("layer-check-fx-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let fx = Fixture { root };
        fx.file("Cargo.toml", MANIFEST);
        fx.file("layer-check/layers.toml", LAYERS);
        fx.file(
            "src/lib.rs",
            "mod low;\nmod mid;\nmod high;\npub use high::entry::f;\n",
        );
        fx.file(
            "src/low.rs",
            "pub enum E { A, B }\npub fn base() -> u32 { 1 }\n",
        );
        fx.file(
            "src/mid.rs",
            "use crate::low::base;\n\
             pub fn g(e: super::low::E) -> bool {\n\
             \x20   matches!(e, crate::low::E::A) && base() == 1\n\
             }\n",
        );
        fx.file("src/high/mod.rs", "pub mod entry;\npub mod helpers;\n");
        fx.file(
            "src/high/entry.rs",
            "use super::helpers;\n\
             pub fn f() -> String {\n\
             \x20   format!(\"{}{}\", crate::mid::g(crate::low::E::B), helpers::h())\n\
             }\n",
        );
        fx.file(
            "src/high/helpers.rs",
            "pub fn h() -> u32 { crate::low::base() }\n",
        );
        fx.file(
            "plain/Cargo.toml",
            "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
        );
        fx.file("plain/src/lib.rs", "mod a;\nmod b;\n");
        fx.file("plain/src/a.rs", "pub fn x() {}\n");
        fx.file("plain/src/b.rs", "pub fn y() { crate::a::x() }\n");
        fx
    }

    /// Writes (or overwrites) a file of the fixture.
    fn file(&self, rel: &str, text: &str) -> &Self {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent"))
            .expect("create the directory");
        std::fs::write(&path, text).expect("write the fixture file");
        self
    }

    /// Every violation, as the binary prints it.
    fn violations(&self) -> Vec<String> {
        let found = layer_check::check(&self.root).expect("the fixture can be read");
        found.iter().map(ToString::to_string).collect()
    }

    /// Asserts a violation starting with `expected` among those found (an
    /// upward edge also closes a cycle with the fixture's downward edges).
    fn expect(&self, expected: &str) {
        let found = self.violations();
        assert!(
            found.iter().any(|v| v.starts_with(expected)),
            "expected {expected:?}, found {found:#?}"
        );
        assert!(
            found
                .iter()
                .all(|v| v.starts_with("upward") || v.starts_with("cycle")),
            "{found:#?}"
        );
    }

    /// Asserts exactly one violation, starting with `expected`.
    fn expect_one(&self, expected: &str) {
        let found = self.violations();
        assert_eq!(
            found.len(),
            1,
            "expected one violation starting {expected:?}, found {found:#?}"
        );
        assert!(
            found[0].starts_with(expected),
            "expected {expected:?}, found {found:#?}"
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn a_clean_crate_passes() {
    let fx = Fixture::new();
    assert_eq!(fx.violations(), Vec::<String>::new());
}

#[test]
fn an_upward_use_is_caught() {
    let fx = Fixture::new();
    fx.file("src/low.rs", "use crate::high::entry::f;\npub enum E { A, B }\npub fn base() -> u32 { f().len() as u32 }\n");
    fx.expect("upward: src/low.rs:1 low (0) -> high (2) via crate::high::entry::f");
}

#[test]
fn an_upward_use_in_a_group_with_a_rename_is_caught() {
    let fx = Fixture::new();
    fx.file("src/mid.rs", "use crate::{low::E, high::{entry::f as top}};\npub fn g(_: E) -> bool { top().is_empty() }\n");
    fx.expect("upward: src/mid.rs:1 mid (1) -> high (2) via crate::high::entry::f");
}

#[test]
fn an_inline_upward_path_without_a_use_line_is_caught() {
    let fx = Fixture::new();
    fx.file(
        "src/mid.rs",
        "pub fn g(_: crate::low::E) -> bool {\n\
         \x20   let n = crate::low::base();\n\
         \x20   crate::high::entry::f().len() == n as usize\n\
         }\n",
    );
    fx.expect("upward: src/mid.rs:3 mid (1) -> high (2) via crate::high::entry::f");
}

#[test]
fn a_super_path_upward_is_caught() {
    let fx = Fixture::new();
    fx.file(
        "src/low.rs",
        "pub enum E { A, B }\npub fn base() -> u32 { super::high::helpers::h() }\n",
    );
    fx.expect("upward: src/low.rs:2 low (0) -> high (2) via super::high::helpers::h");
}

#[test]
fn a_path_inside_a_macro_invocation_is_caught() {
    let fx = Fixture::new();
    fx.file(
        "src/low.rs",
        "pub enum E { A, B }\n\
         pub fn base() -> u32 {\n\
         \x20   println!(\"{}\", crate::high::entry::f());\n\
         \x20   1\n\
         }\n",
    );
    fx.expect("upward: src/low.rs:3 low (0) -> high (2) via crate::high::entry::f");
}

#[test]
fn a_bare_path_through_an_imported_module_inside_a_macro_is_caught() {
    let fx = Fixture::new();
    // `use crate::high;` itself is caught on line 1; the macro's path on
    // line 4 through the imported name is a second reference.
    fx.file(
        "src/mid.rs",
        "use crate::high;\n\
         use crate::low::E;\n\
         pub fn g(e: E) -> bool {\n\
         \x20   matches!(e, E::A) && assert_eq!(high::helpers::h(), 1) == ()\n\
         }\n",
    );
    fx.expect("upward: src/mid.rs:1 mid (1) -> high (2) via crate::high");
    fx.expect("upward: src/mid.rs:4 mid (1) -> high (2) via high::helpers::h");
}

#[test]
fn a_two_module_sibling_cycle_is_caught_with_both_edges() {
    let fx = Fixture::new();
    fx.file(
        "src/high/helpers.rs",
        "pub fn h() -> u32 { crate::low::base() }\npub fn k() -> String { super::entry::f() }\n",
    );
    let found = fx.violations();
    assert_eq!(found.len(), 1, "{found:#?}");
    let report = &found[0];
    assert!(
        report.starts_with("cycle: fx under high: entry -> helpers -> entry"),
        "{report}"
    );
    assert!(
        report.contains("entry -> helpers: src/high/entry.rs:1 via super::helpers"),
        "{report}"
    );
    assert!(
        report.contains("helpers -> entry: src/high/helpers.rs:2 via super::entry::f"),
        "{report}"
    );
}

#[test]
fn a_cycle_through_a_pub_use_re_export_is_caught() {
    let fx = Fixture::new();
    // `b` names `crate::y`, which the root re-exports from `a`: the edge is
    // b -> a (not b -> the root), closing a cycle with a -> b.
    fx.file("plain/src/lib.rs", "mod a;\nmod b;\npub use a::x as y;\n");
    fx.file("plain/src/a.rs", "pub fn x() { crate::b::z() }\n");
    fx.file(
        "plain/src/b.rs",
        "pub fn z() {}\npub fn w() { crate::y() }\n",
    );
    let found = fx.violations();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("cycle: plain under crate: a -> b -> a"),
        "{found:#?}"
    );
    assert!(
        found[0].contains("b -> a: plain/src/b.rs:2 via crate::y"),
        "{found:#?}"
    );
}

#[test]
fn a_glob_re_export_is_followed_to_the_defining_module() {
    let fx = Fixture::new();
    fx.file("plain/src/lib.rs", "mod a;\nmod b;\nmod c;\n");
    fx.file("plain/src/a.rs", "pub fn x() { crate::b::z() }\n");
    fx.file("plain/src/c.rs", "pub use crate::a::*;\n");
    fx.file(
        "plain/src/b.rs",
        "use crate::c;\npub fn z() {}\npub fn w() { c::x() }\n",
    );
    let found = fx.violations();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("b -> a: plain/src/b.rs:3 via c::x"),
        "{found:#?}"
    );
}

#[test]
fn a_path_include_of_another_modules_file_is_caught() {
    let fx = Fixture::new();
    fx.file("src/low.rs", "#[path = \"high/helpers.rs\"]\nmod copied;\npub enum E { A, B }\npub fn base() -> u32 { 1 }\n");
    let found = fx.violations();
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("upward: src/low.rs:2 low (0) -> high (2) via #[path]")),
        "{found:#?}"
    );
}

#[test]
fn an_include_macro_of_another_modules_file_is_caught() {
    let fx = Fixture::new();
    fx.file("src/high/extra.rs", "pub fn extra() -> u32 { 2 }\n");
    fx.file(
        "src/low.rs",
        "include!(\"high/extra.rs\");\npub enum E { A, B }\npub fn base() -> u32 { extra() }\n",
    );
    fx.expect(
        "upward: src/low.rs:1 low (0) -> high (2) via #[path]/include! \"src/high/extra.rs\"",
    );
}

#[test]
fn an_unranked_module_is_caught() {
    let fx = Fixture::new();
    fx.file(
        "src/lib.rs",
        "mod low;\nmod mid;\nmod high;\nmod extra;\npub use high::entry::f;\n",
    );
    fx.file("src/extra.rs", "pub fn e() {}\n");
    fx.expect_one("unranked: src/extra.rs:1 module `extra` of fx has no rank");
}

#[test]
fn two_entries_of_equal_rank_may_not_use_each_other() {
    let fx = Fixture::new();
    fx.file(
        "layer-check/layers.toml",
        &LAYERS.replace("mid = 1", "mid = 0"),
    );
    let found = fx.violations();
    assert_eq!(found.len(), 3, "mid's three paths to low: {found:#?}");
    assert!(
        found[0].starts_with("sibling: src/mid.rs:1 mid (0) -> low (0) via crate::low::base"),
        "{found:#?}"
    );
    assert!(
        found.iter().all(|v| v.starts_with("sibling: src/mid.rs:")),
        "{found:#?}"
    );
}

#[test]
fn a_nested_layer_entry_ranks_its_subtree() {
    let fx = Fixture::new();
    // high::helpers is ranked below mid, so it may not use mid.
    fx.file(
        "layer-check/layers.toml",
        &format!("{LAYERS}\"high::helpers\" = 0\n"),
    );
    fx.file(
        "src/high/helpers.rs",
        "pub fn h() -> u32 {\n    let _ = crate::mid::g;\n    1\n}\n",
    );
    fx.expect("upward: src/high/helpers.rs:2 high::helpers (0) -> mid (1) via crate::mid::g");
}

/// A function of `body` lines between its signature and closing brace.
fn function(body: usize) -> String {
    let mut text = String::from("pub fn long() -> u32 {\n    let mut n = 0;\n");
    for _ in 0..body {
        text.push_str("    n += 1;\n");
    }
    text.push_str("    n\n}\n");
    text
}

#[test]
fn a_function_over_the_limit_is_caught_and_one_at_it_is_not() {
    let fx = Fixture::new();
    // Signature, `let`, body, `n`, brace: body + 4 lines; the doc comment
    // and attribute before it do not count.
    fx.file(
        "plain/src/a.rs",
        &format!("pub fn x() {{}}\n/// Docs.\n#[inline]\n{}", function(96)),
    );
    assert_eq!(fx.violations(), Vec::<String>::new());
    fx.file(
        "plain/src/a.rs",
        &format!("pub fn x() {{}}\n/// Docs.\n#[inline]\n{}", function(97)),
    );
    fx.expect_one("fn-size: plain/src/a.rs:4 fn long is 101 lines (limit 100)");
}

#[test]
fn a_nested_function_over_the_limit_is_caught() {
    let fx = Fixture::new();
    let inner = function(97).replace('\n', "\n    ");
    fx.file("plain/src/a.rs", &format!("pub fn x() {{}}\npub struct S;\nimpl S {{\n    pub fn outer() {{\n        {inner}\n    }}\n}}\n"));
    let found = fx.violations();
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("fn-size: plain/src/a.rs:5 fn S::outer::long is 101 lines")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("fn-size: plain/src/a.rs:4 fn S::outer is 104 lines")),
        "{found:#?}"
    );
}

#[test]
fn a_file_over_the_limit_is_caught_and_one_at_it_is_not() {
    let fx = Fixture::new();
    let filler = |lines: usize| format!("pub fn x() {{}}\n{}", "// filler\n".repeat(lines - 1));
    fx.file("plain/src/a.rs", &filler(800));
    assert_eq!(fx.violations(), Vec::<String>::new());
    fx.file("plain/src/a.rs", &filler(801));
    fx.expect_one("file-size: plain/src/a.rs has 801 lines (limit 800)");
}

#[test]
fn an_exempt_file_is_not_measured() {
    let fx = Fixture::new();
    fx.file(
        "plain/src/a.rs",
        &format!("pub fn x() {{}}\n{}", "// filler\n".repeat(900)),
    );
    fx.file(
        "layer-check/layers.toml",
        &format!("{LAYERS}\n[[exempt]]\nfile = \"plain/src/a.rs\"\nreason = \"test\"\n"),
    );
    assert_eq!(fx.violations(), Vec::<String>::new());
}

#[test]
fn each_integration_test_is_a_crate_with_its_common_module() {
    let fx = Fixture::new();
    fx.file(
        "tests/common/mod.rs",
        "pub mod gpu;\npub fn setup() { gpu::go() }\n",
    );
    fx.file("tests/common/gpu.rs", "pub fn go() {}\n");
    fx.file("tests/one.rs", "mod common;\nmod util { pub fn u() { super::common::setup() } }\n#[test]\nfn t() { util::u() }\n");
    assert_eq!(fx.violations(), Vec::<String>::new());
    fx.file(
        "tests/common/mod.rs",
        "pub mod gpu;\npub fn setup() { gpu::go() }\npub fn again() { crate::util::u() }\n",
    );
    fx.expect_one("cycle: fx (test one) under crate: common -> util -> common");
}

#[test]
fn a_name_brought_in_by_a_glob_resolves_through_re_exports() {
    let fx = Fixture::new();
    // `x` alone, brought in by `use super::*` from the root's re-export of
    // `a::x`: the edge is b -> a, closing a cycle with a -> b. A local `x`
    // elsewhere is no reference.
    fx.file("plain/src/lib.rs", "mod a;\nmod b;\npub use a::x;\n");
    fx.file("plain/src/a.rs", "pub fn x() { crate::b::z() }\n");
    fx.file(
        "plain/src/b.rs",
        "use super::*;\npub fn z() {}\npub fn v(x: u8) -> u8 {\n    let y = x;\n    y\n}\npub fn w() {\n    x()\n}\n",
    );
    fx.expect_one("cycle: plain under crate: a -> b -> a");
    let found = fx.violations();
    assert!(
        found[0].ends_with("b -> a: plain/src/b.rs:8 via x"),
        "{found:#?}"
    );
}

#[test]
fn metrics_count_unsafe_where_it_is_written_macros_included() {
    let fx = Fixture::new();
    fx.file(
        "plain/src/a.rs",
        "pub fn x() {\n    let _ = unsafe { core::ptr::null::<u8>().read() };\n}\n\
         pub unsafe fn y() {}\n\
         pub struct S;\nunsafe impl Send for S {}\n\
         macro_rules! m { () => { pub unsafe extern \"C\" fn z() { unsafe { y() } } } }\n\
         m!();\n",
    );
    let config = layer_check::load_config(&fx.root, None).expect("the fixture's layers.toml");
    let analysis =
        layer_check::analyse(&fx.root, config, Some("plain")).expect("the fixture can be read");
    let report = layer_check::metrics::report(&analysis.crates);
    assert!(
        report.contains("== unsafe: 2 blocks, 2 unsafe fns, 1 unsafe impls\n"),
        "{report}"
    );
    assert!(
        report
            .contains("plain/src/a.rs: 2 blocks at 2,7; 2 unsafe fns at 4,7; 1 unsafe impls at 6"),
        "{report}"
    );
    assert!(report.contains("plain: 11 lines in 3 files"), "{report}");
    assert!(
        report.contains("  a                                 8 lines   1 files"),
        "{report}"
    );
    assert!(report.contains("== largest functions (3 distinct functions, 0 over 100 lines)\n       3  plain/src/a.rs:1 fn x\n"), "{report}");
}

#[test]
fn code_under_any_cfg_and_uses_inside_functions_count() {
    let fx = Fixture::new();
    fx.file(
        "src/low.rs",
        "pub enum E { A, B }\npub fn base() -> u32 { 1 }\n#[cfg(any())]\nmod never;\n",
    );
    fx.file(
        "src/low/never.rs",
        "fn f() {\n    use crate::mid::g;\n    let _ = g;\n}\n",
    );
    fx.expect("upward: src/low/never.rs:2 low (0) -> mid (1) via crate::mid::g");
}

#[test]
fn an_excluded_workspace_and_declared_targets_are_read() {
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &MANIFEST.replace(
            "members = [\"plain\"]",
            "members = [\"plain\"]\nexclude = [\"fz\"]",
        ),
    );
    fx.file(
        "fz/Cargo.toml",
        "[package]\nname = \"fz\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\nmembers = [\".\"]\n\n\
         [[bin]]\nname = \"t\"\npath = \"targets/t.rs\"\n",
    );
    fx.file("fz/targets/t.rs", "mod a { pub fn x() { super::b::y() } }\nmod b { pub fn y() {} pub fn z() { super::a::x() } }\nfn main() {}\n");
    fx.expect_one("cycle: fz (bin t) under crate: a -> b -> a");
}
