//! A malicious function for tests: a loopback HTTP/1.1 server that wraps the real handler
//! ([`picrypt_function::handle`]) and cheats in one chosen way ([`Cheat`]), so tests can
//! show that the client refuses every answer that is not `A − B` of exactly its inputs.
//!
//! For each `POST …/diff` the server parses the request (docs/API.md), obtains both input
//! containers (inline, or from S3 through the [`App`]'s client), asks the real handler for
//! the honest answer, and then answers according to its [`Cheat`]. Every forgery is made on
//! container bytes, following docs/FORMAT.md, not through `picrypt-core`'s types: a cheat
//! is whatever bytes an adversary can write. Every other request (and every request of
//! [`Cheat::Honest`]) goes to the real handler unchanged.
//!
//! The server also answers the Lambda Invoke API (`POST /2015-03-31/functions/NAME/invocations`,
//! a direct invocation whose payload is the request document, docs/API.md "Direct
//! invocation"), so that a client using `--function-name` meets the same cheats: the honest
//! answer then comes from the real dispatcher ([`picrypt_function::invoke`]).
//!
//! The server keeps a history of requests and answers ([`CheatServer::last_result`]): the
//! replay cheats use it, and tests read back what was served.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use picrypt_api::{framed, DiffRequest, DiffResponse, Output, ResultLocation, Source};
use picrypt_function::App;

/// How the server cheats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cheat {
    /// No cheating: every request goes to the real handler unchanged.
    Honest,
    /// Answers B − A.
    SwapInputs,
    /// Answers A − A. For mask, which refuses to compute it (the same nonce twice), a
    /// forgery: terms `{+N_A, −N_A}`, an all-zero payload, tag 0 (malformed: a nonce may
    /// appear once). For bfv, the honest header over an all-zero payload (an encryption of
    /// zero).
    SelfDiff,
    /// The zero forgery: a fresh random nonce R, terms `{+R, −R}`, an all-zero payload,
    /// tag 0, A's key id, range [−255, 255] (bfv: as [`Cheat::SelfDiff`]).
    CancellingForgery,
    /// The difference of the previous request's pair (the first request is answered
    /// honestly).
    OtherPair,
    /// The previous response body, verbatim (the first request is answered honestly).
    Replay,
    /// Container A itself.
    ReturnA,
    /// −(A − B): every 9-bit lane negated mod 2^9, term signs flipped in place
    /// (`{−N_A, +N_B}`), tag negated mod p, range [−255, 255]. bfv: every coefficient
    /// negated mod q0 under the honest header.
    Negation,
    /// A + B: lanes added mod 2^9, terms `{+N_A, +N_B}`, range [0, 510], tag
    /// `tag_A + tag_B mod p` — well formed, and its tag verifies as A + B. bfv: the
    /// coefficients added mod q0 under the honest header.
    PlusAB,
    /// The honest result with one random payload bit flipped (padding bits stay zero).
    TamperPayload,
    /// The honest result with one random bit of the tag flipped (bits 0..61, so the tag
    /// stays below p for mask; for bfv, whose tag must be 0, the header turns malformed).
    TamperTag,
    /// The honest result with one random bit of a term nonce flipped (of the key id for
    /// schemes without terms).
    TamperTerms,
    /// bfv: the honest result's header over a payload whose every block is c0 = 0 and
    /// c1 = the constant polynomial Δ = ⌊q0/t⌉: its decryption is the secret key.
    BfvKeyLeak,
    /// bfv: A's header (a FRESH ciphertext) over a payload whose every block is c0 = 20·Δ
    /// in every coefficient and c1 = Δ: it decrypts to s + 20, within [0, 255].
    BfvFreshLeak,
    /// The honest result written to another key under the prefix, and that location
    /// returned (for an inline request too).
    S3OtherKey,
    /// The honest result written to another bucket on the same S3 server, and that
    /// location returned (for an inline request too).
    S3OtherBucket,
    /// The honest result written where asked, then — before answering — that object
    /// overwritten with a copy with one payload bit flipped: what the client reads is not
    /// what was computed. Inline requests get the tampered copy inline.
    S3ReplacedAfter,
}

impl Cheat {
    /// Every cheat.
    pub const ALL: [Cheat; 17] = [
        Cheat::Honest,
        Cheat::SwapInputs,
        Cheat::SelfDiff,
        Cheat::CancellingForgery,
        Cheat::OtherPair,
        Cheat::Replay,
        Cheat::ReturnA,
        Cheat::Negation,
        Cheat::PlusAB,
        Cheat::TamperPayload,
        Cheat::TamperTag,
        Cheat::TamperTerms,
        Cheat::BfvKeyLeak,
        Cheat::BfvFreshLeak,
        Cheat::S3OtherKey,
        Cheat::S3OtherBucket,
        Cheat::S3ReplacedAfter,
    ];

