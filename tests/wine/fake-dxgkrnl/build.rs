//! Build script of the fake DXGKrnl: for a Windows target, the same kernel
//! image link arguments as the miniport's, read from the root `build.rs`
//! (included as a module, so the two images share one recipe). On the host:
//! nothing.

// The root build script is compiled here as a module: its `main` and its WDK
// branch (a `wdk` feature this package does not have) are unused.
#[allow(dead_code, unexpected_cfgs)]
#[path = "../../../build.rs"]
mod miniport_build;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../../../build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    // `cargo xtask wine-smoke` always links this image with rust-lld, so
    // the lld-only section attributes apply too.
    for arg in miniport_build::KERNEL_IMAGE
        .iter()
        .chain(miniport_build::LLD_NON_PAGED_SECTIONS)
    {
        println!("cargo::rustc-cdylib-link-arg={arg}");
    }
}
