//! Words as character sequences, the input of the character-aware language model
//! ([`CharCnnLm`](crate::CharCnnLm)).
//!
//! Kim, Jernite, Sontag & Rush, *Character-Aware Neural Language Models* (arXiv:1508.06615),
//! s2 and the authors' code (yoonkim/lstm-char-cnn, `util/BatchLoaderUnk.lua`): every word is
//! spelled between a start-of-word and an end-of-word character and zero-padded to the longest
//! word; the PTB tokens `<unk>` and `<eos>` are spelled as single characters:
//!
//! ```text
//! "cat"    → { c a t } ␣ ␣ …        (␣ = padding, id 0; its embedding is held at zero)
//! "<unk>"  → { | } ␣ …
//! "<eos>"  → { + } ␣ …
//! ```
//!
//! The character vocabulary is built from the word vocabulary: padding (id 0), `{` (1), `}`
//! (2), then every character in order of first appearance. A character that the vocabulary
//! lacks (only possible for a word spelled after the vocabulary was built, such as an
//! out-of-vocabulary query word) is an error naming it, and a word longer than
//! `max_word_len − 2` characters is cut to that length, as in the authors' loader.

use std::collections::HashMap;

/// The padding character's id (its embedding is held at zero).
pub const PAD: u32 = 0;
/// The start-of-word character.
pub const WORD_START: char = '{';
/// The end-of-word character.
pub const WORD_END: char = '}';
/// How the word `<unk>` is spelled (the authors' `tokens.UNK`).
pub const UNK_CHAR: char = '|';
/// How the word `<eos>` is spelled (the authors' `tokens.EOS`).
pub const EOS_CHAR: char = '+';
/// The longest word length the authors' loader accepts (`max_word_l`, markers included).
pub const MAX_WORD_LEN: usize = 65;

/// The character vocabulary of a word vocabulary, and every word spelled in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordSpelling {
    chars: Vec<char>,
    ids: HashMap<char, u32>,
    max_word_len: usize,
    /// `[words, max_word_len]`, row-major.
    table: Vec<i64>,
}

impl WordSpelling {
    /// Builds the character vocabulary from `words` (ids in order of first appearance) and
    /// spells each of them; `max_word_len` (markers included) is the longest word + 2, at most
    /// `cap` (the authors' 65): longer words are cut.
    ///
    /// # Errors
    ///
    /// When `words` is empty, a word is empty, contains whitespace or one of the reserved
    /// characters `{`, `}` (other than `<unk>` / `<eos>`), or `cap < 3`.
    pub fn new(words: &[String], cap: usize) -> Result<Self, String> {
        if cap < 3 {
            return Err(format!(
                "maximum word length {cap}: must be at least 3 (start, one character, end)"
            ));
        }
        if words.is_empty() {
            return Err("word spelling: the vocabulary is empty".into());
        }
        let mut spelling = Self {
            chars: vec!['\0', WORD_START, WORD_END],
            ids: HashMap::new(),
            max_word_len: 0,
            table: Vec::new(),
        };
        for (i, &c) in spelling.chars.iter().enumerate() {
            spelling.ids.insert(c, i as u32);
        }
        let mut longest = 0;
        for (k, word) in words.iter().enumerate() {
            let body = Self::body(word).map_err(|e| format!("word {k} {word:?}: {e}"))?;
            longest = longest.max(body.chars().count());
            for c in body.chars() {
                if !spelling.ids.contains_key(&c) {
                    spelling.ids.insert(c, spelling.chars.len() as u32);
                    spelling.chars.push(c);
                }
            }
        }
        spelling.max_word_len = (longest + 2).min(cap);
        let mut table = Vec::with_capacity(words.len() * spelling.max_word_len);
        for word in words {
            table.extend(spelling.spell(word)?);
        }
        spelling.table = table;
        Ok(spelling)
    }

    /// The characters a word is spelled with, without markers: `<unk>` and `<eos>` as their
    /// single characters.
    fn body(word: &str) -> Result<&str, String> {
        let body = match word {
            "<unk>" => "|",
            "<eos>" => "+",
            w => w,
        };
        if body.is_empty() {
            return Err("empty word".into());
        }
        if let Some(c) = body.chars().find(|c| c.is_whitespace()) {
            return Err(format!("contains the whitespace character {c:?}"));
        }
        if body.contains([WORD_START, WORD_END]) {
            return Err(format!(
                "contains {WORD_START:?} or {WORD_END:?}, reserved as word markers"
            ));
        }
        Ok(body)
    }

