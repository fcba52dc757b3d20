//! Uploading ciphertexts to S3 and downloading results, with progress bars on a terminal:
//! whole buffers for small pairs, and for large ones streams in memory that does not grow
//! with them — a file sent as a multipart upload ([`upload_file`]), a ciphertext sent as
//! it is encrypted, its header-bearing first part last ([`StreamUpload`]), and a result
//! received a chunk at a time ([`Download`]).

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use picrypt_api::s3 as storage;

/// Objects above this go up in parts, so the progress bar moves and a failure costs one part.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts uploading at once: what a large upload holds in memory, besides the part being
/// filled.
const PARTS_IN_FLIGHT: usize = 2;

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

/// A multipart upload with at most [`PARTS_IN_FLIGHT`] parts sending at once, completed
/// only when asked and aborted on any failure (and when dropped unfinished, the bucket's
/// lifecycle rule removes the parts: the CLI aborts on every error path it sees).
struct Upload<'c> {
    client: &'c Client,
    bucket: String,
    key: String,
    id: String,
    in_flight: tokio::task::JoinSet<Result<CompletedPart>>,
    done: Vec<CompletedPart>,
}

impl<'c> Upload<'c> {
    async fn start(client: &'c Client, bucket: &str, key: &str) -> Result<Upload<'c>> {
        let created = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/vnd.picrypt")
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("cannot upload to s3://{bucket}/{key}"))?;
        let id = created
            .upload_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| anyhow!("S3 returned no upload id for s3://{bucket}/{key}"))?
            .to_string();
        Ok(Upload {
            client,
            bucket: bucket.to_string(),
            key: key.to_string(),
            id,
            in_flight: tokio::task::JoinSet::new(),
            done: Vec::new(),
        })
    }

    /// Sends part `number`, first waiting for one in flight when as many as allowed are.
    async fn put_part(&mut self, number: i32, bytes: Bytes) -> Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.join_one().await?;
        }
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.id)
            .part_number(number)
            .body(ByteStream::from(bytes));
        let what = format!(
            "cannot upload part {number} of s3://{}/{}",
            self.bucket, self.key
        );
        self.in_flight.spawn(async move {
            let sent = request.send().await.map_err(sdk_error).context(what)?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_string))
                .build())
        });
        Ok(())
    }

    async fn join_one(&mut self) -> Result<()> {
        if let Some(joined) = self.in_flight.join_next().await {
            self.done
                .push(joined.map_err(|_| anyhow!("a part upload stopped"))??);
        }
        Ok(())
    }

    /// Waits for every part, then makes the object visible, whole.
    async fn complete(&mut self) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let mut parts = std::mem::take(&mut self.done);
        parts.sort_by_key(|p| p.part_number());
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("cannot upload to s3://{}/{}", self.bucket, self.key))?;
        Ok(())
    }

    /// Stops the parts in flight and deletes every part uploaded; the caller reports
    /// the failure that led here.
    async fn abort(mut self) {
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::debug!(key = self.key, error = %storage::explain(&e), "cannot abort the upload");
        }
    }

    /// Runs `work` on the upload, then completes it; aborts it when either fails.
    async fn finish_with(mut self, work: Result<()>) -> Result<()> {
        let done = match work {
            Ok(()) => self.complete().await,
            Err(e) => Err(e),
        };
        if done.is_err() {
            self.abort().await;
        }
        done
    }
}

/// Uploads the file at `path` to `s3://bucket/key` without reading it whole: in one PUT
/// up to a part's size, else as a multipart upload of parts read in turn, a few in
/// flight. Returns the bytes sent.
pub async fn upload_file(
    client: &Client,
    bucket: &str,
    key: &str,
    path: &Path,
    label: Option<&str>,
) -> Result<u64> {
    use tokio::io::AsyncReadExt;
    let context = || format!("cannot upload {} to s3://{bucket}/{key}", path.display());
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    let len = file
        .metadata()
        .await
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        upload(client, bucket, key, &bytes, label).await?;
        return Ok(len);
    }
    let progress = bar(len, label);
    let mut upload = Upload::start(client, bucket, key).await?;
    let sent = async {
        let (mut number, mut left) = (1, len);
        while left > 0 {
            let n = (PART_BYTES as u64).min(left) as usize;
            let mut part = vec![0u8; n];
            file.read_exact(&mut part)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            upload.put_part(number, Bytes::from(part)).await?;
            progress.inc(n as u64);
            (number, left) = (number + 1, left - n as u64);
        }
        Ok(())
    }
    .await;
    let done = upload.finish_with(sent).await.with_context(context);
    progress.finish_and_clear();
    done.map(|()| len)
}

