//! Calling a PICRYPT function by direct invocation (`--function-name`): the Lambda Invoke
//! API through the SDK's Lambda client, which signs with SigV4; `AWS_ENDPOINT_URL_LAMBDA`
//! (or `AWS_ENDPOINT_URL`) points it at another endpoint, such as `cargo lambda watch`.
//! The payload is the diff request document itself, the answer the function's answer
//! document (docs/API.md, "Direct invocation").

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use picrypt_api::limits::{fits_one_direct_invocation, MAX_INVOKE_PAYLOAD_BYTES};
use picrypt_api::{DiffRequest, DiffResponse, ErrorBody, ErrorCode};

use super::{inline_result, ms, refused, Exchange, Sent};

/// A Lambda function, invoked synchronously.
pub struct Invoker {
    client: aws_sdk_lambda::Client,
    name: String,
    /// The endpoint named by the environment, for messages (the SDK's own otherwise).
    endpoint: Option<String>,
}

impl Invoker {
    /// A client for the function `name` (a name, an ARN, or `NAME:ALIAS`) from the standard
    /// AWS chain; credentials and a region are required now, so that their absence is one
    /// clear line rather than a failed request.
    pub async fn new(name: &str, timeout: Duration) -> Result<Invoker> {
        let sdk = aws_config::load_from_env().await;
        if sdk.region().is_none() {
            bail!("--function-name needs a region: set AWS_REGION (or a profile's region)");
        }
        let provider = sdk
            .credentials_provider()
            .ok_or_else(|| anyhow!("--function-name needs AWS credentials"))?;
        if let Err(e) = provider.provide_credentials().await {
            bail!(
                "--function-name needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE ({})",
                picrypt_api::s3::root_cause(&e)
            );
        }
        // One attempt: a diff can run for minutes, and the SDK would send it again after a
        // read timeout; throttling and service errors are reported instead.
        let config = aws_sdk_lambda::config::Builder::from(&sdk)
            .timeout_config(
                aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_timeout(timeout)
                    .build(),
            )
            .retry_config(
                aws_sdk_lambda::config::retry::RetryConfig::standard().with_max_attempts(1),
            )
            .build();
        let endpoint = ["AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
        Ok(Invoker {
            client: aws_sdk_lambda::Client::from_conf(config),
            name: name.to_string(),
            endpoint,
        })
    }

    /// The function's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One request document (S3 sources and output, or inline), its answer parsed. A
    /// document over Lambda's payload limit is not sent.
    pub async fn diff(&self, request: &DiffRequest) -> Result<(DiffResponse, Sent)> {
        let payload = request.to_json();
        let sent = Sent {
            bytes: payload.len(),
            framed: false,
        };
        if !fits_one_direct_invocation(sent.bytes) {
            bail!(
                "the two ciphertexts are {} bytes as a request document, over the {MAX_INVOKE_PAYLOAD_BYTES} bytes of one Lambda invocation: pass --s3-bucket BUCKET",
                sent.bytes
            );
        }
        let answer = self.invoke(payload).await?;
        Ok((self.answer(&answer)?, sent))
    }

    /// `op(a, b)` with both containers in the payload (base64: the payload is JSON) and the
    /// result in the answer.
    pub async fn diff_inline(&self, a: &[u8], b: &[u8], op: &str) -> Result<Exchange> {
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

    /// One synchronous invocation: the answer's payload. A function error (the runtime's,
    /// never the function's answer to bad input) is one line.
    async fn invoke(&self, payload: Vec<u8>) -> Result<Vec<u8>> {
        let output = self
            .client
            .invoke()
            .function_name(&self.name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| self.describe(e))?;
        let payload = output.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(kind) = output.function_error.as_deref() {
            let error: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
            let text = |field: &str| error[field].as_str().unwrap_or("").replace('\n', " ");
            bail!(
                "Lambda function {} failed ({kind}): {}: {}",
                self.name,
                text("errorType"),
                text("errorMessage").trim()
            );
        }
        Ok(payload)
    }

    /// The answer document: a diff answer, or a refusal as one line.
    fn answer(&self, payload: &[u8]) -> Result<DiffResponse> {
        let response = serde_json::from_slice::<DiffResponse>(payload);
        if let Ok(response) = response {
            return Ok(response);
        }
        if let Ok(e) = serde_json::from_slice::<ErrorBody>(payload) {
            let status = e
                .error
                .status
                .or_else(|| e.error.error_code().map(ErrorCode::status))
                .unwrap_or(500);
            return Err(refused(status, &e));
        }
        response.with_context(|| {
            format!(
                "Lambda function {} answered with an unexpected payload (is this a PICRYPT function?)",
                self.name
            )
        })
    }

    /// An Invoke API error as one line, with what to do where there is something to do.
    fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R>(
        &self,
        e: SdkError<E, R>,
    ) -> anyhow::Error {
        let name = &self.name;
        let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("");
        let text = picrypt_api::s3::explain(&e);
        let hint = match code {
            "ResourceNotFoundException" => " (check the name and AWS_REGION)",
            "AccessDeniedException" => {
                " (these credentials may not call lambda:InvokeFunction on it)"
            }
            "RequestTooLargeException" | "RequestEntityTooLargeException" => {
                " (pass --s3-bucket BUCKET)"
            }
            "TooManyRequestsException" => {
                " (the function's concurrency is used up: try again later)"
            }
            _ => "",
        };
        match (&e, &self.endpoint) {
            (SdkError::DispatchFailure(_), Some(endpoint)) => {
                anyhow!("cannot invoke Lambda function {name} at {endpoint}: {text} (is the function running?)")
            }
            (SdkError::TimeoutError(_), _) => anyhow!(
                "invoking Lambda function {name} timed out (raise --timeout for large images)"
            ),
            _ => anyhow!("cannot invoke Lambda function {name}: {text}{hint}"),
        }
    }
}
