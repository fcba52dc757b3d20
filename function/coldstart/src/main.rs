//! The slim-function benchmark (docs/PERFORMANCE.md, "Slim function: size and cold start").
//!
//! Builds `picrypt-function` in the main workspace and two baselines here — a bare
//! `lambda_http` hello and a hello that builds an S3 client at startup — all with the main
//! workspace's `[profile.release]`, strips copies of them, and prints their sizes and their
//! cold answers: process start → the answer to the first event posted to a loopback
//! stand-in of the Lambda Runtime API, median of interleaved starts. The function's event
//! is a Function-URL `POST /diff` of an inline 64×48 mask pair, and its answer is checked
//! (a 200 whose result decrypts to the difference). With `PICRYPT_TEST_S3_ENDPOINT` (a moto
//! or other S3-protocol server) it also times a cold answer whose inputs come from S3.
//! Unless `--no-arm64`, it also builds the arm64 bootstrap with `cargo lambda`.
//!
//! Usage: `cargo run --release --manifest-path function/coldstart/Cargo.toml --
//! [--runs N] [--no-arm64] [--before PATH]`, where PATH is another build of the function
//! (e.g. of an earlier commit) to time next to this one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use picrypt_core::{verify, Key, Op, Scheme};
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, String>;

/// The goals of issue 13: stripped size against the trimmed-SDK hello, cold answer of an
/// inline diff against the bare hello.
const SIZE_GOAL: f64 = 1.1;
const COLD_GOAL: f64 = 1.5;

fn main() {
    if let Err(e) = run() {
        eprintln!("coldstart: {e}");
        std::process::exit(1);
    }
}

struct Args {
    runs: usize,
    arm64: bool,
    before: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut args = Args {
        runs: 21,
        arm64: true,
        before: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                args.runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs needs a positive number")?
            }
            "--no-arm64" => args.arm64 = false,
            "--before" => args.before = Some(it.next().ok_or("--before needs a path")?.into()),
            _ => {
                return Err(format!(
                    "unknown argument {a:?}; use --runs N, --no-arm64, --before PATH"
                ))
            }
        }
    }
    Ok(args)
}

/// One binary under test, with the events it is timed on.
struct Target {
    name: String,
    path: PathBuf,
    /// The function checks its answer; the hellos answer anything.
    is_function: bool,
}

