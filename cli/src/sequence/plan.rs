//! Which pairs a sequence makes, which of them still need computing, and which frames must
//! be encrypted for those: each frame at most once, and only when a pair that needs
//! computing uses it. Frames arrive one at a time; a frame's image is kept only as long as
//! a later pair may still need to encrypt it, and its ciphertext only as long as a pending
//! pair holds it, so memory does not grow with the number of frames.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use picrypt_core::Image;

use super::engine::Encrypted;
use super::manifest::{FrameInfo, Record};

/// What each frame is compared with (`--against`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Against {
    /// The frame before it: frame i − frame i+1, as `picrypt run BEFORE AFTER`.
    Previous,
    /// Frame N of the sequence (1 for the first): frame N − frame i for every other frame.
    Frame(usize),
    /// An image file outside the sequence: FILE − frame i for every frame.
    File(PathBuf),
}

impl Against {
    /// `first`, a frame number, or a file name.
    pub fn parse(value: &str) -> Result<Against, String> {
        match value {
            "" => Err("name a reference: first, a frame number, or an image file".into()),
            "first" => Ok(Against::Frame(1)),
            "previous" => Ok(Against::Previous),
            n if n.bytes().all(|b| b.is_ascii_digit()) => match n.parse::<usize>() {
                Ok(0) | Err(_) => Err(format!(
                    "{n}: frames are numbered from 1 (the first); write ./{n} for a file of that name"
                )),
                Ok(n) => Ok(Against::Frame(n)),
            },
            file => Ok(Against::File(PathBuf::from(file))),
        }
    }

    /// The setting as the manifest records it.
    pub fn setting(&self) -> String {
        match self {
            Against::Previous => "previous".into(),
            Against::Frame(n) => format!("frame {n}"),
            Against::File(_) => "file".into(),
        }
    }
}

/// A pair to compute: `before − after` of two ciphertexts, and the after image when the
/// render draws over it.
pub struct Job {
    pub number: usize,
    pub before: Arc<Encrypted>,
    pub after: Arc<Encrypted>,
    pub after_image: Option<Arc<Image>>,
}

impl Job {
    /// The pair in words: `pair 3 (f10 − f11)`.
    pub fn describe(&self) -> String {
        describe(self.number, &self.before.info, &self.after.info)
    }
}

/// A pair in words: `pair 3 (f10 − f11)`.
pub fn describe(number: usize, before: &FrameInfo, after: &FrameInfo) -> String {
    format!("pair {number} ({} − {})", before.name, after.name)
}

/// What to do about the next pair.
pub enum Step {
    Compute(Job),
    /// The earlier run's record stands (its outputs are there, with their digests).
    Reuse(Box<Record>),
}

/// A frame the planner still holds: its image until it is encrypted or no longer needed.
pub struct Slot {
    info: FrameInfo,
    image: Arc<Image>,
    encrypted: Option<Arc<Encrypted>>,
}

impl Slot {
    pub fn new(info: FrameInfo, image: Image) -> Slot {
        Slot {
            info,
            image: Arc::new(image),
            encrypted: None,
        }
    }

    fn encrypted(&mut self, encrypt: &mut Encrypt<'_>) -> Result<Arc<Encrypted>> {
        if let Some(done) = &self.encrypted {
            return Ok(done.clone());
        }
        let done = Arc::new(encrypt(&self.info, &self.image)?);
        self.encrypted = Some(done.clone());
        Ok(done)
    }
}

/// A frame's ciphertext: encrypted now, or the one a fan-out run was given.
pub type Encrypt<'a> = dyn FnMut(&FrameInfo, &Image) -> Result<Encrypted> + 'a;
/// What becomes of a pair.
pub type Decide<'a> = dyn Fn(&FrameInfo, &FrameInfo) -> Decision + 'a;

/// What becomes of a pair in this run.
pub enum Decision {
    Compute,
    /// The earlier run's record of it still stands.
    Reuse(Box<Record>),
    /// Neither done nor for this run (collecting a fan-out run that was not given it).
    Skip,
}

/// Turns frames, in order, into pairs.
pub struct Planner {
    /// The fixed reference (`--against N` or `FILE`); `None`: each frame's predecessor.
    reference: Option<Slot>,
    previous: Option<Slot>,
    pairs: usize,
    /// Whether jobs carry the after image (the overlay render draws over it).
    keep_after: bool,
}

impl Planner {
    pub fn new(reference: Option<Slot>, keep_after: bool) -> Planner {
        Planner {
            reference,
            previous: None,
            pairs: 0,
            keep_after,
        }
    }

    /// The pair that frame `info` completes, if any: none for the first frame compared
    /// with its predecessor, nor for the reference frame itself, nor for a skipped pair.
    pub fn push(
        &mut self,
        info: FrameInfo,
        image: Image,
        decide: &Decide<'_>,
        encrypt: &mut Encrypt<'_>,
    ) -> Result<Option<Step>> {
        let mut current = Slot::new(info, image);
        let step = match self.reference.take() {
            Some(mut reference) => {
                let step = if reference.info.number.is_some()
                    && reference.info.number == current.info.number
                {
                    None
                } else {
                    self.pair(&mut reference, &mut current, decide, encrypt)?
                };
                self.reference = Some(reference);
                step
            }
            None => {
                let step = match self.previous.take() {
                    Some(mut previous) => {
                        self.pair(&mut previous, &mut current, decide, encrypt)?
                    }
                    None => None,
                };
                self.previous = Some(current);
                step
            }
        };
        Ok(step)
    }

