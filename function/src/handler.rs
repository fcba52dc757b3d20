//! The request handler: routes, `POST /diff`, and JSON errors. No keys, ever.

use std::time::Instant;

use base64::Engine;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use picrypt_core::format::{ContainerRef, Header};
use picrypt_core::ops::{self, Op};
use picrypt_core::Scheme;

use crate::api::{ApiError, DiffRequest, DiffResponse, Output, ResultLocation, Source, Timing};
use crate::config::Config;
#[cfg(feature = "s3")]
use crate::storage;
use crate::LAMBDA_PAYLOAD_LIMIT;

/// The OpenAPI document served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `Retry-After` of a `503 storage_throttled`, in seconds.
const THROTTLED_RETRY_AFTER_SECONDS: &str = "5";

/// Room left in a 6 MB Lambda response for the response envelope and headers.
const INLINE_RESPONSE_LIMIT: usize = LAMBDA_PAYLOAD_LIMIT - 16 * 1024;

/// The S3 client the function uses.
#[cfg(feature = "s3")]
pub use aws_sdk_s3::Client as S3Client;

/// Built without the `s3` feature (the fuzz targets, which keep the AWS SDK out of their
/// build): no client can exist, so every S3 source or output is `s3_not_configured`.
#[cfg(not(feature = "s3"))]
pub enum S3Client {}

/// What the handler needs: configuration and, when a bucket is configured, an S3 client.
pub struct App {
    pub config: Config,
    pub s3: Option<S3Client>,
}

impl App {
    /// Reads the configuration from the environment; creates an S3 client only when a
    /// bucket is configured.
    pub async fn from_env() -> Result<App, String> {
        let config = Config::from_env()?;
        let s3 = match config.bucket {
            Some(_) => Some(s3_client_from_env().await?),
            None => None,
        };
        Ok(App { config, s3 })
    }

    fn s3(&self) -> Result<&S3Client, ApiError> {
        self.s3.as_ref().ok_or_else(|| {
            ApiError::new(
                400,
                "s3_not_configured",
                "this function has no bucket configured (PICRYPT_BUCKET); send ciphertexts inline",
            )
        })
    }
}

/// Handles one request. Never panics on input and never answers with anything but JSON.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = match route(app, &req, &request_id, started).await {
        Ok(r) => r,
        Err(e) => error_response(&e, &request_id),
    };
    tracing::info!(
        request_id,
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "handled"
    );
    response
}

/// The Lambda request id when there is one, else the API's, else a random one.
fn request_id(req: &Request) -> String {
    if let Some(ctx) = req.lambda_context_ref() {
        if !ctx.request_id.is_empty() {
            return ctx.request_id.clone();
        }
    }
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
    {
        if let Some(id) = ctx.request_id.as_deref().filter(|s| !s.is_empty()) {
            return id.to_string();
        }
    }
    random_request_id()
}

