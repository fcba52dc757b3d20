//! Calling a PICRYPT function over HTTP: `POST URL/diff`, SigV4-signed for Function URLs
//! with `AuthType: AWS_IAM`, with one-line errors for every way it can fail.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime};

use super::{inline_result, ms, refused, Exchange, Sent};
use crate::args::Wire;
use anyhow::{anyhow, bail, Context, Result};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use picrypt_api::limits::{
    fits_one_invocation, fits_one_invocation_framed, MAX_RESPONSE_BYTES, MAX_SENT_REQUEST_BYTES,
};
use picrypt_api::{framed, DiffRequest, DiffResponse, Endpoint, ErrorBody, ErrorCode};

/// How requests are signed.
#[derive(Clone)]
enum Signer {
    None,
    SigV4 {
        credentials: Credentials,
        region: String,
    },
}

/// A request that got no usable answer: the function refused it (`status`), or no answer
/// came at all (refused or broken connection, time-out). Its message is the one line the
/// user sees; callers that ask again read [`Failure::is_transient`] and
/// [`Failure::retry_after`] (the error is reachable with `anyhow::Error::downcast_ref`).
#[derive(Debug)]
pub struct Failure {
    status: Option<u16>,
    retry_after: Option<Duration>,
    message: String,
}

impl Failure {
    fn no_answer(message: String) -> Failure {
        Failure {
            status: None,
            retry_after: None,
            message,
        }
    }

    /// The answer's HTTP status, `None` when no answer came.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether asking again may succeed: throttling (429), a server error (5xx), or no
    /// answer at all. Any other refusal (a 4xx) says the request itself is wrong.
    pub fn is_transient(&self) -> bool {
        self.status.is_none_or(|s| s == 429 || s >= 500)
    }

    /// How long the answer's `Retry-After` asked the client to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// One answer: its status, media type, `Retry-After` (as a wait from now) and body.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub content_type: String,
    retry_after: Option<Duration>,
    pub body: bytes::Bytes,
}

impl Answer {
    /// The answer of `status` with `headers` and `body`.
    pub(super) fn new(
        status: reqwest::StatusCode,
        headers: &http::HeaderMap,
        body: Bytes,
    ) -> Answer {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        Answer {
            status,
            content_type: header(http::header::CONTENT_TYPE),
            retry_after: super::retry::parse_retry_after(
                &header(http::header::RETRY_AFTER),
                SystemTime::now(),
            ),
            body,
        }
    }
}

/// How requests name their client.
const USER_AGENT: &str = concat!("picrypt/", env!("CARGO_PKG_VERSION"));

/// A PICRYPT function at a base URL.
#[derive(Clone)]
pub struct Remote {
    base: String,
    signer: Signer,
    timeout: Duration,
    http: reqwest::Client,
}

/// The region of a Lambda Function URL host (`<id>.lambda-url.<region>.on.aws`).
pub fn lambda_url_region(host: &str) -> Option<String> {
    let rest = host.split_once(".lambda-url.")?.1;
    let region = rest.strip_suffix(".on.aws")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_string())
}

impl Remote {
    /// Prepares a client. Signs with SigV4 when `force_sigv4`, or automatically when the
    /// host is a Lambda Function URL and AWS credentials are available.
    pub async fn new(url: &str, force_sigv4: bool, timeout: Duration) -> Result<Remote> {
        let mut remote = Remote::unsigned(url, timeout)?;
        if force_sigv4 || remote.is_function_url() {
            remote.signer = remote.signer(force_sigv4).await?;
        }
        Ok(remote)
    }

    /// A client that sends unsigned requests: what [`Remote::new`] makes of a URL that is
    /// not a Lambda Function URL when `--sigv4` is not given, without the async work
    /// signing needs.
    pub fn unsigned(url: &str, timeout: Duration) -> Result<Remote> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("invalid --url {url:?}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("--url must be http:// or https://, not {url:?}");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(USER_AGENT)
            .build()
            .context("cannot create an HTTP client")?;
        Ok(Remote {
            base: url.trim_end_matches('/').to_string(),
            signer: Signer::None,
            timeout,
            http,
        })
    }

