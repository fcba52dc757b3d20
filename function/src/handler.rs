//! The request handler: routes, `POST /diff`, and JSON errors. No keys, ever.

use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use lambda_http::http::{header, HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use picrypt_core::format::{ContainerRef, Header};
use picrypt_core::ops::{self, Op};
use picrypt_core::Scheme;

use picrypt_api::limits::{self, MAX_REQUEST_BYTES};
use picrypt_api::{
    framed, DiffRequest, DiffResponse, Endpoint, ErrorCode, FramedError, Health, Output,
    ResultLocation, S3Location, Source, Timing,
};

use crate::config::Config;
use crate::error::ApiError;
use crate::spare;
#[cfg(feature = "s3")]
use crate::{storage, stream};

/// `Retry-After` of a `503 storage_throttled`, in seconds.
const THROTTLED_RETRY_AFTER_SECONDS: &str = "5";

/// The S3 client the function uses.
#[cfg(feature = "s3")]
pub use aws_sdk_s3::Client as S3Client;

/// Built without the `s3` feature (the fuzz targets, which keep the AWS SDK out of their
/// build): no client can exist, so every S3 source or output is `s3_not_configured`.
#[cfg(not(feature = "s3"))]
pub enum S3Client {}

/// What the handler needs: configuration and, when a bucket is configured, an S3 client.
pub struct App {
    /// What the function may touch.
    pub config: Config,
    /// The S3 client. `None` with a bucket configured: one built from the environment on
    /// first use, shared by the process, so that a cold start answering an inline request
    /// never pays for it. `None` without a bucket: every S3 source or output is
    /// `s3_not_configured`.
    pub s3: Option<S3Client>,
}

/// The client built from the environment, for every [`App`] that was not given one.
#[cfg(feature = "s3")]
static ENV_S3: tokio::sync::OnceCell<S3Client> = tokio::sync::OnceCell::const_new();

impl App {
    /// Reads the configuration from the environment. The S3 client is built on first use.
    pub fn from_env() -> Result<App, String> {
        App::with_config(Config::from_env()?)
    }

    /// An application for `config`, whose S3 client is built from the environment on first
    /// use when a bucket is configured. The environment's S3 settings are checked now, so
    /// that a bad one still stops the function at startup.
    pub(crate) fn with_config(config: Config) -> Result<App, String> {
        if config.bucket.is_some() {
            check_s3_env()?;
        }
        Ok(App { config, s3: None })
    }

    async fn s3(&self) -> Result<&S3Client, ApiError> {
        if let Some(client) = &self.s3 {
            return Ok(client);
        }
        if self.config.bucket.is_none() {
            return Err(ApiError::s3_not_configured());
        }
        env_s3_client().await
    }
}

/// Handles one request (a Lambda HTTP event, payload format 2.0). Never panics on input and
/// never answers with anything but JSON.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = match route(app, req, &request_id, started).await {
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
    req: Request,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    // The last path segment names the endpoint, whatever stage or URL prefix sits before it.
    let path = req.uri().path().trim_end_matches('/');
    let endpoint = Endpoint::from_path(path);
    // Else the page's files, by the last segment too: `/` is the page (web/page).
    if endpoint.is_none() {
        if let Some(asset) = picrypt_web::asset(req.uri().path()) {
            return Ok(page_file(req.method(), asset, request_id));
        }
    }
    let Some(endpoint) = endpoint else {
        let routes: Vec<String> = Endpoint::ALL
            .iter()
            .map(|e| format!("{} {}", e.method(), e.path()))
            .collect();
        let (last, first) = routes.split_last().expect("there are endpoints");
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no endpoint at {path:?}: use {} or {last}",
                first.join(", ")
            ),
        ));
    };
    let method = req.method();
    let allowed = method.as_str() == endpoint.method()
        || (endpoint.method() == "GET" && *method == Method::HEAD);
    if !allowed {
        return Ok(method_not_allowed(method, endpoint, request_id));
    }
    match endpoint {
        Endpoint::Diff => diff(app, req, request_id, started).await,
        Endpoint::Health => Ok(json_response(StatusCode::OK, health(app), request_id)),
        Endpoint::OpenApi => Ok(json_response(
            StatusCode::OK,
            picrypt_api::openapi::JSON.to_string(),
            request_id,
        )),
    }
}

