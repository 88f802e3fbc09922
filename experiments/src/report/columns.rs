//! Tables written from a description: a table is its list of columns, each a header and how a
//! row's cell is written ([`Table::col`]), so that a new table is a few lines and its header sits
//! beside the cell it names. Rows that come from runs end in the columns of their provenance
//! ([`Table::provenance`]); [`run_table`] is a whole section of such rows.

use super::Outcome;
use super::inputs::Run;
use super::tables::{code, table, when};
use crate::provenance::Provenance;

/// One column of a table of rows `R`: its header and the cell of a row.
struct Column<'a, R> {
    header: &'a str,
    cell: Box<dyn Fn(&R) -> String + 'a>,
}

/// A table of rows `R` as its columns, in order.
pub struct Table<'a, R> {
    columns: Vec<Column<'a, R>>,
}

impl<'a, R: 'a> Table<'a, R> {
    /// No columns yet.
    pub fn new() -> Self {
        Self {
            columns: Vec::new(),
        }
    }

    /// Adds the column headed `header` whose cell of row `r` is `cell(r)`.
    pub fn col(mut self, header: &'a str, cell: impl Fn(&R) -> String + 'a) -> Self {
        self.columns.push(Column {
            header,
            cell: Box::new(cell),
        });
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
        let header: Vec<&str> = self.columns.iter().map(|c| c.header).collect();
        let cells: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| self.columns.iter().map(|c| (c.cell)(row)).collect())
            .collect();
        table(&header, &cells)
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

/// Per-epoch values of a run as one cell: `f` of each epoch that has one, with `digits`
/// decimals, joined by `, `.
pub fn per_epoch(
    metrics: &[models::train::EpochMetrics],
    digits: usize,
    f: impl Fn(&models::train::EpochMetrics) -> Option<f64>,
) -> String {
    metrics
        .iter()
        .filter_map(f)
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
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
}
