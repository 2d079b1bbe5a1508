//! INF stamping, as the WDK's `stampinf -d * -a <arch> -c <catalog> -v *`
//! does it under `cargo make`: the `DriverVer` directive of `[Version]`
//! (date and version), the `$ARCH$` decoration, and `CatalogFile`; and the
//! check of the INF's setup class ([`check_class`]).

use std::time::{SystemTime, UNIX_EPOCH};

/// What to stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// `DriverVer` date: (year, month, day).
    pub date: (u32, u32, u32),
    /// `DriverVer` version: four 16-bit fields.
    pub version: [u16; 4],
    /// The `$ARCH$` replacement (`amd64`).
    pub arch: &'static str,
    /// The `CatalogFile` value.
    pub catalog: String,
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
pub fn civil_date(days_since_epoch: i64) -> (u32, u32, u32) {
    // Shift the epoch to 0000-03-01, so leap days fall at the end of a year.
    let days = days_since_epoch + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let to_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
    (to_u32(year), to_u32(month), to_u32(day))
}

impl Stamp {
    /// The stamp for a build at `unix_seconds` (UTC) of a crate at
    /// `major.minor.patch`: today's date, and as the fourth version field the
    /// time of day in two-second steps (0..43200), so that each rebuild ranks
    /// newer, as `stampinf -v *` intends.
    pub fn at(
        unix_seconds: i64,
        crate_version: &str,
        arch: &'static str,
        catalog: &str,
    ) -> Result<Self, String> {
        let mut parts = crate_version.split(['.', '-', '+']);
        let mut field = || -> Result<u16, String> {
            let part = parts
                .next()
                .ok_or_else(|| format!("version {crate_version} has no major.minor.patch"))?;
            part.parse().map_err(|_| {
                format!("version field {part:?} of {crate_version} is not a 16-bit number")
            })
        };
        let (major, minor, patch) = (field()?, field()?, field()?);
        let seconds_of_day = unix_seconds.rem_euclid(86_400);
        let build = u16::try_from(seconds_of_day / 2).map_err(|e| e.to_string())?;
        Ok(Self {
            date: civil_date(unix_seconds.div_euclid(86_400)),
            version: [major, minor, patch, build],
            arch,
            catalog: catalog.to_owned(),
        })
    }

    /// Now, or `SOURCE_DATE_EPOCH` when set (reproducible builds).
    pub fn now(crate_version: &str, arch: &'static str, catalog: &str) -> Result<Self, String> {
        let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(value) => value
                .trim()
                .parse()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={value:?} is not a number"))?,
            Err(_) => {
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_err(|e| e.to_string())?;
                i64::try_from(since.as_secs()).map_err(|e| e.to_string())?
            }
        };
        Self::at(seconds, crate_version, arch, catalog)
    }

    /// The `DriverVer` value: `MM/DD/YYYY,w.x.y.z`.
    pub fn driver_ver(&self) -> String {
        let (year, month, day) = self.date;
        let [a, b, c, d] = self.version;
        format!("{month:02}/{day:02}/{year:04},{a}.{b}.{c}.{d}")
    }
}

/// The key of an INF directive line (`Key = value`), if it is one.
fn directive_key(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if trimmed.starts_with(';') || trimmed.starts_with('[') {
        return None;
    }
    Some(line.split_once('=')?.0.trim())
}

