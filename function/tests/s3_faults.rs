//! The handler against a real S3-protocol server (moto) that misbehaves: throttling, slow
//! answers, bodies cut short or stalled, uploads dropped midway, objects deleted or
//! truncated, and the server going away. Faults come from a proxy on loopback in front of
//! moto; what is left at the output key is checked on moto directly, past the proxy.

use std::time::{Duration, Instant};

use base64::Engine;
use lambda_http::{Body, Request, Response};
use picrypt_api::s3::Settings;
use picrypt_core::verify::{self, Expect};
use picrypt_core::{Container, Image};
use picrypt_core::{Key, Scheme};
use picrypt_function::{handle, App, Config};
use picrypt_testkit::{Fault, FaultProxy, Injection, S3Server};
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");
const A: &str = "picrypt/in/a.picrypt";
const B: &str = "picrypt/in/b.picrypt";
const OUT: &str = "picrypt/out/d.picrypt";

fn post(body: &Value) -> Request {
    let mut v: Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["body"] = json!(body.to_string());
    lambda_http::request::from_str(&v.to_string()).unwrap()
}

fn s3(key: &str) -> Value {
    json!({"s3": {"key": key}})
}

fn image(w: u32, h: u32, seed: u8) -> Image {
    let data = (0..w as usize * h as usize * 3)
        .map(|i| ((i * 7) as u8) ^ seed.wrapping_mul((i >> 3) as u8))
        .collect();
    Image::new(w, h, 3, data).unwrap()
}

/// Retries and timeouts short enough for tests: 3 attempts, 20 ms backoff, 400 ms timeout.
fn settings() -> Settings {
    Settings {
        attempts: 3,
        backoff: Duration::from_millis(20),
        ..Settings::default()
    }
    .with_timeout(Duration::from_millis(400))
}

struct Fixture {
    server: S3Server,
    proxy: FaultProxy,
    bucket: String,
    app: App,
    key: Key,
    a: Image,
    b: Image,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with(S3Server::start(), settings()).await
    }

    /// A pair whose result (about 10 MB) is more than one 5 MiB part: computed as a
    /// stream and written as a multipart upload.
    async fn large() -> Fixture {
        Fixture::sized(S3Server::start(), settings(), (2000, 1500)).await
    }

    async fn with(server: S3Server, settings: Settings) -> Fixture {
        Fixture::sized(server, settings, (64, 48)).await
    }

    async fn sized(server: S3Server, settings: Settings, (w, h): (u32, u32)) -> Fixture {
        let bucket = server.bucket("picrypt-faults").await;
        let proxy = FaultProxy::start(&server.endpoint);
        let app = App {
            config: Config {
                bucket: Some(bucket.clone()),
                prefix: "picrypt/".into(),
                max_object_bytes: Config::DEFAULT_MAX_OBJECT_BYTES,
            },
            s3: Some(proxy.client(&settings)),
        };
        let f = Fixture {
            server,
            proxy,
            bucket,
            app,
            key: Key::generate(Scheme::MASK).unwrap(),
            a: image(w, h, 1),
            b: image(w, h, 99),
        };
        f.upload(A, f.ciphertext(&f.a)).await;
        f.upload(B, f.ciphertext(&f.b)).await;
        f
    }

    fn ciphertext(&self, image: &Image) -> Vec<u8> {
        self.key.encrypt(image).unwrap().to_bytes()
    }

    /// Straight to moto, past the proxy.
    async fn upload(&self, key: &str, bytes: Vec<u8>) {
        self.server.put(&self.bucket, key, bytes).await;
    }

    /// What moto holds at `key`, past the proxy; `None` when there is no such object.
    async fn stored(&self, key: &str) -> Option<Vec<u8>> {
        let r = self
            .server
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match r {
            Ok(r) => Some(r.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(e) => panic!("cannot read {key} from moto: {e:?}"),
        }
    }

    async fn diff(&self, body: Value) -> (u16, Value) {
        let r = self.diff_response(body).await;
        let v = serde_json::from_slice(r.body().as_ref()).unwrap();
        (r.status().as_u16(), v)
    }

    async fn diff_response(&self, body: Value) -> Response<Body> {
        handle(&self.app, post(&body)).await
    }

    /// A and B from S3, the result to `OUT`.
    async fn diff_s3(&self) -> (u16, Value) {
        self.diff(json!({"a": s3(A), "b": s3(B), "output": s3(OUT)}))
            .await
    }

    fn inline(&self, image: &Image) -> Value {
        json!({"inline": base64::engine::general_purpose::STANDARD.encode(self.ciphertext(image))})
    }

    /// Checks that `container` decrypts to A − B.
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

    async fn check_stored(&self) {
        self.check(&self.stored(OUT).await.expect("a result at the output key"));
    }

    async fn assert_nothing_stored(&self, case: &str) {
        assert!(
            self.stored(OUT).await.is_none(),
            "{case}: an object was left at the output key"
        );
        self.assert_no_upload_left(case).await;
    }

    /// No multipart upload is left open in the bucket (no orphan parts).
    async fn assert_no_upload_left(&self, case: &str) {
        let uploads = self
            .server
            .client()
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        assert!(
            uploads.uploads().is_empty(),
            "{case}: multipart uploads left open: {:?}",
            uploads.uploads()
        );
    }
}

