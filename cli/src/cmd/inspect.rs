//! `picrypt inspect`: a container's header, no key needed.

use std::path::PathBuf;

use anyhow::Result;
use picrypt_core::format::VERSION;
use picrypt_core::hex;
use picrypt_core::scheme::Integrity;
use picrypt_core::ValueRange;

use crate::files;
use crate::output::warn_if_insecure;

/// Examples for `picrypt inspect --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt inspect diff.picrypt
  picrypt inspect diff.picrypt --json";

/// Arguments of `picrypt inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The container to describe.
    #[arg(value_name = "CIPHERTEXT")]
    ciphertext: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Prints the header.
pub fn run(args: &Args) -> Result<()> {
    let path = &args.ciphertext;
    let ct = files::read_container(path)?;
    let h = ct.header();
    let terms: Vec<String> = h
        .terms()
        .iter()
        .map(|t| format!("{}{}", t.sign().symbol(), hex::encode(t.nonce())))
        .collect();
    let kind = if h.terms().len() <= 1 && h.range() == ValueRange::of_samples(8) {
        "fresh encryption"
    } else {
        "result of an operation"
    };
    let shape = h.shape();
    if args.json {
        let v = serde_json::json!({
            "scheme": h.scheme().name(),
            "version": VERSION,
            "width": shape.width(),
            "height": shape.height(),
            "channels": shape.channels(),
            "sample_bits": h.sample_bits(),
            "modulus_bits": h.modulus_bits(),
            "range": [h.range().min(), h.range().max()],
            "key_id": h.key_id().hex(),
            "tag": h.tag().map(|t| format!("{t:016x}")),
            "terms": terms,
            "header_bytes": h.encoded_len(),
            "payload_bytes": ct.payload().len(),
            "total_bytes": ct.encoded_len(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        warn_if_insecure(h.scheme());
        return Ok(());
    }
    println!("{}: PICRYPT container v{VERSION}", path.display());
    println!("  scheme        {} ({kind})", h.scheme());
    println!("  image         {shape} (width × height × channels)");
    println!(
        "  samples       {}-bit, stored mod 2^{}",
        h.sample_bits(),
        h.modulus_bits()
    );
    println!("  value range   {}", h.range());
    println!("  key id        {}", h.key_id());
    match (h.tag(), h.scheme().integrity()) {
        (Some(t), _) => println!("  integrity tag {t:016x} (verified on decrypt)"),
        (None, Integrity::Recompute) => println!(
            "  integrity tag none: public-key ciphertexts carry no MAC (anyone with the public key can encrypt)"
        ),
        (None, _) => println!("  integrity tag none: this scheme cannot detect tampering"),
    }
    for (i, t) in terms.iter().enumerate() {
        println!("  term {i:<8} {t}");
    }
    println!(
        "  size          {} bytes ({} header + {} payload)",
        ct.encoded_len(),
        h.encoded_len(),
        ct.payload().len()
    );
    warn_if_insecure(h.scheme());
    Ok(())
}