/// `405 method_not_allowed`, with the `Allow` header of the endpoint.
fn method_not_allowed(method: &Method, endpoint: Endpoint, request_id: &str) -> Response<Body> {
    let e = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed here; use {}", endpoint.method()),
    );
    let mut response = error_response(&e, request_id);
    response.headers_mut().insert(
        header::ALLOW,
        header::HeaderValue::from_static(endpoint.allow()),
    );
    response
}

/// A file of the page, with its security headers ([`picrypt_web::SECURITY_HEADERS`]).
fn page_file(method: &Method, asset: &picrypt_web::Asset, request_id: &str) -> Response<Body> {
    if *method != Method::GET && *method != Method::HEAD {
        let e = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed here; use GET"),
        );
        let mut response = error_response(&e, request_id);
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, asset.content_type)
        .header("x-request-id", request_id);
    for (name, value) in picrypt_web::SECURITY_HEADERS {
        response = response.header(*name, *value);
    }
    let body = if *method == Method::HEAD {
        Body::Empty
    } else {
        Body::Binary(asset.body.to_vec())
    };
    response.body(body).expect("static headers are valid")
}

fn health(app: &App) -> String {
    let health = Health {
        container_version: picrypt_core::format::VERSION,
        max_request_bytes: MAX_REQUEST_BYTES,
        ops: Op::ALL.iter().map(|o| o.name().to_string()).collect(),
        s3: app.config.bucket.is_some(),
        schemes: Scheme::all().map(|s| s.name().to_string()).collect(),
        service: Health::SERVICE.to_string(),
        status: Health::STATUS_OK.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    serde_json::to_string(&health).expect("a health body always serializes")
}

/// The two forms of a `POST /diff` body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyForm {
    /// `application/json` (or no content type): containers as base64 text.
    Json,
    /// `application/vnd.picrypt.framed`: containers as bytes ([`framed`]).
    Framed,
}

fn body_form(headers: &HeaderMap) -> Result<BodyForm, ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyForm::Json);
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    // The media type before any parameters: `application/jsonp` or
    // `application/json-seq` are other types, `application/json; charset=utf-8` is not.
    if ct.split(';').next().unwrap_or("").trim() == "application/json" {
        Ok(BodyForm::Json)
    } else if framed::is_media_type(&ct) {
        Ok(BodyForm::Framed)
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "content type {ct:?}: send application/json or {}",
                framed::MEDIA_TYPE
            ),
        ))
    }
}

/// The body's bytes, without a copy: Lambda hands a binary body over decoded.
fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text.into_bytes()),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    }
}

/// Parses the request in either form. The parts of a framed body stay where they are.
fn parse_request(
    form: BodyForm,
    body: &[u8],
) -> Result<(DiffRequest, Vec<std::ops::Range<usize>>), ApiError> {
    let bad_json = |e: &dyn std::fmt::Display| {
        ApiError::new(
            ErrorCode::BadJson,
            format!("request body is not a valid diff request: {e}"),
        )
    };
    match form {
        BodyForm::Json => {
            limits::check_request_size(body.len() as u64)?;
            let request = DiffRequest::from_json(body).map_err(|e| bad_json(&e))?;
            if !request.part_numbers().is_empty() {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("a {{\"part\": i}} source belongs in a framed body (Content-Type: {}); a JSON document sends a container as {{\"inline\": BASE64}}", framed::MEDIA_TYPE),
                ));
            }
            Ok((request, Vec::new()))
        }
        BodyForm::Framed => {
            limits::check_framed_request_size(body.len() as u64)?;
            DiffRequest::from_framed(body).map_err(|e| match e {
                FramedError::Frame(_) => ApiError::new(ErrorCode::BadRequest, e.to_string()),
                FramedError::Json(_) => bad_json(&e),
            })
        }
    }
}

