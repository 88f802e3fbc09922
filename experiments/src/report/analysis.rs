//! The generated tables of `docs/analysis.md`: the nets analysed, their gates (*Training Very
//! Deep Networks* s4, Figures 2-3), their lesions (Figure 4), the layer-output distances and
//! first-layer lesions of Greff et al. (arXiv:1612.07771), an RHN per micro-layer, the
//! character-aware LM of Kim et al. (arXiv:1508.06615) per highway layer with the nearest
//! neighbours of its Table 6, and a CIFAR net per layer, each from the `gates` and `lesion`
//! output of an analysis record ([`Analysis`]).

use super::Outcome;
use super::columns::{Table, made_by, percent, sorted};
use super::inputs::{Analysis, GatesRecord, Inputs, LesionRecord, Study};
use models::analysis::{
    GateReport, LayerBias, LesionReport, LesionRow, LossError, Neighbours, neighbours_table,
};

use crate::analysis::{bias_label, ranges};
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
    let mlp = l.reports.iter().filter(|(n, _)| n.starts_with("bt"));
    mlp.map(|(n, r)| (n.as_str(), r))
}

/// One table per analysis that has `select`'s part, each rendered by `render`; none without.
pub fn each<'a, T: 'a>(
    inputs: &'a Inputs,
    name: &str,
    select: impl Fn(&'a Analysis) -> Option<T>,
    render: impl Fn(&'a Analysis, T) -> String,
) -> Outcome {
    let records = inputs.analyses.iter().filter_map(|a| Some((a, select(a)?)));
    let records: Vec<_> = records.collect();
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
    let record = a.lesion.as_ref();
    record.filter(|l| mlp_lesions(l).next().is_some())
}

/// The intact net's error on `split` in `report`.
fn intact(report: &LesionReport, split: &str) -> Option<f64> {
    let base = report.baseline.iter().find(|(s, _)| s == split);
    base.map(|(_, e)| e.error)
}

/// The loss and error on the split numbered `si` of `report` with `layer` lesioned, or of the
/// intact net (`layer` `None`).
fn lesioned(report: &LesionReport, layer: Option<usize>, si: usize) -> Option<LossError> {
    match layer {
        None => report.baseline.get(si).map(|(_, e)| *e),
        Some(layer) => {
            let row = report.rows.iter().find(|r| r.layer == layer);
            row.map(|r| r.splits[si].1)
        }
    }
}

/// The rows of a table by lesioned layer: the intact net (`None`), then `layers`.
fn with_intact(layers: impl IntoIterator<Item = usize>) -> Vec<Option<usize>> {
    std::iter::once(None)
        .chain(layers.into_iter().map(Some))
        .collect()
}

/// The first cell of such a row.
fn layer_cell(layer: &Option<usize>) -> String {
    layer.map_or("none (intact)".into(), |l| l.to_string())
}

/// `analysis-nets`: the trained MLPs of each analysis: schedule, final training loss, and the
/// intact nets' training and test error from the lesion study.
pub fn nets_table(inputs: &Inputs, name: &str) -> Outcome {
    /// One trained MLP: its run, the study that trained it, its analysis.
    type Net<'a> = (&'a RunSummary, &'a Study, &'a Analysis);
    /// The net's lesion report, if its analysis lesioned it.
    fn lesion<'a>(&(r, _, a): &Net<'a>) -> Option<&'a LesionReport> {
        a.lesion
            .as_ref()?
            .report(&bias_label(r.hyper.transform_bias).1)
    }
    let error = |split: &'static str| {
        move |net: &Net| {
            let error = lesion(net).and_then(|l| intact(l, split));
            error.map_or("-".into(), percent)
        }
    };
    let table = Table::new()
        .col("net", |&(r, _, _): &Net| {
            net_label(&bias_label(r.hyper.transform_bias).1)
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
            let loss = r.final_train_loss;
            loss.map_or(r.status.clone(), |l| format!("{l:.4}"))
        })
        .col("training error (intact net)", error("train"))
        .col("test error", error("test"))
        .col("training", |(r, _, _)| format!("{:.0} s", r.wall_time_s))
        .provenance(|(_, study, _)| &study.provenance);
    each(
        inputs,
        name,
        |a| {
            let runs = a
                .nets
                .iter()
                .map(|s| s.result.runs.iter().map(move |r| (r, s, a)));
            let nets: Vec<Net> = runs.flatten().collect();
            (!nets.is_empty()).then_some(nets)
        },
        |_, nets| table.render(&nets),
    )
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
        let units = biases
            .iter()
            .map(|l| l.units.iter().map(move |u| u - l.initial));
        units.flatten().collect()
    }
    let table = Table::new()
        .col("net", |(slug, _, _): &Net| net_label(slug))
        .col("examples", |(_, g, _)| g.examples.to_string())
        .col("mean change of `b_T`", |&net| {
            format!("{:+.3}", mean(changes(net)))
        })
        .col("units whose `b_T` decreased", |&net| {
            let c = changes(net);
            let decreased = c.iter().filter(|c| **c < 0.0).count() as f64;
            let share = 100.0 * decreased / c.len().max(1) as f64;
            format!("{share:.0}% of {}", c.len())
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
        format!("{}\n{}", table.render(&nets), made_by(&g.provenance))
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
                let worst = r.worst.map(|(layer, _)| format!("layer {layer}"));
                worst.unwrap_or("-".into())
            })
            .col("its error", |r| {
                r.worst.map_or("-".into(), |(_, e)| percent(e))
            })
            .col(harmless, |r| {
                let n = r.harmless.len();
                format!("{} ({n} of {})", ranges(&r.harmless), r.layers)
            });
        let mut rows = Vec::new();
        for (slug, r) in mlp_lesions(l) {
            for (si, (split, base)) in r.baseline.iter().enumerate() {
                let error = |row: &LesionRow| row.splits[si].1.error;
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
        format!("{}\n{}", table.render(&rows), made_by(&l.provenance))
    })
}

