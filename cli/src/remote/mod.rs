//! Having a function subtract: over HTTP ([`http`]) or by direct invocation of a Lambda
//! function ([`lambda`]), S3 transfers ([`s3`]), the fan-out state machine
//! ([`stepfunctions`]), and the one operation the commands use, [`subtract`]. What comes
//! back is not trusted here: the caller checks it against the inputs
//! (`picrypt_core::verify`).

pub mod http;
pub mod lambda;
pub mod pipeline;
pub mod retry;
pub mod s3;
pub mod stepfunctions;

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use bytes::Bytes;
use picrypt_api::{DiffRequest, DiffResponse, ErrorBody, ResultLocation};
use picrypt_core::{ops, Op};

use crate::args::{RemoteArgs, Wire};
use crate::output::step;

/// `op(a, b)` of two encoded ciphertexts: in this process, or on the function at `--url`
/// or `--function-name`. The containers are sent from their own buffers, and the result is
/// a slice of what the function sent: neither is copied.
pub fn subtract(op: Op, a: &Bytes, b: &Bytes, remote: &RemoteArgs) -> Result<Bytes> {
    if !remote.is_remote() {
        return Ok(Bytes::from(ops::apply_bytes(op, a, b)?));
    }
    // One request and its answer: a runtime on this thread, so the answer's reads wake
    // no other thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let function = Function::new(remote).await?;
        subtract_on(&function, op, a, b, remote).await
    })
}

/// A runtime for the few async calls (HTTP, S3) a command makes.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

/// 16 hex digits of OS randomness: a name for one run's uploads.
pub fn random_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow!("operating system randomness: {e}"))?;
    Ok(picrypt_core::hex::encode(&bytes))
}

/// The function `--url` or `--function-name` names, and how to reach it.
enum Function {
    /// `POST URL/diff`; the URL as given.
    Url(http::Remote, String),
    /// The Lambda Invoke API, the request document as the payload.
    Lambda(lambda::Invoker),
}

impl Function {
    async fn new(args: &RemoteArgs) -> Result<Function> {
        match (&args.url, &args.function_name) {
            (Some(url), _) => Ok(Function::Url(
                http::Remote::new(url, args.sigv4, args.timeout()).await?,
                url.clone(),
            )),
            (None, Some(name)) => Ok(Function::Lambda(
                lambda::Invoker::new(name, args.timeout()).await?,
            )),
            (None, None) => bail!("no function: pass --url or --function-name"),
        }
    }

    /// The function, for reports: its URL, or `Lambda function NAME`.
    fn name(&self) -> String {
        match self {
            Function::Url(_, url) => url.clone(),
            Function::Lambda(invoker) => format!("Lambda function {}", invoker.name()),
        }
    }

    fn signs(&self) -> bool {
        match self {
            Function::Url(remote, _) => remote.signs(),
            Function::Lambda(_) => true,
        }
    }

    /// One request document (S3 sources and output): the answer and what was sent.
    async fn diff(&self, request: &DiffRequest) -> Result<(DiffResponse, Sent)> {
        match self {
            Function::Url(remote, _) => remote.diff(request).await,
            Function::Lambda(invoker) => invoker.diff(request).await,
        }
    }

    /// Both containers in the request, the result in the answer.
    async fn diff_inline(&self, a: &Bytes, b: &Bytes, op: &str, wire: Wire) -> Result<Exchange> {
        match self {
            Function::Url(remote, _) => remote.diff_inline(a, b, op, wire).await,
            // A direct invocation's payload is JSON: there is no framed form.
            Function::Lambda(invoker) => invoker.diff_inline(a, b, op).await,
        }
    }
}

/// The function's refusal as one line: its status, code, message and request id.
pub(super) fn refused(status: u16, e: &ErrorBody) -> anyhow::Error {
    anyhow!(
        "server refused the request: {status} {}: {}{}",
        e.error.code,
        e.error.message,
        e.error
            .request_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(|id| format!(" (request id {id})"))
            .unwrap_or_default()
    )
}

