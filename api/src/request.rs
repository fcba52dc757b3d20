//! The `POST /diff` request body, both ways: the function parses it with
//! [`DiffRequest::from_json`], the CLI builds it with [`DiffRequest::inline`] or
//! [`DiffRequest::s3`] and sends [`DiffRequest::to_json`].

use base64::Engine;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use std::ops::Range;

use crate::framed::{self, FrameError, Frames};
use crate::limits::MAX_S3_KEY_BYTES;

/// A framed body that cannot be read: its framing ([`FrameError`], answered `400
/// bad_request`) or its JSON document (answered `400 bad_json`).
#[derive(Debug)]
pub enum FramedError {
    /// The framing: magic, a length, a part named twice or not at all.
    Frame(FrameError),
    /// The JSON document inside.
    Json(serde_json::Error),
}

impl std::fmt::Display for FramedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FramedError::Frame(e) => e.fmt(f),
            FramedError::Json(e) => write!(f, "framed body: its JSON document: {e}"),
        }
    }
}

impl std::error::Error for FramedError {}

/// The operations the API names, in the order `GET /health` lists them: `sub` (A − B,
/// exact and signed) and `sub_sat` (max(A − B, 0) per 8-bit sample).
pub const OPS: [&str; 2] = ["sub", "sub_sat"];

/// The operation of a request that names none.
pub const DEFAULT_OP: &str = "sub";

/// `POST /diff` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    description = "Unknown and duplicate fields are refused (400 bad_json); op and output set to null mean the same as leaving them out"
)]
pub struct DiffRequest {
    /// The first ciphertext, A.
    #[schemars(description = "The first ciphertext, A")]
    pub a: Source,
    /// The second ciphertext, B: the result is A − B.
    #[schemars(description = "The second ciphertext, B: the result is A − B")]
    pub b: Source,
    /// Operation name; [`DEFAULT_OP`] when absent or `null`. Kept as text so that an
    /// unknown name is answered `unknown_op`, not `bad_json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "op_schema",
        description = "sub: A − B (exact, signed). sub_sat: max(A − B, 0) per 8-bit sample, as OpenCV's cv2.subtract; shuffle scheme only (422 unsupported_op on masked samples). Absent or null: sub; any other name: 400 unknown_op"
    )]
    pub op: Option<String>,
    /// Where the result goes; absent or `null`: inline when it fits, else S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        description = "Absent: inline when the response fits 6 MB, else S3 under a generated key when a bucket is configured, else 413"
    )]
    pub output: Option<Output>,
}

fn op_schema(_: &mut SchemaGenerator) -> Schema {
    let mut names: Vec<serde_json::Value> = OPS.iter().map(|&o| o.into()).collect();
    names.push(serde_json::Value::Null);
    json_schema!({
        "type": ["string", "null"],
        "enum": names,
        "default": DEFAULT_OP,
    })
}

impl DiffRequest {
    /// A request sending both ciphertexts inline (base64-encoded here) and asking for the
    /// result inline.
    pub fn inline(a: &[u8], b: &[u8], op: &str) -> DiffRequest {
        DiffRequest {
            a: Source::inline(a),
            b: Source::inline(b),
            op: Some(op.to_string()),
            output: Some(Output::Inline),
        }
    }

    /// A request naming two objects in `bucket` and asking for the result at `output_key`
    /// in the same bucket.
    pub fn s3(bucket: &str, key_a: &str, key_b: &str, op: &str, output_key: &str) -> DiffRequest {
        DiffRequest {
            a: Source::s3(key_a, Some(bucket.to_string())),
            b: Source::s3(key_b, Some(bucket.to_string())),
            op: Some(op.to_string()),
            output: Some(Output::S3(S3OutputKey {
                key: output_key.to_string(),
            })),
        }
    }

