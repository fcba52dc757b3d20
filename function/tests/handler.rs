//! The handler called the way Lambda calls it: with real Function URL and API Gateway v2
//! event JSON, deserialised by lambda_http itself.

use base64::Engine;
use lambda_http::{Body, Request, Response};
use picrypt_api::limits::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use picrypt_core::ops::{self, Op};
use picrypt_core::{verify, Image, Key, Scheme};
use picrypt_function::{handle, App, Config};
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");
const APIGW_V2: &str = include_str!("events/apigw_v2_stage.json");

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An event from a template with method, path, content type and body replaced.
fn event(
    template: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    base64_body: bool,
) -> Request {
    let mut v: Value = serde_json::from_str(template).unwrap();
    let stage_prefix = match v["requestContext"]["stage"].as_str().unwrap() {
        "$default" => String::new(),
        stage => format!("/{stage}"),
    };
    let full_path = format!("{stage_prefix}{path}");
    v["rawPath"] = json!(full_path);
    v["requestContext"]["http"]["method"] = json!(method);
    v["requestContext"]["http"]["path"] = json!(full_path);
    match content_type {
        Some(ct) => v["headers"]["content-type"] = json!(ct),
        None => {
            v["headers"].as_object_mut().unwrap().remove("content-type");
        }
    }
    if base64_body {
        v["body"] = json!(b64(body.as_bytes()));
        v["isBase64Encoded"] = json!(true);
    } else {
        v["body"] = json!(body);
    }
    lambda_http::request::from_str(&v.to_string()).expect("lambda_http parses the event")
}

fn post(template: &str, body: &str) -> Request {
    event(
        template,
        "POST",
        "/diff",
        Some("application/json"),
        body,
        false,
    )
}

fn app() -> App {
    App {
        config: Config::default(),
        s3: None,
    }
}

fn body_json(r: &Response<Body>) -> Value {
    let bytes: &[u8] = r.body().as_ref();
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

fn image(w: u32, h: u32, c: u8, seed: u8) -> Image {
    let data = (0..w as usize * h as usize * c as usize)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed.wrapping_mul(i as u8 | 1))
        })
        .collect();
    Image::new(w, h, c, data).unwrap()
}

struct Pair {
    key: Key,
    a: Image,
    b: Image,
    ca: Vec<u8>,
    cb: Vec<u8>,
}

fn pair(w: u32, h: u32, c: u8) -> Pair {
    let key = Key::generate(Scheme::MASK).unwrap();
    let (a, b) = (image(w, h, c, 3), image(w, h, c, 200));
    let ca = key.encrypt(&a).unwrap().to_bytes();
    let cb = key.encrypt(&b).unwrap().to_bytes();
    Pair { key, a, b, ca, cb }
}

fn diff_body(a: &[u8], b: &[u8]) -> String {
    json!({"a": {"inline": b64(a)}, "b": {"inline": b64(b)}, "op": "sub"}).to_string()
}

fn check_inline_result(p: &Pair, response: &Value) {
    let encoded = response["result"]["inline"]
        .as_str()
        .expect("inline result");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let checked = verify::check_result(Op::Sub, &p.ca, &p.cb, &bytes).unwrap();
    let pt = checked.decrypt(&p.key).unwrap();
    let expected: Vec<i16> =
        p.a.data()
            .iter()
            .zip(p.b.data())
            .map(|(&x, &y)| x as i16 - y as i16)
            .collect();
    assert_eq!(pt.values(), expected);
    assert_eq!(response["bytes"].as_u64().unwrap() as usize, bytes.len());
    assert!(response.get("warning").is_none(), "{response}");
}

#[tokio::test]
async fn function_url_event_subtracts_inline() {
    let p = pair(17, 13, 3);
    let r = handle(&app(), post(FUNCTION_URL, &diff_body(&p.ca, &p.cb))).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.headers()["x-request-id"],
        "7f1c2a9e-5b3d-4c8e-9a0f-1e2d3c4b5a69"
    );
    let v = body_json(&r);
    assert_eq!(
        (
            v["scheme"].as_str(),
            v["width"].as_u64(),
            v["height"].as_u64(),
            v["channels"].as_u64()
        ),
        (Some("mask"), Some(17), Some(13), Some(3))
    );
    assert!(v["server_ms"].as_f64().unwrap() >= 0.0);
    for t in [
        "decode_ms",
        "fetch_ms",
        "compute_ms",
        "encode_ms",
        "store_ms",
    ] {
        assert!(v["timing"][t].is_number(), "{t}");
    }
    check_inline_result(&p, &v);
}

#[tokio::test]
async fn apigw_v2_event_with_stage_and_base64_body() {
    let p = pair(5, 4, 1);
    let body = json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&p.cb)}}).to_string();
    let req = event(
        APIGW_V2,
        "POST",
        "/diff",
        Some("application/json; charset=utf-8"),
        &body,
        true,
    );
    let r = handle(&app(), req).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(r.headers()["x-request-id"], "Ab1CdEfGhIjKlMn=");
    check_inline_result(&p, &body_json(&r));
}

