//! Whole units (a scheme's blocks) out of a stream handed over in arbitrary pieces, for
//! the schemes' chunked encryption and decryption (`crate::stream`).

use zeroize::Zeroize;

use crate::error::Result;

/// Cuts a stream handed over in arbitrary pieces into runs of whole units (the scheme's
/// blocks), keeping what is left of a unit for the next piece. What it keeps is wiped.
pub(crate) struct Units {
    unit: usize,
    pending: Vec<u8>,
}

impl Units {
    pub(crate) fn new(unit: usize) -> Units {
        Units {
            unit,
            pending: Vec::new(),
        }
    }

    /// Bytes waiting for the rest of their unit.
    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Hands `input` to `run` as runs of whole units, in order: first the unit the last
    /// call left open, completed from `input`, then the whole units of `input` where they
    /// lie (no copy), keeping the rest.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        mut run: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if !self.pending.is_empty() {
            let take = (self.unit - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < self.unit {
                return Ok(());
            }
            let done = run(&self.pending);
            self.pending.zeroize();
            self.pending.clear();
            done?;
        }
        let whole = input.len() / self.unit * self.unit;
        if whole > 0 {
            run(&input[..whole])?;
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(self.unit);
        }
        self.pending.extend_from_slice(&input[whole..]);
        Ok(())
    }

    /// What is left at the end of the stream (less than a unit), wiped when dropped.
    pub(crate) fn take_rest(&mut self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(std::mem::take(&mut self.pending))
    }
}

impl Drop for Units {
    fn drop(&mut self) {
        self.pending.zeroize();
    }
}
