//! `picrypt sequence`: every frame of a folder, an animation or a video, differenced pair by
//! pair on the engine `run` uses (in process, `picrypt serve`, a Lambda function, inline or
//! through S3), each frame encrypted once, at most `--jobs` pairs in flight, every result
//! checked against its inputs; renders, an animation, statistics and a plot in one folder,
//! and a manifest so that running the same command again resumes. With `--state-machine`
//! the pairs are run by the fan-out state machine instead ([`fan_out`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use picrypt_core::{Key, Op, Scheme};
use serde_json::json;

use crate::args::{LegacyArgs, OpArg, RemoteArgs, RenderArgs};
use crate::files;
use crate::flow;
use crate::output::{self, warn_if_insecure, Interrupted};
use crate::remote::{self, retry::Policy};
use crate::sequence::engine::Engine;
use crate::sequence::fanout::{FanOut, Pending, Run};
use crate::sequence::frames::Sequence;
use crate::sequence::manifest::{self, frame_digest, FrameInfo, Manifest, Record, Settings};
use crate::sequence::outputs::{self, Animations};
use crate::sequence::pipeline::{self, Inputs, Outcome, Reference, Setup, Stop, Work};
use crate::sequence::plan::Against;
use crate::sequence::plot;
use crate::sequence::tally::Tally;

/// Examples for `picrypt sequence --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt sequence shots/ -o changes/                        # each photo − the next, in this process
  picrypt sequence 'shots/*.jpg' -o changes/ --against first --render overlay
  picrypt sequence walk.gif -o changes/ --npy                # an animated GIF or APNG
  picrypt sequence clip.mp4 -o changes/ --url http://127.0.0.1:8080 --jobs 8   # a video (ffmpeg)
  picrypt sequence shots/ -o changes/ --url https://ID.lambda-url.REGION.on.aws --s3-bucket BUCKET --jobs 32
  picrypt sequence shots/ -o changes/ --s3-bucket BUCKET --state-machine ARN --detach   # then again without --detach

In changes/: diff-BEFORE-AFTER.png per pair, animation.png (and animation.mp4 with ffmpeg),
stats.csv, stats.json, changes.png (the share of pixels changed per frame), sequence.key (the
key, when --key is not given) and manifest.json. Run the same command again to resume: a pair
is redone only when a frame, the key, a setting or one of its outputs changed.

With --state-machine (template.yaml FanOut=step-functions, its FanOutStateMachineArn output) the
stack's Step Functions fan-out runs the pairs: each frame is uploaded once, a manifest of the pairs
written beside them, and the run started and followed; every result is then read from the key its
pair was given, checked against that pair's two ciphertexts and decrypted. --detach starts the run
and exits; the same command again (without --detach) collects it.

Environment (with --url or --state-machine): AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_PROFILE (SigV4 and S3), AWS_ENDPOINT_URL (an S3-compatible server), AWS_ENDPOINT_URL_SFN
(another Step Functions endpoint), PICRYPT_S3_ATTEMPTS,
PICRYPT_S3_BACKOFF_MS, PICRYPT_S3_TIMEOUT_MS; PICRYPT_LOG (log filter).";

/// The key file a sequence makes in its output folder when `--key` is not given.
const KEY_FILE: &str = "sequence.key";

