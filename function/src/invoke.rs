//! Every Lambda invocation, whatever its shape: [`invoke`] tells a Function URL or API
//! Gateway HTTP API event (payload format 2.0) from a direct invocation whose payload is a
//! diff request document (the Invoke API: `aws lambda invoke`, Step Functions,
//! `picrypt --function-name`), and answers each in its own shape from the same handler.
//!
//! docs/API.md, "Direct invocation", is the contract: the answer to a direct invocation is
//! the JSON document `POST /diff` answers with, and an error is the same
//! `{"error": {…}}` body with the HTTP status it would have had in `error.status`. Every
//! answer is a successful invocation: a refusal is final, so it must not look like a
//! function error that Lambda's asynchronous invocations, event source mappings or a
//! Step Functions `Retry` on `States.ALL` would send again.

use std::time::Instant;

use bytes::Bytes;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::lambda_runtime::LambdaEvent;
use lambda_http::{Body, RequestExt, Response};
use picrypt_api::{ErrorBody, ErrorCode};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::handler::{self, App};

/// What one invocation answers; the runtime sends it as the invocation's response payload.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// To an HTTP event: the HTTP response, in the payload format 2.0 response shape
    /// (`statusCode`, `headers`, `body`, `isBase64Encoded`).
    Http(Box<ApiGatewayV2httpResponse>),
    /// To a direct invocation: the answer document, as JSON text.
    Direct(Box<RawValue>),
}

impl Answer {
    /// The status the answer carries: the HTTP status of an HTTP answer, and for a direct
    /// one 200 or its `error.status`.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Http(r) => u16::try_from(r.status_code).unwrap_or(500),
            Answer::Direct(doc) => serde_json::from_str::<ErrorBody>(doc.get())
                .ok()
                .and_then(|e| e.error.status)
                .unwrap_or(200),
        }
    }
}

/// Handles one invocation. An event whose `requestContext` has `http` (a Function URL or
/// an HTTP API with payload format 2.0) goes through [`handler::handle`] and gets an HTTP
/// answer; any other payload is a direct invocation. Never panics on input and never
/// fails the invocation.
pub async fn invoke(app: &App, event: LambdaEvent<Box<RawValue>>) -> Answer {
    let started = Instant::now();
    let LambdaEvent { payload, context } = event;
    match Shape::of(payload.get()) {
        Shape::Http => match lambda_http::request::from_str(payload.get()) {
            Ok(request) => {
                let response = handler::handle(app, request.with_lambda_context(context)).await;
                Answer::Http(Box::new(http_answer(response)))
            }
            Err(e) => {
                let request_id = request_id(&context.request_id);
                let e = ApiError::new(
                    ErrorCode::BadRequest,
                    format!("an HTTP event (it has requestContext.http) that is not a Function URL or HTTP API payload format 2.0 event: {e}"),
                );
                log(&request_id, "http", e.status(), started);
                Answer::Http(Box::new(http_answer(handler::error_response(
                    &e,
                    &request_id,
                ))))
            }
        },
        shape => {
            let request_id = request_id(&context.request_id);
            let answer = match shape {
                Shape::OtherHttp => Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "an HTTP event of a kind this function does not take (API Gateway REST payload 1.0, an ALB or a WebSocket event): put it behind its Function URL or an HTTP API with payload format 2.0, or invoke it directly with a diff request document",
                )),
                Shape::Neither(what) => Err(ApiError::new(
                    ErrorCode::BadJson,
                    format!("the payload is {what}: neither a diff request (a JSON object with a, b and op) nor a Function URL or HTTP API event (with requestContext.http)"),
                )),
                _ => {
                    let document = Bytes::from(String::from(Box::<str>::from(payload)));
                    handler::diff_document(app, document, &request_id, started).await
                }
            };
            let (status, text) = match answer {
                Ok(response) => (
                    200,
                    serde_json::to_string(&response).expect("an answer always serializes"),
                ),
                Err(e) => {
                    handler::log_failure(&e, &request_id);
                    let body = ErrorBody::for_invocation(e.code, e.message, &request_id);
                    (e.code.status(), body.to_json())
                }
            };
            log(&request_id, "direct", status, started);
            Answer::Direct(RawValue::from_string(text).expect("serde_json wrote JSON"))
        }
    }
}

/// The Lambda request id, or a random one when there is none (an emulator, a test).
fn request_id(lambda: &str) -> String {
    if lambda.is_empty() {
        handler::random_request_id()
    } else {
        lambda.to_string()
    }
}

