//! Where a sequence's pairs are subtracted: in this process, on a function with both
//! ciphertexts in the request, or on a function through S3 — each frame uploaded once
//! however many pairs use it, each result written by the function to a key chosen here and
//! read from exactly there. Requests that throttle, fail with a 5xx or get no answer are
//! retried ([`remote::retry`]). Nothing here trusts a result: the caller checks each one
//! against its two inputs.

use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use picrypt_api::DiffRequest;
use picrypt_core::{ops, Op};
use tokio::sync::mpsc;

use super::manifest::FrameInfo;
use super::plan::Job;
use super::tally::{Stage, Tally};
use crate::args::{RemoteArgs, Wire};
use crate::remote::retry::{retrying, Policy, Retried};
use crate::remote::{self, http, s3};

/// A frame's ciphertext, and (in S3 mode) the object it was uploaded to, once it was.
pub struct Encrypted {
    pub info: FrameInfo,
    pub bytes: Bytes,
    uploaded: tokio::sync::OnceCell<S3Object>,
}

impl Encrypted {
    pub fn new(info: FrameInfo, bytes: Bytes) -> Encrypted {
        Encrypted {
            info,
            bytes,
            uploaded: tokio::sync::OnceCell::new(),
        }
    }

    /// Its S3 object's name under the run's folder: by frame number, so no file name
    /// reaches a key.
    fn object_name(&self) -> String {
        match self.info.number {
            Some(n) => format!("frame-{n:06}"),
            None => "reference".to_string(),
        }
    }
}

/// An object this run wrote (or asked the function to write): deleted once dropped, that
/// is once no pending pair needs it, unless the run keeps its objects.
struct S3Object {
    key: String,
    cleanup: mpsc::UnboundedSender<String>,
}

impl Drop for S3Object {
    fn drop(&mut self) {
        // After the run's end the receiver is gone and nothing is left to delete.
        let _ = self.cleanup.send(std::mem::take(&mut self.key));
    }
}

/// A pair's result, and the retries it took.
pub struct Answer {
    pub result: Bytes,
    pub retried: Vec<Retried>,
}

/// How pairs are subtracted.
pub enum Engine {
    InProcess,
    Inline {
        url: String,
        remote: http::Remote,
        wire: Wire,
    },
    S3(Box<Bucket>),
}

/// The S3 mode's client, bucket, the run's folder of objects, and its clean-up.
pub struct Bucket {
    url: String,
    remote: http::Remote,
    client: aws_sdk_s3::Client,
    bucket: String,
    /// `PREFIX/uploads/<run id>/`.
    base: String,
    cleanup: mpsc::UnboundedSender<String>,
    /// Deletes what the run wrote as it becomes unneeded (or only collects the keys, with
    /// `--keep-s3-objects`); ends once every object is dropped, with the keys it could
    /// not delete.
    deleter: tokio::task::JoinHandle<Vec<String>>,
}

impl Engine {
    /// The engine `args` asks for (in process without `--url`).
    pub async fn connect(args: &RemoteArgs) -> Result<Engine> {
        let Some(url) = &args.url else {
            return Ok(Engine::InProcess);
        };
        let remote = http::Remote::new(url, args.sigv4, args.timeout()).await?;
        let Some(bucket) = &args.s3_bucket else {
            return Ok(Engine::Inline {
                url: url.clone(),
                remote,
                wire: args.wire,
            });
        };
        let client = s3::client_from_env().await?;
        let (cleanup, mut keys) = mpsc::unbounded_channel::<String>();
        let deleter = {
            let (client, bucket, keep) = (client.clone(), bucket.clone(), args.keep_s3_objects);
            tokio::spawn(async move {
                let mut left = Vec::new();
                while let Some(key) = keys.recv().await {
                    if !keep {
                        left.extend(s3::delete(&client, &bucket, &[key]).await);
                    }
                }
                left
            })
        };
        Ok(Engine::S3(Box::new(Bucket {
            url: url.clone(),
            remote,
            client,
            bucket: bucket.clone(),
            base: format!("{}uploads/{}/", args.s3_prefix, remote::random_id()?),
            cleanup,
            deleter,
        })))
    }

    /// Where the pairs are subtracted, in words.
    pub fn describe(&self) -> String {
        match self {
            Engine::InProcess => "in process".to_string(),
            Engine::Inline { url, remote, .. } => format!("on {url}{}", signed(remote)),
            Engine::S3(b) => format!(
                "on {}{} through s3://{}/{}",
                b.url,
                signed(&b.remote),
                b.bucket,
                b.base
            ),
        }
    }