    /// The cheats on mask ciphertexts (Honest included).
    pub const MASK: [Cheat; 12] = [
        Cheat::Honest,
        Cheat::SwapInputs,
        Cheat::SelfDiff,
        Cheat::CancellingForgery,
        Cheat::OtherPair,
        Cheat::Replay,
        Cheat::ReturnA,
        Cheat::Negation,
        Cheat::PlusAB,
        Cheat::TamperPayload,
        Cheat::TamperTag,
        Cheat::TamperTerms,
    ];

    /// The cheats that matter for bfv ciphertexts (Honest included).
    pub const BFV: [Cheat; 6] = [
        Cheat::Honest,
        Cheat::SwapInputs,
        Cheat::OtherPair,
        Cheat::ReturnA,
        Cheat::BfvKeyLeak,
        Cheat::BfvFreshLeak,
    ];

    /// The cheats on where the result is stored (the server needs a bucket).
    pub const S3: [Cheat; 3] = [
        Cheat::S3OtherKey,
        Cheat::S3OtherBucket,
        Cheat::S3ReplacedAfter,
    ];

    /// Whether the cheat needs an earlier request (it answers the first one honestly).
    pub fn needs_history(self) -> bool {
        matches!(self, Cheat::OtherPair | Cheat::Replay)
    }
}

/// One request the server answered.
#[derive(Clone, Debug, Default)]
struct Exchange {
    /// The two input containers, when the request named readable ones.
    inputs: Option<(Vec<u8>, Vec<u8>)>,
    /// The response body sent.
    body: Vec<u8>,
    /// The result container the answer pointed to, as the client would read it.
    result: Option<Vec<u8>>,
}

struct State {
    cheat: Cheat,
    app: App,
    history: Mutex<Vec<Exchange>>,
    /// The other bucket of [`Cheat::S3OtherBucket`], once created.
    other_bucket: tokio::sync::Mutex<Option<String>>,
    /// Answer framed requests `415 unsupported_media_type` and never frame an answer, as a
    /// function built before framed bodies did.
    json_only: bool,
    /// How many requests were refused for being framed.
    refused_framed: Mutex<usize>,
}

