//! The framed body (`application/vnd.picrypt.framed`, `picrypt_api::framed`) through the
//! handler, in real Function URL events as Lambda delivers a binary body: base64 in the
//! event, `isBase64Encoded: true`. The bad-input battery replays its cases framed too
//! (`tests/battery.rs`); here are the round trips, the content negotiation and the limits.

use base64::Engine;
use lambda_http::{Body, Request, Response};
use picrypt_api::framed::{self, MEDIA_TYPE};
use picrypt_api::limits::MAX_REQUEST_BYTES;
use picrypt_api::{DiffRequest, DiffResponse, ResultLocation};
use picrypt_core::ops::{self, Op};
use picrypt_core::{verify, Image, Key, Scheme};
use picrypt_function::{handle, App, Config};
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");

/// A `POST /diff` event whose body travels base64-encoded, as Lambda sends a binary body.
fn event(content_type: &str, accept: Option<&str>, body: &[u8]) -> Request {
    let mut v: Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["headers"]["content-type"] = json!(content_type);
    if let Some(accept) = accept {
        v["headers"]["accept"] = json!(accept);
    }
    v["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    v["isBase64Encoded"] = json!(true);
    lambda_http::request::from_str(&v.to_string()).expect("lambda_http parses the event")
}

fn app() -> App {
    App {
        config: Config::default(),
        s3: None,
    }
}

fn content_type(r: &Response<Body>) -> &str {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn error_code(r: &Response<Body>) -> (u16, String, String) {
    assert_eq!(content_type(r), "application/json");
    let v: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    (
        r.status().as_u16(),
        v["error"]["code"].as_str().unwrap().to_string(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

fn image(w: u32, h: u32, seed: u8) -> Image {
    let data = (0..w as usize * h as usize * 3)
        .map(|i| (i as u8).wrapping_mul(29) ^ seed.wrapping_mul((i >> 4) as u8))
        .collect();
    Image::new(w, h, 3, data).unwrap()
}

struct Pair {
    key: Key,
    ca: Vec<u8>,
    cb: Vec<u8>,
}

fn pair(w: u32, h: u32) -> Pair {
    let key = Key::generate(Scheme::MASK).unwrap();
    let ca = key.encrypt(&image(w, h, 1)).unwrap().to_bytes();
    let cb = key.encrypt(&image(w, h, 77)).unwrap().to_bytes();
    Pair { key, ca, cb }
}

/// The result is A − B of the pair, byte for byte what core computes, and decrypts.
fn check(p: &Pair, result: &[u8]) {
    assert_eq!(result, ops::apply_bytes(Op::Sub, &p.ca, &p.cb).unwrap());
    let checked = verify::check_result(Op::Sub, &p.ca, &p.cb, result).unwrap();
    checked.decrypt(&p.key).unwrap();
}

#[tokio::test]
async fn framed_request_framed_answer() {
    let p = pair(31, 17);
    let body = DiffRequest::framed_inline(&p.ca, &p.cb, "sub");
    let r = handle(&app(), event(MEDIA_TYPE, Some(MEDIA_TYPE), &body)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(content_type(&r), MEDIA_TYPE);
    let bytes: &[u8] = r.body().as_ref();
    let (response, part) = DiffResponse::from_framed(bytes).unwrap();
    assert_eq!(response.result, ResultLocation::Part(0));
    assert_eq!(response.bytes, part.len());
    assert_eq!((response.width, response.height), (31, 17));
    check(&p, &bytes[part]);
}

/// The answer's form follows `Accept`, whatever the request's form: a JSON request may ask
/// for a framed answer, a framed request without `Accept` gets JSON, as every client
/// before framed bodies expects.
#[tokio::test]
async fn the_answer_follows_accept() {
    let p = pair(8, 8);
    let framed_body = DiffRequest::framed_inline(&p.ca, &p.cb, "sub");
    let json_body = DiffRequest::inline(&p.ca, &p.cb, "sub").to_json();
    for (ct, accept, body, want_framed) in [
        (MEDIA_TYPE, None, &framed_body, false),
        (MEDIA_TYPE, Some("application/json"), &framed_body, false),
        (
            MEDIA_TYPE,
            Some("application/vnd.picrypt.framed;q=0"),
            &framed_body,
            false,
        ),
        ("application/json", Some(MEDIA_TYPE), &json_body, true),
        (
            "application/json",
            Some("text/html, application/vnd.picrypt.framed;q=0.5"),
            &json_body,
            true,
        ),
        ("application/json", None, &json_body, false),
    ] {
        let r = handle(&app(), event(ct, accept, body)).await;
        assert_eq!(r.status(), 200, "{ct} {accept:?}");
        let bytes: &[u8] = r.body().as_ref();
        let result = if want_framed {
            assert_eq!(content_type(&r), MEDIA_TYPE, "{ct} {accept:?}");
            let (_, part) = DiffResponse::from_framed(bytes).unwrap();
            bytes[part].to_vec()
        } else {
            assert_eq!(content_type(&r), "application/json", "{ct} {accept:?}");
            let response: DiffResponse = serde_json::from_slice(bytes).unwrap();
            let ResultLocation::Inline(text) = response.result else {
                panic!("not inline")
            };
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap()
        };
        check(&p, &result);
    }
}

/// Framing errors are `400 bad_request`, a bad document inside is `400 bad_json`, and a
/// `{"part": i}` source in a JSON body is refused: parts exist only in framed bodies.
#[tokio::test]
async fn framing_errors() {
    let p = pair(4, 4);
    let good = DiffRequest::framed_inline(&p.ca, &p.cb, "sub");
    let send = |body: Vec<u8>| async move {
        error_code(&handle(&app(), event(MEDIA_TYPE, None, &body)).await)
    };

    let mut bad = good.clone();
    bad[0] = b'J';
    let (status, code, message) = send(bad).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"), "{message}");
    assert!(message.contains("magic"), "{message}");

    let (status, code, message) = send(good[..good.len() - 1].to_vec()).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message.contains("part 1 declares"), "{message}");

    let (status, code, message) = send(framed::encode(
        br#"{"a":{"part":0},"b":{"part":1}"#,
        &[&p.ca, &p.cb],
    ))
    .await;
    assert_eq!((status, code.as_str()), (400, "bad_json"), "{message}");

    let (status, code, message) = send(framed::encode(
        br#"{"a":{"part":1},"b":{"part":0}}"#,
        &[&p.ca, &p.cb],
    ))
    .await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message.contains("in order"), "{message}");

    let (status, code, _) = send(framed::encode(
        br#"{"a":{"part":0},"b":{"part":1}}"#,
        &[&p.ca, &p.cb[..10]],
    ))
    .await;
    assert_eq!((status, code.as_str()), (400, "bad_container"));

    let json_with_part = br#"{"a":{"part":0},"b":{"part":1}}"#;
    let r = handle(&app(), event("application/json", None, json_with_part)).await;
    let (status, code, message) = error_code(&r);
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(message.contains("framed body"), "{message}");

    let r = handle(&app(), event("application/octet-stream", None, &good)).await;
    let (status, code, message) = error_code(&r);
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
    assert!(message.contains(MEDIA_TYPE), "{message}");
}

/// A framed body is limited by its base64 form, which is what Lambda's event carries: it
/// carries as much as a JSON body, not a third more.
#[tokio::test]
async fn the_size_limit_counts_base64() {
    let max = MAX_REQUEST_BYTES / 4 * 3;
    let doc = br#"{"a":{"part":0},"b":{"part":1}}"#;
    let overhead = 8 + doc.len() + 16;
    let a = vec![0u8; (max - overhead) / 2];
    let b = vec![0u8; max - overhead - a.len()];
    let at_limit = framed::encode(doc, &[&a, &b]);
    assert_eq!(at_limit.len(), max);
    // Within the limit: read, then refused for what it holds, not for its size.
    let (status, code, _) = error_code(&handle(&app(), event(MEDIA_TYPE, None, &at_limit)).await);
    assert_eq!((status, code.as_str()), (400, "bad_container"));
    let b = vec![0u8; b.len() + 1];
    let over = framed::encode(doc, &[&a, &b]);
    let (status, code, message) = error_code(&handle(&app(), event(MEDIA_TYPE, None, &over)).await);
    assert_eq!((status, code.as_str()), (413, "request_too_large"));
    assert!(message.contains("as base64"), "{message}");
}

/// The seed pair's size (1005×642 RGB) fits one framed request, as it fits one JSON
/// request, and its framed answer is a quarter smaller than the JSON one.
#[tokio::test]
async fn demo_size_pair_fits_framed() {
    let p = pair(1005, 642);
    let framed_body = DiffRequest::framed_inline(&p.ca, &p.cb, "sub");
    let json_body = DiffRequest::inline(&p.ca, &p.cb, "sub").to_json();
    assert!(framed_body.len() * 4 < json_body.len() * 3 + 4096);
    let r = handle(&app(), event(MEDIA_TYPE, Some(MEDIA_TYPE), &framed_body)).await;
    assert_eq!(r.status(), 200);
    let framed_answer: &[u8] = r.body().as_ref();
    let (_, part) = DiffResponse::from_framed(framed_answer).unwrap();
    check(&p, &framed_answer[part]);
    let r = handle(&app(), event("application/json", None, &json_body)).await;
    let json_answer: &[u8] = r.body().as_ref();
    assert!(framed_answer.len() * 4 < json_answer.len() * 3 + 4096);
}
