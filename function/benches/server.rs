//! Server-side cost of `POST /diff` for the demo-size pair (1005×642 RGB), measured in one
//! run against the floor it cannot beat: base64-decoding its two inputs and encoding its
//! output. Then end to end over loopback: `picrypt serve`'s server in-process, and the
//! function under `cargo lambda watch` when `PICRYPT_E2E_LAMBDA_URL` points at it.
//!
//! `cargo bench -p picrypt-function --bench server`
//! (with cargo lambda watch: start it as tests/run.sh does and export PICRYPT_E2E_LAMBDA_URL)

use std::time::{Duration, Instant};

use base64::Engine;
use picrypt_api::DiffResponse;
use picrypt_core::Image;
use picrypt_core::{Key, Scheme};
use picrypt_function::{handle, App, Config};

const FUNCTION_URL: &str = include_str!("../tests/events/function_url.json");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn image(seed: u64) -> Image {
    let mut x = seed | 1;
    let data = (0..1005 * 642 * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Image::new(1005, 642, 3, data).unwrap()
}

fn event(body: &str) -> lambda_http::Request {
    let mut v: serde_json::Value = serde_json::from_str(FUNCTION_URL).unwrap();
    v["body"] = serde_json::json!(body);
    lambda_http::request::from_str(&v.to_string()).unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn post(client: &reqwest::Client, url: &str, body: &str) -> (f64, DiffResponse) {
    let t = Instant::now();
    let r = client
        .post(format!("{url}/diff"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{}", r.status());
    let bytes = r.bytes().await.unwrap();
    let wall = ms(t.elapsed());
    (wall, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::main]
async fn main() {
    let runs = 15;
    let key = Key::generate(Scheme::MASK).unwrap();
    let a = key.encrypt(&image(1)).unwrap().to_bytes();
    let b = key.encrypt(&image(2)).unwrap().to_bytes();
    let b64 = base64::engine::general_purpose::STANDARD;
    let body =
        serde_json::json!({"a": {"inline": b64.encode(&a)}, "b": {"inline": b64.encode(&b)}})
            .to_string();
    let result_len = picrypt_core::ops::apply_bytes(picrypt_core::ops::Op::Sub, &a, &b)
        .unwrap()
        .len();
    println!(
        "demo-size pair 1005×642×3: ciphertexts {} + {} bytes, request {} bytes, result {} bytes\n",
        a.len(),
        b.len(),
        body.len(),
        result_len
    );

    // The floor: base64-decode both inputs and encode an output of the result's size.
    let (ea, eb) = (b64.encode(&a), b64.encode(&b));
    let out = vec![0x5au8; result_len];
    let floor = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let da = b64.decode(&ea).unwrap();
                let db = b64.decode(&eb).unwrap();
                let e = b64.encode(&out);
                std::hint::black_box((da, db, e));
                ms(t.elapsed())
            })
            .collect(),
    );

    // The handler in-process, fed a Function URL event.
    let app = App {
        config: Config::default(),
        s3: None,
    };
    let mut server = Vec::new();
    let (mut decode, mut compute, mut encode) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let req = event(&body);
        let r = handle(&app, req).await;
        let v: DiffResponse = serde_json::from_slice(r.body().as_ref()).unwrap();
        server.push(v.server_ms);
        decode.push(v.timing.decode_ms);
        compute.push(v.timing.compute_ms);
        encode.push(v.timing.encode_ms);
    }
    let server = median(server);
    println!("| measured in this run | median ms |");
    println!("|---|---|");
    println!("| floor: base64-decode both inputs + encode the output | {floor:.2} |");
    println!("| handler server_ms (JSON parse, decode, validate, subtract, encode, JSON) | {server:.2} |");
    println!("|   decode (JSON + base64) | {:.2} |", median(decode));
    println!(
        "|   compute (parse + validate + subtract) | {:.2} |",
        median(compute)
    );
    println!("|   encode (base64 + JSON) | {:.2} |", median(encode));
    println!(
        "| **ratio server / floor** (goal ≤ 3×) | **{:.2}×** |",
        server / floor
    );

    // End to end over loopback.
    let client = reqwest::Client::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let local = picrypt_function::LocalServer::new(App {
        config: Config::default(),
        s3: None,
    });
    tokio::spawn(local.serve(listener));
    let mut targets = vec![("picrypt serve (loopback)", url)];
    if let Ok(u) = std::env::var("PICRYPT_E2E_LAMBDA_URL") {
        targets.push(("cargo lambda watch (loopback)", u));
    }
    for (name, url) in targets {
        post(&client, &url, &body).await;
        let mut wall = Vec::new();
        let mut srv = Vec::new();
        for _ in 0..runs {
            let (w, r) = post(&client, &url, &body).await;
            wall.push(w);
            srv.push(r.server_ms);
        }
        println!(
            "| end to end, {name}: request → response | {:.2} (server {:.2}) |",
            median(wall),
            median(srv)
        );
    }
}
