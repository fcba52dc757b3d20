//! Uploading ciphertexts to S3 and downloading results, with progress bars on a terminal.

use anyhow::{anyhow, Context, Result};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use indicatif::{ProgressBar, ProgressStyle};
use picrypt_api::s3 as storage;

/// Objects above this go up in parts, so the progress bar moves and a failure costs one part.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// A progress bar for a transfer labelled `label`: none without a label, and hidden with
/// `--quiet` or `--json`, and off a terminal.
fn bar(len: u64, label: Option<&str>) -> ProgressBar {
    let Some(label) = label.filter(|_| crate::output::progress_allowed()) else {
        return ProgressBar::hidden();
    };
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "  {msg:<22} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

/// One line: the service's code and message, or why the connection failed.
fn sdk_error<E, R>(e: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    anyhow!("{}", storage::explain(&e))
}

/// Uploads `bytes` to `s3://bucket/key`, with a progress bar when `label` names one.
pub async fn upload(
    client: &Client,
    bucket: &str,
    key: &str,
    bytes: &[u8],
    label: Option<&str>,
) -> Result<()> {
    let progress = bar(bytes.len() as u64, label);
    let context = || format!("cannot upload to s3://{bucket}/{key}");
    if bytes.len() <= PART_BYTES {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(sdk_error)
            .with_context(context)?;
        progress.finish_and_clear();
        return Ok(());
    }
    let upload = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(context)?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| anyhow!("S3 returned no upload id"))?
        .to_string();
    let mut parts = Vec::new();
    for (i, chunk) in bytes.chunks(PART_BYTES).enumerate() {
        let number = i as i32 + 1;
        let result = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await;
        match result {
            Ok(part) => parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_string))
                    .build(),
            ),
            Err(e) => {
                let _ = client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(sdk_error(e)).with_context(context);
            }
        }
        progress.inc(chunk.len() as u64);
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error)
        .with_context(context)?;
    progress.finish_and_clear();
    Ok(())
}

/// Downloads `s3://bucket/key` whole, with a progress bar when `label` names one.
pub async fn download(
    client: &Client,
    bucket: &str,
    key: &str,
    label: Option<&str>,
) -> Result<Vec<u8>> {
    let context = || format!("cannot download s3://{bucket}/{key}");
    let response = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(context)?;
    let len = response.content_length().unwrap_or(0).max(0) as u64;
    let progress = bar(len, label);
    let mut body = response.body;
    let mut out = Vec::with_capacity(len as usize);
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                out.extend_from_slice(&chunk);
                progress.inc(chunk.len() as u64);
            }
            Ok(None) => break,
            Err(e) => {
                progress.finish_and_clear();
                return Err(anyhow!(
                    "the transfer broke off after {} of {len} bytes: {}",
                    out.len(),
                    storage::root_cause(&e)
                ))
                .with_context(context);
            }
        }
    }
    progress.finish_and_clear();
    if out.len() as u64 != len {
        return Err(anyhow!(
            "the transfer broke off after {} of {len} bytes",
            out.len()
        ))
        .with_context(context);
    }
    Ok(out)
}

/// An S3 client from the environment (`AWS_*`, `PICRYPT_S3_*`), after checking that
/// the environment names a region, holds credentials, and gives a usable endpoint: each
/// missing piece is one line naming what to set, instead of the SDK's retries and dumps.
pub async fn client_from_env() -> Result<Client> {
    check_aws_environment().await?;
    storage::client_from_env().await.map_err(|e| anyhow!(e))
}

/// The region, credentials and endpoint an AWS client needs, each checked with a message
/// saying what to set.
pub async fn check_aws_environment() -> Result<()> {
    for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"] {
        if let Ok(value) = std::env::var(var) {
            match reqwest::Url::parse(&value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => anyhow::bail!(
                    "{var}={value:?} is not an http:// or https:// URL (for example http://127.0.0.1:5000)"
                ),
            }
        }
    }
    let config = aws_config::load_from_env().await;
    if config.region().is_none() {
        anyhow::bail!(
            "no AWS region: set AWS_REGION (for example AWS_REGION=eu-west-1), or a region in the profile AWS_PROFILE names"
        );
    }
    let provider = config.credentials_provider().ok_or_else(|| {
        anyhow!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    })?;
    use aws_credential_types::provider::ProvideCredentials;
    provider.provide_credentials().await.map_err(|_| {
        anyhow!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE"
        )
    })?;
    Ok(())
}

/// Deletes objects this run uploaded or asked for; returns the ones it could not delete.
pub async fn delete(client: &Client, bucket: &str, keys: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for key in keys {
        let deleted = client.delete_object().bucket(bucket).key(key).send().await;
        if let Err(e) = deleted {
            tracing::debug!(key, error = %storage::explain(&e), "cannot delete");
            left.push(key.clone());
        }
    }
    left
}
