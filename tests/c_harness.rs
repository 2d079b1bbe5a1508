//! Loads the host `cdylib` (`libgpup_miniport.so`) from a C program that
//! defines its own `DxgkInitialize`: the driver is usable from any language
//! that can provide that symbol, as the Windows image is from Dxgkrnl.

use std::path::PathBuf;
use std::process::Command;

/// The cdylib Cargo built beside this test binary.
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    [
        deps.join("libgpup_miniport.so"),
        deps.join("../libgpup_miniport.so"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("cargo builds the cdylib with the library")
}

#[test]
fn a_c_program_loads_the_driver_with_dlopen_and_drives_it() {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let harness = out_dir.join("dxgkrnl_harness");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/dxgkrnl_harness.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let built = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-rdynamic", "-o"])
        .arg(&harness)
        .arg(&source)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| panic!("{cc} not runnable: {e}"));
    assert!(built.success(), "the C harness compiles");
    let run = Command::new(&harness)
        .arg(cdylib())
        .output()
        .expect("harness runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the C harness drove the driver");
    assert!(stdout.contains("DRIVERCAPS.WDDMVersion                   0x3200"));
    assert!(stdout.contains("VRAM bytes read back: \"VRAM via C\""));
}