/// Arguments of `picrypt sequence`.
#[derive(clap::Args)]
pub struct Args {
    /// The frames: a folder (its PNG, JPEG, BMP, TIFF and WebP files, in natural order:
    /// frame2 before frame10), a quoted glob ('shots/*.jpg'), two or more image files (in
    /// the order given), an animated GIF or APNG, or a video (read with ffmpeg).
    #[arg(value_name = "FRAMES", required = true)]
    inputs: Vec<PathBuf>,
    /// The folder for the outputs (made if missing). Running again with the same folder
    /// resumes.
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
    /// What each frame is compared with: the frame before it (the default: frame i −
    /// frame i+1), `first`, frame N (1 = the first), or an image FILE: reference − frame.
    #[arg(long, value_name = "first|N|FILE", value_parser = Against::parse)]
    against: Option<Against>,
    /// Use this key instead of DIR/sequence.key (made on the first run, 0600).
    #[arg(long)]
    key: Option<PathBuf>,
    /// What the server computes: sub (A − B), or sub_sat (max(A − B, 0); shuffle keys).
    #[arg(long, value_enum, default_value_t = OpArg::Sub)]
    op: OpArg,
    /// Also write each exact difference as int16 .npy beside its render.
    #[arg(long)]
    npy: bool,
    /// Pairs at the function at once (with --state-machine: pairs uploaded, or results
    /// read back, at once).
    #[arg(short, long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: u16,
    /// Times a pair is asked again after throttling (429), a server error (5xx) or no
    /// answer, waiting longer each time (or as Retry-After says).
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,
    /// Frames per second of animation.png and animation.mp4 [default: the video's or the
    /// animation's rate, else 5].
    #[arg(long, value_name = "FPS")]
    fps: Option<f64>,
    #[command(flatten)]
    render: RenderArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Have the stack's fan-out state machine run the pairs (its ARN: the FanOutStateMachineArn
    /// output of a stack deployed with FanOut=step-functions). Needs --s3-bucket (and
    /// --s3-prefix: the stack's ObjectPrefix); the state machine invokes the function itself.
    #[arg(long, value_name = "ARN", group = "function", requires = "s3_bucket")]
    state_machine: Option<String>,
    /// With --state-machine: start the run, record it in DIR/manifest.json and exit without
    /// waiting. The same command again (without --detach) follows and collects it.
    #[arg(long, requires = "state_machine")]
    detach: bool,
    #[command(flatten)]
    legacy: LegacyArgs,
    /// Print one JSON document (counts, outputs, statistics, where the time went, retries)
    /// instead of lines.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Differences a sequence, writes its outputs, reports.
pub fn run(args: &Args) -> Result<()> {
    let remote = args.remote.checked()?;
    let against = args.against.clone().unwrap_or(Against::Previous);
    if let Some(fps) = args.fps {
        if !(fps > 0.0 && fps <= 1000.0) {
            bail!("--fps {fps}: give a rate above 0 and at most 1000");
        }
    }
    let given_key = args.key.as_deref().map(files::read_key).transpose()?;
    let sequence = Sequence::open(&args.inputs)?;
    let dir = args.out.as_path();
    prepare_dir(dir, &sequence, &against)?;
    let (key, key_path, key_new) = match given_key {
        Some(key) => (key, args.key.clone().expect("given"), false),
        None => own_key(dir)?,
    };
    flow::check_legacy(&key, args.legacy)?;
    if !key.is_secret() {
        bail!(
            "{} is a public key: a sequence decrypts its results, so it needs the secret key",
            key_path.display()
        );
    }
    let reference = reference(&sequence, &against)?;
    let op = Op::from(args.op);
    let settings = Settings {
        op: op.name().to_string(),
        render: args.render.mode().name().to_string(),
        threshold: args.render.threshold,
        against: against.setting(),
    };
    let manifest = Manifest::load(dir, settings.clone());

    let pairs = sequence.len().map(|n| match against {
        Against::File(_) => n,
        _ => n - 1,
    });
    let runtime = remote::runtime()?;
    let place = match (&args.state_machine, &remote.s3_bucket) {
        (Some(arn), Some(bucket)) => {
            Place::FanOut(runtime.block_on(FanOut::connect(arn, bucket, &remote.s3_prefix))?)
        }
        _ => Place::Engine(runtime.block_on(Engine::connect(&remote))?),
    };
    output::line(format_args!(
        "frames: {} ({}); {}, {}",
        sequence.describe(),
        sequence.shape(),
        pairs_in_words(pairs, &against, reference.as_ref()),
        place.describe()
    ));
    output::line(format_args!(
        "key: {}{}",
        key_path.display(),
        if key_new {
            " (new: keep it; running again in this folder reuses it)"
        } else {
            ""
        }
    ));
    for note in [&sequence.note, &manifest.note].into_iter().flatten() {
        output::line(format_args!("note: {note}"));
    }

    let setup = Arc::new(Setup {
        key,
        op,
        render: args.render,
        npy: args.npy,
        dir: dir.to_path_buf(),
        jobs: usize::from(args.jobs),
        policy: Policy::new(args.retries),
        legacy: args.legacy,
    });
    let tally = Arc::new(Tally::default());
    let sequence = Arc::new(sequence);
    let engine = match place {
        Place::Engine(engine) => engine,
        Place::FanOut(fanout) => {
            let phases = Phases {
                runtime: &runtime,
                setup,
                sequence,
                reference,
                tally,
                settings,
                pairs,
            };
            return fan_out(args, &fanout, phases, manifest, &key_path);
        }
    };
    let manifest = Arc::new(manifest);
    let bar = output::progress_bar(pairs.map(|n| n as u64), "differences");
    let work = Work {
        sequence: sequence.clone(),
        reference,
        manifest: manifest.clone(),
        engine,
        tally: tally.clone(),
        inputs: Inputs::Encrypt,
    };
    let ran = pipeline::run(&runtime, setup.clone(), work, &bar);
    bar.finish_and_clear();
    let outcome = match ran {
        Ok(outcome) => outcome,
        Err((stop, records)) => return Err(stopped(stop, &records, pairs, dir)),
    };
    let place = remote.url.as_deref().unwrap_or("in process");
    complete(
        args, &runtime, &sequence, &manifest, &outcome, &setup, &tally, &key_path, &settings, place,
    )
}

/// Where the pairs are subtracted: an engine, or the fan-out state machine.
enum Place {
    Engine(Engine),
    FanOut(FanOut),
}

impl Place {
    fn describe(&self) -> String {
        match self {
            Place::Engine(engine) => engine.describe(),
            Place::FanOut(f) => format!(
                "by the state machine {} through s3://{}/{}",
                f.state_machine, f.bucket, f.prefix
            ),
        }
    }
}

/// The statistics, animations and plot of a run that finished every pair, and its report.
#[allow(clippy::too_many_arguments)]
fn complete(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    sequence: &Sequence,
    manifest: &Manifest,
    outcome: &Outcome,
    setup: &Setup,
    tally: &Tally,
    key_path: &Path,
    settings: &Settings,
    place: &str,
) -> Result<()> {
    if outcome.records.is_empty() {
        bail!(
            "{} frame{}: a sequence needs two or more",
            outcome.frames,
            if outcome.frames == 1 { "" } else { "s" }
        );
    }
    let dir = setup.dir.as_path();
    let fps = args.fps.or(sequence.fps()).unwrap_or(5.0);
    let records: Vec<Record> = outcome.records.values().cloned().collect();
    let summaries = write_summaries(runtime, dir, records, settings, fps)?;
    remove_stale(dir, manifest, &outcome.records);
    report(
        args, setup, outcome, &summaries, tally, key_path, settings, place,
    )
}

/// What each phase of a fan-out run works with.
struct Phases<'a> {
    runtime: &'a tokio::runtime::Runtime,
    setup: Arc<Setup>,
    sequence: Arc<Sequence>,
    reference: Option<Reference>,
    tally: Arc<Tally>,
    settings: Settings,
    pairs: Option<usize>,
}

