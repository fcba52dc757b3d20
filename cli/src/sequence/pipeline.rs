//! One sequence run. A producer thread decodes the frames in order, plans their pairs and
//! encrypts what those need (in parallel inside core), running ahead of the network by at
//! most `--jobs` pairs; the async side keeps at most `--jobs` pairs at the engine; a
//! finisher thread checks each result against its two inputs, decrypts it and writes its
//! outputs. Encryption of later frames so overlaps the subtraction of earlier pairs.
//!
//! Ctrl-C, or any failure, stops the dispatching: pairs in flight are abandoned, results
//! already received are still checked and written, the manifest records everything
//! finished, and what was uploaded is deleted. Every file is written atomically, so
//! nothing half-written remains.
//!
//! A fan-out run goes through here twice ([`fanout`](super::fanout)): once handing its
//! pairs over (the engine uploads their frames; nothing comes back), and once collecting
//! them ([`Inputs::Uploaded`]: the ciphertexts are the ones uploaded, and a pair that
//! fails is reported while the others go on, since nothing is left to ask again).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use indicatif::ProgressBar;
use picrypt_core::{render, verify, Image, Key, Op};
use tokio::sync::mpsc;

use super::engine::{Answer, Encrypted, Engine};
use super::fanout::Run;
use super::frames::Sequence;
use super::manifest::{frame_digest, FrameInfo, Manifest, Record, Statistics};
use super::outputs;
use super::plan::{Decision, Job, Planner, Slot, Step};
use super::tally::{Stage, Tally};
use crate::args::{LegacyArgs, RenderArgs};
use crate::flow;
use crate::remote::retry::{Policy, Retried};

/// What every pair of a run shares.
pub struct Setup {
    pub key: Key,
    pub op: Op,
    pub render: RenderArgs,
    pub npy: bool,
    pub dir: PathBuf,
    pub jobs: usize,
    pub policy: Policy,
    pub legacy: LegacyArgs,
}

/// The fixed reference of `--against N` or `--against FILE`, decoded.
#[derive(Clone)]
pub struct Reference {
    pub info: FrameInfo,
    pub image: Image,
}

/// What a run did.
pub struct Outcome {
    /// Every finished pair (computed now or reused), by pair number.
    pub records: BTreeMap<usize, Record>,
    pub computed: usize,
    pub reused: usize,
    pub frames: usize,
    /// The retries made, with the pair each was for.
    pub retried: Vec<(String, Retried)>,
    /// Collecting a fan-out run: the pairs that failed, by pair number, each in one line.
    pub failed: BTreeMap<usize, String>,
    pub wall: Duration,
}

/// Why a run stopped early.
pub enum Stop {
    /// Ctrl-C.
    Interrupted,
    Failed(anyhow::Error),
}

enum Event {
    Step(Step),
    /// The last frame was read; how many there were.
    End(usize),
    Failed(anyhow::Error),
}

/// What a run works on.
pub struct Work {
    pub sequence: Arc<Sequence>,
    pub reference: Option<Reference>,
    pub manifest: Arc<Manifest>,
    pub engine: Engine,
    pub tally: Arc<Tally>,
    pub inputs: Inputs,
}

/// Which pairs a run takes, and where their ciphertexts come from.
pub enum Inputs {
    /// Every pair not done yet, its frames encrypted here.
    Encrypt,
    /// The pairs a fan-out run was given, not done yet, with the ciphertexts it was given.
    Uploaded(Arc<Run>),
}

