//! Error answers: the stable codes with their HTTP status, and the JSON body
//! `{"error": {"code", "message", "request_id"}}`.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code, as `error.code` of an error answer. Each code
/// has one HTTP status ([`ErrorCode::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(
    description = "Stable machine-readable code (docs/API.md has the table); each code comes with one HTTP status"
)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body is not JSON, or not a diff request (wrong types, an array where an
    /// object belongs, missing, duplicate or unknown fields, nesting too deep, anything
    /// after the object).
    BadJson,
    /// 400: an inline source is not valid base64.
    BadBase64,
    /// 400: a source is not a well-formed container (truncated, corrupted, inconsistent
    /// header, samples outside the declared range); the message names A or B.
    BadContainer,
    /// 400: a container of a newer format version.
    UnsupportedVersion,
    /// 400: `op` is not one this function knows.
    UnknownOp,
    /// 400: an S3 source or output, but the function has no bucket.
    S3NotConfigured,
    /// 400: an empty or over-long S3 key, or an unreadable body.
    BadRequest,
    /// 400: an image could not be decoded.
    BadImage,
    /// 400: a key file is malformed or of the wrong kind.
    BadKey,
    /// 403: a bucket other than the function's.
    BucketForbidden,
    /// 403: a key outside the function's prefix, or with `.`, `..`, `//`, a leading `/`, a
    /// backslash or control characters.
    KeyForbidden,
    /// 404: an S3 source does not exist.
    ObjectNotFound,
    /// 404: no such endpoint.
    NotFound,
    /// 405: wrong method (the answer carries an `Allow` header).
    MethodNotAllowed,
    /// 413: the body is over the request limit: upload to S3 and send keys.
    RequestTooLarge,
    /// 413: the result does not fit a response and inline was demanded, or no bucket is
    /// configured.
    ResponseTooLarge,
    /// 413: an S3 object over the function's `PICRYPT_MAX_OBJECT_BYTES`.
    ObjectTooLarge,
    /// 415: a media type other than `application/json`.
    UnsupportedMediaType,
    /// 422: the two ciphertexts were made under different keys.
    KeyMismatch,
    /// 422: the two ciphertexts use different schemes.
    SchemeMismatch,
    /// 422: the two ciphertexts differ in width, height or channel count.
    ShapeMismatch,
    /// 422: the result would not fit the ciphertext modulus.
    RangeOverflow,
    /// 422: the operation is not available for the inputs' scheme (`sub_sat` on masked
    /// samples).
    UnsupportedOp,
    /// 422: A and B are the same ciphertext (or one was made from the other).
    SameInput,
    /// 422: the inputs use a scheme that is not secure where that is refused.
    InsecureScheme,
    /// 422: a ciphertext cannot be tied to checked inputs and has no integrity tag.
    Unverifiable,
    /// 422: a ciphertext failed verification.
    VerificationFailed,
    /// 500: a bug: e.g. the computed result failed its check against the inputs (it is
    /// never stored).
    Internal,
    /// 500: the operating system's random number generator failed.
    RandomnessUnavailable,
    /// 500: this build of the function leaves out what the request needs.
    NotBuilt,
    /// 502: S3 failed: unreachable or stopped, denied to the function, a connection
    /// dropped, a transfer cut short.
    StorageError,
    /// 503: S3 kept throttling after every attempt: retry later (the answer carries
    /// `Retry-After`).
    StorageThrottled,
    /// 504: S3 did not start answering, or stalled mid-transfer, for longer than the
    /// storage timeout on every attempt.
    StorageTimeout,
    /// 403: `picrypt web` only: the request did not come from the page it serves (another
    /// origin, or a host name that is not loopback, as in DNS rebinding).
    CrossOrigin,
    /// 502: `picrypt web --url` only: the function it forwards to could not be reached, or
    /// its answer could not be read.
    UpstreamFailed,
}