fn run() -> Result<()> {
    let args = args()?;
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here
        .join("../..")
        .canonicalize()
        .map_err(|e| e.to_string())?;
    let profile = release_profile(&root)?;
    println!(
        "release profile of the main workspace: {}",
        profile.join(", ")
    );

    cargo(
        &root,
        &["build", "--release", "--locked", "-p", "picrypt-function"],
        None,
    )?;
    let main_target = target_directory(&root)?;
    // One build each, so that the bare hello gets none of the SDK's features; in the main
    // target directory, so that dependencies built alike are built once.
    let overrides: Vec<String> = profile
        .iter()
        .map(|kv| format!("profile.release.{kv}"))
        .collect();
    for hello in ["hello-bare", "hello-s3"] {
        let mut build = vec!["build", "--release", "--locked", "-p", hello];
        for o in &overrides {
            build.extend(["--config", o]);
        }
        cargo(here, &build, Some(&main_target))?;
    }

    let staged = here.join("target/stripped");
    std::fs::create_dir_all(&staged).map_err(|e| e.to_string())?;
    let mut targets = vec![
        stage(
            &staged,
            "hello-bare",
            &main_target.join("release/hello-bare"),
            false,
        )?,
        stage(
            &staged,
            "hello-s3 (trimmed SDK)",
            &main_target.join("release/hello-s3"),
            false,
        )?,
        stage(
            &staged,
            "picrypt-function",
            &main_target.join("release/picrypt-function"),
            true,
        )?,
    ];
    if let Some(before) = &args.before {
        targets.push(stage(&staged, "picrypt-function (before)", before, true)?);
    }

    let pair = Pair::new()?;
    let runtime = RuntimeApi::start()?;
    let inline = function_url_event(&root, &pair.inline_body())?;
    // Every binary is started with a bucket, as the deployed function is; a new one each run.
    let bucket = format!("picrypt-coldstart-{}", std::process::id());
    let mut env = lambda_env(runtime.addr(), &bucket);
    let s3 = std::env::var("PICRYPT_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = &s3 {
        pair.upload(endpoint, &bucket)?;
        env.push(("AWS_ENDPOINT_URL".into(), endpoint.clone()));
    }

    println!("timing {} cold starts of each, interleaved…", args.runs);
    let functions: Vec<usize> = (0..targets.len())
        .filter(|&i| targets[i].is_function)
        .collect();
    let mut cold = vec![Vec::new(); targets.len()];
    let mut cold_s3 = vec![Vec::new(); targets.len()];
    let s3_event = match s3 {
        Some(_) => Some(function_url_event(&root, &pair.s3_body())?),
        None => None,
    };
    for _ in 0..args.runs {
        for (i, t) in targets.iter().enumerate() {
            let answer = runtime.cold_answer(&t.path, &env, &inline)?;
            if t.is_function {
                pair.check(&answer.body)?;
            }
            cold[i].push(answer.ms);
        }
        if let Some(event) = &s3_event {
            for &i in &functions {
                let answer = runtime.cold_answer(&targets[i].path, &env, event)?;
                pair.check(&answer.body)?;
                cold_s3[i].push(answer.ms);
            }
        }
    }

    let arm64 = if args.arm64 {
        Some(arm64_bootstrap(&root, &main_target)?)
    } else {
        None
    };

    println!();
    println!("| x86_64, stripped | bytes | MB | gzip -9 MB | cold answer, median ms (min–max) |");
    println!("|---|---|---|---|---|");
    let mut sizes = Vec::new();
    let mut medians = Vec::new();
    for (t, ms) in targets.iter().zip(&cold) {
        let (bytes, gz) = sizes_of(&t.path)?;
        let (median, min, max) = stats(ms);
        println!(
            "| {} | {bytes} | {} | {} | {median:.2} ({min:.2}–{max:.2}) |",
            t.name,
            mb(bytes),
            mb(gz)
        );
        sizes.push(bytes);
        medians.push(median);
    }
    for &i in &functions {
        if !cold_s3[i].is_empty() {
            let (median, min, max) = stats(&cold_s3[i]);
            println!(
                "| {}, inputs from S3 | | | | {median:.2} ({min:.2}–{max:.2}) |",
                targets[i].name
            );
        }
    }
    if let Some((bytes, gz)) = arm64 {
        println!(
            "| picrypt-function, arm64 bootstrap (cargo lambda) | {bytes} | {} | {} | |",
            mb(bytes),
            mb(gz)
        );
    }
    println!();
    let size_ratio = sizes[2] as f64 / sizes[1] as f64;
    let cold_ratio = medians[2] / medians[0];
    println!(
        "size: function / trimmed-SDK hello = {size_ratio:.2}× (goal ≤ {SIZE_GOAL}×){}",
        verdict(size_ratio, SIZE_GOAL)
    );
    println!("cold answer: function (inline diff) / bare hello = {cold_ratio:.2}× (goal ≤ {COLD_GOAL}×){}", verdict(cold_ratio, COLD_GOAL));
    Ok(())
}

fn verdict(ratio: f64, goal: f64) -> &'static str {
    if ratio <= goal {
        ": met"
    } else {
        ": NOT met"
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

/// Median, min and max of a sample.
fn stats(ms: &[f64]) -> (f64, f64, f64) {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The `key = value` lines of the main workspace's `[profile.release]`, so that the
/// baselines are built exactly as the function is.
fn release_profile(root: &Path) -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let section = manifest
        .split("\n[")
        .find(|s| s.starts_with("profile.release]"))
        .ok_or("the main workspace has no [profile.release]")?;
    Ok(section
        .lines()
        .skip(1)
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect())
}

fn cargo(dir: &Path, args: &[&str], target_dir: Option<&Path>) -> Result<()> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir).args(args);
    if let Some(t) = target_dir {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    println!("$ (cd {}) cargo {}", dir.display(), args.join(" "));
    let status = cmd.status().map_err(|e| format!("cargo: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or(format!("cargo {} failed: {status}", args.join(" ")))
}

fn target_directory(root: &Path) -> Result<PathBuf> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--locked", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let meta: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata has no target_directory".into())
}