    /// The region of the URL when it is a Lambda Function URL's.
    fn function_url_region(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).ok()?;
        lambda_url_region(url.host_str()?)
    }

    /// Whether requests to the URL are signed when credentials are there: it is a Lambda
    /// Function URL's.
    pub fn is_function_url(&self) -> bool {
        self.function_url_region().is_some()
    }

    /// SigV4 with the standard credential chain; unsigned when there are no credentials
    /// unless `force_sigv4`.
    async fn signer(&self, force_sigv4: bool) -> Result<Signer> {
        match load_credentials().await {
            Ok((credentials, config_region)) => {
                let region = self.function_url_region().or(config_region).ok_or_else(|| {
                    anyhow!("--sigv4 needs a region: set AWS_REGION (the URL does not name one)")
                })?;
                tracing::debug!(region, "signing requests with SigV4");
                Ok(Signer::SigV4 {
                    credentials,
                    region,
                })
            }
            Err(_) if force_sigv4 => bail!(
                "--sigv4 needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE"
            ),
            Err(e) => {
                tracing::info!("no AWS credentials ({e}); sending unsigned requests");
                Ok(Signer::None)
            }
        }
    }

    /// The base URL, as given (without a trailing `/`).
    pub fn url(&self) -> &str {
        &self.base
    }

    pub fn signs(&self) -> bool {
        matches!(self.signer, Signer::SigV4 { .. })
    }

    /// `POST URL/diff` of `request` as JSON: the parsed answer and the size of the body
    /// sent, or the server's error as one line. A body over the API's request limit is not
    /// sent.
    pub async fn diff(&self, request: &DiffRequest) -> Result<(DiffResponse, Sent)> {
        let body = request.to_json();
        let sent = body.len();
        // The function takes bodies up to MAX_REQUEST_BYTES, but Lambda counts the whole
        // event against its 6 MB quota: leave room for it (picrypt_api::limits).
        if !fits_one_invocation(sent) {
            bail!(
                "the two ciphertexts are {sent} bytes as JSON, over the {MAX_SENT_REQUEST_BYTES} bytes that fit one Lambda invocation (6 MB, event included): pass --s3-bucket BUCKET"
            );
        }
        let answer = self
            .post(vec![Bytes::from(body)], "application/json", None)
            .await?;
        let status = answer.status;
        if status.is_success() && !framed::is_media_type(&answer.content_type) {
            let response =
                serde_json::from_slice(&answer.body).with_context(|| self.unexpected(status))?;
            let sent = Sent {
                bytes: sent,
                framed: false,
            };
            return Ok((response, sent));
        }
        if status.is_success() {
            bail!("{}", self.unexpected(status));
        }
        Err(self.refusal(&answer).into())
    }

    /// `POST URL/diff` of `op(a, b)` with both containers in the body, asking for the
    /// result in the answer. Framed (`application/vnd.picrypt.framed`: the containers as
    /// they are, no base64) unless `wire` says JSON; a server that does not take framed
    /// bodies (415) is asked again in JSON, and a JSON answer is read as well. A framed
    /// body goes out from the containers' own buffers: they are not copied into it.
    pub async fn diff_inline(
        &self,
        a: &Bytes,
        b: &Bytes,
        op: &str,
        wire: Wire,
    ) -> Result<Exchange> {
        if wire == Wire::Json {
            return self.diff_inline_json(a, b, op).await;
        }
        let t = Instant::now();
        let body: Vec<Bytes> = DiffRequest::framed_inline_heads(a.len(), b.len(), op)
            .into_iter()
            .map(Bytes::from)
            .zip([a.clone(), b.clone()])
            .flat_map(|(head, part)| [head, part])
            .collect();
        let encode_ms = ms(t);
        let sent = Sent {
            bytes: body.iter().map(Bytes::len).sum(),
            framed: true,
        };
        // Lambda's event carries a binary body as base64: the same quota as JSON.
        if !fits_one_invocation_framed(sent.bytes) {
            return Err(too_large_for_one_invocation(
                a.len() + b.len(),
                picrypt_api::limits::framed_event_bytes(sent.bytes),
            ));
        }
        let t = Instant::now();
        let answer = self
            .post(body, framed::MEDIA_TYPE, Some(&framed_accept()))
            .await?;
        let round_trip_ms = ms(t);
        let t = Instant::now();
        let Some((response, result)) = self.inline_from(&answer)? else {
            return self.diff_inline_json(a, b, op).await;
        };
        Ok(Exchange {
            response,
            result,
            sent,
            encode_ms,
            round_trip_ms,
            decode_ms: ms(t),
        })
    }

    /// The document and result of the answer to a framed inline request, read whole:
    /// framed or JSON, or `None` when the function does not take framed bodies (415) and
    /// is to be asked again in JSON.
    pub(super) fn inline_from(&self, answer: &Answer) -> Result<Option<(DiffResponse, Bytes)>> {
        let (status, bytes) = (answer.status, &answer.body);
        if status.is_success() {
            if framed::is_media_type(&answer.content_type) {
                let (response, part) =
                    DiffResponse::from_framed(bytes).with_context(|| self.unexpected(status))?;
                return Ok(Some((response, bytes.slice(part))));
            }
            return self.inline_answer(status, bytes).map(Some);
        }
        let unsupported = serde_json::from_slice::<ErrorBody>(bytes)
            .is_ok_and(|e| e.error.code == ErrorCode::UnsupportedMediaType.as_str());
        if status.as_u16() == 415 && unsupported {
            tracing::info!("the function does not take framed bodies: sending JSON");
            return Ok(None);
        }
        Err(self.refusal(answer).into())
    }

    async fn diff_inline_json(&self, a: &[u8], b: &[u8], op: &str) -> Result<Exchange> {
        let t = Instant::now();
        let request = DiffRequest::inline(a, b, op);
        let encode_ms = ms(t);
        let t = Instant::now();
        let (response, sent) = self.diff(&request).await?;
        let round_trip_ms = ms(t);
        let t = Instant::now();
        let result = inline_result(&response)?;
        Ok(Exchange {
            response,
            result,
            sent,
            encode_ms,
            round_trip_ms,
            decode_ms: ms(t),
        })
    }

    /// A JSON answer whose result must be inline.
    fn inline_answer(
        &self,
        status: reqwest::StatusCode,
        bytes: &[u8],
    ) -> Result<(DiffResponse, bytes::Bytes)> {
        let response: DiffResponse =
            serde_json::from_slice(bytes).with_context(|| self.unexpected(status))?;
        let result = inline_result(&response)?;
        Ok((response, result))
    }

    /// One `POST URL/diff` of the body that is `body`'s buffers in turn, and its answer.
    /// No answer at all is a [`Failure`].
    pub async fn post(
        &self,
        body: Vec<Bytes>,
        content_type: &str,
        accept: Option<&str>,
    ) -> Result<Answer> {
        let request = self.build(body, content_type, accept)?;
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|e| self.describe(e))?;
        let (status, headers) = (response.status(), std::mem::take(response.headers_mut()));
        let declared = response.content_length();
        let mut body = AnswerBody::new(self, declared)?;
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(e))? {
            body.push(&chunk)?;
        }
        Ok(Answer::new(status, &headers, body.done()))
    }

    /// An answer larger than any function sends.
    pub(super) fn too_large(&self) -> anyhow::Error {
        anyhow!(
            "{} sent an answer of more than {MAX_RESPONSE_BYTES} bytes, which no PICRYPT function sends",
            self.diff_url()
        )
    }

    fn diff_url(&self) -> String {
        format!("{}{}", self.base, Endpoint::Diff.path())
    }

    pub(super) fn unexpected(&self, status: reqwest::StatusCode) -> String {
        format!(
            "{} answered {status} with an unexpected body (is this a PICRYPT function?)",
            self.diff_url()
        )
    }

    /// The server's refusal as one line.
    fn refusal(&self, answer: &Answer) -> Failure {
        let (status, bytes) = (answer.status, &answer.body);
        let url = self.diff_url();
        let message = match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(e) => refused(status.as_u16(), &e).to_string(),
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                let snippet: String = text
                    .chars()
                    .take(160)
                    .collect::<String>()
                    .replace(['\n', '\r'], " ");
                let hint = match status.as_u16() {
                    403 if !self.signs() => " (a Function URL with AuthType AWS_IAM needs signed requests: set AWS credentials or pass --sigv4)",
                    403 => " (the signature was refused: check the credentials, region and the function's resource policy)",
                    _ => "",
                };
                format!("{url} answered HTTP {}{hint}: {snippet}", status.as_u16())
            }
        };
        Failure {
            status: Some(status.as_u16()),
            retry_after: answer.retry_after,
            message,
        }
    }

    /// `POST URL/diff` of the body that is `body`'s buffers in turn, signed over them when
    /// the remote signs.
    fn build(
        &self,
        body: Vec<Bytes>,
        content_type: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Request> {
        let mut request = self.head(content_type, accept)?;
        if let Signer::SigV4 {
            credentials,
            region,
        } = &self.signer
        {
            let hash = payload_sha256(&body);
            sign_request(&mut request, &hash, credentials, region, SystemTime::now())?;
        }
        let body = reqwest::Body::wrap(Buffers::new(body));
        let mut request = reqwest::Request::try_from(request.map(|()| body))
            .context("cannot build the request")?;
        *request.timeout_mut() = Some(self.timeout);
        Ok(request)
    }

    /// The head of a `POST URL/diff`.
    pub(super) fn head(
        &self,
        content_type: &str,
        accept: Option<&str>,
    ) -> Result<http::Request<()>> {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(self.diff_url())
            .header("content-type", content_type)
            .header("user-agent", USER_AGENT);
        if let Some(accept) = accept {
            builder = builder.header("accept", accept);
        }
        builder.body(()).context("cannot build the request")
    }

    fn describe(&self, e: reqwest::Error) -> Failure {
        if e.is_timeout() {
            self.timed_out()
        } else if e.is_connect() {
            let cause = std::error::Error::source(&e)
                .map(picrypt_api::s3::root_cause)
                .unwrap_or_default();
            self.cannot_connect(&cause)
        } else {
            self.failed(&e)
        }
    }

    /// No answer within `--timeout`.
    pub(super) fn timed_out(&self) -> Failure {
        Failure::no_answer(format!(
            "request to {} timed out after {:?} (raise --timeout for large images)",
            self.diff_url(),
            self.timeout
        ))
    }

    /// No connection, for `cause`.
    pub(super) fn cannot_connect(&self, cause: &str) -> Failure {
        Failure::no_answer(format!(
            "cannot connect to {}: {cause} (is the function running?)",
            self.diff_url()
        ))
    }

    /// The exchange broke off.
    pub(super) fn failed(&self, e: &dyn std::fmt::Display) -> Failure {
        Failure::no_answer(format!("request to {} failed: {e}", self.diff_url()))
    }

    /// How long to wait for the function.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Two ciphertexts of `bytes` whose framed body is `event_bytes` as base64 in a Lambda
/// event: too many for one invocation.
pub(super) fn too_large_for_one_invocation(bytes: usize, event_bytes: usize) -> anyhow::Error {
    anyhow!(
        "the two ciphertexts are {bytes} bytes, {event_bytes} as base64 in a Lambda event, over the {MAX_SENT_REQUEST_BYTES} bytes that fit one Lambda invocation (6 MB, event included): pass --s3-bucket BUCKET"
    )
}

/// The `Accept` of a framed request: a framed answer, else JSON.
pub(super) fn framed_accept() -> String {
    format!("{}, application/json;q=0.5", framed::MEDIA_TYPE)
}

/// An answer's body as it is read: at most [`MAX_RESPONSE_BYTES`] (no function sends
/// more: it is Lambda's limit), into one buffer of its declared length. Each chunk is
/// copied as it comes and dropped, so the connection reads the next into the same memory.
pub(super) struct AnswerBody<'r> {
    remote: &'r Remote,
    bytes: Vec<u8>,
}