impl ErrorCode {
    /// Every code, in the order of docs/API.md's table.
    pub const ALL: [ErrorCode; 35] = [
        ErrorCode::BadJson,
        ErrorCode::BadBase64,
        ErrorCode::BadContainer,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownOp,
        ErrorCode::S3NotConfigured,
        ErrorCode::BadRequest,
        ErrorCode::BadImage,
        ErrorCode::BadKey,
        ErrorCode::BucketForbidden,
        ErrorCode::KeyForbidden,
        ErrorCode::ObjectNotFound,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTooLarge,
        ErrorCode::ResponseTooLarge,
        ErrorCode::ObjectTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::KeyMismatch,
        ErrorCode::SchemeMismatch,
        ErrorCode::ShapeMismatch,
        ErrorCode::RangeOverflow,
        ErrorCode::UnsupportedOp,
        ErrorCode::SameInput,
        ErrorCode::InsecureScheme,
        ErrorCode::Unverifiable,
        ErrorCode::VerificationFailed,
        ErrorCode::Internal,
        ErrorCode::RandomnessUnavailable,
        ErrorCode::NotBuilt,
        ErrorCode::StorageError,
        ErrorCode::StorageThrottled,
        ErrorCode::StorageTimeout,
        ErrorCode::CrossOrigin,
        ErrorCode::UpstreamFailed,
    ];

    /// The code as it appears on the wire (`bad_json`, `key_mismatch`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadBase64 => "bad_base64",
            ErrorCode::BadContainer => "bad_container",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::S3NotConfigured => "s3_not_configured",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadImage => "bad_image",
            ErrorCode::BadKey => "bad_key",
            ErrorCode::BucketForbidden => "bucket_forbidden",
            ErrorCode::KeyForbidden => "key_forbidden",
            ErrorCode::ObjectNotFound => "object_not_found",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTooLarge => "request_too_large",
            ErrorCode::ResponseTooLarge => "response_too_large",
            ErrorCode::ObjectTooLarge => "object_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::KeyMismatch => "key_mismatch",
            ErrorCode::SchemeMismatch => "scheme_mismatch",
            ErrorCode::ShapeMismatch => "shape_mismatch",
            ErrorCode::RangeOverflow => "range_overflow",
            ErrorCode::UnsupportedOp => "unsupported_op",
            ErrorCode::SameInput => "same_input",
            ErrorCode::InsecureScheme => "insecure_scheme",
            ErrorCode::Unverifiable => "unverifiable",
            ErrorCode::VerificationFailed => "verification_failed",
            ErrorCode::Internal => "internal",
            ErrorCode::RandomnessUnavailable => "randomness_unavailable",
            ErrorCode::NotBuilt => "not_built",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::StorageThrottled => "storage_throttled",
            ErrorCode::StorageTimeout => "storage_timeout",
            ErrorCode::CrossOrigin => "cross_origin",
            ErrorCode::UpstreamFailed => "upstream_failed",
        }
    }

    /// The HTTP status every answer with this code carries.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::BadJson
            | ErrorCode::BadBase64
            | ErrorCode::BadContainer
            | ErrorCode::UnsupportedVersion
            | ErrorCode::UnknownOp
            | ErrorCode::S3NotConfigured
            | ErrorCode::BadRequest
            | ErrorCode::BadImage
            | ErrorCode::BadKey => 400,
            ErrorCode::BucketForbidden | ErrorCode::KeyForbidden => 403,
            ErrorCode::ObjectNotFound | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTooLarge
            | ErrorCode::ResponseTooLarge
            | ErrorCode::ObjectTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::KeyMismatch
            | ErrorCode::SchemeMismatch
            | ErrorCode::ShapeMismatch
            | ErrorCode::RangeOverflow
            | ErrorCode::UnsupportedOp
            | ErrorCode::SameInput
            | ErrorCode::InsecureScheme
            | ErrorCode::Unverifiable
            | ErrorCode::VerificationFailed => 422,
            ErrorCode::Internal | ErrorCode::RandomnessUnavailable | ErrorCode::NotBuilt => 500,
            ErrorCode::StorageError | ErrorCode::UpstreamFailed => 502,
            ErrorCode::CrossOrigin => 403,
            ErrorCode::StorageThrottled => 503,
            ErrorCode::StorageTimeout => 504,
        }
    }

    /// The code of a wire name, if it is one of [`ErrorCode::ALL`].
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer: `{"error": {"code", "message", "request_id"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Error", description = "An error answer")]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` object of an error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "What went wrong")]
pub struct ErrorDetail {
    /// The error's code: one of [`ErrorCode::ALL`] from this version; a newer server may
    /// send others, so it is kept as text ([`ErrorDetail::error_code`] reads it).
    #[schemars(
        with = "ErrorCode",
        description = "Stable machine-readable code, see docs/API.md"
    )]
    pub code: String,
    /// One line for people; it names A or B when one input is at fault.
    #[schemars(description = "One line for people; it names A or B when one input is at fault")]
    pub message: String,
    /// The request id, also in the `x-request-id` header. Always sent; a body without it
    /// (or with `null`) still reads.
    #[schemars(
        required,
        with = "String",
        description = "The request id, also in the x-request-id header (the Lambda request id under Lambda)"
    )]
    pub request_id: Option<String>,
    /// The code's HTTP status, in the answer to a direct invocation only (docs/API.md,
    /// "Direct invocation"): an invocation's answer has no status line, and a caller such
    /// as Step Functions branches on this field. An HTTP answer carries it in its status
    /// line and not here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        range(min = 400, max = 599),
        description = "The HTTP status of the code: only in answers to a direct invocation, which have no status line"
    )]
    pub status: Option<u16>,
}