impl Phases<'_> {
    /// One pass of the pipeline over the frames, with `engine` and `inputs`.
    fn run(
        &self,
        manifest: &Arc<Manifest>,
        engine: Engine,
        inputs: Inputs,
        len: Option<usize>,
        unit: &str,
    ) -> Result<Outcome> {
        let bar = output::progress_bar(len.map(|n| n as u64), unit);
        let work = Work {
            sequence: self.sequence.clone(),
            reference: self.reference.clone(),
            manifest: manifest.clone(),
            engine,
            tally: self.tally.clone(),
            inputs,
        };
        let ran = pipeline::run(self.runtime, self.setup.clone(), work, &bar);
        bar.finish_and_clear();
        ran.map_err(|(stop, records)| stopped(stop, &records, self.pairs, &self.setup.dir))
    }
}

/// `--state-machine`: collects the run this folder started earlier, if any; hands the
/// pairs not done yet to a new run (each frame encrypted and uploaded once, the manifest
/// object written, the run recorded in `DIR/manifest.json` and started); unless
/// `--detach`, follows it and collects it; then writes what a finished sequence writes.
fn fan_out(
    args: &Args,
    fanout: &FanOut,
    phases: Phases<'_>,
    manifest: Manifest,
    key_path: &Path,
) -> Result<()> {
    let dir = phases.setup.dir.clone();
    let key_id = phases.setup.key.id().to_string();
    let mut manifest = Arc::new(manifest);
    let earlier = manifest.pending().clone();
    if let Some(pending) = earlier {
        check_pending(&pending, fanout, &key_id, &phases.settings, &dir)?;
        output::line(format_args!(
            "run: {} of {} pairs, started earlier in {}",
            pending.execution,
            pending.pairs.len(),
            dir.display()
        ));
        if collect(args, fanout, &phases, &manifest, pending)?.is_none() {
            return Ok(());
        }
        // Its pairs are done now: the hand-over below reuses them.
        manifest = Arc::new(Manifest::load(&dir, phases.settings.clone()));
    }

    let (submit, handed) = fanout.submit()?;
    let outcome = phases.run(
        &manifest,
        Engine::FanOut(Box::new(submit)),
        Inputs::Encrypt,
        phases.pairs,
        "pairs handed over",
    );
    let handed = std::mem::take(&mut *handed.lock().unwrap_or_else(|e| e.into_inner()));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            phases.runtime.block_on(fanout.abandon(&handed));
            return Err(e);
        }
    };
    let Some(pending) = fanout.pending(handed, &phases.settings, &key_id)? else {
        // Every pair was done already.
        return complete(
            args,
            phases.runtime,
            &phases.sequence,
            &manifest,
            &outcome,
            &phases.setup,
            &phases.tally,
            key_path,
            &phases.settings,
            &fanout.state_machine,
        );
    };
    // Recorded before it starts: a client stopped in between finds it again.
    *manifest.pending() = Some(pending.clone());
    manifest.save(&outcome.records)?;
    if let Err(e) = phases.runtime.block_on(fanout.start(&pending)) {
        *manifest.pending() = None;
        manifest.save(&outcome.records)?;
        phases.runtime.block_on(fanout.forget(&pending));
        return Err(e);
    }
    let (encrypted, uploaded) = phases.tally.counts();
    output::line(format_args!(
        "run: started {}: {} pairs, {uploaded} frames uploaded to s3://{}/{} (manifest {})",
        pending.execution,
        pending.pairs.len(),
        pending.bucket,
        pending.base,
        pending.manifest
    ));
    if args.detach {
        output::line(format_args!(
            "detached: the run goes on without this client; {} records it, and the same command again (without --detach) collects it",
            dir.join(manifest::FILE).display()
        ));
        return output::json(json!({
            "state_machine": pending.state_machine,
            "execution": pending.execution,
            "bucket": pending.bucket,
            "manifest_object": pending.manifest,
            "pairs_started": pending.pairs.len(),
            "reused": outcome.reused,
            "encrypted": encrypted,
            "uploaded": uploaded,
            "output": dir,
            "manifest": dir.join(manifest::FILE),
        }));
    }
    let outcome = collect(args, fanout, &phases, &manifest, pending)?.expect("not detached");
    complete(
        args,
        phases.runtime,
        &phases.sequence,
        &manifest,
        &outcome,
        &phases.setup,
        &phases.tally,
        key_path,
        &phases.settings,
        &fanout.state_machine,
    )
}

