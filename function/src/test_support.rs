//! Test helpers: a real S3-protocol server on loopback and clients for it.
//!
//! [`S3Server::start`] uses the server named by `PICRYPT_TEST_S3_ENDPOINT` when it is set
//! (tests/run.sh starts one for the whole run), and otherwise starts `moto_server` (PyPI
//! `moto[server]`) on a free loopback port for the lifetime of the value.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment for AWS clients talking to the loopback server: fixed test credentials, a
/// region, and no instance-metadata lookups (tests must never leave loopback).
pub const AWS_TEST_ENV: [(&str, &str); 5] = [
    ("AWS_ACCESS_KEY_ID", "picrypt-test"),
    ("AWS_SECRET_ACCESS_KEY", "picrypt-test-secret"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
];

pub struct S3Server {
    pub endpoint: String,
    child: Option<Child>,
}

impl S3Server {
    pub fn start() -> S3Server {
        if let Ok(endpoint) = std::env::var("PICRYPT_TEST_S3_ENDPOINT") {
            return S3Server {
                endpoint,
                child: None,
            };
        }
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]' (tests/run.sh does)")
            });
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        wait_for_port(port, Duration::from_secs(30));
        server
    }

    /// Clients for an endpoint this value does not manage (e.g. one where nothing listens).
    pub fn at(endpoint: String) -> S3Server {
        S3Server {
            endpoint,
            child: None,
        }
    }

    /// An S3 client for this server.
    pub fn client(&self) -> aws_sdk_s3::Client {
        let creds = aws_sdk_s3::config::Credentials::new(
            AWS_TEST_ENV[0].1,
            AWS_TEST_ENV[1].1,
            None,
            None,
            "picrypt-test",
        );
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Creates a bucket with a unique name and returns the name.
    pub async fn bucket(&self, stem: &str) -> String {
        let mut suffix = [0u8; 6];
        getrandom::getrandom(&mut suffix).unwrap();
        let name = format!(
            "{stem}-{}",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        self.client()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        name
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on the loopback port.
pub fn wait_for_port(port: u16, limit: Duration) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < limit,
            "nothing listening on {addr} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
