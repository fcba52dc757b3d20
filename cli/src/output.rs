//! What the CLI prints and writes for people: logs, the one-line error, step timings, the
//! insecure-scheme warning, and decrypted results as PNG or `.npy`.

use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{bail, Result};
use picrypt_core::render;
use picrypt_core::{image_io, npy, Image, Plaintext, Scheme};

use crate::args::RenderArgs;
use crate::files;

/// How this run prints: for people (default), quietly (no progress on stderr), or one
/// JSON document on stdout for scripts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mode {
    /// One JSON document on stdout instead of lines for people.
    pub json: bool,
    /// No progress bars or spinners on stderr.
    pub quiet: bool,
}

static MODE: OnceLock<Mode> = OnceLock::new();
static STEPS: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());

/// Sets how this run prints; call once, before any output.
pub fn configure(mode: Mode) {
    let _ = MODE.set(mode);
}

fn mode() -> Mode {
    MODE.get().copied().unwrap_or_default()
}

/// Whether progress (bars, spinners) may be drawn: not with `--quiet` or `--json`, and
/// only on a terminal.
pub fn progress_allowed() -> bool {
    let m = mode();
    !m.quiet && !m.json && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Awaits `fut`, showing a spinner with the elapsed time on stderr if it takes more than
/// a second (a cold start, `cargo lambda watch` compiling, a slow network); only on a
/// terminal, never with `--quiet` or `--json`.
pub async fn with_spinner<F: std::future::Future>(label: &str, fut: F) -> F::Output {
    if !progress_allowed() {
        return fut.await;
    }
    tokio::pin!(fut);
    tokio::select! {
        out = &mut fut => return out,
        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_style(
        indicatif::ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
            .expect("valid template"),
    );
    spinner.set_message(label.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let out = fut.await;
    spinner.finish_and_clear();
    out
}

/// A line for people on stdout (nothing with `--json`).
pub fn line(text: impl std::fmt::Display) {
    if !mode().json {
        println!("{text}");
    }
}

/// Prints the JSON document of a command run with `--json`, with the steps' timings.
pub fn json(mut doc: serde_json::Value) -> Result<()> {
    if mode().json {
        if let Some(map) = doc.as_object_mut() {
            let steps = STEPS.lock().map(|s| s.clone()).unwrap_or_default();
            if !steps.is_empty() {
                map.insert("steps".into(), serde_json::Value::Array(steps));
            }
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(())
}

/// Logs go to stderr: warnings by default, more with `-v`, or `PICRYPT_LOG` as a filter.
pub fn init_logging(verbose: u8) {
    // Without -v only PICRYPT's own warnings: the AWS SDK's retries and region lookups
    // become one line of ours instead (remote::s3::check_aws_environment).
    let level = match verbose {
        0 => "off,picrypt=warn,picrypt_core=warn,picrypt_api=warn",
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

/// One line of a flow: the step's name, its time, and what it did (recorded for `--json`).
pub fn step(name: &str, since: Instant, detail: &str) {
    step_with(name, since, detail, serde_json::Value::Null);
}

/// [`step`] with figures for `--json` (`"figures"`: where the step's time went).
pub fn step_with(name: &str, since: Instant, detail: &str, figures: serde_json::Value) {
    let elapsed = since.elapsed();
    if let Ok(mut steps) = STEPS.lock() {
        let mut entry = serde_json::json!({
            "step": name,
            "ms": elapsed.as_secs_f64() * 1e3,
            "detail": detail,
        });
        if !figures.is_null() {
            entry["figures"] = figures;
        }
        steps.push(entry);
    }
    line(format_args!("  {name:<9} {elapsed:>8.1?}  {detail}"));
}

/// Writes a decrypted result: `.npy` raw values, or PNG (the image, or a render; the
/// overlay render draws over `after`).
pub fn write_plaintext(
    pt: &Plaintext,
    out: &Path,
    args: &RenderArgs,
    after: Option<&Image>,
) -> Result<()> {
    let (bytes, what) = encode_plaintext(pt, out, args, after)?;
    files::write_atomic(out, &bytes)?;
    line(format_args!(
        "decrypted and wrote {what} {} ({})",
        out.display(),
        pt.shape()
    ));
    Ok(())
}

/// The bytes [`write_plaintext`] writes to `out` (chosen by its extension), and what they
/// are, in words.
pub fn encode_plaintext(
    pt: &Plaintext,
    out: &Path,
    args: &RenderArgs,
    after: Option<&Image>,
) -> Result<(Vec<u8>, String)> {
    let what = output_kind(pt.is_image(), out, args)?;
    let bytes = match files::extension(out).as_str() {
        "npy" if pt.is_image() => npy::encode_u8(&pt.to_image()?),
        "npy" => npy::encode_i16(&pt.shape(), pt.values()),
        _ if pt.is_image() => image_io::encode_png(&pt.to_image()?)?,
        _ => image_io::encode_png(&render::render(pt, args.mode(), args.threshold, after)?)?,
    };
    Ok((bytes, what))
}

/// What a decrypted result written to `out` is, in words (chosen by the extension: `.npy`
/// or `.png`, anything else refused).
pub fn output_kind(image: bool, out: &Path, args: &RenderArgs) -> Result<String> {
    Ok(match (files::extension(out).as_str(), image) {
        ("npy", true) => "uint8 array".to_string(),
        ("npy", false) => "int16 difference array".to_string(),
        ("png", true) => "image".to_string(),
        ("png", false) => format!("{} render", args.mode().name()),
        _ => bail!(
            "cannot tell what to write to {}: name it *.png or *.npy",
            out.display()
        ),
    })
}

/// A progress bar on stderr counting `unit` (hidden with `--quiet` or `--json`, and off a
/// terminal): position and length, the rate, and the time left.
pub fn progress_bar(len: Option<u64>, unit: &str) -> indicatif::ProgressBar {
    if !progress_allowed() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => indicatif::ProgressBar::new(len),
        None => indicatif::ProgressBar::no_length(),
    };
    let template = format!("  [{{bar:30}}] {{pos}}/{{len}} {unit}  {{rate}}  ETA {{eta}}  {{msg}}");
    let rate = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.1}/s", state.per_sec());
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template)
            .expect("valid template")
            .with_key("rate", rate)
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// A command stopped by Ctrl-C: `main` prints its one line (`picrypt: stopped: …`) and
/// exits with 130, as a shell reports SIGINT.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}
