//! `picrypt serve`: the same handler as a plain local HTTP/1.1 server, for users without
//! cargo-lambda and for tests. Bodies over Lambda's 6 MB limit are refused with 413, as
//! Lambda itself would.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use picrypt_api::limits::{self, RequestTooLarge};
use picrypt_api::ErrorCode;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::ApiError;
use crate::handler::{handle, App};

/// The function as a plain local HTTP/1.1 server: `picrypt serve`'s one entry point into
/// this crate.
///
/// ```no_run
/// # async fn run() -> Result<(), String> {
/// let server = picrypt_function::LocalServer::from_env(Some("my-bucket".into()), None).await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.map_err(|e| e.to_string())?;
/// server.serve(listener).await.map_err(|e| e.to_string())
/// # }
/// ```
pub struct LocalServer {
    app: Arc<App>,
}

impl LocalServer {
    /// A server for the function's configuration from the environment ([`Config::from_env`]),
    /// with the bucket and the key prefix replaced when given; with a bucket, the S3 client
    /// is built from the environment (`AWS_*`, `PICRYPT_S3_*`) on first use.
    pub async fn from_env(
        bucket: Option<String>,
        prefix: Option<String>,
    ) -> Result<LocalServer, String> {
        let mut config = Config::from_env()?;
        if bucket.is_some() {
            config.bucket = bucket;
        }
        if let Some(prefix) = prefix {
            config.prefix = prefix;
        }
        let app = App::with_config(config)?;
        Ok(LocalServer::new(app))
    }

    /// A server for an application put together by the caller (tests and benchmarks, with
    /// a client for their own S3 endpoint).
    pub fn new(app: App) -> LocalServer {
        LocalServer { app: Arc::new(app) }
    }

    /// The only bucket the server reads and writes, if any.
    pub fn bucket(&self) -> Option<&str> {
        self.app.config.bucket.as_deref()
    }

    /// The prefix every key read or written must start with.
    pub fn prefix(&self) -> &str {
        &self.app.config.prefix
    }

    /// Serves connections from `listener` until the future is dropped or accepting fails.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            // Answers are written whole: no reason to wait for an ACK before the last segment.
            let _ = stream.set_nodelay(true);
            let app = self.app.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(bridge(&app, req).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    }
}

/// Converts between hyper's types and the Lambda handler's.
/// Most bytes of an oversized body read and thrown away before the 413 is sent, and the
/// longest that may take. Many clients (Python's urllib and `requests`, among others)
/// write the whole body before they read the answer: closing on them mid-upload gives
/// them a broken pipe instead of the JSON error, so the rest is drained, up to a bound.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

enum BodyRead {
    Whole(Vec<u8>),
    TooLarge,
    Broken,
}

/// Reads a body of at most the request limit; a larger one (or one already declared
/// larger) is drained, within [`DRAIN_BYTES`] and [`DRAIN_TIME`], and reported too large.
async fn read_body(mut body: Incoming, declared: Option<u64>) -> BodyRead {
    let mut too_large = declared.is_some_and(|n| limits::check_request_size(n).is_err());
    // One allocation for a body that says how long it is (within the limit: a declared
    // length may lie, and the limit bounds what is reserved).
    let mut kept = Vec::with_capacity(match declared {
        Some(n) if !too_large => n as usize,
        _ => 0,
    });
    let mut seen = 0u64;
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let frame = if too_large {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(frame) => frame,
                Err(_) => return BodyRead::TooLarge,
            }
        } else {
            body.frame().await
        };
        match frame {
            None => break,
            Some(Err(_)) if too_large => return BodyRead::TooLarge,
            Some(Err(_)) => return BodyRead::Broken,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                seen += data.len() as u64;
                if too_large {
                    if seen > DRAIN_BYTES {
                        return BodyRead::TooLarge;
                    }
                    continue;
                }
                if limits::check_request_size(seen).is_err() {
                    too_large = true;
                    kept = Vec::new();
                    continue;
                }
                kept.extend_from_slice(&data);
            }
        }
    }
    if too_large {
        BodyRead::TooLarge
    } else {
        BodyRead::Whole(kept)
    }
}

async fn bridge(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refused without keeping the body, so its size is not named: a declared length may lie.
    let too_large = || {
        plain_error(&ApiError::from(RequestTooLarge {
            bytes: None,
            framed: false,
        }))
    };
    let bytes = match read_body(body, declared).await {
        BodyRead::Whole(bytes) => bytes,
        BodyRead::TooLarge => return too_large(),
        BodyRead::Broken => {
            return plain_error(&ApiError::new(
                ErrorCode::BadRequest,
                "the request body could not be read",
            ))
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        // The handler takes the body as it is: no copy.
        Body::Binary(bytes)
    };
    let response = handle(app, lambda_http::Request::from_parts(parts, body)).await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// An error answered before the handler runs, with a request id of its own like every
/// answer (in `x-request-id` and the body).
fn plain_error(e: &ApiError) -> hyper::Response<Full<Bytes>> {
    let request_id = crate::handler::random_request_id();
    tracing::info!(
        request_id,
        status = e.status(),
        code = e.code.as_str(),
        "refused before the handler"
    );
    hyper::Response::builder()
        .status(e.status())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .header("x-request-id", &request_id)
        .header(hyper::header::CONNECTION, "close")
        .body(Full::new(Bytes::from(e.body(&request_id))))
        .expect("a hex request id is a valid header value")
}
