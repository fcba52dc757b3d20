//! The bad-input battery, in-process: every case of the matrix (`battery_matrix/`) as a
//! real Function URL event through the function's entry point (`invoke`, as the Lambda
//! runtime calls it), with and without a bucket, and every case a direct invocation can
//! carry (a `POST /diff` of one JSON value) once more as the raw Invoke payload. Every
//! hostile request must get its documented 4xx and JSON error body (for a direct
//! invocation with the status in `error.status`); no 5xx, no panic; a valid diff still
//! works afterwards. `cli/tests/battery_http.rs` replays the same matrix over HTTP.

use picrypt_testkit::battery as battery_matrix;

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use battery_matrix::{Case, Expect, Fixture, Needs};
use lambda_http::http::HeaderMap;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::Body;
use picrypt_function::{invoke, Answer, App, Config};
use picrypt_testkit::S3Server;
use serde_json::value::RawValue;
use serde_json::{json, Value};

const FUNCTION_URL: &str = include_str!("events/function_url.json");
const REQUEST_ID: &str = "7f1c2a9e-5b3d-4c8e-9a0f-1e2d3c4b5a69";

/// The case as Lambda delivers it: a Function URL event, as the runtime hands it over.
fn event(case: &Case) -> LambdaEvent<Box<RawValue>> {
    let mut v: Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["rawPath"] = json!(case.path);
    v["requestContext"]["http"]["method"] = json!(case.method);
    v["requestContext"]["http"]["path"] = json!(case.path);
    let headers = v["headers"].as_object_mut().unwrap();
    match &case.content_type {
        Some(ct) => headers.insert("content-type".into(), json!(ct)),
        None => headers.remove("content-type"),
    };
    if let Some(accept) = &case.accept {
        headers.insert("accept".into(), json!(accept));
    }
    match std::str::from_utf8(&case.body) {
        Ok(text) => v["body"] = json!(text),
        Err(_) => {
            v["body"] = json!(battery_matrix::b64(&case.body));
            v["isBase64Encoded"] = json!(true);
        }
    }
    LambdaEvent::new(
        RawValue::from_string(v.to_string()).unwrap(),
        Context::default(),
    )
}

/// The case as a direct invocation, when the Invoke API can carry it: a `POST /diff`
/// (a direct invocation has no path, method or headers) whose body is one JSON value
/// (Lambda refuses any other payload), parsed as the runtime parses it.
fn direct(case: &Case) -> Option<LambdaEvent<Box<RawValue>>> {
    if case.method != "POST"
        || case.path != "/diff"
        || case.accept.is_some()
        || case
            .content_type
            .as_deref()
            .is_some_and(|ct| ct != "application/json")
    {
        return None;
    }
    let payload = serde_json::from_slice::<Box<RawValue>>(&case.body).ok()?;
    let mut context = Context::default();
    context.request_id = REQUEST_ID.into();
    Some(LambdaEvent::new(payload, context))
}

/// Checks one answer; returns what is wrong with it.
fn check(fx: &Fixture, case: &Case, answer: &Answer) -> Result<(), String> {
    match answer {
        Answer::Http(r) => {
            let body = match &r.body {
                Some(Body::Text(t)) => t.as_bytes(),
                Some(Body::Binary(b)) => b.as_slice(),
                _ => &[],
            };
            check_http(fx, case, answer.status(), &r.headers, body)
        }
        Answer::Direct(document) => check_direct(fx, case, document.get()),
    }
}

/// An answer to a direct invocation: the `POST /diff` answer's document, a refusal with
/// its status in `error.status`.
fn check_direct(fx: &Fixture, case: &Case, document: &str) -> Result<(), String> {
    let mut v: Value =
        serde_json::from_str(document).map_err(|e| format!("not JSON ({e}): {document}"))?;
    match case.expect {
        Expect::Refused { .. } => {
            let status = v["error"]["status"]
                .as_u64()
                .ok_or_else(|| format!("no error.status: {v}"))?;
            let status = u16::try_from(status).map_err(|_| format!("status {status}"))?;
            if status >= 500 {
                return Err(format!("{status}: {v}"));
            }
            v["error"].as_object_mut().unwrap().remove("status");
            battery_matrix::check_error(case, status, None, Some(v.to_string().as_bytes()))?;
            if v["error"]["request_id"] != REQUEST_ID {
                return Err(format!("request id in the body: {v}"));
            }
            Ok(())
        }
        Expect::Computed { .. } => {
            if v.get("error").is_some() {
                return Err(format!("refused: {v}"));
            }
            if v["request_id"] != REQUEST_ID {
                return Err(format!("request id in the answer: {}", v["request_id"]));
            }
            fx.check_result(case, &battery_matrix::inline_result(document.as_bytes())?)
        }
    }
}

