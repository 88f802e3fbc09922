//! The generated tables of `docs/analysis.md`: the nets analysed, their gates (*Training Very
//! Deep Networks* s4, Figures 2-3), their lesions (Figure 4), the layer-output distances and
//! first-layer lesions of Greff et al. (arXiv:1612.07771), an RHN per micro-layer and a CIFAR
//! net per layer, each from the `gates` and `lesion` output of an analysis record
//! ([`Analysis`]); the character-aware LM's section is [`super::analysis_char`].

use super::Outcome;
use super::columns::Table;
use super::inputs::{Analysis, GatesRecord, Inputs, LesionRecord, Study};
use super::tables::{code, percent, table};
use crate::analysis::{GateReport, LayerBias, LesionReport, ranges};
use crate::depth_study::RunSummary;
use crate::provenance::Provenance;

/// `lesion`'s default `--tolerance`: a lesion is harmless when it raises the error by at most
/// this much (absolute).
const DEFAULT_TOLERANCE: f64 = 0.005;

/// `b_T = −2` from a net's directory name `bt-2` (any other name as it is).
pub fn net_label(slug: &str) -> String {
    match slug.strip_prefix("bt") {
        Some(b) => format!("`b_T = {}`", b.replace('-', "−")),
        None => slug.to_string(),
    }
}

/// The line under a generated table naming the command that wrote its input.
pub fn made_by(p: &Provenance) -> String {
    format!(
        "{}: {}, commit {}, {} ({} build).\n",
        code(&p.command()),
        p.day(),
        p.short_commit(),
        p.machine_short(),
        p.build
    )
}

/// The lines naming the `gates` command of `a` and its `lesion` command, if that lesioned the
/// net `net`.
pub fn made_by_both(a: &Analysis, net: &str) -> String {
    let lesion = a.lesion.as_ref().filter(|l| l.report(net).is_some());
    a.gates
        .iter()
        .map(|g| &g.provenance)
        .chain(lesion.map(|l| &l.provenance))
        .map(made_by)
        .collect()
}

/// The `--tolerance` of a `lesion` command, or its default.
fn tolerance(p: &Provenance) -> f64 {
    let mut args = p.args.iter();
    while let Some(a) = args.next() {
        let value = match a.strip_prefix("--tolerance") {
            Some("") => args.next().map(String::as_str),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(t) = value.and_then(|v| v.parse().ok()) {
            return t;
        }
    }
    DEFAULT_TOLERANCE
}

/// The MLP lesion reports of a record (those named after a net's `b_T`).
fn mlp_lesions(l: &LesionRecord) -> impl Iterator<Item = (&str, &LesionReport)> {
    l.reports
        .iter()
        .filter(|(n, _)| n.starts_with("bt"))
        .map(|(n, r)| (n.as_str(), r))
}

/// The analyses that have `f`'s part, with it.
fn with<'a, T: 'a>(
    inputs: &'a Inputs,
    f: impl Fn(&'a Analysis) -> Option<T>,
) -> Vec<(&'a Analysis, T)> {
    inputs
        .analyses
        .iter()
        .filter_map(|a| f(a).map(|t| (a, t)))
        .collect()
}

/// One table per analysis that has `select`'s part, each rendered by `render`; none without.
pub fn each<'a, T: 'a>(
    inputs: &'a Inputs,
    name: &str,
    select: impl Fn(&'a Analysis) -> Option<T>,
    render: impl Fn(&'a Analysis, T) -> String,
) -> Outcome {
    let records = with(inputs, select);
    if records.is_empty() {
        return Outcome::none(name);
    }
    Outcome::generated(records.into_iter().map(|(a, t)| render(a, t)).collect())
}

/// The MLP gate reports of an analysis, if it has any.
fn mlp_gates(a: &Analysis) -> Option<&GatesRecord> {
    a.gates.as_ref().filter(|g| !g.mlp.is_empty())
}

/// The lesion output of an analysis, if it lesioned an MLP.
fn mlp_lesion_record(a: &Analysis) -> Option<&LesionRecord> {
    a.lesion
        .as_ref()
        .filter(|l| mlp_lesions(l).next().is_some())
}

/// The intact net's error on `split` in `report`.
fn intact(report: &LesionReport, split: &str) -> Option<f64> {
    report
        .baseline
        .iter()
        .find(|(s, _)| s == split)
        .map(|(_, e)| e.error)
}

/// `analysis-nets`: the trained MLPs of each analysis: schedule, final training loss, and the
/// intact nets' training and test error from the lesion study.
pub fn nets_table(inputs: &Inputs, name: &str) -> Outcome {
    /// One trained MLP: its run, the study that trained it, its analysis.
    type Net<'a> = (&'a RunSummary, &'a Study, &'a Analysis);
    /// The net's lesion report, if its analysis lesioned it.
    fn lesion<'a>(&(r, _, a): &Net<'a>) -> Option<&'a LesionReport> {
        let (_, slug) = crate::analysis::bias_label(r.hyper.transform_bias);
        a.lesion.as_ref()?.report(&slug)
    }
    let error = |split: &'static str| {
        move |net: &Net| {
            lesion(net)
                .and_then(|l| intact(l, split))
                .map_or("-".into(), percent)
        }
    };
    let table = Table::new()
        .col("net", |&(r, _, _): &Net| {
            net_label(&crate::analysis::bias_label(r.hyper.transform_bias).1)
        })
        .col("layers", |(r, _, _)| {
            format!("{} ({:?})", r.depth, r.kind).to_lowercase()
        })
        .col("schedule", |(r, _, _)| {
            let h = &r.hyper;
            let activation = format!("{:?}", h.activation).to_lowercase();
            format!(
                "lr {} × {} per epoch, momentum {}, {activation}",
                h.lr, h.decay, h.momentum
            )
        })
        .col("epochs", |(r, _, _)| r.epochs.to_string())
        .col("training loss (last epoch's mean)", |(r, _, _)| {
            r.final_train_loss
                .map_or(r.status.clone(), |l| format!("{l:.4}"))
        })
        .col("training error (intact net)", error("train"))
        .col("test error", error("test"))
        .col("training", |(r, _, _)| format!("{:.0} s", r.wall_time_s))
        .provenance(|(_, study, _)| &study.provenance);
    let content: String = inputs
        .analyses
        .iter()
        .map(|a| {
            let nets: Vec<Net> = a
                .nets
                .iter()
                .flat_map(|study| study.result.runs.iter().map(move |r| (r, study, a)))
                .collect();
            if nets.is_empty() {
                String::new()
            } else {
                table.render(&nets)
            }
        })
        .collect();
    if content.is_empty() {
        return Outcome::none(name);
    }
    Outcome::generated(content)
}