/// A run recorded in the folder must be one this command can collect.
fn check_pending(
    pending: &Pending,
    fanout: &FanOut,
    key_id: &str,
    settings: &Settings,
    dir: &Path,
) -> Result<()> {
    let why = if pending.state_machine != fanout.state_machine {
        format!("of the state machine {}", pending.state_machine)
    } else if pending.bucket != fanout.bucket || pending.prefix != fanout.prefix {
        format!("through s3://{}/{}", pending.bucket, pending.prefix)
    } else if pending.key_id != key_id {
        format!("with another key (key id {})", pending.key_id)
    } else if pending.settings != *settings {
        format!(
            "with other settings (--op {} --render {} --threshold {}, against {})",
            pending.settings.op,
            pending.settings.render,
            pending.settings.threshold,
            pending.settings.against
        )
    } else {
        return Ok(());
    };
    bail!(
        "{} records a fan-out run ({}) {why} that was not collected: run the command it was started with to collect it (or delete the file to abandon it; its objects expire with the bucket's lifecycle rule)",
        dir.join(manifest::FILE).display(),
        pending.execution
    )
}

/// Follows a run until it is over and collects it: every pair with a result that passes
/// its check is written and recorded; the rest are reported one line each. Then the run
/// is forgotten and (unless `--keep-s3-objects`) everything it was given or wrote is
/// deleted. `None` when `--detach` and it still runs. Ctrl-C, or a stop that is not a
/// pair's own, keeps the run recorded for the next command.
fn collect(
    args: &Args,
    fanout: &FanOut,
    phases: &Phases<'_>,
    manifest: &Arc<Manifest>,
    pending: Pending,
) -> Result<Option<Outcome>> {
    let runtime = phases.runtime;
    let Some(execution) = runtime.block_on(fanout.follow(&pending, args.detach))? else {
        return Ok(None);
    };
    output::line(format_args!(
        "run: {} {}{}; collecting",
        pending.execution,
        execution.status.to_lowercase(),
        execution
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    ));
    let len = pending.pairs.len();
    let run = Arc::new(Run::new(pending));
    let collect = runtime.block_on(fanout.collect(run.clone(), &execution))?;
    let keys = collect.keys();
    let outcome = phases.run(
        manifest,
        Engine::Collect(Box::new(collect)),
        Inputs::Uploaded(run.clone()),
        Some(len),
        "results checked",
    )?;
    *manifest.pending() = None;
    manifest.save(&outcome.records)?;
    if !args.remote.keep_s3_objects {
        runtime.block_on(fanout.delete(&run.pending.bucket, &keys));
    }
    if outcome.failed.is_empty() {
        return Ok(Some(outcome));
    }
    for line in outcome.failed.values() {
        eprintln!("picrypt: failed: {line}");
    }
    let named: Vec<String> = outcome.failed.keys().map(|p| format!("pair {p}")).collect();
    bail!(
        "{} of {len} pairs of the run failed ({}); the {} others are written in {}, and running the same command again hands the failed ones to a new run",
        outcome.failed.len(),
        named.join(", "),
        len - outcome.failed.len(),
        phases.setup.dir.display()
    )
}