async fn diff(
    app: &App,
    req: Request,
    request_id: &str,
    started: Instant,
) -> Result<Response<Body>, ApiError> {
    let form = body_form(req.headers())?;
    let answer_framed = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(framed::accepts));
    let body = body_bytes(req.into_body());
    let t = Instant::now();
    let (request, parts) = parse_request(form, &body)?;
    let (mut response, result) =
        compute(app, request, &body, &parts, answer_framed, request_id, t).await?;
    // The inputs were slices of the body, all dropped by now.
    spare::give_bytes(body);
    if response.result == ResultLocation::Part(0) {
        // The document's timing cannot include the framing it is part of: the copy of the
        // result into the body is measured only as far as the JSON.
        response.server_ms = ms(started);
        let mut answer = spare::take(framed::MAX_JSON_BYTES + 16 + result.len());
        response.to_framed_into(&result, &mut answer);
        spare::give(result);
        return Ok(framed_response(answer, request_id));
    }
    spare::give(result);
    response.server_ms = ms(started);
    let body = serde_json::to_string(&response)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(json_response(StatusCode::OK, body, request_id))
}

/// A diff request document as the payload of a direct invocation ([`crate::invoke`]):
/// the JSON body of `POST /diff`, under the same size limit and parsing rules, answered
/// with the same document (the result inline as base64, or in S3).
pub(crate) async fn diff_document(
    app: &App,
    document: Bytes,
    request_id: &str,
    started: Instant,
) -> Result<DiffResponse, ApiError> {
    let t = Instant::now();
    let (request, parts) = parse_request(BodyForm::Json, &document)?;
    let (mut response, _) = compute(app, request, &document, &parts, false, request_id, t).await?;
    response.server_ms = ms(started);
    Ok(response)
}

/// Everything after parsing: the op, the output location, the inputs (decoded, or fetched
/// from S3), the verified result, and where it goes. The answer's `result` is
/// `ResultLocation::Part(0)` when `answer_framed` and the result is not in S3; the result
/// is then returned beside the answer (empty otherwise). `decode_started` is when parsing
/// began (it counts as decoding); `server_ms` is left for the caller to set.
async fn compute(
    app: &App,
    request: DiffRequest,
    body: &Bytes,
    parts: &[std::ops::Range<usize>],
    answer_framed: bool,
    request_id: &str,
    decode_started: Instant,
) -> Result<(DiffResponse, Vec<u8>), ApiError> {
    let mut timing = Timing::default();
    let op_name = request.op_name();
    let op = Op::from_name(op_name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownOp,
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
            app.s3().await?;
            Some(o.key.clone())
        }
        _ => None,
    };
    let DiffRequest { a, b, output, .. } = request;
    let part = |i: usize| body.slice(parts[i].clone());
    let a = decode(a, "A", part)?;
    let b = decode(b, "B", part)?;
    timing.decode_ms = ms(decode_started);

    let t = Instant::now();
    let (a, b) = match (a, b) {
        // Both in S3: streamed, in memory that does not grow with the images, whenever the
        // result goes to S3 too.
        #[cfg(feature = "s3")]
        (Pending::S3(la), Pending::S3(lb)) => {
            let opened = open_both(app, op, &la, &lb).await?;
            let bytes = opened.result_len() as usize;
            if let Some(key) = result_key(app, &output, output_key.as_deref(), bytes, request_id)? {
                let bucket = app.config.authorize_bucket(None)?.to_string();
                let (header, streamed) = opened.store(&bucket, &key).await?;
                timing.fetch_ms = streamed.fetch_ms;
                timing.compute_ms = streamed.compute_ms;
                timing.store_ms = streamed.store_ms;
                let location = ResultLocation::S3 { bucket, key };
                return Ok((
                    answer(&header, op, location, bytes, timing, request_id),
                    Vec::new(),
                ));
            }
            let (a, b) = opened.read_whole().await?;
            (Bytes::from(a), Bytes::from(b))
        }
        (a, b) => tokio::try_join!(fetch(app, a, "A"), fetch(app, b, "B"))?,
    };
    timing.fetch_ms = ms(t);

    let t = Instant::now();
    let (mut result, header) = tokio::task::spawn_blocking(move || apply_verified(op, &a, &b))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "the computation failed"))??;
    timing.compute_ms = ms(t);

    let bytes = result.len();
    let location = result_key(app, &output, output_key.as_deref(), bytes, request_id)?;
    let result_location = match location {
        Some(key) => {
            let t = Instant::now();
            let bucket = app.config.authorize_bucket(None)?.to_string();
            s3_put(app.s3().await?, &bucket, &key, std::mem::take(&mut result)).await?;
            timing.store_ms = ms(t);
            ResultLocation::S3 { bucket, key }
        }
        None if answer_framed => ResultLocation::Part(0),
        None => {
            let t = Instant::now();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&result);
            result = Vec::new();
            timing.encode_ms = ms(t);
            ResultLocation::Inline(encoded)
        }
    };
    let t = Instant::now();
    let mut response = answer(&header, op, result_location, bytes, timing, request_id);
    response.timing.encode_ms += ms(t);
    Ok((response, result))
}