/// What a request sent: its body's size and form.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub bytes: usize,
    /// `application/vnd.picrypt.framed` rather than JSON (over HTTP only).
    pub framed: bool,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let form = if self.framed { "framed" } else { "as JSON" };
        write!(f, "{} bytes sent {form}", self.bytes)
    }
}

/// One inline exchange: the answer, the result container, and where the client's time
/// went (milliseconds).
pub struct Exchange {
    pub response: DiffResponse,
    /// The result container: a slice of the answer as received, not a copy.
    pub result: bytes::Bytes,
    pub sent: Sent,
    /// Building the body (framing, or base64 and JSON).
    pub encode_ms: f64,
    /// Sending the request until the whole answer is in: transfer both ways and the server.
    pub round_trip_ms: f64,
    /// Reading the answer (unframing, or JSON and base64).
    pub decode_ms: f64,
}

pub(super) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// The result of a JSON answer to a request that asked for it inline; any other location
/// is refused, never followed.
pub(super) fn inline_result(response: &DiffResponse) -> Result<bytes::Bytes> {
    let ResultLocation::Inline(text) = &response.result else {
        bail!(
            "the function answered with the result at {:?} although it was asked to answer inline: refusing to read it",
            response.result
        );
    };
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(bytes::Bytes::from)
        .context("the server sent a result that is not valid base64")
}

async fn subtract_on(
    remote: &Function,
    op: Op,
    a: &Bytes,
    b: &Bytes,
    args: &RemoteArgs,
) -> Result<Bytes> {
    let Some(bucket) = &args.s3_bucket else {
        let t = Instant::now();
        let exchange = crate::output::with_spinner(
            "waiting for the function",
            remote.diff_inline(a, b, op.name(), args.wire),
        )
        .await?;
        let figures = Figures {
            encode_ms: Some(exchange.encode_ms),
            round_trip_ms: Some(exchange.round_trip_ms),
            decode_ms: Some(exchange.decode_ms),
            ..Figures::default()
        };
        report(
            &remote.name(),
            remote.signs(),
            t,
            &exchange.response,
            exchange.sent,
            figures,
        );
        return Ok(exchange.result);
    };
    let mut run = Run::new(bucket, args).await?;
    let result = through_s3(remote, &mut run, op, a, b)
        .await
        .map(Bytes::from);
    run.clean_up(result.is_err(), args.keep_s3_objects).await;
    result
}

/// One diff's objects in the bucket: the keys of A, B and the result, and which of them
/// this run wrote (or asked the function to write).
struct Run {
    client: aws_sdk_s3::Client,
    bucket: String,
    keys: [String; 3],
    written: Vec<String>,
}

impl Run {
    async fn new(bucket: &str, args: &RemoteArgs) -> Result<Run> {
        let client = s3::client_from_env().await?;
        let base = format!("{}uploads/{}/", args.s3_prefix, random_id()?);
        Ok(Run {
            client,
            bucket: bucket.to_string(),
            keys: [
                format!("{base}a.picrypt"),
                format!("{base}b.picrypt"),
                format!("{base}diff.picrypt"),
            ],
            written: Vec::new(),
        })
    }

    /// Where both inputs went, for reports.
    fn inputs_at(&self) -> String {
        let base = self.keys[2].trim_end_matches("diff.picrypt");
        format!("s3://{}/{base}{{a,b}}.picrypt", self.bucket)
    }

    /// The request that has the function compute `op` of the uploaded inputs into the
    /// result's key; from now on that key is this run's to delete.
    fn request(&mut self, op: Op) -> DiffRequest {
        let [a, b, output] = &self.keys;
        self.written.push(output.clone());
        DiffRequest::s3(&self.bucket, a, b, op.name(), output)
    }