    /// `word` spelled as character ids: start marker, its characters (cut to
    /// `max_word_len − 2`), end marker, padding to `max_word_len`.
    ///
    /// # Errors
    ///
    /// When a character of `word` is not in the character vocabulary (naming it), or the word
    /// is empty or contains whitespace.
    pub fn spell(&self, word: &str) -> Result<Vec<i64>, String> {
        let body = Self::body(word).map_err(|e| format!("{word:?}: {e}"))?;
        let mut ids = Vec::with_capacity(self.max_word_len);
        ids.push(self.ids[&WORD_START] as i64);
        for c in body.chars().take(self.max_word_len - 2) {
            let id = self.ids.get(&c).ok_or_else(|| {
                format!("{word:?}: the character {c:?} is not in the character vocabulary")
            })?;
            ids.push(*id as i64);
        }
        ids.push(self.ids[&WORD_END] as i64);
        ids.resize(self.max_word_len, PAD as i64);
        Ok(ids)
    }

    /// Number of characters, padding and markers included.
    pub fn num_chars(&self) -> usize {
        self.chars.len()
    }

    /// Length of every spelled word (markers and padding included).
    pub fn max_word_len(&self) -> usize {
        self.max_word_len
    }

    /// Number of words spelled.
    pub fn num_words(&self) -> usize {
        self.table.len() / self.max_word_len.max(1)
    }

    /// The character with id `id` (`'\0'` for padding).
    pub fn char(&self, id: u32) -> Option<char> {
        self.chars.get(id as usize).copied()
    }

    /// Every word of the vocabulary spelled, `[words, max_word_len]` row-major.
    pub fn table(&self) -> &[i64] {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn words_are_spelled_between_markers_and_padded() {
        let s = WordSpelling::new(&words(&["cat", "<unk>", "at", "<eos>"]), MAX_WORD_LEN).unwrap();
        // pad, {, }, c, a, t, |, +
        assert_eq!(s.num_chars(), 8);
        assert_eq!(s.max_word_len(), 5);
        assert_eq!(s.num_words(), 4);
        assert_eq!(
            s.table(),
            &[1, 3, 4, 5, 2, 1, 6, 2, 0, 0, 1, 4, 5, 2, 0, 1, 7, 2, 0, 0]
        );
        assert_eq!(s.char(6), Some(UNK_CHAR));
        assert_eq!(s.char(7), Some(EOS_CHAR));
        // A new word of known characters, as the out-of-vocabulary queries of Table 6.
        assert_eq!(s.spell("tact").unwrap(), vec![1, 5, 4, 3, 2]);
    }

    #[test]
    fn long_words_are_cut_and_the_cap_holds() {
        let s = WordSpelling::new(&words(&["abcdefgh", "a"]), 6).unwrap();
        assert_eq!(s.max_word_len(), 6);
        // { a b c d }: the body is cut to 4 characters.
        assert_eq!(s.spell("abcdefgh").unwrap(), vec![1, 3, 4, 5, 6, 2]);
        assert_eq!(s.spell("a").unwrap(), vec![1, 3, 2, 0, 0, 0]);
    }

    #[test]
    fn bad_words_and_unknown_characters_are_errors_naming_them() {
        let s = WordSpelling::new(&words(&["ab"]), MAX_WORD_LEN).unwrap();
        let e = s.spell("zb").unwrap_err();
        assert!(e.contains("'z'") && e.contains("zb"), "{e}");
        assert!(s.spell("").unwrap_err().contains("empty"));
        assert!(s.spell("a b").unwrap_err().contains("whitespace"));
        let e = WordSpelling::new(&words(&["ok", ""]), MAX_WORD_LEN).unwrap_err();
        assert!(e.contains("word 1"), "{e}");
        assert!(WordSpelling::new(&words(&["a{b"]), MAX_WORD_LEN).is_err());
        assert!(WordSpelling::new(&[], MAX_WORD_LEN).is_err());
        assert!(WordSpelling::new(&words(&["a"]), 2).is_err());
    }
}