#[tokio::test]
async fn health_and_openapi() {
    for template in [FUNCTION_URL, APIGW_V2] {
        let r = handle(&app(), event(template, "GET", "/health", None, "", false)).await;
        assert_eq!(r.status(), 200);
        let v = body_json(&r);
        assert_eq!(v["status"], "ok");
        assert!(v["schemes"].as_array().unwrap().contains(&json!("mask")));
        let r = handle(
            &app(),
            event(template, "GET", "/openapi.json", None, "", false),
        )
        .await;
        assert_eq!(r.status(), 200);
        let doc = body_json(&r);
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/diff"]["post"].is_object());
    }
}

/// The original project's demo pair is 1005×642 RGB: with 9-bit packing both ciphertexts
/// fit one 6 MB request, and the result fits the response.
#[tokio::test]
async fn demo_size_pair_fits_one_request() {
    let p = pair(1005, 642, 3);
    let body = diff_body(&p.ca, &p.cb);
    assert!(
        body.len() < MAX_REQUEST_BYTES,
        "request is {} bytes",
        body.len()
    );
    assert!(body.len() > 5_700_000, "request is {} bytes", body.len());
    let r = handle(&app(), post(FUNCTION_URL, &body)).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let response_len = AsRef::<[u8]>::as_ref(r.body()).len();
    assert!(response_len < MAX_RESPONSE_BYTES);
    check_inline_result(&p, &body_json(&r));
}

/// Every bad request gets its documented status and code as JSON, and the handler keeps
/// serving afterwards.
#[tokio::test]
async fn bad_requests_get_their_status_and_code() {
    let app = app();
    let p = pair(6, 5, 3);
    let other = pair(6, 5, 3);
    let small = pair(6, 4, 3);
    let d = ops::apply_bytes(Op::Sub, &p.ca, &p.cb).unwrap();
    let mut bad_magic = p.ca.clone();
    bad_magic[0] ^= 1;
    let mut flipped_header = p.ca.clone();
    flipped_header[13] ^= 0x80;
    let deep = "[".repeat(100_000);
    let inline = |x: &[u8]| json!({"inline": b64(x)});
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("not JSON", "{".into(), 400, "bad_json"),
        ("empty body", "".into(), 400, "bad_json"),
        ("JSON array", "[]".into(), 400, "bad_json"),
        ("null", "null".into(), 400, "bad_json"),
        ("deep nesting", deep, 400, "bad_json"),
        (
            "wrong types",
            r#"{"a": 1, "b": true}"#.into(),
            400,
            "bad_json",
        ),
        (
            "inline not a string",
            r#"{"a": {"inline": 5}, "b": {"inline": "AA=="}}"#.into(),
            400,
            "bad_json",
        ),
        (
            "missing b",
            json!({"a": inline(&p.ca)}).to_string(),
            400,
            "bad_json",
        ),
        (
            "unknown field",
            json!({"a": inline(&p.ca), "b": inline(&p.cb), "key": "x"}).to_string(),
            400,
            "bad_json",
        ),
        (
            "huge number op",
            json!({"a": inline(&p.ca), "b": inline(&p.cb), "op": 1e308}).to_string(),
            400,
            "bad_json",
        ),
        (
            "unknown op",
            json!({"a": inline(&p.ca), "b": inline(&p.cb), "op": "mul"}).to_string(),
            400,
            "unknown_op",
        ),
        (
            "invalid base64",
            json!({"a": {"inline": "!!!not base64"}, "b": inline(&p.cb)}).to_string(),
            400,
            "bad_base64",
        ),
        (
            "empty container",
            json!({"a": {"inline": ""}, "b": inline(&p.cb)}).to_string(),
            400,
            "bad_container",
        ),
        (
            "truncated",
            json!({"a": inline(&p.ca[..p.ca.len() - 1]), "b": inline(&p.cb)}).to_string(),
            400,
            "bad_container",
        ),
        (
            "bad magic",
            json!({"a": inline(&bad_magic), "b": inline(&p.cb)}).to_string(),
            400,
            "bad_container",
        ),
        (
            "huge width",
            json!({"a": inline(&flipped_header), "b": inline(&p.cb)}).to_string(),
            400,
            "bad_container",
        ),
        (
            "key mismatch",
            json!({"a": inline(&p.ca), "b": inline(&other.cb)}).to_string(),
            422,
            "key_mismatch",
        ),
        (
            "shape mismatch",
            json!({"a": inline(&p.ca), "b": inline(&small.cb)}).to_string(),
            422,
            "key_mismatch",
        ),
        (
            "range overflow",
            json!({"a": inline(&d), "b": inline(&p.cb)}).to_string(),
            422,
            "range_overflow",
        ),
        (
            "s3 without bucket",
            json!({"a": {"s3": {"key": "k"}}, "b": inline(&p.cb)}).to_string(),
            400,
            "s3_not_configured",
        ),
        (
            "s3 output without bucket",
            json!({"a": inline(&p.ca), "b": inline(&p.cb), "output": {"s3": {"key": "r"}}})
                .to_string(),
            400,
            "s3_not_configured",
        ),
        (
            "oversized",
            "x".repeat(MAX_REQUEST_BYTES + 1),
            413,
            "request_too_large",
        ),
    ];
    for (name, body, status, code) in cases {
        let r = handle(&app, post(FUNCTION_URL, &body)).await;
        let v = body_json(&r);
        assert_eq!(r.status().as_u16(), status, "{name}: {v}");
        assert_eq!(v["error"]["code"], code, "{name}: {v}");
        assert!(
            !v["error"]["message"].as_str().unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            v["error"]["request_id"], "7f1c2a9e-5b3d-4c8e-9a0f-1e2d3c4b5a69",
            "{name}"
        );
    }
    // Same key, different shape.
    let shaped = pair(6, 4, 3);
    let ca2 = p.key.encrypt(&shaped.a).unwrap().to_bytes();
    let r = handle(&app, post(FUNCTION_URL, &diff_body(&p.ca, &ca2))).await;
    assert_eq!(
        (r.status().as_u16(), body_json(&r)["error"]["code"].clone()),
        (422, json!("shape_mismatch"))
    );
    assert!(body_json(&r)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("height 5 vs 4"));

    let method_cases = [
        ("GET", "/diff", 405, "method_not_allowed"),
        ("PUT", "/diff", 405, "method_not_allowed"),
        ("POST", "/health", 405, "method_not_allowed"),
        ("DELETE", "/openapi.json", 405, "method_not_allowed"),
        ("POST", "/", 405, "method_not_allowed"), // GET / is the page (tests/page.rs)
        ("GET", "/admin", 404, "not_found"),
        ("POST", "/admin", 404, "not_found"),
    ];
    for (method, path, status, code) in method_cases {
        let r = handle(&app, event(FUNCTION_URL, method, path, None, "", false)).await;
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        assert_eq!(body_json(&r)["error"]["code"], code);
        if status == 405 {
            assert!(r.headers().contains_key("allow"));
        }
    }
    let r = handle(
        &app,
        event(
            FUNCTION_URL,
            "POST",
            "/diff",
            Some("text/plain"),
            &diff_body(&p.ca, &p.cb),
            false,
        ),
    )
    .await;
    assert_eq!(
        (r.status().as_u16(), body_json(&r)["error"]["code"].clone()),
        (415, json!("unsupported_media_type"))
    );

    // Still serving.
    let r = handle(&app, post(FUNCTION_URL, &diff_body(&p.ca, &p.cb))).await;
    assert_eq!(r.status(), 200);
}

