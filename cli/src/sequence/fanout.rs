//! `picrypt sequence --state-machine`: the pairs run by the fan-out state machine
//! (docs/DEPLOY.md, "Fan-out with Step Functions", is the contract). A run goes through
//! the sequence's pipeline twice. Handing over ([`Submit`]): each frame a pair needs is
//! encrypted and uploaded once, and the pair becomes an item of the manifest object; the
//! run is recorded in `DIR/manifest.json` ([`Pending`]) and started. Collecting
//! ([`Collect`]), once the execution is over: each result is read from exactly the key
//! its item named, the two ciphertexts it must be computed from are read back and
//! accepted only with the BLAKE3 digests recorded at the upload, and the pipeline's
//! finisher checks it against them before decrypting. Then everything the run was given
//! or wrote is deleted.
//!
//! The execution, its summary and the function are on the server's side and trusted no
//! more than it: the summary only says why a pair has no result.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use picrypt_api::ResultLocation;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::Store;
use super::manifest::{bytes_digest, FrameInfo, Settings};
use super::plan::Job;
use super::tally::{Stage, Tally};
use crate::output::{self, Interrupted};
use crate::remote::stepfunctions::{Execution, ItemCounts, StepFunctions};
use crate::remote::{self, s3};

/// An object a run was given, as uploaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub key: String,
    /// BLAKE3 of its bytes, hex.
    pub blake3: String,
    pub bytes: u64,
}

/// An uploaded frame.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Frame {
    pub frame: FrameInfo,
    #[serde(flatten)]
    pub object: Object,
}

/// A pair of the run: its frames, and its item of the manifest object.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pair {
    pub pair: usize,
    pub before: FrameInfo,
    pub after: FrameInfo,
    pub a: String,
    pub b: String,
    pub output: String,
}

/// A fan-out run started and not collected yet, as `DIR/manifest.json` records it:
/// enough to find the execution again, to check each result against the exact
/// ciphertexts it was given, and to delete everything afterwards.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub state_machine: String,
    pub execution: String,
    pub bucket: String,
    /// The prefix the stack's function and state machine work under.
    pub prefix: String,
    /// The run's folder, `PREFIX/jobs/<job id>/`.
    pub base: String,
    /// The manifest object's key.
    pub manifest: String,
    pub settings: Settings,
    pub key_id: String,
    pub frames: Vec<Frame>,
    /// In the manifest object's order: a summary's `index` is a position here.
    pub pairs: Vec<Pair>,
}

/// A manifest object's item (docs/DEPLOY.md, "The manifest").
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Item {
    a: String,
    b: String,
    output: String,
    op: String,
}

impl Pending {
    /// The manifest object: one item per pair, in order.
    fn manifest_object(&self) -> Vec<u8> {
        let items: Vec<Item> = self
            .pairs
            .iter()
            .map(|p| Item {
                a: p.a.clone(),
                b: p.b.clone(),
                output: p.output.clone(),
                op: self.settings.op.clone(),
            })
            .collect();
        let mut bytes = serde_json::to_vec_pretty(&items).expect("items serialize");
        bytes.push(b'\n');
        bytes
    }

    /// Every key the client uploaded or asked for: frames, results, the manifest object.
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.frames.iter().map(|f| f.object.key.clone()).collect();
        keys.extend(self.pairs.iter().map(|p| p.output.clone()));
        keys.push(self.manifest.clone());
        keys
    }

    /// The execution's input.
    fn input(&self) -> String {
        serde_json::json!({ "manifest": self.manifest }).to_string()
    }
}

/// A [`Pending`] run, indexed for the pipeline: which pairs it has, and which frames.
pub struct Run {
    pub pending: Pending,
    pairs: HashMap<(String, String, String, String), usize>,
    frames: HashMap<(Option<usize>, String), usize>,
}