/// The pairs of the run, in words.
fn pairs_in_words(
    pairs: Option<usize>,
    against: &Against,
    reference: Option<&Reference>,
) -> String {
    let count = match pairs {
        Some(n) => format!("{n} difference{}", if n == 1 { "" } else { "s" }),
        None => "a difference per frame".to_string(),
    };
    match (against, reference) {
        (Against::Previous, _) => format!("{count}, each frame − the next"),
        (_, Some(r)) => format!("{count}, {} − each other frame", r.info.name),
        (_, None) => count,
    }
}

/// The output folder, made if missing; refused when it holds an input (outputs would mix
/// with the frames) or cannot be written.
fn prepare_dir(dir: &Path, sequence: &Sequence, against: &Against) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "-o {}: that is a file; name a folder for the outputs",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot make the output folder {}", dir.display()))?;
    let canonical = std::fs::canonicalize(dir)
        .with_context(|| format!("cannot read the output folder {}", dir.display()))?;
    let mut inputs = sequence.files();
    if let Against::File(file) = against {
        inputs.push(file);
    }
    for input in inputs {
        let parent = match input.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if std::fs::canonicalize(parent).is_ok_and(|p| p == canonical) {
            bail!(
                "{} is in the output folder {}: the outputs would mix with the frames (and become frames of the next run); choose another -o",
                input.display(),
                dir.display()
            );
        }
    }
    tempfile::tempfile_in(dir)
        .with_context(|| format!("cannot write in the output folder {}", dir.display()))?;
    Ok(())
}