/// The legacy scheme through the handler: cv2.subtract semantics with `sub_sat`, and the
/// advice when `sub_sat` meets masked samples.
#[tokio::test]
async fn shuffle_sub_sat_and_refusal_on_mask() {
    use picrypt_core::scheme::shuffle::Variant;
    let key = Key::shuffle_legacy(31337, Variant::Rand).unwrap();
    let (a, b) = (image(7, 6, 3, 5), image(7, 6, 3, 77));
    let ca = key.encrypt_insecure_legacy(&a).unwrap().to_bytes();
    let cb = key.encrypt_insecure_legacy(&b).unwrap().to_bytes();
    let body =
        json!({"a": {"inline": b64(&ca)}, "b": {"inline": b64(&cb)}, "op": "sub_sat"}).to_string();
    let r = handle(&app(), post(FUNCTION_URL, &body)).await;
    let v = body_json(&r);
    assert_eq!(r.status(), 200, "{v}");
    assert_eq!(
        (v["scheme"].as_str(), v["op"].as_str()),
        (Some("shuffle"), Some("sub_sat"))
    );
    // The answer says the scheme is not secure (and only for this scheme).
    assert!(
        v["warning"]
            .as_str()
            .is_some_and(|w| w.contains("NOT secure")),
        "{v}"
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["result"]["inline"].as_str().unwrap())
        .unwrap();
    let plain = verify::check_result(Op::SubSat, &ca, &cb, &bytes)
        .unwrap()
        .decrypt(&key)
        .unwrap()
        .to_image()
        .unwrap();
    let cv2: Vec<u8> = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x.saturating_sub(y))
        .collect();
    assert_eq!(plain.data(), cv2);

    let p = pair(4, 4, 1);
    let body = json!({"a": {"inline": b64(&p.ca)}, "b": {"inline": b64(&p.cb)}, "op": "sub_sat"})
        .to_string();
    let r = handle(&app(), post(FUNCTION_URL, &body)).await;
    let v = body_json(&r);
    assert_eq!(
        (r.status().as_u16(), v["error"]["code"].as_str()),
        (422, Some("unsupported_op"))
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--render saturate"));
    let mixed = json!({"a": {"inline": b64(&ca)}, "b": {"inline": b64(&p.cb)}}).to_string();
    let r = handle(&app(), post(FUNCTION_URL, &mixed)).await;
    assert_eq!(
        (r.status().as_u16(), body_json(&r)["error"]["code"].as_str()),
        (422, Some("scheme_mismatch"))
    );
}
