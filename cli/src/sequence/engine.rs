//! Where a sequence's pairs are subtracted: in this process, on a function with both
//! ciphertexts in the request, or on a function through S3 — each frame uploaded once
//! however many pairs use it, each result written by the function to a key chosen here and
//! read from exactly there — or by the fan-out state machine ([`fanout`]: the pairs handed
//! to a run, then its results read back). Requests that throttle, fail with a 5xx or get no
//! answer are retried ([`remote::retry`]). Nothing here trusts a result: the caller checks
//! each one against its two inputs.

use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use picrypt_api::DiffRequest;
use picrypt_core::{ops, Op};
use tokio::sync::mpsc;

use super::fanout;
use super::manifest::{bytes_digest, FrameInfo};
use super::plan::Job;
use super::tally::{Stage, Tally};
use crate::args::{RemoteArgs, Wire};
use crate::remote::retry::{retrying, Policy, Retried};
use crate::remote::{self, http, s3};

/// A frame's ciphertext, and (through S3) the object it was uploaded to, once it was.
pub struct Encrypted {
    pub info: FrameInfo,
    /// The container: encrypted here, or (collecting a fan-out run) read back from the
    /// object it was uploaded to, once a pair needs it.
    bytes: tokio::sync::OnceCell<Bytes>,
    uploaded: tokio::sync::OnceCell<Uploaded>,
}

impl Encrypted {
    pub fn new(info: FrameInfo, bytes: Bytes) -> Encrypted {
        Encrypted {
            info,
            bytes: tokio::sync::OnceCell::new_with(Some(bytes)),
            uploaded: tokio::sync::OnceCell::new(),
        }
    }

    /// A frame a fan-out run uploaded: its ciphertext is read back when a pair needs it,
    /// and only if it still has the digest recorded at the upload.
    pub fn uploaded(info: FrameInfo, object: fanout::Object) -> Encrypted {
        Encrypted {
            info,
            bytes: tokio::sync::OnceCell::new(),
            uploaded: tokio::sync::OnceCell::new_with(Some(Uploaded {
                object,
                _delete: None,
            })),
        }
    }

    /// The container. Every engine has it before it answers for a pair.
    pub fn bytes(&self) -> &Bytes {
        self.bytes
            .get()
            .expect("an engine reads each ciphertext before answering for its pair")
    }

    /// The object it was uploaded to, if it was.
    pub(super) fn object(&self) -> Option<&fanout::Object> {
        self.uploaded.get().map(|o| &o.object)
    }

    /// The container, read back from its object (collecting a fan-out run) the first time.
    pub(super) async fn read_back<F, Fut>(&self, read: F) -> Result<&Bytes>
    where
        F: FnOnce(fanout::Object) -> Fut,
        Fut: std::future::Future<Output = Result<Bytes>>,
    {
        self.bytes
            .get_or_try_init(|| async {
                let object = self
                    .object()
                    .context("a frame that was never uploaded has no object to read")?;
                read(object.clone()).await
            })
            .await
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

/// A frame's object, and (through S3 with a function) what deletes it once no pending
/// pair needs it. A fan-out run's objects stay until the run is collected.
struct Uploaded {
    object: fanout::Object,
    _delete: Option<DeleteOnDrop>,
}

/// An object this run wrote (or asked the function to write), deleted once dropped unless
/// the run keeps its objects.
struct DeleteOnDrop {
    key: String,
    cleanup: mpsc::UnboundedSender<String>,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        // After the run's end the receiver is gone and nothing is left to delete.
        let _ = self.cleanup.send(std::mem::take(&mut self.key));
    }
}

/// A pair's result, and the retries it took.
pub struct Answer {
    /// `None` when the pair was handed to a fan-out run, which computes it later.
    pub result: Option<Bytes>,
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
    /// Uploads each pair's frames and hands the pair to a fan-out run.
    FanOut(Box<fanout::Submit>),
    /// Reads a finished fan-out run's results and the ciphertexts it was given.
    Collect(Box<fanout::Collect>),
}

/// The S3 mode: the function, and the run's folder of objects.
pub struct Bucket {
    url: String,
    remote: http::Remote,
    store: Store,
}

/// A run's folder of objects in one bucket, each frame uploaded to it once.
pub struct Store {
    pub(super) client: aws_sdk_s3::Client,
    pub(super) bucket: String,
    /// `PREFIX/uploads/<run id>/`, or a fan-out run's `PREFIX/jobs/<job id>/`.
    pub(super) base: String,
    /// Through S3 with a function: where dropped objects go, and the task that deletes
    /// them as they become unneeded (or only collects the keys, with
    /// `--keep-s3-objects`), which ends once every object is dropped with the keys it
    /// could not delete. A fan-out run's objects are not deleted as they go.
    cleanup: Option<(
        mpsc::UnboundedSender<String>,
        tokio::task::JoinHandle<Vec<String>>,
    )>,
}

impl Store {
    /// The folder `base` in `bucket`, whose objects stay until deleted explicitly.
    pub(super) fn new(client: aws_sdk_s3::Client, bucket: String, base: String) -> Store {
        Store {
            client,
            bucket,
            base,
            cleanup: None,
        }
    }