/// The folder's own key: the one an earlier run made, or a new one (0600).
fn own_key(dir: &Path) -> Result<(Key, PathBuf, bool)> {
    let path = dir.join(KEY_FILE);
    if path.exists() {
        return Ok((files::read_key(&path)?, path, false));
    }
    let key = Key::generate(Scheme::MASK)?;
    files::write_key(&path, &key, false)?;
    Ok((key, path, true))
}

/// The fixed reference of `--against`, decoded and checked against the frames' shape.
fn reference(sequence: &Sequence, against: &Against) -> Result<Option<Reference>> {
    let (number, name, image) = match against {
        Against::Previous => return Ok(None),
        Against::Frame(n) => {
            let frame = sequence.frame(*n)?;
            (Some(frame.number), frame.name, frame.image)
        }
        Against::File(path) => {
            let image = files::read_image(path)?;
            if let Some(d) = image.shape().difference(&sequence.shape()) {
                bail!(
                    "--against {}: it is {}, the frames {} ({d}): the reference must have the frames' size and channels",
                    path.display(),
                    image.shape(),
                    sequence.shape()
                );
            }
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "reference".into());
            (None, name, image)
        }
    };
    let info = FrameInfo {
        number,
        name,
        digest: frame_digest(&image),
    };
    Ok(Some(Reference { info, image }))
}

/// The one line of a run that stopped early.
fn stopped(
    stop: Stop,
    records: &BTreeMap<usize, Record>,
    pairs: Option<usize>,
    dir: &Path,
) -> anyhow::Error {
    let done = records.len();
    let of = pairs.map(|n| format!(" of {n}")).unwrap_or_default();
    match stop {
        Stop::Interrupted => Interrupted(format!(
            "{done}{of} differences done and kept in {}; run the same command again to do the rest",
            dir.display()
        ))
        .into(),
        Stop::Failed(e) if done > 0 => anyhow!(
            "{e:#} ({done}{of} differences done are kept in {}; running the same command again resumes)",
            dir.display()
        ),
        Stop::Failed(e) => e,
    }
}

/// What the last phase wrote.
struct Summaries {
    renders: Vec<PathBuf>,
    animations: Animations,
    /// The pair that changed most.
    most: Record,
}

/// Statistics, the plot and the animations of a finished run. Ctrl-C stops it with
/// nothing half-written; every difference is already done by then.
fn write_summaries(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    records: Vec<Record>,
    settings: &Settings,
    fps: f64,
) -> Result<Summaries> {
    let cancel = Arc::new(AtomicBool::new(false));
    let task = {
        let (dir, settings, cancel) = (dir.to_path_buf(), settings.clone(), cancel.clone());
        move || -> Result<Summaries> {
            let ordered: Vec<&Record> = records.iter().collect();
            outputs::write_stats(&dir, &ordered, &settings)?;
            let points: Vec<(f64, f64)> = records
                .iter()
                .map(|r| {
                    let x = r.after.number.unwrap_or(r.pair) as f64;
                    (x, 100.0 * r.statistics.changed_fraction())
                })
                .collect();
            let picture = plot::changes(&points, settings.threshold);
            files::write_atomic(
                &dir.join(outputs::PLOT),
                &picrypt_core::image_io::encode_png(&picture)?,
            )?;
            let renders: Vec<PathBuf> = records
                .iter()
                .map(|r| {
                    let names = outputs::pair_outputs(&r.before.name, &r.after.name, false);
                    dir.join(&names[0])
                })
                .collect();
            let animations = outputs::write_animations(&dir, &renders, fps, &cancel)?;
            // The first of the pairs that changed most.
            let most = records
                .iter()
                .min_by(|a, b| {
                    b.statistics
                        .changed_fraction()
                        .total_cmp(&a.statistics.changed_fraction())
                })
                .expect("at least one pair")
                .clone();
            Ok(Summaries {
                renders,
                animations,
                most,
            })
        }
    };
    runtime.block_on(async {
        let mut handle = tokio::task::spawn_blocking(task);
        let written = tokio::select! {
            written = &mut handle => written,
            _ = tokio::signal::ctrl_c() => {
                cancel.store(true, Ordering::Relaxed);
                let _ = handle.await;
                return Err(Interrupted(format!(
                    "every difference is done, but the statistics and animations in {} are not all written; run the same command again to write them",
                    dir.display()
                )).into());
            }
        };
        written.context("writing the statistics and animations stopped")?
    })
}

