//! `DIR/manifest.json`: what a sequence run has finished, so running the same command again
//! resumes. Per pair it records both frames (names and BLAKE3 digests of their decoded
//! samples), the key id, the BLAKE3 digest of every output file, and the pair's statistics.
//! A pair is redone exactly when a frame's digest, the key, or a setting that changes
//! outputs differs, or when one of its outputs is missing or no longer has its digest — a
//! file of the right name is not enough. It also records a fan-out run that was started
//! and not yet collected ([`Pending`]), so that the same command finds it again.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::Result;
use picrypt_core::render::ChangeStats;
use picrypt_core::Image;
use serde::{Deserialize, Serialize};

use super::fanout::Pending;
use crate::files;

/// The manifest's file name in the output folder.
pub const FILE: &str = "manifest.json";

/// What the document says it is, so another JSON file is never taken for a manifest.
const FORMAT: &str = "picrypt-sequence-manifest";
const VERSION: u32 = 1;

/// The settings that change a pair's outputs: a run with others redoes every pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub op: String,
    pub render: String,
    pub threshold: u16,
    /// `previous`, `frame N`, or `file` (the reference file's digest is each pair's
    /// `before` digest).
    pub against: String,
}

/// One frame of a pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameInfo {
    /// Its number in the sequence (1 for the first); none for a reference file.
    pub number: Option<usize>,
    pub name: String,
    /// BLAKE3 of its shape and samples, hex.
    pub digest: String,
}

/// The statistics of a pair's difference, as `picrypt run` reports them
/// (`picrypt_core::render::stats`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    pub width: u32,
    pub height: u32,
    pub threshold: u16,
    pub changed_pixels: u64,
    pub total_pixels: u64,
    pub bounding_box: Option<[u32; 4]>,
    pub max_abs: u16,
    pub mean_abs: f64,
}

impl Statistics {
    /// Changed pixels over all pixels, 0 to 1.
    pub fn changed_fraction(&self) -> f64 {
        self.changed_pixels as f64 / self.total_pixels.max(1) as f64
    }
}

impl From<&ChangeStats> for Statistics {
    fn from(s: &ChangeStats) -> Statistics {
        Statistics {
            width: s.width,
            height: s.height,
            threshold: s.threshold,
            changed_pixels: s.changed_pixels,
            total_pixels: s.total_pixels,
            bounding_box: s.bounding_box,
            max_abs: s.max_abs,
            mean_abs: s.mean_abs,
        }
    }
}

/// A finished pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Its number in this run's order (1 for the first).
    pub pair: usize,
    pub before: FrameInfo,
    pub after: FrameInfo,
    pub key_id: String,
    /// Each output's file name in the folder, and the BLAKE3 of its bytes (hex).
    pub outputs: BTreeMap<String, String>,
    pub statistics: Statistics,
}

#[derive(Serialize, Deserialize)]
struct Document {
    format: String,
    version: u32,
    settings: Settings,
    pairs: Vec<Record>,
    /// A fan-out run started and not yet collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fanout: Option<Pending>,
}

/// BLAKE3 of a decoded frame: its shape, then its samples.
pub fn frame_digest(image: &Image) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&image.width().to_le_bytes());
    h.update(&image.height().to_le_bytes());
    h.update(&[image.channels()]);
    h.update(image.data());
    h.finalize().to_hex().to_string()
}

/// BLAKE3 of a file's bytes, hex.
pub fn bytes_digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The manifest a run started from, and where it writes its own.
pub struct Manifest {
    path: PathBuf,
    dir: PathBuf,
    settings: Settings,
    /// The earlier run's pairs, by (before, after) names, when its settings were these.
    earlier: HashMap<(String, String), Record>,
    /// Why nothing of the earlier run is reused, when there was one.
    pub note: Option<String>,
    /// The fan-out run in progress, whatever the settings: saved with every record.
    pending: Mutex<Option<Pending>>,
}

