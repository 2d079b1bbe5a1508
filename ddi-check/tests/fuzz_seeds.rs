//! The fuzz targets as ordinary tests, on the stable toolchain: each target's
//! committed seeds (`fuzz/seeds/<target>/`), any local corpus a fuzzing run
//! left (`fuzz/corpus/<target>/`, not committed), and a few thousand
//! deterministic pseudo-random inputs and seed mutations per target. Also
//! checks that `ddi_check::fuzz::TARGETS`, `fuzz/fuzz_targets/`,
//! `fuzz/Cargo.toml` and `fuzz/seeds/` name the same targets.
//!
//! `FUZZ_REPLAY_INPUTS` sets the number of generated inputs per target
//! (default 10,000).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ddi_check::fuzz::TARGETS;
use gpup_rng::XorShift64Star;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Deterministic inputs, the same on every run: the shared xorshift64*,
/// with indices drawn as `usize`.
struct Rng(XorShift64Star);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below_mod(n as u64) as usize
    }
}

fn run(name: &str, target: fn(&[u8]), what: &str, data: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| target(data))).is_err() {
        panic!("fuzz target {name} failed on {what}: {data:02x?}");
    }
}

#[test]
fn every_fuzz_target_passes_its_seeds_corpus_and_generated_inputs() {
    let generated: usize = std::env::var("FUZZ_REPLAY_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut total = 0usize;
    for (i, &(name, target)) in TARGETS.iter().enumerate() {
        let mut seeds: Vec<Vec<u8>> = Vec::new();
        for dir in ["seeds", "corpus"] {
            for path in files(&fuzz_dir().join(dir).join(name)) {
                let data = std::fs::read(&path).expect("readable seed");
                run(name, target, &path.display().to_string(), &data);
                seeds.push(data);
            }
        }
        assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ has seeds");
        let mut rng = Rng(XorShift64Star::from_state(0x9E37_79B9_7F4A_7C15 ^ i as u64));
        for n in 0..generated {
            // Half fresh random bytes, half a seed with a few bytes changed,
            // inserted or cut.
            let data: Vec<u8> = if n % 2 == 0 {
                (0..rng.below(300)).map(|_| rng.next() as u8).collect()
            } else {
                let mut d = seeds[rng.below(seeds.len())].clone();
                for _ in 0..1 + rng.below(4) {
                    match rng.below(3) {
                        0 if !d.is_empty() => {
                            let at = rng.below(d.len());
                            d[at] = rng.next() as u8;
                        }
                        1 => {
                            let at = rng.below(d.len() + 1);
                            d.insert(at, rng.next() as u8);
                        }
                        _ if !d.is_empty() => {
                            let at = rng.below(d.len());
                            d.truncate(at.max(1));
                        }
                        _ => {}
                    }
                }
                d
            };
            run(name, target, "a generated input", &data);
        }
        println!(
            "fuzz replay: {name}: {} seeds/corpus inputs + {generated} generated",
            seeds.len()
        );
        total += seeds.len() + generated;
    }
    println!(
        "fuzz replay: {total} executions over {} targets",
        TARGETS.len()
    );
}

#[test]
fn the_target_list_the_fuzz_crate_and_the_seeds_agree() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut on_disk: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "fuzz/fuzz_targets/*.rs and ddi_check::fuzz::TARGETS"
    );
    for name in &listed {
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "fuzz/Cargo.toml has a [[bin]] for {name}"
        );
        assert!(
            !files(&fuzz_dir().join("seeds").join(name)).is_empty(),
            "fuzz/seeds/{name}/ has seeds"
        );
    }
}

/// The `ops` seeds cover the migration DDIs: `migration` is a whole live
/// migration (both blobs saved and restored on another VF), and
/// `wrong_state_and_damage` has damaged blobs refused.
#[test]
fn the_ops_seeds_reach_a_whole_migration_and_refuse_damaged_data() {
    let stats = |name: &str| {
        let data = std::fs::read(fuzz_dir().join("seeds/ops").join(name)).expect("seed");
        ddi_check::check_sequence(&ddi_check::fuzz::ops_of(&data), ddi_check::Flaw::None)
            .expect("the seed passes")
    };
    let whole = stats("migration");
    assert_eq!((whole.saves, whole.restores, whole.migrations), (2, 2, 1));
    let damaged = stats("wrong_state_and_damage");
    assert!(damaged.corrupt_rejected >= 2, "{damaged:?}");
}