    /// `op(before, after)` of a job's two ciphertexts.
    pub async fn subtract(
        &self,
        op: Op,
        job: &Job,
        policy: &Policy,
        tally: &Tally,
    ) -> Result<Answer> {
        let (a, b) = (job.before.bytes.clone(), job.after.bytes.clone());
        let mut retried = Vec::new();
        let result = match self {
            Engine::InProcess => {
                let t = Instant::now();
                let result = tokio::task::spawn_blocking(move || ops::apply_bytes(op, &a, &b))
                    .await
                    .context("the subtraction stopped")??;
                tally.add(Stage::Request, t.elapsed());
                tally.add(Stage::Server, t.elapsed());
                Bytes::from(result)
            }
            Engine::Inline { remote, wire, .. } => {
                let t = Instant::now();
                let exchange = retrying(policy, &mut retried, || {
                    remote.diff_inline(&a, &b, op.name(), *wire)
                })
                .await?;
                tally.add(Stage::Request, t.elapsed());
                tally.add(Stage::Server, ms(exchange.response.server_ms));
                exchange.result
            }
            Engine::S3(bucket) => {
                bucket
                    .subtract(op, job, policy, tally, &mut retried)
                    .await?
            }
        };
        Ok(Answer { result, retried })
    }

    /// Waits for the run's S3 objects to be deleted (every [`Encrypted`] must be dropped
    /// by now), and warns about any that could not be.
    pub async fn finish(self) {
        let Engine::S3(bucket) = self else { return };
        let Bucket {
            cleanup,
            deleter,
            bucket,
            ..
        } = *bucket;
        drop(cleanup);
        let left = deleter.await.unwrap_or_default();
        if !left.is_empty() {
            eprintln!(
                "picrypt: warning: could not delete {} object{} from s3://{bucket}/ (the bucket's lifecycle rule will): {}",
                left.len(),
                if left.len() == 1 { "" } else { "s" },
                left.join(", ")
            );
        }
    }
}

fn signed(remote: &http::Remote) -> &'static str {
    if remote.signs() {
        ", SigV4-signed"
    } else {
        ""
    }
}

fn ms(ms: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(ms.max(0.0) / 1e3)
}

impl Bucket {
    async fn subtract(
        &self,
        op: Op,
        job: &Job,
        policy: &Policy,
        tally: &Tally,
        retried: &mut Vec<Retried>,
    ) -> Result<Bytes> {
        let (key_a, key_b) = tokio::try_join!(
            self.upload(&job.before, tally),
            self.upload(&job.after, tally)
        )?;
        let output = format!(
            "{}diff-{}-{}.picrypt",
            self.base,
            job.before.object_name(),
            job.after.object_name()
        );
        let request = DiffRequest::s3(&self.bucket, key_a, key_b, op.name(), &output);
        // Registered before asking: the function may write it even when its answer is lost.
        let written = S3Object {
            key: output.clone(),
            cleanup: self.cleanup.clone(),
        };
        let t = Instant::now();
        let (response, _) = retrying(policy, retried, || self.remote.diff(&request)).await?;
        tally.add(Stage::Request, t.elapsed());
        tally.add(Stage::Server, ms(response.server_ms));
        let t = Instant::now();
        let bytes =
            remote::fetch_result(&self.client, &self.bucket, &output, response.result, None)
                .await?;
        tally.add(Stage::Download, t.elapsed());
        drop(written);
        Ok(Bytes::from(bytes))
    }

    /// The frame's S3 key, uploading it first if no pair has yet.
    async fn upload<'a>(&self, frame: &'a Encrypted, tally: &Tally) -> Result<&'a str> {
        let object = frame
            .uploaded
            .get_or_try_init(|| async {
                let key = format!("{}{}.picrypt", self.base, frame.object_name());
                let t = Instant::now();
                s3::upload(&self.client, &self.bucket, &key, &frame.bytes, None).await?;
                tally.add(Stage::Upload, t.elapsed());
                tally.uploaded();
                Ok::<_, anyhow::Error>(S3Object {
                    key,
                    cleanup: self.cleanup.clone(),
                })
            })
            .await?;
        Ok(&object.key)
    }
}
