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
    /// Where `POST /diff` goes instead of the handler (`picrypt web --url`).
    forward: Option<Arc<dyn Forward>>,
    /// Refuse requests that do not come from the page this server serves (`picrypt web`).
    page_origin_only: bool,
}

/// An answer from somewhere else, passed back as it came.
pub struct Forwarded {
    /// Its HTTP status.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its `x-request-id`, if any.
    pub request_id: Option<String>,
    /// Its body.
    pub body: Bytes,
}

/// What [`Forward::diff`] returns.
pub type ForwardFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Forwarded, String>> + Send + 'a>>;

/// Sends a `POST /diff` on to a function elsewhere: `picrypt web --url` forwards the page's
/// request to a deployed function (signing it, which a browser cannot). A failure to reach
/// it is an error message, answered `502 upstream_failed`.
pub trait Forward: Send + Sync + 'static {
    /// Forwards a body with its `Content-Type` and `Accept`.
    fn diff(
        &self,
        content_type: Option<String>,
        accept: Option<String>,
        body: Bytes,
    ) -> ForwardFuture<'_>;
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
        LocalServer {
            app: Arc::new(app),
            forward: None,
            page_origin_only: false,
        }
    }

    /// The page's server of `picrypt web`: the page, and `POST /diff` computed in process
    /// (no bucket), or sent on by `forward`. Only requests from the page itself are
    /// answered: a `Host` that is a loopback name, and no `Origin` or cross-site fetch
    /// other than the page's own, so no other site open in the browser can use it (even by
    /// DNS rebinding) to run computations, or signed requests, as the user.
    pub fn page(forward: Option<Arc<dyn Forward>>) -> LocalServer {
        LocalServer {
            app: Arc::new(App {
                config: Config::default(),
                s3: None,
            }),
            forward,
            page_origin_only: true,
        }
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
        // Connections accepted from now on take a request body of megabytes at once rather
        // than in the rounds a receive window grown from 128 KiB takes: on loopback that
        // halves the time a seed pair's 4.4 MB takes to arrive (docs/PERFORMANCE.md). The
        // kernel caps it at net.core.rmem_max; a failure only costs that speed.
        if let Err(e) = socket2::SockRef::from(&listener).set_recv_buffer_size(RECEIVE_BUFFER) {
            tracing::debug!(error = %e, "cannot enlarge the receive buffer");
        }
        loop {
            let (stream, _) = listener.accept().await?;
            // Answers are written whole: no reason to wait for an ACK before the last segment.
            let _ = stream.set_nodelay(true);
            let app = self.app.clone();
            let forward = self.forward.clone();
            let page_origin_only = self.page_origin_only;
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let app = app.clone();
                    let forward = forward.clone();
                    async move {
                        if page_origin_only {
                            if let Err(e) = check_page_origin(req.headers()) {
                                return Ok::<_, Infallible>(plain_error(&e));
                            }
                        }
                        Ok::<_, Infallible>(bridge(&app, forward.as_deref(), req).await)
                    }
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

/// The receive buffer asked for each connection: an inline request's body, with room.
const RECEIVE_BUFFER: usize = 4 << 20;

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
    let mut kept = match declared {
        Some(n) if !too_large => crate::spare::take(n as usize),
        _ => Vec::new(),
    };
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

/// Whether a request comes from the page a `picrypt web` server serves: its `Host` is a
/// loopback name, and its `Origin`, when there is one, is that same host.
fn check_page_origin(headers: &hyper::HeaderMap) -> Result<(), ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text("host").unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(ApiError::new(
            ErrorCode::CrossOrigin,
            format!(
                "this server answers only its own page on a loopback address, not host {host:?}"
            ),
        ));
    }
    if let Some(origin) = text("origin") {
        if origin != format!("http://{host}") {
            return Err(ApiError::new(
                ErrorCode::CrossOrigin,
                format!("this server answers only its own page, not a request from {origin:?}"),
            ));
        }
    }
    if matches!(text("sec-fetch-site"), Some("cross-site" | "same-site")) {
        return Err(ApiError::new(
            ErrorCode::CrossOrigin,
            "this server answers only its own page, not another site",
        ));
    }
    Ok(())
}

async fn bridge(
    app: &App,
    forward: Option<&dyn Forward>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
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
    if let Some(forward) = forward {
        let path = parts.uri.path();
        let endpoint = picrypt_api::Endpoint::from_path(path.trim_end_matches('/'));
        if endpoint.is_some() || picrypt_web::asset(path).is_none() {
            return forward_diff(forward, parts, bytes).await;
        }
    }
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
        // A framed answer's buffer is kept for the next request once hyper has written it.
        Body::Binary(b) => crate::spare::into_bytes(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// `POST /diff` sent on; any other request is not this server's to forward.
async fn forward_diff(
    forward: &dyn Forward,
    parts: hyper::http::request::Parts,
    body: Vec<u8>,
) -> hyper::Response<Full<Bytes>> {
    let path = parts.uri.path().trim_end_matches('/');
    if picrypt_api::Endpoint::from_path(path) != Some(picrypt_api::Endpoint::Diff) {
        return plain_error(&ApiError::new(
            ErrorCode::NotFound,
            format!("no page file at {path:?}, and only POST /diff is forwarded to the function"),
        ));
    }
    if parts.method != hyper::Method::POST {
        return plain_error(&ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not allowed here; use POST", parts.method),
        ));
    }
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let answer = forward
        .diff(
            header(hyper::header::CONTENT_TYPE),
            header(hyper::header::ACCEPT),
            Bytes::from(body),
        )
        .await;
    match answer {
        Ok(answer) => {
            let mut response = hyper::Response::builder()
                .status(answer.status)
                .header(hyper::header::CONTENT_TYPE, answer.content_type)
                .header(hyper::header::CACHE_CONTROL, "no-store");
            if let Some(id) = answer.request_id {
                response = response.header("x-request-id", id);
            }
            response.body(Full::new(answer.body)).unwrap_or_else(|_| {
                plain_error(&ApiError::new(
                    ErrorCode::UpstreamFailed,
                    "the function's answer had headers that cannot be passed on",
                ))
            })
        }
        Err(message) => plain_error(&ApiError::new(ErrorCode::UpstreamFailed, message)),
    }
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
