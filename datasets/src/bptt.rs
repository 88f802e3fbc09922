//! Batching a token stream for truncated backpropagation through time (shared by the word-
//! and character-level corpora).
//!
//! As in Zaremba et al.'s `ptb_iterator` (also used by the RHN code): the stream is cut into
//! `batch` contiguous rows of `cols = len / batch` tokens (the remainder is dropped); window
//! `k` holds columns `k·seq_len .. (k+1)·seq_len` as inputs and the same columns shifted by
//! one as targets. There are `(cols - 1) / seq_len` full windows; a shorter last window is
//! dropped so every batch has the same shape. Row `r` of window `k + 1` continues row `r` of
//! window `k`, so the caller carries the recurrent state from one window to the next.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{DataError, Result};

/// A token stream laid out in `batch` contiguous rows, ready to be cut into windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bptt {
    data: Vec<u32>,
    batch: usize,
    cols: usize,
    seq_len: usize,
}

/// One window: inputs and targets, each `[batch, seq_len]` row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpttWindow {
    /// Token ids, `batch × seq_len`, row-major.
    pub inputs: Vec<i64>,
    /// Next token of each input, same layout.
    pub targets: Vec<i64>,
    /// Rows.
    pub batch: usize,
    /// Columns (time steps).
    pub seq_len: usize,
}

impl BpttWindow {
    /// `(inputs, targets)` as `[batch, seq_len]` integer tensors on `device`.
    pub fn to_tensors(&self, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
        let shape = [self.batch, self.seq_len];
        (
            Tensor::from_data(TensorData::new(self.inputs.clone(), shape), device),
            Tensor::from_data(TensorData::new(self.targets.clone(), shape), device),
        )
    }
}

impl Bptt {
    /// Lays out `tokens` in `batch` rows for windows of `seq_len` steps. Errors when either is
    /// zero or the stream is too short for one window.
    pub fn new(tokens: &[u32], batch: usize, seq_len: usize) -> Result<Self> {
        if batch == 0 || seq_len == 0 {
            return Err(DataError::InvalidArgument(format!(
                "BPTT batch ({batch}) and seq_len ({seq_len}) must be positive"
            )));
        }
        let cols = tokens.len() / batch;
        if cols < seq_len + 1 {
            return Err(DataError::InvalidArgument(format!(
                "{} tokens are too few for one window of {batch} rows x {seq_len} steps (need {})",
                tokens.len(),
                batch * (seq_len + 1)
            )));
        }
        Ok(Self {
            data: tokens[..batch * cols].to_vec(),
            batch,
            cols,
            seq_len,
        })
    }

    /// Rows per window.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Time steps per window.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Tokens per row (`len / batch`).
    pub fn row_len(&self) -> usize {
        self.cols
    }

    /// Row `r` of the layout (a contiguous stretch of the stream).
    pub fn row(&self, r: usize) -> &[u32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Number of windows per epoch: `(row_len - 1) / seq_len`.
    pub fn num_windows(&self) -> usize {
        (self.cols - 1) / self.seq_len
    }

    /// Window `k` (`None` past the last).
    pub fn window(&self, k: usize) -> Option<BpttWindow> {
        if k >= self.num_windows() {
            return None;
        }
        let n = self.batch * self.seq_len;
        let (mut inputs, mut targets) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let start = k * self.seq_len;
        for r in 0..self.batch {
            let row = &self.row(r)[start..start + self.seq_len + 1];
            inputs.extend(row[..self.seq_len].iter().map(|&t| t as i64));
            targets.extend(row[1..].iter().map(|&t| t as i64));
        }
        Some(BpttWindow {
            inputs,
            targets,
            batch: self.batch,
            seq_len: self.seq_len,
        })
    }

    /// The windows of one epoch, in order.
    pub fn iter(&self) -> impl Iterator<Item = BpttWindow> + '_ {
        (0..self.num_windows()).filter_map(|k| self.window(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_contiguous_and_targets_shifted() {
        let tokens: Vec<u32> = (0..103).collect();
        let b = Bptt::new(&tokens, 4, 5).unwrap();
        assert_eq!(b.row_len(), 25);
        assert_eq!(b.row(1), &tokens[25..50]);
        assert_eq!(b.num_windows(), 4); // (25 - 1) / 5
        let w = b.window(1).unwrap();
        assert_eq!(&w.inputs[..5], &[5, 6, 7, 8, 9]);
        assert_eq!(&w.targets[..5], &[6, 7, 8, 9, 10]);
        assert_eq!(&w.inputs[5..10], &[30, 31, 32, 33, 34]);
        assert!(b.window(4).is_none());
        // Consecutive windows continue each row.
        let all: Vec<BpttWindow> = b.iter().collect();
        for r in 0..4 {
            let row: Vec<i64> = all
                .iter()
                .flat_map(|w| w.inputs[r * 5..(r + 1) * 5].to_vec())
                .collect();
            assert_eq!(row, (r as i64 * 25..r as i64 * 25 + 20).collect::<Vec<_>>());
        }
        let (x, y) = w.to_tensors(&Device::flex());
        assert_eq!(x.dims(), [4, 5]);
        let y = y.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
        assert_eq!(y, w.targets);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let tokens: Vec<u32> = (0..10).collect();
        assert!(Bptt::new(&tokens, 0, 3).is_err());
        assert!(Bptt::new(&tokens, 2, 0).is_err());
        let msg = Bptt::new(&tokens, 2, 5).unwrap_err().to_string();
        assert!(msg.contains("too few"), "{msg}");
        assert_eq!(Bptt::new(&tokens, 2, 4).unwrap().num_windows(), 1);
    }
}
