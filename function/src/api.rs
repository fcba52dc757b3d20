//! The JSON API: request and response bodies, and errors with their HTTP status.
//! `docs/API.md` and `openapi.json` describe the same shapes.

use serde::{Deserialize, Deserializer, Serialize};

/// `POST /diff` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffRequest {
    pub a: Source,
    pub b: Source,
    /// Operation name; `sub` (A − B) when absent.
    #[serde(default)]
    pub op: Option<String>,
    /// Where the result goes; inline when it fits, else S3, when absent.
    #[serde(default)]
    pub output: Option<Output>,
}

impl DiffRequest {
    /// Parses a `POST /diff` body: one JSON object and nothing after it.
    pub fn from_json(body: &[u8]) -> serde_json::Result<DiffRequest> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let request = object(&mut de)?;
        de.end()?;
        Ok(request)
    }
}

/// Deserializes a struct from a JSON object only. Serde's derived structs also accept an
/// array of their fields in order (`["key", "bucket"]`), which the API does not document
/// and a typo could hit.
fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct ObjectOnly<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(ObjectOnly(std::marker::PhantomData))
}

/// Where a ciphertext comes from.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// The container, base64 (standard alphabet, padded).
    Inline(String),
    #[serde(deserialize_with = "object")]
    S3(S3Location),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Location {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
}

/// Where the result goes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Output {
    Inline,
    #[serde(deserialize_with = "object")]
    S3(S3OutputKey),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3OutputKey {
    pub key: String,
}

/// `POST /diff` success body.
#[derive(Debug, Serialize, Deserialize)]
pub struct DiffResponse {
    pub result: ResultLocation,
    pub scheme: String,
    pub op: String,
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    /// Size of the result container.
    pub bytes: usize,
    /// Time spent in the function, end to end.
    pub server_ms: f64,
    pub timing: Timing,
    pub request_id: String,
    /// Present when the inputs use a scheme that is not secure (the legacy shuffle scheme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultLocation {
    Inline(String),
    S3 { bucket: String, key: String },
}

/// Where the server's time went, in milliseconds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Timing {
    /// JSON parsing and base64 decoding of inline inputs.
    pub decode_ms: f64,
    /// Reading inputs from S3.
    pub fetch_ms: f64,
    /// Parsing and validating both containers and subtracting.
    pub compute_ms: f64,
    /// Base64 encoding and JSON of the response.
    pub encode_ms: f64,
    /// Writing the result to S3.
    pub store_ms: f64,
}

/// An error answer: `{"error": {"code", "message", "request_id"}}` with an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(403, code, message)
    }

    pub fn too_large(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(413, code, message)
    }

    pub fn storage(message: impl Into<String>) -> ApiError {
        ApiError::new(502, "storage_error", message)
    }

    /// S3 kept throttling (`SlowDown`) after every attempt: the caller may retry later.
    pub fn storage_throttled(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "storage_throttled", message)
    }

    /// S3 did not answer, or stalled mid-transfer, for longer than the storage timeout.
    pub fn storage_timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(504, "storage_timeout", message)
    }

    pub fn body(&self, request_id: &str) -> String {
        serde_json::json!({
            "error": {"code": self.code, "message": self.message, "request_id": request_id}
        })
        .to_string()
    }
}

impl From<picrypt_core::Error> for ApiError {
    /// Malformed input is 400; well-formed ciphertexts that cannot be combined are 422.
    fn from(e: picrypt_core::Error) -> ApiError {
        use picrypt_core::Error as E;
        let status = match e {
            E::Format(_) | E::UnsupportedVersion { .. } | E::Image(_) | E::Key(_) => 400,
            E::KeyMismatch(_)
            | E::SchemeMismatch(_)
            | E::ShapeMismatch(_)
            | E::RangeOverflow(_)
            | E::UnsupportedOp(_)
            | E::SameInput(_)
            | E::InsecureScheme(_)
            | E::Unverifiable(_)
            | E::Verification => 422,
            E::Random(_) | E::NotBuilt(_) => 500,
            _ => 500,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// Error body as the CLI reads it back.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub request_id: Option<String>,
}
