//! `analysis-char`: the character-aware language model of Kim et al. (arXiv:1508.06615) read
//! out per highway layer (mean `T`, learned `b_T`, perplexity with the layer lesioned) and the
//! nearest neighbours of its Table 6, from the `gates --char-run` and `lesion --char-run`
//! output of an analysis record ([`super::inputs::Analysis`]).

use super::Outcome;
use super::analysis::{each, lm_layers_table, made_by_both};
use super::inputs::Inputs;
use crate::analysis::{Neighbours, neighbours_table};

/// `word` for a Markdown table cell: `<` as `&lt;` (PTB's `<unk>` and `<eos>` would read as
/// HTML tags) and `|` escaped.
fn cell_word(word: &str) -> String {
    word.replace('<', "&lt;").replace('|', "\\|")
}

/// `list` with every word made fit for a Markdown table cell ([`cell_word`]).
fn cell_words(list: &[(String, f64)]) -> Vec<(String, f64)> {
    list.iter().map(|(w, s)| (cell_word(w), *s)).collect()
}

/// `n` with every word made fit for a Markdown table cell ([`cell_word`]).
fn for_markdown(n: &Neighbours) -> Neighbours {
    Neighbours {
        word: cell_word(&n.word),
        in_vocabulary: n.in_vocabulary,
        before_highway: cell_words(&n.before_highway),
        after_highway: cell_words(&n.after_highway),
    }
}

/// `analysis-char`: for each analysis record with a character-aware LM's `gates` output, its
/// highway layers ([`lm_layers_table`]), the nearest vocabulary words of the query words
/// before and after the highway layers with their cosine similarity (Table 6), and the
/// commands that wrote them.
pub fn char_table(inputs: &Inputs, name: &str) -> Outcome {
    each(
        inputs,
        name,
        |a| a.gates.as_ref().and_then(|g| g.char.as_ref()),
        |a, c| {
            let r = &c.report;
            let mut content = lm_layers_table(
                a,
                "char",
                "highway layer",
                &r.mean_per_layer,
                &r.biases,
                r.windows,
            );
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
            content.push_str(&made_by_both(a, "char"));
            content
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_escaped_for_a_table_cell() {
        assert_eq!(cell_word("<unk>"), "&lt;unk>");
        assert_eq!(cell_word("a|b"), "a\\|b");
        assert_eq!(cell_word("computer-aided"), "computer-aided");
    }
}
