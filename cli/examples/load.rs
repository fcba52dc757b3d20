//! A bounded load test for the function over HTTP: `picrypt serve`, `cargo lambda watch`,
//! or a deployed Function URL without IAM auth.
//!
//! It encrypts a handful of distinct image pairs up front (mostly the mask scheme, plus a
//! legacy shuffle pair with `sub_sat` and, at the small size, a bfv pair), then sends
//! `POST /diff` with inline JSON bodies from `--concurrency` workers over keep-alive
//! connections. Every response must be a 200 whose result decrypts, with the key made
//! here, to exactly the expected difference and claims to be computed from exactly the
//! two inputs sent; any other answer, and running past `--max-seconds`, is an error.
//!
//! One summary line per run: requests, concurrency, errors, throughput, latency
//! percentiles, and, with `--pid`, the server's resident memory sampled during the run.
//! The exit status is non-zero on any error or on the time bound.
//!
//! ```sh
//! cargo build --workspace --locked --examples
//! target/debug/picrypt serve --addr 127.0.0.1:8080 & pid=$!
//! target/debug/examples/load --url http://127.0.0.1:8080 --requests 2000 --concurrency 32 --pid $pid
//! target/debug/examples/load --url http://127.0.0.1:8080 --requests 20 --concurrency 4 --size demo --pid $pid
//! # under cargo lambda watch, sample the function process it started (small mask and
//! # shuffle answers only: its emulator loses some larger ones, docs/PERFORMANCE.md "Load")
//! target/debug/examples/load --url http://127.0.0.1:9000/lambda-url/picrypt-function \
//!     --requests 2000 --concurrency 32 --schemes mask,shuffle --pid $watch_pid --child picrypt-function
//! ```

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use clap::{Parser, ValueEnum};
use picrypt_api::{DiffRequest, DiffResponse, ResultLocation};
use picrypt_core::ops::{self, Op};
use picrypt_core::Key;
use picrypt_core::{Image, Scheme, Shape};
use tokio::time::Instant;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Parser, Debug)]
#[command(about = "Bounded load test of the PICRYPT function's POST /diff")]
struct Args {
    /// Base URL of the function (`/diff` and `/health` are appended).
    #[arg(long)]
    url: String,
    /// Number of `POST /diff` requests to send.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Requests in flight at once, each worker on its own keep-alive connection.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Image size: small (64×48 RGB) or demo (1005×642 RGB, the original project's pair).
    #[arg(long, value_enum, default_value_t = Size::Small)]
    size: Size,
    /// Only send pairs of these schemes (comma-separated: mask, shuffle, bfv).
    #[arg(long, value_delimiter = ',', value_parser = parse_scheme)]
    schemes: Vec<Scheme>,
    /// Decrypt and check every K-th response (the rest are checked for status, shape and
    /// result size only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    verify_every: u64,
    /// Sample the resident memory (/proc/PID/status) of this server process.
    #[arg(long)]
    pid: Option<u32>,
    /// Sample instead the descendant of `--pid` whose executable is named NAME (under
    /// `cargo lambda watch`: `picrypt-function`, a child of cargo-lambda).
    #[arg(long, value_name = "NAME", requires = "pid")]
    child: Option<String>,
    /// Count a request that has no complete answer after this many seconds as failed.
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
    /// Stop with an error if the run (including setup) takes longer than this.
    #[arg(long, default_value_t = 300)]
    max_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Size {
    Small,
    Demo,
}

impl Size {
    fn dimensions(self) -> (u32, u32) {
        match self {
            Size::Small => (64, 48),
            Size::Demo => (1005, 642),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Demo => "demo",
        }
    }
}

/// One pre-encrypted request and what its answer must decrypt to.
struct Pair {
    label: String,
    op: Op,
    key: Key,
    a: Vec<u8>,
    b: Vec<u8>,
    shape: Shape,
    expected: Vec<i16>,
    /// Size of the result container the server must return.
    result_len: usize,
    /// The JSON request body.
    body: &'static [u8],
}

/// What one request came to.
struct Outcome {
    latency_ms: f64,
    server_ms: f64,
    /// Whether the result was decrypted and compared sample by sample.
    verified: bool,
    error: Option<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if args.requests == 0 || args.concurrency == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let pairs = make_pairs(args.size, &args.schemes)?;
    // The bodies and keys live until the process exits; leaking them lets every worker
    // and verification thread borrow them without reference counting.
    let pairs: &'static [Pair] = Vec::leak(pairs);
    runtime.block_on(load(args, pairs, deadline))
}

/// The images of pair `k`: the demo scene, with the after image also changed at a few
/// pseudo-random samples that differ from pair to pair, so no two answers are alike.
fn images(size: Size, k: u64) -> Result<(Image, Image)> {
    let (w, h) = size.dimensions();
    let (before, after) = picrypt_core::demo::pair(w, h);
    let mut data = after.into_data();
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (k + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % data.len() as u64) as usize;
        data[i] = (x >> 32) as u8;
    }
    let after = Image::new(w, h, before.channels(), data)?;
    if before.data() == after.data() {
        bail!("pair {k}: the images are identical");
    }
    Ok((before, after))
}

