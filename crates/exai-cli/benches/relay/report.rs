//! The table: one row per measurement, its goal next to its figure.

use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Verdict {
    Pass,
    Miss,
    /// A reference figure with no goal of its own.
    Info,
    /// Not measured in this run, and why.
    Skipped(String),
}

#[derive(Clone, Debug)]
pub struct Row {
    pub what: String,
    pub n: String,
    /// p50, p90, p99 in microseconds.
    pub pcts: Option<[f64; 3]>,
    pub over_direct: String,
    pub vs_peers: String,
    pub figure: String,
    pub goal: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(what: impl Into<String>) -> Row {
        Row {
            what: what.into(),
            n: String::new(),
            pcts: None,
            over_direct: String::new(),
            vs_peers: String::new(),
            figure: String::new(),
            goal: String::new(),
            verdict: Verdict::Info,
        }
    }

    pub fn latency(what: impl Into<String>, stats: &Stats) -> Row {
        let mut row = Row::new(what);
        row.n = stats.n.to_string();
        row.pcts = Some([stats.p50, stats.p90, stats.p99]);
        row
    }

    pub fn goal(mut self, goal: impl Into<String>, met: bool) -> Row {
        self.goal = goal.into();
        self.verdict = if met { Verdict::Pass } else { Verdict::Miss };
        self
    }

    pub fn skipped(what: impl Into<String>, goal: &str, reason: impl Into<String>) -> Row {
        let mut row = Row::new(what);
        row.goal = goal.to_owned();
        row.verdict = Verdict::Skipped(reason.into());
        row
    }
}

/// Percentiles of a set of round trips, in microseconds.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Stats {
        let mut micros: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        micros.sort_by(f64::total_cmp);
        let at = |p: f64| {
            if micros.is_empty() {
                f64::NAN
            } else {
                micros[((micros.len() as f64 - 1.0) * p).round() as usize]
            }
        };
        Stats {
            n: micros.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
        }
    }
}

pub fn micros(value: f64) -> String {
    if value.is_nan() {
        "-".to_owned()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub fn print(rows: &[Row]) {
    let header = [
        "measurement",
        "n",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "over direct p50 / p99 µs",
        "peers' p50 ÷ ours",
        "figure",
        "goal",
        "",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|row| {
            let [p50, p90, p99] = row
                .pcts
                .map(|p| p.map(micros))
                .unwrap_or_else(|| [String::new(), String::new(), String::new()]);
            let (figure, verdict) = match &row.verdict {
                Verdict::Pass => (row.figure.clone(), "PASS".to_owned()),
                Verdict::Miss => (row.figure.clone(), "MISS".to_owned()),
                Verdict::Info => (row.figure.clone(), String::new()),
                Verdict::Skipped(reason) => (reason.clone(), "n/a".to_owned()),
            };
            [
                row.what.clone(),
                row.n.clone(),
                p50,
                p90,
                p99,
                row.over_direct.clone(),
                row.vs_peers.clone(),
                figure,
                row.goal.clone(),
                verdict,
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            // Numbers right-aligned, words left-aligned.
            if (1..=4).contains(&index) {
                out.push_str(&format!(" {}{cell} |", " ".repeat(pad)));
            } else {
                out.push_str(&format!(" {cell}{} |", " ".repeat(pad)));
            }
        }
        out
    };
    println!("{}", line(&header.map(str::to_owned)));
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(index, &width)| {
            if (1..=4).contains(&index) {
                format!("{}:", "-".repeat(width + 1))
            } else {
                "-".repeat(width + 2)
            }
        })
        .collect();
    println!("|{}|", rule.join("|"));
    for row in &cells {
        println!("{}", line(row));
    }
}
