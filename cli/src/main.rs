//! `picrypt`: encrypt two images, have their difference computed without revealing them,
//! decrypt and render it. Argument parsing, files and printing only; the work is in
//! `picrypt-core`.

mod files;
mod remote;
mod s3;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use clap::{Parser, Subcommand, ValueEnum};
use picrypt_core::format::FILE_EXTENSION;
use picrypt_core::keyfile::Key;
use picrypt_core::ops::{self, Op};
use picrypt_core::render::{self, RenderMode};
use picrypt_core::scheme::shuffle;
use picrypt_core::{demo, image_io, scheme, verify, Container, Image, Plaintext, Scheme};

#[derive(Parser)]
#[command(
    name = "picrypt",
    version,
    about = "Compute the difference of two images on a server that never sees them",
    after_help = "Start with `picrypt demo`. Docs: README.md, docs/FORMAT.md, docs/SECURITY.md."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new secret key (file mode 0600; key bytes are never printed).
    Keygen {
        #[arg(long, value_enum, default_value_t = SchemeArg::Mask)]
        scheme: SchemeArg,
        /// Where to write the key.
        #[arg(short, long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        /// shuffle only: the 32-bit integer key an imageshuffle deployment used.
        #[arg(long, value_name = "N")]
        legacy_key: Option<u32>,
        /// shuffle only: scramble blocks of HxW pixels (imageshuffle's RandBlock).
        #[arg(long, value_name = "HxW", value_parser = parse_block)]
        block: Option<(u32, u32)>,
    },
    /// Encrypt an image (PNG, JPEG, BMP, TIFF, WebP) into a ciphertext container.
    Encrypt {
        #[arg(long)]
        key: PathBuf,
        image: PathBuf,
        /// The ciphertext to write (conventionally *.picrypt). With a shuffle key, OUT.png or
        /// OUT.npy writes the scrambled image exactly as imageshuffle does.
        #[arg(short, long)]
        out: PathBuf,
        #[command(flatten)]
        legacy: LegacyArgs,
    },
    /// Decrypt and verify a ciphertext; write an image, a render of a difference, or .npy.
    Decrypt {
        #[arg(long)]
        key: PathBuf,
        /// A container, or with a shuffle key also a scrambled PNG/.npy from imageshuffle.
        ciphertext: PathBuf,
        /// OUT.png (the image, or a render of a difference) or OUT.npy (the raw values).
        #[arg(short, long)]
        out: PathBuf,
        /// The two ciphertexts the result must have been computed from (A − B): it is
        /// checked against them before anything is decrypted. Required for bfv results.
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        expect: Option<Vec<PathBuf>>,
        /// bfv only: decrypt a ciphertext that cannot be tied to checked inputs. Only for
        /// ciphertexts you made yourself or got over a channel no one else can write to: a
        /// crafted bfv ciphertext makes its decryption reveal your secret key.
        #[arg(long)]
        insecure_trust_bfv_input: bool,
        #[command(flatten)]
        render: RenderArgs,
    },
    /// Subtract two ciphertexts (A − B) without any key.
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// The result ciphertext to write.
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = OpArg::Sub)]
        op: OpArg,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The whole flow: encrypt both images, subtract, decrypt, verify, render, report.
    Run(RunArgs),
    /// Serve the function over plain HTTP (POST /diff, GET /health, GET /openapi.json).
    Serve {
        /// Address to listen on (port 0 picks a free port and prints it).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// The only S3 bucket the function may use (default: PICRYPT_BUCKET).
        #[arg(long)]
        bucket: Option<String>,
        /// Key prefix inputs and outputs must lie under (default: PICRYPT_PREFIX).
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Show a ciphertext's header (no key needed).
    Inspect {
        ciphertext: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run the whole flow on a generated before/after pair; no files or account needed.
    Demo {
        /// Directory for the demo's images and ciphertexts.
        #[arg(long, default_value = "picrypt-demo")]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    before: PathBuf,
    after: PathBuf,
    /// The render to write (PNG).
    #[arg(short, long)]
    out: PathBuf,
    /// Use this key instead of a fresh one.
    #[arg(long)]
    key: Option<PathBuf>,
    /// What the server computes: sub (A − B), or sub_sat (max(A − B, 0); shuffle keys).
    #[arg(long, value_enum, default_value_t = OpArg::Sub)]
    op: OpArg,
    /// Also write the exact difference as int16 .npy.
    #[arg(long)]
    npy: Option<PathBuf>,
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    legacy: LegacyArgs,
}

#[derive(clap::Args)]
struct LegacyArgs {
    /// Allow encrypting with a legacy shuffle key, whose ciphertexts the server can break
    /// (docs/SECURITY.md); refused without it.
    #[arg(long)]
    insecure_shuffle: bool,
}

#[derive(clap::Args)]
struct RemoteArgs {
    /// Subtract on the function at this base URL (the CLI posts to URL/diff), e.g.
    /// http://127.0.0.1:9000/lambda-url/picrypt-function under cargo lambda watch.
    #[arg(long)]
    url: Option<String>,
    /// Upload the ciphertexts to this S3 bucket and pass their keys (for large images).
    #[arg(long, requires = "url")]
    s3_bucket: Option<String>,
    /// Key prefix for uploads; must lie under the function's PICRYPT_PREFIX.
    #[arg(long, default_value = "picrypt/")]
    s3_prefix: String,
    /// Sign requests with AWS SigV4 (automatic for Function URLs when credentials exist).
    #[arg(long, requires = "url")]
    sigv4: bool,
    /// Seconds to wait for the function's answer.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

impl RemoteArgs {
    fn local() -> RemoteArgs {
        RemoteArgs {
            url: None,
            s3_bucket: None,
            s3_prefix: String::new(),
            sigv4: false,
            timeout: 0,
        }
    }
}

#[derive(clap::Args)]
struct RenderArgs {
    /// How to draw a difference.
    #[arg(long, value_enum, default_value_t = RenderArg::Abs)]
    render: RenderArg,
    /// Differences of at most this much count as unchanged (mask render and statistics).
    #[arg(long, default_value_t = render::DEFAULT_THRESHOLD)]
    threshold: u16,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SchemeArg {
    /// Additive XChaCha20 masking with a homomorphic MAC (default).
    Mask,
    /// Public-key lattice encryption (BFV): writes KEY (secret) and KEY.pub (encrypt only).
    Bfv,
    /// Legacy imageshuffle permutation: compatibility only, NOT secure.
    Shuffle,
}

#[derive(Clone, Copy, ValueEnum)]
enum OpArg {
    /// A − B, signed and exact.
    Sub,
    /// max(A − B, 0) per sample, as OpenCV's cv2.subtract (shuffle scheme only).
    #[value(name = "sub_sat")]
    SubSat,
}

impl From<OpArg> for Op {
    fn from(o: OpArg) -> Op {
        match o {
            OpArg::Sub => Op::Sub,
            OpArg::SubSat => Op::SubSat,
        }
    }
}

fn parse_block(text: &str) -> Result<(u32, u32), String> {
    let (h, w) = text
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("{text:?} is not HxW, e.g. 8x8"))?;
    let side = |s: &str| match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not HxW with positive sides, e.g. 8x8")),
    };
    Ok((side(h)?, side(w)?))
}

/// The shuffle scheme's warning, once per command that touches it.
fn warn_shuffle() {
    eprintln!("picrypt: warning: {}", shuffle::WARNING);
}

#[derive(Clone, Copy, ValueEnum)]
enum RenderArg {
    /// |A − B|: a moved object shows at both places.
    Abs,
    /// 128 + (A − B)/2: grey where nothing changed.
    Signed,
    /// max(A − B, 0), as OpenCV's cv2.subtract.
    Saturate,
    /// Largest |A − B| per pixel on the viridis colormap.
    Heatmap,
    /// White where a pixel changed by more than --threshold.
    Mask,
}

impl From<RenderArg> for RenderMode {
    fn from(r: RenderArg) -> RenderMode {
        match r {
            RenderArg::Abs => RenderMode::Abs,
            RenderArg::Signed => RenderMode::Signed,
            RenderArg::Saturate => RenderMode::Saturate,
            RenderArg::Heatmap => RenderMode::Heatmap,
            RenderArg::Mask => RenderMode::Mask,
        }
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("picrypt: internal error: {info} (please report this)");
    }));
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("picrypt: error: {}", chain.join(": ").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
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

fn run(command: Command) -> Result<()> {
    match command {
        Command::Keygen {
            scheme,
            out,
            force,
            legacy_key,
            block,
        } => keygen(scheme, &out, force, legacy_key, block),
        Command::Encrypt {
            key,
            image,
            out,
            legacy,
        } => encrypt(&key, &image, &out, &legacy),
        Command::Decrypt {
            key,
            ciphertext,
            out,
            expect,
            insecure_trust_bfv_input,
            render,
        } => decrypt(
            &key,
            &ciphertext,
            &out,
            expect.as_deref(),
            insecure_trust_bfv_input,
            &render,
        ),
        Command::Diff {
            a,
            b,
            out,
            op,
            remote,
        } => diff(&a, &b, &out, op.into(), &remote),
        Command::Run(args) => run_flow(&args),
        Command::Serve {
            addr,
            bucket,
            prefix,
        } => serve(addr, bucket, prefix),
        Command::Inspect { ciphertext, json } => inspect(&ciphertext, json),
        Command::Demo { out } => run_demo(&out),
    }
}

fn keygen(
    scheme: SchemeArg,
    out: &Path,
    force: bool,
    legacy_key: Option<u32>,
    block: Option<(u32, u32)>,
) -> Result<()> {
    let key = match scheme {
        SchemeArg::Mask => {
            if legacy_key.is_some() || block.is_some() {
                bail!("--legacy-key and --block belong to --scheme shuffle");
            }
            Key::generate(Scheme::Mask)?
        }
        SchemeArg::Bfv => {
            if legacy_key.is_some() || block.is_some() {
                bail!("--legacy-key and --block belong to --scheme shuffle");
            }
            Key::generate(Scheme::Bfv)?
        }
        SchemeArg::Shuffle => {
            warn_shuffle();
            let variant = match block {
                Some((height, width)) => shuffle::Variant::Block { height, width },
                None => shuffle::Variant::Rand,
            };
            Key::Shuffle(match legacy_key {
                Some(n) => shuffle::ShuffleKey::legacy(n, variant)?,
                None => shuffle::ShuffleKey::generate(variant)?,
            })
        }
    };
    // Check both names before writing either, so a refusal leaves nothing behind.
    let public_path = key.public().map(|p| (p, public_key_path(out)));
    if let Some((_, path)) = &public_path {
        if !force && path.exists() {
            bail!(
                "{} already exists; refusing to overwrite a key (pass --force to replace it)",
                path.display()
            );
        }
    }
    files::write_key(out, &key, force)?;
    println!(
        "wrote {} secret key {} (id {}, mode 0600); keep it private",
        key.scheme(),
        out.display(),
        key.id()
    );
    if let Some((public, path)) = public_path {
        files::write_key(&path, &public, force)?;
        println!(
            "wrote {} public key {} (same id): give it to the devices that encrypt; it cannot decrypt",
            public.scheme(),
            path.display()
        );
    }
    Ok(())
}

/// `KEY.pub` beside `KEY`.
fn public_key_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Refuses to write a ciphertext under a name that says "image".
fn check_container_name(out: &Path) -> Result<()> {
    let ext = files::extension(out);
    if ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "npy"].contains(&ext.as_str()) {
        bail!(
            "{} would hold a ciphertext, not an image; name it *.{FILE_EXTENSION}",
            out.display()
        );
    }
    Ok(())
}

/// Encrypts under any key, refusing a legacy shuffle key unless the user opted in.
fn encrypt_image(key: &Key, image: &Image, legacy: &LegacyArgs) -> Result<Container> {
    if key.scheme() != Scheme::Shuffle {
        return Ok(scheme::encrypt(key, image)?);
    }
    if !legacy.insecure_shuffle {
        bail!(
            "this is a legacy shuffle key, whose ciphertexts the server can break (docs/SECURITY.md); pass --insecure-shuffle to encrypt with it anyway"
        );
    }
    Ok(scheme::encrypt_insecure_legacy(key, image)?)
}

fn encrypt(key_path: &Path, image_path: &Path, out: &Path, legacy: &LegacyArgs) -> Result<()> {
    let key = files::read_key(key_path)?;
    if let Key::Shuffle(k) = &key {
        if !legacy.insecure_shuffle {
            bail!(
                "{} is a legacy shuffle key, whose ciphertexts the server can break (docs/SECURITY.md); pass --insecure-shuffle to encrypt with it anyway",
                key_path.display()
            );
        }
        warn_shuffle();
        let ext = files::extension(out);
        if ext == "png" || ext == "npy" {
            // File-level interop: exactly the scrambled image imageshuffle returns.
            let scrambled = k.scramble(&files::read_image(image_path)?)?;
            let bytes = match ext.as_str() {
                "png" => image_io::encode_png(&scrambled)?,
                _ => image_io::npy::encode_u8(&scrambled)?,
            };
            files::write_atomic(out, &bytes)?;
            println!(
                "scrambled {} → {} (imageshuffle-compatible {ext})",
                image_path.display(),
                out.display()
            );
            return Ok(());
        }
    }
    check_container_name(out)?;
    let image = files::read_image(image_path)?;
    let start = Instant::now();
    let ct = encrypt_image(&key, &image, legacy)?;
    let bytes = ct.to_bytes();
    files::write_atomic(out, &bytes)?;
    println!(
        "encrypted {} ({}) → {} ({} bytes) in {:.0?}",
        image_path.display(),
        ct.header.shape,
        out.display(),
        bytes.len(),
        start.elapsed()
    );
    Ok(())
}

fn decrypt(
    key_path: &Path,
    ct_path: &Path,
    out: &Path,
    expect: Option<&[PathBuf]>,
    trust_bfv: bool,
    args: &RenderArgs,
) -> Result<()> {
    let key = files::read_key(key_path)?;
    if let Key::Shuffle(k) = &key {
        warn_shuffle();
        let bytes = files::read(ct_path)?;
        if !picrypt_core::format::looks_like_container(&bytes) {
            // A scrambled image from imageshuffle (PNG or .npy) rather than a container.
            let scrambled = if bytes.starts_with(b"\x93NUMPY") {
                image_io::npy::decode_u8(&bytes)
            } else {
                image_io::decode(&bytes)
            }
            .with_context(|| format!("{}", ct_path.display()))?;
            let image = k.unscramble(&scrambled)?;
            let pt = Plaintext::new(
                image.shape()?,
                picrypt_core::ValueRange::of_samples(8),
                image.data.iter().map(|&v| v as i16).collect(),
            );
            return write_plaintext(&pt, out, args);
        }
    }
    let context = || format!("{}", ct_path.display());
    let (pt, what) = match expect {
        Some([a, b]) => {
            let result = files::read(ct_path)?;
            let (a_bytes, b_bytes) = (files::read(a)?, files::read(b)?);
            let checked =
                verify::identify_result(&a_bytes, &b_bytes, &result).with_context(|| {
                    format!(
                        "{} is not the result of {} and {}",
                        ct_path.display(),
                        a.display(),
                        b.display()
                    )
                })?;
            let pt = checked.decrypt(&key).with_context(context)?;
            (pt, checked.describe())
        }
        Some(_) => bail!("--expect takes two ciphertexts: A and B"),
        None => {
            let ct = files::read_container(ct_path)?;
            let claim = verify::Expect::claimed_by(&ct.header);
            let pt = if trust_bfv {
                verify::decrypt_trusting_source(&key, &ct, claim)
            } else {
                verify::decrypt(&key, &ct, claim)
            };
            let pt = match pt {
                Err(e @ picrypt_core::Error::Unverifiable(_)) => bail!(
                    "{}: {e}; for a difference pass --expect A B (the two ciphertexts it was computed from), for a ciphertext you made yourself --insecure-trust-bfv-input",
                    ct_path.display()
                ),
                other => other.with_context(context)?,
            };
            (pt, verify::describe(&ct.header, claim))
        }
    };
    println!("{}: {what}", ct_path.display());
    write_plaintext(&pt, out, args)?;
    if !pt.is_image() {
        println!("{}", render::stats(&pt, args.threshold).summary());
    }
    Ok(())
}

/// Writes a decrypted result: `.npy` raw values, or PNG (the image, or a render).
fn write_plaintext(pt: &Plaintext, out: &Path, args: &RenderArgs) -> Result<()> {
    let (bytes, what) = match files::extension(out).as_str() {
        "npy" if pt.is_image() => (
            image_io::npy::encode_u8(&pt.to_image()?)?,
            "uint8 array".to_string(),
        ),
        "npy" => (
            image_io::npy::encode_i16(&pt.shape, &pt.values),
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
        pt.shape
    );
    Ok(())
}

fn diff(a: &Path, b: &Path, out: &Path, op: Op, remote: &RemoteArgs) -> Result<()> {
    check_container_name(out)?;
    let a_bytes = files::read(a)?;
    let b_bytes = files::read(b)?;
    // Refuse a malformed input naming its file (and before uploading anything); errors of
    // the subtraction itself name both, A and B in the message saying which is which.
    for (which, path, bytes) in [("A", a, &a_bytes), ("B", b, &b_bytes)] {
        picrypt_core::format::ContainerRef::parse(bytes)
            .map_err(|e| ops::in_input(which, e))
            .with_context(|| format!("{}", path.display()))?;
    }
    let start = Instant::now();
    let result = subtract(op, &a_bytes, &b_bytes, remote)
        .with_context(|| format!("{} − {}", a.display(), b.display()))?;
    let checked =
        verify::check_result(op, &a_bytes, &b_bytes, &result).context("the function's result")?;
    if checked.container().header.scheme == Scheme::Shuffle {
        warn_shuffle();
    }
    println!("checked: {}", checked.describe());
    files::write_atomic(out, &result)?;
    println!(
        "{} − {} → {} ({} bytes) in {:.0?}",
        a.display(),
        b.display(),
        out.display(),
        result.len(),
        start.elapsed()
    );
    Ok(())
}

/// A − B of two encoded ciphertexts: in-process, or on the function at `--url`.
fn subtract(op: Op, a: &[u8], b: &[u8], remote: &RemoteArgs) -> Result<Vec<u8>> {
    match &remote.url {
        None => Ok(ops::apply_bytes(op, a, b)?),
        Some(url) => runtime()?.block_on(remote_subtract(url, op, a, b, remote)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn random_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow!("operating system randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn remote_subtract(
    url: &str,
    op: Op,
    a: &[u8],
    b: &[u8],
    args: &RemoteArgs,
) -> Result<Vec<u8>> {
    let remote = remote::Remote::new(url, args.sigv4, Duration::from_secs(args.timeout)).await?;
    let b64 = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
    let mut s3_client = None;
    let request = match &args.s3_bucket {
        Some(bucket) => {
            let client = s3_client_from_env().await?;
            let base = format!("{}uploads/{}/", args.s3_prefix, random_id()?);
            let (key_a, key_b) = (format!("{base}a.picrypt"), format!("{base}b.picrypt"));
            let t = Instant::now();
            s3::upload(&client, bucket, &key_a, a, "upload A").await?;
            s3::upload(&client, bucket, &key_b, b, "upload B").await?;
            step(
                "upload",
                t,
                &format!(
                    "s3://{bucket}/{base}{{a,b}}.picrypt ({} bytes)",
                    a.len() + b.len()
                ),
            );
            s3_client = Some(client);
            serde_json::json!({
                "a": {"s3": {"key": key_a, "bucket": bucket}},
                "b": {"s3": {"key": key_b, "bucket": bucket}},
                "op": op.name(),
                "output": {"s3": {"key": format!("{base}diff.picrypt")}},
            })
        }
        None => serde_json::json!({
            "a": {"inline": b64(a)},
            "b": {"inline": b64(b)},
            "op": op.name(),
            "output": "inline",
        }),
    };
    // Where the result must be: the client never reads a location it did not ask for.
    let asked = args.s3_bucket.as_ref().and_then(|bucket| {
        Some((
            bucket.clone(),
            request["output"]["s3"]["key"].as_str()?.to_string(),
        ))
    });
    let body = serde_json::to_vec(&request)?;
    if args.s3_bucket.is_none() && body.len() > picrypt_function::LAMBDA_PAYLOAD_LIMIT {
        bail!(
            "the two ciphertexts are {} bytes as JSON, over Lambda's 6 MB request limit: pass --s3-bucket BUCKET",
            body.len()
        );
    }
    let sent = body.len();
    let t = Instant::now();
    let response = remote.diff(body).await?;
    step(
        "subtract",
        t,
        &format!(
            "on {url}{} (server {:.1} ms, {sent} bytes sent; no key)",
            if remote.signs() { ", SigV4-signed" } else { "" },
            response.server_ms
        ),
    );
    match response.result {
        picrypt_function::api::ResultLocation::Inline(text) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .context("the server sent a result that is not valid base64")
        }
        picrypt_function::api::ResultLocation::S3 { bucket, key } => {
            match &asked {
                Some((b, k)) if *b == bucket && *k == key => {}
                Some((b, k)) => bail!(
                    "the function put the result at s3://{bucket}/{key}, not at s3://{b}/{k} where it was asked to: refusing to read it"
                ),
                None => bail!(
                    "the function put the result at s3://{bucket}/{key} although it was asked to answer inline: refusing to read it"
                ),
            }
            let client = match s3_client {
                Some(c) => c,
                None => s3_client_from_env().await?,
            };
            let t = Instant::now();
            let bytes = s3::download(&client, &bucket, &key, "download result").await?;
            step(
                "download",
                t,
                &format!("s3://{bucket}/{key} ({} bytes)", bytes.len()),
            );
            Ok(bytes)
        }
    }
}

/// An S3 client from the environment (`AWS_*`, `PICRYPT_S3_*`).
async fn s3_client_from_env() -> Result<aws_sdk_s3::Client> {
    picrypt_function::storage::client_from_env()
        .await
        .map_err(|e| anyhow!(e))
}

fn serve(addr: SocketAddr, bucket: Option<String>, prefix: Option<String>) -> Result<()> {
    let mut config = picrypt_function::Config::from_env().map_err(|e| anyhow!(e))?;
    if bucket.is_some() {
        config.bucket = bucket;
    }
    if let Some(prefix) = prefix {
        config.prefix = prefix;
    }
    runtime()?.block_on(async move {
        let s3 = match config.bucket {
            Some(_) => Some(s3_client_from_env().await?),
            None => None,
        };
        let bucket_note = match &config.bucket {
            Some(b) => format!("S3 bucket {b}, prefix {:?}", config.prefix),
            None => "no S3 bucket: inline only".to_string(),
        };
        let app = std::sync::Arc::new(picrypt_function::App { config, s3 });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("picrypt function listening on http://{local} ({bucket_note}); POST /diff, GET /health; Ctrl-C stops");
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::select! {
            r = picrypt_function::serve::serve_on(app, listener) => r.context("server failed"),
            _ = tokio::signal::ctrl_c() => {
                println!("stopped");
                Ok(())
            }
        }
    })
}

/// Result of the whole flow.
struct Flow {
    ct_before: Container,
    ct_after: Container,
    result: Container,
    plaintext: Plaintext,
}

/// Encrypts both images, computes `op` (here or on the function at `--url`), decrypts and
/// verifies, printing each step.
fn flow(
    key: &Key,
    op: Op,
    before: &Image,
    after: &Image,
    remote: &RemoteArgs,
    legacy: &LegacyArgs,
) -> Result<Flow> {
    before.check_same_shape(after)?;
    let t = Instant::now();
    let ct_before = encrypt_image(key, before, legacy)?;
    let ct_after = encrypt_image(key, after, legacy)?;
    if key.scheme() == Scheme::Shuffle {
        warn_shuffle();
    }
    step(
        "encrypt",
        t,
        &format!("two {} images", ct_before.header.shape),
    );
    let (a_bytes, b_bytes) = (ct_before.to_bytes(), ct_after.to_bytes());
    let result = if remote.url.is_some() {
        subtract(op, &a_bytes, &b_bytes, remote)?
    } else {
        let t = Instant::now();
        let result = ops::apply_bytes(op, &a_bytes, &b_bytes)?;
        step(
            "subtract",
            t,
            &format!(
                "on ciphertexts ({} + {} bytes in, {} out; no key)",
                a_bytes.len(),
                b_bytes.len(),
                result.len()
            ),
        );
        result
    };
    let t = Instant::now();
    let checked =
        verify::check_result(op, &a_bytes, &b_bytes, &result).context("the function's result")?;
    let plaintext = checked.decrypt(key)?;
    step("decrypt", t, &checked.describe_as("before", "after"));
    Ok(Flow {
        ct_before,
        ct_after,
        result: checked.into_container(),
        plaintext,
    })
}

fn step(name: &str, since: Instant, detail: &str) {
    println!("  {name:<9} {:>8.1?}  {detail}", since.elapsed());
}

fn run_flow(run: &RunArgs) -> Result<()> {
    let (out, args) = (&run.out, &run.render);
    if files::extension(out) != "png" {
        bail!("{}: the render is a PNG; name it *.png", out.display());
    }
    let key = match &run.key {
        Some(path) => files::read_key(path)?,
        None => Key::generate(Scheme::Mask)?,
    };
    let before_img = files::read_image(&run.before)?;
    let after_img = files::read_image(&run.after)?;
    let flow = flow(
        &key,
        run.op.into(),
        &before_img,
        &after_img,
        &run.remote,
        &run.legacy,
    )?;
    write_plaintext(&flow.plaintext, out, args)?;
    if let Some(npy) = &run.npy {
        files::write_atomic(
            npy,
            &image_io::npy::encode_i16(&flow.plaintext.shape, &flow.plaintext.values),
        )?;
        println!("wrote int16 difference {}", npy.display());
    }
    println!(
        "{}",
        render::stats(&flow.plaintext, args.threshold).summary()
    );
    Ok(())
}

fn inspect(path: &Path, json: bool) -> Result<()> {
    let ct = files::read_container(path)?;
    let h = &ct.header;
    if h.scheme == Scheme::Shuffle {
        warn_shuffle();
    }
    let terms: Vec<String> = h
        .terms
        .iter()
        .map(|t| format!("{}{}", t.sign.symbol(), hex(&t.nonce)))
        .collect();
    let kind = if h.terms.len() <= 1 && h.range == picrypt_core::ValueRange::of_samples(8) {
        "fresh encryption"
    } else {
        "result of an operation"
    };
    if json {
        let v = serde_json::json!({
            "scheme": h.scheme.name(),
            "version": picrypt_core::format::VERSION,
            "width": h.shape.width,
            "height": h.shape.height,
            "channels": h.shape.channels,
            "sample_bits": h.sample_bits,
            "modulus_bits": h.modulus_bits,
            "range": [h.range.min, h.range.max],
            "key_id": h.key_id.hex(),
            "tag": h.tag.map(|t| format!("{t:016x}")),
            "terms": terms,
            "header_bytes": h.encoded_len(),
            "payload_bytes": ct.payload.len(),
            "total_bytes": ct.encoded_len(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{}: PICRYPT container v{}",
        path.display(),
        picrypt_core::format::VERSION
    );
    println!("  scheme        {} ({kind})", h.scheme);
    println!("  image         {} (width × height × channels)", h.shape);
    println!(
        "  samples       {}-bit, stored mod 2^{}",
        h.sample_bits, h.modulus_bits
    );
    println!("  value range   {}", h.range);
    println!("  key id        {}", h.key_id);
    match (h.tag, h.scheme) {
        (Some(t), _) => println!("  integrity tag {t:016x} (verified on decrypt)"),
        (None, Scheme::Bfv) => println!(
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
        ct.payload.len()
    );
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run_demo(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    println!(
        "PICRYPT demo: a {}×{} scene before and after an object moved; the subtraction runs on ciphertexts only.",
        demo::WIDTH,
        demo::HEIGHT
    );
    let (before, after) = demo::pair(demo::WIDTH, demo::HEIGHT);
    let key = Key::generate(Scheme::Mask)?;
    let flow = flow(
        &key,
        Op::Sub,
        &before,
        &after,
        &RemoteArgs::local(),
        &LegacyArgs {
            insecure_shuffle: false,
        },
    )?;
    let png = |img: &Image| image_io::encode_png(img);
    let outputs: Vec<(&str, Vec<u8>, &str)> = vec![
        ("before.png", png(&before)?, "the first image"),
        ("after.png", png(&after)?, "the second image"),
        (
            "before.encrypted.png",
            png(&render::ciphertext_preview(&flow.ct_before)?)?,
            "what the server sees of it: noise",
        ),
        (
            "after.encrypted.png",
            png(&render::ciphertext_preview(&flow.ct_after)?)?,
            "what the server sees of it: noise",
        ),
        (
            "before.picrypt",
            flow.ct_before.to_bytes(),
            "ciphertext sent to the server",
        ),
        (
            "after.picrypt",
            flow.ct_after.to_bytes(),
            "ciphertext sent to the server",
        ),
        (
            "diff.picrypt",
            flow.result.to_bytes(),
            "encrypted difference the server returns",
        ),
        (
            "diff.png",
            png(&render::render(
                &flow.plaintext,
                RenderMode::Abs,
                render::DEFAULT_THRESHOLD,
            ))?,
            "decrypted |before − after|: the object at both places",
        ),
        (
            "diff.heatmap.png",
            png(&render::render(
                &flow.plaintext,
                RenderMode::Heatmap,
                render::DEFAULT_THRESHOLD,
            ))?,
            "change magnitude",
        ),
        (
            "diff.npy",
            image_io::npy::encode_i16(&flow.plaintext.shape, &flow.plaintext.values),
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
