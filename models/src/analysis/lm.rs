//! The language models read out and lesioned per gated layer on a token stream, with the
//! state carried across windows and no dropout: the RHN of Zilly et al. (arXiv:1607.03474)
//! per micro-layer, and the character-aware model of Kim et al. (arXiv:1508.06615) per highway
//! layer, with the nearest neighbours of its Table 6 (cosine similarity of word
//! representations before and after the highway layers, for in-vocabulary and
//! out-of-vocabulary words).

use crate::spelling::MAX_WORD_LEN;
use crate::{CharCnnLm, RhnLm, WordSpelling};
use anyhow::{Context, bail};
use burn::tensor::{Device, Int, Tensor, TensorData};
use datasets::{Bptt, BpttWindow, Vocab};
use serde::{Deserialize, Serialize};

use super::gate_stats::{LayerBias, bias_table};
use super::host;
use super::lesion::{LesionReport, LossError, LossErrorSum};
use super::values_csv;

/// The query words of the paper's Table 6: in the PTB vocabulary, then out of it.
pub const TABLE6_WORDS: [&str; 8] = [
    "while",
    "his",
    "you",
    "richard",
    "trading",
    "computer-aided",
    "misinformed",
    "looooook",
];

/// The words of a PTB vocabulary spelled for a [`CharCnnLm`] (see [`WordSpelling`]: words
/// longer than 63 characters are cut, as in the authors' loader; an empty line of the corpus
/// is a sentence of no word, its `<eos>` spelled as one character; a word containing `{` or
/// `}`, the word markers, is an error naming it and `ptb.train.txt`).
pub fn ptb_spelling(vocab: &Vocab) -> anyhow::Result<WordSpelling> {
    WordSpelling::new(vocab.words(), MAX_WORD_LEN).map_err(|e| {
        anyhow::anyhow!("spelling the vocabulary of ptb.train.txt for the character CNN: {e}")
    })
}

/// Transform-gate activity of a character-aware LM's highway layers on a token stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CharCnnGateReport {
    /// Highway layers.
    pub layers: usize,
    /// Windows evaluated.
    pub windows: usize,
    /// Mean transform-gate activity of each highway layer over the windows' words.
    pub mean_per_layer: Vec<f64>,
    /// Learned transform-gate biases per highway layer (initial value −2).
    pub biases: Vec<LayerBias>,
}

/// Transform-gate activity of an RHN language model on a token stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RhnGateReport {
    /// Recurrence depth.
    pub depth: usize,
    /// Windows evaluated.
    pub windows: usize,
    /// Mean transform-gate activity of each micro-layer (1-based index = position).
    pub mean_per_micro_layer: Vec<f64>,
    /// Mean activity of each micro-layer at each position in the window: `[seq][depth]`.
    pub per_time_step: Vec<Vec<f64>>,
    /// Learned transform-gate biases: mean, min, max per micro-layer.
    pub biases: Vec<LayerBias>,
}

/// Runs `f(window, tokens [batch, seq])` on the first `max_windows` windows of `data` (0: all),
/// in order; returns how many it ran.
fn for_windows(
    data: &Bptt,
    max_windows: usize,
    device: &Device,
    mut f: impl FnMut(&BpttWindow, Tensor<2, Int>) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let n = match max_windows {
        0 => data.num_windows(),
        m => m.min(data.num_windows()),
    };
    for w in 0..n {
        let window = data.window(w).context("BPTT window out of range")?;
        let (x, _) = window.to_tensors(device);
        f(&window, x)?;
    }
    Ok(n)
}