    fn pair(
        &mut self,
        before: &mut Slot,
        after: &mut Slot,
        decide: &Decide<'_>,
        encrypt: &mut Encrypt<'_>,
    ) -> Result<Option<Step>> {
        self.pairs += 1;
        match decide(&before.info, &after.info) {
            Decision::Compute => {}
            Decision::Reuse(mut record) => {
                record.pair = self.pairs;
                return Ok(Some(Step::Reuse(record)));
            }
            Decision::Skip => return Ok(None),
        }
        Ok(Some(Step::Compute(Job {
            number: self.pairs,
            before: before.encrypted(encrypt)?,
            after: after.encrypted(encrypt)?,
            after_image: self.keep_after.then(|| after.image.clone()),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: usize) -> FrameInfo {
        FrameInfo {
            number: Some(n),
            name: format!("f{n}"),
            digest: format!("d{n}"),
        }
    }

    fn image(n: usize) -> Image {
        Image::new(1, 1, 1, vec![n as u8]).unwrap()
    }

    /// Runs frames 1..=n through a planner; the pairs as (before, after) numbers, what
    /// was reused, and the frames encrypted, in order. Pairs in `skipped` are not for
    /// this run.
    fn plan(
        reference: Option<usize>,
        n: usize,
        reused: &[(usize, usize)],
        skipped: &[(usize, usize)],
    ) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
        let mut encrypted = Vec::new();
        let mut encrypt = |i: &FrameInfo, _: &Image| {
            encrypted.push(i.number.unwrap());
            Ok(Encrypted::new(i.clone(), bytes::Bytes::new()))
        };
        let decide = |b: &FrameInfo, a: &FrameInfo| {
            let pair = (b.number.unwrap(), a.number.unwrap());
            if skipped.contains(&pair) {
                return Decision::Skip;
            }
            if !reused.contains(&pair) {
                return Decision::Compute;
            }
            Decision::Reuse(Box::new(Record {
                pair: 0,
                before: b.clone(),
                after: a.clone(),
                key_id: String::new(),
                outputs: Default::default(),
                statistics: super::super::manifest::Statistics {
                    width: 1,
                    height: 1,
                    threshold: 0,
                    changed_pixels: 0,
                    total_pixels: 1,
                    bounding_box: None,
                    max_abs: 0,
                    mean_abs: 0.0,
                },
            }))
        };
        let reference = reference.map(|r| Slot::new(info(r), image(r)));
        let mut planner = Planner::new(reference, false);
        let (mut computed, mut reused_pairs) = (Vec::new(), Vec::new());
        for i in 1..=n {
            match planner
                .push(info(i), image(i), &decide, &mut encrypt)
                .unwrap()
            {
                Some(Step::Compute(job)) => computed.push((
                    job.before.info.number.unwrap(),
                    job.after.info.number.unwrap(),
                )),
                Some(Step::Reuse(r)) => reused_pairs.push(r.pair),
                None => {}
            }
        }
        (computed, reused_pairs, encrypted)
    }

    #[test]
    fn consecutive_pairs_encrypt_each_frame_once() {
        let (pairs, reused, encrypted) = plan(None, 4, &[], &[]);
        assert_eq!(pairs, [(1, 2), (2, 3), (3, 4)]);
        assert!(reused.is_empty());
        assert_eq!(encrypted, [1, 2, 3, 4]);
    }

    #[test]
    fn frames_only_reused_pairs_need_are_not_encrypted() {
        let (pairs, reused, encrypted) = plan(None, 5, &[(1, 2), (2, 3)], &[]);
        assert_eq!(pairs, [(3, 4), (4, 5)]);
        assert_eq!(reused, [1, 2]);
        assert_eq!(encrypted, [3, 4, 5]);
    }

    #[test]
    fn skipped_pairs_keep_their_numbers_and_need_no_frames() {
        let (pairs, reused, encrypted) = plan(None, 5, &[(1, 2)], &[(3, 4), (4, 5)]);
        assert_eq!(pairs, [(2, 3)]);
        assert_eq!(reused, [1]);
        assert_eq!(encrypted, [2, 3]);
    }

    #[test]
    fn a_reference_frame_is_skipped_and_encrypted_once() {
        let (pairs, _, encrypted) = plan(Some(2), 4, &[(2, 1)], &[]);
        assert_eq!(pairs, [(2, 3), (2, 4)]);
        assert_eq!(encrypted, [2, 3, 4]);
    }

    #[test]
    fn against_values() {
        assert_eq!(Against::parse("first"), Ok(Against::Frame(1)));
        assert_eq!(Against::parse("12"), Ok(Against::Frame(12)));
        assert!(Against::parse("0").is_err());
        assert_eq!(
            Against::parse("ref.png"),
            Ok(Against::File("ref.png".into()))
        );
    }
}