/// Stamps an `.inx` template into an `.inf` (CRLF line endings, as INF files
/// are written on Windows).
///
/// # Errors
/// If the template has no `[Version]` section.
pub fn stamp(template: &str, stamp: &Stamp) -> Result<String, String> {
    let driver_ver = stamp.driver_ver();
    let mut out: Vec<String> = Vec::new();
    let mut in_version = false;
    let mut saw_version = false;
    // Directives of [Version] still to write: set when written in place.
    let mut wrote_driver_ver = false;
    let mut wrote_catalog = false;
    // Where the [Version] section's last non-blank line is, to append after it.
    let mut version_end = 0;

    for raw in template.lines() {
        // Comment lines are copied as they are (they may name `$ARCH$`).
        if raw.trim_start().starts_with(';') {
            out.push(raw.to_owned());
            continue;
        }
        let line = raw.replace("$ARCH$", stamp.arch);
        let header = line
            .trim_start()
            .strip_prefix('[')
            .and_then(|rest| rest.split_once(']'));
        if let Some((name, _)) = header {
            in_version = name.trim().eq_ignore_ascii_case("Version");
            saw_version |= in_version;
            out.push(line);
            if in_version {
                version_end = out.len();
            }
            continue;
        }
        if in_version {
            match directive_key(&line) {
                Some(key) if key.eq_ignore_ascii_case("DriverVer") => {
                    let key_text = line.split_once('=').map_or("DriverVer", |(k, _)| k);
                    out.push(format!("{key_text}= {driver_ver}"));
                    wrote_driver_ver = true;
                }
                Some(key) if key.eq_ignore_ascii_case("CatalogFile") => {
                    let key_text = line.split_once('=').map_or("CatalogFile", |(k, _)| k);
                    out.push(format!("{key_text}= {}", stamp.catalog));
                    wrote_catalog = true;
                }
                _ => out.push(line),
            }
            if !out.last().is_some_and(|l| l.trim().is_empty()) {
                version_end = out.len();
            }
            continue;
        }
        out.push(line);
    }
    if !saw_version {
        return Err("the template has no [Version] section".into());
    }
    let mut missing = Vec::new();
    if !wrote_driver_ver {
        missing.push(format!("DriverVer = {driver_ver}"));
    }
    if !wrote_catalog {
        missing.push(format!("CatalogFile = {}", stamp.catalog));
    }
    out.splice(version_end..version_end, missing);
    let mut inf = out.join("\r\n");
    inf.push_str("\r\n");
    Ok(inf)
}

/// The setup class of an MCDM (compute-only) adapter: Microsoft's "MCDM
/// kernel-mode driver implementation guidelines" (MicrosoftDocs
/// windows-driver-docs, `display/mcdm-implementation-guidelines.md`, "Driver
/// INF file") names it and its GUID. Dxgkrnl refuses an adapter of this class
/// whose DRIVERCAPS lack `MiscCaps.ComputeOnly`, and a compute-only adapter
/// belongs to no other (`../shared/spec/adapter-start.md` 2.2 f, 3.3).
pub const CLASS: &str = "ComputeAccelerator";
/// `GUID_DEVCLASS_COMPUTEACCELERATOR`, as the same page spells it.
pub const CLASS_GUID: &str = "{F01A9D53-3FF6-48D2-9F97-C8A7004BE10C}";

