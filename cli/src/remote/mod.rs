//! Having a function subtract: the HTTP client ([`http`]), S3 transfers ([`s3`]), and the
//! one operation the commands use, [`subtract`]. What comes back is not trusted here: the
//! caller checks it against the inputs (`picrypt_core::verify`).

pub mod http;
pub mod s3;

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use picrypt_api::{DiffRequest, ResultLocation};
use picrypt_core::{ops, Op};

use crate::args::RemoteArgs;
use crate::output::step;

/// `op(a, b)` of two encoded ciphertexts: in this process, or on the function at `--url`.
pub fn subtract(op: Op, a: &[u8], b: &[u8], remote: &RemoteArgs) -> Result<Vec<u8>> {
    match &remote.url {
        None => Ok(ops::apply_bytes(op, a, b)?),
        Some(url) => runtime()?.block_on(subtract_on(url, op, a, b, remote)),
    }
}

/// A runtime for the few async calls (HTTP, S3) a command makes.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn random_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow!("operating system randomness: {e}"))?;
    Ok(picrypt_core::hex::encode(&bytes))
}

async fn subtract_on(url: &str, op: Op, a: &[u8], b: &[u8], args: &RemoteArgs) -> Result<Vec<u8>> {
    let remote = http::Remote::new(url, args.sigv4, args.timeout()).await?;
    let mut s3_client = None;
    let request = match &args.s3_bucket {
        Some(bucket) => {
            let client = s3::client_from_env().await?;
            let base = format!("{}uploads/{}/", args.s3_prefix, random_id()?);
            let (key_a, key_b) = (format!("{base}a.picrypt"), format!("{base}b.picrypt"));
            let t = Instant::now();
            s3::upload(&client, bucket, &key_a, a, "upload A").await?;
            s3::upload(&client, bucket, &key_b, b, "upload B").await?;
            step(
                "upload",
                t,
                &format!(
                    "s3://{bucket}/{base}{{a,b}}.picrypt ({} bytes)",
                    a.len() + b.len()
                ),
            );
            s3_client = Some(client);
            let output = format!("{base}diff.picrypt");
            DiffRequest::s3(bucket, &key_a, &key_b, op.name(), &output)
        }
        None => DiffRequest::inline(a, b, op.name()),
    };
    // Where the result must be: the client never reads a location it did not ask for.
    let asked = args
        .s3_bucket
        .as_ref()
        .and_then(|bucket| Some((bucket.clone(), request.output_key()?.to_string())));
    let t = Instant::now();
    let (response, sent) = remote.diff(&request).await?;
    step(
        "subtract",
        t,
        &format!(
            "on {url}{} (server {:.1} ms, {sent} bytes sent; no key)",
            if remote.signs() { ", SigV4-signed" } else { "" },
            response.server_ms
        ),
    );
    match response.result {
        ResultLocation::Inline(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .context("the server sent a result that is not valid base64"),
        ResultLocation::S3 { bucket, key } => {
            match &asked {
                Some((b, k)) if *b == bucket && *k == key => {}
                Some((b, k)) => bail!(
                    "the function put the result at s3://{bucket}/{key}, not at s3://{b}/{k} where it was asked to: refusing to read it"
                ),
                None => bail!(
                    "the function put the result at s3://{bucket}/{key} although it was asked to answer inline: refusing to read it"
                ),
            }
            let client = match s3_client {
                Some(c) => c,
                None => s3::client_from_env().await?,
            };
            let t = Instant::now();
            let bytes = s3::download(&client, &bucket, &key, "download result").await?;
            step(
                "download",
                t,
                &format!("s3://{bucket}/{key} ({} bytes)", bytes.len()),
            );
            Ok(bytes)
        }
    }
}
