//! The program end to end, through the same [`cli`] function `main` calls
//! (in-process, so that `cargo test` needs no second build of the driver for
//! a separate binary): a small migration with `--json` and `--svg` (the JSON
//! parsed, the SVG parsed and rendered by resvg), bad options (exit code 2, a
//! clear message, no panic), and fault injection (exit code 1).

use std::path::PathBuf;

use resvg::{tiny_skia, usvg};

use super::cli;

/// What a run printed and returned.
pub(crate) struct Output {
    pub(crate) code: u8,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

pub(crate) fn sim(args: &[&str]) -> Output {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = cli(
        std::iter::once("gpup-sim").chain(args.iter().copied()),
        &mut stdout,
        &mut stderr,
        false,
    );
    Output {
        code,
        stdout,
        stderr,
    }
}

pub(crate) fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gpup-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// 64 MiB, 2 VFs over 3 ranges each: seconds at most.
pub(crate) const SMALL: &[&str] = &[
    "migrate",
    "--vram",
    "64MiB",
    "--vfs",
    "2",
    "--ranges",
    "3",
    "--working-set",
    "75%",
    "--dirty-rate",
    "256MiB/s",
    "--link",
    "1Gbit",
    "--downtime",
    "50ms",
    "--quiet",
];

#[test]
fn a_small_migration_writes_valid_json_and_a_renderable_svg() {
    let json_path = temp("result.json");
    let svg_path = temp("chart.svg");
    let mut args = SMALL.to_vec();
    args.extend([
        "--json",
        json_path.to_str().unwrap(),
        "--svg",
        svg_path.to_str().unwrap(),
    ]);
    let out = sim(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.code,
        0,
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Byte-identical check: PASSED for all 2 VF(s)"),
        "{stdout}"
    );
    for line in [
        "VFs created through DxgkDdiCreateVirtualGpu (the GPU partition interface, partition count 2)",
        "bound with DxgkDdiSetVirtualGpuResources2 over its memory basis",
        "Live-migration protocol: performed source to target for all 2 VF(s)",
        "VF-state check: PASSED for all 2 VF(s)",
        "GPUPCAPS                     LiveMigration | ScatterMapReserve",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from\n{stdout}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).expect("valid JSON");
    assert_eq!(json["passed"], true);
    assert_eq!(json["config"]["vram_bytes"], 64 << 20);
    assert_eq!(json["config"]["link_bits_per_s"], 1_000_000_000u64);
    let page = json["caps"]["page_size"].as_u64().unwrap();
    assert_eq!(page, 4096);
    let vfs = json["vfs"].as_array().unwrap();
    assert_eq!(vfs.len(), 2);
    assert_eq!(json["vf_creation"], "DxgkDdiCreateVirtualGpu");
    assert_eq!(json["reserve_binding"], "DxgkDdiSetVirtualGpuResources2");
    for vf in vfs {
        assert_eq!(vf["proof"]["passed"], true);
        assert_eq!(vf["protocol"]["state_equal"], true);
        assert_eq!(vf["protocol"]["msix_written"], 0xF);
        assert!(vf["protocol"]["mutable_bytes"].as_u64().unwrap() > 4096);
        assert_eq!(vf["proof"]["pages_compared"], 8190);
        assert_eq!(vf["source_ranges"].as_array().unwrap().len(), 3);
        let rounds = vf["rounds"].as_array().unwrap();
        assert_eq!(rounds.last().unwrap()["phase"], "blackout");
        let mut sent = 0;
        for r in rounds {
            let pages = r["dirty_pages"].as_u64().unwrap();
            assert_eq!(r["bytes_sent"].as_u64().unwrap(), pages * page);
            // 1 Gbit/s: 8 ns per byte.
            let ms = r["transfer_ms"].as_f64().unwrap();
            assert!((ms - (pages * page * 8) as f64 / 1e6).abs() < 1e-3, "{r}");
            sent += pages * page;
        }
        assert_eq!(vf["bytes_sent"].as_u64().unwrap(), sent);
        assert!(vf["blackout_ms"].as_f64().unwrap() < vf["stop_and_copy_ms"].as_f64().unwrap());
    }
    assert!(json["trace"].as_array().unwrap().len() > 20);

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let tree = usvg::Tree::from_str(&svg, &usvg::Options::default()).expect("SVG parses");
    let size = tree.size().to_int_size();
    assert!(size.width() >= 900 && size.height() >= 400);
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    // The VF 0 colour (the first series and its bar) is on the canvas.
    let vf0 = pixmap
        .pixels()
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) == (0x1f, 0x77, 0xb4))
        .count();
    assert!(vf0 > 500, "{vf0} pixels of VF 0's colour");
    if let Ok(dir) = std::env::var("GPUP_SIM_PNG") {
        pixmap
            .save_png(PathBuf::from(dir).join("chart.png"))
            .unwrap();
    }
}