/// Mean of `values` (0 for none).
fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// `analysis-gates`: learned transform-gate biases and mean activity of each analysed MLP.
pub fn gates_table(inputs: &Inputs, name: &str) -> Outcome {
    /// One MLP: its name, gate report and learned biases.
    type Net<'a> = &'a (String, GateReport, Vec<LayerBias>);
    /// Every unit's learned `b_T` minus its initial value.
    fn changes((_, _, biases): Net) -> Vec<f64> {
        biases
            .iter()
            .flat_map(|l| l.units.iter().map(move |u| u - l.initial))
            .collect()
    }
    let table = Table::new()
        .col("net", |(slug, _, _): &Net| net_label(slug))
        .col("examples", |(_, g, _)| g.examples.to_string())
        .col("mean change of `b_T`", |&net| {
            format!("{:+.3}", mean(changes(net)))
        })
        .col("units whose `b_T` decreased", |&net| {
            let c = changes(net);
            let decreased = c.iter().filter(|c| **c < 0.0).count();
            format!(
                "{:.0}% of {}",
                100.0 * decreased as f64 / c.len().max(1) as f64,
                c.len()
            )
        })
        .col("mean `T`", |(_, g, _)| {
            format!("{:.3}", mean(g.mean_per_layer.iter().copied()))
        })
        .col("per layer", |(_, g, _)| {
            let m = g.mean_per_layer.iter().copied();
            let (lo, hi) = m.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            format!("{lo:.3}-{hi:.3}")
        })
        .col("first 9 / last 10 layers", |(_, g, _)| {
            let (m, f) = (&g.mean_per_layer, g.first_layer);
            let (head, tail) = (m.len().min(9), m.len().min(10));
            format!(
                "{:.3} ({}-{}) / {:.3} ({}-{})",
                mean(m[..head].iter().copied()),
                f,
                f + head - 1,
                mean(m[m.len() - tail..].iter().copied()),
                f + m.len() - tail,
                f + m.len() - 1
            )
        })
        .col("units with mean `T` < 0.1", |(_, g, _)| {
            format!("{:.0}%", 100.0 * mean(g.closed_fraction.iter().copied()))
        });
    each(inputs, name, mlp_gates, |_, g| {
        let nets: Vec<Net> = g.mlp.iter().collect();
        let mut content = table.render(&nets);
        content.push('\n');
        content.push_str(&made_by(&g.provenance));
        content
    })
}

