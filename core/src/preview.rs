//! What the server sees of a ciphertext, as a picture: noise, for every secure scheme.

use crate::error::Result;
use crate::format::Container;
use crate::image::Image;
use crate::scheme;

/// What the server sees, as an image without alpha (an alpha channel of noise would hide
/// the picture): the top 8 bits of each stored sample, or for bfv, whose payload is
/// polynomial coefficients rather than samples, its first bytes.
pub fn ciphertext(c: &Container) -> Result<Image> {
    let shape = c.header().shape();
    let samples = scheme::known(c.header().scheme())?.preview(c);
    let channels = shape.channels() as usize;
    let kept = if channels % 2 == 0 {
        channels - 1
    } else {
        channels
    };
    let data = samples
        .chunks_exact(channels)
        .flat_map(|px| px[..kept].iter().copied())
        .collect();
    Image::new(shape.width(), shape.height(), kept as u8, data)
}