/// Deletes the outputs of pairs an earlier run made whose frames left the sequence (only
/// files that still have the digest this tool recorded: its own).
fn remove_stale(dir: &Path, manifest: &Manifest, current: &BTreeMap<usize, Record>) {
    for record in manifest.stale(current) {
        for (name, digest) in &record.outputs {
            let path = dir.join(name);
            if std::fs::read(&path).is_ok_and(|b| manifest::bytes_digest(&b) == *digest) {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!("cannot remove the stale output {}: {e}", path.display());
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    setup: &Setup,
    outcome: &Outcome,
    summaries: &Summaries,
    tally: &Tally,
    key_path: &Path,
    settings: &Settings,
    place: &str,
) -> Result<()> {
    let dir = &setup.dir;
    let n = outcome.records.len();
    let seconds = outcome.wall.as_secs_f64();
    let rate = n as f64 / seconds.max(1e-9);
    let (encrypted, uploaded) = tally.counts();
    let retries = outcome.retried.len();
    output::line(format_args!(
        "done: {n} differences ({} computed, {} reused from the last run) in {seconds:.2} s, {rate:.1} per second; each result checked against its two frames before decryption{}",
        outcome.computed,
        outcome.reused,
        match retries {
            0 => String::new(),
            1 => "; 1 retry".to_string(),
            r => format!("; {r} retries"),
        }
    ));
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let renders = match summaries.renders.as_slice() {
        [one] => name(one),
        [first, .., last] => format!("{} … {}", name(first), name(last)),
        [] => String::new(),
    };
    let mp4 = summaries.animations.mp4.as_ref();
    output::line(format_args!(
        "wrote in {}: {n} {} renders {renders}{}, {}{}, {}, {}, {}",
        dir.display(),
        settings.render,
        if setup.npy { " (and .npy)" } else { "" },
        outputs::ANIMATION,
        if mp4.is_ok() {
            format!(", {}", outputs::VIDEO)
        } else {
            String::new()
        },
        outputs::CSV,
        outputs::JSON,
        outputs::PLOT
    ));
    if let Err(why) = mp4 {
        output::line(format_args!("note: no {}: {why}", outputs::VIDEO));
    }
    let most = &summaries.most;
    if most.statistics.changed_pixels == 0 {
        output::line(format_args!(
            "no change: no pixel changed by more than {} in any pair",
            settings.threshold
        ));
    } else {
        output::line(format_args!(
            "most change: {}: {:.2}% of pixels changed (|d| > {}), see {}",
            crate::sequence::plan::describe(most.pair, &most.before, &most.after),
            100.0 * most.statistics.changed_fraction(),
            settings.threshold,
            dir.join(outputs::PLOT).display()
        ));
    }
    warn_if_insecure(setup.key.scheme());
    let retried: Vec<_> = outcome
        .retried
        .iter()
        .map(|(pair, r)| json!({"pair": pair, "attempt": r.attempt, "status": r.status, "reason": r.reason, "waited_ms": r.waited_ms}))
        .collect();
    output::json(json!({
        "inputs": &args.inputs,
        "frames": outcome.frames,
        "pairs": n,
        "computed": outcome.computed,
        "reused": outcome.reused,
        "encrypted": encrypted,
        "uploaded": uploaded,
        "op": settings.op,
        "against": settings.against,
        "render": settings.render,
        "threshold": settings.threshold,
        "scheme": setup.key.scheme().name(),
        "where": place,
        "s3_bucket": args.remote.s3_bucket,
        "jobs": setup.jobs,
        "key": key_path,
        "output": dir,
        "manifest": dir.join(manifest::FILE),
        "animation": summaries.animations.apng,
        "mp4": mp4.ok(),
        "stats_csv": dir.join(outputs::CSV),
        "stats_json": dir.join(outputs::JSON),
        "plot": dir.join(outputs::PLOT),
        "renders": summaries.renders,
        "wall_ms": seconds * 1e3,
        "pairs_per_second": rate,
        "stages_ms": tally.to_json(),
        "retries": retried,
    }))
}
