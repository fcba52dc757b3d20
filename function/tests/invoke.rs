//! The function's entry point (`invoke`) called the way the Lambda runtime calls it: with
//! the payload as the text Lambda sent. A Function URL event gets an HTTP answer; a diff
//! request document (a direct invocation: `aws lambda invoke`, Step Functions,
//! `picrypt --function-name`) gets the answer document, a refusal with its status in
//! `error.status`; anything else a specific error. Never a failed invocation.
//! S3 sources and outputs run against a real S3-protocol server (moto).

use base64::Engine;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use picrypt_core::ops::Op;
use picrypt_core::{verify, Image, Key, Scheme};
use picrypt_function::{invoke, Answer, App, Config};
use picrypt_testkit::S3Server;
use serde_json::value::RawValue;
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");
const APIGW_REST_V1: &str = include_str!("events/apigw_rest_v1.json");
const REQUEST_ID: &str = "0d2c5c1e-3f8e-4d8e-b1a2-6c7d8e9f0a1b";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A payload as the runtime hands it over, with a Lambda request id.
fn event(payload: &str) -> LambdaEvent<Box<RawValue>> {
    let mut context = Context::default();
    context.request_id = REQUEST_ID.into();
    LambdaEvent::new(RawValue::from_string(payload.into()).unwrap(), context)
}

fn app() -> App {
    App {
        config: Config::default(),
        s3: None,
    }
}

/// The payload the runtime sends back for an answer.
fn sent(answer: &Answer) -> Value {
    serde_json::to_value(answer).unwrap()
}

struct Pair {
    key: Key,
    a: Image,
    b: Image,
    ca: Vec<u8>,
    cb: Vec<u8>,
}

fn pair(w: u32, h: u32) -> Pair {
    let image = |seed: u8| {
        let data = (0..w as usize * h as usize * 3)
            .map(|i| (i as u8).wrapping_mul(29) ^ seed)
            .collect();
        Image::new(w, h, 3, data).unwrap()
    };
    let key = Key::generate(Scheme::MASK).unwrap();
    let (a, b) = (image(3), image(200));
    let ca = key.encrypt(&a).unwrap().to_bytes();
    let cb = key.encrypt(&b).unwrap().to_bytes();
    Pair { key, a, b, ca, cb }
}

impl Pair {
    /// Checks a result container against the inputs and decrypts it to A − B.
    fn check(&self, result: &[u8]) {
        let checked = verify::check_result(Op::Sub, &self.ca, &self.cb, result).unwrap();
        let expected: Vec<i16> = (self.a.data().iter().zip(self.b.data()))
            .map(|(&x, &y)| x as i16 - y as i16)
            .collect();
        assert_eq!(checked.decrypt(&self.key).unwrap().values(), expected);
    }
}

fn unb64(v: &Value) -> Vec<u8> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn a_request_document_is_answered_with_the_diff_document() {
    let p = pair(9, 7);
    let doc = json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&p.cb)}, "op": "sub"});
    let answer = invoke(&app(), event(&doc.to_string())).await;
    let Answer::Direct(text) = &answer else {
        panic!("an HTTP answer to a direct invocation: {answer:?}");
    };
    assert_eq!(answer.status(), 200);
    // What the runtime sends is the document itself, not a wrapper around it.
    let v = sent(&answer);
    assert_eq!(v, serde_json::from_str::<Value>(text.get()).unwrap());
    assert_eq!(
        (v["scheme"].as_str(), v["op"].as_str(), v["width"].as_u64()),
        (Some("mask"), Some("sub"), Some(9))
    );
    assert_eq!(v["request_id"], REQUEST_ID);
    assert!(v.get("error").is_none() && v.get("status").is_none(), "{v}");
    p.check(&unb64(&v["result"]["inline"]));

    // Without a Lambda request id (an emulator, another caller) the function makes one.
    let mut e = event(&doc.to_string());
    e.context.request_id.clear();
    let v = sent(&invoke(&app(), e).await);
    assert_eq!(v["request_id"].as_str().map(str::len), Some(32), "{v}");
}

