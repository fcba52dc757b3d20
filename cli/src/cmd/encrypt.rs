//! `picrypt encrypt`: an image into a ciphertext container (or, with a legacy key, into
//! the scrambled PNG or `.npy` imageshuffle writes).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use picrypt_core::{image_io, npy};

use crate::args::LegacyArgs;
use crate::files::{self, Kind};
use crate::flow;
use crate::output::warn_if_insecure;
use crate::streamed;

/// Examples for `picrypt encrypt --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt encrypt --key k.key before.png -o before.picrypt
  picrypt encrypt --key k.key.pub photo.jpg -o photo.picrypt      # bfv: a device needs only KEY.pub";

/// Arguments of `picrypt encrypt`.
#[derive(clap::Args)]
pub struct Args {
    /// The key file: a mask or bfv secret key, or a bfv public key (KEY.pub).
    #[arg(long)]
    key: PathBuf,
    /// The image to encrypt: PNG, JPEG, BMP, TIFF or WebP, 8 bits per channel.
    #[arg(value_name = "IMAGE")]
    image: PathBuf,
    /// The ciphertext to write (conventionally *.picrypt). With a shuffle key, OUT.png or
    /// OUT.npy writes the scrambled image exactly as imageshuffle does.
    #[arg(short, long)]
    out: PathBuf,
    #[command(flatten)]
    legacy: LegacyArgs,
}

/// Encrypts the image and writes the container.
pub fn run(args: &Args) -> Result<()> {
    let key = files::read_key(&args.key)?;
    let ext = files::extension(&args.out);
    let scrambled_file = key.scheme().warning().is_some() && (ext == "png" || ext == "npy");
    let kind = if scrambled_file {
        Kind::PngOrNpy
    } else {
        Kind::Container
    };
    files::check_outputs(&[(&args.out, kind)], &[&args.key, &args.image])?;
    if scrambled_file {
        // File-level interop: exactly the scrambled image imageshuffle returns. The same
        // opt-in as a container: the scramble is the ciphertext.
        flow::check_legacy(&key, args.legacy)?;
        let image = files::read_image(&args.image)?;
        let scrambled = key.scramble_insecure_legacy(&image)?;
        let bytes = match ext.as_str() {
            "png" => image_io::encode_png(&scrambled)?,
            _ => npy::encode_u8(&scrambled),
        };
        files::write_atomic(&args.out, &bytes)?;
        println!(
            "scrambled {} → {} (imageshuffle-compatible {ext})",
            args.image.display(),
            args.out.display()
        );
        warn_if_insecure(key.scheme());
        return Ok(());
    }
    flow::check_legacy(&key, args.legacy)?;
    let image = files::read_image(&args.image)?;
    let start = Instant::now();
    // Encrypted straight into the file where the scheme allows it: the image is held
    // once, the ciphertext a chunk at a time.
    let (shape, len) = if key.encrypts_in_chunks() {
        let (header, len) = streamed::encrypt_to_file(&key, &image, &args.out)?;
        (header.shape(), len)
    } else {
        let ct = flow::encrypt(&key, &image, args.legacy)?;
        let bytes = ct.to_bytes();
        files::write_atomic(&args.out, &bytes)?;
        (ct.header().shape(), bytes.len() as u64)
    };
    println!(
        "encrypted {} ({shape}) → {} ({len} bytes) in {:.0?}",
        args.image.display(),
        args.out.display(),
        start.elapsed()
    );
    warn_if_insecure(key.scheme());
    Ok(())
}
