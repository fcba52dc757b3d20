//! S3 access for the function: one configured bucket, objects read into a buffer sized
//! once from their length, writes only of finished results.
//!
//! Failures are deliberate: every request is tried as many times as the client's
//! [`picrypt_api::s3::Settings`] say, with jittered exponential backoff (the SDK's standard
//! retry mode), a response must start within their timeout and a body may not stall for
//! longer, and what is left after the last attempt becomes one clear [`ApiError`]: 404
//! `object_not_found`, 503 `storage_throttled`, 504 `storage_timeout` or 502
//! `storage_error`.

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use picrypt_api::s3::{describe, root_cause};
use picrypt_api::ErrorCode;

use crate::error::ApiError;

/// What a client was configured with, for messages and for retrying broken bodies.
#[derive(Clone)]
pub(crate) struct Policy {
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) timeout: Option<Duration>,
}

impl Policy {
    pub(crate) fn of(client: &Client) -> Policy {
        let config = client.config();
        let retry = config.retry_config();
        Policy {
            attempts: retry.map_or(1, |r| r.max_attempts()).max(1),
            backoff: retry.map_or(Duration::ZERO, |r| r.initial_backoff()),
            timeout: config.timeout_config().and_then(|t| t.read_timeout()),
        }
    }

    pub(crate) fn attempts(&self) -> String {
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
pub(crate) fn failure<E: ProvideErrorMetadata + std::fmt::Debug>(
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
        return ApiError::new(
            ErrorCode::StorageThrottled,
            format!(
                "{doing}: S3 is throttling requests ({}) and still was after {}; retry later",
                e.code().unwrap_or("HTTP 503"),
                policy.attempts()
            ),
        );
    }
    if timed_out {
        let within = policy
            .timeout
            .map(|t| format!(" within {t:?}"))
            .unwrap_or_default();
        return ApiError::new(
            ErrorCode::StorageTimeout,
            format!("{doing}: S3 did not answer{within} ({})", policy.attempts()),
        );
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
    ApiError::new(
        ErrorCode::StorageError,
        format!("{doing}: {summary}{after}{cause}"),
    )
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
pub(crate) async fn get(
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
            } => ApiError::new(ErrorCode::StorageError, format!(
                "reading s3://{bucket}/{key}: the transfer broke off after {got} of {declared} bytes{} ({attempts})",
                cause.map(|c| format!(": {c}")).unwrap_or_default()
            )),
            Broken::Stalled {
                got,
                declared,
                idle,
            } => ApiError::new(ErrorCode::StorageTimeout, format!(
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
        .map_err(|e| Fetch::Failed(not_found_or(&e, bucket, key, policy)))?;
    let declared = resp.content_length().unwrap_or(0).max(0) as u64;
    if declared > max_bytes {
        return Err(Fetch::Failed(ApiError::new(
            ErrorCode::ObjectTooLarge,
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
                    return Err(Fetch::Failed(ApiError::new(
                        ErrorCode::ObjectTooLarge,
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

/// What a failed GET of `key` is: 404 `object_not_found` for a missing object, access
/// denied said plainly, else [`failure`].
pub(crate) fn not_found_or(
    e: &SdkError<aws_sdk_s3::operation::get_object::GetObjectError, HttpResponse>,
    bucket: &str,
    key: &str,
    policy: &Policy,
) -> ApiError {
    if matches!(e, SdkError::ServiceError(s) if s.err().is_no_such_key())
        || e.code() == Some("NoSuchKey")
    {
        ApiError::new(
            ErrorCode::ObjectNotFound,
            format!("s3://{bucket}/{key} does not exist"),
        )
    } else if e.code() == Some("AccessDenied") {
        ApiError::new(
            ErrorCode::StorageError,
            format!("access to s3://{bucket}/{key} was denied to the function"),
        )
    } else {
        failure(e, &format!("reading s3://{bucket}/{key}"), policy)
    }
}

/// Writes an object in one request: S3 makes it visible whole or not at all, so a request
/// that breaks off (and is retried, or fails) never leaves part of it at `key`.
pub(crate) async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
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