impl ErrorBody {
    /// An error answer's body.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        request_id: impl Into<String>,
    ) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.as_str().to_string(),
                message: message.into(),
                request_id: Some(request_id.into()),
                status: None,
            },
        }
    }

    /// The answer to a direct invocation: the same body, with the code's HTTP status in
    /// `status`.
    pub fn for_invocation(
        code: ErrorCode,
        message: impl Into<String>,
        request_id: impl Into<String>,
    ) -> ErrorBody {
        let mut body = ErrorBody::new(code, message, request_id);
        body.error.status = Some(code.status());
        body
    }

    /// The body as JSON text, as the function sends it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an error body always serializes")
    }
}

impl ErrorDetail {
    /// The code as an [`ErrorCode`], when it is one this version knows.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_name(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_wire_names() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(code.as_str())
            );
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
            let back: ErrorCode = serde_json::from_value(serde_json::json!(code.as_str())).unwrap();
            assert_eq!(back, code);
        }
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "duplicate code");
        assert_eq!(ErrorCode::from_name("nope"), None);
    }

    #[test]
    fn error_body_is_what_the_function_always_sent() {
        let body = ErrorBody::new(ErrorCode::KeyForbidden, "key \"a\\b\" is bad", "r-1");
        // Byte for byte the `json!` the function used to build: keys in this order.
        assert_eq!(
            body.to_json(),
            r#"{"error":{"code":"key_forbidden","message":"key \"a\\b\" is bad","request_id":"r-1"}}"#
        );
        let back: ErrorBody = serde_json::from_str(&body.to_json()).unwrap();
        assert_eq!(back, body);
        assert_eq!(back.error.error_code(), Some(ErrorCode::KeyForbidden));
        assert_eq!(back.error.error_code().unwrap().status(), 403);
        // A direct invocation's answer names the status, after the request id.
        let direct = ErrorBody::for_invocation(ErrorCode::KeyForbidden, "m", "r-1");
        assert_eq!(
            direct.to_json(),
            r#"{"error":{"code":"key_forbidden","message":"m","request_id":"r-1","status":403}}"#
        );
        assert_eq!(
            serde_json::from_str::<ErrorBody>(&direct.to_json()).unwrap(),
            direct
        );
    }

    #[test]
    fn error_body_reads_leniently() {
        for text in [
            r#"{"error":{"code":"brand_new","message":"m"}}"#,
            r#"{"error":{"code":"brand_new","message":"m","request_id":null}}"#,
        ] {
            let e: ErrorBody = serde_json::from_str(text).unwrap();
            assert_eq!(e.error.code, "brand_new");
            assert_eq!(e.error.error_code(), None);
            assert_eq!(e.error.request_id, None);
        }
    }
}