    /// Nothing stays behind after a failure, and after a success only when asked to.
    /// Only what this run wrote (or asked the function to write) is deleted: after an
    /// upload refused outright, say by storage that cannot be reached, there is nothing
    /// to delete and nothing to warn about.
    async fn clean_up(self, failed: bool, keep: bool) {
        if self.written.is_empty() || (!failed && keep) {
            return;
        }
        let left = s3::delete(&self.client, &self.bucket, &self.written).await;
        if !left.is_empty() {
            eprintln!(
                "picrypt: warning: could not delete {} from s3://{}/ (the bucket's lifecycle rule will): {}",
                if left.len() == 1 { "an object" } else { "objects" },
                self.bucket,
                left.join(", ")
            );
        }
    }
}

/// Uploads both inputs, has the function write the result at the run's result key, and
/// downloads it: from exactly the bucket and key asked for, or not at all.
async fn through_s3(
    remote: &Function,
    run: &mut Run,
    op: Op,
    a: &[u8],
    b: &[u8],
) -> Result<Vec<u8>> {
    let t = Instant::now();
    let (client, bucket) = (&run.client, run.bucket.as_str());
    s3::upload(client, bucket, &run.keys[0], a, Some("upload A")).await?;
    run.written.push(run.keys[0].clone());
    s3::upload(client, bucket, &run.keys[1], b, Some("upload B")).await?;
    run.written.push(run.keys[1].clone());
    step(
        "upload",
        t,
        &format!("{} ({} bytes)", run.inputs_at(), a.len() + b.len()),
    );
    let request = run.request(op);
    let location = ask(remote, &request).await?;
    let t = Instant::now();
    let output = &run.keys[2];
    let bytes = fetch_result(
        &run.client,
        &run.bucket,
        output,
        location,
        Some("download result"),
    )
    .await?;
    step(
        "download",
        t,
        &format!("s3://{}/{output} ({} bytes)", run.bucket, bytes.len()),
    );
    Ok(bytes)
}

/// A diff through S3 for pairs too large to hold, driven a step at a time: the inputs
/// uploaded from their files or as they are encrypted, the function asked, the result
/// received, checked, written and decrypted as it arrives (`crate::streamed`). The run's
/// objects are deleted by [`S3Diff::finish`], as for a small pair.
pub struct S3Diff {
    runtime: tokio::runtime::Runtime,
    function: Function,
    run: Run,
    keep: bool,
    /// When the first upload started, and the bytes sent.
    uploads: Option<(Instant, u64)>,
}

impl S3Diff {
    /// Connects to the function and the bucket `--s3-bucket` names.
    pub fn start(args: &RemoteArgs) -> Result<S3Diff> {
        let Some(bucket) = &args.s3_bucket else {
            bail!("a pair this large goes through S3: pass --s3-bucket BUCKET");
        };
        let runtime = runtime()?;
        let (function, run) = runtime.block_on(async {
            Ok::<_, anyhow::Error>((Function::new(args).await?, Run::new(bucket, args).await?))
        })?;
        Ok(S3Diff {
            runtime,
            function,
            run,
            keep: args.keep_s3_objects,
            uploads: None,
        })
    }

    fn uploaded(&mut self, bytes: u64) {
        self.uploads.get_or_insert((Instant::now(), 0)).1 += bytes;
    }

    /// Uploads input `which` (0 for A, 1 for B) from its file, a few parts at a time.
    pub fn upload_file(&mut self, which: usize, path: &std::path::Path) -> Result<()> {
        self.uploads.get_or_insert((Instant::now(), 0));
        let run = &mut self.run;
        let key = run.keys[which].clone();
        let label = ["upload A", "upload B"][which];
        let sent = self.runtime.block_on(s3::upload_file(
            &run.client,
            &run.bucket,
            &key,
            path,
            Some(label),
        ))?;
        run.written.push(key);
        self.uploaded(sent);
        Ok(())
    }

