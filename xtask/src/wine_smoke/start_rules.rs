//! The start rules in the Wine run: the fake DXGKrnl plays the model's
//! start sequence (`dxgkrnl-model/src/start/`) against the image, every rule
//! enforced, and notes every rule it refuses (`# start refused: <rule id>`)
//! and its verdict. The deliberately broken start image
//! (`--cfg gpup_wine_start_broken`: a reserved `MiscCaps` bit, rule 2.2j)
//! must be refused at exactly that rule.
//!
//! The real image passes every rule but the one the fixture waives while the
//! driver is known not to pass it (`AWAITING_DRIVER` in
//! `dxgkrnl-model/src/start/rules.rs`: 2.3.9 until the software engine's
//! SubmitCommandVirtual lands), which is noted as refused and the run goes
//! on; the broken image's run ends at its rule, so the waived rules after it
//! are not reached.

use super::log::fixture_lines;

/// The cfg of the deliberately broken start image.
pub const START_BROKEN_CFG: &str = "gpup_wine_start_broken";

/// The one rule the broken start image breaks.
pub const START_BROKEN_RULE: &str = "2.2j MiscCaps reserved";

/// The note prefix of a refused rule (`fake_dxgkrnl::start_checks::REFUSED_NOTE`).
const REFUSED_NOTE: &str = "# start refused: ";

/// The note prefix of the start verdict.
const VERDICT_NOTE: &str = "# start verdict: ";

/// The rules a run's start refused, in order.
pub fn refusals(log: &str) -> Vec<String> {
    fixture_lines(log)
        .iter()
        .filter_map(|l| l.strip_prefix(REFUSED_NOTE).map(str::to_owned))
        .collect()
}

/// The run's start verdict note.
pub fn verdict(log: &str) -> Option<String> {
    fixture_lines(log)
        .iter()
        .find_map(|l| l.strip_prefix(VERDICT_NOTE).map(str::to_owned))
}

/// Whether the broken image was refused by exactly [`START_BROKEN_RULE`]
/// on top of what the real image was refused by. With `ended` (its start
/// verdict is a refusal at that rule: the rules are enforced), the broken
/// run stops there, so the real image's refusals of later rules may be
/// missing; it must still be refused last, and only, by that rule beyond
/// the real image's.
///
/// # Errors
/// What differs.
pub fn compare(real: &[String], broken: &[String], ended: bool) -> Result<String, String> {
    if real.iter().any(|r| r == START_BROKEN_RULE) {
        return Err(format!(
            "the real image is already refused by {START_BROKEN_RULE}, so the broken one proves nothing"
        ));
    }
    let lost: Vec<_> = real.iter().filter(|r| !broken.contains(r)).collect();
    let added: Vec<_> = broken.iter().filter(|b| !real.contains(b)).collect();
    let last = broken.last().map(String::as_str);
    let lost_ok = lost.is_empty() || (ended && last == Some(START_BROKEN_RULE));
    if !lost_ok || added != [START_BROKEN_RULE] {
        return Err(format!(
            "the broken start image must be refused by exactly {START_BROKEN_RULE:?} more than the real one; \
             refused additionally by {added:?}, no longer by {lost:?} (the run ended there: {ended})"
        ));
    }
    Ok(format!(
        "refused by {START_BROKEN_RULE:?} (the real image: {} rule(s) waived or refused, {} of them before it)",
        real.len(),
        broken.len().saturating_sub(1)
    ))
}

/// Whether a run's start verdict is a refusal at [`START_BROKEN_RULE`] (an
/// enforced start ended there).
pub fn ended_at_broken_rule(log: &str) -> bool {
    verdict(log).is_some_and(|v| v.starts_with(&format!("refused at {START_BROKEN_RULE} (")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(refused: &[&str]) -> String {
        let mut s = String::from("x fake-dxgkrnl: plan 3\n");
        for r in refused {
            s.push_str(&format!("trace:x fake-dxgkrnl: # start refused: {r}\n"));
        }
        s.push_str("fake-dxgkrnl: # start verdict: refused at 2.2g UMD name (0xc0000034), 2 rule(s) refused\n");
        s
    }

    #[test]
    fn refusals_are_read_from_the_notes_and_compared() {
        let real = refusals(&log(&["2.2g UMD name", "4.1 Segment count"]));
        assert_eq!(real, ["2.2g UMD name", "4.1 Segment count"]);
        assert!(verdict(&log(&[])).unwrap().starts_with("refused at 2.2g"));
        assert!(!ended_at_broken_rule(&log(&[])));
        let broken = refusals(&log(&[
            "2.2g UMD name",
            START_BROKEN_RULE,
            "4.1 Segment count",
        ]));
        assert!(compare(&real, &broken, false).is_ok());
        // Refused by another rule, by none more, or no longer by one.
        let other = refusals(&log(&[
            "2.2g UMD name",
            "2.2e WDDMVersion",
            "4.1 Segment count",
        ]));
        assert!(compare(&real, &other, false).is_err());
        assert!(compare(&real, &real, false).is_err());
        let lost = refusals(&log(&[START_BROKEN_RULE, "4.1 Segment count"]));
        assert!(compare(&real, &lost, false).is_err());
        // Once the real image passes every rule.
        assert!(compare(&[], &[START_BROKEN_RULE.to_owned()], false).is_ok());
    }

    #[test]
    fn an_enforced_broken_run_ends_at_its_rule() {
        let ended = format!(
            "fake-dxgkrnl: # start refused: {START_BROKEN_RULE}\n\
             fake-dxgkrnl: # start verdict: refused at {START_BROKEN_RULE} (0xc000000d), 1 rule(s) refused\n"
        );
        assert!(ended_at_broken_rule(&ended));
        let broken = refusals(&ended);
        // The real image's waived rule comes later: not reached.
        let real = ["2.3.9 CheckMcdmDdiSubmission".to_owned()];
        assert!(compare(&real, &broken, true).is_ok());
        assert!(compare(&real, &broken, false).is_err());
        // Ended, but at another rule, or refused by another rule first.
        let other = [
            START_BROKEN_RULE.to_owned(),
            "2.2l Cap/DDI couplings".to_owned(),
        ];
        assert!(compare(&real, &other, true).is_err());
        let before = ["2.2e WDDMVersion".to_owned(), START_BROKEN_RULE.to_owned()];
        assert!(compare(&real, &before, true).is_err());
    }
}