/// `analysis-lesion-layers`: the error with each layer lesioned, one column per net and split.
pub fn lesion_layers_table(inputs: &Inputs, name: &str) -> Outcome {
    each(inputs, name, mlp_lesion_record, |_, l| {
        let layers = sorted(mlp_lesions(l).flat_map(|(_, r)| r.rows.iter().map(|x| x.layer)));
        let mut table = Table::new().col("lesioned layer", layer_cell);
        for (slug, r) in mlp_lesions(l) {
            for (si, (split, _)) in r.baseline.iter().enumerate() {
                table = table.col(
                    format!("{} {split} error", net_label(slug)),
                    move |&layer| {
                        let e = lesioned(r, layer, si);
                        e.map_or("-".into(), |e| percent(e.error))
                    },
                );
            }
        }
        table.render(&with_intact(layers))
    })
}

/// The layers the distance table shows for a stack whose layers are `first..=last` (the input
/// is `first − 1`): the input, every tenth layer, and the last five, two and one.
fn distance_layers(first: usize, last: usize) -> Vec<usize> {
    let mut picks = vec![first - 1];
    picks.extend((1..).map(|k| 10 * k).take_while(|l| *l < last));
    picks.extend([last.saturating_sub(5), last.saturating_sub(2), last]);
    picks.retain(|l| *l + 1 >= first && *l <= last);
    sorted(picks)
}