impl Run {
    pub fn new(pending: Pending) -> Run {
        let pairs = pending
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| (pair_key(&p.before, &p.after), i))
            .collect();
        let frames = pending
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| ((f.frame.number, f.frame.digest.clone()), i))
            .collect();
        Run {
            pending,
            pairs,
            frames,
        }
    }

    /// The run's pair of these two frames (by name and digest), if it has it.
    pub fn pair(&self, before: &FrameInfo, after: &FrameInfo) -> Option<&Pair> {
        let i = self.pairs.get(&pair_key(before, after))?;
        Some(&self.pending.pairs[*i])
    }

    /// The object this frame (by number and digest) was uploaded to.
    pub fn frame(&self, info: &FrameInfo) -> Option<&Object> {
        let i = self.frames.get(&(info.number, info.digest.clone()))?;
        Some(&self.pending.frames[*i].object)
    }
}

fn pair_key(before: &FrameInfo, after: &FrameInfo) -> (String, String, String, String) {
    (
        before.name.clone(),
        before.digest.clone(),
        after.name.clone(),
        after.digest.clone(),
    )
}

/// The engine of the hand-over: uploads each pair's frames (each once) and lists the pair.
pub struct Submit {
    store: Store,
    handed: Arc<Mutex<Handed>>,
}

/// What the hand-over uploaded and listed so far.
#[derive(Default)]
pub struct Handed {
    /// The run's folder, `PREFIX/jobs/<job id>/`.
    base: String,
    pub pairs: Vec<Pair>,
    /// By key: each frame once.
    pub frames: BTreeMap<String, Frame>,
}

impl Submit {
    pub fn describe(&self) -> String {
        format!("handed to the fan-out through {}", self.store.describe())
    }

    /// Uploads the job's frames (those not uploaded yet) and lists the pair.
    pub(super) async fn hand_over(&self, job: &Job, tally: &Tally) -> Result<()> {
        let (a, b) = tokio::try_join!(
            self.store.upload(&job.before, tally),
            self.store.upload(&job.after, tally)
        )?;
        let mut handed = self.handed.lock().unwrap_or_else(|e| e.into_inner());
        for (frame, object) in [(&job.before, a), (&job.after, b)] {
            handed
                .frames
                .entry(object.key.clone())
                .or_insert_with(|| Frame {
                    frame: frame.info.clone(),
                    object: object.clone(),
                });
        }
        handed.pairs.push(Pair {
            pair: job.number,
            before: job.before.info.clone(),
            after: job.after.info.clone(),
            a: a.key.clone(),
            b: b.key.clone(),
            output: self.store.output_key(job),
        });
        Ok(())
    }
}

/// The engine of the collection: each pair's result from its item's output key, and the
/// two ciphertexts it was given, each read back once and only with its recorded digest.
pub struct Collect {
    store: Store,
    run: Arc<Run>,
    summary: Summary,
    /// How the execution ended, for pairs with neither a result nor a record.
    ended: String,
}

impl Collect {
    /// Everything the run was given or wrote: the frames, the results, the manifest
    /// object and the summary.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = self.run.pending.keys();
        keys.extend(self.summary.keys.iter().cloned());
        keys
    }

    pub fn describe(&self) -> String {
        format!(
            "collected from the fan-out through {}",
            self.store.describe()
        )
    }

    /// The pair's result, once both its inputs are read back and match their digests.
    pub(super) async fn result(&self, job: &Job, tally: &Tally) -> Result<Bytes> {
        let pair = self
            .run
            .pair(&job.before.info, &job.after.info)
            .context("this pair is not in the fan-out run")?;
        let store = &self.store;
        let record = self.summary.records.get(&pair.pair);
        let location = match record {
            Some(Record::Succeeded(location)) => location.clone(),
            _ => ResultLocation::S3 {
                bucket: store.bucket.clone(),
                key: pair.output.clone(),
            },
        };
        let t = Instant::now();
        let result =
            remote::fetch_result(&store.client, &store.bucket, &pair.output, location, None).await;
        let result = match (result, record) {
            (Ok(bytes), _) => bytes,
            (Err(_), Some(Record::Failed(why))) => bail!("the run failed it: {why}"),
            (Err(e), Some(Record::Succeeded(_))) => return Err(e),
            (Err(e), _) => {
                let why = format!(
                    "no result where its item said (the run {}; its summary has no record of the pair)",
                    self.ended
                );
                return Err(e.context(why));
            }
        };
        tally.add(Stage::Download, t.elapsed());
        tokio::try_join!(
            job.before
                .read_back(|object| self.read_input(object, tally)),
            job.after.read_back(|object| self.read_input(object, tally))
        )?;
        Ok(Bytes::from(result))
    }

    /// An input object, only if it is still the ciphertext uploaded: a replaced input
    /// could otherwise make a wrong result pass the check.
    async fn read_input(&self, object: Object, tally: &Tally) -> Result<Bytes> {
        let store = &self.store;
        let t = Instant::now();
        let bytes = s3::download(&store.client, &store.bucket, &object.key, None).await?;
        tally.add(Stage::Download, t.elapsed());
        if bytes.len() as u64 != object.bytes || bytes_digest(&bytes) != object.blake3 {
            bail!(
                "s3://{}/{} is not the ciphertext this run was given (its BLAKE3 differs from the one recorded at the upload): refusing to check the result against it",
                store.bucket,
                object.key
            );
        }
        Ok(Bytes::from(bytes))
    }
}

