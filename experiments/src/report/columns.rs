//! Tables written from a description: a table is its list of columns, each a header and how a
//! row's cell is written ([`Table::col`]), so that a new table is a few lines and its header sits
//! beside the cell it names. Rows that come from runs end in the columns of their provenance
//! ([`Table::provenance`]); [`run_table`] is a whole section of such rows. The cell formats
//! every section shares are here too.

use std::path::Path;

use models::train::EpochMetrics;

use super::Outcome;
use super::inputs::Run;
use crate::provenance::Provenance;

/// How a column writes the cell of a row `R`.
type Cell<'a, R> = Box<dyn Fn(&R) -> String + 'a>;

/// A table of rows `R` as its columns, in order: each a header and its cell.
pub struct Table<'a, R> {
    columns: Vec<(String, Cell<'a, R>)>,
}

impl<'a, R: 'a> Table<'a, R> {
    /// No columns yet.
    pub fn new() -> Self {
        Self {
            columns: Vec::new(),
        }
    }

    /// Adds the column headed `header` whose cell of row `r` is `cell(r)`.
    pub fn col(mut self, header: impl Into<String>, cell: impl Fn(&R) -> String + 'a) -> Self {
        self.columns.push((header.into(), Box::new(cell)));
        self
    }

    /// Adds the three columns of a row made from a run: its command, `date, commit` and
    /// machine, from the [`Provenance`] that `of` finds in the row.
    pub fn provenance(self, of: fn(&R) -> &Provenance) -> Self {
        self.col("command", move |r| code(&of(r).command()))
            .col("date, commit", move |r| when(of(r)))
            .col("machine", move |r| of(r).machine_short())
    }

    /// The Markdown table of `rows`.
    pub fn render<'r>(&self, rows: impl IntoIterator<Item = &'r R>) -> String
    where
        R: 'r,
    {
        let headers: Vec<&str> = self.columns.iter().map(|(h, _)| h.as_str()).collect();
        let mut out = header(&headers);
        for row in rows {
            let cells: Vec<String> = self.columns.iter().map(|(_, cell)| cell(row)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// The section of `rows`: their table, or [`Outcome::none`] when there are none.
    pub fn section(&self, name: &str, rows: &[R]) -> Outcome {
        match rows.is_empty() {
            true => Outcome::none(name),
            false => Outcome::generated(self.render(rows)),
        }
    }
}

/// A section of runs: one row per run of `runs`, in the order of `key`, in the columns that
/// `columns` adds and then the provenance columns; left as it is ([`Outcome::none`]) when there
/// are no runs.
pub fn run_table<'a, S: 'a, K: Ord>(
    name: &str,
    runs: impl IntoIterator<Item = &'a Run<S>>,
    key: impl Fn(&Run<S>) -> K,
    columns: impl FnOnce(Table<'a, Run<S>>) -> Table<'a, Run<S>>,
) -> Outcome {
    let mut sorted: Vec<&Run<S>> = runs.into_iter().collect();
    if sorted.is_empty() {
        return Outcome::none(name);
    }
    sorted.sort_by_key(|r| key(r));
    let table = columns(Table::new()).provenance(|r| &r.provenance);
    Outcome::generated(table.render(sorted))
}

/// The header lines of a Markdown table of the columns `headers`.
pub fn header(headers: &[&str]) -> String {
    format!(
        "| {} |\n|{}\n",
        headers.join(" | "),
        "---|".repeat(headers.len())
    )
}

/// Per-epoch values of a run as one cell: `f` of each epoch that has one, with `digits`
/// decimals, joined by `, `.
pub fn per_epoch(
    metrics: &[EpochMetrics],
    digits: usize,
    f: impl Fn(&EpochMetrics) -> Option<f64>,
) -> String {
    let values: Vec<String> = metrics
        .iter()
        .filter_map(f)
        .map(|v| format!("{v:.digits$}"))
        .collect();
    values.join(", ")
}

/// Training throughput of a run's epochs (examples per second of training steps), with
/// thousands separators.
pub fn throughput(metrics: &[EpochMetrics]) -> String {
    thousands(models::train::samples_per_second(metrics).round() as usize)
}

/// `items` in order, each once.
pub fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = items.into_iter().collect();
    out.sort();
    out.dedup();
    out
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.23`: a rate or a ratio, two decimals.
pub fn two(x: f64) -> String {
    format!("{x:.2}")
}

/// `0.9525` → `95.25%`.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// `text` as inline code in a table cell.
pub fn code(text: &str) -> String {
    format!("`{}`", text.replace('|', "\\|"))
}

/// A file or directory as inline code.
pub fn path_code(path: &Path) -> String {
    code(&path.display().to_string())
}

/// `2026-12-01, c94f659`: the date and commit cell.
pub fn when(p: &Provenance) -> String {
    format!("{}, {}", p.day(), p.short_commit())
}

/// The command that wrote a table's input, with its date, commit, machine and build:
/// `` `cargo run ..`: 2026-12-01, commit c94f659, AMD EPYC, 2 cores (release build) ``.
pub fn command_line(p: &Provenance) -> String {
    format!(
        "{}: {}, commit {}, {} ({} build)",
        code(&p.command()),
        p.day(),
        p.short_commit(),
        p.machine_short(),
        p.build
    )
}

/// The line under a generated table naming the command that wrote its input
/// ([`command_line`]).
pub fn made_by(p: &Provenance) -> String {
    format!("{}.\n", command_line(p))
}

/// `items` joined by `; `, each once, in order of first appearance.
pub fn distinct(items: impl IntoIterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join("; ")
}

/// Seconds as `12 s`, `3.5 min` or `60 min`.
pub fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 60.0 => format!("{s:.0} s"),
        s if s < 600.0 => format!("{:.1} min", s / 60.0),
        s => format!("{:.0} min", s / 60.0),
    }
}

/// `727` or `727-746`: the range of `values`, rounded.
pub fn range(values: &[f64], format: impl Fn(f64) -> String) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (format(min), format(max));
    if a == b { a } else { format!("{a}-{b}") }
}

/// The [`range`] of `values` followed by `unit` (`0.83-0.97×`), or `—` for none.
pub fn span(values: &[f64], format: impl Fn(f64) -> String, unit: &str) -> String {
    match values.is_empty() {
        true => "—".into(),
        false => format!("{}{unit}", range(values, format)),
    }
}

/// `median (min-max)` of `values` (the range alone for fewer than three), each as `format`
/// writes it: `1.35 (1.23-1.48)`.
pub fn median_range(values: &[f64], format: impl Fn(f64) -> String) -> String {
    let spread = range(values, &format);
    if values.len() < 3 {
        return spread;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = match sorted.len() % 2 {
        1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    };
    format!("{} ({spread})", format(median))
}

/// The items of the newest commit and machine among `items` (those of the newest date's
/// commit and [`Provenance::machine_short`], which names the matrix kernels where a build ran
/// other kernels than the CPU's widest), in their order: runs of one commit on two kernel sets
/// are two measurements, not one range.
pub fn of_newest_commit<T>(items: Vec<T>, provenance: impl Fn(&T) -> &Provenance) -> Vec<T> {
    let newest = items
        .iter()
        .map(&provenance)
        .max_by(|a, b| a.date.cmp(&b.date));
    let Some((commit, machine)) = newest.map(|p| (p.git_commit.clone(), p.machine_short())) else {
        return items;
    };
    items
        .into_iter()
        .filter(|i| provenance(i).git_commit == commit && provenance(i).machine_short() == machine)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_render_their_headers_and_cells_in_order() {
        let rows = [(1, "a|b"), (22, "c")];
        let table = Table::new()
            .col("n", |r: &(i32, &str)| r.0.to_string())
            .col("text", |r| code(r.1));
        assert_eq!(
            table.render(&rows),
            "| n | text |\n|---|---|\n| 1 | `a\\|b` |\n| 22 | `c` |\n"
        );
        assert_eq!(table.render(&[]), "| n | text |\n|---|---|\n");
    }

    #[test]
    fn the_newest_runs_are_of_one_commit_and_one_kernel_set() {
        let at = |date: &str, commit: &str, kernels: &str| {
            let mut p = Provenance::current();
            (p.date, p.git_commit) = (date.into(), commit.into());
            p.machine.vector = Some("AVX-512".into());
            p.matrix_kernels = Some(kernels.into());
            p
        };
        let runs = vec![
            at("2026-12-07T10:00:00Z", "aaa", "AVX-512"),
            at("2026-12-07T11:00:00Z", "bbb", "AVX-512"),
            at("2026-12-07T12:00:00Z", "bbb", "AVX2"),
            at("2026-12-07T13:00:00Z", "bbb", "AVX-512"),
            at("2026-12-07T14:00:00Z", "bbb", "AVX2"),
        ];
        let dates = |runs: Vec<Provenance>| runs.into_iter().map(|p| p.date).collect::<Vec<_>>();
        assert_eq!(
            dates(of_newest_commit(runs.clone(), |p| p)),
            ["2026-12-07T12:00:00Z", "2026-12-07T14:00:00Z"]
        );
        assert_eq!(
            dates(of_newest_commit(runs[..4].to_vec(), |p| p)),
            ["2026-12-07T11:00:00Z", "2026-12-07T13:00:00Z"]
        );
    }

    #[test]
    fn medians_come_with_their_range() {
        let f = |x: f64| format!("{x:.2}");
        assert_eq!(median_range(&[1.48, 1.23, 1.35], f), "1.35 (1.23-1.48)");
        assert_eq!(median_range(&[1.0, 4.0, 2.0, 3.0], f), "2.50 (1.00-4.00)");
        assert_eq!(median_range(&[1.2, 1.3], f), "1.20-1.30");
        assert_eq!(median_range(&[1.2], f), "1.20");
    }

    #[test]
    fn numbers_and_ranges_format_as_the_tables_do() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(23_482_400), "23,482,400");
        assert_eq!(percent(0.9525), "95.25%");
        assert_eq!(
            range(&[746.2, 727.4, 736.0], |v| format!("{v:.0}")),
            "727-746"
        );
        assert_eq!(range(&[1.0], |v| format!("{v:.2}")), "1.00");
        assert_eq!(duration(43.1), "43 s");
        assert_eq!(duration(3600.0), "60 min");
        assert_eq!(code("a|b"), "`a\\|b`");
    }
}