fn log(request_id: &str, shape: &str, status: u16, started: Instant) {
    tracing::info!(
        request_id,
        shape,
        status,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "handled"
    );
}

/// An HTTP response in the shape a Function URL and an HTTP API read (what `lambda_http`
/// builds for payload format 2.0; the handler sets no cookies).
fn http_answer(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.is_base64_encoded = matches!(body, Body::Binary(_));
    answer.body = match body {
        Body::Empty => None,
        body => Some(body),
    };
    answer
}

/// What a payload is, told from its top-level members alone (their values are skipped,
/// not parsed, except `requestContext`'s member names).
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    /// `requestContext.http`: a Function URL or HTTP API (payload format 2.0) event.
    Http,
    /// Another HTTP event (`httpMethod`, `rawPath`, `routeKey` or a `requestContext`
    /// without `http`): API Gateway REST, ALB, WebSocket.
    OtherHttp,
    /// An object with a member of a diff request (`a`, `b`, `op`, `output`): parsed as one,
    /// so every mistake in it gets the error `POST /diff` gives it.
    Request,
    /// Anything else, described.
    Neither(&'static str),
}

impl Shape {
    fn of(payload: &str) -> Shape {
        let mut de = serde_json::Deserializer::from_str(payload);
        // The runtime hands over valid JSON only; the fallback is for other callers.
        de::Deserializer::deserialize_any(&mut de, ShapeVisitor)
            .unwrap_or(Shape::Neither("not JSON this function reads"))
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let (mut http, mut other_http, mut request) = (false, false, false);
        while let Some(key) = map.next_key::<String>()? {
            match &*key {
                "requestContext" => {
                    other_http = true;
                    http |= map.next_value::<HasHttp>()?.0;
                    continue;
                }
                "httpMethod" | "rawPath" | "routeKey" => other_http = true,
                "a" | "b" | "op" | "output" => request = true,
                _ => {}
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(if http {
            Shape::Http
        } else if other_http {
            Shape::OtherHttp
        } else if request {
            Shape::Request
        } else {
            Shape::Neither("an object with none of the members of a diff request")
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Neither("an array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Neither("a string"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Neither("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Neither("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Neither("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Neither("a number"))
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Neither("null"))
    }
}

/// Whether a `requestContext` is an object with an `http` member.
struct HasHttp(bool);

impl<'de> de::Deserialize<'de> for HasHttp {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<HasHttp, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HasHttp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HasHttp, A::Error> {
                let mut http = false;
                while let Some(key) = map.next_key::<String>()? {
                    http |= key == "http";
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(HasHttp(http))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<HasHttp, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(HasHttp(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<HasHttp, E> {
                Ok(HasHttp(false))
            }
            fn visit_bool<E>(self, _: bool) -> Result<HasHttp, E> {
                Ok(HasHttp(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<HasHttp, E> {
                Ok(HasHttp(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<HasHttp, E> {
                Ok(HasHttp(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<HasHttp, E> {
                Ok(HasHttp(false))
            }
            fn visit_unit<E>(self) -> Result<HasHttp, E> {
                Ok(HasHttp(false))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let url = include_str!("../tests/events/function_url.json");
        assert_eq!(Shape::of(url), Shape::Http);
        assert_eq!(
            Shape::of(r#"{"a": {"inline": "x"}, "b": {"s3": {"key": "k"}}, "op": "sub"}"#),
            Shape::Request
        );
        // A misspelt request is still a request, so that its error names the mistake.
        assert_eq!(Shape::of(r#"{"a": 1, "opp": "sub"}"#), Shape::Request);
        for other in [
            r#"{"httpMethod": "POST", "path": "/diff", "requestContext": {"stage": "prod"}}"#,
            r#"{"rawPath": "/diff", "a": 1}"#,
            r#"{"requestContext": {"elb": {}}, "a": 1}"#,
            r#"{"requestContext": "http"}"#,
        ] {
            assert_eq!(Shape::of(other), Shape::OtherHttp, "{other}");
        }
        for (payload, what) in [
            ("{}", "an object with none of the members of a diff request"),
            (
                r#"{"x": {"a": 1}}"#,
                "an object with none of the members of a diff request",
            ),
            ("[1, 2]", "an array"),
            (r#""a""#, "a string"),
            ("true", "a boolean"),
            ("-1", "a number"),
            ("1e400", "not JSON this function reads"),
            ("null", "null"),
        ] {
            assert_eq!(Shape::of(payload), Shape::Neither(what), "{payload}");
        }
        // Escaped member names are member names.
        assert_eq!(Shape::of(r#"{"\u0061": 1}"#), Shape::Request);
    }
}
