//! Success bodies: `POST /diff`'s [`DiffResponse`] and `GET /health`'s [`Health`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST /diff` success body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "The encrypted difference, inline or in S3, and what it is")]
pub struct DiffResponse {
    /// Where the result is.
    pub result: ResultLocation,
    /// The inputs' scheme (`mask`, `bfv`, `shuffle`).
    #[schemars(description = "The inputs' scheme (mask, bfv, shuffle)")]
    pub scheme: String,
    /// The operation computed.
    #[schemars(description = "The operation computed (sub, sub_sat)")]
    pub op: String,
    /// Width of the images, in pixels.
    #[schemars(range(min = 1))]
    pub width: u32,
    /// Height of the images, in pixels.
    #[schemars(range(min = 1))]
    pub height: u32,
    /// Samples per pixel.
    #[schemars(range(min = 1, max = 4))]
    pub channels: u8,
    /// Size of the result container.
    pub bytes: usize,
    /// Time spent in the function, end to end.
    pub server_ms: f64,
    /// Where the time went.
    pub timing: Timing,
    /// The request id, also in the `x-request-id` header.
    #[schemars(
        description = "The request id, also in the x-request-id header (the Lambda request id under Lambda)"
    )]
    pub request_id: String,
    /// Present when the inputs use a scheme that is not secure (the legacy shuffle scheme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub warning: Option<String>,
}

impl DiffResponse {
    /// This answer as a framed body ([`crate::framed`]) whose one part is `result`: the
    /// answer's `result` becomes `{"part": 0}`.
    pub fn to_framed(&self, result: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        self.to_framed_into(result, &mut body);
        body
    }

    /// [`DiffResponse::to_framed`] into `body`, which is cleared first: for a server that
    /// reuses its buffers.
    pub fn to_framed_into(&self, result: &[u8], body: &mut Vec<u8>) {
        let document = DiffResponse {
            result: ResultLocation::Part(0),
            ..self.clone()
        };
        let json = serde_json::to_vec(&document).expect("an answer always serializes");
        crate::framed::encode_into(&json, &[result], body);
    }

    /// Reads a framed answer: the answer and where its one part, the result, lies in `body`.
    /// The answer must name exactly that part.
    pub fn from_framed(
        body: &[u8],
    ) -> Result<(DiffResponse, std::ops::Range<usize>), crate::FramedError> {
        use crate::framed::{check_references, Frames};
        use crate::FramedError;
        let frames = Frames::split(body).map_err(FramedError::Frame)?;
        let response: DiffResponse =
            serde_json::from_slice(&body[frames.json]).map_err(FramedError::Json)?;
        let named = match response.result {
            ResultLocation::Part(i) => vec![i],
            _ => vec![],
        };
        check_references(&named, frames.parts.len()).map_err(FramedError::Frame)?;
        match frames.parts.first() {
            Some(part) => {
                let part = part.clone();
                Ok((response, part))
            }
            None => Err(FramedError::Frame(crate::framed::FrameError::no_result())),
        }
    }
}

/// Where a result is: inline (`{"inline": BASE64}`) or in S3 (`{"s3": {"bucket", "key"}}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(description = "The result: inline as base64, or where it was written in S3")]
pub enum ResultLocation {
    /// The result container, base64 (standard alphabet, padded).
    #[schemars(schema_with = "crate::request::base64_result")]
    Inline(String),
    /// Part `i` of a framed answer ([`crate::framed`]): the answer to a request that asked
    /// for one with `Accept`.
    #[schemars(
        description = "Part i of an application/vnd.picrypt.framed answer, sent when the request's Accept header names that type"
    )]
    Part(usize),
    /// The object the result was written to.
    #[schemars(description = "The object the result was written to")]
    S3 {
        /// The function's bucket.
        bucket: String,
        /// The key asked for, or `PREFIX/results/<request id>.picrypt`.
        #[schemars(
            description = "The key asked for, or PREFIX/results/<request id>.picrypt when the request named none"
        )]
        key: String,
    },
}

/// Where the server's time went, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    description = "Where the server's time went, in milliseconds; they add up to about server_ms"
)]
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

/// `GET /health` body. The fields are declared in alphabetical order because the function
/// built this body with `serde_json::json!` (whose maps sort their keys) before the type
/// existed: the bytes on the wire stay the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "The function's version and what it supports")]
pub struct Health {
    /// The container format version the function reads (docs/FORMAT.md).
    pub container_version: u8,
    /// The largest request body accepted, in bytes.
    #[schemars(description = "The largest request body accepted, in bytes (6 MiB)")]
    pub max_request_bytes: usize,
    /// The operations the function computes.
    pub ops: Vec<String>,
    /// Whether a bucket is configured (S3 sources and outputs).
    pub s3: bool,
    /// The schemes the function reads.
    pub schemes: Vec<String>,
    /// Always `picrypt-function`.
    #[schemars(extend("const" = Health::SERVICE))]
    pub service: String,
    /// Always `ok`.
    #[schemars(extend("const" = Health::STATUS_OK))]
    pub status: String,
    /// The function's version.
    pub version: String,
}

impl Health {
    /// The `service` of every health answer.
    pub const SERVICE: &'static str = "picrypt-function";
    /// The `status` of every health answer.
    pub const STATUS_OK: &'static str = "ok";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_bytes_are_those_of_the_json_macro() {
        let health = Health {
            container_version: 1,
            max_request_bytes: crate::limits::MAX_REQUEST_BYTES,
            ops: vec!["sub".into(), "sub_sat".into()],
            s3: false,
            schemes: vec!["mask".into(), "bfv".into()],
            service: Health::SERVICE.into(),
            status: Health::STATUS_OK.into(),
            version: "0.1.0".into(),
        };
        let old = json!({
            "status": "ok",
            "service": "picrypt-function",
            "version": "0.1.0",
            "container_version": 1,
            "schemes": ["mask", "bfv"],
            "ops": ["sub", "sub_sat"],
            "s3": false,
            "max_request_bytes": 6291456,
        });
        assert_eq!(serde_json::to_string(&health).unwrap(), old.to_string());
        let back: Health = serde_json::from_value(old).unwrap();
        assert_eq!(back, health);
    }

    #[test]
    fn diff_response_round_trips() {
        let mut r = DiffResponse {
            result: ResultLocation::S3 {
                bucket: "b".into(),
                key: "k".into(),
            },
            scheme: "mask".into(),
            op: "sub".into(),
            width: 2,
            height: 3,
            channels: 3,
            bytes: 100,
            server_ms: 1.5,
            timing: Timing::default(),
            request_id: "r".into(),
            warning: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.starts_with(r#"{"result":{"s3":{"bucket":"b","key":"k"}},"scheme":"mask""#));
        assert!(!text.contains("warning"));
        assert_eq!(serde_json::from_str::<DiffResponse>(&text).unwrap(), r);
        r.result = ResultLocation::Inline("QUI=".into());
        r.warning = Some("insecure".into());
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.starts_with(r#"{"result":{"inline":"QUI="}"#));
        assert!(text.ends_with(r#""request_id":"r","warning":"insecure"}"#));
        assert_eq!(serde_json::from_str::<DiffResponse>(&text).unwrap(), r);
    }
}