    /// Encrypts `image` into input `which` (0 for A, 1 for B) as it uploads: the payload
    /// in parts as it is encrypted, the first part with the header last. Returns the
    /// header's bytes (what the result is checked against).
    pub fn upload_encrypted(
        &mut self,
        which: usize,
        key: &picrypt_core::Key,
        image: &picrypt_core::Image,
    ) -> Result<Vec<u8>> {
        self.uploads.get_or_insert((Instant::now(), 0));
        let run = &mut self.run;
        let s3_key = run.keys[which].clone();
        let label = ["upload A", "upload B"][which];
        let encryptor = key.encryptor(image.shape())?;
        let (header, sent) = self.runtime.block_on(async {
            let mut upload = s3::StreamUpload::new(
                &run.client,
                &run.bucket,
                &s3_key,
                (encryptor.header_len(), encryptor.payload_len()),
                Some(label),
            );
            match encrypt_into(encryptor, image, &mut upload).await {
                Ok(header) => {
                    let bytes = header.to_bytes();
                    let sent = upload.finish(&bytes).await?;
                    Ok::<_, anyhow::Error>((bytes, sent))
                }
                Err(e) => {
                    upload.abort().await;
                    Err(e)
                }
            }
        })?;
        run.written.push(s3_key);
        self.uploaded(sent);
        Ok(header)
    }

    /// Asks the function for `op` of the uploaded inputs, its result in S3.
    pub fn compute(&mut self, op: Op) -> Result<()> {
        if let Some((t, sent)) = self.uploads {
            step(
                "upload",
                t,
                &format!("{} ({sent} bytes)", self.run.inputs_at()),
            );
        }
        let request = self.run.request(op);
        let location = self.runtime.block_on(ask(&self.function, &request))?;
        expect_location(&self.run.bucket, &self.run.keys[2], &location)
    }

    /// Receives the result into `sinks`, checked against `inputs` as it arrives
    /// ([`crate::streamed::receive`]).
    pub fn receive(
        &mut self,
        op: Op,
        inputs: crate::streamed::Inputs<'_>,
        sinks: crate::streamed::Sinks<'_, '_>,
    ) -> Result<picrypt_core::verify::StreamedResult> {
        let t = Instant::now();
        let run = &self.run;
        let mut download = self.runtime.block_on(s3::Download::open(
            run.client.clone(),
            &run.bucket,
            &run.keys[2],
            Some("download result"),
        ))?;
        let len = download.len();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let feeding = self.runtime.spawn(async move {
            loop {
                let next = download.next().await;
                let end = !matches!(next, Ok(Some(_)));
                let sent = match next {
                    Ok(Some(bytes)) => tx.send(Ok(bytes)).await,
                    Ok(None) => break,
                    Err(e) => tx.send(Err(e)).await,
                };
                if end || sent.is_err() {
                    break;
                }
            }
        });
        let got = crate::streamed::receive(
            op,
            inputs,
            &mut crate::streamed::ChannelPull::new(rx),
            len,
            sinks,
        );
        feeding.abort();
        if got.is_ok() {
            step(
                "download",
                t,
                &format!(
                    "s3://{}/{} ({len} bytes, checked as it arrived)",
                    run.bucket, run.keys[2]
                ),
            );
        }
        got
    }

    /// Deletes the run's objects: always after a failure, after a success unless
    /// `--keep-s3-objects`.
    pub fn finish(self, failed: bool) {
        let S3Diff {
            runtime, run, keep, ..
        } = self;
        runtime.block_on(run.clean_up(failed, keep));
    }
}

/// Feeds `image` through `encryptor` into `upload`, a chunk at a time; the header.
async fn encrypt_into(
    mut encryptor: picrypt_core::stream::Encryptor,
    image: &picrypt_core::Image,
    upload: &mut s3::StreamUpload<'_>,
) -> Result<picrypt_core::Header> {
    let mut payload = Vec::new();
    for samples in image.data().chunks(crate::streamed::ENCRYPT_SAMPLES) {
        payload.clear();
        encryptor.update(samples, &mut payload)?;
        upload.write(&payload).await?;
    }
    payload.clear();
    let header = encryptor.finish(&mut payload)?;
    upload.write(&payload).await?;
    Ok(header)
}