/// Runs the sequence to its end or its first failure. Either way the manifest is saved
/// with every finished pair, and the engine's objects are cleaned up; `Err` carries the
/// records finished before the stop.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    setup: Arc<Setup>,
    work: Work,
    bar: &ProgressBar,
) -> std::result::Result<Outcome, (Stop, BTreeMap<usize, Record>)> {
    let start = Instant::now();
    let Work {
        sequence,
        reference,
        manifest,
        engine,
        tally,
        inputs,
    } = work;
    // Collecting, a pair's failure is final and its own: the others go on.
    let keep_going = matches!(inputs, Inputs::Uploaded(_));
    runtime.block_on(async move {
        let cancel = Arc::new(AtomicBool::new(false));
        let (events_tx, mut events) = mpsc::channel(setup.jobs);
        let producer = {
            let (setup, manifest, tally, cancel) =
                (setup.clone(), manifest.clone(), tally.clone(), cancel.clone());
            std::thread::Builder::new()
                .name("frames".into())
                .spawn(move || {
                    let produced = produce(
                        &setup, &sequence, reference, &manifest, &inputs, &tally, &cancel,
                        &events_tx,
                    );
                    let last = match produced {
                        Ok(Some(frames)) => Event::End(frames),
                        Ok(None) => return,
                        Err(e) => Event::Failed(e),
                    };
                    let _ = events_tx.blocking_send(last);
                })
                .expect("a thread for the frames")
        };
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<(Job, Bytes)>();
        let (report_tx, mut reports) = mpsc::unbounded_channel::<(usize, Result<Record>)>();
        let finisher = {
            let (setup, tally) = (setup.clone(), tally.clone());
            std::thread::Builder::new()
                .name("finish".into())
                .spawn(move || {
                    for (job, result) in finish_rx {
                        let pair = job.number;
                        let report = finish(&setup, &tally, job, &result);
                        if report_tx.send((pair, report)).is_err() {
                            break;
                        }
                    }
                })
                .expect("a thread for the results")
        };

        let engine = Arc::new(engine);
        let mut inflight: tokio::task::JoinSet<(Job, Result<Answer>)> =
            tokio::task::JoinSet::new();
        let mut records = BTreeMap::new();
        let (mut computed, mut reused, mut outstanding) = (0, 0, 0usize);
        let mut failed = BTreeMap::new();
        let mut retried = Vec::new();
        let mut frames = 0;
        let mut producing = true;
        let mut dirty = false;
        let mut save = tokio::time::interval(Duration::from_secs(1));
        save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);

        let stop = loop {
            if !producing && outstanding == 0 {
                break None;
            }
            tokio::select! {
                biased;
                _ = &mut ctrl_c => break Some(Stop::Interrupted),
                report = reports.recv() => match report {
                    Some((_, Ok(record))) => {
                        outstanding -= 1;
                        computed += 1;
                        bar.inc(1);
                        records.insert(record.pair, record);
                        dirty = true;
                    }
                    Some((pair, Err(e))) if keep_going => {
                        outstanding -= 1;
                        bar.inc(1);
                        failed.insert(pair, format!("{e:#}"));
                    }
                    Some((_, Err(e))) => break Some(Stop::Failed(e)),
                    None => break Some(Stop::Failed(anyhow!("the thread checking results stopped"))),
                },
                Some(joined) = inflight.join_next(), if !inflight.is_empty() => match joined {
                    Ok((job, Ok(answer))) => {
                        let pair = job.describe();
                        retried.extend(answer.retried.into_iter().map(|r| (pair.clone(), r)));
                        match answer.result {
                            Some(result) => {
                                let _ = finish_tx.send((job, result));
                            }
                            None => {
                                outstanding -= 1;
                                bar.inc(1);
                            }
                        }
                    }
                    Ok((job, Err(e))) if keep_going => {
                        outstanding -= 1;
                        bar.inc(1);
                        failed.insert(job.number, format!("{:#}", e.context(job.describe())));
                    }
                    Ok((job, Err(e))) => break Some(Stop::Failed(e.context(job.describe()))),
                    Err(e) => break Some(Stop::Failed(anyhow!("a request stopped: {e}"))),
                },
                event = events.recv(), if producing && inflight.len() < setup.jobs && outstanding < 2 * setup.jobs => match event {
                    Some(Event::Step(Step::Compute(job))) => {
                        outstanding += 1;
                        let (engine, setup, tally) = (engine.clone(), setup.clone(), tally.clone());
                        inflight.spawn(async move {
                            let answer = engine.subtract(setup.op, &job, &setup.policy, &tally).await;
                            (job, answer)
                        });
                    }
                    Some(Event::Step(Step::Reuse(record))) => {
                        reused += 1;
                        bar.inc(1);
                        records.insert(record.pair, *record);
                    }
                    Some(Event::End(n)) => {
                        frames = n;
                        producing = false;
                    }
                    Some(Event::Failed(e)) => break Some(Stop::Failed(e)),
                    None => break Some(Stop::Failed(anyhow!("the thread reading frames stopped"))),
                },
                _ = save.tick(), if dirty => {
                    if let Err(e) = manifest.save(&records) {
                        break Some(Stop::Failed(e));
                    }
                    dirty = false;
                }
            }
        };

        // Wind down: no more frames or requests; results already here are still finished.
        cancel.store(true, Ordering::Relaxed);
        drop(events);
        inflight.abort_all();
        while inflight.join_next().await.is_some() {}
        drop(finish_tx);
        while let Some((_, report)) = reports.recv().await {
            match report {
                Ok(record) => {
                    computed += 1;
                    bar.inc(1);
                    records.insert(record.pair, record);
                }
                Err(e) => tracing::debug!("after the stop: {e:#}"),
            }
        }
        let _ = finisher.join();
        let _ = producer.join();
        let saved = manifest.save(&records);
        match Arc::try_unwrap(engine) {
            Ok(engine) => engine.finish().await,
            Err(_) => tracing::warn!("the engine is still in use: its S3 objects are left to the bucket's lifecycle rule"),
        }
        let stop = match (stop, saved) {
            (Some(stop), _) => Some(stop),
            (None, Err(e)) => Some(Stop::Failed(e)),
            (None, Ok(())) => None,
        };
        match stop {
            Some(stop) => Err((stop, records)),
            None => Ok(Outcome {
                records,
                computed,
                reused,
                frames,
                retried,
                failed,
                wall: start.elapsed(),
            }),
        }
    })
}

