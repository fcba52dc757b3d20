//! Diffs of S3 objects of any size in memory that does not grow with them: both inputs
//! read as streams, a chunk of each at a time, the result written as a multipart upload
//! that is completed only once every chunk was computed and the result checked, and
//! aborted on any failure, so nothing ever appears at the output key half-made.

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::{Buf, Bytes};
use picrypt_api::s3::root_cause;
use picrypt_api::ErrorCode;
use picrypt_core::format::{Header, MAX_HEADER_LEN};
use picrypt_core::ops::{Chunked, Op};

use crate::error::ApiError;
use crate::storage::{failure, not_found_or, Policy};

/// Bytes of each input computed at a time.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Size of every part of the result's upload but the last: S3's minimum, so that even a
/// result of a few parts fills the pipeline and the peak memory is the same for every size
/// (larger parts made a 25 MP diff peak 14 MB above a 6.25 MP one: cli/tests/scale.rs).
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts uploading at once while the next chunks are read and computed.
const PARTS_IN_FLIGHT: usize = 2;

/// An S3 object read front to back. A body that breaks off or stalls is resumed where it
/// stopped with a ranged GET of the same version (`If-Match` its ETag), as long as the
/// requests for the object stay within the client's attempts; an object replaced
/// meanwhile is an error, never a mix of two objects.
pub(crate) struct ObjectReader<'c> {
    client: &'c Client,
    bucket: String,
    key: String,
    len: u64,
    etag: Option<String>,
    body: Option<ByteStream>,
    /// Bytes received but not yet read.
    carry: Bytes,
    /// Offset of the next byte the body will deliver.
    received: u64,
    policy: Policy,
    /// Requests made for the object so far: its budget is the client's attempts in all.
    attempt: u32,
}

impl<'c> ObjectReader<'c> {
    /// Starts reading `key`, refusing an object larger than `max_bytes` before reading it.
    pub(crate) async fn open(
        client: &'c Client,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<ObjectReader<'c>, ApiError> {
        let policy = Policy::of(client);
        let resp = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| not_found_or(&e, bucket, key, &policy))?;
        let len = resp.content_length().unwrap_or(0).max(0) as u64;
        if len > max_bytes {
            return Err(ApiError::new(
                ErrorCode::ObjectTooLarge,
                format!("s3://{bucket}/{key} is {len} bytes, more than the {max_bytes} this function reads"),
            ));
        }
        Ok(ObjectReader {
            client,
            bucket: bucket.to_string(),
            key: key.to_string(),
            len,
            etag: resp.e_tag().map(str::to_string),
            body: Some(resp.body),
            carry: Bytes::new(),
            received: 0,
            policy,
            attempt: 1,
        })
    }

    /// The object's length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends the next `n` bytes of the object to `out`; `n` must not pass its end.
    pub(crate) async fn read(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<(), ApiError> {
        while n > 0 {
            if !self.carry.is_empty() {
                let take = n.min(self.carry.len());
                out.extend_from_slice(&self.carry[..take]);
                self.carry.advance(take);
                n -= take;
                continue;
            }
            match self.next_body_chunk().await {
                Ok(chunk) => {
                    self.received += chunk.len() as u64;
                    self.carry = chunk;
                }
                Err(_) if self.attempt < self.policy.attempts => {
                    tracing::warn!(
                        bucket = self.bucket,
                        key = self.key,
                        attempt = self.attempt,
                        at = self.received,
                        "object transfer broke off; resuming it"
                    );
                    let backoff = self.policy.backoff * 2u32.saturating_pow(self.attempt - 1);
                    tokio::time::sleep(backoff).await;
                    self.attempt += 1;
                    self.resume().await?;
                }
                Err(broken) => return Err(broken.into_error(self)),
            }
        }
        Ok(())
    }

    /// The body's next bytes, or how it broke: cut, stalled, or ended early.
    async fn next_body_chunk(&mut self) -> Result<Bytes, Broken> {
        let Some(body) = self.body.as_mut() else {
            return Err(Broken::Cut(None));
        };
        let next = match self.policy.timeout {
            Some(idle) => tokio::time::timeout(idle, body.try_next())
                .await
                .map_err(|_| Broken::Stalled(idle))?,
            None => body.try_next().await,
        };
        match next {
            Ok(Some(chunk)) if !chunk.is_empty() => Ok(chunk),
            Ok(Some(_)) => Box::pin(self.next_body_chunk()).await,
            // The body ended before the bytes asked for (callers never read past the end).
            Ok(None) => {
                self.body = None;
                Err(Broken::Cut(None))
            }
            Err(e) => {
                self.body = None;
                Err(Broken::Cut(Some(root_cause(&e))))
            }
        }
    }

    /// A ranged GET of the rest of the same object.
    async fn resume(&mut self) -> Result<(), ApiError> {
        let mut get = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={}-", self.received));
        if let Some(etag) = &self.etag {
            get = get.if_match(etag);
        }
        let resp = get.send().await.map_err(|e| {
            if e.code() == Some("PreconditionFailed")
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 412)
            {
                ApiError::new(
                    ErrorCode::StorageError,
                    format!(
                        "s3://{}/{} was replaced while it was being read",
                        self.bucket, self.key
                    ),
                )
            } else {
                not_found_or(&e, &self.bucket, &self.key, &self.policy)
            }
        })?;
        self.body = Some(resp.body);
        Ok(())
    }
}

