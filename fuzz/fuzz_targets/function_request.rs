//! The Lambda handler on an arbitrary `POST /diff` body (no S3 configured): it must never
//! panic, never answer 5xx, and always answer JSON that is either a success body or
//! `{"error": {"code", "message", ...}}`. A 200 must carry an inline result that decodes
//! to a container which parses. A body that starts with the framed magic `PCF1` is sent
//! as `application/vnd.picrypt.framed` asking for a framed answer, whose 200 must unframe
//! to a container that parses.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use lambda_http::http;
use libfuzzer_sys::fuzz_target;
use picrypt_function::{handle, App, Config};

struct State {
    runtime: tokio::runtime::Runtime,
    app: App,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
        app: App {
            config: Config::default(),
            s3: None,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let st = state();
    let framed = data.starts_with(&picrypt_api::framed::MAGIC);
    let content_type = if framed {
        picrypt_api::framed::MEDIA_TYPE
    } else {
        "application/json"
    };
    let req = http::Request::builder()
        .method("POST")
        .uri("/diff")
        .header("content-type", content_type)
        .header("accept", content_type)
        .body(lambda_http::Body::Binary(data.to_vec()))
        .expect("request");
    let resp = st.runtime.block_on(handle(&st.app, req));
    let status = resp.status().as_u16();
    assert!(status < 500, "5xx answer {status}: {:?}", resp.body());
    let body: &[u8] = resp.body().as_ref();
    if framed && status == 200 {
        let (response, part) = picrypt_api::DiffResponse::from_framed(body)
            .unwrap_or_else(|e| panic!("200 is not a framed answer: {e}"));
        let c = picrypt_core::Container::parse(&body[part.clone()])
            .unwrap_or_else(|e| panic!("200 result is not a valid container: {e}"));
        assert_eq!(response.bytes, part.len());
        assert_eq!(response.width, c.header().shape().width());
        return;
    }
    let json: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {:?}", String::from_utf8_lossy(body)));
    if status == 200 {
        let inline = json["result"]["inline"]
            .as_str()
            .unwrap_or_else(|| panic!("200 without an inline result: {json}"));
        for field in ["scheme", "op", "request_id"] {
            assert!(json[field].is_string(), "200 without {field}: {json}");
        }
        for field in ["width", "height", "channels", "bytes", "server_ms"] {
            assert!(json[field].is_number(), "200 without {field}: {json}");
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(inline)
            .unwrap_or_else(|e| panic!("200 result is not base64: {e}"));
        let c = picrypt_core::Container::parse(&bytes)
            .unwrap_or_else(|e| panic!("200 result is not a valid container: {e}"));
        assert_eq!(json["bytes"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(json["width"].as_u64(), Some(u64::from(c.header().shape().width())));
    } else {
        assert!((400..500).contains(&status), "unexpected status {status}");
        let err = &json["error"];
        assert!(err["code"].is_string(), "error without a code: {json}");
        assert!(err["message"].is_string(), "error without a message: {json}");
    }
});