#[tokio::test]
async fn refusals_carry_their_status_in_the_document() {
    let p = pair(4, 3);
    let q = pair(4, 3);
    for (doc, status, code, mentions) in [
        (
            json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&q.cb)}}),
            422,
            "key_mismatch",
            "key",
        ),
        (
            json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&p.cb)}, "op": "add"}),
            400,
            "unknown_op",
            "add",
        ),
        (
            json!({"a": {"inline": "!!"}, "b": {"inline": b64(&p.cb)}}),
            400,
            "bad_base64",
            "A",
        ),
        (
            json!({"a": {"inline": b64(&p.ca)}, "b": {"s3": {"key": "picrypt/b"}}}),
            400,
            "s3_not_configured",
            "bucket",
        ),
        (
            json!({"a": {"part": 0}, "b": {"inline": b64(&p.cb)}}),
            400,
            "bad_request",
            "framed",
        ),
        (
            json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&p.cb)}, "opp": "sub"}),
            400,
            "bad_json",
            "opp",
        ),
    ] {
        let answer = invoke(&app(), event(&doc.to_string())).await;
        assert!(matches!(answer, Answer::Direct(_)), "{answer:?}");
        assert_eq!(answer.status(), status);
        let v = sent(&answer);
        let error = v["error"].as_object().unwrap_or_else(|| panic!("{v}"));
        assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
        assert_eq!(
            (error["code"].as_str(), error["status"].as_u64()),
            (Some(code), Some(status.into())),
            "{v}"
        );
        assert_eq!(error["request_id"], REQUEST_ID);
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{code}: {message}");
    }
}

#[tokio::test]
async fn payloads_that_are_neither_get_a_specific_error() {
    for payload in [
        "[]",
        "\"diff\"",
        "null",
        "42",
        "true",
        "{}",
        r#"{"input": {"a": 1}}"#,
    ] {
        let v = sent(&invoke(&app(), event(payload)).await);
        assert_eq!(v["error"]["code"], "bad_json", "{payload}: {v}");
        assert_eq!(v["error"]["status"], 400, "{payload}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("neither a diff request") && message.contains("requestContext.http"),
            "{payload}: {message}"
        );
    }
    // HTTP events of other kinds are named as such, not parsed as requests.
    let alb = r#"{"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/0"}}, "httpMethod": "POST", "path": "/diff", "body": "", "isBase64Encoded": false}"#;
    for payload in [APIGW_REST_V1, alb] {
        let answer = invoke(&app(), event(payload)).await;
        assert_eq!(answer.status(), 400);
        let v = sent(&answer);
        assert_eq!(v["error"]["code"], "bad_request", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("API Gateway REST"),
            "{v}"
        );
    }
    // An event that claims to be HTTP (requestContext.http) but is not one lambda_http
    // reads gets an HTTP answer, as a Function URL would relay it.
    let broken = r#"{"requestContext": {"http": {"method": 7}}, "rawPath": "/diff"}"#;
    let answer = invoke(&app(), event(broken)).await;
    let v = sent(&answer);
    assert_eq!(v["statusCode"], 400, "{v}");
    let body: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert_eq!(body["error"]["request_id"], REQUEST_ID);
}