/// A stripped copy of `binary`: what a deployment zips, and what is timed.
fn stage(dir: &Path, name: &str, binary: &Path, is_function: bool) -> Result<Target> {
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = dir.join(file);
    std::fs::copy(binary, &path).map_err(|e| format!("{}: {e}", binary.display()))?;
    let status = Command::new("strip")
        .arg(&path)
        .status()
        .map_err(|e| format!("strip: {e}"))?;
    if !status.success() {
        return Err(format!("strip {} failed", path.display()));
    }
    Ok(Target {
        name: name.into(),
        path,
        is_function,
    })
}

/// Size and gzip -9 size of a file.
fn sizes_of(path: &Path) -> Result<(u64, u64)> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).map_err(|e| e.to_string())?;
    let gz = gz.finish().map_err(|e| e.to_string())?;
    Ok((bytes.len() as u64, gz.len() as u64))
}

/// `cargo lambda build --release --arm64` of the function: its bootstrap's size and gzip
/// size. `-p`, not only `--bin`: the latter selects every default member, and the CLI's
/// features (image codecs, the SDK's defaults) would unify into the function.
fn arm64_bootstrap(root: &Path, target: &Path) -> Result<(u64, u64)> {
    cargo(
        root,
        &[
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--locked",
            "-p",
            "picrypt-function",
        ],
        None,
    )?;
    sizes_of(&target.join("lambda/picrypt-function/bootstrap"))
}

