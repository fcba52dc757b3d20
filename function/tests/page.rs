//! The page: served by the function at `/` from real Function URL events, with its security
//! headers; and `picrypt web`'s server (`LocalServer::page`), which answers only its own
//! page and forwards nothing but `POST /diff`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lambda_http::{Body, Request};
use picrypt_function::{handle, App, Config, Forward, ForwardFuture, Forwarded, LocalServer};
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");

fn event(method: &str, path: &str) -> Request {
    let mut v: Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["rawPath"] = json!(path);
    v["requestContext"]["http"]["method"] = json!(method);
    v["requestContext"]["http"]["path"] = json!(path);
    v["body"] = Value::Null;
    lambda_http::request::from_str(&v.to_string()).expect("lambda_http parses the event")
}

fn app() -> App {
    App {
        config: Config::default(),
        s3: None,
    }
}

fn header<'a>(r: &'a lambda_http::Response<Body>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_function_serves_every_file_of_the_page_with_its_headers() {
    for asset in picrypt_web::ASSETS {
        for prefix in ["/", "/lambda-url/picrypt-function/"] {
            let path = if asset.name == "index.html" {
                prefix.to_string()
            } else {
                format!("{prefix}{}", asset.name)
            };
            let r = handle(&app(), event("GET", &path)).await;
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(header(&r, "content-type"), asset.content_type, "{path}");
            assert_eq!(r.body().as_ref(), asset.body, "{path}: the embedded bytes");
            for (name, value) in picrypt_web::SECURITY_HEADERS {
                assert_eq!(header(&r, name), *value, "{path}: {name}");
            }
        }
    }
    let csp = picrypt_web::CONTENT_SECURITY_POLICY;
    for promise in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(promise), "the CSP says {promise}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_page_answers_get_and_head_only() {
    let r = handle(&app(), event("HEAD", "/")).await;
    assert_eq!(r.status(), 200);
    assert!(r.body().is_empty());
    let r = handle(&app(), event("POST", "/app.js")).await;
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), "GET, HEAD");
    let v: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
    // Anything else is still the API's 404, in JSON.
    let r = handle(&app(), event("GET", "/secret.js")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(header(&r, "content-type"), "application/json");
}

/// A function elsewhere that records what it was sent and answers as told.
/// Content type, accept and body of one forwarded request.
type Seen = (Option<String>, Option<String>, Bytes);

struct Recorder {
    seen: Mutex<Vec<Seen>>,
    answer: Result<u16, String>,
}

impl Forward for Recorder {
    fn diff(
        &self,
        content_type: Option<String>,
        accept: Option<String>,
        body: Bytes,
    ) -> ForwardFuture<'_> {
        self.seen.lock().unwrap().push((content_type, accept, body));
        let answer = self.answer.clone();
        Box::pin(async move {
            let status = answer?;
            Ok(Forwarded {
                status,
                content_type: "application/vnd.picrypt.framed".into(),
                request_id: Some("upstream-id".into()),
                body: Bytes::from_static(b"PCF1 from upstream"),
            })
        })
    }
}

async fn start(server: LocalServer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(server.serve(listener));
    format!("127.0.0.1:{port}")
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let v: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, v["error"]["code"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn picrypt_web_answers_only_its_own_page() {
    let addr = start(LocalServer::page(None)).await;
    let http = reqwest::Client::new();
    let page = format!("http://{addr}/");
    let r = http.get(&page).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        picrypt_web::ASSETS[0].body
    );
    // The page's own request (same origin, as a browser sends it) reaches the handler.
    let r = http
        .post(format!("{page}diff"))
        .header("origin", format!("http://{addr}"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "bad_json".into()));
    // Another site open in the same browser: refused before anything runs.
    let refused = [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("host", "evil.example"),
        ("host", "rebound.evil.example:8090"),
    ];
    for (name, value) in refused {
        let r = http
            .post(format!("{page}diff"))
            .header(name, value)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(r).await,
            (403, "cross_origin".into()),
            "{name}: {value}"
        );
    }
    // A rebound host name gets not even the page.
    let r = http
        .get(&page)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn picrypt_web_forwards_post_diff_and_nothing_else() {
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(Vec::new()),
        answer: Ok(200),
    });
    let addr = start(LocalServer::page(Some(recorder.clone()))).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://{addr}/diff"))
        .header("content-type", "application/vnd.picrypt.framed")
        .header("accept", "application/vnd.picrypt.framed")
        .body(&b"PCF1 body"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "upstream-id");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"PCF1 from upstream");
    {
        let seen = recorder.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0.as_deref(), Some("application/vnd.picrypt.framed"));
        assert_eq!(seen[0].1.as_deref(), Some("application/vnd.picrypt.framed"));
        assert_eq!(seen[0].2.as_ref(), b"PCF1 body");
    }
    // The page's files come from this binary, never from the function.
    let r = http
        .get(format!("http://{addr}/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        picrypt_web::asset("app.js").unwrap().body
    );
    for (method, path, code) in [
        ("GET", "/health", (404, "not_found")),
        ("GET", "/openapi.json", (404, "not_found")),
        ("GET", "/diff", (405, "method_not_allowed")),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = http
            .request(method, format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(r).await, (code.0, code.1.to_string()), "{path}");
    }
    assert_eq!(
        recorder.seen.lock().unwrap().len(),
        1,
        "nothing else forwarded"
    );
    // Too large for one invocation: refused here, as the function would.
    let r = http
        .post(format!("http://{addr}/diff"))
        .body(vec![0u8; 7 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (413, "request_too_large".into()));
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_function_is_a_502_upstream_failed() {
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(Vec::new()),
        answer: Err("cannot connect to http://127.0.0.1:9: Connection refused".into()),
    });
    let addr = start(LocalServer::page(Some(recorder))).await;
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/diff"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (502, "upstream_failed".into()));
}
