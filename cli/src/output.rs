//! What the CLI prints and writes for people: logs, the one-line error, step timings, the
//! insecure-scheme warning, and decrypted results as PNG or `.npy`.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use picrypt_core::render::{self, RenderMode};
use picrypt_core::{image_io, npy, Plaintext, Scheme};

use crate::args::RenderArgs;
use crate::files;

/// Logs go to stderr: warnings by default, more with `-v`, or `PICRYPT_LOG` as a filter.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PICRYPT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// The one line every failure ends with: `picrypt: error: …`, the causes joined by `: `.
pub fn error(e: &anyhow::Error) {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    eprintln!("picrypt: error: {}", chain.join(": ").replace('\n', " "));
}

/// The warning of an insecure scheme, once per command that touches it.
pub fn warn_if_insecure(scheme: Scheme) {
    if let Some(warning) = scheme.warning() {
        eprintln!("picrypt: warning: {warning}");
    }
}

/// One line of a flow: the step's name, its time, and what it did.
pub fn step(name: &str, since: Instant, detail: &str) {
    println!("  {name:<9} {:>8.1?}  {detail}", since.elapsed());
}

/// Writes a decrypted result: `.npy` raw values, or PNG (the image, or a render).
pub fn write_plaintext(pt: &Plaintext, out: &Path, args: &RenderArgs) -> Result<()> {
    let (bytes, what) = match files::extension(out).as_str() {
        "npy" if pt.is_image() => (npy::encode_u8(&pt.to_image()?), "uint8 array".to_string()),
        "npy" => (
            npy::encode_i16(&pt.shape(), pt.values()),
            "int16 difference array".to_string(),
        ),
        "png" if pt.is_image() => (image_io::encode_png(&pt.to_image()?)?, "image".to_string()),
        "png" => {
            let mode = RenderMode::from(args.render);
            let img = render::render(pt, mode, args.threshold);
            (
                image_io::encode_png(&img)?,
                format!("{} render", mode.name()),
            )
        }
        _ => bail!(
            "cannot tell what to write to {}: name it *.png or *.npy",
            out.display()
        ),
    };
    files::write_atomic(out, &bytes)?;
    println!(
        "decrypted and wrote {what} {} ({})",
        out.display(),
        pt.shape()
    );
    Ok(())
}
