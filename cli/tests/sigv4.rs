//! The SigV4 signature the `picrypt` binary sends, checked against an independent
//! computation of the same request.
//!
//! A loopback server records the exact bytes the CLI sends. The verifier below implements
//! AWS Signature Version 4 from its specification with HMAC-SHA256 (RustCrypto `hmac`,
//! `sha2`), sharing no code with `aws-sigv4`, and is itself checked against the worked
//! example in AWS's documentation. The signature must match for the request as sent and
//! must stop matching when the body, path, host or date is altered; an unsigned request
//! carries no signature at all.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const ACCESS_KEY: &str = "AKIDPICRYPTEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "eu-west-1";

/// One HTTP request as it arrived on the socket.
#[derive(Clone, Debug)]
struct Captured {
    method: String,
    target: String,
    /// Header names lower-cased, values as sent, in arrival order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "header {name} sent twice");
        first
    }

    fn set_header(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.headers {
            if n == name {
                *v = value.to_string();
            }
        }
    }
}

/// A loopback server that records every request and refuses it with a PICRYPT-style 403,
/// so the CLI finishes with a one-line error after sending exactly one request.
fn recording_server() -> (String, Arc<Mutex<Vec<Captured>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_string();
            let target = parts.next().unwrap_or_default().to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end_matches(['\r', '\n']);
                if h.is_empty() {
                    break;
                }
                let (name, value) = h.split_once(':').expect("header line");
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.parse().unwrap())
                .expect("the CLI sends a Content-Length");
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(Captured {
                method,
                target,
                headers,
                body,
            });
            let answer =
                br#"{"error":{"code":"recorded","message":"request recorded by the test"}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                answer.len()
            );
            let _ = stream.write_all(answer);
        }
    });
    (url, seen)
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
struct Authorization {
    access_key: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(value: &str) -> Result<Authorization, String> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not an AWS4-HMAC-SHA256 authorization")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for field in rest.split(',') {
        let (name, value) = field.trim().split_once('=').ok_or("malformed field")?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            other => return Err(format!("unknown field {other}")),
        }
    }
    let scope: Vec<&str> = credential.ok_or("no Credential")?.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(format!("malformed credential scope {scope:?}"));
    };
    Ok(Authorization {
        access_key: access_key.into(),
        date: date.into(),
        region: region.into(),
        service: service.into(),
        signed_headers: signed
            .ok_or("no SignedHeaders")?
            .split(';')
            .map(String::from)
            .collect(),
        signature: signature.ok_or("no Signature")?.into(),
    })
}

/// The signature AWS would compute for `req` with `secret`, over the headers the request
/// says it signed (AWS SigV4, single-encoded ASCII paths and queries, as used here).
fn expected_signature(
    req: &Captured,
    auth: &Authorization,
    secret: &str,
) -> Result<String, String> {
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let mut query: Vec<&str> = query.split('&').filter(|q| !q.is_empty()).collect();
    query.sort_unstable();
    let mut sorted = auth.signed_headers.clone();
    sorted.sort();
    if sorted != auth.signed_headers {
        return Err("SignedHeaders are not sorted".into());
    }
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let value = req
            .header(name)
            .ok_or_else(|| format!("signed header {name} was not sent"))?;
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let payload_hash = sha256_hex(&req.body);
    if let Some(declared) = req.header("x-amz-content-sha256") {
        if declared != payload_hash {
            return Err("x-amz-content-sha256 does not match the body".into());
        }
    }
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        query.join("&"),
        canonical_headers,
        auth.signed_headers.join(";"),
        payload_hash
    );
    let amz_date = req.header("x-amz-date").ok_or("no x-amz-date header")?;
    if !amz_date.starts_with(&auth.date) {
        return Err(format!(
            "credential date {} is not the day of {amz_date}",
            auth.date
        ));
    }
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), &auth.date);
    for part in [auth.region.as_str(), auth.service.as_str(), "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    Ok(hex::encode(hmac_sha256(&key, &string_to_sign)))
}

/// Whether `req` carries a valid signature by `secret`.
fn verify(req: &Captured, secret: &str) -> Result<(), String> {
    let auth = parse_authorization(req.header("authorization").ok_or("unsigned")?)?;
    let expected = expected_signature(req, &auth, secret)?;
    if expected == auth.signature {
        Ok(())
    } else {
        Err(format!(
            "signature mismatch: sent {}, expected {expected}",
            auth.signature
        ))
    }
}

