//! `picrypt sequence --state-machine`, the real binary, against the real state machine
//! definition (`statemachine/fanout.asl.json`) run by moto's Step Functions interpreter
//! (`picrypt_testkit::StepFunctions`: a `moto_server` of the test's own with execution on),
//! whose Map reads the manifest from S3 (moto), invokes the real function entry point
//! (`picrypt_function::invoke`, behind `picrypt_testkit::CheatServer` answering the Invoke
//! API) once per item and writes its summary to S3. So the CLI's side of the contract
//! (docs/DEPLOY.md, "Fan-out with Step Functions") and the definition's item handling are
//! tested together on loopback; AWS's own engine is not (no local run shows its
//! concurrency bound, its retries' timing, its tolerated failures, its summary files or
//! IAM): moto's summary has no result files, so a failed pair is reported here from its
//! missing result, and the summary's FAILED records are read only in the unit tests of
//! `cli/src/sequence/fanout.rs`.
//!
//! Each test costs a moto start (a few seconds) and one to three executions.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use common::{ok, run};
use image::{Rgb, RgbImage};
use picrypt_core::ops::{self, Op};
use picrypt_function::{App, Config};
use picrypt_testkit::{
    Cheat, CheatServer, Fault, FaultProxy, Injection, S3Server, StepFunctions, AWS_TEST_ENV,
};
use serde_json::Value;
use tempfile::TempDir;

const PREFIX: &str = "picrypt/";
/// The function's name in the definition (the template substitutes its ARN; the Invoke
/// API takes either).
const FUNCTION: &str = "picrypt-function";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Frame `i`: a background and a block that moves right.
fn frame(i: usize) -> RgbImage {
    let x0 = 2 + 4 * i as u32;
    RgbImage::from_fn(24, 16, |x, y| {
        if (x0..x0 + 5).contains(&x) && (5..10).contains(&y) {
            Rgb([230, 20, 40])
        } else {
            Rgb([(x * 9) as u8, (y * 11) as u8, ((x + y) * 5) as u8])
        }
    })
}

/// Frames, a key, the S3 bucket, the function, and moto's Step Functions with the fan-out
/// state machine created from the repository's definition.
struct Stack {
    dir: TempDir,
    s3: S3Server,
    bucket: String,
    function: CheatServer,
    /// The proxy the function's S3 requests go through, when it breaks some.
    storage: Option<FaultProxy>,
    sfn: StepFunctions,
    client: aws_sdk_sfn::Client,
    state_machine: String,
}

impl Stack {
    /// `n` frames in `in/`; the function's S3 requests meet `fault`, if given.
    fn new(n: usize, fault: Option<Injection>) -> Stack {
        let dir = TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        for i in 0..n {
            frame(i)
                .save(dir.path().join(format!("in/f{}.png", i + 1)))
                .unwrap();
        }
        let s3 = S3Server::start();
        let bucket = rt().block_on(s3.bucket("picrypt-fanout"));
        let storage = fault.map(|fault| {
            let proxy = FaultProxy::start(&s3.endpoint);
            proxy.inject(fault);
            proxy
        });
        let client = match &storage {
            Some(proxy) => S3Server::at(proxy.endpoint.clone()).client(),
            None => s3.client(),
        };
        let app = App {
            config: Config {
                bucket: Some(bucket.clone()),
                prefix: PREFIX.into(),
                max_object_bytes: Config::DEFAULT_MAX_OBJECT_BYTES,
            },
            s3: Some(client),
        };
        let function = CheatServer::start(Cheat::Honest, app);
        let sfn = StepFunctions::start(&s3.endpoint, function.url());
        let client = sfn_client(&sfn.endpoint);
        let definition = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../statemachine/fanout.asl.json"),
        )
        .unwrap()
        .replace("${Bucket}", &bucket)
        .replace("${Prefix}", PREFIX)
        .replace("${FunctionArn}", FUNCTION)
        .replace("${MaxConcurrency}", "2")
        // moto's grammar takes only a decimal here (and does not enforce it).
        .replace("${ToleratedFailurePercentage}", "10.0");
        let state_machine = rt().block_on(async {
            client
                .create_state_machine()
                .name("PicryptFanOut")
                .definition(definition)
                .role_arn("arn:aws:iam::123456789012:role/picrypt-fanout")
                .send()
                .await
                .expect("moto takes the definition")
                .state_machine_arn()
                .to_string()
        });
        let stack = Stack {
            dir,
            s3,
            bucket,
            function,
            storage,
            sfn,
            client,
            state_machine,
        };
        ok(picrypt().args(["keygen", "-o"]).arg(stack.p("k.key")));
        stack
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `picrypt sequence in/ -o OUT --npy --key k.key`, and with the state machine.
    fn sequence(&self, out: &str, fan_out: bool) -> Command {
        let mut c = picrypt();
        c.arg("sequence")
            .arg(self.p("in"))
            .arg("-o")
            .arg(self.p(out))
            .arg("--npy")
            .arg("--key")
            .arg(self.p("k.key"));
        if fan_out {
            c.args([
                "--s3-bucket",
                &self.bucket,
                "--state-machine",
                &self.state_machine,
            ])
            .envs(AWS_TEST_ENV)
            .env("AWS_ENDPOINT_URL", &self.s3.endpoint)
            .env("AWS_ENDPOINT_URL_SFN", &self.sfn.endpoint);
        }
        c
    }

