//! Text in and out of a word or character language model trained on a `datasets` corpus
//! (feature `train`, which brings the `datasets` crate): prompts become token ids
//! ([`TextVocab::encode_prompt`]), token ids become text one at a time ([`Detokenizer`]), and
//! [`generate_text`] prints the text of [`generate()`](super::generate()) as it is drawn, for
//! any [`RecurrentLm`] or, whichever its kind, a `Box<dyn TextLm>` ([`TextLm`]).
//!
//! ```text
//! let vocab = TextVocab::Words(PtbCorpus::load(None)?.vocab);
//! let prompt = vocab.encode_prompt("the company")?;
//! let out = generate_text(&model, &vocab, &prompt, 40, &config, vocab.eos(), &device,
//!     &mut std::io::stdout())?;
//! ```

use std::io::Write;

use anyhow::{Context, bail};
use burn::tensor::Device;
use datasets::{CharVocab, Vocab};

use super::{SamplingConfig, generate};
use crate::rhn_lm::RecurrentLm;

/// The vocabulary of a language model's corpus: words (PTB's [`Vocab`]) or characters (bytes,
/// a [`CharVocab`]).
#[derive(Debug, Clone)]
pub enum TextVocab {
    /// A word vocabulary (PTB).
    Words(Vocab),
    /// A character (byte) vocabulary.
    Chars(Box<CharVocab>),
}

impl TextVocab {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        match self {
            TextVocab::Words(v) => v.len(),
            TextVocab::Chars(v) => v.len(),
        }
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `words` or `characters`, for messages.
    pub fn unit(&self) -> &'static str {
        match self {
            TextVocab::Words(_) => "words",
            TextVocab::Chars(_) => "characters",
        }
    }

    /// The id of `<eos>` (word vocabularies that have it).
    pub fn eos(&self) -> Option<u32> {
        match self {
            TextVocab::Words(v) => v.id(datasets::ptb::EOS),
            TextVocab::Chars(_) => None,
        }
    }

    /// The prompt's token ids: whitespace-separated words, or the UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// An empty prompt (for words: nothing but whitespace), or a word or character not in the
    /// vocabulary, named in the message.
    pub fn encode_prompt(&self, prompt: &str) -> anyhow::Result<Vec<u32>> {
        match self {
            TextVocab::Words(v) => {
                let words: Vec<&str> = prompt.split_whitespace().collect();
                if words.is_empty() {
                    bail!("the prompt is empty: give at least one word, e.g. --prompt \"the\"");
                }
                words
                    .iter()
                    .map(|w| {
                        v.id(w).with_context(|| {
                            format!(
                                "the prompt word \"{w}\" is not in the vocabulary of {} words \
                                 (PTB is lower case, writes numbers as N and rare words as \
                                 <unk>: use <unk> for it)",
                                v.len()
                            )
                        })
                    })
                    .collect()
            }
            TextVocab::Chars(v) => {
                if prompt.is_empty() {
                    bail!(
                        "the prompt is empty: give at least one character, e.g. --prompt \"The \""
                    );
                }
                let mut ids = Vec::with_capacity(prompt.len());
                for ch in prompt.chars() {
                    let mut buf = [0u8; 4];
                    for &b in ch.encode_utf8(&mut buf).as_bytes() {
                        let id = v.id(b).with_context(|| {
                            format!(
                                "the prompt character {ch:?} (byte {b:#04x}) is not among the \
                                 corpus's {} symbols",
                                v.len()
                            )
                        })?;
                        ids.push(id);
                    }
                }
                Ok(ids)
            }
        }
    }

    /// A [`Detokenizer`] at the start of a line.
    pub fn detokenizer(&self) -> Detokenizer<'_> {
        Detokenizer {
            vocab: self,
            line_start: true,
        }
    }
}

/// Turns token ids back into text, one token at a time: words separated by spaces, `<eos>` as
/// a line break; characters as their bytes. An id outside the vocabulary (not produced by a
/// model whose size was checked) is written `<#ID>`.
#[derive(Debug, Clone)]
pub struct Detokenizer<'a> {
    vocab: &'a TextVocab,
    line_start: bool,
}

