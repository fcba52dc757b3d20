//! The PICRYPT function: subtracts two encrypted images without any key.
//!
//! [`handler::handle`] is a plain async function from an HTTP request to an HTTP response;
//! `main.rs` wires it to the Lambda runtime (Function URL or API Gateway HTTP API, payload
//! format 2.0) and [`serve`] to a plain local HTTP server (`picrypt serve`). All ciphertext
//! work is a call into `picrypt-core`.

pub mod api;
pub mod config;
pub mod handler;
pub mod serve;
#[cfg(feature = "s3")]
pub mod storage;

pub use config::Config;
pub use handler::{handle, App};

/// Largest request or response body Lambda accepts synchronously: 6 MB (6 MiB).
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Logs to stderr without colours (CloudWatch shows escape codes verbatim); `RUST_LOG`
/// sets the level, `info` by default.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}
