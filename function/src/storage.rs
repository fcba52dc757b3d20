//! S3 access for the function (and the CLI's uploads): one configured bucket, objects read
//! into a buffer sized once from their length, writes only of finished results.

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::api::ApiError;

/// An S3 client configured from the environment: credentials and region from the standard
/// chain, a custom endpoint from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), with
/// path-style addressing for S3-compatible servers.
pub async fn client_from_env() -> Client {
    let sdk = aws_config::load_from_env().await;
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(120))
        .build();
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(custom_endpoint)
        .timeout_config(timeouts)
        .build();
    Client::from_conf(config)
}

/// Describes an SDK error in one line: the service's code and message when there is one.
fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R>(e: &SdkError<E, R>) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                "timed out".to_string()
            } else if d.is_io() {
                "connection failed".to_string()
            } else {
                "request could not be sent".to_string()
            }
        }
        SdkError::ResponseError(_) => "invalid response from storage".to_string(),
        _ => "request failed".to_string(),
    }
}

/// Reads a whole object, refusing one larger than `max_bytes` before reading it.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, ApiError> {
    let resp = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            let not_found = matches!(&e, SdkError::ServiceError(s) if s.err().is_no_such_key())
                || e.code() == Some("NoSuchKey");
            if not_found {
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
                ApiError::storage(format!("reading s3://{bucket}/{key}: {}", describe(&e)))
            }
        })?;
    let declared = resp.content_length().unwrap_or(0).max(0) as u64;
    if declared > max_bytes {
        return Err(ApiError::too_large(
            "object_too_large",
            format!("s3://{bucket}/{key} is {declared} bytes, more than the {max_bytes} this function reads"),
        ));
    }
    let mut body = resp.body;
    let mut out = Vec::with_capacity(declared as usize);
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                if (out.len() + chunk.len()) as u64 > max_bytes {
                    return Err(ApiError::too_large(
                        "object_too_large",
                        format!("s3://{bucket}/{key} is more than the {max_bytes} bytes this function reads"),
                    ));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::storage(format!(
                    "reading s3://{bucket}/{key} was interrupted: {e}"
                )))
            }
        }
    }
    if out.len() as u64 != declared {
        return Err(ApiError::storage(format!(
            "s3://{bucket}/{key}: storage sent {} of {declared} bytes",
            out.len()
        )));
    }
    Ok(out)
}

/// Writes an object in one request: S3 makes it visible whole or not at all.
pub async fn put(client: &Client, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/vnd.picrypt")
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| ApiError::storage(format!("writing s3://{bucket}/{key}: {}", describe(&e))))?;
    Ok(())
}