/// A fresh request id (32 hex digits) for answers that have none from Lambda or the API.
pub(crate) fn random_request_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::getrandom(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn route(
    app: &App,
    req: &Request,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    // The last path segment names the endpoint, whatever stage or URL prefix sits before it.
    let path = req.uri().path().trim_end_matches('/');
    let endpoint = path.rsplit('/').next().unwrap_or("");
    let method = req.method();
    match endpoint {
        "diff" => match *method {
            Method::POST => diff(app, req, request_id, started).await,
            _ => Err(method_not_allowed(method, "POST")),
        },
        "health" => match *method {
            Method::GET | Method::HEAD => {
                Ok(json_response(StatusCode::OK, health(app), request_id))
            }
            _ => Err(method_not_allowed(method, "GET")),
        },
        "openapi.json" => match *method {
            Method::GET | Method::HEAD => Ok(json_response(
                StatusCode::OK,
                OPENAPI.to_string(),
                request_id,
            )),
            _ => Err(method_not_allowed(method, "GET")),
        },
        _ => Err(ApiError::new(
            404,
            "not_found",
            format!("no endpoint at {path:?}: use POST /diff, GET /health or GET /openapi.json"),
        )),
    }
}

fn method_not_allowed(method: &Method, allowed: &str) -> ApiError {
    ApiError::new(
        405,
        "method_not_allowed",
        format!("{method} is not allowed here; use {allowed}"),
    )
}

fn health(app: &App) -> String {
    serde_json::json!({
        "status": "ok",
        "service": "picrypt-function",
        "version": env!("CARGO_PKG_VERSION"),
        "container_version": picrypt_core::format::VERSION,
        "schemes": Scheme::all().map(|s| s.name()).collect::<Vec<_>>(),
        "ops": Op::ALL.iter().map(|o| o.name()).collect::<Vec<_>>(),
        "s3": app.config.bucket.is_some(),
        "max_request_bytes": LAMBDA_PAYLOAD_LIMIT,
    })
    .to_string()
}

async fn diff(
    app: &App,
    req: &Request,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        // The media type before any parameters: `application/jsonp` or
        // `application/json-seq` are other types, `application/json; charset=utf-8` is not.
        if ct.split(';').next().unwrap_or("").trim() != "application/json" {
            return Err(ApiError::new(
                415,
                "unsupported_media_type",
                format!("content type {ct:?}: send application/json"),
            ));
        }
    }
    let body: &[u8] = req.body().as_ref();
    if body.len() > LAMBDA_PAYLOAD_LIMIT {
        return Err(ApiError::too_large(
            "request_too_large",
            format!(
                "request body of {} bytes exceeds the {LAMBDA_PAYLOAD_LIMIT}-byte limit: upload the ciphertexts to S3 and send their keys",
                body.len()
            ),
        ));
    }
    let mut timing = Timing::default();
    let t = Instant::now();
    let request = DiffRequest::from_json(body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("request body is not a valid diff request: {e}"),
        )
    })?;
    let op_name = request.op.as_deref().unwrap_or("sub");
    let op = Op::from_name(op_name).ok_or_else(|| {
        ApiError::bad_request(
            "unknown_op",
            format!(
                "unknown op {op_name:?}; this function knows {}",
                Op::ALL
                    .iter()
                    .map(|o| o.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    // Refuse a forbidden output location before doing any work.
    let output_key = match &request.output {
        Some(Output::S3(o)) => {
            app.config.authorize_bucket(None)?;
            app.config.authorize_key(&o.key)?;
            app.s3()?;
            Some(o.key.clone())
        }
        _ => None,
    };
    let DiffRequest { a, b, output, .. } = request;
    let a = decode(a, "A")?;
    let b = decode(b, "B")?;
    timing.decode_ms = ms(t);

    let t = Instant::now();
    let (a, b) = tokio::try_join!(fetch(app, a, "A"), fetch(app, b, "B"))?;
    timing.fetch_ms = ms(t);

    let t = Instant::now();
    let (result, header) = tokio::task::spawn_blocking(move || apply_verified(op, &a, &b))
        .await
        .map_err(|_| ApiError::new(500, "internal", "the computation failed"))??;
    timing.compute_ms = ms(t);

    let bytes = result.len();
    let base64_len = bytes.div_ceil(3) * 4;
    let location = match (output, output_key) {
        (_, Some(key)) => Some(key),
        (Some(Output::Inline), _) => {
            if base64_len > INLINE_RESPONSE_LIMIT {
                return Err(ApiError::too_large(
                    "response_too_large",
                    format!("the result ({bytes} bytes) does not fit a 6 MB response inline; ask for \"output\": {{\"s3\": {{\"key\": …}}}}"),
                ));
            }
            None
        }
        _ if base64_len <= INLINE_RESPONSE_LIMIT => None,
        _ => match app.config.bucket {
            Some(_) => Some(format!("{}results/{request_id}.picrypt", app.config.prefix)),
            None => {
                return Err(ApiError::too_large(
                    "response_too_large",
                    format!("the result ({bytes} bytes) does not fit a 6 MB response and this function has no bucket: use S3 (configure PICRYPT_BUCKET)"),
                ))
            }
        },
    };
    let result_location = match location {
        Some(key) => {
            let t = Instant::now();
            let bucket = app.config.authorize_bucket(None)?.to_string();
            s3_put(app.s3()?, &bucket, &key, result).await?;
            timing.store_ms = ms(t);
            ResultLocation::S3 { bucket, key }
        }
        None => {
            let t = Instant::now();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&result);
            timing.encode_ms = ms(t);
            ResultLocation::Inline(encoded)
        }
    };
    let t = Instant::now();
    let mut response = DiffResponse {
        result: result_location,
        scheme: header.scheme().name().to_string(),
        op: op.name().to_string(),
        width: header.shape().width(),
        height: header.shape().height(),
        channels: header.shape().channels(),
        bytes,
        server_ms: 0.0,
        timing,
        request_id: request_id.to_string(),
        warning: header.scheme().warning().map(str::to_string),
    };
    response.timing.encode_ms += ms(t);
    response.server_ms = ms(started);
    let body = serde_json::to_string(&response)
        .map_err(|e| ApiError::new(500, "internal", e.to_string()))?;
    Ok(json_response(StatusCode::OK, body, request_id))
}

/// Computes `op(a, b)` and verifies the result before anything publishes it: it must parse
/// as a whole container whose header is exactly the one `op` gives for these inputs. A
/// result that does not is a bug here, answered with 500 and never stored.
fn apply_verified(op: Op, a: &[u8], b: &[u8]) -> Result<(Vec<u8>, Header), ApiError> {
    let result = ops::apply_bytes(op, a, b)?;
    let verify = || -> picrypt_core::Result<Header> {
        let (ha, _) = Header::parse(a)?;
        let (hb, _) = Header::parse(b)?;
        let header = ContainerRef::parse(&result)?.header().clone();
        ops::check_result_of(op, &ha, &hb, &header)?;
        Ok(header)
    };
    let header = verify().map_err(|e| {
        ApiError::new(
            500,
            "internal",
            format!("the computed result failed verification and was not stored: {e}"),
        )
    })?;
    Ok((result, header))
}

/// An input after base64 decoding: ready, or still to be read from S3.
enum Pending {
    Ready(Vec<u8>),
    S3(crate::api::S3Location),
}

fn decode(source: Source, which: &str) -> Result<Pending, ApiError> {
    match source {
        Source::Inline(text) => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Pending::Ready)
            .map_err(|e| {
                ApiError::bad_request("bad_base64", format!("{which}: invalid base64: {e}"))
            }),
        Source::S3(loc) => Ok(Pending::S3(loc)),
    }
}

#[cfg(feature = "s3")]
async fn s3_client_from_env() -> Result<S3Client, String> {
    storage::client_from_env().await
}

#[cfg(not(feature = "s3"))]
async fn s3_client_from_env() -> Result<S3Client, String> {
    Err("PICRYPT_BUCKET is set, but this build has no S3 support (cargo feature `s3`)".into())
}

#[cfg(feature = "s3")]
async fn s3_get(client: &S3Client, bucket: &str, key: &str, max: u64) -> Result<Vec<u8>, ApiError> {
    storage::get(client, bucket, key, max).await
}

#[cfg(not(feature = "s3"))]
async fn s3_get(client: &S3Client, _: &str, _: &str, _: u64) -> Result<Vec<u8>, ApiError> {
    match *client {}
}

#[cfg(feature = "s3")]
async fn s3_put(
    client: &S3Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
    storage::put(client, bucket, key, bytes).await
}

#[cfg(not(feature = "s3"))]
async fn s3_put(client: &S3Client, _: &str, _: &str, _: Vec<u8>) -> Result<(), ApiError> {
    match *client {}
}

async fn fetch(app: &App, input: Pending, which: &str) -> Result<Vec<u8>, ApiError> {
    match input {
        Pending::Ready(bytes) => Ok(bytes),
        Pending::S3(loc) => {
            let bucket = app.config.authorize_bucket(loc.bucket.as_deref())?;
            app.config.authorize_key(&loc.key)?;
            s3_get(app.s3()?, bucket, &loc.key, app.config.max_object_bytes)
                .await
                .map_err(|e| ApiError {
                    message: format!("{which}: {}", e.message),
                    ..e
                })
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn json_response(status: StatusCode, body: String, request_id: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-request-id", request_id)
        .body(Body::Text(body))
        .expect("static headers are valid")
}

fn error_response(e: &ApiError, request_id: &str) -> Response<Body> {
    if e.status >= 500 {
        tracing::warn!(request_id, code = e.code, message = %e.message, "request failed");
    }
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, e.body(request_id), request_id);
    if e.status == 405 {
        let allow = if e.message.ends_with("POST") {
            "POST"
        } else {
            "GET, HEAD"
        };
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    }
    if e.status == 503 {
        // S3 was still throttling after the function's own backoff: ask callers to wait.
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(THROTTLED_RETRY_AFTER_SECONDS),
        );
    }
    response
}
