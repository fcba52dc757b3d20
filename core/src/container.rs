//! Parsing containers: the generic rules of [`crate::format`], then the rules of the
//! container's scheme, then the payload's length and the scheme's payload rules.

use crate::error::{Error, Result};
use crate::format::{Container, ContainerRef, Header};
use crate::scheme;

impl Header {
    /// Parses and validates a header from the start of `bytes`, which must hold at least
    /// the header (the payload may follow, or not, for streaming). Returns the header and
    /// its encoded length; the payload length it declares is [`Header::payload_len`].
    /// Every length is checked against the limits before anything is allocated.
    pub fn parse(bytes: &[u8]) -> Result<(Header, usize)> {
        let (header, header_len) = Header::parse_generic(bytes)?;
        let scheme = scheme::known(header.scheme)?;
        scheme.validate_header(&header)?;
        let expected = scheme
            .payload_len(&header)
            .ok_or_else(|| Error::format("image too large for this scheme"))?;
        if header.payload_len != expected {
            return Err(Error::format(format!(
                "payload_len {} but a {} {} image at {} bits needs {expected}",
                header.payload_len, header.scheme, header.shape, header.modulus_bits
            )));
        }
        Ok((header, header_len))
    }

    /// Checks that a container of `total` bytes, whose header took `header_len` of them,
    /// holds exactly the payload this header declares: nothing missing, nothing after it.
    /// (A reader that streams a container checks its length with this before reading on.)
    pub fn check_container_len(&self, header_len: usize, total: u64) -> Result<()> {
        let present = total.saturating_sub(header_len as u64);
        if present != self.payload_len {
            return Err(Error::format(format!(
                "payload is {present} bytes but the header declares {}{}",
                self.payload_len,
                if present < self.payload_len {
                    " (truncated)"
                } else {
                    " (trailing bytes)"
                }
            )));
        }
        Ok(())
    }
}

impl<'a> ContainerRef<'a> {
    /// Parses a complete container without copying its payload. Nothing may follow the
    /// payload.
    pub fn parse(bytes: &'a [u8]) -> Result<ContainerRef<'a>> {
        let (header, header_len) = Header::parse(bytes)?;
        header.check_container_len(header_len, bytes.len() as u64)?;
        let payload = &bytes[header_len..];
        scheme::known(header.scheme)?.validate_payload_end(
            &header,
            payload,
            header.shape.samples(),
        )?;
        Ok(ContainerRef { header, payload })
    }
}

impl Container {
    /// Parses a complete container. Nothing may follow the payload.
    pub fn parse(bytes: &[u8]) -> Result<Container> {
        Ok(ContainerRef::parse(bytes)?.to_owned())
    }
}
