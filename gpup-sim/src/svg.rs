//! The SVG chart: dirty pages per round for each VF, and each VF's modelled
//! blackout against its stop-and-copy baseline.

use std::fmt::Write as _;

use dxgkrnl_model::migration::{MigrationReport, Phase, VfReport};

use crate::units::{format_duration, ratio};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const TOP1: f64 = 60.0;
const PLOT1_H: f64 = 260.0;
const TOP2: f64 = TOP1 + PLOT1_H + 90.0;
const BAR_H: f64 = 16.0;
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
    let height = TOP2 + float(vfs.len() as u64) * (2.0 * BAR_H + 22.0) + 70.0;
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
        round_line(s, &axes, i, vf);
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

/// VF number `i`'s line in the first panel, its round markers and its legend.
fn round_line(s: &mut String, axes: &Axes, i: usize, vf: &VfReport) {
    let points: Vec<String> = vf
        .rounds
        .iter()
        .enumerate()
        .map(|(k, r)| format!("{:.1},{:.1}", axes.x_of(k + 1), axes.y_of(r.dirty_pages)))
        .collect();
    let _ = writeln!(
        s,
        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
        points.join(" "),
        color(i)
    );
    if vf.rounds.len() <= 60 {
        for (k, r) in vf.rounds.iter().enumerate() {
            let (x, y) = (axes.x_of(k + 1), axes.y_of(r.dirty_pages));
            match r.phase {
                Phase::Brownout => {
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{}"/>"#,
                        color(i)
                    );
                }
                Phase::Blackout => {
                    let _ = writeln!(
                        s,
                        r##"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{}" stroke="#000000"/>"##,
                        x - 5.0,
                        y - 5.0,
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
        r#"<rect x="{lx:.1}" y="{ly:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">VF {}</text>"#,
        color(i),
        lx + 18.0,
        ly + 10.0,
        vf.vf
    );
}

/// The second panel: each VF's blackout against stop-and-copy.
fn blackout_panel(s: &mut String, report: &MigrationReport) {
    let vfs = &report.vfs;
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{:.0}" font-size="14">Blackout, modelled: live migration with dirty-bit tracking against stop-and-copy of the whole reserve</text>"#,
        TOP2 - 16.0
    );
    let longest = vfs
        .iter()
        .map(|v| v.stop_and_copy.max(v.blackout))
        .max()
        .unwrap_or_default();
    let scale = |d: std::time::Duration| {
        PLOT_W
            * 0.8
            * ratio(
                u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
                u64::try_from(longest.as_nanos()).unwrap_or(u64::MAX).max(1),
            )
    };
    for (i, vf) in vfs.iter().enumerate() {
        let y = TOP2 + float(i as u64) * (2.0 * BAR_H + 22.0);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">VF {}</text>"#,
            LEFT - 6.0,
            y + BAR_H + 4.0,
            vf.vf
        );
        for (k, (d, label, fill)) in [
            (vf.blackout, "live migration", color(i)),
            (vf.stop_and_copy, "stop-and-copy", "#999999"),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y + float(k as u64) * (BAR_H + 2.0);
            let w = scale(d).max(1.0);
            let _ = writeln!(
                s,
                r#"<rect x="{LEFT}" y="{by:.1}" width="{w:.1}" height="{BAR_H}" fill="{fill}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                LEFT + w + 6.0,
                by + BAR_H - 4.0,
                esc(&format!("{label}: {}", format_duration(d)))
            );
        }
    }
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