/// `analysis-distance`: Greff et al.'s mean distance of each layer's output from the final
/// output, over the final output's mean norm, one row per layer shown and one column per net.
pub fn distance_table(inputs: &Inputs, name: &str) -> Outcome {
    each(inputs, name, mlp_gates, |_, g| {
        let shown = g
            .mlp
            .iter()
            .map(|(_, r, _)| distance_layers(r.first_layer, r.first_layer + r.layers - 1));
        let layers = sorted(shown.flatten());
        let mut table = Table::new().col("layer", |layer: &usize| layer.to_string());
        for (slug, r, _) in &g.mlp {
            table = table.col(net_label(slug), move |&layer| {
                let i = layer.checked_sub(r.first_layer - 1);
                let d = i.and_then(|i| r.relative_distance.get(i));
                d.map_or("-".into(), |d| format!("{d:.2}"))
            });
        }
        format!("{}\n{}", table.render(&layers), made_by(&g.provenance))
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
    let table = Table::new()
        .col(unit, layer_cell)
        .col("mean `T`", |layer: &Option<usize>| {
            layer.map_or(String::new(), |l| format!("{:.3}", means[l - 1]))
        })
        .col("learned `b_T`: mean (min, max)", |layer| {
            let Some(l) = layer else {
                return String::new();
            };
            biases.get(l - 1).map_or("-".into(), |b| {
                format!("{:.2} ({:.2}, {:.2})", b.mean, b.min, b.max).replace('-', "−")
            })
        })
        .col("perplexity with it lesioned", |&layer| {
            let e = lesion.and_then(|l| lesioned(l, layer, 0));
            e.map_or("-".into(), |e| format!("{:.1}", e.error))
        });
    format!(
        "{}\nPTB validation, the first {windows} windows, state carried across windows, no \
         dropout.\n",
        table.render(&with_intact(1..=means.len()))
    )
}

/// `analysis-rhn`: an RHN's mean gate activity, learned `b_T` and lesioned perplexity per
/// micro-layer.
pub fn rhn_table(inputs: &Inputs, name: &str) -> Outcome {
    each(
        inputs,
        name,
        |a| a.gates.as_ref()?.rhn.as_ref(),
        |a, g| {
            let means = &g.mean_per_micro_layer;
            let table = lm_layers_table(a, "rhn", "micro-layer", means, &g.biases, g.windows);
            table + &made_by_both(a, "rhn")
        },
    )
}

/// `word` for a Markdown table cell: `<` as `&lt;` (PTB's `<unk>` and `<eos>` would read as
/// HTML tags) and `|` escaped.
fn cell_word(word: &str) -> String {
    word.replace('<', "&lt;").replace('|', "\\|")
}

/// `n` with every word made fit for a Markdown table cell ([`cell_word`]).
fn for_markdown(n: &Neighbours) -> Neighbours {
    let words = |list: &[(String, f64)]| -> Vec<(String, f64)> {
        list.iter().map(|(w, s)| (cell_word(w), *s)).collect()
    };
    Neighbours {
        word: cell_word(&n.word),
        in_vocabulary: n.in_vocabulary,
        before_highway: words(&n.before_highway),
        after_highway: words(&n.after_highway),
    }
}

/// `analysis-char`: for each analysis record with a character-aware LM's `gates` output (Kim
/// et al.), its highway layers ([`lm_layers_table`]), the nearest vocabulary words of the query
/// words before and after the highway layers with their cosine similarity (Table 6), and the
/// commands that wrote them.
pub fn char_table(inputs: &Inputs, name: &str) -> Outcome {
    each(
        inputs,
        name,
        |a| a.gates.as_ref()?.char.as_ref(),
        |a, c| {
            let r = &c.report;
            let means = &r.mean_per_layer;
            let unit = "highway layer";
            let mut content = lm_layers_table(a, "char", unit, means, &r.biases, r.windows);
            if !c.neighbours.is_empty() {
                content.push_str(
                    "\nThe nearest vocabulary words by cosine similarity of the word \
                     representations before and after the highway layers (Table 6; a word of \
                     the vocabulary is left out of its own neighbours):\n\n",
                );
                let rows: Vec<Neighbours> = c.neighbours.iter().map(for_markdown).collect();
                content.push_str(&neighbours_table(&rows));
                content.push('\n');
            }
            content + &made_by_both(a, "char")
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
            let staged = a.gates.as_ref()?.staged.iter();
            staged.filter(|(n, _)| n == net).map(|(_, r)| r).next()
        },
        |a, g| {
            let lesion = a.lesion.as_ref().and_then(|l| l.report(net));
            let last_split = |layer: Option<usize>| {
                let l = lesion?;
                lesioned(l, layer, l.baseline.len() - 1)
            };
            let split = lesion.and_then(|l| l.baseline.last());
            let split = split.map_or("-", |(s, _)| s.as_str());
            let table = Table::new()
                .col("highway layer", layer_cell)
                .col(format!("mean `T` ({} examples)", g.examples), |layer| {
                    let t = layer.map(|l| g.mean_per_layer[l - g.first_layer]);
                    t.map_or(String::new(), |t| format!("{t:.3}"))
                })
                .col(format!("{split} loss with it lesioned"), move |&layer| {
                    let e = last_split(layer);
                    e.map_or("-".into(), |e| format!("{:.3}", e.loss))
                })
                .col(format!("{split} error with it lesioned"), move |&layer| {
                    let e = last_split(layer);
                    e.map_or("-".into(), |e| percent(e.error))
                });
            let layers = g.first_layer..g.first_layer + g.mean_per_layer.len();
            format!(
                "{}\n{}",
                table.render(&with_intact(layers)),
                made_by_both(a, net)
            )
        },
    )
}

/// The summary row's figure: per analysed MLP, how many of its layers each cost at most the
/// tolerance in training error when lesioned; with the lesion study's provenance and the
/// stack's depth. From the newest lesion study of MLPs.
pub fn harmless_summary(inputs: &Inputs) -> Option<(String, usize, &Provenance)> {
    let lesions = inputs.analyses.iter().filter_map(mlp_lesion_record);
    let l = lesions.max_by_key(|l| &l.provenance.date)?;
    let tol = tolerance(&l.provenance);
    let mut parts = Vec::new();
    let mut depth = 0;
    for (slug, r) in mlp_lesions(l) {
        depth = depth.max(r.rows.iter().map(|x| x.layer).max().unwrap_or(0));
        let split = match intact(r, "train") {
            Some(_) => "train",
            None => r.baseline.first()?.0.as_str(),
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

    #[test]
    fn words_are_escaped_for_a_table_cell() {
        assert_eq!(cell_word("<unk>"), "&lt;unk>");
        assert_eq!(cell_word("a|b"), "a\\|b");
        assert_eq!(cell_word("computer-aided"), "computer-aided");
    }
}
