//! S3 access for the function (and the CLI's uploads): one configured bucket, objects read
//! into a buffer sized once from their length, writes only of finished results.
//!
//! Failures are deliberate: every request is tried [`Settings::attempts`] times with
//! jittered exponential backoff (the SDK's standard retry mode), a response must start
//! within [`Settings::timeout`] and a body may not stall for longer, and what is left after
//! the last attempt becomes one clear [`ApiError`]: 404 `object_not_found`, 503
//! `storage_throttled`, 504 `storage_timeout` or 502 `storage_error`.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::api::ApiError;

/// How the function uses S3: attempts per request, the backoff between them, and timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Attempts per request, the first included (`PICRYPT_S3_ATTEMPTS`, default 3).
    pub attempts: u32,
    /// Base of the backoff: the wait before attempt n is a random fraction of
    /// `backoff × 2^(n−2)` (`PICRYPT_S3_BACKOFF_MS`, default 1000).
    pub backoff: Duration,
    /// Longest wait for a response to start, and longest pause inside a body
    /// (`PICRYPT_S3_TIMEOUT_MS`, default 30 000).
    pub timeout: Duration,
    /// Longest wait for a connection (5 s, or `timeout` when that is shorter).
    pub connect_timeout: Duration,
    /// Longest single attempt, body upload included (120 s).
    pub attempt_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            attempts: 3,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(120),
        }
    }
}

impl Settings {
    /// The defaults, changed by `PICRYPT_S3_ATTEMPTS`, `PICRYPT_S3_BACKOFF_MS` and
    /// `PICRYPT_S3_TIMEOUT_MS`; a value that is not a positive integer is an error.
    pub fn from_env() -> Result<Settings, String> {
        let mut s = Settings::default();
        if let Some(n) = env_number("PICRYPT_S3_ATTEMPTS")? {
            s.attempts =
                u32::try_from(n).map_err(|_| format!("PICRYPT_S3_ATTEMPTS={n} is too large"))?;
        }
        if let Some(ms) = env_number("PICRYPT_S3_BACKOFF_MS")? {
            s.backoff = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("PICRYPT_S3_TIMEOUT_MS")? {
            s = s.with_timeout(Duration::from_millis(ms));
        }
        Ok(s)
    }

    /// These settings with another response timeout (and a connect timeout no longer).
    pub fn with_timeout(mut self, timeout: Duration) -> Settings {
        self.timeout = timeout;
        self.connect_timeout = self.connect_timeout.min(timeout);
        self
    }

    /// Applies the retry and timeout settings to an S3 client configuration.
    pub fn apply(&self, builder: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
        builder
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(self.attempts)
                    .with_initial_backoff(self.backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.timeout)
                    .operation_attempt_timeout(self.attempt_timeout)
                    .build(),
            )
    }
}

fn env_number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{name}={v:?} is not a positive integer")),
        },
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// An S3 client configured from the environment: credentials and region from the standard
/// chain, a custom endpoint from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), with
/// path-style addressing for S3-compatible servers, and [`Settings::from_env`].
pub async fn client_from_env() -> Result<Client, String> {
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let config = settings
        .apply(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(custom_endpoint))
        .build();
    Ok(Client::from_conf(config))
}

/// What a client was configured with, for messages and for retrying broken bodies.
struct Policy {
    attempts: u32,
    backoff: Duration,
    timeout: Option<Duration>,
}

impl Policy {
    fn of(client: &Client) -> Policy {
        let config = client.config();
        let retry = config.retry_config();
        Policy {
            attempts: retry.map_or(1, |r| r.max_attempts()).max(1),
            backoff: retry.map_or(Duration::ZERO, |r| r.initial_backoff()),
            timeout: config.timeout_config().and_then(|t| t.read_timeout()),
        }
    }

    fn attempts(&self) -> String {
        match self.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        }
    }
}

/// Error codes S3 and S3-compatible servers use to ask for fewer requests.
const THROTTLING_CODES: [&str; 6] = [
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
];

/// Turns what is left of a request after its last attempt into one clear error. `doing`
/// says what was attempted, e.g. "reading s3://bucket/key".
fn failure<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &SdkError<E, HttpResponse>,
    doing: &str,
    policy: &Policy,
) -> ApiError {
    let status = e.raw_response().map(|r| r.status().as_u16());
    let throttled = e.code().is_some_and(|c| THROTTLING_CODES.contains(&c))
        || matches!(status, Some(429 | 503));
    let timed_out = match e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    if throttled {
        return ApiError::storage_throttled(format!(
            "{doing}: S3 is throttling requests ({}) and still was after {}; retry later",
            e.code().unwrap_or("HTTP 503"),
            policy.attempts()
        ));
    }
    if timed_out {
        let within = policy
            .timeout
            .map(|t| format!(" within {t:?}"))
            .unwrap_or_default();
        return ApiError::storage_timeout(format!(
            "{doing}: S3 did not answer{within} ({})",
            policy.attempts()
        ));
    }
    let retried = matches!(e, SdkError::DispatchFailure(_) | SdkError::ResponseError(_))
        || status.is_some_and(|s| s >= 500);
    let after = if retried {
        format!(" after {}", policy.attempts())
    } else {
        String::new()
    };
    let (summary, cause) = describe(e);
    let cause = cause.map(|c| format!(": {c}")).unwrap_or_default();
    ApiError::storage(format!("{doing}: {summary}{after}{cause}"))
}