/// The `ops` seeds still reach the tracked VRAM segments after issue 16
/// moved them from id 1 to id 2 behind the paging aperture: a seed names a
/// segment by its index in the checker's configuration
/// (`SegSel::Configured`), not by id, so its bases are created in tracked
/// segments and its marks are reported dirty (neither happens in the
/// aperture or an untracked segment).
#[test]
fn the_ops_seeds_reach_the_tracked_segments() {
    for name in ["lifecycle", "two_segments"] {
        let data = std::fs::read(fuzz_dir().join("seeds/ops").join(name)).expect("seed");
        let stats =
            ddi_check::check_sequence(&ddi_check::fuzz::ops_of(&data), ddi_check::Flaw::None)
                .expect("the seed passes");
        assert!(stats.created >= 1, "{name}: {stats}");
        assert!(stats.dirty_reports >= 1, "{name}: {stats}");
    }
}

/// The structure-aware Restore target reaches every stage: refusals of each
/// blob (by which semantic check: the triage reasons) and acceptances
/// (whose state the target's Save reproduces), from its seeds and 2,000
/// generated inputs.
#[test]
fn the_restore_records_target_reaches_both_restores_semantic_checks() {
    use ddi_check::restore_fuzz::{Outcome, run};
    use std::collections::BTreeMap;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut inputs: Vec<Vec<u8>> = files(&fuzz_dir().join("seeds/restore_records"))
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let mut rng = Rng(XorShift64Star::from_state(0x5EED_0F4E_570E));
    for _ in 0..2_000 {
        let mut data = vec![7u8, rng.next() as u8, 1];
        // Mostly "keep" bytes, a few changes.
        let n = rng.below(200);
        for _ in 0..n {
            let b = if rng.below(6) == 0 {
                rng.next() as u8
            } else {
                0
            };
            data.push(b);
        }
        inputs.push(data);
    }
    for data in &inputs {
        let key = match run(data) {
            Outcome::ImmutableRefused(r) => format!("immutable refused, reason {r}"),
            Outcome::MutableRefused(r) => format!("mutable refused, reason {r}"),
            other => format!("{other:?}"),
        };
        *seen.entry(key).or_default() += 1;
    }
    println!(
        "restore_records outcomes over {} inputs: {seen:#?}",
        inputs.len()
    );
    let has = |prefix: &str| seen.keys().filter(|k| k.starts_with(prefix)).count();
    assert!(has("Accepted") == 1, "{seen:?}");
    assert!(
        has("immutable refused") >= 4,
        "immutable checks reached: {seen:?}"
    );
    assert!(
        has("mutable refused") >= 4,
        "mutable checks reached: {seen:?}"
    );
}