    /// Parses a `POST /diff` body: one JSON object and nothing after it. Arrays in place of
    /// objects, unknown and duplicate fields are refused.
    pub fn from_json(body: &[u8]) -> serde_json::Result<DiffRequest> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let request = object(&mut de)?;
        de.end()?;
        Ok(request)
    }

    /// The body as the CLI sends it (compact JSON).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a diff request always serializes")
    }

    /// The operation's name: `op`, or [`DEFAULT_OP`] when there is none.
    pub fn op_name(&self) -> &str {
        self.op.as_deref().unwrap_or(DEFAULT_OP)
    }

    /// A framed body ([`crate::framed`]) sending both containers as its two parts and
    /// asking for the result inline.
    pub fn framed_inline(a: &[u8], b: &[u8], op: &str) -> Vec<u8> {
        framed::encode(&Self::inline_parts(op).to_json(), &[a, b])
    }

    /// The two heads of [`DiffRequest::framed_inline`]'s body for containers of these
    /// lengths ([`framed::heads`]): `head 0, a, head 1, b` is that body, sent without
    /// copying the containers into it.
    pub fn framed_inline_heads(a_len: usize, b_len: usize, op: &str) -> Vec<Vec<u8>> {
        framed::heads(&Self::inline_parts(op).to_json(), &[a_len, b_len])
    }

    /// Both inputs from the body's parts, the result inline.
    fn inline_parts(op: &str) -> DiffRequest {
        DiffRequest {
            a: Source::Part(0),
            b: Source::Part(1),
            op: Some(op.to_string()),
            output: Some(Output::Inline),
        }
    }

    /// Parses a framed body ([`crate::framed`]): the request, whose `{"part": i}` sources
    /// name the returned ranges of `body`. The parts are checked to be named exactly once
    /// each, in order; nothing is copied.
    pub fn from_framed(body: &[u8]) -> Result<(DiffRequest, Vec<Range<usize>>), FramedError> {
        let frames = Frames::split(body).map_err(FramedError::Frame)?;
        let request = DiffRequest::from_json(&body[frames.json]).map_err(FramedError::Json)?;
        framed::check_references(&request.part_numbers(), frames.parts.len())
            .map_err(FramedError::Frame)?;
        Ok((request, frames.parts))
    }

    /// The part numbers the sources name, `a` first.
    pub fn part_numbers(&self) -> Vec<usize> {
        [&self.a, &self.b]
            .into_iter()
            .filter_map(|s| match s {
                Source::Part(i) => Some(*i),
                _ => None,
            })
            .collect()
    }

    /// The S3 key the result was asked for, if any.
    pub fn output_key(&self) -> Option<&str> {
        match &self.output {
            Some(Output::S3(o)) => Some(&o.key),
            _ => None,
        }
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

/// Where a ciphertext comes from: `{"inline": BASE64}` or `{"s3": {"key", "bucket"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
#[schemars(description = "A ciphertext: inline as base64, or an object in the function's bucket")]
pub enum Source {
    /// The container, base64 (standard alphabet, padded).
    #[schemars(schema_with = "base64_container")]
    Inline(String),
    /// An object in the function's bucket.
    #[serde(deserialize_with = "object")]
    #[schemars(description = "An object in the function's bucket")]
    S3(S3Location),
    /// Part `i` of a framed body ([`crate::framed`]); refused in a JSON body.
    #[schemars(
        description = "Part i of an application/vnd.picrypt.framed body (docs/API.md); refused (400 bad_request) in a JSON body"
    )]
    Part(usize),
}

fn base64_container(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "contentEncoding": "base64",
        "contentMediaType": "application/vnd.picrypt",
        "description": "The container, standard base64 with padding"
    })
}

pub(crate) fn base64_result(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "contentEncoding": "base64",
        "contentMediaType": "application/vnd.picrypt",
        "description": "The result container, standard base64 with padding"
    })
}

impl Source {
    /// A container sent inline, base64-encoded here.
    pub fn inline(container: &[u8]) -> Source {
        Source::Inline(base64::engine::general_purpose::STANDARD.encode(container))
    }

    /// An object in the function's bucket (`bucket`, when given, must be that bucket).
    pub fn s3(key: impl Into<String>, bucket: Option<String>) -> Source {
        Source::S3(S3Location {
            key: key.into(),
            bucket,
        })
    }
}

