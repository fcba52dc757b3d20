//! The PICRYPT function: subtracts two encrypted images without any key.
//!
//! [`handle`] is a plain async function from an HTTP request to an HTTP response, and
//! [`invoke`] one from any Lambda invocation to its answer: a Function URL or API Gateway
//! HTTP API event (payload format 2.0) goes through [`handle`], any other payload is a
//! direct invocation whose payload is the diff request document itself. `main.rs` wires
//! [`invoke`] to the Lambda runtime, and [`LocalServer`] serves [`handle`] as a plain local
//! HTTP server (`picrypt serve`). The wire types,
//! error codes and limits are `picrypt-api`'s; all ciphertext work is a call into
//! `picrypt-core`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod handler;
mod invoke;
mod serve;
mod spare;
#[cfg(feature = "s3")]
mod storage;
#[cfg(feature = "s3")]
mod stream;

pub use config::Config;
pub use handler::{handle, App, S3Client};
pub use invoke::{invoke, Answer};
pub use serve::{Forward, ForwardFuture, Forwarded, LocalServer};

/// Has the allocator map every buffer of a MiB or more on its own and unmap it when freed.
/// A streamed diff allocates and frees megabyte chunks and parts on several threads;
/// glibc otherwise raises its mmap threshold to the largest block freed and keeps such
/// blocks in per-thread arenas, so the peak memory crept up with the size of the image
/// (66 → 124 MB from 6.25 to 25 MP in `cli/tests/scale.rs`). The Lambda's `main` and
/// `picrypt serve` call it before serving.
#[allow(unsafe_code)] // the crate's one FFI call
pub fn return_large_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator, under its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Logs to stderr without colours (CloudWatch shows escape codes verbatim); `RUST_LOG`
/// sets the level (`debug`, or `target=level` directives such as `warn,picrypt_function=debug`),
/// `info` by default.
pub fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .finish()
        .with(filter)
        .try_init();
}