/// Asserts status and code, and that the message contains each of `needles`.
fn assert_error(got: &(u16, Value), status: u16, code: &str, needles: &[&str]) {
    let (s, v) = got;
    assert_eq!(
        (*s, v["error"]["code"].as_str().unwrap_or("")),
        (status, code),
        "{v}"
    );
    let message = v["error"]["message"].as_str().unwrap();
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_until_it_clears() {
    let f = Fixture::new().await;
    // The first two reads are throttled; their retries go through.
    f.proxy
        .inject(Injection::new(Fault::SlowDown).method("GET").times(2));
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    f.check_stored().await;
    assert_eq!(f.proxy.faulted(), 2);
    assert_eq!(f.proxy.requests("GET"), 4, "{:?}", f.proxy.seen());
    assert_eq!(f.proxy.requests("PUT"), 1);

    // So does a throttled write.
    f.proxy.reset_counts();
    f.proxy
        .inject(Injection::new(Fault::SlowDown).method("PUT").times(1));
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(f.proxy.requests("PUT"), 2, "{:?}", f.proxy.seen());
    f.check_stored().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_that_persists_is_503_storage_throttled() {
    let f = Fixture::new().await;
    f.proxy.inject(Injection::new(Fault::SlowDown));
    // One input from S3, so the count of its attempts is exact.
    let got = f
        .diff(json!({"a": s3(A), "b": f.inline(&f.b), "output": s3(OUT)}))
        .await;
    assert_error(
        &got,
        503,
        "storage_throttled",
        &["reading s3://", "in/a.picrypt", "SlowDown", "3 attempts"],
    );
    assert_eq!(f.proxy.requests_to("GET", A), 3, "{:?}", f.proxy.seen());
    assert_eq!(f.proxy.requests("PUT"), 0);
    f.assert_nothing_stored("throttled read").await;

    // A write throttled on every attempt: nothing is stored either.
    f.proxy.reset_counts();
    let got = f
        .diff(json!({"a": f.inline(&f.a), "b": f.inline(&f.b), "output": s3(OUT)}))
        .await;
    assert_error(
        &got,
        503,
        "storage_throttled",
        &["writing s3://", "out/d.picrypt", "3 attempts"],
    );
    assert_eq!(f.proxy.requests_to("PUT", OUT), 3);
    f.assert_nothing_stored("throttled write").await;

    // Callers are told when to come back.
    let r = f
        .diff_response(json!({"a": f.inline(&f.a), "b": f.inline(&f.b), "output": s3(OUT)}))
        .await;
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_storage_within_the_timeout_is_fine_beyond_it_504() {
    let server = S3Server::start();
    let f = Fixture::with(server, settings().with_timeout(Duration::from_secs(5))).await;
    f.proxy
        .inject(Injection::new(Fault::Delay(Duration::from_millis(150))));
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    f.check_stored().await;
    assert_eq!(f.proxy.requests("GET"), 2, "slow is not failed: no retries");
    drop(f);

    let f = Fixture::new().await;
    f.proxy
        .inject(Injection::new(Fault::Delay(Duration::from_secs(5))).method("GET"));
    let started = Instant::now();
    let got = f
        .diff(json!({"a": s3(A), "b": f.inline(&f.b), "output": s3(OUT)}))
        .await;
    assert_error(
        &got,
        504,
        "storage_timeout",
        &["reading s3://", "did not answer within 400ms", "3 attempts"],
    );
    assert_eq!(f.proxy.requests_to("GET", A), 3);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up after {:?}",
        started.elapsed()
    );
    f.assert_nothing_stored("slow read").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_body_is_read_again_then_504() {
    let f = Fixture::new().await;
    f.proxy.inject(
        Injection::new(Fault::StallResponse(100))
            .method("GET")
            .path(A),
    );
    let got = f.diff_s3().await;
    assert_error(
        &got,
        504,
        "storage_timeout",
        // Each attempt resumes where the last stalled: 100 bytes each time.
        &["A: reading s3://", "stalled after 300 of ", "3 attempts"],
    );
    assert_eq!(f.proxy.requests_to("GET", A), 3, "{:?}", f.proxy.seen());
    f.assert_nothing_stored("stalled read").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_transfer_is_read_again_and_never_parsed() {
    let f = Fixture::new().await;
    let size = f.ciphertext(&f.a).len();
    // Once: the second read is whole, and the diff succeeds.
    f.proxy.inject(
        Injection::new(Fault::CutResponse(1000))
            .method("GET")
            .path(A)
            .times(1),
    );
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(f.proxy.requests_to("GET", A), 2);
    f.check_stored().await;

    // Every time: 502 saying how much arrived, and nothing stored.
    f.proxy.reset_counts();
    f.proxy.inject(
        Injection::new(Fault::CutResponse(1000))
            .method("GET")
            .path(A),
    );
    let other = "picrypt/out/other.picrypt";
    let got = f
        .diff(json!({"a": s3(A), "b": s3(B), "output": s3(other)}))
        .await;
    assert_error(
        &got,
        502,
        "storage_error",
        &[
            "A: reading s3://",
            // Each attempt resumes where the last broke off: 1000 bytes each time.
            &format!("broke off after 3000 of {size} bytes"),
            "3 attempts",
        ],
    );
    assert_eq!(f.proxy.requests_to("GET", A), 3);
    assert!(f.stored(other).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_dropped_midway_leaves_no_object() {
    let f = Fixture::new().await;
    f.proxy.inject(
        Injection::new(Fault::CutRequest(4096))
            .method("PUT")
            .path(OUT),
    );
    let got = f.diff_s3().await;
    assert_error(
        &got,
        502,
        "storage_error",
        &[
            "writing s3://",
            "out/d.picrypt",
            "connection failed after 3 attempts: ",
        ],
    );
    assert_eq!(f.proxy.requests_to("PUT", OUT), 3);
    f.assert_nothing_stored("dropped upload").await;

    // Dropped once: the retry stores the whole, correct result.
    f.proxy.reset_counts();
    f.proxy.inject(
        Injection::new(Fault::CutRequest(4096))
            .method("PUT")
            .path(OUT)
            .times(1),
    );
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(f.proxy.requests_to("PUT", OUT), 2);
    f.check_stored().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_deleted_before_the_diff_is_404() {
    let f = Fixture::new().await;
    f.server
        .client()
        .delete_object()
        .bucket(&f.bucket)
        .key(B)
        .send()
        .await
        .unwrap();
    let got = f.diff_s3().await;
    assert_error(
        &got,
        404,
        "object_not_found",
        &["B: s3://", "in/b.picrypt does not exist"],
    );
    assert_eq!(
        f.proxy.requests_to("GET", B),
        1,
        "a missing object is not retried"
    );
    f.assert_nothing_stored("deleted input").await;

    // Deleted by the proxy the moment the function asks for it.
    f.upload(B, f.ciphertext(&f.b)).await;
    f.proxy
        .inject(Injection::new(Fault::DeleteObject).method("GET").path(B));
    let got = f.diff_s3().await;
    assert_error(&got, 404, "object_not_found", &["B: s3://"]);
    f.assert_nothing_stored("input deleted mid-run").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_stored_object_is_400_bad_container() {
    let f = Fixture::new().await;
    let mut short = f.ciphertext(&f.b);
    short.truncate(short.len() / 2);
    f.upload(B, short).await;
    let got = f.diff_s3().await;
    assert_error(&got, 400, "bad_container", &["B: ", "truncated"]);
    // Stored short is not a broken transfer: read once.
    assert_eq!(f.proxy.requests_to("GET", B), 1);
    f.assert_nothing_stored("truncated input").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_stopped_mid_run_is_502_then_recovers() {
    let f = Fixture::new().await;
    f.proxy.stop();
    let got = f.diff_s3().await;
    assert_error(
        &got,
        502,
        "storage_error",
        &["reading s3://", "connection failed after 3 attempts: "],
    );
    assert_eq!(f.proxy.requests("GET"), 0, "connections were refused");
    f.proxy.resume();
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    f.check_stored().await;
}

/// A real moto process killed between the upload and the diff.
#[tokio::test(flavor = "multi_thread")]
async fn s3_server_killed_between_upload_and_diff_is_502() {
    let mut f = Fixture::with(S3Server::spawn_own(), settings()).await;
    // Straight to moto: nothing stands between the function and the dying server.
    f.app.s3 = Some(f.server.client_with(&settings()));
    f.server.kill();
    let started = Instant::now();
    let got = f.diff_s3().await;
    assert_error(
        &got,
        502,
        "storage_error",
        &["reading s3://", "connection failed after 3 attempts: "],
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_pair_streams_into_a_multipart_upload() {
    let f = Fixture::large().await;
    let size = f.ciphertext(&f.a).len();
    assert!(size > 8 << 20, "more than one part: {size} bytes");
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    f.check_stored().await;
    // Both inputs read once each, the result in two parts: create, two parts, complete.
    assert_eq!(f.proxy.requests_to("GET", A), 1, "{:?}", f.proxy.seen());
    assert_eq!(
        f.proxy.requests_to("PUT", "partNumber="),
        2,
        "{:?}",
        f.proxy.seen()
    );
    assert_eq!(f.proxy.requests_to("POST", "uploads"), 1);
    assert_eq!(f.proxy.requests_to("POST", "uploadId="), 1);
    f.assert_no_upload_left("a large pair").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_short_is_resumed_where_it_broke_off() {
    let f = Fixture::large().await;
    let size = f.ciphertext(&f.a).len();
    // A's body breaks off after 5 MB, once: the rest is read with a ranged GET.
    f.proxy.inject(
        Injection::new(Fault::CutResponse(5_000_000))
            .method("GET")
            .path(A)
            .times(1),
    );
    let (status, v) = f.diff_s3().await;
    assert_eq!(status, 200, "{v}");
    f.check_stored().await;
    assert_eq!(f.proxy.requests_to("GET", A), 2);
    f.assert_no_upload_left("resumed").await;

    // Broken every time, 2 MB at a time: after three requests for B (its budget) the
    // upload begun is aborted, and nothing is at the output key.
    f.proxy.reset_counts();
    f.proxy.inject(
        Injection::new(Fault::CutResponse(2_000_000))
            .method("GET")
            .path(B),
    );
    let other = "picrypt/out/other.picrypt";
    let got = f
        .diff(json!({"a": s3(A), "b": s3(B), "output": s3(other)}))
        .await;
    assert_error(
        &got,
        502,
        "storage_error",
        &[
            "B: reading s3://",
            &format!("broke off after 6000000 of {size} bytes"),
            "3 attempts",
        ],
    );
    assert!(f.stored(other).await.is_none());
    f.assert_no_upload_left("cut every time").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_part_that_cannot_be_written_leaves_no_object_and_no_parts() {
    let f = Fixture::large().await;
    // Part 2 is throttled for good (part 1 was written): the upload is aborted.
    f.proxy.inject(
        Injection::new(Fault::SlowDown)
            .method("PUT")
            .path("partNumber=2"),
    );
    let got = f.diff_s3().await;
    assert_error(
        &got,
        503,
        "storage_throttled",
        &["writing part 2 of s3://", "3 attempts"],
    );
    assert_eq!(f.proxy.requests_to("PUT", "partNumber=2"), 3);
    f.assert_nothing_stored("part 2 refused").await;

    // A part upload cut midway, every time: the same.
    f.proxy.reset_counts();
    f.proxy.inject(
        Injection::new(Fault::CutRequest(1_000_000))
            .method("PUT")
            .path("partNumber=1"),
    );
    let got = f.diff_s3().await;
    assert_eq!(got.0, 502, "{}", got.1);
    f.assert_nothing_stored("part 1 cut").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_large_input_is_refused_before_any_upload() {
    let f = Fixture::large().await;
    let whole = f.ciphertext(&f.a);
    f.upload(A, whole[..whole.len() - 100].to_vec()).await;
    let got = f.diff_s3().await;
    assert_error(
        &got,
        400,
        "bad_container",
        &["A: payload is", "(truncated)"],
    );
    assert_eq!(f.proxy.requests_to("POST", "uploads"), 0, "no upload begun");
    f.assert_nothing_stored("truncated input").await;
}