/// How reading a body went wrong after its response had started.
enum Broken {
    Cut(Option<String>),
    Stalled(Duration),
}

impl Broken {
    fn into_error(self, r: &ObjectReader<'_>) -> ApiError {
        let (bucket, key, got, len) = (&r.bucket, &r.key, r.received, r.len);
        let attempts = r.policy.attempts();
        match self {
            Broken::Cut(cause) => ApiError::new(
                ErrorCode::StorageError,
                format!(
                    "reading s3://{bucket}/{key}: the transfer broke off after {got} of {len} bytes{} ({attempts})",
                    cause.map(|c| format!(": {c}")).unwrap_or_default()
                ),
            ),
            Broken::Stalled(idle) => ApiError::new(
                ErrorCode::StorageTimeout,
                format!(
                    "reading s3://{bucket}/{key}: the transfer stalled after {got} of {len} bytes, nothing for {idle:?} ({attempts})"
                ),
            ),
        }
    }
}

/// Reads and parses the header at the start of an object; the bytes read past it are
/// the start of the payload. The object must be exactly header and payload long.
async fn read_header(
    reader: &mut ObjectReader<'_>,
    which: &str,
) -> Result<(Header, Vec<u8>, Vec<u8>), ApiError> {
    let mut head = Vec::new();
    reader
        .read(
            (MAX_HEADER_LEN as u64).min(reader.len()) as usize,
            &mut head,
        )
        .await
        .map_err(|e| e.about(which))?;
    let (header, header_len) =
        Header::parse(&head).map_err(|e| ApiError::from(e.in_input(which)))?;
    header
        .check_container_len(header_len, reader.len())
        .map_err(|e| ApiError::from(e.in_input(which)))?;
    let start = head.split_off(header_len);
    Ok((header, head, start))
}

/// Where the time of a streamed diff went.
#[derive(Debug, Default)]
pub(crate) struct StreamTiming {
    /// Waiting for input bytes.
    pub fetch_ms: f64,
    /// Computing chunks.
    pub compute_ms: f64,
    /// Waiting for parts to upload, and completing the upload.
    pub store_ms: f64,
}

/// Two inputs opened and their headers read: what is needed to decide where the result
/// goes before any payload is read.
pub(crate) struct Opened<'c> {
    a: Input<'c>,
    b: Input<'c>,
    chunked: Chunked,
}

/// One input being read: its reader, its header's bytes, and the payload bytes read with
/// them.
struct Input<'c> {
    reader: ObjectReader<'c>,
    header: Vec<u8>,
    start: Vec<u8>,
    which: &'static str,
}