impl State {
    fn history(&self) -> MutexGuard<'_, Vec<Exchange>> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The cheating function on a loopback port, with a thread and runtime of its own;
/// stopped when dropped.
pub struct CheatServer {
    url: String,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CheatServer {
    /// Starts a server on `127.0.0.1:0` that cheats as `cheat` around the real handler
    /// serving `app`.
    pub fn start(cheat: Cheat, app: App) -> CheatServer {
        CheatServer::start_with(cheat, app, false)
    }

    /// [`CheatServer::start`] for a server that knows only JSON bodies, as a function built
    /// before framed bodies: it answers a framed request `415 unsupported_media_type`.
    pub fn start_json_only(cheat: Cheat, app: App) -> CheatServer {
        CheatServer::start_with(cheat, app, true)
    }

    /// How many framed requests a JSON-only server refused.
    pub fn refused_framed(&self) -> usize {
        *self
            .state
            .refused_framed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn start_with(cheat: Cheat, app: App, json_only: bool) -> CheatServer {
        let state = Arc::new(State {
            cheat,
            app,
            history: Mutex::new(Vec::new()),
            other_bucket: tokio::sync::Mutex::new(None),
            json_only,
            refused_framed: Mutex::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = mpsc::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("cheat-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the cheat server");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                            .await
                            .expect("a loopback port for the cheat server");
                    bound
                        .send(listener.local_addr().expect("bound address"))
                        .expect("CheatServer::start is waiting");
                    let mut stopped = stopped;
                    loop {
                        tokio::select! {
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let state = shared.clone();
                                tokio::spawn(async move {
                                    let service = service_fn(move |req| {
                                        let state = state.clone();
                                        async move { Ok::<_, Infallible>(serve(&state, req).await) }
                                    });
                                    let _ = http1::Builder::new()
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                });
                            }
                            _ = &mut stopped => break,
                        }
                    }
                });
                runtime.shutdown_background();
            })
            .expect("a thread for the cheat server");
        let addr = address.recv().expect("the cheat server did not start");
        CheatServer {
            url: format!("http://{addr}"),
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL (the client posts to `URL/diff`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How this server cheats.
    pub fn cheat(&self) -> Cheat {
        self.state.cheat
    }

    /// How many `POST /diff` requests it answered.
    pub fn requests(&self) -> usize {
        self.state.history().len()
    }

    /// The result container of the last answer, as the client would read it (inline, or
    /// the object at the returned S3 location as the server left it).
    pub fn last_result(&self) -> Option<Vec<u8>> {
        self.state.history().last().and_then(|e| e.result.clone())
    }

    /// The body of the last answer.
    pub fn last_body(&self) -> Option<Vec<u8>> {
        self.state.history().last().map(|e| e.body.clone())
    }
}

impl Drop for CheatServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

type HyperResponse = hyper::Response<Full<Bytes>>;

/// One HTTP request: `POST …/diff` goes through the cheat, everything else to the handler.
///
/// The cheats work on JSON. A framed request (what the CLI sends) is read as the JSON
/// request it stands for, and an answer is framed when the request asked for that, so the
/// client sees a cheating server that speaks its preferred form.
async fn serve(state: &State, req: hyper::Request<Incoming>) -> HyperResponse {
    let (mut parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return json(400, error_body("the request body could not be read")),
    };
    if parts.method == hyper::Method::POST && is_invocation(parts.uri.path()) {
        return serve_invocation(state, body).await;
    }
    let is_diff = parts.method == hyper::Method::POST
        && parts.uri.path().trim_end_matches('/').ends_with("/diff");
    if !is_diff {
        return respond(forward(&state.app, parts, body).await);
    }
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let is_framed = framed::is_media_type(&header(hyper::header::CONTENT_TYPE));
    if state.json_only && is_framed {
        *state
            .refused_framed
            .lock()
            .unwrap_or_else(|e| e.into_inner()) += 1;
        let body = serde_json::json!({"error": {
            "code": "unsupported_media_type",
            "message": "content type \"application/vnd.picrypt.framed\": send application/json",
            "request_id": "json-only",
        }});
        return json(415, body.to_string().into_bytes());
    }
    let wants_framed = !state.json_only && framed::accepts(&header(hyper::header::ACCEPT));
    // The cheats and the handler behind them speak JSON; the answer is framed at the end.
    parts.headers.remove(hyper::header::ACCEPT);
    let body = match is_framed.then(|| as_json_request(&body)).flatten() {
        Some(json_body) => {
            parts.headers.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            json_body
        }
        None => body,
    };
    let response = serve_json(state, parts, body).await;
    if wants_framed {
        reframe(response).await
    } else {
        response
    }
}

/// The Invoke API's path: `/2015-03-31/functions/NAME/invocations`.
fn is_invocation(path: &str) -> bool {
    path.strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// A direct invocation, answered as the Invoke API carries answers: HTTP 200 with the
/// function's answer document, whatever it says (a refusal names its status in
/// `error.status`). The honest answer is the real dispatcher's; a cheat is made as for
/// `POST /diff` and carried the same way.
async fn serve_invocation(state: &State, payload: Bytes) -> HyperResponse {
    let Ok(raw) = serde_json::from_slice::<Box<serde_json::value::RawValue>>(&payload) else {
        // What Lambda answers a payload that is not JSON; the function never sees it.
        let body = r#"{"Type":"User","message":"Could not parse request body into json"}"#;
        let mut response = json(400, body.as_bytes().to_vec());
        response.headers_mut().insert(
            "x-amzn-errortype",
            hyper::header::HeaderValue::from_static("InvalidRequestContentException"),
        );
        return response;
    };
    if state.cheat == Cheat::Honest {
        let inputs = match DiffRequest::from_json(&payload) {
            Ok(request) => inputs(state, &request).await,
            Err(_) => None,
        };
        let event = lambda_http::lambda_runtime::LambdaEvent::new(raw, Default::default());
        let answer = picrypt_function::invoke(&state.app, event).await;
        let body = serde_json::to_vec(&answer).expect("an answer serializes");
        let result = result_of(state, &body).await;
        record(state, inputs, &body, result);
        return json(200, body);
    }
    let (parts, ()) = hyper::Request::post("/diff")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(())
        .expect("a valid request")
        .into_parts();
    let (parts, body) = serve_json(state, parts, payload).await.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if parts.status == 200 {
        return json(200, body.to_vec());
    }
    let mut document: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| serde_json::json!({"error": {}}));
    document["error"]["status"] = parts.status.as_u16().into();
    json(200, document.to_string().into_bytes())
}

/// A framed request as the JSON request it stands for: each part inline, as base64.
fn as_json_request(body: &[u8]) -> Option<Bytes> {
    let (mut request, parts) = DiffRequest::from_framed(body).ok()?;
    for source in [&mut request.a, &mut request.b] {
        if let Source::Part(i) = source {
            *source = Source::inline(&body[parts[*i].clone()]);
        }
    }
    Some(Bytes::from(request.to_json()))
}

/// A 200 JSON answer with an inline result as a framed answer; anything else as it is.
async fn reframe(response: HyperResponse) -> HyperResponse {
    let (mut parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let framed_body = (parts.status == 200)
        .then(|| serde_json::from_slice::<DiffResponse>(&body).ok())
        .flatten()
        .and_then(|r| match &r.result {
            ResultLocation::Inline(text) => Some(r.to_framed(&unb64(text)?)),
            _ => None,
        });
    match framed_body {
        Some(framed_body) => {
            parts.headers.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(framed::MEDIA_TYPE),
            );
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            hyper::Response::from_parts(parts, Full::new(Bytes::from(framed_body)))
        }
        None => hyper::Response::from_parts(parts, Full::new(body)),
    }
}

/// `POST …/diff` with a JSON body: through the cheat.
async fn serve_json(
    state: &State,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> HyperResponse {
    let request = DiffRequest::from_json(&body).ok();
    let inputs = match &request {
        Some(r) => inputs(state, r).await,
        None => None,
    };
    let (Some(request), Some((a, b))) = (request, inputs) else {
        // Not a request the cheats can work on: the real handler answers it.
        let (parts, body) = forward(&state.app, parts, body).await;
        record(state, None, &body, None);
        return respond((parts, body));
    };
    if state.cheat == Cheat::Honest {
        let (parts, body) = forward(&state.app, parts, body).await;
        let result = result_of(state, &body).await;
        record(state, Some((a, b)), &body, result);
        return respond((parts, body));
    }
    match cheat(state, &request, &a, &b).await {
        Ok(Answer { body, result }) => {
            record(state, Some((a, b)), &body, result);
            json(200, body)
        }
        Err((status, body)) => {
            record(state, Some((a, b)), &body, None);
            json(status, body)
        }
    }
}

fn record(state: &State, inputs: Option<(Vec<u8>, Vec<u8>)>, body: &[u8], result: Option<Vec<u8>>) {
    state.history().push(Exchange {
        inputs,
        body: body.to_vec(),
        result,
    });
}

fn respond((parts, body): (hyper::http::response::Parts, Vec<u8>)) -> HyperResponse {
    hyper::Response::from_parts(parts, Full::new(Bytes::from(body)))
}

/// The real handler, for a request as hyper received it (as `picrypt serve` bridges it).
async fn forward(
    app: &App,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> (hyper::http::response::Parts, Vec<u8>) {
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body.to_vec())
    };
    let response =
        picrypt_function::handle(app, lambda_http::Request::from_parts(parts, body)).await;
    let (parts, body) = response.into_parts();
    (parts, body_bytes(body))
}

fn body_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    }
}

/// The real handler on `POST /diff` with this JSON body: status and body.
async fn call(app: &App, body: Vec<u8>) -> (u16, Vec<u8>) {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/diff")
        .header("content-type", "application/json")
        .body(Body::Binary(body))
        .expect("a valid request");
    let response = picrypt_function::handle(app, request).await;
    let status = response.status().as_u16();
    (status, body_bytes(response.into_body()))
}

fn json(status: u16, body: Vec<u8>) -> HyperResponse {
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}

fn error_body(message: &str) -> Vec<u8> {
    serde_json::json!({
        "error": {"code": "internal", "message": format!("cheat server: {message}"), "request_id": "cheat"}
    })
    .to_string()
    .into_bytes()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

// ---------------------------------------------------------------------------------------
// S3
// ---------------------------------------------------------------------------------------

fn configured_bucket(app: &App) -> Option<&str> {
    app.config.bucket.as_deref()
}

async fn s3_get(app: &App, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let client = app.s3.as_ref()?;
    let object = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(object.body.collect().await.ok()?.into_bytes().to_vec())
}

async fn s3_put(app: &App, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), String> {
    let client = app
        .s3
        .as_ref()
        .ok_or_else(|| "no S3 client configured".to_string())?;
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("put s3://{bucket}/{key}: {e}"))
}

/// The input containers a request names, read as the function would read them.
async fn inputs(state: &State, request: &DiffRequest) -> Option<(Vec<u8>, Vec<u8>)> {
    async fn one(app: &App, source: &Source) -> Option<Vec<u8>> {
        match source {
            Source::Inline(text) => unb64(text),
            Source::S3(loc) => {
                let bucket = loc.bucket.as_deref().or(configured_bucket(app))?;
                s3_get(app, bucket, &loc.key).await
            }
            // Parts were made inline by `as_json_request`.
            Source::Part(_) => None,
        }
    }
    Some((
        one(&state.app, &request.a).await?,
        one(&state.app, &request.b).await?,
    ))
}

/// The result container an answer points to, as the client would read it.
async fn result_of(state: &State, body: &[u8]) -> Option<Vec<u8>> {
    let response: DiffResponse = serde_json::from_slice(body).ok()?;
    match response.result {
        ResultLocation::Inline(text) => unb64(&text),
        ResultLocation::S3 { bucket, key } => s3_get(&state.app, &bucket, &key).await,
        ResultLocation::Part(_) => None,
    }
}

/// A bucket other than the function's on the same server, created on first use.
async fn other_bucket(state: &State) -> Result<String, String> {
    let mut other = state.other_bucket.lock().await;
    if let Some(name) = other.as_ref() {
        return Ok(name.clone());
    }
    let configured = configured_bucket(&state.app).ok_or("no bucket configured")?;
    let name = format!("{}-other", &configured[..configured.len().min(50)]);
    let client = state.app.s3.as_ref().ok_or("no S3 client configured")?;
    if let Err(e) = client.create_bucket().bucket(&name).send().await {
        // Already there (an earlier server of the same test) is fine.
        if client.head_bucket().bucket(&name).send().await.is_err() {
            return Err(format!("create bucket {name}: {e}"));
        }
    }
    *other = Some(name.clone());
    Ok(name)
}

// ---------------------------------------------------------------------------------------
// The cheats
// ---------------------------------------------------------------------------------------

/// A cheating answer: the body sent and the result it points to.
struct Answer {
    body: Vec<u8>,
    result: Option<Vec<u8>>,
}

/// Where a cheat puts its result.
enum Delivery {
    /// Where the request asked: inline, or at the requested S3 key of the function's
    /// bucket.
    Asked(Vec<u8>),
    /// Stored at this S3 location, which the answer names (whatever was asked).
    At {
        bucket: String,
        key: String,
        bytes: Vec<u8>,
    },
    /// `honest` stored where asked, then replaced by `served` before answering (inline:
    /// `served`).
    Replaced { honest: Vec<u8>, served: Vec<u8> },
    /// This exact body.
    Verbatim(Vec<u8>),
}

async fn cheat(
    state: &State,
    request: &DiffRequest,
    a: &[u8],
    b: &[u8],
) -> Result<Answer, (u16, Vec<u8>)> {
    let app = &state.app;
    let op = request.op.as_deref().unwrap_or("sub");
    // The honest answer, computed by the real handler on the same inputs inline.
    let (status, body) = call(app, inline_request(a, b, op)).await;
    if status != 200 {
        return Err((status, body));
    }
    let mut template: DiffResponse = serde_json::from_slice(&body)
        .map_err(|e| (500, error_body(&format!("the handler's answer: {e}"))))?;
    let honest = match &template.result {
        ResultLocation::Inline(text) => unb64(text),
        ResultLocation::S3 { .. } | ResultLocation::Part(_) => None,
    }
    .ok_or_else(|| (500, error_body("the handler did not answer inline")))?;
    let previous = state.history().last().cloned();
    let asked_key = match &request.output {
        Some(Output::S3(o)) => Some(o.key.clone()),
        _ => None,
    };
    let other_key = || format!("{}results/{}.picrypt", app.config.prefix, random_hex(8));
    let bucket = || {
        configured_bucket(app)
            .map(str::to_string)
            .ok_or_else(|| (500, error_body("this cheat needs a bucket")))
    };
    let delivery = match state.cheat {
        Cheat::Honest => Delivery::Asked(honest),
        Cheat::SwapInputs => Delivery::Asked(computed(app, b, a, op).await?),
        Cheat::OtherPair => match previous.and_then(|p| p.inputs) {
            Some((pa, pb)) => Delivery::Asked(computed(app, &pa, &pb, op).await?),
            None => Delivery::Asked(honest),
        },
        Cheat::Replay => match previous {
            Some(p) => Delivery::Verbatim(p.body),
            None => Delivery::Asked(honest),
        },
        Cheat::ReturnA => Delivery::Asked(a.to_vec()),
        Cheat::SelfDiff => Delivery::Asked(self_diff(a, &honest)),
        Cheat::CancellingForgery => Delivery::Asked(cancelling(&honest)),
        Cheat::Negation => Delivery::Asked(negation(&honest)),
        Cheat::PlusAB => Delivery::Asked(plus(a, b, &honest)),
        Cheat::TamperPayload => Delivery::Asked(tamper_payload(&honest)),
        Cheat::TamperTag => Delivery::Asked(tamper_tag(&honest)),
        Cheat::TamperTerms => Delivery::Asked(tamper_terms(&honest)),
        Cheat::BfvKeyLeak => Delivery::Asked(bfv_leak(&honest, 0)),
        Cheat::BfvFreshLeak => Delivery::Asked(bfv_leak(a, 20 * BFV_DELTA)),
        Cheat::S3OtherKey => Delivery::At {
            bucket: bucket()?,
            key: other_key(),
            bytes: honest,
        },
        Cheat::S3OtherBucket => Delivery::At {
            bucket: other_bucket(state)
                .await
                .map_err(|e| (500, error_body(&e)))?,
            key: asked_key.clone().unwrap_or_else(other_key),
            bytes: honest,
        },
        Cheat::S3ReplacedAfter => Delivery::Replaced {
            served: tamper_payload(&honest),
            honest,
        },
    };
    let put = |bucket: String, key: String, bytes: Vec<u8>| async move {
        s3_put(app, &bucket, &key, bytes)
            .await
            .map_err(|e| (502, error_body(&e)))
    };
    let (location, result) = match (delivery, asked_key) {
        (Delivery::Verbatim(body), _) => {
            let result = result_of(state, &body).await;
            return Ok(Answer { body, result });
        }
        (Delivery::Asked(bytes), None) => (ResultLocation::Inline(b64(&bytes)), bytes),
        (Delivery::Asked(bytes), Some(key)) => {
            let bucket = bucket()?;
            put(bucket.clone(), key.clone(), bytes.clone()).await?;
            (ResultLocation::S3 { bucket, key }, bytes)
        }
        (Delivery::At { bucket, key, bytes }, _) => {
            put(bucket.clone(), key.clone(), bytes.clone()).await?;
            (ResultLocation::S3 { bucket, key }, bytes)
        }
        (Delivery::Replaced { served, .. }, None) => (ResultLocation::Inline(b64(&served)), served),
        (Delivery::Replaced { honest, served }, Some(key)) => {
            let bucket = bucket()?;
            put(bucket.clone(), key.clone(), honest).await?;
            put(bucket.clone(), key.clone(), served.clone()).await?;
            (ResultLocation::S3 { bucket, key }, served)
        }
    };
    template.result = location;
    template.bytes = result.len();
    let body = serde_json::to_vec(&template)
        .map_err(|e| (500, error_body(&format!("encoding the answer: {e}"))))?;
    Ok(Answer {
        body,
        result: Some(result),
    })
}

fn inline_request(a: &[u8], b: &[u8], op: &str) -> Vec<u8> {
    serde_json::json!({
        "a": {"inline": b64(a)},
        "b": {"inline": b64(b)},
        "op": op,
        "output": "inline",
    })
    .to_string()
    .into_bytes()
}

/// `op(a, b)` as the real handler computes it.
async fn computed(app: &App, a: &[u8], b: &[u8], op: &str) -> Result<Vec<u8>, (u16, Vec<u8>)> {
    let (status, body) = call(app, inline_request(a, b, op)).await;
    if status != 200 {
        return Err((status, body));
    }
    let response: DiffResponse = serde_json::from_slice(&body)
        .map_err(|e| (500, error_body(&format!("the handler's answer: {e}"))))?;
    match response.result {
        ResultLocation::Inline(text) => unb64(&text),
        ResultLocation::S3 { .. } | ResultLocation::Part(_) => None,
    }
    .ok_or_else(|| (500, error_body("the handler did not answer inline")))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("operating system randomness");
    bytes
}

fn random_below(n: usize) -> usize {
    (u64::from_le_bytes(random_bytes()) % n as u64) as usize
}

fn random_hex(n: usize) -> String {
    random_bytes::<16>()[..n]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Container bytes (docs/FORMAT.md)
// ---------------------------------------------------------------------------------------

/// Fixed header size.
const HEADER: usize = 68;
/// One term: 24-byte nonce and a sign byte.
const TERM: usize = 25;
const PLUS: u8 = 0x01;
const MINUS: u8 = 0xFF;
/// The MAC's prime, 2^61 − 1.
const P: u64 = (1 << 61) - 1;
const MASK: u8 = 1;
const BFV: u8 = 2;
/// mask lanes: 9 bits.
const LANE_BITS: u32 = 9;
const LANE_MOD: u64 = 1 << LANE_BITS;
/// bfv: coefficients per polynomial, payload modulus q0, bits per packed coefficient.
const BFV_DEGREE: usize = 2048;
const BFV_Q0: u64 = 8_380_417;
const BFV_COEFF_BITS: u32 = 23;
const BFV_BLOCK_BYTES: usize = 2 * BFV_DEGREE * BFV_COEFF_BITS as usize / 8;
/// Δ = ⌊q0 / t⌉ with t = 512.
const BFV_DELTA: u64 = (BFV_Q0 + 256) / 512;

/// Where things are in a container.
struct Layout {
    scheme: u8,
    samples: usize,
    terms: usize,
    ext: Range<usize>,
    payload: usize,
}

fn u32_at(c: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(c[at..at + 4].try_into().unwrap())
}

fn layout(c: &[u8]) -> Layout {
    assert!(c.len() >= HEADER, "not a container: {} bytes", c.len());
    let terms = u16::from_le_bytes([c[22], c[23]]) as usize;
    let ext_start = HEADER + TERM * terms;
    let ext_len = u32_at(c, 56) as usize;
    Layout {
        scheme: c[9],
        samples: u32_at(c, 12) as usize * u32_at(c, 16) as usize * c[20] as usize,
        terms,
        ext: ext_start..ext_start + ext_len,
        payload: ext_start + ext_len,
    }
}

fn tag(c: &[u8]) -> u64 {
    u64::from_le_bytes(c[48..56].try_into().unwrap())
}

fn nonce(c: &[u8], i: usize) -> [u8; 24] {
    let at = HEADER + TERM * i;
    c[at..at + 24].try_into().unwrap()
}

/// `base`'s header with these terms, range, tag and payload (its length too).
fn forge(
    base: &[u8],
    terms: &[([u8; 24], u8)],
    range: (i32, i32),
    tag: u64,
    payload: &[u8],
) -> Vec<u8> {
    let l = layout(base);
    let mut out = base[..HEADER].to_vec();
    out[22..24].copy_from_slice(&(terms.len() as u16).to_le_bytes());
    out[24..28].copy_from_slice(&range.0.to_le_bytes());
    out[28..32].copy_from_slice(&range.1.to_le_bytes());
    out[48..56].copy_from_slice(&tag.to_le_bytes());
    out[60..68].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    for (nonce, sign) in terms {
        out.extend_from_slice(nonce);
        out.push(*sign);
    }
    out.extend_from_slice(&base[l.ext]);
    out.extend_from_slice(payload);
    out
}

/// `base`'s header (terms and extension included) over another payload of the same length.
fn with_payload(base: &[u8], payload: &[u8]) -> Vec<u8> {
    let l = layout(base);
    assert_eq!(base.len() - l.payload, payload.len());
    let mut out = base[..l.payload].to_vec();
    out.extend_from_slice(payload);
    out
}

/// `count` values of `bits` bits from a little-endian bit stream.
fn unpack(bytes: &[u8], bits: u32, count: usize) -> Vec<u64> {
    let mask = (1u64 << bits) - 1;
    let (mut acc, mut have, mut input) = (0u64, 0u32, bytes.iter());
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        while have < bits {
            acc |= u64::from(*input.next().expect("payload long enough")) << have;
            have += 8;
        }
        out.push(acc & mask);
        acc >>= bits;
        have -= bits;
    }
    out
}

/// `values` at `bits` bits each into `len` bytes, little-endian, padding bits zero.
fn pack(values: &[u64], bits: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let (mut acc, mut have) = (0u64, 0u32);
    for &v in values {
        acc |= v << have;
        have += bits;
        while have >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            have -= 8;
        }
    }
    if have > 0 {
        out.push(acc as u8);
    }
    out.resize(len, 0);
    out
}