/// Gate statistics of an RHN LM over the first `max_windows` windows of `data` (0: all), with
/// the state carried across windows and no dropout.
pub fn rhn_gate_report(
    model: &RhnLm,
    initial_bias: f64,
    data: &Bptt,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<RhnGateReport> {
    let depth = model.rhn.depth();
    let mut state = None;
    let mut sum_t: Vec<Vec<f64>> = Vec::new();
    let windows = for_windows(data, max_windows, device, |_, x| {
        let (_, out) = model.forward_with_gates(x, state.take(), None, None);
        state = Some(out.state);
        let per_t = host(out.gates.per_time_step())?;
        let seq = per_t.len() / depth;
        if sum_t.len() < seq {
            sum_t.resize(seq, vec![0.0; depth]);
        }
        for (t, row) in per_t.chunks(depth).enumerate() {
            for (l, v) in row.iter().enumerate() {
                sum_t[t][l] += *v as f64;
            }
        }
        Ok(())
    })?;
    if windows == 0 {
        bail!("RHN gate statistics: the data has no windows");
    }
    let per_time_step: Vec<Vec<f64>> = sum_t
        .iter()
        .map(|r| r.iter().map(|v| v / windows as f64).collect())
        .collect();
    let mean_per_micro_layer = (0..depth)
        .map(|l| per_time_step.iter().map(|r| r[l]).sum::<f64>() / per_time_step.len() as f64)
        .collect();
    let b = host(model.rhn.cell.transform_biases())?;
    let rows: Vec<Vec<f32>> = b.chunks(b.len() / depth).map(|r| r.to_vec()).collect();
    Ok(RhnGateReport {
        depth,
        windows,
        mean_per_micro_layer,
        per_time_step,
        biases: bias_table(&rows, initial_bias, 1),
    })
}

/// Gate statistics of a character-aware LM over the first `max_windows` windows of `data` (0:
/// all), the state carried across windows, no dropout.
pub fn char_cnn_gate_report(
    model: &CharCnnLm,
    initial_bias: f64,
    data: &Bptt,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<CharCnnGateReport> {
    let layers = model.highway.depth();
    let mut sum = vec![0.0f64; layers];
    let mut state = None;
    let windows = for_windows(data, max_windows, device, |_, x| {
        let (_, next, gates) = model.forward_with_gates(x, state.take(), None, None);
        state = Some(next);
        if let Some(g) = gates {
            for (s, v) in sum.iter_mut().zip(host(g)?) {
                *s += v as f64;
            }
        }
        Ok(())
    })?;
    if windows == 0 {
        bail!("gate statistics: the data has no windows");
    }
    let biases: Vec<Vec<f32>> = model
        .highway
        .layers
        .iter()
        .map(|l| host(l.transform_bias()))
        .collect::<anyhow::Result<_>>()?;
    Ok(CharCnnGateReport {
        layers,
        windows,
        mean_per_layer: sum.iter().map(|s| s / windows as f64).collect(),
        biases: bias_table(&biases, initial_bias, 1),
    })
}

/// Per-token cross-entropy (nats) of a language model over the first `max_windows` windows
/// of `data` (0: all), the state carried from window to window (zeros at first):
/// `forward(tokens, state)` gives the window's logits `[batch, seq, vocab]` and the next state.
pub fn stream_loss<S>(
    data: &Bptt,
    max_windows: usize,
    device: &Device,
    mut forward: impl FnMut(Tensor<2, Int>, Option<S>) -> (Tensor<3>, S),
) -> anyhow::Result<f64> {
    let mut acc = LossErrorSum::default();
    let mut state = None;
    for_windows(data, max_windows, device, |window, x| {
        let (logits, next) = forward(x, state.take());
        state = Some(next);
        let [b, s, v] = logits.dims();
        let labels: Vec<usize> = window.targets.iter().map(|t| *t as usize).collect();
        acc.add(&host(logits.reshape([b * s, v]))?, &labels)
    })?;
    Ok(acc.finish().loss)
}

/// A language model's lesion study: `loss(None)` intact, then `loss(Some(l))` for each of its
/// `layers` layers in turn (0-based); rows hold the per-token loss, and the `error` field
/// holds the perplexity `exp(loss)`.
pub fn lm_lesion(
    label: &str,
    split: &str,
    layers: usize,
    mut loss: impl FnMut(Option<usize>) -> anyhow::Result<f64>,
) -> anyhow::Result<LesionReport> {
    let point = |loss: f64| LossError {
        loss,
        error: loss.exp(),
    };
    let base = point(loss(None)?);
    let lesioned: Vec<LossError> = (0..layers)
        .map(|l| loss(Some(l)).map(point))
        .collect::<anyhow::Result<_>>()?;
    let split = (split.to_string(), base, lesioned);
    LesionReport::from_splits(label, 1, layers, [Ok(split)])
}

/// Lesions each micro-layer of an RHN LM in turn; rows hold the per-token loss, and the
/// `error` field holds the perplexity `exp(loss)`.
pub fn rhn_lesion(
    label: &str,
    model: &RhnLm,
    data: &Bptt,
    split: &str,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    lm_lesion(label, split, model.rhn.depth(), |lesion| {
        stream_loss(data, max_windows, device, |x, state| {
            let (logits, out) = model.forward_with_gates(x, state, None, lesion);
            (logits, out.state)
        })
    })
}

/// Lesions each highway layer of a character-aware LM in turn (its output replaced by its
/// input); rows hold the per-token loss, and the `error` field holds the perplexity.
pub fn char_cnn_lesion(
    label: &str,
    model: &CharCnnLm,
    data: &Bptt,
    split: &str,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    lm_lesion(label, split, model.highway.depth(), |lesion| {
        stream_loss(data, max_windows, device, |x, state| {
            let (logits, next, _) = model.forward_with_gates(x, state, None, lesion);
            (logits, next)
        })
    })
}

/// The nearest vocabulary words of one query word (Table 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbours {
    /// The query word.
    pub word: String,
    /// Whether it is in the model's vocabulary (it is then left out of its own neighbours).
    pub in_vocabulary: bool,
    /// Nearest words by cosine similarity of the CNN features `y` (before the highway layers).
    pub before_highway: Vec<(String, f64)>,
    /// Nearest words by cosine similarity of the highway output `z`.
    pub after_highway: Vec<(String, f64)>,
}

/// The `k` nearest vocabulary words of each query by cosine similarity, before and after the
/// highway layers (the paper's Table 6). A query with a character the model has never seen
/// is an error naming it.
pub fn nearest_neighbours(
    model: &CharCnnLm,
    spelling: &WordSpelling,
    vocab: &Vocab,
    queries: &[String],
    k: usize,
    device: &Device,
) -> anyhow::Result<Vec<Neighbours>> {
    if vocab.len() != model.vocab_size() {
        bail!(
            "the vocabulary has {} words, the model {}",
            vocab.len(),
            model.vocab_size()
        );
    }
    let all = model.represent(model.spellings.clone(), None);
    let f = model.d_features();
    let before = unit_rows(&host(all.cnn)?, f);
    let after = unit_rows(&host(last_layer(all.layers)?)?, f);
    let mut out = Vec::new();
    for word in queries {
        let ids = spelling
            .spell(word)
            .map_err(|e| anyhow::anyhow!("nearest neighbours of {word:?}: {e}"))?;
        let chars =
            Tensor::<2, Int>::from_data(TensorData::new(ids, [1, spelling.max_word_len()]), device);
        let q = model.represent(chars, None);
        let own = vocab.id(word).map(|i| i as usize);
        let nearest = |table: &[f32], query: Vec<f32>| {
            let q = unit_rows(&query, f);
            let mut sims: Vec<(usize, f64)> = table
                .chunks(f)
                .enumerate()
                .filter(|(i, _)| Some(*i) != own)
                .map(|(i, row)| (i, dot(row, &q)))
                .collect();
            sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            sims.into_iter()
                .take(k)
                .map(|(i, s)| (vocab.word(i as u32).unwrap_or("?").to_string(), s))
                .collect::<Vec<_>>()
        };
        out.push(Neighbours {
            word: word.clone(),
            in_vocabulary: own.is_some(),
            before_highway: nearest(&before, host(q.cnn)?),
            after_highway: nearest(&after, host(last_layer(q.layers)?)?),
        });
    }
    Ok(out)
}

/// The last highway layer's output (a model has at least one highway layer to be compared).
fn last_layer(layers: Vec<Tensor<2>>) -> anyhow::Result<Tensor<2>> {
    layers
        .into_iter()
        .last()
        .context("the model has no highway layer: nothing to compare after it")
}

/// Rows of width `f` scaled to unit length (a zero row stays zero).
fn unit_rows(values: &[f32], f: usize) -> Vec<f32> {
    let mut out = values.to_vec();
    for row in out.chunks_mut(f) {
        let norm = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
        }
    }
    out
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// The neighbours as a markdown table: one row per query, the `k` nearest words before and
/// after the highway layers with their cosine similarity.
pub fn neighbours_table(rows: &[Neighbours]) -> String {
    let list = |n: &[(String, f64)]| {
        n.iter()
            .map(|(w, s)| format!("{w} ({s:.2})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = String::from("| word | in vocabulary | before highway | after highway |\n");
    s.push_str("|---|---|---|---|\n");
    for r in rows {
        s.push_str(&format!(
            "| *{}* | {} | {} | {} |\n",
            r.word,
            if r.in_vocabulary { "yes" } else { "no" },
            list(&r.before_highway),
            list(&r.after_highway)
        ));
    }
    s
}

impl RhnGateReport {
    /// Per-time-step CSV: `step,micro_layer1,...`, the mean activity of each micro-layer at each
    /// position in the window.
    pub fn time_csv(&self) -> String {
        let columns = (1..=self.depth).map(|l| format!("micro_layer{l}"));
        let steps = (1..=self.per_time_step.len()).map(|t| t.to_string());
        values_csv("step", columns, steps, &self.per_time_step)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::CharCnnLmConfig;
    use datasets::PtbCorpus;

    fn corpus(train: &str) -> anyhow::Result<PtbCorpus> {
        let p = Path::new("ptb.train.txt");
        Ok(PtbCorpus::from_texts((p, train), (p, train), (p, train))?)
    }

    #[test]
    fn empty_lines_an_unk_only_corpus_and_markers_in_words() {
        // An empty line is a sentence of no word: only its <eos>, spelled `{+}`.
        let c = corpus("a b\n\nb a\n").unwrap();
        let s = ptb_spelling(&c.vocab).unwrap();
        assert_eq!(s.num_words(), 3);
        let eos = c.vocab.id("<eos>").unwrap() as usize;
        let row = &s.table()[eos * s.max_word_len()..][..3];
        assert_eq!(s.char(row[1] as u32), Some('+'));
        // A corpus of nothing but <unk>: two words, both one character long.
        let c = corpus("<unk> <unk>\n<unk>\n").unwrap();
        let s = ptb_spelling(&c.vocab).unwrap();
        assert_eq!((s.num_words(), s.max_word_len()), (2, 3));
        // A word with a word marker is an error naming the word and the file.
        let c = corpus("a {b}\n").unwrap();
        let err = format!("{}", ptb_spelling(&c.vocab).unwrap_err());
        assert!(
            err.contains("{b}") && err.contains("ptb.train.txt"),
            "{err}"
        );
    }

    #[test]
    fn unit_rows_and_dot_give_the_cosine() {
        let rows = unit_rows(&[3.0, 4.0, 0.0, 0.0, 1.0, 0.0], 2);
        assert_eq!(rows, vec![0.6, 0.8, 0.0, 0.0, 1.0, 0.0]);
        assert!((dot(&rows[0..2], &rows[4..6]) - 0.6).abs() < 1e-7);
    }

    #[test]
    fn neighbours_of_a_tiny_model_exclude_the_word_itself_and_are_sorted() {
        let device = Device::flex();
        let p = Path::new("ptb");
        let corpus = PtbCorpus::from_texts(
            (p, "the cat sat on the mat\nthe rat sat\n"),
            (p, "the cat\n"),
            (p, "the mat\n"),
        )
        .unwrap();
        let spelling = ptb_spelling(&corpus.vocab).unwrap();
        let config = CharCnnLmConfig::new(
            spelling.num_words(),
            spelling.num_chars(),
            spelling.max_word_len(),
            vec![1, 2],
            vec![4, 4],
            1,
            6,
        );
        let model = config.init(&spelling, &device).unwrap();
        let queries = vec!["cat".to_string(), "tact".to_string()];
        let rows =
            nearest_neighbours(&model, &spelling, &corpus.vocab, &queries, 3, &device).unwrap();
        assert!(rows[0].in_vocabulary && !rows[1].in_vocabulary);
        for r in &rows {
            for list in [&r.before_highway, &r.after_highway] {
                assert_eq!(list.len(), 3);
                assert!(list.iter().all(|(w, _)| w != "cat" || !r.in_vocabulary));
                assert!(list.windows(2).all(|p| p[0].1 >= p[1].1));
                assert!(list.iter().all(|(_, s)| (-1.0..=1.0 + 1e-9).contains(s)));
            }
        }
        let table = neighbours_table(&rows);
        assert!(table.contains("| *tact* | no |"), "{table}");
        // A character the model never saw is an error naming it.
        let err = nearest_neighbours(&model, &spelling, &corpus.vocab, &["cz".into()], 3, &device)
            .unwrap_err();
        assert!(format!("{err}").contains("'z'"), "{err}");
    }
}