impl Detokenizer<'_> {
    /// The bytes that print token `id` after the tokens seen so far.
    pub fn piece(&mut self, id: u32) -> Vec<u8> {
        match self.vocab {
            TextVocab::Words(v) => match v.word(id) {
                Some(datasets::ptb::EOS) => {
                    self.line_start = true;
                    b"\n".to_vec()
                }
                word => {
                    let word = word.map_or_else(|| format!("<#{id}>"), str::to_string);
                    let sep = if self.line_start { "" } else { " " };
                    self.line_start = false;
                    format!("{sep}{word}").into_bytes()
                }
            },
            TextVocab::Chars(v) => match v.symbol(id) {
                Some(b) => {
                    self.line_start = b == b'\n';
                    vec![b]
                }
                None => {
                    self.line_start = false;
                    format!("<#{id}>").into_bytes()
                }
            },
        }
    }

    /// The bytes of several tokens.
    pub fn pieces(&mut self, ids: &[u32]) -> Vec<u8> {
        ids.iter().flat_map(|&id| self.piece(id)).collect()
    }

    /// Whether the text so far ends a line (or is empty).
    pub fn at_line_start(&self) -> bool {
        self.line_start
    }
}

/// `ids` as text from the start of a line (bytes as lossy UTF-8).
pub fn detokenize(vocab: &TextVocab, ids: &[u32]) -> String {
    String::from_utf8_lossy(&vocab.detokenizer().pieces(ids)).into_owned()
}

/// What [`generate_text`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedText {
    /// The generated token ids (after the prompt).
    pub tokens: Vec<u32>,
    /// The generated text, as printed after the prompt (lossy UTF-8).
    pub generated_text: String,
    /// The prompt and the generated text, as printed (lossy UTF-8).
    pub text: String,
}

/// [`generate()`](super::generate()) with `model` after the token ids `prompt`, printing the
/// text to `out` as it is produced: the prompt, then each token as soon as it is drawn (`out`
/// flushed after each), then a line break unless the text ends a line. A write that fails
/// after the prompt (a closed pipe: `sample ... | head`) only stops the printing.
///
/// # Errors
///
/// The prompt cannot be written, or [`generate()`](super::generate()) fails (bad settings, a
/// prompt token outside the model's vocabulary, logits that cannot be read back).
#[allow(clippy::too_many_arguments)]
pub fn generate_text<M: RecurrentLm>(
    model: &M,
    vocab: &TextVocab,
    prompt: &[u32],
    max_tokens: usize,
    config: &SamplingConfig,
    stop: Option<u32>,
    device: &Device,
    out: &mut dyn Write,
) -> anyhow::Result<GeneratedText> {
    let mut detok = vocab.detokenizer();
    let shown = detok.pieces(prompt);
    out.write_all(&shown)?;
    out.flush()?;
    let mut generated = Vec::new();
    let tokens = generate(model, prompt, max_tokens, config, stop, device, |token| {
        let piece = detok.piece(token);
        if out.write_all(&piece).is_ok() {
            out.flush().ok();
        }
        generated.extend_from_slice(&piece);
    })
    .map_err(anyhow::Error::msg)?;
    if !detok.at_line_start() && out.write_all(b"\n").is_ok() {
        out.flush().ok();
    }
    let generated_text = String::from_utf8_lossy(&generated).into_owned();
    let mut all = shown;
    all.extend_from_slice(&generated);
    Ok(GeneratedText {
        tokens,
        generated_text,
        text: String::from_utf8_lossy(&all).into_owned(),
    })
}

/// Any [`RecurrentLm`] as one type (`Box<dyn TextLm>`), for a program that loads whichever
/// model its user names: its vocabulary size and [`generate_text`].
pub trait TextLm {
    /// The model's vocabulary size (its softmax's outputs).
    fn vocab_len(&self) -> usize;

    /// [`generate_text`] with this model.
    ///
    /// # Errors
    ///
    /// As [`generate_text`].
    #[allow(clippy::too_many_arguments)]
    fn generate_text(
        &self,
        vocab: &TextVocab,
        prompt: &[u32],
        max_tokens: usize,
        config: &SamplingConfig,
        stop: Option<u32>,
        device: &Device,
        out: &mut dyn Write,
    ) -> anyhow::Result<GeneratedText>;
}

impl<M: RecurrentLm> TextLm for M {
    fn vocab_len(&self) -> usize {
        RecurrentLm::vocab_size(self)
    }