impl<'r> AnswerBody<'r> {
    /// A body of `declared` bytes (when the answer says); refused at once when that is
    /// more than any function sends.
    pub fn new(remote: &'r Remote, declared: Option<u64>) -> Result<AnswerBody<'r>> {
        AnswerBody::into(remote, declared, Vec::new())
    }

    /// [`AnswerBody::new`] into `buffer`, cleared first: memory the caller already has.
    pub fn into(
        remote: &'r Remote,
        declared: Option<u64>,
        mut buffer: Vec<u8>,
    ) -> Result<AnswerBody<'r>> {
        let declared = declared.unwrap_or(0);
        if declared > MAX_RESPONSE_BYTES as u64 {
            return Err(remote.too_large());
        }
        buffer.clear();
        buffer.reserve_exact(declared as usize);
        Ok(AnswerBody {
            remote,
            bytes: buffer,
        })
    }

    /// Adds the next chunk; refused once the body passes the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        if self.bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(self.remote.too_large());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn done(self) -> Bytes {
        Bytes::from(self.bytes)
    }
}

/// A body sent from the buffers it lies in, in turn, with its exact length (so it goes
/// out with `Content-Length`, not chunked).
struct Buffers {
    buffers: VecDeque<Bytes>,
    remaining: u64,
}

