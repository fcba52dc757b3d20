//! The bad-input battery over real HTTP: the whole matrix of `function/tests/battery_matrix`
//! (thousands of hostile requests), oversize and lying bodies, sent to a `picrypt serve`
//! child process over raw TCP. Every answer must be the documented 4xx with a JSON error;
//! the process must survive, still compute a valid diff afterwards (one near the 6 MB
//! limit too), and its peak memory (VmHWM) must stay within a bound set by the limit.

use picrypt_testkit::battery as battery_matrix;
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use battery_matrix::{Case, Expect, Fixture, Needs, LIMIT};
use picrypt_testkit::{S3Server, AWS_TEST_ENV};

/// A `picrypt serve` child process, killed when dropped.
struct Server(common::Serve);

impl std::ops::Deref for Server {
    type Target = common::Serve;
    fn deref(&self) -> &common::Serve {
        &self.0
    }
}

impl Server {
    fn start(s3: Option<(&str, &str)>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_picrypt"));
        cmd.args(["serve", "--addr", "127.0.0.1:0"])
            .envs(AWS_TEST_ENV)
            .env(
                "PICRYPT_MAX_OBJECT_BYTES",
                battery_matrix::MAX_OBJECT_BYTES.to_string(),
            )
            .env_remove("PICRYPT_BUCKET")
            .env_remove("PICRYPT_PREFIX");
        if let Some((endpoint, bucket)) = s3 {
            cmd.args(["--bucket", bucket, "--prefix", battery_matrix::PREFIX])
                .env("AWS_ENDPOINT_URL", endpoint);
        }
        Server(common::serve(&mut cmd))
    }

    fn alive(&mut self) -> bool {
        self.0.alive()
    }

    /// A field of /proc/PID/status, in bytes (VmRSS, VmHWM).
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"));
        kib * 1024
    }
}