fn parse_scheme(name: &str) -> Result<Scheme, String> {
    Scheme::from_name(name).ok_or_else(|| format!("unknown scheme {name:?}"))
}

/// The pairs to send: of `schemes` only, when given.
fn make_pairs(size: Size, schemes: &[Scheme]) -> Result<Vec<Pair>> {
    let mut plan = vec![
        (Scheme::MASK, Op::Sub),
        (Scheme::MASK, Op::Sub),
        (Scheme::MASK, Op::Sub),
        (Scheme::SHUFFLE, Op::SubSat),
    ];
    if size == Size::Small {
        // bfv ciphertexts are 5.75× the pixels: the demo size does not fit a request.
        plan.splice(1..1, [(Scheme::MASK, Op::Sub), (Scheme::MASK, Op::Sub)]);
        plan.push((Scheme::BFV, Op::Sub));
    }
    plan.retain(|(scheme, _)| schemes.is_empty() || schemes.contains(scheme));
    if plan.is_empty() {
        bail!(
            "no pair of the schemes asked for at the {} size",
            size.name()
        );
    }
    plan.into_iter()
        .enumerate()
        .map(|(k, (scheme, op))| make_pair(size, k as u64, scheme, op))
        .collect()
}

fn make_pair(size: Size, k: u64, scheme: Scheme, op: Op) -> Result<Pair> {
    let (before, after) = images(size, k)?;
    let key = Key::generate(scheme)?;
    let a = key.encrypt_insecure_legacy(&before)?;
    let b = key.encrypt_insecure_legacy(&after)?;
    let result_len = ops::apply_bytes(op, &a.to_bytes(), &b.to_bytes())?.len();
    let expected = before
        .data()
        .iter()
        .zip(after.data())
        .map(|(&x, &y)| {
            let d = i16::from(x) - i16::from(y);
            if op == Op::SubSat {
                d.max(0)
            } else {
                d
            }
        })
        .collect();
    let body = DiffRequest::inline(&a.to_bytes(), &b.to_bytes(), op.name()).to_json();
    Ok(Pair {
        label: format!("pair {k} ({scheme} {})", op.name()),
        op,
        key,
        shape: before.shape(),
        a: a.to_bytes(),
        b: b.to_bytes(),
        expected,
        result_len,
        body: Vec::leak(body),
    })
}