/// The environment Lambda gives a function, with fake credentials and the bucket set.
fn lambda_env(runtime_api: String, bucket: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "picrypt-function"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/picrypt-function"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/03/[$LATEST]coldstart",
        ),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "coldstart"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("PICRYPT_BUCKET", bucket),
        ("PATH", "/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The tests' Function-URL event (`function/tests/events/function_url.json`), as a
/// `POST /diff` with `body`.
fn function_url_event(root: &Path, body: &str) -> Result<Arc<Vec<u8>>> {
    let path = root.join("function/tests/events/function_url.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut event: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    event["body"] = Value::String(body.to_string());
    Ok(Arc::new(
        serde_json::to_vec(&event).map_err(|e| e.to_string())?,
    ))
}

/// A 64×48 RGB mask pair and its key, to ask for and check a difference.
struct Pair {
    key: Key,
    a: Vec<u8>,
    b: Vec<u8>,
}

impl Pair {
    const KEY_A: &str = "picrypt/coldstart/a.picrypt";
    const KEY_B: &str = "picrypt/coldstart/b.picrypt";

    fn new() -> Result<Pair> {
        let (before, after) = picrypt_core::demo::pair(64, 48);
        let key = Key::generate(Scheme::MASK).map_err(|e| e.to_string())?;
        let a = key.encrypt(&before).map_err(|e| e.to_string())?.to_bytes();
        let b = key.encrypt(&after).map_err(|e| e.to_string())?.to_bytes();
        Ok(Pair { key, a, b })
    }

    fn inline_body(&self) -> String {
        json!({"a": {"inline": B64.encode(&self.a)}, "b": {"inline": B64.encode(&self.b)}})
            .to_string()
    }

    fn s3_body(&self) -> String {
        json!({"a": {"s3": {"key": Self::KEY_A}}, "b": {"s3": {"key": Self::KEY_B}}}).to_string()
    }

    /// Puts both inputs in the bucket (an S3-protocol test server that takes any signature).
    fn upload(&self, endpoint: &str, bucket: &str) -> Result<()> {
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        http_put(host, &format!("/{bucket}"), &[])?;
        http_put(host, &format!("/{bucket}/{}", Self::KEY_A), &self.a)?;
        http_put(host, &format!("/{bucket}/{}", Self::KEY_B), &self.b)
    }

    /// The answer must be a 200 whose result is A − B of exactly these inputs.
    fn check(&self, answer: &[u8]) -> Result<()> {
        let answer: Value = serde_json::from_slice(answer).map_err(|e| format!("answer: {e}"))?;
        let body: Value = answer["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        let result = match (
            answer["statusCode"].as_u64(),
            body["result"]["inline"].as_str(),
        ) {
            (Some(200), Some(r)) => B64.decode(r).map_err(|e| e.to_string())?,
            _ => {
                return Err(format!(
                    "the function did not answer with a result: {answer}"
                ))
            }
        };
        let checked =
            verify::check_result(Op::Sub, &self.a, &self.b, &result).map_err(|e| e.to_string())?;
        checked.decrypt(&self.key).map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn http_put(host: &str, path: &str, body: &[u8]) -> Result<()> {
    let mut s = TcpStream::connect(host).map_err(|e| format!("{host}: {e}"))?;
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .and_then(|_| s.write_all(body))
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    match answer.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!(
            "PUT {path}: {}",
            answer.lines().next().unwrap_or("")
        )),
    }
}

/// What a started binary posted as its first answer, and when.
struct Answer {
    ms: f64,
    body: Vec<u8>,
}

/// A loopback stand-in of the Lambda Runtime API: hands each started process one event,
/// and reports the answer it posts. Every connection is served on its own thread; a
/// generation number keeps a killed process's late requests out of the next start.
struct RuntimeApi {
    addr: String,
    shared: Arc<Shared>,
    answers: mpsc::Receiver<(u64, Vec<u8>)>,
}

struct Shared {
    generation: AtomicU64,
    /// The last generation an event was handed to.
    served: AtomicU64,
    event: Mutex<Arc<Vec<u8>>>,
}

impl RuntimeApi {
    fn start() -> Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            served: AtomicU64::new(0),
            event: Mutex::new(Arc::new(Vec::new())),
        });
        let (tx, answers) = mpsc::channel();
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (s, tx) = (s.clone(), tx.clone());
                let generation = s.generation.load(Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = serve(conn, generation, &s, &tx);
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            shared,
            answers,
        })
    }

    fn addr(&self) -> String {
        self.addr.clone()
    }

    /// Starts `binary` and waits for its answer to `event`; the clock runs from just before
    /// the process is spawned to the end of the answer's body.
    fn cold_answer(
        &self,
        binary: &Path,
        env: &[(String, String)],
        event: &Arc<Vec<u8>>,
    ) -> Result<Answer> {
        *self.shared.event.lock().unwrap() = event.clone();
        let generation = self.shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let started = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let mut child = KillOnDrop(child);
        loop {
            let (g, body) = self
                .answers
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| format!("{}: no answer in 30 s", binary.display()))?;
            if g == generation {
                let ms = started.elapsed().as_secs_f64() * 1e3;
                child.0.kill().map_err(|e| e.to_string())?;
                child.0.wait().map_err(|e| e.to_string())?;
                return Ok(Answer { ms, body });
            }
        }
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves one connection: `GET …/invocation/next` gets the event (once per generation),
/// `POST …/invocation/ID/response` is reported, anything else is an error the run reports.
fn serve(
    conn: TcpStream,
    generation: u64,
    shared: &Shared,
    answers: &Sender<(u64, Vec<u8>)>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("").to_string(),
        );
        let body = read_body(&mut reader)?;
        if method == "GET" && path.ends_with("/invocation/next") {
            if shared.served.swap(generation, Ordering::SeqCst) == generation {
                return Ok(()); // a second event: the process is about to be killed
            }
            let event = shared.event.lock().unwrap().clone();
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + Duration::from_secs(60);
            write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: coldstart-{generation}\r\n\
                 lambda-runtime-deadline-ms: {}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:picrypt-function\r\n\
                 lambda-runtime-trace-id: Root=1-6745a1b0-0123456789abcdef01234567;Sampled=0\r\n\
                 content-length: {}\r\n\r\n",
                deadline.as_millis(),
                event.len()
            )?;
            conn.write_all(&event)?;
        } else if method == "POST" && path.ends_with("/response") {
            let _ = answers.send((generation, body));
            conn.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")?;
        } else {
            let report = format!("{method} {path}: {}", String::from_utf8_lossy(&body));
            let _ = answers.send((generation, report.into_bytes()));
            conn.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")?;
        }
    }
}

/// Reads the headers and the body (by length or chunked) of a request.
fn read_body(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if !chunked {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).unwrap_or(0);
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
        if size == 0 {
            return Ok(body);
        }
    }
}