#[test]
fn verifier_reproduces_the_aws_documentation_example() {
    // "Create a signed AWS API request", AWS IAM user guide: GET ListUsers on IAM.
    let req = Captured {
        method: "GET".into(),
        target: "/?Action=ListUsers&Version=2010-05-08".into(),
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ),
            ("host".into(), "iam.amazonaws.com".into()),
            ("x-amz-date".into(), "20150830T123600Z".into()),
            (
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
                    .into(),
            ),
        ],
        body: Vec::new(),
    };
    verify(&req, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap();
    assert!(verify(&req, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ").is_err());
}

/// Two small mask containers to send.
fn containers(dir: &Path) {
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 5, y as u8 * 7, 90]));
    img.save(dir.join("a.png")).unwrap();
    image::RgbImage::from_fn(40, 30, |x, _| image::Rgb([x as u8, 3, 9]))
        .save(dir.join("b.png"))
        .unwrap();
    for args in [
        &["keygen", "-o", "k.key"][..],
        &["encrypt", "--key", "k.key", "a.png", "-o", "a.picrypt"],
        &["encrypt", "--key", "k.key", "b.png", "-o", "b.picrypt"],
    ] {
        Command::cargo_bin("picrypt")
            .unwrap()
            .current_dir(dir)
            .args(args)
            .assert()
            .success();
    }
}

/// Runs `picrypt diff … --url URL [extra]` with test credentials against the recording
/// server, which refuses it.
fn send(dir: &Path, url: &str, extra: &[&str], session_token: Option<&str>) {
    let mut cmd = Command::cargo_bin("picrypt").unwrap();
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .args([
            "diff",
            "a.picrypt",
            "b.picrypt",
            "-o",
            "d.picrypt",
            "--url",
            url,
        ])
        .args(extra);
    if let Some(token) = session_token {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("403 recorded: request recorded by the test"),
        "{stderr}"
    );
    assert!(!dir.join("d.picrypt").exists());
}

fn last(seen: &Mutex<Vec<Captured>>) -> Captured {
    let mut seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "expected exactly one request");
    seen.pop().unwrap()
}

#[test]
fn cli_signature_matches_an_independent_computation() {
    let dir = TempDir::new().unwrap();
    containers(dir.path());
    let (url, seen) = recording_server();
    let stage_url = format!("{url}/prod");

    for token in [None, Some("FQoGZXIvYXdzEXAMPLEsessiontoken//==")] {
        send(dir.path(), &stage_url, &["--sigv4"], token);
        let req = last(&seen);
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/prod/diff");
        verify(&req, SECRET_KEY).unwrap_or_else(|e| panic!("{e}\n{req:?}"));

        let auth = parse_authorization(req.header("authorization").unwrap()).unwrap();
        assert_eq!(auth.access_key, ACCESS_KEY);
        assert_eq!(auth.region, REGION);
        assert_eq!(auth.service, "lambda");
        for must in ["content-type", "host", "x-amz-date"] {
            assert!(
                auth.signed_headers.iter().any(|h| h == must),
                "{must} unsigned"
            );
        }
        assert_eq!(req.header("host"), url.strip_prefix("http://"));
        assert_eq!(req.header("x-amz-security-token"), token);
        if token.is_some() {
            assert!(auth
                .signed_headers
                .iter()
                .any(|h| h == "x-amz-security-token"));
        }
        // Signed now, not at some fixed or cached time.
        let amz_date = req.header("x-amz-date").unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let sent = parse_amz_date(amz_date);
        assert!(now.abs_diff(sent) < 300, "x-amz-date {amz_date} is not now");
        assert!(!req.body.is_empty());

        // Any change to what was signed breaks the signature.
        let wrong_secret = verify(&req, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ");
        assert!(wrong_secret.is_err());
        let mut body = req.clone();
        let middle = body.body.len() / 2;
        body.body[middle] ^= 1;
        assert!(
            verify(&body, SECRET_KEY).is_err(),
            "altered body still verifies"
        );
        let mut path = req.clone();
        path.target = "/prod/diff2".into();
        assert!(
            verify(&path, SECRET_KEY).is_err(),
            "altered path still verifies"
        );
        let mut host = req.clone();
        host.set_header("host", "evil.example:443");
        assert!(
            verify(&host, SECRET_KEY).is_err(),
            "altered host still verifies"
        );
        let mut date = req.clone();
        let later = format!("{}9Z", &amz_date[..amz_date.len() - 2]);
        date.set_header("x-amz-date", &later);
        assert!(
            amz_date == later || verify(&date, SECRET_KEY).is_err(),
            "altered date still verifies"
        );
        if token.is_some() {
            let mut tok = req.clone();
            tok.set_header("x-amz-security-token", "another-token");
            assert!(
                verify(&tok, SECRET_KEY).is_err(),
                "altered token still verifies"
            );
        }
    }
}

#[test]
fn unsigned_requests_carry_no_signature() {
    let dir = TempDir::new().unwrap();
    containers(dir.path());
    let (url, seen) = recording_server();
    // A loopback URL is not a Function URL, so without --sigv4 nothing is signed even
    // though credentials are in the environment.
    send(dir.path(), &url, &[], None);
    let req = last(&seen);
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("x-amz-date"), None);
    assert_eq!(verify(&req, SECRET_KEY), Err("unsigned".to_string()));
}

/// Seconds since the epoch of an `x-amz-date` (`YYYYMMDDTHHMMSSZ`), by days-from-civil.
fn parse_amz_date(s: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (hh, mm, ss) = (n(9..11), n(11..13), n(13..15));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + hh * 3600 + mm * 60 + ss) as u64
}
