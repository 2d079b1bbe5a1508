//! `layer-check/layers.toml`: the limits, the files exempt from them, and
//! the layer table of each crate that declares one.
//!
//! ```toml
//! [limits]
//! file_lines = 800
//! fn_lines = 100
//!
//! [[exempt]]
//! file = "dxgk-sys/src/dispmprt.rs"
//! reason = "hand-written FFI records"
//!
//! [layers.gpup-miniport.ranks]     # the library target of that package
//! foundation = 0
//! "migration::format" = 3          # an entry may be a nested module
//!
//! [layers.gpup-miniport.may_use]   # named exceptions between equal ranks
//! interfaces = ["foundation"]
//! ```

use std::collections::BTreeMap;

/// One crate's layer table.
#[derive(Clone, Debug, Default)]
pub struct Layers {
    /// Module path (segments below the crate root) → rank.
    pub ranks: Vec<(Vec<String>, i64)>,
    /// Entry → entries of the same rank it may use anyway.
    pub may_use: BTreeMap<String, Vec<String>>,
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Longest source file allowed, in lines.
    pub file_lines: usize,
    /// Longest function allowed, in lines (signature to closing brace).
    pub fn_lines: usize,
    /// Files (relative to the root) exempt from both size limits, with why.
    pub exempt: BTreeMap<String, String>,
    /// Package name → layer table of its library.
    pub layers: BTreeMap<String, Layers>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file_lines: 800,
            fn_lines: 100,
            exempt: BTreeMap::new(),
            layers: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Parses `layers.toml` text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let doc = toml_edit::Document::parse(text).map_err(|e| e.to_string())?;
        let root = doc.as_table();
        let mut config = Config::default();
        if let Some(limits) = root.get("limits") {
            let get = |key: &str| limits.get(key).and_then(toml_edit::Item::as_integer);
            if let Some(n) = get("file_lines") {
                config.file_lines = usize::try_from(n).map_err(|e| e.to_string())?;
            }
            if let Some(n) = get("fn_lines") {
                config.fn_lines = usize::try_from(n).map_err(|e| e.to_string())?;
            }
        }
        if let Some(exempt) = root
            .get("exempt")
            .and_then(toml_edit::Item::as_array_of_tables)
        {
            for t in exempt {
                let file = t.get("file").and_then(toml_edit::Item::as_str);
                let reason = t.get("reason").and_then(toml_edit::Item::as_str);
                match (file, reason) {
                    (Some(f), Some(r)) if !r.trim().is_empty() => {
                        config.exempt.insert(f.to_owned(), r.to_owned());
                    }
                    _ => return Err("each [[exempt]] needs `file` and a non-empty `reason`".into()),
                }
            }
        }
        if let Some(layers) = root.get("layers").and_then(toml_edit::Item::as_table_like) {
            for (package, table) in layers.iter() {
                config
                    .layers
                    .insert(package.to_owned(), parse_layers(package, table)?);
            }
        }
        Ok(config)
    }
}

fn parse_layers(package: &str, table: &toml_edit::Item) -> Result<Layers, String> {
    let mut layers = Layers::default();
    let ranks = table
        .get("ranks")
        .and_then(toml_edit::Item::as_table_like)
        .ok_or_else(|| format!("[layers.{package}] needs a `ranks` table"))?;
    for (path, rank) in ranks.iter() {
        let rank = rank
            .as_integer()
            .ok_or_else(|| format!("rank of {path} is not an integer"))?;
        layers
            .ranks
            .push((path.split("::").map(str::to_owned).collect(), rank));
    }
    if let Some(may) = table
        .get("may_use")
        .and_then(toml_edit::Item::as_table_like)
    {
        for (from, list) in may.iter() {
            let list = list
                .as_array()
                .ok_or_else(|| format!("may_use.{from} is not an array"))?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            layers.may_use.insert(from.to_owned(), list);
        }
    }
    Ok(layers)
}
