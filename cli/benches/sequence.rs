//! Sequences: `picrypt sequence` over 200 generated frames of 640×480, in process and
//! against `picrypt serve` on loopback at `--jobs` 1, 2, 4 and 8 (and `cargo lambda watch`
//! when its URL is set), paired round by round: frames per second end to end, where the
//! time went by stage (from `picrypt sequence --json`), and each mode's ratio to the
//! in-process run of the same round.
//!
//! ```sh
//! cargo bench -p picrypt --bench sequence
//! PICRYPT_E2E_LAMBDA_URL=http://127.0.0.1:9000/lambda-url/picrypt-function \
//!     cargo bench -p picrypt --bench sequence             # + cargo lambda watch
//! cargo bench -p picrypt --bench sequence -- --frames 200 --rounds 3 --jobs 1,2,4,8
//! ```
//!
//! Every run starts from an empty output folder (nothing is resumed) with the same key.
//! A mode's figures are the medians over rounds; its ratio is the median of its per-round
//! ratios to in process. `cargo lambda watch`'s emulator now and then loses a large answer
//! (cli/tests/remote.rs, `ok_via`): the sequence retries those like any 5xx; they are
//! counted apart, by the same rule, from the product's own errors, which must be zero.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

mod common;

use common::{scene, serve, PICRYPT};

const STAGES: [&str; 8] = [
    "decode",
    "encrypt",
    "upload",
    "request",
    "server",
    "download",
    "check_decrypt",
    "render",
];

/// `n` frames of a textured scene with a block that moves across it (and rests now and
/// then), as PNG files.
fn frames(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let x0 = 40 + (i as u32 * 7 % 480);
        let moving = i % 40 < 30;
        let x0 = if moving { x0 } else { 40 };
        let image = scene(640, 480, (x0, 180), (120, 120));
        image.save(dir.join(format!("frame{i}.png"))).unwrap();
    }
}

struct Mode {
    name: String,
    args: Vec<String>,
    emulated: bool,
}

