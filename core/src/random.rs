//! The operating system's CSPRNG: `getrandom` (its JavaScript backend in a browser).

use crate::error::{Error, Result};

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| Error::Random(e.to_string()))
}
