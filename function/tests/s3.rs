//! The handler with S3 sources and outputs, against a real S3-protocol server on loopback
//! (moto): objects really cross HTTP through aws-sdk-s3.

use base64::Engine;
use lambda_http::{Body, Request, Response};
use picrypt_core::verify::{self, Expect};
use picrypt_core::{Container, Image};
use picrypt_core::{Key, Scheme};
use picrypt_function::{handle, App, Config};
use picrypt_testkit::S3Server;
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");

fn post(body: &Value) -> Request {
    let mut v: Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["body"] = json!(body.to_string());
    lambda_http::request::from_str(&v.to_string()).unwrap()
}

fn body_json(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

fn image(w: u32, h: u32, seed: u8) -> Image {
    let data = (0..w as usize * h as usize * 3)
        .map(|i| ((i * 7) as u8) ^ seed.wrapping_mul((i >> 3) as u8))
        .collect();
    Image::new(w, h, 3, data).unwrap()
}

struct Fixture {
    server: S3Server,
    bucket: String,
    app: App,
    key: Key,
    a: Image,
    b: Image,
}

impl Fixture {
    async fn new(w: u32, h: u32) -> Fixture {
        let server = S3Server::start();
        let bucket = server.bucket("picrypt-test").await;
        let app = App {
            config: Config {
                bucket: Some(bucket.clone()),
                prefix: "picrypt/".into(),
                max_object_bytes: Config::DEFAULT_MAX_OBJECT_BYTES,
            },
            s3: Some(server.client()),
        };
        Fixture {
            server,
            bucket,
            app,
            key: Key::generate(Scheme::MASK).unwrap(),
            a: image(w, h, 1),
            b: image(w, h, 99),
        }
    }

    async fn upload(&self, key: &str, bytes: Vec<u8>) {
        self.server.put(&self.bucket, key, bytes).await;
    }

    async fn upload_pair(&self) {
        self.upload(
            "picrypt/in/a.picrypt",
            self.key.encrypt(&self.a).unwrap().to_bytes(),
        )
        .await;
        self.upload(
            "picrypt/in/b.picrypt",
            self.key.encrypt(&self.b).unwrap().to_bytes(),
        )
        .await;
    }

    async fn download(&self, key: &str) -> Option<Vec<u8>> {
        let r = self
            .server
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(r.body.collect().await.unwrap().into_bytes().to_vec())
    }

    fn check(&self, container: &[u8]) {
        let c = Container::parse(container).unwrap();
        let pt = verify::decrypt(&self.key, &c, Expect::Difference).unwrap();
        let expected: Vec<i16> = self
            .a
            .data()
            .iter()
            .zip(self.b.data())
            .map(|(&x, &y)| x as i16 - y as i16)
            .collect();
        assert_eq!(pt.values(), expected);
    }
}

fn s3(key: &str) -> Value {
    json!({"s3": {"key": key}})
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_sources_inline_and_s3_outputs() {
    let f = Fixture::new(40, 30).await;
    f.upload_pair().await;
    // S3 in, inline out.
    let r = handle(&f.app, post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": {"s3": {"key": "picrypt/in/b.picrypt", "bucket": f.bucket}}}))).await;
    let v = body_json(&r);
    assert_eq!(r.status(), 200, "{v}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["result"]["inline"].as_str().unwrap())
        .unwrap();
    f.check(&bytes);
    assert!(v["timing"]["fetch_ms"].as_f64().unwrap() > 0.0);
    // S3 in, S3 out.
    let r = handle(&f.app, post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": s3("picrypt/in/b.picrypt"), "output": s3("picrypt/out/d.picrypt")}))).await;
    let v = body_json(&r);
    assert_eq!(r.status(), 200, "{v}");
    assert_eq!(
        v["result"]["s3"],
        json!({"bucket": f.bucket, "key": "picrypt/out/d.picrypt"})
    );
    f.check(&f.download("picrypt/out/d.picrypt").await.unwrap());
    // Inline in, S3 out.
    let ca = f.key.encrypt(&f.a).unwrap().to_bytes();
    let cb = f.key.encrypt(&f.b).unwrap().to_bytes();
    let b64 = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
    let r = handle(&f.app, post(&json!({"a": {"inline": b64(&ca)}, "b": {"inline": b64(&cb)}, "output": s3("picrypt/out/e.picrypt")}))).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    f.check(&f.download("picrypt/out/e.picrypt").await.unwrap());
}

/// A result too large for a 6 MB response goes to S3 under a generated key, unless the
/// caller insisted on inline (413).
#[tokio::test(flavor = "multi_thread")]
async fn large_results_go_to_s3() {
    let f = Fixture::new(2000, 1200).await;
    f.upload_pair().await;
    let r = handle(
        &f.app,
        post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": s3("picrypt/in/b.picrypt")})),
    )
    .await;
    let v = body_json(&r);
    assert_eq!(r.status(), 200, "{v}");
    let key = v["result"]["s3"]["key"].as_str().unwrap();
    assert!(
        key.starts_with("picrypt/results/") && key.ends_with(".picrypt"),
        "{key}"
    );
    f.check(&f.download(key).await.unwrap());
    let r = handle(&f.app, post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": s3("picrypt/in/b.picrypt"), "output": "inline"}))).await;
    assert_eq!(r.status(), 413);
    assert_eq!(body_json(&r)["error"]["code"], "response_too_large");
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_access_is_confined_to_the_bucket_and_prefix() {
    let f = Fixture::new(8, 8).await;
    f.upload_pair().await;
    // An object the function's role could reach but the caller must not: outside the prefix.
    f.upload("secret/a.picrypt", f.key.encrypt(&f.a).unwrap().to_bytes())
        .await;
    let other_bucket = f.server.bucket("other").await;
    let b = s3("picrypt/in/b.picrypt");
    let cases = [
        (
            json!({"s3": {"key": "picrypt/in/a.picrypt", "bucket": other_bucket}}),
            403,
            "bucket_forbidden",
        ),
        (s3("secret/a.picrypt"), 403, "key_forbidden"),
        (s3("picrypt/../secret/a.picrypt"), 403, "key_forbidden"),
        (s3("picrypt/./in/a.picrypt"), 403, "key_forbidden"),
        (s3("/picrypt/in/a.picrypt"), 403, "key_forbidden"),
        (s3("picrypt//in/a.picrypt"), 403, "key_forbidden"),
        (s3("picrypt\\..\\secret"), 403, "key_forbidden"),
        (s3("picrypt/in/a.picrypt\u{0}"), 403, "key_forbidden"),
        (s3(""), 400, "bad_request"),
        (s3("picrypt/in/missing.picrypt"), 404, "object_not_found"),
        (s3("picrypt/in/ünïcødé.picrypt"), 404, "object_not_found"),
    ];
    for (a, status, code) in cases {
        let r = handle(&f.app, post(&json!({"a": a, "b": b}))).await;
        let v = body_json(&r);
        assert_eq!(
            (r.status().as_u16(), v["error"]["code"].as_str().unwrap()),
            (status, code),
            "{a}: {v}"
        );
    }
    for output in ["secret/out.picrypt", "picrypt/../out.picrypt"] {
        let r = handle(
            &f.app,
            post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": b, "output": s3(output)})),
        )
        .await;
        assert_eq!(r.status(), 403, "{output}");
    }
}

/// A diff that fails leaves nothing at the output key.
#[tokio::test(flavor = "multi_thread")]
async fn failed_diff_leaves_no_object() {
    let f = Fixture::new(8, 8).await;
    f.upload_pair().await;
    let stranger = Key::generate(Scheme::MASK).unwrap();
    f.upload(
        "picrypt/in/c.picrypt",
        stranger.encrypt(&f.b).unwrap().to_bytes(),
    )
    .await;
    f.upload("picrypt/in/junk.picrypt", b"not a container".to_vec())
        .await;
    for b in [
        "picrypt/in/c.picrypt",
        "picrypt/in/junk.picrypt",
        "picrypt/in/missing.picrypt",
    ] {
        let r = handle(&f.app, post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": s3(b), "output": s3("picrypt/out/never.picrypt")}))).await;
        assert!(r.status().as_u16() >= 400, "{b}");
        assert!(
            f.download("picrypt/out/never.picrypt").await.is_none(),
            "{b} left an object"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_objects_are_refused_before_reading() {
    let mut f = Fixture::new(64, 64).await;
    f.upload_pair().await;
    f.app.config.max_object_bytes = 1000;
    let r = handle(
        &f.app,
        post(&json!({"a": s3("picrypt/in/a.picrypt"), "b": s3("picrypt/in/b.picrypt")})),
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(body_json(&r)["error"]["code"], "object_too_large");
}

/// Storage that cannot be reached is a 502 with a code, not a hang or a 500.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_storage_is_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = S3Server::at(format!("http://{closed}"));
    let app = App {
        config: Config {
            bucket: Some("picrypt-test".into()),
            prefix: "picrypt/".into(),
            max_object_bytes: 1 << 20,
        },
        s3: Some(server.client()),
    };
    let r = handle(
        &app,
        post(&json!({"a": s3("picrypt/a.picrypt"), "b": s3("picrypt/b.picrypt")})),
    )
    .await;
    let v = body_json(&r);
    assert_eq!(
        (r.status().as_u16(), v["error"]["code"].as_str()),
        (502, Some("storage_error")),
        "{v}"
    );
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("reading s3://picrypt-test/picrypt/")
            && message.contains("connection failed"),
        "{v}"
    );
}