/// Describes an SDK error in one line: the service's code and message when there is one,
/// and for a failed connection its innermost cause ("Connection refused", …).
fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R>(
    e: &SdkError<E, R>,
) -> (String, Option<String>) {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let text = format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no message")
            );
            (text, None)
        }
        SdkError::TimeoutError(_) => ("timed out".to_string(), None),
        SdkError::DispatchFailure(d) if d.is_timeout() => ("timed out".to_string(), None),
        SdkError::DispatchFailure(d) => {
            let cause = d
                .as_connector_error()
                .map(|c| root_cause(c as &dyn std::error::Error));
            let summary = if d.is_user() {
                "request could not be sent"
            } else {
                "connection failed"
            };
            (summary.to_string(), cause)
        }
        SdkError::ResponseError(_) => ("invalid response from storage".to_string(), None),
        _ => ("request failed".to_string(), None),
    }
}

/// One line for an SDK error, for callers that report it themselves (the CLI).
pub fn explain<E: ProvideErrorMetadata + std::fmt::Debug, R>(e: &SdkError<E, R>) -> String {
    match describe(e) {
        (summary, Some(cause)) => format!("{summary}: {cause}"),
        (summary, None) => summary,
    }
}

/// The innermost cause of an error: the one that names what went wrong ("Connection
/// refused (os error 111)", "end of file before message length reached").
pub fn root_cause(e: &dyn std::error::Error) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// How reading a body went wrong after the response had started.
enum Broken {
    /// The connection ended or failed before the whole body arrived intact.
    Cut {
        got: usize,
        declared: u64,
        cause: Option<String>,
    },
    /// Nothing arrived for the whole timeout.
    Stalled {
        got: usize,
        declared: u64,
        idle: Duration,
    },
}

enum Fetch {
    Failed(ApiError),
    Broken(Broken),
}

/// Reads a whole object, refusing one larger than `max_bytes` before reading it. A body
/// that breaks off or stalls is read again from the start, up to the client's attempts:
/// bytes are returned only when exactly the declared length arrived.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, ApiError> {
    let policy = Policy::of(client);
    let mut attempt = 1;
    loop {
        let broken = match get_once(client, bucket, key, max_bytes, &policy).await {
            Ok(bytes) => return Ok(bytes),
            Err(Fetch::Failed(e)) => return Err(e),
            Err(Fetch::Broken(b)) => b,
        };
        if attempt < policy.attempts {
            tracing::warn!(
                bucket,
                key,
                attempt,
                "object transfer broke off; reading it again"
            );
            tokio::time::sleep(policy.backoff * 2u32.saturating_pow(attempt - 1)).await;
            attempt += 1;
            continue;
        }
        let attempts = policy.attempts();
        return Err(match broken {
            Broken::Cut {
                got,
                declared,
                cause,
            } => ApiError::storage(format!(
                "reading s3://{bucket}/{key}: the transfer broke off after {got} of {declared} bytes{} ({attempts})",
                cause.map(|c| format!(": {c}")).unwrap_or_default()
            )),
            Broken::Stalled {
                got,
                declared,
                idle,
            } => ApiError::storage_timeout(format!(
                "reading s3://{bucket}/{key}: the transfer stalled after {got} of {declared} bytes, nothing for {idle:?} ({attempts})"
            )),
        });
    }
}

async fn get_once(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
    policy: &Policy,
) -> Result<Vec<u8>, Fetch> {
    let resp = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            Fetch::Failed(
                if matches!(&e, SdkError::ServiceError(s) if s.err().is_no_such_key())
                    || e.code() == Some("NoSuchKey")
                {
                    ApiError::new(
                        404,
                        "object_not_found",
                        format!("s3://{bucket}/{key} does not exist"),
                    )
                } else if e.code() == Some("AccessDenied") {
                    ApiError::storage(format!(
                        "access to s3://{bucket}/{key} was denied to the function"
                    ))
                } else {
                    failure(&e, &format!("reading s3://{bucket}/{key}"), policy)
                },
            )
        })?;
    let declared = resp.content_length().unwrap_or(0).max(0) as u64;
    if declared > max_bytes {
        return Err(Fetch::Failed(ApiError::too_large(
            "object_too_large",
            format!("s3://{bucket}/{key} is {declared} bytes, more than the {max_bytes} this function reads"),
        )));
    }
    let mut body = resp.body;
    let mut out = Vec::with_capacity(declared as usize);
    loop {
        let next = match policy.timeout {
            Some(idle) => match tokio::time::timeout(idle, body.try_next()).await {
                Ok(next) => next,
                Err(_) => {
                    return Err(Fetch::Broken(Broken::Stalled {
                        got: out.len(),
                        declared,
                        idle,
                    }))
                }
            },
            None => body.try_next().await,
        };
        match next {
            Ok(Some(chunk)) => {
                if (out.len() + chunk.len()) as u64 > max_bytes {
                    return Err(Fetch::Failed(ApiError::too_large(
                        "object_too_large",
                        format!("s3://{bucket}/{key} is more than the {max_bytes} bytes this function reads"),
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                // Even with every byte there, an error (a failed checksum) voids the body.
                return Err(Fetch::Broken(Broken::Cut {
                    got: out.len(),
                    declared,
                    cause: Some(root_cause(&e)),
                }));
            }
        }
    }
    if out.len() as u64 != declared {
        return Err(Fetch::Broken(Broken::Cut {
            got: out.len(),
            declared,
            cause: None,
        }));
    }
    Ok(out)
}

/// Writes an object in one request: S3 makes it visible whole or not at all, so a request
/// that breaks off (and is retried, or fails) never leaves part of it at `key`.
pub async fn put(client: &Client, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
    let policy = Policy::of(client);
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/vnd.picrypt")
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| failure(&e, &format!("writing s3://{bucket}/{key}"), &policy))?;
    Ok(())
}