/// The `ops` seeds `vf_config` and `vf_surface` reach every VF-facing kind
/// (configuration reads and writes in and out of range, reset, FLR, VM bus,
/// QueryInterface, profiles, FlexIOV, ids, NULL argument blocks,
/// CreateAllocation of good and bad private data), and every kind that can
/// succeed does.
#[test]
fn the_ops_seeds_reach_every_vf_facing_kind() {
    use ddi_check::ops::{Op, VfOp, VgpuOp};
    let mut by_kind = vec![(0u64, 0u64); VfOp::KINDS.len()];
    for name in ["vf_config", "vf_surface"] {
        let data = std::fs::read(fuzz_dir().join("seeds/ops").join(name)).expect("seed");
        let stats =
            ddi_check::check_sequence(&ddi_check::fuzz::ops_of(&data), ddi_check::Flaw::None)
                .expect("the seed passes");
        // The VF-facing kinds follow the vGPU ones (the render kinds come last).
        let first = 9 + VgpuOp::KINDS.len();
        assert_eq!(Op::KINDS[first..first + VfOp::KINDS.len()], VfOp::KINDS[..]);
        for (sum, (calls, ok)) in by_kind.iter_mut().zip(&stats.by_kind[first..]) {
            sum.0 += calls;
            sum.1 += ok;
        }
    }
    for (name, (calls, ok)) in VfOp::KINDS.iter().zip(&by_kind) {
        assert!(*calls > 0, "{name} is not reached");
        let can_succeed = !matches!(*name, "UnsupportedSriov" | "NullArgs");
        assert!(
            !can_succeed || *ok > 0,
            "{name} never succeeds: {ok}/{calls}"
        );
        // The seeds also pass faults to these: out-of-range and huge spans,
        // short sizes, version 0, unknown GUIDs and counts, bad records.
        let faulted = [
            "ReadConfig",
            "WriteConfig",
            "QueryInterface",
            "GetProfile",
            "CreateAllocation",
        ];
        assert!(
            !faulted.contains(name) || *ok < *calls,
            "{name} is never refused: {ok}/{calls}"
        );
    }
}

/// The `ops` seed `engine` reaches the software engine (kind bytes
/// 0xD0-0xDF): builds of FILL, TRANSFER in, out and within VRAM and a
/// monitored-fence signal, submissions by address and by GPU VA, a
/// preemption, waits, a faulting buffer, the engine status, reset and
/// timeout DDIs; every fence matches the model. And the same input catches
/// an engine that drops its dirty marks (the end-of-sequence read-back).
#[test]
fn the_ops_seed_engine_reaches_the_software_engine_and_catches_dropped_marks() {
    let data = std::fs::read(fuzz_dir().join("seeds/ops/engine")).expect("seed");
    let ops = ddi_check::fuzz::ops_of(&data);
    let stats = ddi_check::check_sequence(&ops, ddi_check::Flaw::None).expect("the seed passes");
    println!("engine seed: {stats}");
    assert!(stats.fences >= 5, "{stats}");
    for kind in ddi_check::ops::EngineOp::KINDS {
        let i = ddi_check::ops::Op::KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap();
        assert!(stats.by_kind[i].1 > 0, "{kind} reached: {stats}");
    }
    let broken = ddi_check::check_sequence_with(
        &ops,
        ddi_check::Flaw::None,
        ddi_check::Broken::DropsMarks,
        std::time::Duration::from_secs(2),
    );
    let err = broken.expect_err("dropped marks are caught");
    assert!(err.contains("bits differ"), "{err}");
}

/// The `ops` seed `engine_vaddr` reaches the VIRTUAL operations' cases
/// (`docs/proofs.md`): root entries past the root's count with Repeat, leaf
/// entries mapping VRAM and system pages, ReadOnly and Zero, three entries
/// repeated; fills and transfers through them (VRAM into system pages and
/// back, from a Zero page, through root entry 1), a fill into the read-only
/// page and one past the root (both fault, then a reset); every fence and
/// byte matches the model. The same input catches an engine that writes
/// through read-only entries.
#[test]
fn the_ops_seed_engine_vaddr_reaches_the_virtual_cases_and_catches_read_only_writes() {
    let data = std::fs::read(fuzz_dir().join("seeds/ops/engine_vaddr")).expect("seed");
    let ops = ddi_check::fuzz::ops_of(&data);
    let stats = ddi_check::check_sequence(&ops, ddi_check::Flaw::None).expect("the seed passes");
    println!("engine_vaddr seed: {stats}");
    assert!(stats.fences >= 13, "{stats}");
    assert!(stats.dirty_reports >= 1, "{stats}");
    let broken = ddi_check::check_sequence_with(
        &ops,
        ddi_check::Flaw::None,
        ddi_check::Broken::IgnoresReadOnly,
        std::time::Duration::from_secs(2),
    );
    let err = broken.expect_err("writes through read-only entries are caught");
    println!("IgnoresReadOnly caught: {err}");
    assert!(err.contains("cannot run"), "{err}");
}