/// An object to read: its key and, optionally, its bucket.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Location {
    /// The object's key; it must lie under the function's prefix.
    #[schemars(
        length(min = 1, max = MAX_S3_KEY_BYTES),
        description = "Must lie under the function's prefix; no '.', '..', '//', leading '/', backslash or control characters; at most 1024 bytes"
    )]
    pub key: String,
    /// The bucket; optional (absent or `null`), and when given it must be the function's
    /// bucket.
    #[schemars(description = "Optional; must be the function's bucket")]
    pub bucket: Option<String>,
}

/// `bucket` before `key`, as the CLI's requests always had them (and no `bucket` when there
/// is none); deserialization keeps the declared order, which its error messages name.
impl Serialize for S3Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("S3Location", 1 + usize::from(self.bucket.is_some()))?;
        if let Some(bucket) = &self.bucket {
            st.serialize_field("bucket", bucket)?;
        }
        st.serialize_field("key", &self.key)?;
        st.end()
    }
}

/// Where the result goes: `"inline"` or `{"s3": {"key"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
#[schemars(description = "Where the result goes: inline in the response, or to S3 under a key")]
pub enum Output {
    /// In the response, base64; 413 `response_too_large` when it does not fit.
    #[schemars(description = "In the response; 413 response_too_large when it does not fit")]
    Inline,
    /// In the function's bucket, under this key.
    #[serde(deserialize_with = "object")]
    #[schemars(description = "In the function's bucket, under this key")]
    S3(S3OutputKey),
}

