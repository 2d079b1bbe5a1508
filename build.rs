//! Build script: configures the WDK build on Windows with the `wdk` feature,
//! and does nothing on any other host.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(all(windows, feature = "wdk"))]
    {
        wdk_build::configure_wdk_binary_build()?;
        // displib.lib provides DxgkInitialize, the hand-off to Dxgkrnl.
        println!("cargo::rustc-link-lib=static=displib");
    }
    Ok(())
}