async fn load(args: &Args, pairs: &'static [Pair], deadline: Instant) -> Result<()> {
    let (w, h) = args.size.dimensions();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(args.request_timeout))
        .build()
        .context("cannot build the HTTP client")?;
    let base = args.url.trim_end_matches('/').to_string();
    wait_healthy(&client, &base, deadline).await?;

    let sampler = match args.pid {
        Some(pid) => Some(Sampler::start(pid, args.child.clone())?),
        None => None,
    };

    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/diff");
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.min(args.requests))
        .map(|_| {
            let (client, url, next) = (client.clone(), url.clone(), next.clone());
            let (requests, verify_every) = (args.requests, args.verify_every);
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests || Instant::now() >= deadline {
                        break;
                    }
                    let pair = &pairs[i % pairs.len()];
                    let verify = i as u64 % verify_every == 0;
                    outcomes.push(request(&client, &url, pair, verify, deadline).await);
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(args.requests);
    for worker in workers {
        outcomes.extend(worker.await.context("a worker panicked")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let memory = match sampler {
        Some(s) => Some(s.stop().await?),
        None => None,
    };

    let errors: Vec<&str> = outcomes.iter().filter_map(|o| o.error.as_deref()).collect();
    let mut latency: Vec<f64> = outcomes.iter().map(|o| o.latency_ms).collect();
    let mut server: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.error.is_none())
        .map(|o| o.server_ms)
        .collect();
    latency.sort_by(f64::total_cmp);
    server.sort_by(f64::total_cmp);
    let verified = outcomes
        .iter()
        .filter(|o| o.error.is_none() && o.verified)
        .count();

    let mut line = format!(
        "load: {} size={} {w}x{h}x3 pairs={} requests={} concurrency={} errors={} verified={verified} elapsed={elapsed:.2}s throughput={:.1}req/s",
        args.url,
        args.size.name(),
        pairs.len(),
        outcomes.len(),
        args.concurrency,
        errors.len(),
        outcomes.len() as f64 / elapsed,
    );
    let _ = write!(
        line,
        " latency_ms p50={:.2} p90={:.2} p99={:.2} max={:.2} server_ms p50={:.2} p99={:.2}",
        percentile(&latency, 0.50),
        percentile(&latency, 0.90),
        percentile(&latency, 0.99),
        latency.last().copied().unwrap_or(f64::NAN),
        percentile(&server, 0.50),
        percentile(&server, 0.99),
    );
    if let Some(m) = &memory {
        let _ = write!(line, " {m}");
    }
    println!("{line}");

    for e in errors.iter().take(5) {
        eprintln!("load: {e}");
    }
    if let Some(m) = memory.as_ref().filter(|m| m.restarts > 0 || m.lost) {
        bail!(
            "the server process was restarted {} time(s){} during the run",
            m.restarts,
            if m.lost {
                " and was gone for a while"
            } else {
                ""
            }
        );
    }
    let completed = outcomes.len() - errors.len();
    if completed < args.requests {
        let timed_out = outcomes.len() < args.requests || Instant::now() >= deadline;
        bail!(
            "{completed} of {} requests succeeded ({} failed{})",
            args.requests,
            errors.len(),
            if timed_out {
                format!(", stopped at --max-seconds {}", args.max_seconds)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Waits for `GET /health` to answer 200, for at most ten seconds (a server just started
/// may not listen yet).
async fn wait_healthy(client: &reqwest::Client, base: &str, deadline: Instant) -> Result<()> {
    let until = deadline.min(Instant::now() + Duration::from_secs(10));
    let url = format!("{base}/health");
    loop {
        let last = match client
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("status {}", r.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= until {
            bail!("{url} did not answer 200: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends one request and checks the answer; the latency is request to last response byte.
async fn request(
    client: &reqwest::Client,
    url: &str,
    pair: &'static Pair,
    verify: bool,
    deadline: Instant,
) -> Outcome {
    let start = Instant::now();
    let exchange = async {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(pair.body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?;
        if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(format!("status {status}: {text}"));
        }
        Ok(body)
    };
    let body = match tokio::time::timeout_at(deadline, exchange).await {
        Ok(r) => r,
        Err(_) => Err("timed out at --max-seconds".to_string()),
    };
    let latency_ms = start.elapsed().as_secs_f64() * 1e3;
    // Decoding and decrypting a demo-size answer takes milliseconds of CPU: off the
    // runtime's threads, so other workers' I/O is not held up.
    let checked = match body {
        Ok(body) => tokio::task::spawn_blocking(move || check(pair, &body, verify))
            .await
            .unwrap_or_else(|e| Err(format!("the check panicked: {e}"))),
        Err(e) => Err(e),
    };
    match checked {
        Ok(server_ms) => Outcome {
            latency_ms,
            server_ms,
            verified: verify,
            error: None,
        },
        Err(e) => Outcome {
            latency_ms,
            server_ms: f64::NAN,
            verified: false,
            error: Some(format!("{}: {e}", pair.label)),
        },
    }
}

/// Checks a 200 answer; with `verify`, decrypts the result and compares every sample.
/// Returns the server's own time.
fn check(pair: &Pair, body: &[u8], verify: bool) -> Result<f64, String> {
    let r: DiffResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a diff response: {e}"))?;
    let ResultLocation::Inline(b64) = r.result else {
        return Err("the result went to S3, though inline output was asked for".into());
    };
    let expected_shape = (
        pair.shape.width(),
        pair.shape.height(),
        pair.shape.channels(),
    );
    if (r.width, r.height, r.channels) != expected_shape || r.bytes != pair.result_len {
        return Err(format!(
            "answer claims {}x{}x{} and {} bytes, expected {}x{}x{} and {} bytes",
            r.width,
            r.height,
            r.channels,
            r.bytes,
            expected_shape.0,
            expected_shape.1,
            expected_shape.2,
            pair.result_len
        ));
    }
    if !verify {
        return Ok(r.server_ms);
    }
    let bytes = B64
        .decode(b64)
        .map_err(|e| format!("result is not base64: {e}"))?;
    if bytes.len() != pair.result_len {
        return Err(format!(
            "result is {} bytes, expected {}",
            bytes.len(),
            pair.result_len
        ));
    }
    let verified = || -> picrypt_core::Result<Vec<i16>> {
        let checked = picrypt_core::verify::check_result(pair.op, &pair.a, &pair.b, &bytes)?;
        Ok(checked.decrypt(&pair.key)?.values().to_vec())
    };
    let values = verified().map_err(|e| format!("result does not decrypt: {e}"))?;
    if let Some(i) =
        (0..pair.expected.len().max(values.len())).find(|&i| values.get(i) != pair.expected.get(i))
    {
        return Err(format!(
            "decrypted difference is wrong at sample {i}: {:?}, expected {:?}",
            values.get(i),
            pair.expected.get(i)
        ));
    }
    Ok(r.server_ms)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Resident memory of the server process during the run.
struct Memory {
    pid: u32,
    name: String,
    start_kb: u64,
    peak_kb: u64,
    end_kb: u64,
    /// The kernel's high-water mark, over the process's whole life.
    hwm_kb: u64,
    samples: usize,
    /// How often the sampled process was replaced by another (a restart), and whether it
    /// was ever gone without a replacement.
    restarts: usize,
    lost: bool,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |kb: u64| kb as f64 / 1024.0;
        write!(
            f,
            "server_rss_mb start={:.1} peak={:.1} end={:.1} (pid {} {}, {} samples; VmHWM {:.1} over its life)",
            mb(self.start_kb),
            mb(self.peak_kb),
            mb(self.end_kb),
            self.pid,
            self.name,
            self.samples,
            mb(self.hwm_kb),
        )
    }
}

/// Samples VmRSS every 10 ms on its own thread, so a busy runtime does not thin it out.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Memory>,
}

impl Sampler {
    fn start(pid: u32, child: Option<String>) -> Result<Sampler> {
        let resolve = move || -> Result<u32> {
            match &child {
                Some(name) => descendant_named(pid, name)?
                    .ok_or_else(|| anyhow!("no descendant of pid {pid} is named {name:?}")),
                None => Ok(pid),
            }
        };
        let target = resolve()?;
        let first = status(target)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut m = Memory {
                pid: target,
                name: process_name(target).unwrap_or_default(),
                start_kb: first.rss_kb,
                peak_kb: first.rss_kb,
                end_kb: first.rss_kb,
                hwm_kb: first.hwm_kb,
                samples: 1,
                restarts: 0,
                lost: false,
            };
            loop {
                let done = stopped.load(Ordering::Relaxed);
                // Gone: cargo lambda watch restarts the function when sources change.
                let sample = status(m.pid).map(|s| (m.pid, s)).or_else(|_| {
                    let pid = resolve()?;
                    Ok::<_, anyhow::Error>((pid, status(pid)?))
                });
                match sample {
                    Ok((pid, s)) => {
                        if pid != m.pid {
                            m.pid = pid;
                            m.restarts += 1;
                        }
                        m.peak_kb = m.peak_kb.max(s.rss_kb);
                        m.end_kb = s.rss_kb;
                        m.hwm_kb = s.hwm_kb;
                        m.samples += 1;
                    }
                    Err(_) => m.lost = true,
                }
                if done {
                    return m;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Ok(Sampler { stop, thread })
    }

    async fn stop(self) -> Result<Memory> {
        self.stop.store(true, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || self.thread.join())
            .await?
            .map_err(|_| anyhow!("the memory sampler panicked"))
    }
}

struct Status {
    rss_kb: u64,
    hwm_kb: u64,
}

fn status(pid: u32) -> Result<Status> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow!("/proc/{pid}/status has no {name}"))
    };
    Ok(Status {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
    })
}

/// The file name of a process's executable (argv\[0\]; `comm` is cut at 15 bytes).
fn process_name(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|&b| b == 0).next()?;
    let argv0 = std::str::from_utf8(argv0).ok()?;
    Some(argv0.rsplit('/').next()?.to_string())
}

/// The first process below `root` in the process tree whose executable is named `name`.
fn descendant_named(root: u32, name: &str) -> Result<Option<u32>> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").context("cannot list /proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // Field 4 of /proc/PID/stat, after the parenthesised command name.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(child, _) in parents.iter().filter(|&&(_, ppid)| ppid == p) {
            if process_name(child).as_deref() == Some(name) {
                return Ok(Some(child));
            }
            frontier.push(child);
        }
    }
    Ok(None)
}