    #[allow(clippy::too_many_arguments)]
    fn generate_text(
        &self,
        vocab: &TextVocab,
        prompt: &[u32],
        max_tokens: usize,
        config: &SamplingConfig,
        stop: Option<u32>,
        device: &Device,
        out: &mut dyn Write,
    ) -> anyhow::Result<GeneratedText> {
        generate_text(self, vocab, prompt, max_tokens, config, stop, device, out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::RhnLmConfig;

    fn words() -> TextVocab {
        let mut v = Vocab::default();
        datasets::ptb::tokenize_train(Path::new("t"), "the cat sat\na dog <unk>", &mut v).unwrap();
        TextVocab::Words(v)
    }

    fn chars() -> TextVocab {
        TextVocab::Chars(Box::new(CharVocab::from_bytes(b"ab c\n")))
    }

    #[test]
    fn word_prompts_are_checked_word_by_word() {
        let v = words();
        assert_eq!(v.encode_prompt("  the   cat ").unwrap(), [0, 1]);
        assert_eq!(v.eos(), Some(3));
        for empty in ["", "  \n\t"] {
            let err = v.encode_prompt(empty).unwrap_err().to_string();
            assert!(err.contains("empty"), "{err}");
        }
        let err = v.encode_prompt("the Cat").unwrap_err().to_string();
        assert!(err.contains("\"Cat\"") && err.contains("<unk>"), "{err}");
    }

    #[test]
    fn char_prompts_are_checked_byte_by_byte() {
        let v = chars();
        // Ids in byte order: '\n' 0, ' ' 1, 'a' 2, 'b' 3, 'c' 4.
        assert_eq!(v.encode_prompt("a b").unwrap(), [2, 1, 3]);
        assert_eq!(v.encode_prompt(" ").unwrap(), [1]);
        assert_eq!(v.eos(), None);
        assert!(
            v.encode_prompt("")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let err = v.encode_prompt("abé").unwrap_err().to_string();
        assert!(err.contains("'é'") && err.contains("0xc3"), "{err}");
    }

    #[test]
    fn tokens_print_as_text() {
        let v = words();
        // the 0, cat 1, sat 2, <eos> 3, a 4, dog 5, <unk> 6.
        assert_eq!(
            detokenize(&v, &[0, 1, 3, 4, 5, 3, 0]),
            "the cat\na dog\nthe"
        );
        let mut d = v.detokenizer();
        assert_eq!(d.pieces(&[0, 1]), b"the cat");
        assert_eq!(d.piece(2), b" sat");
        assert!(!d.at_line_start());
        assert_eq!(d.piece(3), b"\n");
        assert!(d.at_line_start());
        assert_eq!(d.piece(99), b"<#99>");
        assert_eq!(detokenize(&chars(), &[2, 1, 3, 0, 4]), "a b\nc");
    }

    #[test]
    fn generated_text_is_printed_as_it_is_drawn() {
        let device = Device::flex();
        let vocab = words();
        let model = RhnLmConfig::new(vocab.len(), 8, 2).init(&device);
        let config = SamplingConfig::new().with_seed(3);
        let prompt = vocab.encode_prompt("the cat").unwrap();
        let mut printed: Vec<u8> = Vec::new();
        let out = generate_text(
            &model,
            &vocab,
            &prompt,
            9,
            &config,
            None,
            &device,
            &mut printed,
        )
        .unwrap();
        let expected = generate(&model, &prompt, 9, &config, None, &device, |_| {}).unwrap();
        assert_eq!(out.tokens, expected);
        let all: Vec<u32> = prompt.iter().chain(&expected).copied().collect();
        assert_eq!(out.text, detokenize(&vocab, &all));
        assert!(out.text.starts_with("the cat") && out.text.ends_with(&out.generated_text));
        let line_break = if out.text.ends_with('\n') { "" } else { "\n" };
        assert_eq!(
            String::from_utf8(printed).unwrap(),
            out.text.clone() + line_break
        );
        // The same through `dyn TextLm`.
        let boxed: Box<dyn TextLm> = Box::new(model);
        assert_eq!(boxed.vocab_len(), vocab.len());
        let mut sink = std::io::sink();
        let again = boxed.generate_text(&vocab, &prompt, 9, &config, None, &device, &mut sink);
        assert_eq!(again.unwrap(), out);
    }
}