impl<'c> Opened<'c> {
    /// Opens both objects at once and parses their headers.
    pub(crate) async fn open(
        op: Op,
        client: &'c Client,
        (bucket_a, key_a): (&str, &str),
        (bucket_b, key_b): (&str, &str),
        max_bytes: u64,
    ) -> Result<Opened<'c>, ApiError> {
        let open = |bucket, key, which: &'static str| async move {
            let mut reader = ObjectReader::open(client, bucket, key, max_bytes)
                .await
                .map_err(|e| e.about(which))?;
            let (parsed, header, start) = read_header(&mut reader, which).await?;
            let input = Input {
                reader,
                header,
                start,
                which,
            };
            Ok::<_, ApiError>((input, parsed))
        };
        let ((a, ha), (b, hb)) =
            tokio::try_join!(open(bucket_a, key_a, "A"), open(bucket_b, key_b, "B"))?;
        let chunked = Chunked::new(op, ha, hb)?;
        Ok(Opened { a, b, chunked })
    }

    /// The result's header.
    pub(crate) fn result_header(&self) -> &Header {
        self.chunked.result_header()
    }

    /// The encoded result's length.
    pub(crate) fn result_len(&self) -> u64 {
        let h = self.result_header();
        h.encoded_len() as u64 + h.payload_len()
    }

    /// Reads both inputs whole (for results small enough to answer inline).
    pub(crate) async fn read_whole(self) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
        tokio::try_join!(self.a.read_whole(), self.b.read_whole())
    }

    /// Computes the result chunk by chunk and writes it to `key`: in one PUT when it is
    /// no larger than a part, else as a multipart upload completed only after the last
    /// chunk and the result's check, and aborted on any failure.
    pub(crate) async fn store(
        self,
        bucket: &str,
        key: &str,
    ) -> Result<(Header, StreamTiming), ApiError> {
        let client = self.a.reader.client;
        if self.result_len() <= PART_BYTES as u64 {
            let (header, mut timing, bytes) = compute_into(self, None).await?;
            let t = Instant::now();
            crate::storage::put(client, bucket, key, bytes).await?;
            timing.store_ms += ms(t);
            return Ok((header, timing));
        }
        let mut upload = Upload::start(client, bucket, key).await?;
        let computed = compute_into(self, Some(&mut upload)).await;
        let last = match computed {
            Ok((header, timing, last)) if last.is_empty() => Ok((header, timing)),
            Ok((header, timing, last)) => upload.put_part(last).await.map(|()| (header, timing)),
            Err(e) => Err(e),
        };
        match last {
            Ok((header, mut timing)) => {
                let t = Instant::now();
                upload.complete().await?;
                timing.store_ms += ms(t);
                Ok((header, timing))
            }
            Err(e) => {
                upload.abort().await;
                Err(e)
            }
        }
    }
}

impl Input<'_> {
    async fn read_whole(mut self) -> Result<Vec<u8>, ApiError> {
        let mut bytes = Vec::with_capacity(self.reader.len() as usize);
        bytes.append(&mut self.header);
        bytes.append(&mut self.start);
        let rest = self.reader.len() as usize - bytes.len();
        self.reader
            .read(rest, &mut bytes)
            .await
            .map_err(|e| e.about(self.which))?;
        Ok(bytes)
    }

    /// Makes `buf` hold at least `n` bytes of payload: what was read with the header
    /// first, then more from the object.
    async fn fill(&mut self, buf: &mut Vec<u8>, n: usize) -> Result<(), ApiError> {
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.start);
        }
        let need = n.saturating_sub(buf.len());
        self.reader
            .read(need, buf)
            .await
            .map_err(|e| e.about(self.which))
    }
}