/// A container uploaded as it is encrypted: payload bytes go up in parts as they come,
/// and the first part — the header, which the encryption gives last, then the payload's
/// first bytes — goes up at the end, just before the upload is completed. A container no
/// larger than a part is sent in one PUT at the end. Dropped or failed, nothing appears
/// at the key.
pub struct StreamUpload<'c> {
    client: &'c Client,
    bucket: String,
    key: String,
    header_len: usize,
    /// The payload's first bytes, held for part 1 (or everything, for one PUT).
    first: Vec<u8>,
    /// The part being filled.
    part: Vec<u8>,
    next_part: i32,
    upload: Option<Upload<'c>>,
    progress: ProgressBar,
}

impl<'c> StreamUpload<'c> {
    /// Starts uploading a container of `header_len + payload_len` bytes to `key`.
    pub fn new(
        client: &'c Client,
        bucket: &str,
        key: &str,
        (header_len, payload_len): (usize, u64),
        label: Option<&str>,
    ) -> StreamUpload<'c> {
        let total = header_len as u64 + payload_len;
        StreamUpload {
            client,
            bucket: bucket.to_string(),
            key: key.to_string(),
            header_len,
            first: Vec::with_capacity(
                (total.min(PART_BYTES as u64) as usize).saturating_sub(header_len),
            ),
            part: Vec::new(),
            next_part: 2,
            upload: None,
            progress: bar(total, label),
        }
    }

    /// Adds payload bytes, sending every part that fills.
    pub async fn write(&mut self, mut payload: &[u8]) -> Result<()> {
        let room = PART_BYTES - self.header_len - self.first.len();
        let held = room.min(payload.len());
        self.first.extend_from_slice(&payload[..held]);
        payload = &payload[held..];
        while !payload.is_empty() {
            if self.part.capacity() == 0 {
                self.part.reserve_exact(PART_BYTES);
            }
            let take = (PART_BYTES - self.part.len()).min(payload.len());
            self.part.extend_from_slice(&payload[..take]);
            payload = &payload[take..];
            if self.part.len() == PART_BYTES {
                let full = std::mem::take(&mut self.part);
                self.send(full).await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self, part: Vec<u8>) -> Result<()> {
        if self.upload.is_none() {
            self.upload = Some(Upload::start(self.client, &self.bucket, &self.key).await?);
        }
        let upload = self.upload.as_mut().expect("started");
        let len = part.len() as u64;
        upload.put_part(self.next_part, Bytes::from(part)).await?;
        self.next_part += 1;
        self.progress.inc(len);
        Ok(())
    }

    /// Sends the last part and the first (`header` ahead of the payload's first bytes),
    /// then completes the upload; returns the container's length.
    pub async fn finish(mut self, header: &[u8]) -> Result<u64> {
        if header.len() != self.header_len {
            bail!(
                "a {}-byte header where {} were reserved",
                header.len(),
                self.header_len
            );
        }
        let mut first = Vec::with_capacity(header.len() + self.first.len());
        first.extend_from_slice(header);
        first.append(&mut self.first);
        let total = first.len() as u64
            + (self.next_part as u64 - 2) * PART_BYTES as u64
            + self.part.len() as u64;
        let Some(mut multipart) = self.upload.take() else {
            // Never filled a second part: one PUT of header, payload and any tail.
            first.append(&mut self.part);
            upload(self.client, &self.bucket, &self.key, &first, None).await?;
            self.progress.finish_and_clear();
            return Ok(total);
        };
        let sent = async {
            if !self.part.is_empty() {
                let last = std::mem::take(&mut self.part);
                multipart
                    .put_part(self.next_part, Bytes::from(last))
                    .await?;
            }
            multipart.put_part(1, Bytes::from(first)).await
        }
        .await;
        let done = multipart.finish_with(sent).await;
        self.progress.finish_and_clear();
        done.map(|()| total)
    }

    /// Gives up: the parts sent are deleted and nothing appears at the key.
    pub async fn abort(mut self) {
        self.progress.finish_and_clear();
        if let Some(upload) = self.upload.take() {
            upload.abort().await;
        }
    }
}

/// A result read front to back as it arrives, its length known from the start. A body
/// that breaks off is resumed where it stopped with a ranged GET of the same version
/// (`If-Match` its ETag), within `PICRYPT_S3_ATTEMPTS` requests in all; an object
/// replaced meanwhile is an error, never a mix of two.
pub struct Download {
    client: Client,
    bucket: String,
    key: String,
    len: u64,
    etag: Option<String>,
    body: Option<ByteStream>,
    received: u64,
    attempts: u32,
    attempt: u32,
    backoff: Duration,
    progress: ProgressBar,
}

impl Download {
    /// Starts the download of `s3://bucket/key`.
    pub async fn open(
        client: Client,
        bucket: &str,
        key: &str,
        label: Option<&str>,
    ) -> Result<Download> {
        let settings = storage::Settings::from_env().map_err(|e| anyhow!(e))?;
        let response = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("cannot download s3://{bucket}/{key}"))?;
        let len = response.content_length().unwrap_or(0).max(0) as u64;
        Ok(Download {
            client,
            bucket: bucket.to_string(),
            key: key.to_string(),
            len,
            etag: response.e_tag().map(str::to_string),
            body: Some(response.body),
            received: 0,
            attempts: settings.attempts,
            attempt: 1,
            backoff: settings.backoff,
            progress: bar(len, label),
        })
    }

    /// The object's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The next bytes, or `None` at the end (having received exactly the length).
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            let cause = match self.body.as_mut() {
                None if self.received == self.len => return Ok(None),
                None => None,
                Some(body) => match body.try_next().await {
                    Ok(Some(chunk)) if chunk.is_empty() => continue,
                    Ok(Some(chunk)) => {
                        if self.received + chunk.len() as u64 > self.len {
                            bail!(
                                "s3://{}/{} sent more than the {} bytes it declared",
                                self.bucket,
                                self.key,
                                self.len
                            );
                        }
                        self.received += chunk.len() as u64;
                        self.progress.inc(chunk.len() as u64);
                        return Ok(Some(chunk));
                    }
                    Ok(None) if self.received == self.len => {
                        self.body = None;
                        self.progress.finish_and_clear();
                        return Ok(None);
                    }
                    Ok(None) => None,
                    Err(e) => Some(storage::root_cause(&e)),
                },
            };
            self.body = None;
            if self.attempt >= self.attempts {
                self.progress.finish_and_clear();
                bail!(
                    "cannot download s3://{}/{}: the transfer broke off after {} of {} bytes{}",
                    self.bucket,
                    self.key,
                    self.received,
                    self.len,
                    cause.map(|c| format!(": {c}")).unwrap_or_default()
                );
            }
            // Debug, not a warning: the CLI's stderr is its one-line answer, and a resumed
            // download that completes is not the user's concern.
            tracing::debug!(
                key = self.key,
                at = self.received,
                "download broke off; resuming it"
            );
            tokio::time::sleep(self.backoff * 2u32.saturating_pow(self.attempt - 1)).await;
            self.attempt += 1;
            self.resume().await?;
        }
    }

    /// A ranged GET of the rest of the same object.
    async fn resume(&mut self) -> Result<()> {
        let mut get = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={}-", self.received));
        if let Some(etag) = &self.etag {
            get = get.if_match(etag);
        }
        let response = get.send().await.map_err(|e| {
            if e.code() == Some("PreconditionFailed") {
                anyhow!(
                    "s3://{}/{} was replaced while it was being read",
                    self.bucket,
                    self.key
                )
            } else {
                sdk_error(e)
            }
        })?;
        self.body = Some(response.body);
        Ok(())
    }
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
