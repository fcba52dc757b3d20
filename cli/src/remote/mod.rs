//! Having a function subtract: the HTTP client ([`http`]), S3 transfers ([`s3`]), and the
//! one operation the commands use, [`subtract`]. What comes back is not trusted here: the
//! caller checks it against the inputs (`picrypt_core::verify`).

pub mod http;
pub mod retry;
pub mod s3;

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use picrypt_api::{DiffRequest, DiffResponse, ResultLocation};
use picrypt_core::{ops, Op};

use crate::args::RemoteArgs;
use crate::output::step;

/// `op(a, b)` of two encoded ciphertexts: in this process, or on the function at `--url`.
/// The result is a slice of what the function sent, not a copy of it.
pub fn subtract(op: Op, a: &[u8], b: &[u8], remote: &RemoteArgs) -> Result<Bytes> {
    match &remote.url {
        None => Ok(Bytes::from(ops::apply_bytes(op, a, b)?)),
        Some(url) => runtime()?.block_on(subtract_on(url, op, a, b, remote)),
    }
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

async fn subtract_on(url: &str, op: Op, a: &[u8], b: &[u8], args: &RemoteArgs) -> Result<Bytes> {
    let remote = http::Remote::new(url, args.sigv4, args.timeout()).await?;
    let Some(bucket) = &args.s3_bucket else {
        let t = Instant::now();
        let exchange = crate::output::with_spinner(
            "waiting for the function",
            remote.diff_inline(a, b, op.name(), args.wire),
        )
        .await?;
        report(
            &remote,
            url,
            t,
            &exchange.response,
            exchange.sent,
            Some(&exchange),
        );
        return Ok(exchange.result);
    };
    let client = s3::client_from_env().await?;
    let base = format!("{}uploads/{}/", args.s3_prefix, random_id()?);
    let keys = [
        format!("{base}a.picrypt"),
        format!("{base}b.picrypt"),
        format!("{base}diff.picrypt"),
    ];
    let mut written = Vec::new();
    let result = through_s3(&remote, url, &client, bucket, &keys, op, a, b, &mut written)
        .await
        .map(Bytes::from);
    // Nothing stays behind after a failure, and after a success only when asked to. Only
    // what this run wrote (or asked the function to write) is deleted: after an upload
    // refused outright, say by storage that cannot be reached, there is nothing to delete
    // and nothing to warn about.
    if !written.is_empty() && (result.is_err() || !args.keep_s3_objects) {
        let left = s3::delete(&client, bucket, &written).await;
        if !left.is_empty() {
            eprintln!(
                "picrypt: warning: could not delete {} from s3://{bucket}/ (the bucket's lifecycle rule will): {}",
                if left.len() == 1 { "an object" } else { "objects" },
                left.join(", ")
            );
        }
    }
    result
}

/// Uploads both inputs, has the function write the result at `keys[2]`, and downloads
/// it: from exactly the bucket and key asked for, or not at all. `written` receives each
/// key once it was uploaded, or once the function was asked to write it.
#[allow(clippy::too_many_arguments)]
async fn through_s3(
    remote: &http::Remote,
    url: &str,
    client: &aws_sdk_s3::Client,
    bucket: &str,
    keys: &[String; 3],
    op: Op,
    a: &[u8],
    b: &[u8],
    written: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let [key_a, key_b, output] = keys;
    let t = Instant::now();
    s3::upload(client, bucket, key_a, a, Some("upload A")).await?;
    written.push(key_a.clone());
    s3::upload(client, bucket, key_b, b, Some("upload B")).await?;
    written.push(key_b.clone());
    let base = output.trim_end_matches("diff.picrypt");
    step(
        "upload",
        t,
        &format!(
            "s3://{bucket}/{base}{{a,b}}.picrypt ({} bytes)",
            a.len() + b.len()
        ),
    );
    let request = DiffRequest::s3(bucket, key_a, key_b, op.name(), output);
    written.push(output.clone());
    let location = ask(remote, url, &request).await?;
    let t = Instant::now();
    let bytes = fetch_result(client, bucket, output, location, Some("download result")).await?;
    step(
        "download",
        t,
        &format!("s3://{bucket}/{output} ({} bytes)", bytes.len()),
    );
    Ok(bytes)
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
    match location {
        ResultLocation::S3 {
            bucket: got_bucket,
            key,
        } if got_bucket == bucket && key == output => {
            s3::download(client, bucket, output, progress).await
        }
        ResultLocation::S3 { bucket: b, key } => bail!(
            "the function put the result at s3://{b}/{key}, not at s3://{bucket}/{output} where it was asked to: refusing to read it"
        ),
        ResultLocation::Inline(_) | ResultLocation::Part(_) => bail!(
            "the function answered inline although it was asked to write the result to s3://{bucket}/{output}: refusing to read it"
        ),
    }
}

/// Sends one request and reports the step; a spinner shows while the answer takes long.
async fn ask(remote: &http::Remote, url: &str, request: &DiffRequest) -> Result<ResultLocation> {
    let t = Instant::now();
    let (response, sent) =
        crate::output::with_spinner("waiting for the function", remote.diff(request)).await?;
    report(remote, url, t, &response, sent, None);
    Ok(response.result)
}

/// The subtract step, with where the server's time went.
fn report(
    remote: &http::Remote,
    url: &str,
    t: Instant,
    response: &DiffResponse,
    sent: http::Sent,
    exchange: Option<&http::Exchange>,
) {
    let timing = &response.timing;
    let figures = serde_json::json!({
        "bytes_sent": sent.bytes,
        "framed": sent.framed,
        "client_encode_ms": exchange.map(|e| e.encode_ms),
        "round_trip_ms": exchange.map(|e| e.round_trip_ms),
        "client_decode_ms": exchange.map(|e| e.decode_ms),
        "server_ms": response.server_ms,
        "server": timing,
    });
    crate::output::step_with(
        "subtract",
        t,
        &format!(
            "on {url}{} (server {:.1} ms: decode {:.1}, fetch {:.1}, compute {:.1}, encode {:.1}, store {:.1}; {sent}; no key)",
            if remote.signs() { ", SigV4-signed" } else { "" },
            response.server_ms,
            timing.decode_ms,
            timing.fetch_ms,
            timing.compute_ms,
            timing.encode_ms,
            timing.store_ms,
        ),
        figures,
    );
}
