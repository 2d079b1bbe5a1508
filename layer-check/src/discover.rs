//! Finds every crate root under a workspace: the root package and each
//! `members` entry, plus every `exclude`d directory that is a workspace of
//! its own (the fuzz targets), and in each package every target cargo would
//! build: the library, binaries, integration tests, benches, examples and
//! the build script, whether auto-discovered or declared.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One crate root to check.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// The package name.
    pub package: String,
    /// `lib`, `bin NAME`, `test NAME`, `bench NAME`, `example NAME`, `build`.
    pub kind: String,
    /// The root file.
    pub root_file: PathBuf,
}

/// Every target of every package of the workspace at `root`.
pub fn targets(root: &Path) -> Result<Vec<Target>, String> {
    let manifest = read_toml(&root.join("Cargo.toml"))?;
    let mut dirs = vec![root.to_path_buf()];
    let ws = manifest.as_table().get("workspace");
    let list = |key: &str| -> Vec<String> {
        ws.and_then(|w| w.get(key))
            .and_then(toml_edit::Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for member in list("members").iter().chain(list("exclude").iter()) {
        dirs.extend(expand(root, member));
    }
    let mut out = BTreeSet::new();
    for dir in dirs {
        if dir.join("Cargo.toml").is_file() {
            out.extend(package_targets(&dir)?);
        }
    }
    Ok(out.into_iter().collect())
}

/// A `members` entry: a directory, or `dir/*`.
fn expand(root: &Path, member: &str) -> Vec<PathBuf> {
    match member.strip_suffix("/*") {
        Some(parent) => sorted_entries(&root.join(parent))
            .into_iter()
            .filter(|p| p.is_dir())
            .collect(),
        None => vec![root.join(member)],
    }
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn read_toml(path: &Path) -> Result<toml_edit::Document<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml_edit::Document::parse(text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The targets of the package in `dir` (none if it has no `[package]`).
fn package_targets(dir: &Path) -> Result<Vec<Target>, String> {
    let manifest = read_toml(&dir.join("Cargo.toml"))?;
    let root = manifest.as_table();
    let Some(package) = root.get("package") else {
        return Ok(Vec::new());
    };
    let name = package
        .get("name")
        .and_then(toml_edit::Item::as_str)
        .unwrap_or("?")
        .to_owned();
    let mut out = Vec::new();
    let mut add = |kind: String, file: PathBuf| {
        if file.is_file() && !out.iter().any(|t: &Target| t.root_file == file) {
            out.push(Target {
                package: name.clone(),
                kind,
                root_file: file,
            });
        }
    };
    let lib = root
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(toml_edit::Item::as_str);
    add("lib".into(), dir.join(lib.unwrap_or("src/lib.rs")));
    for (section, kind, auto_dir) in [
        ("bin", "bin", "src/bin"),
        ("test", "test", "tests"),
        ("bench", "bench", "benches"),
        ("example", "example", "examples"),
    ] {
        for t in root
            .get(section)
            .and_then(toml_edit::Item::as_array_of_tables)
            .into_iter()
            .flatten()
        {
            let tname = t
                .get("name")
                .and_then(toml_edit::Item::as_str)
                .unwrap_or("?");
            let default = dir.join(auto_dir).join(format!("{tname}.rs"));
            let file = t
                .get("path")
                .and_then(toml_edit::Item::as_str)
                .map_or(default, |p| dir.join(p));
            add(format!("{kind} {tname}"), file);
        }
        for entry in sorted_entries(&dir.join(auto_dir)) {
            let stem = entry
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if entry.extension().is_some_and(|e| e == "rs") {
                add(format!("{kind} {stem}"), entry);
            } else if entry.is_dir() {
                add(format!("{kind} {stem}"), entry.join("main.rs"));
            }
        }
    }
    add(format!("bin {name}"), dir.join("src/main.rs"));
    let build = package
        .get("build")
        .and_then(toml_edit::Item::as_str)
        .unwrap_or("build.rs");
    add("build".into(), dir.join(build));
    Ok(out)
}