/// Checks that the INF's `[Version]` section installs into [`CLASS`] with
/// [`CLASS_GUID`] (names and GUIDs compare case-insensitively, as Windows
/// compares them), each given once.
///
/// # Errors
/// A message naming the directive that is missing, repeated or different.
pub fn check_class(inf: &str) -> Result<(), String> {
    let mut in_version = false;
    let (mut class, mut guid) = (Vec::new(), Vec::new());
    for line in inf.lines() {
        let header = line
            .trim_start()
            .strip_prefix('[')
            .and_then(|rest| rest.split_once(']'));
        if let Some((name, _)) = header {
            in_version = name.trim().eq_ignore_ascii_case("Version");
            continue;
        }
        if !in_version {
            continue;
        }
        let Some(key) = directive_key(line) else {
            continue;
        };
        // The value, without a trailing comment.
        let value = line
            .split_once('=')
            .map_or("", |(_, v)| v.split(';').next().unwrap_or_default().trim());
        if key.eq_ignore_ascii_case("Class") {
            class.push(value.to_owned());
        } else if key.eq_ignore_ascii_case("ClassGUID") {
            guid.push(value.to_owned());
        }
    }
    for (directive, values, want) in [("Class", &class, CLASS), ("ClassGUID", &guid, CLASS_GUID)] {
        match values.as_slice() {
            [one] if one.eq_ignore_ascii_case(want) => {}
            [] => return Err(format!("[Version] has no {directive} (want {want})")),
            [one] => return Err(format!("[Version] {directive} = {one}, want {want}")),
            _ => return Err(format!("[Version] sets {directive} {} times", values.len())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp_for_tests() -> Stamp {
        Stamp::at(1_733_097_600 + 3_661, "0.1.0", "amd64", "gpup_miniport.cat").expect("stamp")
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_059), (2024, 12, 2));
        assert_eq!(civil_date(-1), (1969, 12, 31));
    }

    #[test]
    fn driver_ver_is_date_then_crate_version_and_time_of_day() {
        // 2024-12-02 01:01:01 UTC: 3661 s into the day, build field 1830.
        assert_eq!(stamp_for_tests().driver_ver(), "12/02/2024,0.1.0.1830");
    }

    #[test]
    fn stamps_driver_ver_catalog_and_arch_in_place() {
        let template = "; $ARCH$ comment\n[Version]\nSignature = \"$WINDOWS NT$\"\nDriverVer   =\nCatalogFile = old.cat\n\n[Manufacturer]\n%M% = Models, NT$ARCH$.10.0...22000\n\n[Models.NT$ARCH$.10.0...22000]\n";
        let inf = stamp(template, &stamp_for_tests()).expect("stamped");
        let lines: Vec<&str> = inf.split("\r\n").collect();
        assert_eq!(lines[3], "DriverVer   = 12/02/2024,0.1.0.1830");
        assert_eq!(lines[4], "CatalogFile = gpup_miniport.cat");
        assert!(inf.contains("%M% = Models, NTamd64.10.0...22000\r\n"));
        assert!(inf.contains("[Models.NTamd64.10.0...22000]\r\n"));
        assert!(
            inf.starts_with("; $ARCH$ comment\r\n"),
            "comments are copied as they are"
        );
        assert_eq!(
            inf.matches("$ARCH$").count(),
            1,
            "and only comments keep $ARCH$"
        );
        assert!(
            inf.contains("\"$WINDOWS NT$\""),
            "other $...$ tokens are left alone"
        );
        assert!(!inf.replace("\r\n", "").contains('\n'), "CRLF only");
    }

    #[test]
    fn adds_missing_directives_at_the_end_of_version() {
        let template = "[Version]\nSignature = \"$WINDOWS NT$\"\n\n[Strings]\n";
        let inf = stamp(template, &stamp_for_tests()).expect("stamped");
        assert_eq!(
            inf,
            "[Version]\r\nSignature = \"$WINDOWS NT$\"\r\nDriverVer = 12/02/2024,0.1.0.1830\r\nCatalogFile = gpup_miniport.cat\r\n\r\n[Strings]\r\n"
        );
    }

    #[test]
    fn a_template_without_version_is_refused() {
        assert!(stamp("[Strings]\nA = b\n", &stamp_for_tests()).is_err());
    }

    #[test]
    fn the_project_template_stamps_cleanly() {
        let template = include_str!("../../inf/gpup_miniport.inx");
        let inf = stamp(template, &stamp_for_tests()).expect("stamped");
        assert!(
            inf.contains("DriverVer   = 12/02/2024,0.1.0.1830\r\n"),
            "{inf}"
        );
        assert!(inf.contains("CatalogFile = gpup_miniport.cat\r\n"));
        assert!(inf.contains("[GpupMiniport.NTamd64.10.0...22000]"));
        let mut directives = inf.lines().filter(|l| !l.trim_start().starts_with(';'));
        assert!(directives.all(|l| !l.contains("$ARCH$")));
    }

    #[test]
    fn the_project_template_is_a_compute_accelerator() {
        let template = include_str!("../../inf/gpup_miniport.inx");
        assert_eq!(check_class(template), Ok(()));
        let inf = stamp(template, &stamp_for_tests()).expect("stamped");
        assert_eq!(check_class(&inf), Ok(()));
    }

    #[test]
    fn check_class_refuses_another_class_a_wrong_guid_or_a_missing_one() {
        let with = |class: &str, guid: &str| {
            format!(
                "[Version]\nSignature = \"$WINDOWS NT$\"\n{class}{guid}\n[Strings]\nClass = ComputeAccelerator\n"
            )
        };
        let ok = with(
            "Class = ComputeAccelerator\n",
            "ClassGuid = {f01a9d53-3ff6-48d2-9f97-c8a7004be10c} ; lower case\n",
        );
        assert_eq!(check_class(&ok), Ok(()));
        // The project's previous class.
        let display = with(
            "Class = Display\n",
            "ClassGUID = {4d36e968-e325-11ce-bfc1-08002be10318}\n",
        );
        assert_eq!(
            check_class(&display),
            Err("[Version] Class = Display, want ComputeAccelerator".into())
        );
        let wrong_guid = with(
            "Class = ComputeAccelerator\n",
            "ClassGUID = {4d36e968-e325-11ce-bfc1-08002be10318}\n",
        );
        assert!(check_class(&wrong_guid).unwrap_err().contains("ClassGUID"));
        // A Class outside [Version] (here in [Strings]) does not count.
        let no_class = with("", "ClassGUID = {F01A9D53-3FF6-48D2-9F97-C8A7004BE10C}\n");
        assert_eq!(
            check_class(&no_class),
            Err("[Version] has no Class (want ComputeAccelerator)".into())
        );
        let twice = with(
            "Class = ComputeAccelerator\nClass = ComputeAccelerator\n",
            "ClassGUID = {F01A9D53-3FF6-48D2-9F97-C8A7004BE10C}\n",
        );
        assert!(check_class(&twice).unwrap_err().contains("2 times"));
    }
}
