//! The network path, whole process: `picrypt run` of one pair in this process and against
//! the function over loopback, paired run by run, with where each millisecond goes.
//!
//! ```sh
//! cargo bench -p picrypt --bench network                 # picrypt serve, framed and JSON
//! PICRYPT_E2E_LAMBDA_URL=http://127.0.0.1:9000/lambda-url/picrypt-function \
//!     cargo bench -p picrypt --bench network             # + cargo lambda watch
//! cargo bench -p picrypt --bench network -- --s3         # + through S3 (moto on PATH)
//! cargo bench -p picrypt --bench network -- --runs 31 --pair BEFORE AFTER
//! cargo bench -p picrypt --bench network -- --sequence 40   # + a sequence of the pair
//! ```
//!
//! With `--sequence N`, `picrypt sequence` also runs over N frames that alternate between
//! the pair's two images, in process and against the same `picrypt serve` at `--jobs 2`,
//! paired round by round (five rounds): a sequence's network-vs-in-process ratio beside
//! the pair's.
//!
//! The pair is `../shared/data/original-demo/` (the earlier Python version's 1005×642 demo
//! pair, "the seed pair") when it is there, else a generated scene of the same size. Each
//! round runs every mode once, in a rotating order; a mode's ratio is the median of its
//! per-round ratios to the in-process run of the same round. The breakdown comes from
//! `picrypt run --json`'s steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use picrypt_testkit::{S3Server, AWS_TEST_ENV};
use serde_json::Value;

mod common;

use common::{scene, serve, PICRYPT};
/// The earlier Python version on the seed pair, end to end (median of its runs, issue 15).
const PYTHON_MS: f64 = 4400.0;

struct Mode {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// A 1005×642 scene and the same with an object moved, as PNG.
fn generated_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let scene = |ox: u32| scene(1005, 642, (ox, 240), (160, 160));
    let (before, after) = (dir.join("before.png"), dir.join("after.png"));
    scene(300).save(&before).unwrap();
    scene(520).save(&after).unwrap();
    (before, after)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// One whole `picrypt run`: wall milliseconds and its `--json` document. A run that
/// times out is run again (at most twice) and counted in `lost`: `cargo lambda watch`
/// now and then never hands a request to the function (seen with JSON and framed bodies
/// alike, about 1 in 40 at this size).
fn run_once(
    mode: &Mode,
    dir: &Path,
    before: &Path,
    after: &Path,
    lost: &mut usize,
) -> (f64, Value) {
    for _ in 0..2 {
        match try_run(mode, dir, before, after) {
            Ok(done) => return done,
            Err(e) if e.contains("timed out") => *lost += 1,
            Err(e) => panic!("{}: {e}", mode.name),
        }
    }
    try_run(mode, dir, before, after).unwrap_or_else(|e| panic!("{}: {e}", mode.name))
}

fn try_run(mode: &Mode, dir: &Path, before: &Path, after: &Path) -> Result<(f64, Value), String> {
    let t = Instant::now();
    let out = Command::new(PICRYPT)
        .current_dir(dir)
        .args(["run", "--json", "--key", "k.key", "-o", "out.png"])
        .args(if mode.args.is_empty() {
            &[][..]
        } else {
            &["--timeout", "15"][..]
        })
        .arg(before)
        .arg(after)
        .args(&mode.args)
        .envs(mode.env.iter().cloned())
        .output()
        .expect("picrypt runs");
    let wall = t.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok((
        wall,
        serde_json::from_slice(&out.stdout).expect("run --json"),
    ))
}

/// The figures of one run's steps: step name → ms, and the subtract step's figures.
fn breakdown(doc: &Value) -> BTreeMap<String, f64> {
    let mut parts = BTreeMap::new();
    for step in doc["steps"].as_array().into_iter().flatten() {
        let name = step["step"].as_str().unwrap_or("?").to_string();
        parts.insert(name, step["ms"].as_f64().unwrap_or(0.0));
        let f = &step["figures"];
        if f.is_object() {
            let server = f["server_ms"].as_f64().unwrap_or(0.0);
            let mut put = |k: &str, v: Option<f64>| {
                if let Some(v) = v {
                    parts.insert(k.to_string(), v);
                }
            };
            put("  client encode", f["client_encode_ms"].as_f64());
            if f["overlapped"].as_bool() == Some(true) {
                // A went out while B was encrypted: this step is the wait from B handed
                // over to the whole answer.
                put("  B sent → whole answer", f["round_trip_ms"].as_f64());
                put("    B sent → answer's head", f["answer_head_ms"].as_f64());
                put(
                    "    answer's body",
                    f["round_trip_ms"]
                        .as_f64()
                        .zip(f["answer_head_ms"].as_f64())
                        .map(|(r, h)| r - h),
                );
            } else {
                put("  round trip", f["round_trip_ms"].as_f64());
                put(
                    "    transfer (round trip − server)",
                    f["round_trip_ms"].as_f64().map(|r| r - server),
                );
            }
            put("    server", Some(server));
            put("      server decode", f["server"]["decode_ms"].as_f64());
            put("      server fetch", f["server"]["fetch_ms"].as_f64());
            put("      server compute", f["server"]["compute_ms"].as_f64());
            put("      server encode", f["server"]["encode_ms"].as_f64());
            put("      server store", f["server"]["store_ms"].as_f64());
            put("  client decode", f["client_decode_ms"].as_f64());
        }
    }
    parts
}

/// `picrypt sequence` over `n` frames alternating between `before` and `after`, in process
/// and against `url` at `--jobs 2`, paired over five rounds: the table's rows.
fn sequence_rows(dir: &Path, before: &Path, after: &Path, n: usize, url: &str) -> Vec<String> {
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for i in 0..n {
        let from = if i % 2 == 0 { before } else { after };
        std::fs::copy(from, frames.join(format!("frame{i:04}.png"))).unwrap();
    }
    let modes: [(&str, Vec<&str>); 2] = [
        ("in process", vec![]),
        ("picrypt serve, --jobs 2", vec!["--url", url, "--jobs", "2"]),
    ];
    let mut walls = vec![Vec::new(); modes.len()];
    let mut ratios = vec![Vec::new(); modes.len()];
    for round in 0..5 {
        let mut this = vec![0.0; modes.len()];
        for k in 0..modes.len() {
            let i = (k + round) % modes.len();
            let out = dir.join("sequence-out");
            let _ = std::fs::remove_dir_all(&out);
            let t = Instant::now();
            let done = Command::new(PICRYPT)
                .current_dir(dir)
                .arg("sequence")
                .arg(&frames)
                .args(["-o", "sequence-out", "--key", "k.key", "--json"])
                .args(&modes[i].1)
                .output()
                .expect("picrypt runs");
            assert!(
                done.status.success(),
                "sequence, {}: {}",
                modes[i].0,
                String::from_utf8_lossy(&done.stderr)
            );
            this[i] = t.elapsed().as_secs_f64();
        }
        for i in 0..modes.len() {
            walls[i].push(this[i]);
            ratios[i].push(this[i] / this[0]);
        }
    }
    modes
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let wall = median(&mut walls[i]);
            format!(
                "| {name} | {wall:.2} | {:.1} | {:.2}× |",
                n as f64 / wall,
                median(&mut ratios[i])
            )
        })
        .collect()
}