/// Starting, following and cleaning up after runs of one state machine.
pub struct FanOut {
    sfn: StepFunctions,
    client: aws_sdk_s3::Client,
    pub state_machine: String,
    pub bucket: String,
    pub prefix: String,
}

impl FanOut {
    pub async fn connect(state_machine: &str, bucket: &str, prefix: &str) -> Result<FanOut> {
        check_state_machine_arn(state_machine)?;
        Ok(FanOut {
            sfn: StepFunctions::from_env().await?,
            client: s3::client_from_env().await?,
            state_machine: state_machine.to_string(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The engine that hands a new run its pairs (in a folder of its own), and what it
    /// hands over.
    pub fn submit(&self) -> Result<(Submit, Arc<Mutex<Handed>>)> {
        let id = remote::random_id()?;
        let base = format!("{}jobs/{id}/", self.prefix);
        let handed = Arc::new(Mutex::new(Handed {
            base: base.clone(),
            pairs: Vec::new(),
            frames: BTreeMap::new(),
        }));
        let submit = Submit {
            store: Store::new(self.client.clone(), self.bucket.clone(), base),
            handed: handed.clone(),
        };
        Ok((submit, handed))
    }

    /// The run of what was handed over; `None` when that is nothing.
    pub fn pending(
        &self,
        handed: Handed,
        settings: &Settings,
        key_id: &str,
    ) -> Result<Option<Pending>> {
        let Handed {
            base,
            mut pairs,
            frames,
        } = handed;
        if pairs.is_empty() {
            return Ok(None);
        }
        pairs.sort_by_key(|p| p.pair);
        let id = base
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        Ok(Some(Pending {
            execution: execution_arn(&self.state_machine, &execution_name(id))?,
            state_machine: self.state_machine.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            manifest: format!("{base}manifest.json"),
            base,
            settings: settings.clone(),
            key_id: key_id.to_string(),
            frames: frames.into_values().collect(),
            pairs,
        }))
    }

    /// Writes the run's manifest object and starts the execution (unless it exists
    /// already: a start whose answer was lost, or a client stopped right after it).
    pub async fn start(&self, pending: &Pending) -> Result<()> {
        if self.sfn.describe(&pending.execution).await?.is_some() {
            return Ok(());
        }
        s3::upload(
            &self.client,
            &pending.bucket,
            &pending.manifest,
            &pending.manifest_object(),
            None,
        )
        .await?;
        let name = pending
            .execution
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let arn = self
            .sfn
            .start(&pending.state_machine, &name, &pending.input())
            .await?;
        if arn != pending.execution {
            bail!(
                "Step Functions started {arn}, not {} as this client expected from the state machine's ARN",
                pending.execution
            );
        }
        Ok(())
    }

    /// Follows the execution until it is over, with a progress line: `None` when `detach`
    /// and it still runs. Ctrl-C stops the following, not the run.
    pub async fn follow(&self, pending: &Pending, detach: bool) -> Result<Option<Execution>> {
        let total = pending.pairs.len() as u64;
        let bar = output::progress_bar(Some(total), "pairs run");
        let mut wait = Duration::from_millis(500);
        let mut map_run = None;
        let stop = || {
            Interrupted(format!(
                "the run goes on without this client ({}); run the same command again to collect it",
                pending.execution
            ))
        };
        let followed = async {
            loop {
                let execution = self.sfn.describe(&pending.execution).await?.ok_or_else(|| {
                    anyhow!(
                        "Step Functions has no execution {} (was it started in another region or account?)",
                        pending.execution
                    )
                })?;
                if map_run.is_none() {
                    // Best effort: the counts only feed the progress line.
                    map_run = self.sfn.map_run(&pending.execution).await.ok().flatten();
                }
                let counts = match &map_run {
                    Some(run) => self.sfn.item_counts(run).await.ok().flatten(),
                    None => None,
                };
                if let Some(c) = counts {
                    bar.set_position((c.succeeded + c.failed + c.aborted + c.timed_out) as u64);
                    bar.set_message(c.to_string());
                }
                if execution.finished() {
                    return Ok::<_, anyhow::Error>(Some(execution));
                }
                if detach {
                    output::line(format_args!(
                        "run: {} still {}{}",
                        pending.execution,
                        execution.status.to_lowercase(),
                        counts_in_words(counts, total)
                    ));
                    return Ok(None);
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        };
        let followed = tokio::select! {
            followed = followed => followed,
            _ = tokio::signal::ctrl_c() => Err(stop().into()),
        };
        bar.finish_and_clear();
        followed
    }

    /// The engine that collects a finished run: its summary read first.
    pub async fn collect(&self, run: Arc<Run>, execution: &Execution) -> Result<Collect> {
        let summary = Summary::read(&self.client, &run.pending, execution, &self.sfn).await;
        let ended = match (&execution.error, &execution.cause) {
            _ if execution.succeeded() => "succeeded".to_string(),
            (Some(error), Some(cause)) => format!(
                "ended {}: {error}: {cause}",
                execution.status.to_lowercase()
            ),
            (Some(error), None) => format!("ended {}: {error}", execution.status.to_lowercase()),
            _ => format!("ended {}", execution.status.to_lowercase()),
        };
        let store = Store::new(
            self.client.clone(),
            run.pending.bucket.clone(),
            run.pending.base.clone(),
        );
        Ok(Collect {
            store,
            run,
            summary,
            ended,
        })
    }

    /// Deletes `keys` from `bucket`, warning about any that could not be.
    pub async fn delete(&self, bucket: &str, keys: &[String]) {
        let left = s3::delete(&self.client, bucket, keys).await;
        super::engine::warn_left(bucket, &left);
    }

    /// Deletes what a hand-over that started no run uploaded.
    pub async fn abandon(&self, handed: &Handed) {
        let keys: Vec<String> = handed.frames.keys().cloned().collect();
        self.delete(&self.bucket, &keys).await;
    }

    /// Deletes what a run that could not be started was given.
    pub async fn forget(&self, pending: &Pending) {
        let mut keys: Vec<String> = pending
            .frames
            .iter()
            .map(|f| f.object.key.clone())
            .collect();
        keys.push(pending.manifest.clone());
        self.delete(&pending.bucket, &keys).await;
    }
}

/// `: 3 of 10 pairs done (…)`, when the Map Run says.
fn counts_in_words(counts: Option<ItemCounts>, total: u64) -> String {
    match counts {
        Some(c) => format!(
            ": {} of {total} pairs done ({c})",
            c.succeeded + c.failed + c.aborted + c.timed_out
        ),
        None => String::new(),
    }
}

/// An execution's name: the job id, so that the console shows which folder it works on.
fn execution_name(job: &str) -> String {
    format!("picrypt-{job}")
}

/// A state machine ARN as `--state-machine` takes it.
fn check_state_machine_arn(arn: &str) -> Result<()> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" {
        bail!(
            "--state-machine {arn:?} is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME, the stack's FanOutStateMachineArn output)"
        );
    }
    Ok(())
}

/// The ARN the execution `name` of `state_machine` has: known before it is started, so
/// that the record written before starting it finds it again.
fn execution_arn(state_machine: &str, name: &str) -> Result<String> {
    check_state_machine_arn(state_machine)?;
    let (head, machine) = state_machine
        .rsplit_once(":stateMachine:")
        .expect("checked");
    Ok(format!("{head}:execution:{machine}:{name}"))
}

/// What the Map's summary (its `ResultWriter`, docs/DEPLOY.md "Where things land") says
/// of the pairs: read only from under `PREFIX/fanout/` of the run's bucket, and trusted
/// only to say why a pair has no result, or where the function said it wrote one.
#[derive(Default)]
struct Summary {
    /// By pair number.
    records: HashMap<usize, Record>,
    /// Its objects, to delete with the run.
    keys: Vec<String>,
}

/// A summary record of a pair.
#[derive(Debug, PartialEq)]
enum Record {
    /// Where the function's answer said the result is.
    Succeeded(ResultLocation),
    /// Why the item failed, or never ran.
    Failed(String),
}

/// The summary's `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SummaryManifest {
    result_files: BTreeMap<String, Vec<ResultFile>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultFile {
    key: String,
}

impl Summary {
    /// The summary of a finished execution, as far as it can be read: a missing or broken
    /// one only means that failed pairs are reported without a reason.
    async fn read(
        client: &aws_sdk_s3::Client,
        pending: &Pending,
        execution: &Execution,
        sfn: &StepFunctions,
    ) -> Summary {
        let Some(key) = summary_key(pending, execution, sfn).await else {
            return Summary::default();
        };
        match Summary::read_at(client, pending, &key).await {
            Ok(summary) => summary,
            Err(e) => {
                tracing::warn!("the run's summary s3://{}/{key}: {e:#}", pending.bucket);
                Summary {
                    keys: vec![key],
                    ..Summary::default()
                }
            }
        }
    }

    async fn read_at(client: &aws_sdk_s3::Client, pending: &Pending, key: &str) -> Result<Summary> {
        let folder = key.trim_end_matches("manifest.json");
        let mut summary = Summary {
            keys: vec![key.to_string()],
            ..Summary::default()
        };
        let manifest = s3::download(client, &pending.bucket, key, None).await?;
        let manifest: SummaryManifest =
            serde_json::from_slice(&manifest).context("its manifest.json")?;
        for (status, files) in manifest.result_files {
            for file in files {
                let name = file.key.strip_prefix(folder).unwrap_or_default();
                if name.is_empty() || name.contains('/') {
                    bail!("it names {} outside its own folder {folder}", file.key);
                }
                let bytes = s3::download(client, &pending.bucket, &file.key, None).await?;
                summary.keys.push(file.key.clone());
                let records: Vec<Value> = serde_json::from_slice(&bytes)
                    .with_context(|| format!("its {status} file {}", file.key))?;
                for record in &records {
                    if let Some((pair, record)) = parse_record(pending, &status, record) {
                        summary.records.insert(pair, record);
                    }
                }
            }
        }
        Ok(summary)
    }
}

/// Where the summary's `manifest.json` is: as the execution's output names it, else (a run
/// that failed has no output) in the Map Run's folder. Only under `PREFIX/fanout/` of the
/// run's bucket.
async fn summary_key(
    pending: &Pending,
    execution: &Execution,
    sfn: &StepFunctions,
) -> Option<String> {
    let named = execution
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str::<Value>(o).ok())
        .and_then(|o| {
            let details = &o["ResultWriterDetails"];
            (details["Bucket"].as_str() == Some(&pending.bucket))
                .then(|| details["Key"].as_str().map(str::to_string))
                .flatten()
        });
    let key = match named {
        Some(key) => key,
        None => {
            let map_run = sfn.map_run(&pending.execution).await.ok().flatten()?;
            let id = map_run.rsplit(':').next()?;
            format!("{}fanout/{id}/manifest.json", pending.prefix)
        }
    };
    let folder = format!("{}fanout/", pending.prefix);
    let inside = key
        .strip_prefix(&folder)
        .and_then(|rest| rest.strip_suffix("/manifest.json"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    if !inside || picrypt_api::check_s3_key(&key, &pending.prefix).is_err() {
        tracing::warn!("the run's output names its summary at {key}, outside {folder}: not read");
        return None;
    }
    Some(key)
}

/// A result file's record: the pair it is for (its `Input` must be exactly that pair's
/// item, with its index) and what it says. AWS writes `Input` and `Output` as JSON text.
fn parse_record(pending: &Pending, status: &str, record: &Value) -> Option<(usize, Record)> {
    let json = |field: &str| -> Option<Value> {
        match &record[field] {
            Value::String(text) => serde_json::from_str(text).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    };
    let input = json("Input")?;
    let pair = pending
        .pairs
        .get(usize::try_from(input["index"].as_u64()?).ok()?)?;
    let same = input["a"] == pair.a.as_str()
        && input["b"] == pair.b.as_str()
        && input["output"] == pair.output.as_str()
        && input["op"] == pending.settings.op.as_str();
    if !same {
        return None;
    }
    let text = |field: &str| record[field].as_str().unwrap_or("").replace('\n', " ");
    let record = match status {
        "SUCCEEDED" => {
            let answer = json("Output")?;
            Record::Succeeded(serde_json::from_value(answer["answer"]["result"].clone()).ok()?)
        }
        "PENDING" => Record::Failed("never started (the run stopped first)".into()),
        _ => match (text("Error"), text("Cause")) {
            (error, _) if error.is_empty() => {
                Record::Failed(format!("{} without an error", status.to_lowercase()))
            }
            (error, cause) if cause.is_empty() => Record::Failed(error),
            (error, cause) => Record::Failed(format!("{error}: {cause}")),
        },
    };
    Some((pair.pair, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: usize) -> FrameInfo {
        FrameInfo {
            number: Some(n),
            name: format!("f{n}"),
            digest: format!("d{n}"),
        }
    }

    fn pending() -> Pending {
        let base = "picrypt/jobs/0123456789abcdef/";
        let frames = (1..=3)
            .map(|n| Frame {
                frame: info(n),
                object: Object {
                    key: format!("{base}frame-{n:06}.picrypt"),
                    blake3: format!("h{n}"),
                    bytes: 10,
                },
            })
            .collect();
        let pairs = (1..=2)
            .map(|n| Pair {
                pair: n,
                before: info(n),
                after: info(n + 1),
                a: format!("{base}frame-{n:06}.picrypt"),
                b: format!("{base}frame-{:06}.picrypt", n + 1),
                output: format!("{base}diff-frame-{n:06}-frame-{:06}.picrypt", n + 1),
            })
            .collect();
        Pending {
            state_machine: "arn:aws:states:eu-west-1:123456789012:stateMachine:PicryptFanOut-x"
                .into(),
            execution: "arn:aws:states:eu-west-1:123456789012:execution:PicryptFanOut-x:picrypt-0123456789abcdef".into(),
            bucket: "b".into(),
            prefix: "picrypt/".into(),
            base: base.into(),
            manifest: format!("{base}manifest.json"),
            settings: Settings {
                op: "sub".into(),
                render: "abs".into(),
                threshold: 16,
                against: "previous".into(),
            },
            key_id: "k".into(),
            frames,
            pairs,
        }
    }

    /// The manifest object is docs/DEPLOY.md's: an array of exactly `a`, `b`, `output`,
    /// `op`, one per pair in order.
    #[test]
    fn the_manifest_object_is_the_documented_one() {
        let p = pending();
        let doc: Value = serde_json::from_slice(&p.manifest_object()).unwrap();
        let items = doc.as_array().unwrap();
        assert_eq!(items.len(), 2);
        for (item, pair) in items.iter().zip(&p.pairs) {
            let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["a", "b", "op", "output"]);
            assert_eq!(item["a"], pair.a.as_str());
            assert_eq!(item["b"], pair.b.as_str());
            assert_eq!(item["output"], pair.output.as_str());
            assert_eq!(item["op"], "sub");
        }
        assert_eq!(
            p.input(),
            r#"{"manifest":"picrypt/jobs/0123456789abcdef/manifest.json"}"#
        );
    }

    #[test]
    fn execution_arns_follow_the_state_machine() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:PicryptFanOut-x",
                "picrypt-1"
            )
            .unwrap(),
            "arn:aws:states:eu-west-1:123456789012:execution:PicryptFanOut-x:picrypt-1"
        );
        for bad in [
            "PicryptFanOut",
            "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "arn:aws:states:eu-west-1:123456789012:execution:m:e",
        ] {
            let e = check_state_machine_arn(bad).unwrap_err().to_string();
            assert!(e.contains("not a state machine ARN"), "{e}");
        }
    }

    /// Records as AWS's ResultWriter writes them (`Input` and `Output` as JSON text): each
    /// matched to its pair by index and by every member of its item; records of other
    /// items, or that disagree with the manifest, say nothing.
    #[test]
    fn summary_records_as_aws_writes_them() {
        let p = pending();
        let item = |i: usize, extra: &str| {
            let pair = &p.pairs[i];
            format!(
                r#"{{"index":{i},"a":"{}","b":"{}","op":"sub","output":"{}","attempt":1{extra}}}"#,
                pair.a, pair.b, pair.output
            )
        };
        let answer = format!(
            r#","answer":{{"result":{{"s3":{{"bucket":"b","key":"{}"}}}},"scheme":"mask","op":"sub","width":4,"height":3,"channels":3,"bytes":99,"request_id":"r"}}"#,
            p.pairs[0].output
        );
        let succeeded = serde_json::json!({
            "ExecutionArn": "arn:aws:states:eu-west-1:123456789012:execution:PicryptFanOut-x/Pairs:1",
            "Input": item(0, ""),
            "InputDetails": {"Included": true},
            "Name": "1",
            "Output": item(0, &answer),
            "OutputDetails": {"Included": true},
            "Status": "SUCCEEDED",
        });
        let failed = serde_json::json!({
            "Input": item(1, ""),
            "Status": "FAILED",
            "Error": "picrypt.object_not_found",
            "Cause": "no object at picrypt/jobs/0123456789abcdef/frame-000003.picrypt",
        });
        let (pair, record) = parse_record(&p, "SUCCEEDED", &succeeded).unwrap();
        assert_eq!(pair, 1);
        assert_eq!(
            record,
            Record::Succeeded(ResultLocation::S3 {
                bucket: "b".into(),
                key: p.pairs[0].output.clone()
            })
        );
        let (pair, record) = parse_record(&p, "FAILED", &failed).unwrap();
        assert_eq!(pair, 2);
        assert_eq!(
            record,
            Record::Failed(
                "picrypt.object_not_found: no object at picrypt/jobs/0123456789abcdef/frame-000003.picrypt".into()
            )
        );
        // The same record given as an object (not text) reads the same.
        let mut as_object = failed.clone();
        as_object["Input"] = serde_json::from_str(&item(1, "")).unwrap();
        assert_eq!(parse_record(&p, "FAILED", &as_object).unwrap().0, 2);
        // An index past the manifest, or an item that is not the manifest's, says nothing.
        let mut other = failed.clone();
        other["Input"] = item(1, "").replace("\"index\":1", "\"index\":7").into();
        assert!(parse_record(&p, "FAILED", &other).is_none());
        let mut other = failed;
        other["Input"] = item(1, "").replace("frame-000003", "frame-000009").into();
        assert!(parse_record(&p, "FAILED", &other).is_none());
    }

    #[test]
    fn a_run_finds_its_pairs_and_frames_by_digest() {
        let run = Run::new(pending());
        assert_eq!(run.pair(&info(1), &info(2)).unwrap().pair, 1);
        assert!(run.pair(&info(2), &info(1)).is_none());
        let mut changed = info(2);
        changed.digest = "other".into();
        assert!(run.pair(&info(1), &changed).is_none());
        assert!(run.frame(&changed).is_none());
        assert_eq!(run.frame(&info(3)).unwrap().blake3, "h3");
        let keys = run.pending.keys();
        assert_eq!(keys.len(), 3 + 2 + 1);
    }
}