/// One whole `picrypt sequence` into a fresh folder: wall seconds and its `--json`.
fn run(mode: &Mode, input: &Path, work: &Path) -> (f64, Value) {
    let out = work.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let t = Instant::now();
    let done = Command::new(PICRYPT)
        .arg("sequence")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .arg("--key")
        .arg(work.join("k.key"))
        .arg("--json")
        .args(&mode.args)
        .output()
        .expect("picrypt runs");
    let wall = t.elapsed().as_secs_f64();
    assert!(
        done.status.success(),
        "{}: {}",
        mode.name,
        String::from_utf8_lossy(&done.stderr)
    );
    let _ = std::fs::remove_dir_all(&out);
    (wall, serde_json::from_slice(&done.stdout).expect("--json"))
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Whether a retry was `cargo lambda watch` losing an answer (the rule of
/// cli/tests/remote.rs's `ok_via`): its own bare 500, or no answer in time.
fn lost_by_emulator(reason: &str) -> bool {
    reason.contains("answered HTTP 500: {\"type\":\"https://httpstatuses.com/500\"")
        || reason.contains("timed out after")
}

fn main() {
    let (mut n, mut rounds, mut jobs) = (200usize, 3usize, vec![1u32, 2, 4, 8]);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--frames" => {
                n = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--frames N")
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--jobs" => {
                jobs = args
                    .next()
                    .expect("--jobs 1,2,4")
                    .split(',')
                    .map(|j| j.parse().expect("--jobs 1,2,4"))
                    .collect()
            }
            "--bench" => {}
            other => panic!("unknown argument {other:?}"),
        }
    }
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("frames");
    let t = Instant::now();
    frames(&input, n);
    let status = Command::new(PICRYPT)
        .args(["keygen", "-o"])
        .arg(work.path().join("k.key"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!(
        "{n} frames of 640×480 RGB made in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (_server, url) = serve(&[], &[]);
    let mut modes = vec![Mode {
        name: "in process".into(),
        args: vec![],
        emulated: false,
    }];
    for &j in &jobs {
        modes.push(Mode {
            name: format!("picrypt serve, --jobs {j}"),
            args: vec!["--url".into(), url.clone(), "--jobs".into(), j.to_string()],
            emulated: false,
        });
    }
    if let Ok(lambda) = std::env::var("PICRYPT_E2E_LAMBDA_URL") {
        for &j in &jobs {
            modes.push(Mode {
                name: format!("cargo lambda watch, --jobs {j}"),
                args: vec![
                    "--url".into(),
                    lambda.clone(),
                    "--jobs".into(),
                    j.to_string(),
                    // On loopback an answer takes milliseconds: one the emulator lost is
                    // given up after 5 s and asked again (counted apart below).
                    "--timeout".into(),
                    "5".into(),
                ],
                emulated: true,
            });
        }
    }

    // Per mode: wall seconds, ratios to in process, stage ms per frame, retries.
    let mut walls: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut ratios: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut stages: BTreeMap<(usize, &str), Vec<f64>> = BTreeMap::new();
    let (mut lost, mut own) = (BTreeMap::<usize, usize>::new(), 0usize);
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..modes.len()).collect();
        order.rotate_left(round % modes.len());
        let mut this = BTreeMap::new();
        for i in order {
            let (wall, doc) = run(&modes[i], &input, work.path());
            assert_eq!(
                doc["pairs"].as_u64(),
                Some(n as u64 - 1),
                "{}",
                modes[i].name
            );
            this.insert(i, wall);
            walls.entry(i).or_default().push(wall);
            for s in STAGES {
                let ms = doc["stages_ms"][s].as_f64().unwrap_or(0.0) / n as f64;
                stages.entry((i, s)).or_default().push(ms);
            }
            for r in doc["retries"].as_array().into_iter().flatten() {
                let reason = r["reason"].as_str().unwrap_or("");
                if modes[i].emulated && lost_by_emulator(reason) {
                    *lost.entry(i).or_default() += 1;
                } else {
                    eprintln!("{}: a retry of the product's own: {reason}", modes[i].name);
                    own += 1;
                }
            }
            eprintln!("round {}: {:<30} {wall:>6.2} s", round + 1, modes[i].name);
        }
        for (&i, &wall) in &this {
            ratios.entry(i).or_default().push(wall / this[&0]);
        }
    }

    println!(
        "\n{n} frames of 640×480 RGB ({} differences), {rounds} rounds; medians. Stages in ms per frame, summed over the threads that ran them (they overlap).\n",
        n - 1
    );
    print!("| {:<30} | frames/s | wall s | × in process |", "mode");
    for s in STAGES {
        print!(" {s} |");
    }
    println!();
    print!("|---|---:|---:|---:|");
    for _ in STAGES {
        print!("---:|");
    }
    println!();
    for (i, mode) in modes.iter().enumerate() {
        let wall = median(&walls[&i]);
        print!(
            "| {:<30} | {:>8.1} | {wall:>6.2} | {:>12.2} |",
            mode.name,
            n as f64 / wall,
            median(&ratios[&i])
        );
        for s in STAGES {
            print!(" {:.2} |", median(&stages[&(i, s)]));
        }
        println!();
    }
    let best = (1..modes.len())
        .filter(|&i| !modes[i].emulated)
        .min_by(|&a, &b| median(&ratios[&a]).total_cmp(&median(&ratios[&b])));
    if let Some(best) = best {
        println!(
            "\nbest network path: {} at {:.2}× the in-process engine (goal ≤ 1.5×)",
            modes[best].name,
            median(&ratios[&best])
        );
    }
    for (i, count) in &lost {
        println!(
            "{}: {count} answer(s) lost by the emulator and retried",
            modes[*i].name
        );
    }
    println!("the product's own errors: {own}");
    assert_eq!(own, 0, "retries that were not the emulator's");
}