/// `analysis-lesion`: per net and split, the intact error, the worst lesion and the layers whose
/// lesion is harmless (error raised by at most the study's tolerance).
pub fn lesion_table(inputs: &Inputs, name: &str) -> Outcome {
    /// One net and split: the intact error, the worst lesion, the harmless layers of all.
    struct Row<'a> {
        slug: &'a str,
        split: &'a str,
        intact: f64,
        worst: Option<(usize, f64)>,
        harmless: Vec<usize>,
        layers: usize,
    }
    each(inputs, name, mlp_lesion_record, |_, l| {
        let tol = tolerance(&l.provenance);
        let harmless = format!("layers whose lesion costs ≤ {:.1} pt of error", 100.0 * tol);
        let table = Table::new()
            .col("net", |r: &Row| net_label(r.slug))
            .col("split", |r| r.split.to_string())
            .col("intact error", |r| percent(r.intact))
            .col("worst lesion", |r| {
                r.worst
                    .map_or("-".into(), |(layer, _)| format!("layer {layer}"))
            })
            .col("its error", |r| {
                r.worst.map_or("-".into(), |(_, e)| percent(e))
            })
            .col(&harmless, |r| {
                let n = r.harmless.len();
                format!("{} ({n} of {})", ranges(&r.harmless), r.layers)
            });
        let mut rows = Vec::new();
        for (slug, r) in mlp_lesions(l) {
            for (si, (split, base)) in r.baseline.iter().enumerate() {
                let error = |row: &crate::analysis::LesionRow| row.splits[si].1.error;
                let worst = r.rows.iter().max_by(|a, b| error(a).total_cmp(&error(b)));
                rows.push(Row {
                    slug,
                    split,
                    intact: base.error,
                    worst: worst.map(|w| (w.layer, error(w))),
                    harmless: r.harmless_layers(split, tol),
                    layers: r.rows.len(),
                });
            }
        }
        let mut content = table.render(&rows);
        content.push('\n');
        content.push_str(&made_by(&l.provenance));
        content
    })
}

/// `analysis-lesion-layers`: the error with each layer lesioned, one column per net and split.
pub fn lesion_layers_table(inputs: &Inputs, name: &str) -> Outcome {
    each(inputs, name, mlp_lesion_record, |_, l| {
        let mut content = String::new();
        let reports: Vec<(&str, &LesionReport)> = mlp_lesions(l).collect();
        let mut header = vec!["lesioned layer".to_string()];
        let mut intact_row = vec!["none (intact)".to_string()];
        for (slug, r) in &reports {
            for (split, base) in &r.baseline {
                header.push(format!("{} {split} error", net_label(slug)));
                intact_row.push(percent(base.error));
            }
        }
        let mut layers: Vec<usize> = reports
            .iter()
            .flat_map(|(_, r)| r.rows.iter().map(|row| row.layer))
            .collect();
        layers.sort();
        layers.dedup();
        let mut rows = vec![intact_row];
        for layer in layers {
            let mut row = vec![layer.to_string()];
            for (_, r) in &reports {
                let found = r.rows.iter().find(|x| x.layer == layer);
                for si in 0..r.baseline.len() {
                    row.push(found.map_or("-".into(), |x| percent(x.splits[si].1.error)));
                }
            }
            rows.push(row);
        }
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        content.push_str(&table(&header, &rows));
        content
    })
}

/// The layers the distance table shows for a stack whose layers are `first..=last` (the input
/// is `first − 1`): the input, every tenth layer, and the last five, two and one.
fn distance_layers(first: usize, last: usize) -> Vec<usize> {
    let mut picks = vec![first - 1];
    picks.extend((1..).map(|k| 10 * k).take_while(|l| *l < last));
    picks.extend([last.saturating_sub(5), last.saturating_sub(2), last]);
    picks.retain(|l| *l + 1 >= first && *l <= last);
    picks.sort();
    picks.dedup();
    picks
}