/// Where a result of `bytes` bytes goes: the key asked for, inline (`None`) when it fits
/// or was asked for so, else a key of the function's own under `results/`.
fn result_key(
    app: &App,
    output: &Option<Output>,
    output_key: Option<&str>,
    bytes: usize,
    request_id: &str,
) -> Result<Option<String>, ApiError> {
    match (output, output_key) {
        (_, Some(key)) => Ok(Some(key.to_string())),
        (Some(Output::Inline), _) => {
            if !limits::fits_inline(bytes) {
                return Err(ApiError::new(
                    ErrorCode::ResponseTooLarge,
                    format!("the result ({bytes} bytes) does not fit a 6 MB response inline; ask for \"output\": {{\"s3\": {{\"key\": …}}}}"),
                ));
            }
            Ok(None)
        }
        _ if limits::fits_inline(bytes) => Ok(None),
        _ => match app.config.bucket {
            Some(_) => Ok(Some(format!("{}results/{request_id}.picrypt", app.config.prefix))),
            None => Err(ApiError::new(
                ErrorCode::ResponseTooLarge,
                format!("the result ({bytes} bytes) does not fit a 6 MB response and this function has no bucket: use S3 (configure PICRYPT_BUCKET)"),
            )),
        },
    }
}

/// The answer document for a result with this header.
fn answer(
    header: &Header,
    op: Op,
    result: ResultLocation,
    bytes: usize,
    timing: Timing,
    request_id: &str,
) -> DiffResponse {
    DiffResponse {
        result,
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
    }
}

/// Opens two S3 inputs for a streamed diff, within the bucket and prefix.
#[cfg(feature = "s3")]
async fn open_both<'a>(
    app: &'a App,
    op: Op,
    a: &'a S3Location,
    b: &'a S3Location,
) -> Result<stream::Opened<'a>, ApiError> {
    let bucket_a = app.config.authorize_bucket(a.bucket.as_deref())?;
    app.config.authorize_key(&a.key)?;
    let bucket_b = app.config.authorize_bucket(b.bucket.as_deref())?;
    app.config.authorize_key(&b.key)?;
    stream::Opened::open(
        op,
        app.s3().await?,
        (bucket_a, &a.key),
        (bucket_b, &b.key),
        app.config.max_object_bytes,
    )
    .await
}