#[test]
fn bad_options_exit_with_code_2_and_a_clear_message() {
    for (args, needle) in [
        (vec!["migrate", "--vram", "4GX"], "unknown size unit"),
        (
            vec!["migrate", "--link", "fast"],
            "does not start with a number",
        ),
        (
            vec!["migrate", "--downtime", "750"],
            "unknown duration unit",
        ),
        (
            vec!["migrate", "--pattern", "zigzag"],
            "invalid value 'zigzag'",
        ),
        (vec!["migrate", "--vfs", "0"], "VF count 0"),
        (vec!["migrate", "--page-size", "1000"], "page size 1000"),
        (
            vec!["migrate", "--vram", "64MiB", "--working-set", "1GiB"],
            "larger than a VF's reserve",
        ),
        (vec!["migrate", "--working-set", "150%"], "more than 100%"),
        (vec!["migrate", "--write-size", "3"], "write size 3"),
        (
            vec![
                "migrate",
                "--vram",
                "64MiB",
                "--working-set",
                "8MiB",
                "--write-size",
                "16MiB",
            ],
            "larger than the working set",
        ),
        // More than the address space: refused whatever the host's overcommit policy.
        (
            vec!["migrate", "--vram", "16000000TiB", "--working-set", "4KiB"],
            "cannot reserve",
        ),
        (vec!["migrate", "--link", "0Gbit"], "link speed"),
        (
            vec!["migrate", "--vram", "4KiB", "--vfs", "2"],
            "cannot hold",
        ),
        (vec!["migrate", "--no-such-option"], "unexpected argument"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let out = sim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_dropped_mark_that_loses_data_fails_the_run_with_code_1() {
    // The workload of the model's faulty-tracker test, through the CLI.
    let out = sim(&[
        "migrate",
        "--vram",
        "64MiB",
        "--vfs",
        "1",
        "--ranges",
        "3",
        "--working-set",
        "100%",
        "--pattern",
        "sweep",
        "--dirty-rate",
        "1GiB/s",
        "--link",
        "100Gbit",
        "--downtime",
        "0ns",
        "--max-rounds",
        "100000",
        "--write-limit",
        "1000000",
        "--drop-one-mark-in",
        "1000000",
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.code, 1, "{stdout}");
    // One VF over 3 ranges of 5461 pages: 16383 pages; the 1,000,000th
    // write lands on page 999_999 % 16383 = 636.
    assert!(
        stdout.contains("Byte-identical check: FAILED for VF 0 (1 of 16383 pages differ)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{:#x} ->", 636 * 4096)),
        "{stdout}"
    );
}

/// `migrate --engine-traffic 8` over a small run with pre-copy rounds, plus `extra`.
fn engine_run(extra: &[&str]) -> (u8, String) {
    let mut args = vec![
        "migrate",
        "--vram",
        "64MiB",
        "--vfs",
        "2",
        "--downtime",
        "0ns",
        "--max-rounds",
        "3",
        "--engine-traffic",
        "8",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = sim(&args);
    (out.code, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn engine_traffic_inside_the_reserves_keeps_the_proof_passing() {
    let (code, stdout) = engine_run(&[]);
    // Over budget (0 ns downtime), but every check passed.
    assert_eq!(code, 4, "{stdout}");
    assert!(
        stdout.contains("  engine     8 paging operation(s) inside the migrating VF's reserve"),
        "{stdout}"
    );
    // Rounds 0, 1 and 2 (the third is the blackout): 12 FILL + 12 TRANSFER
    // of one 4 KiB page each, per VF.
    assert_eq!(
        stdout
            .matches("  engine: 12 FILL + 12 TRANSFER paging operations inside the reserve (96.0 KiB written, 24 fences delivered)")
            .count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("Byte-identical check: PASSED for all 2 VF(s)"),
        "{stdout}"
    );
}

#[test]
fn an_engine_that_drops_its_marks_fails_the_proof_with_code_1() {
    let (code, stdout) = engine_run(&["--engine-drops-marks"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("the engine drops its dirty marks"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Byte-identical check: FAILED for VF 0 ("),
        "{stdout}"
    );
    assert!(stdout.contains("), VF 1 ("), "{stdout}");
}

#[test]
fn engine_drops_marks_needs_engine_traffic() {
    let out = sim(&["migrate", "--engine-drops-marks"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, 2, "{stderr}");
    assert!(stderr.contains("needs --engine-traffic"), "{stderr}");
}