/// The key a result is written to, in the function's bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3OutputKey {
    /// The key; it must lie under the function's prefix.
    #[schemars(
        length(min = 1, max = MAX_S3_KEY_BYTES),
        description = "Must lie under the function's prefix; no '.', '..', '//', leading '/', backslash or control characters; at most 1024 bytes"
    )]
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_as_the_cli_always_sent() {
        // What the CLI built with `json!` (keys sorted) before these types existed.
        let inline = DiffRequest::inline(b"AB", b"C", "sub");
        let expected = json!({
            "a": {"inline": "QUI="},
            "b": {"inline": "Qw=="},
            "op": "sub",
            "output": "inline",
        });
        assert_eq!(inline.to_json(), serde_json::to_vec(&expected).unwrap());

        let s3 = DiffRequest::s3("bkt", "p/a", "p/b", "sub_sat", "p/diff");
        let expected = json!({
            "a": {"s3": {"key": "p/a", "bucket": "bkt"}},
            "b": {"s3": {"key": "p/b", "bucket": "bkt"}},
            "op": "sub_sat",
            "output": {"s3": {"key": "p/diff"}},
        });
        assert_eq!(s3.to_json(), serde_json::to_vec(&expected).unwrap());
        assert_eq!(s3.output_key(), Some("p/diff"));
        assert_eq!(inline.output_key(), None);

        for r in [inline, s3] {
            assert_eq!(DiffRequest::from_json(&r.to_json()).unwrap(), r);
        }
        let bare = DiffRequest {
            a: Source::s3("k", None),
            b: Source::inline(b""),
            op: None,
            output: None,
        };
        assert_eq!(
            String::from_utf8(bare.to_json()).unwrap(),
            r#"{"a":{"s3":{"key":"k"}},"b":{"inline":""}}"#
        );
        assert_eq!(bare.op_name(), "sub");
    }

    #[test]
    fn framed_requests() {
        let body = DiffRequest::framed_inline(b"AAAA", b"BB", "sub");
        let (r, parts) = DiffRequest::from_framed(&body).unwrap();
        assert_eq!(r.a, Source::Part(0));
        assert_eq!(r.b, Source::Part(1));
        assert_eq!(r.op_name(), "sub");
        assert_eq!(&body[parts[0].clone()], b"AAAA");
        assert_eq!(&body[parts[1].clone()], b"BB");
        // The document as JSON: {"part": i}.
        let json = br#"{"a":{"part":0},"b":{"part":1},"op":"sub","output":"inline"}"#;
        assert_eq!(&body[8..8 + json.len()], json);

        let mixed = DiffRequest {
            a: Source::s3("p/a", None),
            b: Source::Part(0),
            op: None,
            output: None,
        };
        let body = framed::encode(&mixed.to_json(), &[b"B"]);
        let (r, parts) = DiffRequest::from_framed(&body).unwrap();
        assert_eq!(r, mixed);
        assert_eq!(parts.len(), 1);
        assert_eq!(r.part_numbers(), vec![0]);

        let refused = |json: &str, parts: &[&[u8]]| {
            DiffRequest::from_framed(&framed::encode(json.as_bytes(), parts))
                .unwrap_err()
                .to_string()
        };
        assert!(refused(r#"{"a":{"part":1},"b":{"part":0}}"#, &[b"a", b"b"]).contains("in order"));
        assert!(refused(r#"{"a":{"part":0},"b":{"part":0}}"#, &[b"a", b"b"]).contains("in order"));
        assert!(refused(r#"{"a":{"part":0},"b":{"part":1}}"#, &[b"a"]).contains("carries 1"));
        assert!(
            refused(r#"{"a":{"part":0},"b":{"inline":""}}"#, &[b"a", b"b"]).contains("carries 2")
        );
        assert!(refused(r#"{"a":{"part":-1},"b":{"part":0}}"#, &[b"a"])
            .starts_with("framed body: its JSON document: invalid value"));
        assert!(refused(r#"{"a":{"part":0}}"#, &[b"a"]).contains("missing field `b`"));
    }

    #[test]
    fn parsing_rules() {
        let ok = |s: &str| DiffRequest::from_json(s.as_bytes()).unwrap();
        let err = |s: &str| {
            DiffRequest::from_json(s.as_bytes())
                .unwrap_err()
                .to_string()
        };
        let r = ok(
            r#"{"a": {"inline": "AA=="}, "b": {"s3": {"key": "k", "bucket": "b"}}, "op": null, "output": null}"#,
        );
        assert_eq!(r.op, None);
        assert_eq!(r.output, None);
        assert_eq!(r.b, Source::s3("k", Some("b".into())));
        let r =
            ok(r#"{"a": {"inline": "AA=="}, "b": {"inline": ""}, "output": {"s3": {"key": "r"}}}"#);
        assert_eq!(r.output_key(), Some("r"));
        assert_eq!(
            err("[]"),
            "invalid type: sequence, expected a JSON object at line 1 column 0"
        );
        assert!(err(r#"{"a": {"s3": ["k"]}, "b": {"inline": ""}}"#)
            .starts_with("invalid type: sequence, expected a JSON object"));
        assert!(
            err(r#"{"a": {"inline": ""}, "b": {"inline": ""}, "output": {"s3": ["k"]}}"#)
                .starts_with("invalid type: sequence, expected a JSON object")
        );
        assert!(err(r#"{"a": {"inline": ""}, "b": {"inline": ""}} {}"#)
            .starts_with("trailing characters"));
        assert!(err(r#"{"a": {"inline": ""}, "b": {"inline": ""}, "c": 1}"#)
            .starts_with("unknown field `c`, expected one of `a`, `b`, `op`, `output`"));
        assert!(
            err(r#"{"a": {"s3": {"key": "k", "x": 1}}, "b": {"inline": ""}}"#)
                .starts_with("unknown field `x`, expected `key` or `bucket`")
        );
        assert!(
            err(r#"{"a": {"inline": ""}, "a": {"inline": ""}, "b": {"inline": ""}}"#)
                .starts_with("duplicate field `a`")
        );
        assert!(err(r#"{"a": {"ftp": ""}, "b": {"inline": ""}}"#)
            .starts_with("unknown variant `ftp`, expected one of `inline`, `s3`, `part`"));
        assert!(
            err(r#"{"a": {"inline": ""}, "b": {"inline": ""}, "op": 1}"#)
                .starts_with("invalid type: integer `1`, expected a string")
        );
        assert!(err(r#"{"a": {"inline": ""}, "b": {"inline": ""}, "output": {"s3": {"key": "k", "bucket": "b"}}}"#)
            .starts_with("unknown field `bucket`, expected `key`"));
    }
}