/// How the body is framed on the wire.
#[derive(Clone, Copy)]
enum Framing {
    ContentLength,
    Chunked,
    /// Claim this Content-Length, send no body, and wait for the answer.
    Claim(u64),
    /// Claim the body's length, send half of it, and close the sending side.
    Short,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection (`Connection: close`); the answer read to EOF.
fn send(addr: SocketAddr, case: &Case, framing: Framing) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        case.method, case.path
    )
    .into_bytes();
    if let Some(ct) = &case.content_type {
        head.extend_from_slice(b"Content-Type: ");
        head.extend_from_slice(ct.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if let Some(accept) = &case.accept {
        head.extend_from_slice(format!("Accept: {accept}\r\n").as_bytes());
    }
    let mut body = Vec::new();
    match framing {
        Framing::ContentLength | Framing::Short => {
            head.extend_from_slice(
                format!("Content-Length: {}\r\n\r\n", case.body.len()).as_bytes(),
            );
            body.extend_from_slice(match framing {
                Framing::Short => &case.body[..case.body.len() / 2],
                _ => &case.body,
            });
        }
        Framing::Chunked => {
            head.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in case.body.chunks(64 * 1024) {
                body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
        }
        Framing::Claim(n) => {
            head.extend_from_slice(format!("Content-Length: {n}\r\n\r\n").as_bytes())
        }
    }
    stream.write_all(&head).map_err(|e| format!("write: {e}"))?;
    // The server may answer (413) before reading the whole body: write from another thread
    // and ignore a refused remainder, so the answer is always read.
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        let short = matches!(framing, Framing::Short);
        std::thread::spawn(move || {
            let _ = stream.write_all(&body);
            if short {
                let _ = stream.shutdown(Shutdown::Write);
            }
        })
    };
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    writer.join().unwrap();
    if let Err(e) = read {
        if raw.is_empty() {
            return Err(format!("read: {e}"));
        }
    }
    parse(&raw, case.method == "HEAD")
}

fn parse(raw: &[u8], head: bool) -> Result<Answer, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete response: {:?}", String::from_utf8_lossy(raw)))?;
    let text = std::str::from_utf8(&raw[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {text:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if !head {
        if let Some(n) = answer
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            if answer.body.len() != n {
                return Err(format!(
                    "body of {} bytes, Content-Length {n}",
                    answer.body.len()
                ));
            }
        }
    } else {
        answer.body.clear();
    }
    Ok(answer)
}

/// What the server must answer over HTTP: the matrix's answer, except that a body over the
/// limit is refused before the handler sees it, as Lambda itself would.
fn over_http(case: &Case) -> Case {
    let mut case = case.clone();
    if case.body.len() > LIMIT {
        case.expect = Expect::Refused {
            status: 413,
            code: "request_too_large",
        };
    }
    case
}

fn check(fx: &Fixture, case: &Case, a: &Answer) -> Result<(), String> {
    if a.status >= 500 {
        return Err(format!(
            "{}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        ));
    }
    battery_matrix::check_content_type(case, a.status, a.header("content-type"), &a.body)?;
    let request_id = a.header("x-request-id").ok_or("no x-request-id header")?;
    match case.expect {
        Expect::Refused { .. } => {
            let body = (case.method != "HEAD").then_some(&a.body[..]);
            battery_matrix::check_error(case, a.status, a.header("allow"), body)?;
            if let Some(body) = body {
                let v: serde_json::Value = serde_json::from_slice(body).unwrap();
                if v["error"]["request_id"] != request_id {
                    return Err(format!("x-request-id {request_id:?} but the body says {v}"));
                }
            }
            Ok(())
        }
        Expect::Computed { .. } => {
            if a.status != 200 {
                return Err(format!(
                    "status {}: {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            }
            fx.check_result(
                case,
                &battery_matrix::answer_result(a.header("content-type"), &a.body)?,
            )
        }
    }
}

/// Replays cases; returns the number sent and the failures.
fn replay<'a>(
    server: &Server,
    fx: &Fixture,
    cases: impl IntoIterator<Item = (&'a Case, Framing)>,
    statuses: &mut BTreeMap<u16, usize>,
    failures: &mut Vec<String>,
) -> usize {
    let mut sent = 0;
    for (case, framing) in cases {
        sent += 1;
        match send(server.addr, case, framing).and_then(|a| {
            *statuses.entry(a.status).or_default() += 1;
            check(fx, case, &a)
        }) {
            Ok(()) => {}
            Err(e) => failures.push(format!("[{}] {}: {e}", case.category, case.name)),
        }
    }
    sent
}

#[test]
fn serve_survives_the_battery_in_bounded_memory() {
    let started = Instant::now();
    let s3 = S3Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = rt.block_on(s3.bucket("picrypt-battery-http"));
    let fx = Fixture::new(Some(bucket.clone()));
    let client = s3.client();
    rt.block_on(async {
        for (key, bytes) in fx.objects() {
            client
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .body(bytes.into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("upload {key:?}: {e:?}"));
        }
    });
    let mut with_bucket = Server::start(Some((&s3.endpoint, &bucket)));
    let mut no_bucket = Server::start(None);
    let valid = battery_matrix::valid_diff(&fx);
    for server in [&with_bucket, &no_bucket] {
        let a = send(server.addr, &valid, Framing::ContentLength).unwrap();
        check(&fx, &valid, &a).unwrap();
    }
    let baseline = with_bucket.memory("VmRSS");

    let mut statuses = BTreeMap::new();
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, generate) in battery_matrix::groups() {
        // Each case as JSON and, where a framed body can say it, framed too.
        let generated = generate(&fx);
        let framed_cases: Vec<Case> = generated
            .iter()
            .filter_map(battery_matrix::framed)
            .collect();
        let cases: Vec<Case> = generated
            .iter()
            .chain(&framed_cases)
            .map(over_http)
            .collect();
        for case in &cases {
            *by_category.entry(case.category).or_default() += 1;
        }
        let (plain, s3_only): (Vec<&Case>, Vec<&Case>) =
            cases.iter().partition(|c| c.needs != Needs::NoBucket);
        sent += replay(
            &with_bucket,
            &fx,
            plain.into_iter().map(|c| (c, Framing::ContentLength)),
            &mut statuses,
            &mut failures,
        );
        sent += replay(
            &no_bucket,
            &fx,
            s3_only.into_iter().map(|c| (c, Framing::ContentLength)),
            &mut statuses,
            &mut failures,
        );
    }

    // Bodies whose framing lies or is over the limit, which only HTTP can send.
    let too_large = |name: &str, body: Vec<u8>| {
        let mut case = valid.clone();
        case.category = "http framing";
        case.name = name.into();
        case.body = body;
        case.expect = Expect::Refused {
            status: 413,
            code: "request_too_large",
        };
        case
    };
    let framed = [
        (
            too_large("claims 6 MB + 1", Vec::new()),
            Framing::Claim(LIMIT as u64 + 1),
        ),
        (
            too_large("claims 1 PB", Vec::new()),
            Framing::Claim(1 << 50),
        ),
        // The largest length hyper's parser accepts; it answers a larger one itself.
        (
            too_large("claims u64::MAX − 2", Vec::new()),
            Framing::Claim(u64::MAX - 2),
        ),
        (
            too_large("chunked, 6 MB + 1", vec![b' '; LIMIT + 1]),
            Framing::Chunked,
        ),
        (
            too_large("chunked, 16 MB", vec![b'x'; 16 << 20]),
            Framing::Chunked,
        ),
        (
            too_large("Content-Length 6 MB + 1", vec![b' '; LIMIT + 1]),
            Framing::ContentLength,
        ),
        (valid.clone(), Framing::Chunked),
    ];
    for (case, _) in &framed {
        *by_category.entry(case.category).or_default() += 1;
    }
    sent += replay(
        &with_bucket,
        &fx,
        framed.iter().map(|(c, f)| (c, *f)),
        &mut statuses,
        &mut failures,
    );
    // A body cut short: the server answers 400 bad_request if it still can, and goes on.
    let mut short = valid.clone();
    short.name = "body shorter than its Content-Length".into();
    short.expect = Expect::Refused {
        status: 400,
        code: "bad_request",
    };
    match send(with_bucket.addr, &short, Framing::Short) {
        Ok(a) => {
            if let Err(e) = check(&fx, &short, &a) {
                failures.push(format!("{}: {e}", short.name));
            }
        }
        Err(e) => failures.push(format!("{}: {e}", short.name)),
    }

    // Requests that are not HTTP at all never reach the function: hyper answers them with
    // a bare 4xx of its own (no JSON) or closes the connection; the server goes on.
    let garbage: [&[u8]; 6] = [
        b"GARBAGE\r\n\r\n",
        b"POST /diff HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
        b"POST /diff HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /diff HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST /diff HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /d\xffiff HTTP/1.1\r\n\r\n",
    ];
    for raw in garbage {
        let mut stream = TcpStream::connect(with_bucket.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(raw).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let status = parse(&answer, false).map(|a| a.status);
        assert!(
            answer.is_empty() || matches!(status, Ok(400..=499)),
            "{:?} was answered {:?}",
            String::from_utf8_lossy(raw),
            String::from_utf8_lossy(&answer)
        );
        sent += 1;
    }

    // Still serving, and still computing, up to a request near the limit.
    assert!(
        with_bucket.alive() && no_bucket.alive(),
        "picrypt serve died"
    );
    for server in [&with_bucket, &no_bucket] {
        let a = send(server.addr, &valid, Framing::ContentLength).unwrap();
        check(&fx, &valid, &a).unwrap_or_else(|e| panic!("valid diff after the battery: {e}"));
    }
    near_limit_diff(with_bucket.addr);

    let peak = with_bucket.memory("VmHWM");
    let bound = baseline + 10 * LIMIT as u64;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "battery over HTTP: {sent} requests in {:.1?}; cases by category: {by_category:?}; answers by status: {statuses:?}",
        started.elapsed()
    );
    eprintln!(
        "picrypt serve memory: baseline VmRSS {:.1} MiB, peak VmHWM {:.1} MiB, bound {:.1} MiB (baseline + 10 × the {:.0} MiB limit)",
        mib(baseline),
        mib(peak),
        mib(bound),
        mib(LIMIT as u64)
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} answers were wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        statuses.keys().all(|&s| s < 500),
        "server errors: {statuses:?}"
    );
    assert!(sent > 2000, "only {sent} requests");
    assert!(
        peak < bound,
        "peak memory {peak} bytes over the bound {bound}"
    );
}

/// A valid diff request just under the 6 MB limit (two 1005×642 RGB mask ciphertexts):
/// computed, and the result decrypts to the difference.
fn near_limit_diff(addr: SocketAddr) {
    use picrypt_core::{verify, Key, Op, Scheme};
    let key = Key::generate(Scheme::MASK).unwrap();
    let a = battery_matrix::image(1005, 642, 3, [0, 255], 1);
    let b = battery_matrix::image(1005, 642, 3, [255, 0], 2);
    let (ca, cb) = (
        key.encrypt(&a).unwrap().to_bytes(),
        key.encrypt(&b).unwrap().to_bytes(),
    );
    let body = serde_json::json!({
        "a": battery_matrix::inline(&ca),
        "b": battery_matrix::inline(&cb),
    });
    let case = Case::json("valid", "diff near the limit", &body);
    assert!(case.body.len() > LIMIT - 600_000 && case.body.len() <= LIMIT);
    let answer = send(addr, &case, Framing::ContentLength).unwrap();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let result = battery_matrix::inline_result(&answer.body).unwrap();
    let checked = verify::check_result(Op::Sub, &ca, &cb, &result).unwrap();
    let pt = checked.decrypt(&key).unwrap();
    let expected: Vec<i16> = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as i16 - y as i16)
        .collect();
    assert!(pt.values() == expected, "wrong difference near the limit");
}
