//! What the function and the CLI share for talking to S3 (cargo feature `s3`): the retry
//! and timeout [`Settings`] from `PICRYPT_S3_*`, the client both build
//! ([`client_from_env`]), and one-line descriptions of what went wrong ([`describe`],
//! [`explain`], [`root_cause`]).

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;

/// How the function and the CLI use S3: attempts per request, the backoff between them,
/// and timeouts.
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

/// Describes an SDK error: a one-line summary (the service's code and message when there
/// is one, "connection failed", "timed out", …) and, for a failed connection, its
/// innermost cause ("Connection refused (os error 111)").
pub fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R>(
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

/// One line for an SDK error ([`describe`]'s summary and cause), for callers that report
/// it themselves (the CLI).
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
