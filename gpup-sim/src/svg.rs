//! The SVG chart: dirty pages per round for each VF, and each VF's modelled
//! blackout against its stop-and-copy baseline.

use std::fmt::Write as _;

use dxgkrnl_model::migration::{MigrationReport, Phase, VfReport};

use std::time::Duration;

use crate::units::{format_duration, ratio};
use crate::verdict;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const TOP1: f64 = 60.0;
const PLOT1_H: f64 = 260.0;
const TOP2: f64 = TOP1 + PLOT1_H + 90.0;
const BAR_H: f64 = 16.0;
/// Bars per VF in the blackout panel: live migration and the two baselines.
const BARS: f64 = 3.0;
/// Dash patterns per series, so that coinciding lines stay distinguishable.
const DASHES: [&str; 4] = ["none", "10 5", "3 4", "12 4 3 4"];
const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes text for an XML text node or attribute.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color(i: usize) -> &'static str {
    COLORS[i % COLORS.len()]
}

fn float(n: u64) -> f64 {
    ratio(n, 1)
}

/// A "nice" axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mut p = 1.0;
    while p * 10.0 <= v {
        p *= 10.0;
    }
    while p > v {
        p /= 10.0;
    }
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|x| *x >= v)
        .unwrap_or(10.0 * p)
}

/// The first panel's axes: rounds across, dirty pages up.
struct Axes {
    /// The most rounds of any VF (at least 1).
    rounds: usize,
    /// The top of the pages axis.
    y_max: f64,
}

impl Axes {
    /// The x coordinate of round `round` (from 1).
    fn x_of(&self, round: usize) -> f64 {
        if self.rounds == 1 {
            LEFT + PLOT_W / 2.0
        } else {
            LEFT + PLOT_W * ratio(round as u64 - 1, self.rounds as u64 - 1)
        }
    }

    /// The y coordinate of `pages` dirty pages.
    fn y_of(&self, pages: u64) -> f64 {
        TOP1 + PLOT1_H - PLOT1_H * float(pages) / self.y_max
    }
}

/// The chart as a standalone SVG document.
#[must_use]
pub fn chart(report: &MigrationReport) -> String {
    let vfs = &report.vfs;
    let height = TOP2 + float(vfs.len() as u64) * (BARS * (BAR_H + 2.0) + 20.0) + 70.0;
    let mut s = String::new();
    heading(&mut s, report, height);
    rounds_panel(&mut s, report);
    blackout_panel(&mut s, report);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{:.0}" font-size="11">{}</text>"#,
        height - 16.0,
        esc(&format!(
            "Byte-identical check: {}. Transfer times and blackouts are modelled from the link bandwidth; query times are measured.",
            if report.passed() { "passed" } else { "FAILED" }
        ))
    );
    s.push_str("</svg>\n");
    s
}

/// The document's opening, background and title.
fn heading(s: &mut String, report: &MigrationReport, height: f64) {
    let vfs = &report.vfs;
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{height:.0}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        esc(&format!(
            "gpup-sim: {} VF(s), {}-byte pages, link {:.1} Gbit/s, budget {}",
            vfs.len(),
            report.caps.page_size,
            ratio(report.config.link_bits_per_second, 1_000_000_000),
            format_duration(report.config.downtime_budget)
        ))
    );
}

/// The first panel: dirty pages per round, one line per VF.
fn rounds_panel(s: &mut String, report: &MigrationReport) {
    let vfs = &report.vfs;
    let rounds = vfs.iter().map(|v| v.rounds.len()).max().unwrap_or(1).max(1);
    let max_pages = vfs
        .iter()
        .flat_map(|v| v.rounds.iter().map(|r| r.dirty_pages))
        .max()
        .unwrap_or(0);
    let axes = Axes {
        rounds,
        y_max: nice(float(max_pages)),
    };
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{:.0}" font-size="14">Dirty pages per round (the last round of each VF is its blackout)</text>"#,
        TOP1 - 12.0
    );
    rounds_axes(s, &axes);
    for (i, vf) in vfs.iter().enumerate() {
        round_line(s, &axes, i, vfs.len(), vf);
    }
}

/// The first panel's axes, grid and round ticks.
fn rounds_axes(s: &mut String, axes: &Axes) {
    let rounds = axes.rounds;
    for i in 0..=4u64 {
        let pages = axes.y_max * ratio(i, 4);
        let y = TOP1 + PLOT1_H - PLOT1_H * ratio(i, 4);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{pages:.0}</text>"##,
            LEFT + PLOT_W,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP1}" x2="{LEFT}" y2="{:.1}" stroke="#000000"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#000000"/>"##,
        TOP1 + PLOT1_H,
        TOP1 + PLOT1_H,
        LEFT + PLOT_W,
        TOP1 + PLOT1_H
    );
    let ticks = rounds.min(10);
    for t in 0..ticks {
        let round = if ticks == 1 {
            1
        } else {
            1 + t * (rounds - 1) / (ticks - 1)
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{round}</text>"#,
            axes.x_of(round),
            TOP1 + PLOT1_H + 16.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">round</text>"#,
        LEFT + PLOT_W / 2.0,
        TOP1 + PLOT1_H + 34.0
    );
}

