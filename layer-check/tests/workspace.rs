//! The real workspace keeps its layers: no sibling cycle in any crate, no
//! driver edge up a layer or across one, every driver module ranked, no
//! file or function over the limits (layer-check/layers.toml).

#[test]
fn the_workspace_keeps_its_layers() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let violations =
        layer_check::check(std::path::Path::new(root)).expect("the workspace can be read");
    let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "{} violations of the module rules (cargo run -p layer-check lists them):\n{}",
        violations.len(),
        report.join("\n")
    );
}
