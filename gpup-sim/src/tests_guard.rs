//! The guard rails, one test (or more) per item of issue 18's simulator
//! part: the up-front estimate and refusal, the early output-path check,
//! defaults that scale, sparse VRAM (an 80 GiB adapter), meaningless values,
//! the exit-code table, honest verdicts, plain progress lines, and the chart
//! rendered with a real font, each label where it belongs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dxgkrnl_model::migration::{NoProgress, Progress, run};
use resvg::{tiny_skia, usvg};

use super::exit::{Exit, TABLE};
use super::tests::{SMALL, sim, temp};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// Item 2: estimate up front, refuse beyond the limit, unless raised.
#[test]
fn a_run_that_cannot_finish_is_refused_before_it_starts() {
    let started = Instant::now();
    let out = sim(&["migrate", "--link", "1bit", "--quiet"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.code, 2, "{stderr}");
    assert!(out.stdout.is_empty(), "nothing ran");
    for needle in [
        "of modelled time, over the 10.0 min limit",
        "--max-modelled-time",
        "host work about",
        "days",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from {stderr}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );

    // The small run's estimate (about 0.1 s modelled) is over a 1 ms limit,
    // and runs once the limit is raised; its estimate is printed first.
    let mut tight = SMALL.to_vec();
    tight.extend(["--max-modelled-time", "1ms"]);
    let out = sim(&tight);
    assert_eq!(out.code, 2, "{}", text(&out.stderr));
    let out = sim(SMALL);
    let stdout = text(&out.stdout);
    assert_eq!(out.code, 0, "{stdout}");
    assert!(stdout.starts_with("estimate: "), "{stdout}");
    assert!(stdout.contains("modelled; host work about"), "{stdout}");
}

#[test]
fn the_estimate_bounds_the_default_run() {
    let args = <super::Cli as clap::Parser>::try_parse_from(["gpup-sim", "migrate"]).unwrap();
    let super::Command::Migrate(args) = args.command else {
        panic!("not a migrate command")
    };
    let config = args.config().unwrap();
    let e = super::estimate::estimate(&config, Duration::from_secs(600));
    // Fill 1 s, then two VFs of about 1.6 s each (pessimistic: no rewrites).
    assert!(!e.beyond_limit);
    assert!(
        e.modelled > Duration::from_secs(2) && e.modelled < Duration::from_secs(10),
        "{e:?}"
    );
    assert!(e.copied >= 2 << 30, "at least both working sets: {e:?}");
    assert!(e.written >= 2 << 30, "{e:?}");
}

// Item 3: output paths are checked before the migration, with their own code.
#[test]
fn unwritable_outputs_fail_early_with_the_io_exit_code() {
    let dir = temp("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    for (option, path) in [
        ("--json", "/nonexistent-gpup-dir/result.json".to_owned()),
        ("--svg", dir.to_string_lossy().into_owned()),
    ] {
        let started = Instant::now();
        let mut args = SMALL.to_vec();
        args.extend([option, path.as_str()]);
        let out = sim(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.code, Exit::Io.code(), "{option}: {stderr}");
        assert_eq!(out.code, 3);
        assert!(stderr.contains("cannot write"), "{stderr}");
        assert!(
            out.stdout.is_empty(),
            "no migration ran: {}",
            text(&out.stdout)
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // A path that can be written is not left behind by the check.
    let fresh = temp("not-left-behind.json");
    let _ = std::fs::remove_file(&fresh);
    assert!(super::check_writable(&fresh).is_ok());
    assert!(!fresh.exists());
}

// Item 4: the working set scales with the reserve; messages have units.
#[test]
fn defaults_scale_with_the_vram_and_sizes_have_units() {
    let out = sim(&["migrate", "--vram", "1GiB", "--quiet"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.code, 0, "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("working set 128 MiB"), "{stdout}");
    let out = sim(&["migrate", "--vram", "64MiB", "--working-set", "1GiB"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.code, 2);
    assert!(
        stderr.contains("working set 1 GiB is larger than a VF's reserve (32 MiB)"),
        "{stderr}"
    );
}

// Item 5: an 80 GiB adapter with a 1 GiB working set costs about what a
// 4 GiB one does.
#[test]
fn an_80_gib_adapter_runs_in_about_the_time_of_a_4_gib_one() {
    let timed = |vram: &str| {
        let started = Instant::now();
        let out = sim(&[
            "migrate",
            "--vram",
            vram,
            "--vfs",
            "1",
            "--working-set",
            "1GiB",
            "--quiet",
        ]);
        let stdout = text(&out.stdout);
        assert_eq!(out.code, 0, "{vram}: {stdout}{}", text(&out.stderr));
        (started.elapsed(), stdout)
    };
    let (small, _) = timed("4GiB");
    let (large, stdout) = timed("80GiB");
    println!("4 GiB: {small:?}, 80 GiB: {large:?}");
    assert!(
        stdout.contains("20971520 pages of destination VRAM equal their source"),
        "{stdout}"
    );
    assert!(
        large < small * 3 + Duration::from_secs(5),
        "80 GiB took {large:?}, 4 GiB {small:?}"
    );
}

// Item 6: meaningless values are refused with a message about the value.
#[test]
fn meaningless_values_exit_2_with_a_message() {
    for (args, needle) in [
        (vec!["--hot-set", "0%"], "'0%': must be above zero"),
        (
            vec!["--working-set", "0"],
            "the working set must be above zero",
        ),
        (vec!["--working-set", "0%"], "'0%': must be above zero"),
        (
            vec!["--write-limit", "0"],
            "'0': the value must be above zero",
        ),
        (vec!["--drop-one-mark-in", "0"], "must be above zero"),
        (vec!["--dirty-rate", "0B/s"], "the rate must be above zero"),
        (
            vec!["--dirty-rate", "-1"],
            "'-1': the value must not be negative",
        ),
        (vec!["--seed", "-1"], "'-1': the value must not be negative"),
        (vec!["--vfs", "-2"], "must not be negative"),
        (vec!["--link", "0"], "the link speed must be above zero"),
        (vec!["--link", "0Gbit"], "the link speed must be above zero"),
        (vec!["--seed", "1.5"], "not a whole number"),
    ] {
        let mut all = vec!["migrate"];
        all.extend(&args);
        let out = sim(&all);
        let stderr = text(&out.stderr);
        assert_eq!(out.code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("unexpected argument"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// A run that cannot meet its budget: a 1 ms blackout for 64 MiB written
/// uniformly at 1 GiB/s over a 1 Gbit/s link, three rounds at most.
const OVER_BUDGET: &[&str] = &[
    "migrate",
    "--vram",
    "64MiB",
    "--vfs",
    "1",
    "--working-set",
    "100%",
    "--pattern",
    "uniform",
    "--link",
    "1Gbit",
    "--downtime",
    "1ms",
    "--max-rounds",
    "3",
    "--quiet",
];

// Item 7: one table, documented, and every code produced by its cause.
#[test]
fn the_exit_code_table_is_documented_and_each_code_happens() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/simulator.md"))
        .expect("docs/simulator.md");
    for (exit, name, meaning) in TABLE {
        let row = format!("| {} | {name} | {meaning} |", exit.code());
        assert!(doc.contains(&row), "docs/simulator.md lacks the row\n{row}");
    }
    let codes: Vec<u8> = TABLE.iter().map(|(e, _, _)| e.code()).collect();
    assert_eq!(
        codes,
        [
            0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26
        ]
    );
    let help = sim(&["migrate", "--help"]);
    assert_eq!(help.code, 0);
    assert!(text(&help.stdout).contains(&super::exit::help()));
    // 0, 2, 3 and 4 here; 1 in `a_dropped_mark_that_loses_data_fails_the_run_with_code_1`;
    // 10-26 (the two-process mode's aborts) in `wire::tests`, one test per cause.
    assert_eq!(sim(SMALL).code, 0);
    assert_eq!(sim(&["migrate", "--vfs", "0"]).code, 2);
    assert_eq!(
        sim(&[SMALL, &["--json", "/nonexistent-gpup-dir/x.json"]].concat()).code,
        3
    );
    assert_eq!(sim(OVER_BUDGET).code, 4);
}

// Item 8: both baselines; a missed budget is a verdict, never a speed-up.
#[test]
fn a_missed_budget_is_a_verdict_not_a_speed_up() {
    let out = sim(OVER_BUDGET);
    let stdout = text(&out.stdout);
    assert_eq!(out.code, 4, "{stdout}");
    assert!(!stdout.contains("x shorter"), "{stdout}");
    for needle in [
        "did NOT converge: stopped after 3 rounds",
        "OVER BUDGET: blackout",
        "NOT CONVERGED",
        "Downtime budget: MISSED (1.0 ms) for VF 0 (did not converge",
        "Byte-identical check: PASSED",
        "Verdict: over budget (exit code 4).",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing from\n{stdout}");
    }
    let out = sim(SMALL);
    let stdout = text(&out.stdout);
    assert_eq!(out.code, 0, "{stdout}");
    for needle in [
        "stop-and-copy baselines: whole reserve",
        "; pages ever written ",
        "x shorter than stop-and-copy of the whole reserve",
        "x shorter than of the pages ever written",
        "Downtime budget: MET for all 2 VF(s)",
        "Verdict: passed (exit code 0).",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing from\n{stdout}");
    }
}

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Item 9: off a terminal, plain lines at a steady pace, with an ETA.
#[test]
fn off_a_terminal_progress_is_plain_lines_at_a_steady_pace() {
    let sink = Shared::default();
    let mut bars = super::progress::Bars::plain(
        Arc::new(Mutex::new(sink.clone())),
        Duration::from_millis(50),
    );
    std::thread::sleep(Duration::from_millis(130));
    bars.begin("VF 0: proof (pages compared)", 1000);
    bars.set(250);
    std::thread::sleep(Duration::from_millis(280));
    drop(bars);
    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 6, "{log}");
    assert!(lines[0].contains("running"), "{log}");
    let phase: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("VF 0: proof (pages compared): 25% (250 of 1000), ETA "))
        .collect();
    assert!(phase.len() >= 3, "{log}");
    assert!(
        !log.contains('\r') && !log.contains('\u{1b}'),
        "no terminal control: {log:?}"
    );
}

/// The font the chart test renders with (Debian's fonts-dejavu-core, which
/// `.ci/run` installs).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Every node with an id, in document order, with its bounding box (the
/// stroke's for paths).
fn boxes(group: &usvg::Group, out: &mut Vec<(String, tiny_skia::Rect)>) {
    for node in group.children() {
        match node {
            usvg::Node::Group(g) => boxes(g, out),
            usvg::Node::Text(t) => out.push((t.id().to_owned(), t.abs_bounding_box())),
            usvg::Node::Path(p) => out.push((p.id().to_owned(), p.abs_stroke_bounding_box())),
            usvg::Node::Image(_) => {}
        }
    }
}

// Item 10: coinciding series stay distinguishable, the budget is drawn, and
// every label is rendered with a font where it belongs.
#[test]
fn the_chart_renders_its_labels_where_they_belong() {
    assert!(
        std::path::Path::new(FONT).exists(),
        "{FONT} is missing: install Debian's fonts-dejavu-core (.ci/run does)"
    );
    let config = sim_config(SMALL);
    let mut report = run(&config, &mut NoProgress).unwrap();
    // VF 1 exactly on top of VF 0: VF 0 must still show.
    report.vfs[1].rounds = report.vfs[0].rounds.clone();
    let svg = super::svg::chart(&report);
    let mut options = usvg::Options::default();
    options
        .fontdb_mut()
        .load_font_data(std::fs::read(FONT).unwrap());
    options.fontdb_mut().set_sans_serif_family("DejaVu Sans");
    let tree = usvg::Tree::from_str(&svg, &options).expect("SVG parses");
    let mut nodes = Vec::new();
    boxes(tree.root(), &mut nodes);
    let find = |id: &str| {
        nodes
            .iter()
            .position(|(n, _)| n == id)
            .unwrap_or_else(|| panic!("{id} not rendered"))
    };
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let dark_in = |r: &tiny_skia::Rect| {
        let mut dark = 0;
        for y in r.top().floor() as u32..r.bottom().ceil() as u32 {
            for x in r.left().floor() as u32..r.right().ceil() as u32 {
                if let Some(p) = pixmap.pixel(x, y)
                    && u32::from(p.red()) + u32::from(p.green()) + u32::from(p.blue()) < 300
                {
                    dark += 1;
                }
            }
        }
        dark
    };
    let mut labels = Vec::new();
    for vf in 0..2 {
        // The legend: right of its swatch, on its line.
        let i = find(&format!("legend-vf{vf}"));
        let (label, swatch) = (nodes[i].1, nodes[i - 1].1);
        assert!(label.left() > swatch.right() && label.left() < swatch.right() + 12.0);
        let middle = (swatch.top() + swatch.bottom()) / 2.0;
        assert!(
            label.top() < middle && label.bottom() > middle,
            "{label:?} {swatch:?}"
        );
        labels.push(label);
        // Each bar's label: right of its bar's end, within its height.
        for k in 0..3 {
            let i = find(&format!("bar-vf{vf}-{k}"));
            let (label, bar) = (nodes[i].1, nodes[i - 1].1);
            assert!(
                label.left() > bar.right() && label.left() < bar.right() + 10.0,
                "bar-vf{vf}-{k}: {label:?} {bar:?}"
            );
            assert!(label.top() >= bar.top() - 1.0 && label.bottom() <= bar.bottom() + 4.0);
            labels.push(label);
        }
        // The VF name: left of the bars, ending at the axis.
        let name = nodes[find(&format!("blackout-vf{vf}"))].1;
        assert!(name.right() <= 84.5 && name.right() > 70.0, "{name:?}");
        labels.push(name);
    }
    // The budget: a line across the bars, its label centred below it.
    let line = nodes[find("budget-line")].1;
    let label = nodes[find("budget-label")].1;
    let centre = (label.left() + label.right()) / 2.0;
    let x = (line.left() + line.right()) / 2.0;
    assert!(
        (centre - x).abs() < 2.0 && label.top() > line.bottom() - 1.0,
        "{label:?} {line:?}"
    );
    labels.push(label);
    for (k, a) in labels.iter().enumerate() {
        assert!(
            a.width() > 10.0 && dark_in(a) > 20,
            "label {k} not drawn: {a:?}"
        );
        for b in &labels[k + 1..] {
            assert!(a.intersect(b).is_none(), "labels overlap: {a:?} {b:?}");
        }
    }
    // VF 0's colour shows in the rounds panel although VF 1 coincides.
    let vf0 = (0..size.height().min(320))
        .flat_map(|y| (90..700).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            pixmap
                .pixel(x, y)
                .is_some_and(|p| (p.red(), p.green(), p.blue()) == (0x1f, 0x77, 0xb4))
        })
        .count();
    assert!(vf0 > 300, "{vf0} pixels of VF 0 under VF 1");
}

/// The configuration `args` ask for.
fn sim_config(args: &[&str]) -> dxgkrnl_model::migration::MigrationConfig {
    let cli = <super::Cli as clap::Parser>::try_parse_from(
        std::iter::once("gpup-sim").chain(args.iter().copied()),
    )
    .unwrap();
    let super::Command::Migrate(args) = cli.command else {
        panic!("not a migrate command")
    };
    args.config().unwrap()
}

#[test]
fn progress_round_lines_go_to_the_plain_sink() {
    let sink = Shared::default();
    let mut bars =
        super::progress::Bars::plain(Arc::new(Mutex::new(sink.clone())), Duration::from_secs(60));
    let report = run(&sim_config(SMALL), &mut NoProgress).unwrap();
    bars.round(0, &report.vfs[0].rounds[0]);
    drop(bars);
    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(log.starts_with("VF 0 round   1 ("), "{log}");
}