/// VF number `i` (of `n`)'s line in the first panel, its round markers and
/// its legend. Earlier series are drawn wider and later ones dashed and
/// narrower on top, so where two VFs' lines coincide both stay visible.
fn round_line(s: &mut String, axes: &Axes, i: usize, n: usize, vf: &VfReport) {
    let layer = float(n.saturating_sub(i + 1) as u64);
    let width = 2.0 + 3.0 * layer;
    let dash = DASHES[i % DASHES.len()];
    let points: Vec<String> = vf
        .rounds
        .iter()
        .enumerate()
        .map(|(k, r)| format!("{:.1},{:.1}", axes.x_of(k + 1), axes.y_of(r.dirty_pages)))
        .collect();
    let _ = writeln!(
        s,
        r#"<polyline id="series-vf{}" points="{}" fill="none" stroke="{}" stroke-width="{width:.1}" stroke-dasharray="{dash}"/>"#,
        vf.vf,
        points.join(" "),
        color(i)
    );
    let marker = 3.0 + 2.5 * layer;
    if vf.rounds.len() <= 60 {
        for (k, r) in vf.rounds.iter().enumerate() {
            let (x, y) = (axes.x_of(k + 1), axes.y_of(r.dirty_pages));
            match r.phase {
                Phase::Brownout => {
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="{marker:.1}" fill="{}"/>"#,
                        color(i)
                    );
                }
                Phase::Blackout => {
                    let _ = writeln!(
                        s,
                        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#000000"/>"##,
                        x - marker - 1.0,
                        y - marker - 1.0,
                        2.0 * marker + 2.0,
                        2.0 * marker + 2.0,
                        color(i)
                    );
                }
            }
        }
    }
    let lx = LEFT + PLOT_W - 150.0;
    let ly = TOP1 + 10.0 + 18.0 * float(i as u64);
    let _ = writeln!(
        s,
        r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{width:.1}" stroke-dasharray="{dash}"/><text id="legend-vf{}" x="{:.1}" y="{:.1}">VF {}</text>"#,
        ly + 6.0,
        lx + 28.0,
        ly + 6.0,
        color(i),
        vf.vf,
        lx + 34.0,
        ly + 10.0,
        vf.vf
    );
}

/// The second panel: each VF's blackout against both stop-and-copy
/// baselines, with the `--downtime` budget as a dashed line.
fn blackout_panel(s: &mut String, report: &MigrationReport) {
    let vfs = &report.vfs;
    let budget = report.config.downtime_budget;
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{:.0}" font-size="14">Blackout, modelled, against stop-and-copy (whole reserve; pages ever written)</text>"#,
        TOP2 - 16.0
    );
    let longest = vfs
        .iter()
        .map(|v| v.stop_and_copy.max(v.blackout))
        .max()
        .unwrap_or_default()
        .max(budget);
    let scale = |d: Duration| {
        PLOT_W
            * 0.7
            * ratio(
                u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
                u64::try_from(longest.as_nanos()).unwrap_or(u64::MAX).max(1),
            )
    };
    let per_vf = BARS * (BAR_H + 2.0) + 20.0;
    for (i, vf) in vfs.iter().enumerate() {
        let y = TOP2 + float(i as u64) * per_vf;
        let _ = writeln!(
            s,
            r#"<text id="blackout-vf{}" x="{:.1}" y="{:.1}" text-anchor="end">VF {}</text>"#,
            vf.vf,
            LEFT - 6.0,
            y + BAR_H + 4.0,
            vf.vf
        );
        let verdict = if verdict::within_budget(report, vf) {
            ""
        } else {
            " (OVER BUDGET)"
        };
        for (k, (d, label, fill)) in [
            (vf.blackout, format!("live migration{verdict}"), color(i)),
            (
                vf.stop_and_copy,
                "stop-and-copy, whole reserve".to_owned(),
                "#999999",
            ),
            (
                verdict::stop_and_copy_written(report, vf),
                "stop-and-copy, pages written".to_owned(),
                "#cccccc",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y + float(k as u64) * (BAR_H + 2.0);
            let w = scale(d).max(1.0);
            let _ = writeln!(
                s,
                r#"<rect x="{LEFT}" y="{by:.1}" width="{w:.1}" height="{BAR_H}" fill="{fill}"/><text id="bar-vf{}-{k}" x="{:.1}" y="{:.1}">{}</text>"#,
                vf.vf,
                LEFT + w + 6.0,
                by + BAR_H - 4.0,
                esc(&format!("{label}: {}", format_duration(d)))
            );
        }
    }
    let x = LEFT + scale(budget);
    let bottom = TOP2 + float(vfs.len() as u64) * per_vf;
    let _ = writeln!(
        s,
        r##"<line id="budget-line" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/><text id="budget-label" x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#d62728">{}</text>"##,
        TOP2 - 6.0,
        bottom + 14.0,
        esc(&format!("--downtime budget {}", format_duration(budget)))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round_numbers() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(262_144.0), 500_000.0);
        assert_eq!(nice(150.0), 200.0);
        assert_eq!(esc("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }
}