#[tokio::test]
async fn function_url_events_still_get_http_answers() {
    let p = pair(6, 5);
    let mut v: Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["body"] =
        json!(json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&p.cb)}}).to_string());
    let answer = invoke(&app(), event(&v.to_string())).await;
    assert!(matches!(answer, Answer::Http(_)), "{answer:?}");
    let sent = sent(&answer);
    // The payload format 2.0 response, as lambda_http writes it.
    assert_eq!(sent["statusCode"], 200, "{sent}");
    assert_eq!(sent["isBase64Encoded"], false);
    assert_eq!(sent["headers"]["content-type"], "application/json");
    // The Lambda request id wins over the URL's, as under lambda_http::run.
    assert_eq!(sent["headers"]["x-request-id"], REQUEST_ID);
    let body: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    p.check(&unb64(&body["result"]["inline"]));

    // A framed answer travels base64-encoded in the event's answer.
    v["headers"]["content-type"] = json!(picrypt_api::framed::MEDIA_TYPE);
    v["headers"]["accept"] = json!(picrypt_api::framed::MEDIA_TYPE);
    v["body"] = json!(b64(&picrypt_api::DiffRequest::framed_inline(
        &p.ca, &p.cb, "sub"
    )));
    v["isBase64Encoded"] = json!(true);
    let sent = self::sent(&invoke(&app(), event(&v.to_string())).await);
    assert_eq!(sent["statusCode"], 200, "{sent}");
    assert_eq!(sent["isBase64Encoded"], true);
    let body = unb64(&sent["body"]);
    let (_, part) = picrypt_api::DiffResponse::from_framed(&body).unwrap();
    p.check(&body[part]);

    // GET /health, and a 405 with its Allow header.
    v["requestContext"]["http"]["method"] = json!("GET");
    v["rawPath"] = json!("/health");
    let sent = self::sent(&invoke(&app(), event(&v.to_string())).await);
    assert_eq!(sent["statusCode"], 200, "{sent}");
    assert!(sent["body"].as_str().unwrap().contains("picrypt-function"));
    v["rawPath"] = json!("/diff");
    let sent = self::sent(&invoke(&app(), event(&v.to_string())).await);
    assert_eq!(sent["statusCode"], 405, "{sent}");
    assert_eq!(sent["headers"]["allow"], "POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sources_and_output_by_direct_invocation() {
    let server = S3Server::start();
    let bucket = server.bucket("picrypt-invoke").await;
    let app = App {
        config: Config {
            bucket: Some(bucket.clone()),
            prefix: "picrypt/".into(),
            max_object_bytes: Config::DEFAULT_MAX_OBJECT_BYTES,
        },
        s3: Some(server.client()),
    };
    let p = pair(8, 8);
    server
        .put(&bucket, "picrypt/frames/1.picrypt", p.ca.clone())
        .await;
    server
        .put(&bucket, "picrypt/frames/2.picrypt", p.cb.clone())
        .await;
    // What the Step Functions state machine sends for one manifest item.
    let doc = json!({
        "a": {"s3": {"key": "picrypt/frames/1.picrypt"}},
        "b": {"s3": {"key": "picrypt/frames/2.picrypt"}},
        "op": "sub",
        "output": {"s3": {"key": "picrypt/jobs/j1/results/0.picrypt"}},
    });
    let v = sent(&invoke(&app, event(&doc.to_string())).await);
    assert_eq!(
        v["result"],
        json!({"s3": {"bucket": bucket, "key": "picrypt/jobs/j1/results/0.picrypt"}}),
        "{v}"
    );
    let stored = server
        .client()
        .get_object()
        .bucket(&bucket)
        .key("picrypt/jobs/j1/results/0.picrypt")
        .send()
        .await
        .expect("the result is in S3")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(v["bytes"].as_u64(), Some(stored.len() as u64));
    p.check(&stored);

    // A missing input and a key outside the prefix: refused, with their statuses.
    for (doc, status, code) in [
        (
            json!({"a": {"s3": {"key": "picrypt/frames/none.picrypt"}}, "b": {"s3": {"key": "picrypt/frames/2.picrypt"}}}),
            404,
            "object_not_found",
        ),
        (
            json!({"a": {"s3": {"key": "picrypt/frames/1.picrypt"}}, "b": {"s3": {"key": "picrypt/frames/2.picrypt"}}, "output": {"s3": {"key": "elsewhere/x.picrypt"}}}),
            403,
            "key_forbidden",
        ),
    ] {
        let v = sent(&invoke(&app, event(&doc.to_string())).await);
        assert_eq!(
            (v["error"]["code"].as_str(), v["error"]["status"].as_u64()),
            (Some(code), Some(status)),
            "{v}"
        );
    }
}