/// The values of a container's payload: 9-bit lanes (mask) or 23-bit coefficients (bfv),
/// and their modulus.
fn values(c: &[u8]) -> (Vec<u64>, u32, u64) {
    let l = layout(c);
    let payload = &c[l.payload..];
    match l.scheme {
        BFV => (
            unpack(
                payload,
                BFV_COEFF_BITS,
                payload.len() * 8 / BFV_COEFF_BITS as usize,
            ),
            BFV_COEFF_BITS,
            BFV_Q0,
        ),
        _ => (unpack(payload, LANE_BITS, l.samples), LANE_BITS, LANE_MOD),
    }
}

fn payload_len(c: &[u8]) -> usize {
    c.len() - layout(c).payload
}

/// A − A.
fn self_diff(a: &[u8], honest: &[u8]) -> Vec<u8> {
    let zeros = vec![0u8; payload_len(honest)];
    if layout(honest).scheme != MASK {
        return with_payload(honest, &zeros);
    }
    let n = nonce(a, 0);
    forge(honest, &[(n, PLUS), (n, MINUS)], (-255, 255), 0, &zeros)
}

/// The zero forgery over a fresh nonce.
fn cancelling(honest: &[u8]) -> Vec<u8> {
    let zeros = vec![0u8; payload_len(honest)];
    if layout(honest).scheme != MASK {
        return with_payload(honest, &zeros);
    }
    let r: [u8; 24] = random_bytes();
    forge(honest, &[(r, PLUS), (r, MINUS)], (-255, 255), 0, &zeros)
}