/// The chunk loop of [`Opened::store`]: read, compute off the async threads, and with an
/// upload, send whole parts as they fill. Returns the checked header and what is left
/// to send: the last part, or with no upload the whole result.
async fn compute_into(
    opened: Opened<'_>,
    mut upload: Option<&mut Upload<'_>>,
) -> Result<(Header, StreamTiming, Vec<u8>), ApiError> {
    let Opened {
        a: mut input_a,
        b: mut input_b,
        mut chunked,
    } = opened;
    let mut timing = StreamTiming::default();
    let mut part = Vec::with_capacity(PART_BYTES + CHUNK_BYTES);
    part.extend_from_slice(&chunked.result_header().to_bytes());
    let (mut a, mut b, mut out) = (Vec::new(), Vec::new(), Vec::new());
    while !chunked.is_done() {
        let lens = chunked.next_lens(CHUNK_BYTES);
        let t = Instant::now();
        tokio::try_join!(input_a.fill(&mut a, lens.a), input_b.fill(&mut b, lens.b))?;
        timing.fetch_ms += ms(t);
        let t = Instant::now();
        out.resize(lens.out, 0);
        // A chunk is milliseconds of work on every core: off the async threads.
        let done = tokio::task::spawn_blocking(move || {
            let r = chunked.next(lens, &a[..lens.a], &b[..lens.b], &mut out);
            (a, b, out, chunked, r)
        })
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "the computation failed"))?;
        let result;
        (a, b, out, chunked, result) = done;
        result?;
        a.drain(..lens.a);
        b.drain(..lens.b);
        timing.compute_ms += ms(t);
        part.extend_from_slice(&out);
        if let Some(upload) = upload.as_deref_mut() {
            if part.len() >= PART_BYTES {
                let t = Instant::now();
                // The next part gets its full size now: grown by doubling it would leave
                // a trail of freed buffers of every size behind each part.
                let mut next = Vec::with_capacity(PART_BYTES + CHUNK_BYTES);
                next.extend_from_slice(&part[PART_BYTES..]);
                part.truncate(PART_BYTES);
                upload.put_part(std::mem::replace(&mut part, next)).await?;
                timing.store_ms += ms(t);
            }
        }
    }
    let header = chunked.finish().map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("the computed result failed verification and was not stored: {e}"),
        )
    })?;
    Ok((header, timing, part))
}

/// A multipart upload of the result, a bounded number of parts in flight.
struct Upload<'c> {
    client: &'c Client,
    bucket: String,
    key: String,
    id: String,
    policy: Policy,
    next_part: i32,
    in_flight: tokio::task::JoinSet<Result<CompletedPart, ApiError>>,
    done: Vec<CompletedPart>,
}

impl<'c> Upload<'c> {
    async fn start(client: &'c Client, bucket: &str, key: &str) -> Result<Upload<'c>, ApiError> {
        let policy = Policy::of(client);
        let created = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/vnd.picrypt")
            .send()
            .await
            .map_err(|e| failure(&e, &format!("writing s3://{bucket}/{key}"), &policy))?;
        let id = created.upload_id().unwrap_or_default().to_string();
        if id.is_empty() {
            return Err(ApiError::new(
                ErrorCode::StorageError,
                format!("writing s3://{bucket}/{key}: S3 gave no upload id"),
            ));
        }
        Ok(Upload {
            client,
            bucket: bucket.to_string(),
            key: key.to_string(),
            id,
            policy,
            next_part: 1,
            in_flight: tokio::task::JoinSet::new(),
            done: Vec::new(),
        })
    }

    /// Sends the next part, first waiting for one in flight when as many as allowed are.
    async fn put_part(&mut self, bytes: Vec<u8>) -> Result<(), ApiError> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.join_one().await?;
        }
        let number = self.next_part;
        self.next_part += 1;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.id)
            .part_number(number)
            .body(ByteStream::from(bytes));
        let doing = format!("writing part {number} of s3://{}/{}", self.bucket, self.key);
        let policy = self.policy.clone();
        self.in_flight.spawn(async move {
            let sent = request
                .send()
                .await
                .map_err(|e| failure(&e, &doing, &policy))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_string))
                .build())
        });
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), ApiError> {
        if let Some(joined) = self.in_flight.join_next().await {
            let part = joined
                .map_err(|_| ApiError::new(ErrorCode::Internal, "a part upload failed"))??;
            self.done.push(part);
        }
        Ok(())
    }

    /// Waits for every part, then makes the object visible, whole.
    async fn complete(mut self) -> Result<(), ApiError> {
        let finished = async {
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
                .map_err(|e| {
                    failure(
                        &e,
                        &format!("writing s3://{}/{}", self.bucket, self.key),
                        &self.policy,
                    )
                })?;
            Ok(())
        }
        .await;
        if finished.is_err() {
            self.abort().await;
        }
        finished
    }

    /// Stops the parts in flight and deletes every part uploaded; logged, not raised: the
    /// caller reports the failure that led here.
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
            tracing::warn!(
                bucket = self.bucket,
                key = self.key,
                error = %root_cause(&e),
                "could not abort the result's multipart upload (the bucket's lifecycle rule will)"
            );
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
