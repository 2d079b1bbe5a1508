//! The start rules in the Wine run: the fake DXGKrnl plays the model's
//! start sequence (`dxgkrnl-model/src/start/`) against the image and notes
//! every rule it refuses (`# start refused: <rule id>`) and its verdict. The
//! deliberately broken start image (`--cfg gpup_wine_start_broken`: a
//! reserved `MiscCaps` bit, rule 2.2j) must be refused by exactly that rule
//! more than the real image is.
//!
//! Until the miniport answers the whole start (issue 16), the fixture plays
//! the rules in report mode and the real image is refused by several; the
//! comparison holds either way, and once the fixture enforces the rules the
//! real image's list is empty.

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
/// on top of what the real image was refused by.
///
/// # Errors
/// What differs.
pub fn compare(real: &[String], broken: &[String]) -> Result<String, String> {
    if real.iter().any(|r| r == START_BROKEN_RULE) {
        return Err(format!(
            "the real image is already refused by {START_BROKEN_RULE}, so the broken one proves nothing"
        ));
    }
    let lost: Vec<_> = real.iter().filter(|r| !broken.contains(r)).collect();
    let added: Vec<_> = broken.iter().filter(|b| !real.contains(b)).collect();
    if !lost.is_empty() || added != [START_BROKEN_RULE] {
        return Err(format!(
            "the broken start image must be refused by exactly {START_BROKEN_RULE:?} more than the real one; \
             refused additionally by {added:?}, no longer by {lost:?}"
        ));
    }
    Ok(format!(
        "refused by {START_BROKEN_RULE:?} (and the {} rule(s) the real image is refused by)",
        real.len()
    ))
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
        let broken = refusals(&log(&[
            "2.2g UMD name",
            START_BROKEN_RULE,
            "4.1 Segment count",
        ]));
        assert!(compare(&real, &broken).is_ok());
        // Refused by another rule, by none more, or no longer by one.
        let other = refusals(&log(&[
            "2.2g UMD name",
            "2.2e WDDMVersion",
            "4.1 Segment count",
        ]));
        assert!(compare(&real, &other).is_err());
        assert!(compare(&real, &real).is_err());
        let lost = refusals(&log(&[START_BROKEN_RULE, "4.1 Segment count"]));
        assert!(compare(&real, &lost).is_err());
        // Once the real image passes every rule.
        assert!(compare(&[], &[START_BROKEN_RULE.to_owned()]).is_ok());
    }
}
