//! The OpenAPI 3.1 document, generated from this crate's types.
//!
//! The schemas come from the request, response and error types (`schemars`, JSON Schema
//! 2020-12, which OpenAPI 3.1 takes as it is); the `paths` are written here from
//! [`Endpoint::ALL`] and the statuses of [`ErrorCode::ALL`]. The generated text is committed
//! as `api/openapi.json` and served from there ([`JSON`]); `api/tests/openapi.rs` fails when
//! the two differ. Regenerate it with
//!
//! ```sh
//! cargo run -p picrypt-api --example openapi > api/openapi.json
//! ```

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::framed::{MAX_JSON_BYTES, MEDIA_TYPE};
use crate::limits::MAX_REQUEST_BYTES;
use crate::{DiffRequest, DiffResponse, Endpoint, ErrorBody, ErrorCode, Health};

/// The committed document (`api/openapi.json`), which the function serves at
/// `GET /openapi.json`: the reviewed bytes, with no generation at run time. A test keeps it
/// equal to [`document_json`].
pub const JSON: &str = include_str!("../openapi.json");

/// The command that regenerates the committed document.
pub const REGENERATE: &str = "cargo run -p picrypt-api --example openapi > api/openapi.json";

/// The document, generated from the types.
pub fn document() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas/".into();
            s.meta_schema = None;
        })
        .into_generator();
    let request = generator.subschema_for::<DiffRequest>();
    let response = generator.subschema_for::<DiffResponse>();
    let health = generator.subschema_for::<Health>();
    let error = generator.subschema_for::<ErrorBody>();
    let schemas = generator.take_definitions(true);

    let mut paths = Map::new();
    for endpoint in Endpoint::ALL {
        let (summary, ok) = match endpoint {
            Endpoint::Diff => (
                "Homomorphic A − B of two ciphertexts",
                json!({
                    "description": "The encrypted difference, inline or in S3",
                    "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
                    "content": {
                        "application/json": {"schema": response},
                        (MEDIA_TYPE): framed_content(FRAMED_ANSWER),
                    },
                }),
            ),
            Endpoint::Health => (
                "Version and supported schemes",
                json!({
                    "description": "Healthy",
                    "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
                    "content": {"application/json": {"schema": health}},
                }),
            ),
            Endpoint::OpenApi => (
                "This document",
                json!({
                    "description": "OpenAPI 3.1 document",
                    "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }),
            ),
        };
        let mut responses = Map::new();
        responses.insert("200".into(), ok);
        for (status, codes) in error_statuses(endpoint) {
            responses.insert(status.to_string(), error_response(status, &codes, &error));
        }
        let mut operation = json!({
            "operationId": operation_id(endpoint),
            "summary": summary,
            "responses": responses,
        });
        if endpoint == Endpoint::Diff {
            operation["description"] = json!(format!(
                "The request body is at most {MAX_REQUEST_BYTES} bytes (6 MiB, Lambda's synchronous limit): larger ciphertexts go through S3. The endpoint is the last path segment, so a stage or URL prefix in front of it is fine."
            ));
            operation["requestBody"] = json!({
                "required": true,
                "content": {
                    "application/json": {"schema": request},
                    (MEDIA_TYPE): framed_content(FRAMED_REQUEST),
                },
            });
        }
        let mut item = Map::new();
        item.insert(endpoint.method().to_ascii_lowercase(), operation);
        paths.insert(endpoint.path().into(), Value::Object(item));
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "PICRYPT function",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Subtracts two encrypted images (PICRYPT containers, docs/FORMAT.md) without any key. Requests and responses are at most 6 MB (Lambda's synchronous limit); larger ciphertexts go through S3. Every answer of the handler, errors included, is JSON and carries the request id in x-request-id.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": {
                "RequestId": {
                    "description": "The request id (the Lambda request id under Lambda)",
                    "schema": {"type": "string"},
                },
                "Allow": {
                    "description": "The methods the endpoint answers",
                    "schema": {"type": "string"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer", "minimum": 1},
                },
            },
        },
    })
}

/// The document as committed: pretty-printed, with a final newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("JSON values serialize");
    text.push('\n');
    text
}

const FRAMED_REQUEST: &str = "A DiffRequest whose inline containers travel unencoded: the JSON document, each inline source written {\"part\": i}, then the parts (docs/API.md, \"Framed bodies\"). Its base64 length counts against the 6 MiB limit, as Lambda's event carries it base64-encoded.";
const FRAMED_ANSWER: &str = "Sent when the request's Accept header names this type: the DiffResponse with result {\"part\": 0}, then the result container unencoded (docs/API.md, \"Framed bodies\").";

/// A framed body: bytes, whose layout docs/API.md gives.
fn framed_content(description: &str) -> Value {
    json!({
        "schema": {
            "type": "string",
            "contentMediaType": MEDIA_TYPE,
            "description": format!("{description} Layout: \"PCF1\", u32 LE length J (2..={MAX_JSON_BYTES}), J bytes of JSON, then per part a u64 LE length and the part's bytes; nothing after the last part."),
        },
    })
}

fn operation_id(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Diff => "diff",
        Endpoint::Health => "health",
        Endpoint::OpenApi => "openapi",
    }
}

/// The error statuses an endpoint answers, each with its codes: every code for `POST
/// /diff`, only a wrong method for the others.
fn error_statuses(endpoint: Endpoint) -> BTreeMap<u16, Vec<ErrorCode>> {
    let mut statuses: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in ErrorCode::ALL {
        if endpoint == Endpoint::Diff || code == ErrorCode::MethodNotAllowed {
            statuses.entry(code.status()).or_default().push(code);
        }
    }
    statuses
}

fn error_response(status: u16, codes: &[ErrorCode], error: &schemars::Schema) -> Value {
    let names: Vec<String> = codes.iter().map(|c| c.as_str().to_string()).collect();
    let mut headers = json!({"x-request-id": {"$ref": "#/components/headers/RequestId"}});
    match status {
        405 => headers["Allow"] = json!({"$ref": "#/components/headers/Allow"}),
        503 => headers["Retry-After"] = json!({"$ref": "#/components/headers/RetryAfter"}),
        _ => {}
    }
    json!({
        "description": format!("An error: {}", names.join(", ")),
        "headers": headers,
        "content": {"application/json": {"schema": error}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_in_the_document() {
        let doc = document();
        let codes = &doc["components"]["schemas"]["ErrorCode"];
        let text = codes.to_string();
        for code in ErrorCode::ALL {
            assert!(text.contains(&format!("\"{}\"", code.as_str())), "{code}");
        }
        for endpoint in Endpoint::ALL {
            let op = &doc["paths"][endpoint.path()][endpoint.method().to_ascii_lowercase()];
            assert!(op["responses"]["200"].is_object(), "{endpoint:?}");
            assert!(op["responses"]["405"].is_object(), "{endpoint:?}");
        }
        let diff = &doc["paths"]["/diff"]["post"]["responses"];
        for code in ErrorCode::ALL {
            let r = &diff[code.status().to_string()];
            assert!(
                r["description"].as_str().unwrap().contains(code.as_str()),
                "{code}"
            );
        }
    }
}