/// The producer: decodes each frame, plans its pair and encrypts what that needs (or, when
/// collecting, takes the ciphertexts the fan-out run was given). `None` when stopped
/// before the end.
#[allow(clippy::too_many_arguments)]
fn produce(
    setup: &Setup,
    sequence: &Sequence,
    reference: Option<Reference>,
    manifest: &Manifest,
    inputs: &Inputs,
    tally: &Tally,
    cancel: &AtomicBool,
    events: &mpsc::Sender<Event>,
) -> Result<Option<usize>> {
    let key_id = setup.key.id().to_string();
    let decide = |before: &FrameInfo, after: &FrameInfo| {
        let names = outputs::pair_outputs(&before.name, &after.name, setup.npy);
        match (manifest.reusable(before, after, &key_id, &names), inputs) {
            (Some(record), _) => Decision::Reuse(Box::new(record)),
            (None, Inputs::Encrypt) => Decision::Compute,
            (None, Inputs::Uploaded(run)) if run.pair(before, after).is_some() => Decision::Compute,
            (None, Inputs::Uploaded(_)) => Decision::Skip,
        }
    };
    let mut encrypt = |info: &FrameInfo, image: &Image| -> Result<Encrypted> {
        if let Inputs::Uploaded(run) = inputs {
            let object = run.frame(info).with_context(|| {
                format!("frame {} is not among the fan-out run's uploads", info.name)
            })?;
            return Ok(Encrypted::uploaded(info.clone(), object.clone()));
        }
        let t = Instant::now();
        let container = flow::encrypt(&setup.key, image, setup.legacy)
            .with_context(|| format!("encrypting frame {}", info.name))?;
        let bytes = Bytes::from(container.to_bytes());
        tally.add(Stage::Encrypt, t.elapsed());
        tally.encrypted();
        Ok(Encrypted::new(info.clone(), bytes))
    };
    let reference = reference.map(|r| Slot::new(r.info, r.image));
    let mut planner = Planner::new(reference, setup.render.mode().needs_after_image());
    let mut frames = sequence.frames()?;
    let mut count = 0;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let t = Instant::now();
        let Some(frame) = frames.next() else { break };
        let frame = frame?;
        let info = FrameInfo {
            number: Some(frame.number),
            name: frame.name,
            digest: frame_digest(&frame.image),
        };
        tally.add(Stage::Decode, t.elapsed());
        count += 1;
        if let Some(step) = planner.push(info, frame.image, &decide, &mut encrypt)? {
            if events.blocking_send(Event::Step(step)).is_err() {
                return Ok(None);
            }
        }
    }
    Ok(Some(count))
}

/// Checks a pair's result against its two inputs, decrypts it, writes its outputs.
fn finish(setup: &Setup, tally: &Tally, job: Job, result: &[u8]) -> Result<Record> {
    let t = Instant::now();
    let refused = |e: picrypt_core::Error| {
        anyhow::Error::from(e).context(format!("the function's result for {}", job.describe()))
    };
    let checked = verify::check_result(setup.op, job.before.bytes(), job.after.bytes(), result)
        .map_err(refused)?;
    let difference = checked.decrypt(&setup.key).map_err(refused)?;
    tally.add(Stage::Check, t.elapsed());
    let t = Instant::now();
    let stats = render::stats(&difference, setup.render.threshold);
    let names = outputs::pair_outputs(&job.before.info.name, &job.after.info.name, setup.npy);
    let written = outputs::write_pair(
        &setup.dir,
        &names,
        &difference,
        &setup.render,
        job.after_image.as_deref(),
    )
    .with_context(|| job.describe())?;
    tally.add(Stage::Render, t.elapsed());
    Ok(Record {
        pair: job.number,
        before: job.before.info.clone(),
        after: job.after.info.clone(),
        key_id: setup.key.id().to_string(),
        outputs: written,
        statistics: Statistics::from(&stats),
    })
}
