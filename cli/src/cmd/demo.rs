//! `picrypt demo`: the whole flow on a generated pair, in this process.

use std::path::PathBuf;

use anyhow::{Context, Result};
use picrypt_core::render::{self, RenderMode};
use picrypt_core::{demo, image_io, npy, preview, Container, Image, Key, Op, Scheme};

use crate::args::{LegacyArgs, RemoteArgs};
use crate::files::{self, Kind};
use crate::flow;

/// Examples for `picrypt demo --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt demo                                                       # writes picrypt-demo/
  picrypt demo --out /tmp/demo";

/// Arguments of `picrypt demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo's images and ciphertexts.
    #[arg(long, default_value = "picrypt-demo")]
    out: PathBuf,
}

/// Makes the pair, runs the flow, writes every intermediate file.
pub fn run(args: &Args) -> Result<()> {
    let dir = &args.out;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let names = [
        ("before.png", Kind::Png),
        ("after.png", Kind::Png),
        ("before.encrypted.png", Kind::Png),
        ("after.encrypted.png", Kind::Png),
        ("before.picrypt", Kind::Container),
        ("after.picrypt", Kind::Container),
        ("diff.picrypt", Kind::Container),
        ("diff.png", Kind::Png),
        ("diff.heatmap.png", Kind::Png),
        ("diff.overlay.png", Kind::Png),
        ("diff.npy", Kind::Npy),
    ];
    let paths: Vec<(PathBuf, Kind)> = names.iter().map(|&(n, k)| (dir.join(n), k)).collect();
    let outputs: Vec<(&std::path::Path, Kind)> =
        paths.iter().map(|(p, k)| (p.as_path(), *k)).collect();
    files::check_outputs(&outputs, &[])?;
    println!(
        "PICRYPT demo: a {}×{} scene before and after an object moved; the subtraction runs on ciphertexts only.",
        demo::WIDTH,
        demo::HEIGHT
    );
    let (before, after) = demo::pair(demo::WIDTH, demo::HEIGHT);
    let key = Key::generate(Scheme::MASK)?;
    let flow = flow::run(
        &key,
        Op::Sub,
        &before,
        &after,
        &RemoteArgs::default(),
        LegacyArgs::default(),
    )?;
    let png = |img: &Image| image_io::encode_png(img);
    let render = |mode| {
        render::render(
            &flow.plaintext,
            mode,
            render::DEFAULT_THRESHOLD,
            Some(&after),
        )
    };
    let pt = &flow.plaintext;
    let outputs: Vec<(&str, Vec<u8>, &str)> = vec![
        ("before.png", png(&before)?, "the first image"),
        ("after.png", png(&after)?, "the second image"),
        (
            "before.encrypted.png",
            png(&preview::ciphertext(&Container::parse(&flow.ct_before)?)?)?,
            "what the server sees of it: noise",
        ),
        (
            "after.encrypted.png",
            png(&preview::ciphertext(&Container::parse(&flow.ct_after)?)?)?,
            "what the server sees of it: noise",
        ),
        (
            "before.picrypt",
            flow.ct_before.to_vec(),
            "ciphertext sent to the server",
        ),
        (
            "after.picrypt",
            flow.ct_after.to_vec(),
            "ciphertext sent to the server",
        ),
        (
            "diff.picrypt",
            flow.result.to_bytes(),
            "encrypted difference the server returns",
        ),
        (
            "diff.png",
            png(&render(RenderMode::Abs)?)?,
            "decrypted |before − after|: the object at both places",
        ),
        (
            "diff.heatmap.png",
            png(&render(RenderMode::Heatmap)?)?,
            "change magnitude, with its colour scale",
        ),
        (
            "diff.overlay.png",
            png(&render(RenderMode::Overlay)?)?,
            "the changes drawn over the after image",
        ),
        (
            "diff.npy",
            npy::encode_i16(&pt.shape(), pt.values()),
            "exact int16 difference for NumPy",
        ),
    ];
    for (name, bytes, what) in &outputs {
        let path = dir.join(name);
        files::write_atomic(&path, bytes)?;
        println!("  wrote {:<40} {what}", path.display());
    }
    println!(
        "{}",
        render::stats(&flow.plaintext, render::DEFAULT_THRESHOLD).summary()
    );
    Ok(())
}