/// −(A − B).
fn negation(honest: &[u8]) -> Vec<u8> {
    let (v, bits, modulus) = values(honest);
    let negated: Vec<u64> = v.iter().map(|&x| (modulus - x) % modulus).collect();
    let payload = pack(&negated, bits, payload_len(honest));
    let l = layout(honest);
    if l.scheme != MASK {
        return with_payload(honest, &payload);
    }
    let terms: Vec<([u8; 24], u8)> = (0..l.terms)
        .map(|i| {
            let sign = honest[HEADER + TERM * i + 24];
            (nonce(honest, i), if sign == PLUS { MINUS } else { PLUS })
        })
        .collect();
    forge(honest, &terms, (-255, 255), (P - tag(honest)) % P, &payload)
}

/// A + B.
fn plus(a: &[u8], b: &[u8], honest: &[u8]) -> Vec<u8> {
    let (va, bits, modulus) = values(a);
    let (vb, _, _) = values(b);
    let sum: Vec<u64> = va.iter().zip(&vb).map(|(x, y)| (x + y) % modulus).collect();
    let payload = pack(&sum, bits, payload_len(honest));
    if layout(honest).scheme != MASK {
        return with_payload(honest, &payload);
    }
    forge(
        honest,
        &[(nonce(a, 0), PLUS), (nonce(b, 0), PLUS)],
        (0, 510),
        (tag(a) + tag(b)) % P,
        &payload,
    )
}