/// `analysis-distance`: Greff et al.'s mean distance of each layer's output from the final
/// output, over the final output's mean norm, one row per layer shown and one column per net.
pub fn distance_table(inputs: &Inputs, name: &str) -> Outcome {
    each(inputs, name, mlp_gates, |_, g| {
        let mut content = String::new();
        let mut layers: Vec<usize> = g
            .mlp
            .iter()
            .flat_map(|(_, r, _)| distance_layers(r.first_layer, r.first_layer + r.layers - 1))
            .collect();
        layers.sort();
        layers.dedup();
        let mut header = vec!["layer".to_string()];
        header.extend(g.mlp.iter().map(|(slug, _, _)| net_label(slug)));
        let rows: Vec<Vec<String>> = layers
            .iter()
            .map(|&layer| {
                let mut row = vec![layer.to_string()];
                for (_, r, _) in &g.mlp {
                    let d = layer
                        .checked_sub(r.first_layer - 1)
                        .and_then(|i| r.relative_distance.get(i));
                    row.push(d.map_or("-".into(), |d| format!("{d:.2}")));
                }
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        content.push_str(&table(&header, &rows));
        content.push('\n');
        content.push_str(&made_by(&g.provenance));
        content
    })
}

/// `analysis-stage`: Greff et al.'s comparison, per net and split, of the loss with the first
/// stacked layer lesioned against the mean loss with each later layer lesioned.
pub fn stage_table(inputs: &Inputs, name: &str) -> Outcome {
    /// One net and split: the intact loss, the first stacked layer's lesion, the later ones'.
    struct Row<'a> {
        slug: &'a str,
        split: &'a str,
        intact: f64,
        first: (usize, f64),
        later: (usize, usize, f64),
    }
    let table = Table::new()
        .col("net", |r: &Row| net_label(r.slug))
        .col("split", |r| r.split.to_string())
        .col("intact loss", |r| format!("{:.4}", r.intact))
        .col("first stacked layer lesioned", |r| {
            format!("{:.4} (layer {})", r.first.1, r.first.0)
        })
        .col("mean over the later layers lesioned", |r| {
            format!("{:.4} (layers {}-{})", r.later.2, r.later.0, r.later.1)
        })
        .col("first / later", |r| {
            format!("{:.1}×", r.first.1 / r.later.2)
        });
    each(inputs, name, mlp_lesion_record, |_, l| {
        let mut rows = Vec::new();
        for (slug, r) in mlp_lesions(l) {
            let (Some(first), true) = (r.rows.first(), r.rows.len() > 1) else {
                continue;
            };
            let rest = &r.rows[1..];
            for (si, (split, base)) in r.baseline.iter().enumerate() {
                rows.push(Row {
                    slug,
                    split,
                    intact: base.loss,
                    first: (first.layer, first.splits[si].1.loss),
                    later: (
                        rest[0].layer,
                        rest[rest.len() - 1].layer,
                        mean(rest.iter().map(|x| x.splits[si].1.loss)),
                    ),
                });
            }
        }
        table.render(&rows)
    })
}

/// The per-layer table of a language model's highway layers (an RHN's micro-layers, the
/// character-aware LM's highway layers, called `unit`): mean `T`, learned `b_T` and the
/// perplexity with the layer lesioned (from the lesion report `net` of `a`, if any), after the
/// intact model's; then the data they were measured on (`windows` PTB validation windows).
pub fn lm_layers_table(
    a: &Analysis,
    net: &str,
    unit: &str,
    means: &[f64],
    biases: &[LayerBias],
    windows: usize,
) -> String {
    let lesion = a.lesion.as_ref().and_then(|l| l.report(net));
    let ppl = |layer: usize| {
        lesion
            .and_then(|l| l.rows.iter().find(|r| r.layer == layer))
            .map_or("-".into(), |r| format!("{:.1}", r.splits[0].1.error))
    };
    let mut rows = vec![vec![
        "none (intact)".into(),
        String::new(),
        String::new(),
        lesion.map_or("-".into(), |l| format!("{:.1}", l.baseline[0].1.error)),
    ]];
    for (i, t) in means.iter().enumerate() {
        let b = biases.get(i);
        rows.push(vec![
            (i + 1).to_string(),
            format!("{t:.3}"),
            b.map_or("-".into(), |b| {
                format!("{:.2} ({:.2}, {:.2})", b.mean, b.min, b.max).replace('-', "−")
            }),
            ppl(i + 1),
        ]);
    }
    let mut content = table(
        &[
            unit,
            "mean `T`",
            "learned `b_T`: mean (min, max)",
            "perplexity with it lesioned",
        ],
        &rows,
    );
    content.push_str(&format!(
        "\nPTB validation, the first {windows} windows, state carried across windows, no dropout.\n"
    ));
    content
}

/// `analysis-rhn`: an RHN's mean gate activity, learned `b_T` and lesioned perplexity per
/// micro-layer.
pub fn rhn_table(inputs: &Inputs, name: &str) -> Outcome {
    each(
        inputs,
        name,
        |a| a.gates.as_ref().and_then(|g| g.rhn.as_ref()),
        |a, g| {
            let mut content = lm_layers_table(
                a,
                "rhn",
                "micro-layer",
                &g.mean_per_micro_layer,
                &g.biases,
                g.windows,
            );
            content.push_str(&made_by_both(a, "rhn"));
            content
        },
    )
}

/// `analysis-conv` / `analysis-cifar`: a conv net's mean gate activity and the loss and error
/// with each highway layer lesioned (`net`: `conv` or `cifar`, as `gates` and `lesion` name
/// their output), on the lesion study's last split.
pub fn staged_table(inputs: &Inputs, net: &str, name: &str) -> Outcome {
    each(
        inputs,
        name,
        |a| {
            a.gates
                .as_ref()
                .and_then(|g| g.staged.iter().find(|(n, _)| n == net))
                .map(|(_, r)| r)
        },
        |a, g| {
            let mut content = String::new();
            let lesion = a.lesion.as_ref().and_then(|l| l.report(net));
            let cells = |layer: Option<usize>| -> [String; 2] {
                let Some(l) = lesion else {
                    return ["-".into(), "-".into()];
                };
                let si = l.baseline.len() - 1;
                let e = match layer {
                    None => Some(l.baseline[si].1),
                    Some(layer) => l
                        .rows
                        .iter()
                        .find(|r| r.layer == layer)
                        .map(|r| r.splits[si].1),
                };
                e.map_or(["-".into(), "-".into()], |e| {
                    [format!("{:.3}", e.loss), percent(e.error)]
                })
            };
            let [loss, error] = cells(None);
            let mut rows = vec![vec!["none (intact)".into(), String::new(), loss, error]];
            for (i, t) in g.mean_per_layer.iter().enumerate() {
                let layer = g.first_layer + i;
                let [loss, error] = cells(Some(layer));
                rows.push(vec![layer.to_string(), format!("{t:.3}"), loss, error]);
            }
            let split = lesion
                .and_then(|l| l.baseline.last())
                .map_or("-".to_string(), |(s, _)| s.clone());
            content.push_str(&table(
                &[
                    "highway layer",
                    &format!("mean `T` ({} examples)", g.examples),
                    &format!("{split} loss with it lesioned"),
                    &format!("{split} error with it lesioned"),
                ],
                &rows,
            ));
            content.push('\n');
            content.push_str(&made_by_both(a, net));
            content
        },
    )
}

/// The summary row's figure: per analysed MLP, how many of its layers each cost at most the
/// tolerance in training error when lesioned; with the lesion study's provenance and the
/// stack's depth. From the newest lesion study of MLPs.
pub fn harmless_summary(inputs: &Inputs) -> Option<(String, usize, &Provenance)> {
    let (_, l) = with(inputs, mlp_lesion_record)
        .into_iter()
        .max_by(|a, b| a.1.provenance.date.cmp(&b.1.provenance.date))?;
    let tol = tolerance(&l.provenance);
    let mut parts = Vec::new();
    let mut depth = 0;
    for (slug, r) in mlp_lesions(l) {
        depth = depth.max(r.rows.iter().map(|x| x.layer).max().unwrap_or(0));
        let split = if intact(r, "train").is_some() {
            "train"
        } else {
            r.baseline.first()?.0.as_str()
        };
        let harmless = r.harmless_layers(split, tol);
        parts.push(format!(
            "{}: {} of {} ({})",
            net_label(slug),
            harmless.len(),
            r.rows.len(),
            ranges(&harmless)
        ));
    }
    let here = format!(
        "layers that each cost ≤ {:.1} pt of training error: {}",
        100.0 * tol,
        parts.join("; ")
    );
    Some((here, depth, &l.provenance))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distance_table_shows_the_input_every_tenth_layer_and_the_last_ones() {
        assert_eq!(distance_layers(2, 50), vec![1, 10, 20, 30, 40, 45, 48, 50]);
        assert_eq!(distance_layers(2, 4), vec![1, 2, 4]);
    }

    #[test]
    fn nets_are_named_after_their_initial_bias() {
        assert_eq!(net_label("bt-2"), "`b_T = −2`");
        assert_eq!(net_label("bt-4.5"), "`b_T = −4.5`");
        assert_eq!(net_label("conv"), "conv");
    }
}