fn check_http(
    fx: &Fixture,
    case: &Case,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    if status >= 500 {
        return Err(format!("{status}: {}", String::from_utf8_lossy(body)));
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    battery_matrix::check_content_type(case, status, content_type, body)?;
    if headers.get("x-request-id").map(|v| v.as_bytes()) != Some(REQUEST_ID.as_bytes()) {
        return Err("no x-request-id".into());
    }
    match case.expect {
        Expect::Refused { .. } => {
            let allow = headers.get("allow").and_then(|v| v.to_str().ok());
            battery_matrix::check_error(case, status, allow, Some(body))?;
            let v: Value = serde_json::from_slice(body).unwrap();
            if v["error"]["request_id"] != REQUEST_ID {
                return Err(format!("request id in the body: {v}"));
            }
            Ok(())
        }
        Expect::Computed { .. } => {
            if status != 200 {
                return Err(format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(body)
                ));
            }
            fx.check_result(case, &battery_matrix::answer_result(content_type, body)?)
        }
    }
}

fn app(config: Config, s3: Option<aws_sdk_s3::Client>) -> App {
    App { config, s3 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_request_gets_its_documented_answer() {
    let started = Instant::now();
    let server = S3Server::start();
    let bucket = server.bucket("picrypt-battery").await;
    let client = server.client();
    let fx = Fixture::new(Some(bucket.clone()));
    for (key, bytes) in fx.objects() {
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload {key:?}: {e:?}"));
    }
    let no_bucket = app(Config::default(), None);
    let with_bucket = app(
        Config {
            bucket: Some(bucket.clone()),
            prefix: battery_matrix::PREFIX.into(),
            max_object_bytes: battery_matrix::MAX_OBJECT_BYTES,
        },
        Some(client.clone()),
    );

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut distinct = 0;
    let mut framed_count = 0;
    let mut direct_count = 0;
    for (group, generate) in battery_matrix::groups() {
        let mut cases = generate(&fx);
        // Each case framed too, where a framed body can say it.
        let framed: Vec<Case> = cases.iter().filter_map(battery_matrix::framed).collect();
        framed_count += framed.len();
        cases.extend(framed);
        assert!(!cases.is_empty(), "{group} generated no cases");
        distinct += cases.len();
        for case in &cases {
            *counts.entry(case.category).or_default() += 1;
            // Cases that do not depend on S3 get the same answer with and without a bucket.
            let apps: &[&App] = match case.needs {
                Needs::Any => &[&no_bucket, &with_bucket],
                Needs::NoBucket => &[&no_bucket],
                Needs::Bucket => &[&with_bucket],
            };
            for app in apps {
                let shapes = [
                    Some(("event", event(case))),
                    direct(case).map(|d| ("direct", d)),
                ];
                for (shape, event) in shapes.into_iter().flatten() {
                    let answer = invoke(app, event).await;
                    *statuses.entry(answer.status()).or_default() += 1;
                    total += 1;
                    direct_count += usize::from(shape == "direct");
                    if let Err(e) = check(&fx, case, &answer) {
                        failures.push(format!("[{} {shape}] {}: {e}", case.category, case.name));
                    }
                }
            }
        }
    }
    // A failed diff writes nothing.
    let left = client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(battery_matrix::NEVER_PREFIX)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.key_count(),
        Some(0),
        "failed diffs left objects behind"
    );
    // Still serving.
    let case = battery_matrix::valid_diff(&fx);
    for app in [&no_bucket, &with_bucket] {
        for event in [event(&case), direct(&case).unwrap()] {
            let answer = invoke(app, event).await;
            check(&fx, &case, &answer)
                .unwrap_or_else(|e| panic!("valid diff after the battery: {e}"));
        }
    }

    eprintln!(
        "battery: {distinct} cases ({framed_count} of them framed), {total} requests (with and without a bucket; {direct_count} of them direct invocations) in {:.1?}\n  cases by category: {counts:?}\n  answers by status: {statuses:?}",
        started.elapsed()
    );
    assert!(
        statuses.keys().all(|&s| s < 500),
        "server errors: {statuses:?}"
    );
    assert!(distinct > 2000, "only {distinct} cases");
    assert!(framed_count > 500, "only {framed_count} framed cases");
    assert!(
        direct_count > 2000,
        "only {direct_count} direct invocations"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} answers were wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