fn flip(c: &[u8], bit: usize) -> Vec<u8> {
    let mut out = c.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// One payload bit flipped, the container staying well formed: for mask one of the
/// samples' bits (padding stays zero), for bfv one that keeps its coefficient below q0.
fn tamper_payload(c: &[u8]) -> Vec<u8> {
    let l = layout(c);
    let bits = match l.scheme {
        MASK => l.samples * LANE_BITS as usize,
        _ => (c.len() - l.payload) * 8,
    };
    loop {
        let bit = random_below(bits);
        let tampered = flip(c, l.payload * 8 + bit);
        if l.scheme == BFV {
            let index = bit / BFV_COEFF_BITS as usize;
            let coefficient = unpack(&tampered[l.payload..], BFV_COEFF_BITS, index + 1)[index];
            if coefficient >= BFV_Q0 {
                continue;
            }
        }
        return tampered;
    }
}

/// One of the tag's low 61 bits flipped.
fn tamper_tag(c: &[u8]) -> Vec<u8> {
    flip(c, 48 * 8 + random_below(61))
}

/// One bit of a term nonce flipped (of the key id when there are no terms).
fn tamper_terms(c: &[u8]) -> Vec<u8> {
    let l = layout(c);
    if l.terms == 0 {
        return flip(c, 32 * 8 + random_below(128));
    }
    let term = random_below(l.terms);
    flip(c, (HEADER + TERM * term) * 8 + random_below(24 * 8))
}

/// `base`'s header over blocks of c0 = `c0` in every coefficient, c1 = the constant Δ.
fn bfv_leak(base: &[u8], c0: u64) -> Vec<u8> {
    let blocks = payload_len(base) / BFV_BLOCK_BYTES;
    let mut block = vec![c0; BFV_DEGREE];
    block.push(BFV_DELTA);
    block.resize(2 * BFV_DEGREE, 0);
    let block = pack(&block, BFV_COEFF_BITS, BFV_BLOCK_BYTES);
    with_payload(base, &block.repeat(blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_at_9_and_23_bits() {
        let lanes: Vec<u64> = (0..13).map(|i| (i * 37 + 5) % 512).collect();
        let packed = pack(&lanes, 9, (13 * 9usize).div_ceil(8));
        assert_eq!(packed.len(), 15);
        assert_eq!(packed[0], lanes[0] as u8);
        assert_eq!(
            packed[1],
            ((lanes[0] >> 8) | ((lanes[1] & 0x7F) << 1)) as u8
        );
        // 13 × 9 = 117 bits: the last byte's top 3 bits are padding, zero.
        assert_eq!(packed[14] >> 5, 0);
        assert_eq!(unpack(&packed, 9, 13), lanes);
        let coeffs: Vec<u64> = (0..16).map(|i| (i * 1_000_003) % BFV_Q0).collect();
        assert_eq!(unpack(&pack(&coeffs, 23, 46), 23, 16), coeffs);
    }

    #[test]
    fn delta_is_q0_over_t_rounded() {
        assert_eq!(BFV_DELTA, 16_368);
        assert_eq!(BFV_BLOCK_BYTES, 11_776);
    }
}
