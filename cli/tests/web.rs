//! `picrypt web`: it serves the page on loopback only, and `--check URL` tells whether a
//! function serves byte for byte the page embedded in this binary. (The page itself is
//! tested in headless Chromium: tests/browser, run by tests/web.sh.)

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn picrypt() -> Command {
    Command::cargo_bin("picrypt").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn web_serves_the_embedded_page_on_loopback() {
    let web = common::serve(picrypt().args(["web", "--no-open", "--addr", "127.0.0.1:0"]));
    let body = plain_http::get(&format!("{}/", web.url));
    assert_eq!(body, picrypt_web::ASSETS[0].body);
    // And it is the page a function serves: --check against it passes.
    let out = picrypt()
        .args(["web", "--check", &web.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("byte for byte the one in this binary"));
}

#[test]
fn check_passes_for_picrypt_serve() {
    let serve = common::serve(picrypt().args(["serve", "--addr", "127.0.0.1:0"]));
    let out = picrypt()
        .args(["web", "--check", &serve.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for asset in picrypt_web::ASSETS {
        assert!(
            stdout.contains(asset.name) || asset.name == "index.html",
            "{stdout}"
        );
    }
}

/// A server that answers every request with the same body: a page that is not ours.
fn impostor(body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-security-policy: {}\r\nconnection: close\r\n\r\n",
                body.len(),
                picrypt_web::CONTENT_SECURITY_POLICY
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    url
}

#[test]
fn check_fails_for_any_other_page() {
    let url = impostor(b"<!doctype html><script src=\"https://evil.example/steal.js\"></script>");
    let out = picrypt().args(["web", "--check", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("is not the one in this binary")
            && stderr.contains("do not give it your keys")
            && stderr.contains("picrypt web --url"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("DIFFERS"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn web_refuses_addresses_other_than_loopback() {
    let out = picrypt()
        .args(["web", "--no-open", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("serves the page on loopback only"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}

mod plain_http {
    /// A GET over a plain TCP stream (reqwest is async only here); checks the page headers.
    pub fn get(url: &str) -> Vec<u8> {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(
            head.contains("content-security-policy: default-src 'none'"),
            "{head}"
        );
        response[split + 4..].to_vec()
    }
}