    /// `s3://bucket/base`.
    pub(super) fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.base)
    }

    /// The key of `job`'s result.
    pub(super) fn output_key(&self, job: &Job) -> String {
        format!(
            "{}diff-{}-{}.picrypt",
            self.base,
            job.before.object_name(),
            job.after.object_name()
        )
    }

    /// What deletes `key` once dropped, when this store deletes as it goes.
    fn delete_on_drop(&self, key: &str) -> Option<DeleteOnDrop> {
        self.cleanup.as_ref().map(|(cleanup, _)| DeleteOnDrop {
            key: key.to_string(),
            cleanup: cleanup.clone(),
        })
    }

    /// The frame's object, uploading it first if no pair has yet.
    pub(super) async fn upload<'a>(
        &self,
        frame: &'a Encrypted,
        tally: &Tally,
    ) -> Result<&'a fanout::Object> {
        let object = frame
            .uploaded
            .get_or_try_init(|| async {
                let key = format!("{}{}.picrypt", self.base, frame.object_name());
                let bytes = frame.bytes();
                let t = Instant::now();
                s3::upload(&self.client, &self.bucket, &key, bytes, None).await?;
                tally.add(Stage::Upload, t.elapsed());
                tally.uploaded();
                Ok::<_, anyhow::Error>(Uploaded {
                    _delete: self.delete_on_drop(&key),
                    object: fanout::Object {
                        key,
                        blake3: bytes_digest(bytes),
                        bytes: bytes.len() as u64,
                    },
                })
            })
            .await?;
        Ok(&object.object)
    }

    /// Waits for the objects deleted as they went (every [`Encrypted`] must be dropped by
    /// now), and warns about any that could not be.
    async fn finish(self) {
        let Some((cleanup, deleter)) = self.cleanup else {
            return;
        };
        drop(cleanup);
        let left = deleter.await.unwrap_or_default();
        warn_left(&self.bucket, &left);
    }
}

/// The warning for objects that could not be deleted.
pub(super) fn warn_left(bucket: &str, left: &[String]) {
    if !left.is_empty() {
        eprintln!(
            "picrypt: warning: could not delete {} object{} from s3://{bucket}/ (the bucket's lifecycle rule will): {}",
            left.len(),
            if left.len() == 1 { "" } else { "s" },
            left.join(", ")
        );
    }
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
            store: Store {
                client,
                bucket: bucket.clone(),
                base: format!("{}uploads/{}/", args.s3_prefix, remote::random_id()?),
                cleanup: Some((cleanup, deleter)),
            },
        })))
    }

    /// Where the pairs are subtracted, in words.
    pub fn describe(&self) -> String {
        match self {
            Engine::InProcess => "in process".to_string(),
            Engine::Inline { url, remote, .. } => format!("on {url}{}", signed(remote)),
            Engine::S3(b) => format!(
                "on {}{} through {}",
                b.url,
                signed(&b.remote),
                b.store.describe()
            ),
            Engine::FanOut(f) => f.describe(),
            Engine::Collect(c) => c.describe(),
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
        let mut retried = Vec::new();
        let result = match self {
            Engine::InProcess => {
                let (a, b) = (job.before.bytes().clone(), job.after.bytes().clone());
                let t = Instant::now();
                let result = tokio::task::spawn_blocking(move || ops::apply_bytes(op, &a, &b))
                    .await
                    .context("the subtraction stopped")??;
                tally.add(Stage::Request, t.elapsed());
                tally.add(Stage::Server, t.elapsed());
                Some(Bytes::from(result))
            }
            Engine::Inline { remote, wire, .. } => {
                let (a, b) = (job.before.bytes(), job.after.bytes());
                let t = Instant::now();
                let exchange = retrying(policy, &mut retried, || {
                    remote.diff_inline(a, b, op.name(), *wire)
                })
                .await?;
                tally.add(Stage::Request, t.elapsed());
                tally.add(Stage::Server, ms(exchange.response.server_ms));
                Some(exchange.result)
            }
            Engine::S3(bucket) => Some(
                bucket
                    .subtract(op, job, policy, tally, &mut retried)
                    .await?,
            ),
            Engine::FanOut(submit) => {
                submit.hand_over(job, tally).await?;
                None
            }
            Engine::Collect(collect) => Some(collect.result(job, tally).await?),
        };
        Ok(Answer { result, retried })
    }

    /// Waits for the run's S3 objects to be deleted (every [`Encrypted`] must be dropped
    /// by now), and warns about any that could not be. A fan-out run's objects stay: the
    /// run needs them, and its collection deletes them.
    pub async fn finish(self) {
        if let Engine::S3(bucket) = self {
            bucket.store.finish().await;
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
        let store = &self.store;
        let (a, b) = tokio::try_join!(
            store.upload(&job.before, tally),
            store.upload(&job.after, tally)
        )?;
        let output = store.output_key(job);
        let request = DiffRequest::s3(&store.bucket, &a.key, &b.key, op.name(), &output);
        // Registered before asking: the function may write it even when its answer is lost.
        let written = store.delete_on_drop(&output);
        let t = Instant::now();
        let (response, _) = retrying(policy, retried, || self.remote.diff(&request)).await?;
        tally.add(Stage::Request, t.elapsed());
        tally.add(Stage::Server, ms(response.server_ms));
        let t = Instant::now();
        let bytes =
            remote::fetch_result(&store.client, &store.bucket, &output, response.result, None)
                .await?;
        tally.add(Stage::Download, t.elapsed());
        drop(written);
        Ok(Bytes::from(bytes))
    }
}