/// Refuses a result location other than exactly `s3://bucket/output`, where the function
/// was asked to write it.
fn expect_location(bucket: &str, output: &str, location: &ResultLocation) -> Result<()> {
    match location {
        ResultLocation::S3 {
            bucket: got_bucket,
            key,
        } if got_bucket == bucket && key == output => Ok(()),
        ResultLocation::S3 { bucket: b, key } => bail!(
            "the function put the result at s3://{b}/{key}, not at s3://{bucket}/{output} where it was asked to: refusing to read it"
        ),
        ResultLocation::Inline(_) | ResultLocation::Part(_) => bail!(
            "the function answered inline although it was asked to write the result to s3://{bucket}/{output}: refusing to read it"
        ),
    }
}

/// Downloads the result the function says it wrote: from exactly `s3://bucket/output`,
/// where it was asked to write it, or not at all. `progress` labels a progress bar.
pub async fn fetch_result(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    output: &str,
    location: ResultLocation,
    progress: Option<&str>,
) -> Result<Vec<u8>> {
    expect_location(bucket, output, &location)?;
    s3::download(client, bucket, output, progress).await
}

/// Sends one request and reports the step; a spinner shows while the answer takes long.
async fn ask(remote: &Function, request: &DiffRequest) -> Result<ResultLocation> {
    let t = Instant::now();
    let (response, sent) =
        crate::output::with_spinner("waiting for the function", remote.diff(request)).await?;
    report(
        &remote.name(),
        remote.signs(),
        t,
        &response,
        sent,
        Figures::default(),
    );
    Ok(response.result)
}

/// The subtract step of an exchange sent as it was made ([`pipeline`]): from when the
/// last container was handed over (`since`) until the whole answer came, and when the
/// answer's head and its last byte came (`arrival`).
pub fn report_overlapped(
    function: &http::Remote,
    since: Instant,
    arrival: [Instant; 2],
    response: &DiffResponse,
    sent: Sent,
) {
    let [head, end] = arrival.map(|at| at.saturating_duration_since(since).as_secs_f64() * 1e3);
    let figures = Figures {
        round_trip_ms: Some(end),
        answer_head_ms: Some(head),
        overlapped: true,
        ..Figures::default()
    };
    report(
        function.url(),
        function.signs(),
        since,
        response,
        sent,
        figures,
    );
}

/// Where the client's time went in the subtract step, as far as it was measured.
#[derive(Default)]
struct Figures {
    encode_ms: Option<f64>,
    round_trip_ms: Option<f64>,
    /// Until the answer's head came, of the round trip.
    answer_head_ms: Option<f64>,
    decode_ms: Option<f64>,
    /// The request went out while B was encrypted: the round trip starts when B was
    /// handed over.
    overlapped: bool,
}

/// The subtract step, with where the server's time went.
fn report(
    name: &str,
    signs: bool,
    t: Instant,
    response: &DiffResponse,
    sent: Sent,
    client: Figures,
) {
    let timing = &response.timing;
    let figures = serde_json::json!({
        "bytes_sent": sent.bytes,
        "framed": sent.framed,
        "overlapped": client.overlapped,
        "client_encode_ms": client.encode_ms,
        "round_trip_ms": client.round_trip_ms,
        "answer_head_ms": client.answer_head_ms,
        "client_decode_ms": client.decode_ms,
        "server_ms": response.server_ms,
        "server": timing,
    });
    crate::output::step_with(
        "subtract",
        t,
        &format!(
            "on {name}{} (server {:.1} ms: decode {:.1}, fetch {:.1}, compute {:.1}, encode {:.1}, store {:.1}; {sent}{}; no key)",
            if signs { ", SigV4-signed" } else { "" },
            response.server_ms,
            timing.decode_ms,
            timing.fetch_ms,
            timing.compute_ms,
            timing.encode_ms,
            timing.store_ms,
            if client.overlapped { ", A sent while B was encrypted" } else { "" },
        ),
        figures,
    );
}