impl Buffers {
    fn new(buffers: Vec<Bytes>) -> Buffers {
        let buffers: VecDeque<Bytes> = buffers.into_iter().filter(|b| !b.is_empty()).collect();
        let remaining = buffers.iter().map(|b| b.len() as u64).sum();
        Buffers { buffers, remaining }
    }
}

impl http_body::Body for Buffers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.buffers.pop_front();
        if let Some(buffer) = &next {
            self.remaining -= buffer.len() as u64;
        }
        Poll::Ready(next.map(|buffer| Ok(Frame::data(buffer))))
    }

    fn is_end_stream(&self) -> bool {
        self.buffers.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The SHA-256 of the body that is `buffers` in turn, in hex: what SigV4 signs.
fn payload_sha256(buffers: &[Bytes]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for buffer in buffers {
        hash.update(buffer);
    }
    picrypt_core::hex::encode(&hash.finalize())
}

/// Signs a Lambda Function URL request (service `lambda`) in place, over a body whose
/// SHA-256 is `payload_sha256` (hex): adds `x-amz-date`, `authorization` and, for
/// temporary credentials, `x-amz-security-token`.
fn sign_request<B>(
    request: &mut http::Request<B>,
    payload_sha256: &str,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<()> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("lambda")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .context("cannot prepare the SigV4 signature")?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Precomputed(payload_sha256.to_string()),
    )
    .context("cannot sign the request")?;
    let (instructions, _signature) = sign(signable, &params)
        .context("cannot sign the request")?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// Credentials and region from the standard AWS chain (environment, profile, SSO, …).
async fn load_credentials() -> Result<(Credentials, Option<String>)> {
    let config = aws_config::load_from_env().await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| anyhow!("no credentials provider configured"))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| anyhow!("{}", picrypt_api::s3::root_cause(&e)))?;
    Ok((credentials, config.region().map(|r| r.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_function_url_hosts() {
        assert_eq!(
            lambda_url_region("abc123.lambda-url.eu-west-1.on.aws").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(lambda_url_region("127.0.0.1"), None);
        assert_eq!(
            lambda_url_region("x.execute-api.eu-west-1.amazonaws.com"),
            None
        );
        assert_eq!(lambda_url_region("a.lambda-url.evil.example.com"), None);
    }

    #[test]
    fn an_answer_fills_the_buffer_it_is_given_and_stops_at_the_limit() {
        let remote = Remote::unsigned("http://127.0.0.1:1", Duration::from_secs(1)).unwrap();
        let warm = Vec::with_capacity(1 << 20);
        let at = warm.as_ptr();
        let mut body = AnswerBody::into(&remote, Some(1000), warm).unwrap();
        body.push(&[7; 600]).unwrap();
        body.push(&[8; 400]).unwrap();
        let bytes = body.done();
        assert_eq!(
            bytes.as_ptr(),
            at,
            "read into the buffer given, not a new one"
        );
        assert_eq!((bytes.len(), bytes[599], bytes[600]), (1000, 7, 8));
        // Declared over the limit: refused before a byte is read.
        let declared = MAX_RESPONSE_BYTES as u64 + 1;
        assert!(AnswerBody::new(&remote, Some(declared)).is_err());
        // Undeclared: refused once the bytes pass it.
        let mut body = AnswerBody::new(&remote, None).unwrap();
        body.push(&vec![0; MAX_RESPONSE_BYTES]).unwrap();
        let past = body.push(&[0]).unwrap_err().to_string();
        assert!(past.contains("more than 6291456 bytes"), "{past}");
    }
}