fn main() {
    let mut runs = 15usize;
    let mut with_s3 = false;
    let mut sequence: Option<usize> = None;
    let mut pair: Option<(PathBuf, PathBuf)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--s3" => with_s3 = true,
            "--sequence" => {
                sequence = Some(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n >= 2)
                        .expect("--sequence N (frames, at least 2)"),
                )
            }
            "--pair" => {
                let a = args.next().expect("--pair BEFORE AFTER");
                let b = args.next().expect("--pair BEFORE AFTER");
                pair = Some((a.into(), b.into()));
            }
            "--bench" => {}
            other => panic!("unknown argument {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/original-demo");
    let (before, after, which) = match pair {
        Some((a, b)) => (a, b, "the pair given".to_string()),
        None if seed.join("before.png").exists() => (
            seed.join("before.png"),
            seed.join("after.png"),
            "the seed pair (../shared/data/original-demo)".to_string(),
        ),
        None => {
            let (a, b) = generated_pair(dir.path());
            (
                a,
                b,
                "a generated 1005×642 pair (the seed pair is not here)".to_string(),
            )
        }
    };
    let status = Command::new(PICRYPT)
        .current_dir(dir.path())
        .args(["keygen", "-o", "k.key", "-q"])
        .status()
        .unwrap();
    assert!(status.success());

    let (_serve, serve_url) = serve(&[], &[]);
    let mode = |name: &str, args: &[&str]| Mode {
        name: name.to_string(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
    };
    let mut modes = vec![
        mode("in process", &[]),
        mode("picrypt serve, framed", &["--url", &serve_url]),
        mode(
            "picrypt serve, JSON",
            &["--url", &serve_url, "--wire", "json"],
        ),
    ];
    if let Ok(url) = std::env::var("PICRYPT_E2E_LAMBDA_URL") {
        modes.push(mode("cargo lambda watch, framed", &["--url", &url]));
        modes.push(mode(
            "cargo lambda watch, JSON",
            &["--url", &url, "--wire", "json"],
        ));
    }
    let mut s3_keep = None;
    if with_s3 {
        let s3 = S3Server::start();
        let bucket = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(s3.bucket("picrypt-bench"));
        let mut env: Vec<(String, String)> = AWS_TEST_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("AWS_ENDPOINT_URL".into(), s3.endpoint.clone()));
        let (server, url) = serve(&["--bucket", &bucket], &env);
        let mut m = mode(
            "picrypt serve, through S3 (moto)",
            &["--url", &url, "--s3-bucket", &bucket],
        );
        m.env = env;
        modes.push(m);
        s3_keep = Some((s3, server));
    }

    // Warm-up: page cache, the servers' first connection.
    let mut lost = vec![0usize; modes.len()];
    for (i, m) in modes.iter().enumerate() {
        run_once(m, dir.path(), &before, &after, &mut lost[i]);
    }
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut parts: Vec<BTreeMap<String, Vec<f64>>> = vec![BTreeMap::new(); modes.len()];
    for round in 0..runs {
        let mut this_round = vec![0.0; modes.len()];
        for k in 0..modes.len() {
            let i = (k + round) % modes.len();
            let (wall, doc) = run_once(&modes[i], dir.path(), &before, &after, &mut lost[i]);
            this_round[i] = wall;
            for (name, ms) in breakdown(&doc) {
                parts[i].entry(name).or_default().push(ms);
            }
        }
        for i in 0..modes.len() {
            walls[i].push(this_round[i]);
            ratios[i].push(this_round[i] / this_round[0]);
        }
    }
    drop(s3_keep);

    println!("network path: {which}, {runs} rounds, whole `picrypt run` processes, median");
    println!("\n| mode | wall ms | × in process (paired) | × faster than Python (4.4 s) |");
    println!("|---|---|---|---|");
    for (i, m) in modes.iter().enumerate() {
        let wall = median(&mut walls[i]);
        println!(
            "| {} | {wall:.1} | {:.2}× | {:.0}× |",
            m.name,
            median(&mut ratios[i]),
            PYTHON_MS / wall
        );
    }
    let names: Vec<String> = {
        let order = ["read", "encrypt", "subtract", "decrypt", "render"];
        let mut all: Vec<String> = parts
            .iter()
            .flat_map(|p| p.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        all.sort_by_key(|n| {
            let top = order.iter().position(|o| n == o);
            (top.unwrap_or(usize::MAX), n.clone())
        });
        // Sub-figures of `subtract` go right after it, in the order breakdown() lists them.
        let mut out = Vec::new();
        for n in all.iter().filter(|n| !n.starts_with(' ')) {
            out.push(n.clone());
            if n == "subtract" {
                for sub in [
                    "  client encode",
                    "  B sent → whole answer",
                    "    B sent → answer's head",
                    "    answer's body",
                    "  round trip",
                    "    transfer (round trip − server)",
                    "    server",
                    "      server decode",
                    "      server fetch",
                    "      server compute",
                    "      server encode",
                    "      server store",
                    "  client decode",
                ] {
                    if all.iter().any(|a| a == sub) {
                        out.push(sub.to_string());
                    }
                }
            }
        }
        out
    };
    println!("\nwhere the time goes (median ms of each step, from `picrypt run --json`):\n");
    let header: Vec<&str> = modes.iter().map(|m| m.name.as_str()).collect();
    println!("| step | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(modes.len()));
    for name in names {
        let cells: Vec<String> = parts
            .iter_mut()
            .map(|p| match p.get_mut(&name) {
                Some(v) if !v.is_empty() => format!("{:.2}", median(v)),
                _ => "".into(),
            })
            .collect();
        println!(
            "| {} | {} |",
            // Indent sub-figures with non-breaking spaces, which Markdown keeps.
            name.replace(' ', "\u{a0}"),
            cells.join(" | ")
        );
    }
    println!("\n(the steps leave out process start and argument checks; wall − Σ steps is that)");
    if let Some(n) = sequence {
        println!(
            "\nsequence: `picrypt sequence` over {n} frames alternating between the pair's images, 5 rounds, median\n"
        );
        println!("| mode | wall s | frames/s | × in process (paired) |");
        println!("|---|---|---|---|");
        for row in sequence_rows(dir.path(), &before, &after, n, &serve_url) {
            println!("{row}");
        }
    }
    for (i, m) in modes.iter().enumerate() {
        if lost[i] > 0 {
            println!(
                "{}: {} request(s) timed out and were run again",
                m.name, lost[i]
            );
        }
    }
}
