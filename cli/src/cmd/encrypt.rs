//! `picrypt encrypt`: an image into a ciphertext container (or, with a legacy key, into
//! the scrambled PNG or `.npy` imageshuffle writes).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use picrypt_core::{image_io, npy};

use crate::args::LegacyArgs;
use crate::files;
use crate::flow;
use crate::output::warn_if_insecure;

/// Arguments of `picrypt encrypt`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    key: PathBuf,
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
    if key.scheme().warning().is_some() && (ext == "png" || ext == "npy") {
        // File-level interop: exactly the scrambled image imageshuffle returns. The same
        // opt-in as a container: the scramble is the ciphertext.
        flow::check_legacy(&key, args.legacy)?;
        let image = files::read_image(&args.image)?;
        warn_if_insecure(key.scheme());
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
        return Ok(());
    }
    files::check_container_name(&args.out)?;
    let image = files::read_image(&args.image)?;
    let start = Instant::now();
    let ct = flow::encrypt(&key, &image, args.legacy)?;
    warn_if_insecure(key.scheme());
    let bytes = ct.to_bytes();
    files::write_atomic(&args.out, &bytes)?;
    println!(
        "encrypted {} ({}) → {} ({} bytes) in {:.0?}",
        args.image.display(),
        ct.header().shape(),
        args.out.display(),
        bytes.len(),
        start.elapsed()
    );
    Ok(())
}