impl Manifest {
    /// The manifest in `dir`, if any, for a run with `settings`. A missing one is an empty
    /// start; one that does not parse, or has other settings, is noted and ignored (every
    /// pair is redone, and the file is replaced at the first save).
    pub fn load(dir: &Path, settings: Settings) -> Manifest {
        let path = dir.join(FILE);
        let mut manifest = Manifest {
            path: path.clone(),
            dir: dir.to_path_buf(),
            settings,
            earlier: HashMap::new(),
            note: None,
            pending: Mutex::new(None),
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return manifest;
        };
        let doc = match serde_json::from_slice::<Document>(&bytes) {
            Ok(doc) if doc.format == FORMAT && doc.version == VERSION => doc,
            Ok(_) | Err(_) => {
                manifest.note = Some(format!(
                    "{} is not a manifest this version of picrypt reads: every pair is redone",
                    path.display()
                ));
                return manifest;
            }
        };
        *manifest.pending() = doc.fanout;
        if doc.settings != manifest.settings {
            manifest.note = Some(format!(
                "the settings differ from the last run in this folder ({}): every pair is redone",
                describe_change(&doc.settings, &manifest.settings)
            ));
            return manifest;
        }
        manifest.earlier = doc
            .pairs
            .into_iter()
            .map(|r| ((r.before.name.clone(), r.after.name.clone()), r))
            .collect();
        manifest
    }

    /// The earlier run's record of this pair, when it still stands: the same frames (by
    /// digest), the same key, and every output in `outputs` present with its digest.
    pub fn reusable(
        &self,
        before: &FrameInfo,
        after: &FrameInfo,
        key_id: &str,
        outputs: &[String],
    ) -> Option<Record> {
        let record = self
            .earlier
            .get(&(before.name.clone(), after.name.clone()))?;
        let same = record.before.digest == before.digest
            && record.after.digest == after.digest
            && record.key_id == key_id
            && outputs.iter().all(|name| {
                record.outputs.get(name).is_some_and(|digest| {
                    std::fs::read(self.dir.join(name)).is_ok_and(|b| bytes_digest(&b) == *digest)
                })
            });
        same.then(|| Record {
            before: before.clone(),
            after: after.clone(),
            ..record.clone()
        })
    }

    /// The earlier run's records of pairs that are not among `current` (their frames left
    /// the sequence): their outputs are this tool's own, and stale.
    pub fn stale<'a>(&'a self, current: &'a BTreeMap<usize, Record>) -> Vec<&'a Record> {
        let kept: std::collections::HashSet<(&str, &str)> = current
            .values()
            .map(|r| (r.before.name.as_str(), r.after.name.as_str()))
            .collect();
        self.earlier
            .iter()
            .filter(|((b, a), _)| !kept.contains(&(b.as_str(), a.as_str())))
            .map(|(_, r)| r)
            .collect()
    }

    /// The fan-out run in progress, if any (set or cleared to save it with the records).
    pub fn pending(&self) -> MutexGuard<'_, Option<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the manifest of `records` (atomically: a reader sees the old one or the new).
    pub fn save(&self, records: &BTreeMap<usize, Record>) -> Result<()> {
        let doc = Document {
            format: FORMAT.to_string(),
            version: VERSION,
            settings: self.settings.clone(),
            pairs: records.values().cloned().collect(),
            fanout: self.pending().clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        files::write_atomic(&self.path, &bytes)
    }
}

/// What changed between two runs' settings, in words.
fn describe_change(old: &Settings, new: &Settings) -> String {
    let mut parts = Vec::new();
    if old.op != new.op {
        parts.push(format!("--op {} then, {} now", old.op, new.op));
    }
    if old.render != new.render {
        parts.push(format!("--render {} then, {} now", old.render, new.render));
    }
    if old.threshold != new.threshold {
        parts.push(format!(
            "--threshold {} then, {} now",
            old.threshold, new.threshold
        ));
    }
    if old.against != new.against {
        parts.push(format!("against {} then, {} now", old.against, new.against));
    }
    parts.join("; ")
}