/// Computes `op(a, b)` and verifies the result before anything publishes it: it must parse
/// as a whole container whose header is exactly the one `op` gives for these inputs. A
/// result that does not is a bug here, answered with 500 and never stored.
fn apply_verified(op: Op, a: &[u8], b: &[u8]) -> Result<(Vec<u8>, Header), ApiError> {
    // Into a kept buffer rather than a fresh one.
    let result = ops::apply_bytes_with(op, a, b, spare::take)?;
    let verify = || -> picrypt_core::Result<Header> {
        let (ha, _) = Header::parse(a)?;
        let (hb, _) = Header::parse(b)?;
        let header = ContainerRef::parse(&result)?.header().clone();
        ops::check_result_of(op, &ha, &hb, &header)?;
        Ok(header)
    };
    let header = verify().map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("the computed result failed verification and was not stored: {e}"),
        )
    })?;
    Ok((result, header))
}

/// An input after base64 decoding: ready, or still to be read from S3.
enum Pending {
    Ready(Bytes),
    S3(S3Location),
}

/// An input as bytes or as where to fetch them. `part` gives a framed body's part `i`
/// (checked to exist when the body was parsed).
fn decode(source: Source, which: &str, part: impl Fn(usize) -> Bytes) -> Result<Pending, ApiError> {
    match source {
        Source::Part(i) => Ok(Pending::Ready(part(i))),
        Source::Inline(text) => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(|bytes| Pending::Ready(Bytes::from(bytes)))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::BadBase64,
                    format!("{which}: invalid base64: {e}"),
                )
            }),
        Source::S3(loc) => Ok(Pending::S3(loc)),
    }
}

#[cfg(feature = "s3")]
fn check_s3_env() -> Result<(), String> {
    picrypt_api::s3::Settings::from_env().map(drop)
}

#[cfg(not(feature = "s3"))]
fn check_s3_env() -> Result<(), String> {
    Err("PICRYPT_BUCKET is set, but this build has no S3 support (cargo feature `s3`)".into())
}

#[cfg(feature = "s3")]
async fn env_s3_client() -> Result<&'static S3Client, ApiError> {
    ENV_S3
        .get_or_try_init(picrypt_api::s3::client_from_env)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e))
}

#[cfg(not(feature = "s3"))]
async fn env_s3_client() -> Result<&'static S3Client, ApiError> {
    Err(ApiError::s3_not_configured())
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

async fn fetch(app: &App, input: Pending, which: &str) -> Result<Bytes, ApiError> {
    match input {
        Pending::Ready(bytes) => Ok(bytes),
        Pending::S3(loc) => {
            let bucket = app.config.authorize_bucket(loc.bucket.as_deref())?;
            app.config.authorize_key(&loc.key)?;
            s3_get(
                app.s3().await?,
                bucket,
                &loc.key,
                app.config.max_object_bytes,
            )
            .await
            .map(Bytes::from)
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

fn framed_response(body: Vec<u8>, request_id: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, framed::MEDIA_TYPE)
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-request-id", request_id)
        .body(Body::Binary(body))
        .expect("static headers are valid")
}

/// A server-side failure (5xx) is logged as a warning; a refusal is the caller's business.
pub(crate) fn log_failure(e: &ApiError, request_id: &str) {
    if e.status() >= 500 {
        tracing::warn!(request_id, code = e.code.as_str(), message = %e.message, "request failed");
    }
}

pub(crate) fn error_response(e: &ApiError, request_id: &str) -> Response<Body> {
    log_failure(e, request_id);
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, e.body(request_id), request_id);
    if e.code == ErrorCode::StorageThrottled {
        // S3 was still throttling after the function's own backoff: ask callers to wait.
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(THROTTLED_RETRY_AFTER_SECONDS),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API's list of operations (its OpenAPI enum) is the one core computes.
    #[test]
    fn the_api_names_the_ops_core_computes() {
        let core: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(core, picrypt_api::OPS);
        assert_eq!(Op::from_name(picrypt_api::DEFAULT_OP), Some(Op::Sub));
    }
}