    /// The keys under the prefix.
    fn objects(&self) -> Vec<String> {
        rt().block_on(async {
            self.s3
                .client()
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(PREFIX)
                .send()
                .await
                .unwrap()
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect()
        })
    }

    fn get(&self, key: &str) -> Vec<u8> {
        rt().block_on(async {
            let object = self
                .s3
                .client()
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            object.body.collect().await.unwrap().to_vec()
        })
    }

    fn put(&self, key: &str, bytes: Vec<u8>) {
        rt().block_on(self.s3.put(&self.bucket, key, bytes));
    }

    /// Every execution of the state machine: (ARN, status, input).
    fn executions(&self) -> Vec<(String, String, String)> {
        rt().block_on(async {
            let listed = self
                .client
                .list_executions()
                .state_machine_arn(&self.state_machine)
                .send()
                .await
                .unwrap();
            let mut out = Vec::new();
            for e in listed.executions() {
                let d = self
                    .client
                    .describe_execution()
                    .execution_arn(e.execution_arn())
                    .send()
                    .await
                    .unwrap();
                out.push((
                    e.execution_arn().to_string(),
                    d.status().as_str().to_string(),
                    d.input().unwrap_or("").to_string(),
                ));
            }
            out
        })
    }

    /// Waits until no execution runs.
    fn wait_for_executions(&self) {
        let start = Instant::now();
        while self
            .executions()
            .iter()
            .any(|(_, status, _)| status == "RUNNING")
        {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the execution did not finish: {:?}",
                self.executions()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn picrypt() -> Command {
    let mut c = Command::cargo_bin("picrypt").unwrap();
    c.env_remove("PICRYPT_LOG").env_remove("RUST_LOG");
    c
}

fn sfn_client(endpoint: &str) -> aws_sdk_sfn::Client {
    let (id, secret) = (AWS_TEST_ENV[0].1, AWS_TEST_ENV[1].1);
    let config = aws_sdk_sfn::config::Builder::new()
        .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
        .region(aws_sdk_sfn::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            id, secret, None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

fn json_of(cmd: &mut Command) -> Value {
    serde_json::from_str(&ok(cmd.arg("--json"))).unwrap()
}

/// Every file of `reference` (an in-process run with the same key) is in `out` with the
/// same bytes: renders, `.npy`, statistics, the animation, the plot and the manifest.
fn same_outputs(reference: &Path, out: &Path, except: &[&str]) {
    let mut compared = 0;
    for entry in std::fs::read_dir(reference).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "animation.mp4" || except.iter().any(|e| name.contains(e)) {
            continue;
        }
        let theirs = std::fs::read(out.join(&name))
            .unwrap_or_else(|e| panic!("{} has no {name}: {e}", out.display()));
        assert!(
            std::fs::read(reference.join(&name)).unwrap() == theirs,
            "{name} differs from the in-process run's"
        );
        compared += 1;
    }
    assert!(compared > 5, "only {compared} files compared");
}

/// The whole round: frames uploaded once, the manifest object and the execution's input
/// as documented, every pair run by the definition and collected, the outputs those of
/// an in-process run, nothing left in S3, and the same command again reuses everything.
#[test]
fn the_state_machine_runs_every_pair_and_each_result_is_checked() {
    let stack = Stack::new(4, None);
    ok(&mut stack.sequence("reference", false));
    let doc = json_of(&mut stack.sequence("out", true));
    assert_eq!(doc["where"], stack.state_machine.as_str(), "{doc}");
    assert_eq!(
        (doc["pairs"].as_u64(), doc["computed"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(doc["uploaded"], 4, "each frame once: {doc}");
    assert_eq!(stack.function.requests(), 3, "one invocation per pair");
    same_outputs(&stack.p("reference"), &stack.p("out"), &[]);

    let executions = stack.executions();
    assert_eq!(executions.len(), 1);
    let (arn, status, input) = &executions[0];
    assert_eq!(status, "SUCCEEDED");
    let input: Value = serde_json::from_str(input).unwrap();
    let manifest = input["manifest"].as_str().unwrap();
    let job = arn.rsplit(":picrypt-").next().unwrap();
    assert_eq!(manifest, format!("{PREFIX}jobs/{job}/manifest.json"));
    assert_eq!(input.as_object().unwrap().len(), 1, "{input}");
    assert_eq!(stack.objects(), Vec::<String>::new(), "objects left in S3");

    let doc = json_of(&mut stack.sequence("out", true));
    assert_eq!(
        (doc["computed"].as_u64(), doc["reused"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(
        stack.executions().len(),
        1,
        "nothing to run, nothing started"
    );
}

/// `--detach` records the run (execution, keys, digests) and the manifest object lists
/// exactly its pairs; then the objects are tampered with before the collection: pair 2's
/// result replaced by pair 1's, and frame 5 replaced by frame 3 with pair 4's result
/// replaced by frame 4 − frame 3, which is a correct difference of the inputs then in S3.
/// Both are refused on their own pair, the others are written, nothing is left in S3,
/// and the same command again hands the two pairs to a new run.
#[test]
fn detach_then_collect_refuses_a_replaced_result_and_a_replaced_input() {
    let stack = Stack::new(5, None);
    ok(&mut stack.sequence("reference", false));
    let doc = json_of(stack.sequence("out", true).arg("--detach"));
    assert_eq!(doc["pairs_started"], 4, "{doc}");
    let recorded: Value =
        serde_json::from_slice(&std::fs::read(stack.p("out/manifest.json")).unwrap()).unwrap();
    let recorded = &recorded["fanout"];
    assert_eq!(recorded["execution"], doc["execution"]);
    assert_eq!(recorded["state_machine"], stack.state_machine.as_str());
    let base = recorded["base"].as_str().unwrap();
    let frames = recorded["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 5);
    for f in frames {
        let key = f["key"].as_str().unwrap();
        assert!(key.starts_with(base) && key.ends_with(".picrypt"), "{key}");
        let bytes = stack.get(key);
        assert_eq!(f["bytes"], bytes.len());
        assert_eq!(f["blake3"], blake3::hash(&bytes).to_hex().as_str());
    }
    let items: Value =
        serde_json::from_slice(&stack.get(recorded["manifest"].as_str().unwrap())).unwrap();
    let pairs = recorded["pairs"].as_array().unwrap();
    assert_eq!(items.as_array().unwrap().len(), 4);
    for (item, pair) in items.as_array().unwrap().iter().zip(pairs) {
        assert_eq!(item.as_object().unwrap().len(), 4, "{item}");
        for field in ["a", "b", "output"] {
            assert_eq!(item[field], pair[field], "{item} {pair}");
        }
        assert_eq!(item["op"], "sub");
    }

    stack.wait_for_executions();
    let key = |pair: usize, field: &str| pairs[pair - 1][field].as_str().unwrap().to_string();
    stack.put(&key(2, "output"), stack.get(&key(1, "output")));
    let (f3, f4) = (stack.get(&key(3, "a")), stack.get(&key(4, "a")));
    stack.put(
        &key(4, "output"),
        ops::apply_bytes(Op::Sub, &f4, &f3).unwrap(),
    );
    stack.put(&key(4, "b"), f3);

    let out = run(&mut stack.sequence("out", true));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("picrypt: failed: "))
        .collect();
    assert_eq!(failed.len(), 2, "{stderr}");
    assert!(failed[0].contains("pair 2 (f2 − f3)"), "{stderr}");
    assert!(
        failed[1].contains("pair 4 (f4 − f5)") && failed[1].contains("BLAKE3"),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("picrypt: error: 2 of 4 pairs") && last.contains("pair 2, pair 4"),
        "{stderr}"
    );
    for (pair, written) in [
        ("f1-f2", true),
        ("f2-f3", false),
        ("f3-f4", true),
        ("f4-f5", false),
    ] {
        assert_eq!(
            stack.p(&format!("out/diff-{pair}.npy")).exists(),
            written,
            "{pair}"
        );
    }
    assert_eq!(stack.objects(), Vec::<String>::new(), "objects left in S3");

    let doc = json_of(&mut stack.sequence("out", true));
    assert_eq!(
        (doc["computed"].as_u64(), doc["reused"].as_u64()),
        (Some(2), Some(2)),
        "{doc}"
    );
    assert_eq!(stack.executions().len(), 2);
    same_outputs(&stack.p("reference"), &stack.p("out"), &[]);
    assert_eq!(stack.objects(), Vec::<String>::new(), "objects left in S3");
}

/// The function refuses one item (its input vanished from S3 before it read it): the
/// definition fails that item, the CLI reports that pair in one line and writes the others.
#[test]
fn a_pair_the_function_refuses_is_reported_and_the_others_written() {
    let vanish = Injection::new(Fault::DeleteObject)
        .method("GET")
        .path("frame-000004");
    let stack = Stack::new(4, Some(vanish));
    let out = run(&mut stack.sequence("out", true));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("picrypt: failed: "))
        .collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    assert!(
        failed[0].contains("pair 3 (f3 − f4)") && failed[0].contains("no result"),
        "{stderr}"
    );
    assert!(
        stderr.lines().last().unwrap().contains("1 of 3 pairs"),
        "{stderr}"
    );
    let storage = stack.storage.as_ref().unwrap();
    assert!(storage.faulted() > 0, "the function read frame 4");
    for (pair, written) in [("f1-f2", true), ("f2-f3", true), ("f3-f4", false)] {
        assert_eq!(
            stack.p(&format!("out/diff-{pair}.npy")).exists(),
            written,
            "{pair}"
        );
    }
    assert_eq!(stack.objects(), Vec::<String>::new(), "objects left in S3");
}
