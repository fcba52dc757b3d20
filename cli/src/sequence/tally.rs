//! Where a sequence run's time goes, stage by stage, and how much work it did: shared by
//! the threads and tasks of a run, read once at the end (`--json` reports it, and
//! `cli/benches/sequence.rs` reads it from there).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A stage of the work on a frame or a pair.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// Reading and decoding a frame, and its digest.
    Decode,
    Encrypt,
    /// Uploading ciphertexts (S3 only).
    Upload,
    /// From sending a pair to having its result: the round trip (in process: the
    /// subtraction itself).
    Request,
    /// The part of `Request` the function reports as its own.
    Server,
    /// Downloading results (S3 only).
    Download,
    /// Checking a result against its inputs, and decrypting it.
    Check,
    /// Rendering, encoding and writing a pair's outputs.
    Render,
}

impl Stage {
    const ALL: [Stage; 8] = [
        Stage::Decode,
        Stage::Encrypt,
        Stage::Upload,
        Stage::Request,
        Stage::Server,
        Stage::Download,
        Stage::Check,
        Stage::Render,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Encrypt => "encrypt",
            Stage::Upload => "upload",
            Stage::Request => "request",
            Stage::Server => "server",
            Stage::Download => "download",
            Stage::Check => "check_decrypt",
            Stage::Render => "render",
        }
    }
}

/// Time per stage (summed over frames and pairs, so stages that overlap add up to more
/// than the wall time), and counts of frames encrypted and uploaded.
#[derive(Default)]
pub struct Tally {
    nanos: [AtomicU64; 8],
    encrypted: AtomicU64,
    uploaded: AtomicU64,
}

impl Tally {
    pub fn add(&self, stage: Stage, took: Duration) {
        self.nanos[stage as usize].fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn encrypted(&self) {
        self.encrypted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn uploaded(&self) {
        self.uploaded.fetch_add(1, Ordering::Relaxed);
    }

    /// Frames encrypted and frames uploaded so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.encrypted.load(Ordering::Relaxed),
            self.uploaded.load(Ordering::Relaxed),
        )
    }

    /// Milliseconds per stage, by stage name.
    pub fn to_json(&self) -> serde_json::Value {
        Stage::ALL
            .iter()
            .map(|&s| {
                let ms = self.nanos[s as usize].load(Ordering::Relaxed) as f64 / 1e6;
                (s.name().to_string(), serde_json::json!(ms))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}
