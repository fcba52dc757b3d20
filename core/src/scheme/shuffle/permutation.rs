//! Bit-exact reimplementation of the pixel-shuffling scramblers `Rand` and
//! `RandBlock` of the Python library imageshuffle 0.2.2 (M. Tanaka, "Learnable
//! Image Encryption", ICCE-TW 2018).
//!
//! PICRYPT's legacy scheme must read and write images that the Python library
//! produced, so every step below reproduces the library's arithmetic exactly:
//! the same IEEE-754 double operations in the same order (no fused
//! multiply-add), the same number of discarded iterates and the same
//! permutation convention.
//!
//! # Ties
//!
//! A permutation sorts the draws with `numpy.argsort`, whose default sort is
//! not stable: when two draws are exactly equal, the order of their indices is
//! whatever numpy's sort happens to leave. Here equal draws keep index order
//! (as `kind="stable"` would). Among independent random doubles such ties
//! would be very rare, but the logistic map in double precision has finitely
//! many states and falls into a cycle: for key 99999 the iterates repeat with
//! period 1,948,875 after a tail of 783,430 steps, so draw 2,732,204 equals
//! draw 783,329 (counting from 0), and every `Rand` image of more than
//! 2,732,204 samples (1024x1024x3, say) has ties under that key. Other keys
//! tested reach cycles of 4,670,978 or 7,690,229 after tails of up to 65
//! million steps. No reference vector has a tie, nor has a 1005x642x3 image
//! under keys 10001, 54321 or 99999. Where ties exist, the Python library's
//! output depends on numpy's sort, and can differ from this one only in the
//! positions of the tied samples.
//!
//! The algorithm depends on `std` and `rayon` only; `shuffle/mod.rs` maps it onto
//! PICRYPT keys, containers and server operations.

use rayon::prelude::*;

use super::variant::Variant;

/// Largest image, in samples (height x width x channels), that a permutation
/// may cover. Indices are stored as `u32`, and building a permutation takes
/// about 20 bytes per sample (5 GiB at this limit).
pub const MAX_SAMPLES: usize = 1 << 28;

/// Parameter of the logistic map; the library uses `4 - 1e-12` rather than 4
/// so that the map sends (0, 1) into itself and never reaches 0.
const LOGISTIC_A: f64 = 4.0 - 1e-12;

/// The library discards this many iterates after seeding, to move away from
/// the key-dependent starting point before drawing.
const WARM_UP: usize = 100;

/// Why a permutation cannot be built or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShuffleError {
    /// A block with a zero side covers nothing.
    #[error("block size {height}x{width} has a zero side")]
    ZeroBlock {
        /// Requested block height.
        height: u32,
        /// Requested block width.
        width: u32,
    },
    /// The library would silently leave such an image unencrypted; refuse it.
    #[error(
        "block {block_height}x{block_width} does not fit in an image of {height}x{width} pixels"
    )]
    BlockLargerThanImage {
        /// Requested block height.
        block_height: u32,
        /// Requested block width.
        block_width: u32,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// The image has more than [`MAX_SAMPLES`] samples.
    #[error("an image of {height}x{width}x{channels} samples exceeds the limit of {MAX_SAMPLES}")]
    TooManySamples {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// Channels per pixel.
        channels: usize,
    },
    /// A slice does not hold the number of samples its shape calls for.
    #[error("expected {expected} samples, got {actual}")]
    LengthMismatch {
        /// Samples the shape calls for.
        expected: usize,
        /// Samples supplied.
        actual: usize,
    },
}

/// The library's seed: `float(key) / MAX_UINT32 * (1 - 2e-12) + 1e-12`.
///
/// The evaluation order matters for bit-exactness: Python divides first, then
/// scales into [1e-12, 1 - 1e-12] so that neither 0 nor 1 (fixed points of the
/// map) can be a seed.
fn seed(key: u32) -> f64 {
    f64::from(key) / 4_294_967_295.0 * (1.0 - 2e-12) + 1e-12
}

/// One iterate, `a*x*(1-x)` as Python evaluates it: `(a*x)*(1-x)`.
fn step(x: f64) -> f64 {
    LOGISTIC_A * x * (1.0 - x)
}

/// The library's random stream for `key`: iterates 101, 102, ... of the map.
fn draws(key: u32) -> impl Iterator<Item = f64> {
    std::iter::successors(Some(seed(key)), |&x| Some(step(x))).skip(WARM_UP + 1)
}

/// The first `n` draws of the stream for `key`, exactly as the library makes
/// them. Every permutation restarts the stream, so these are also the values
/// that a permutation of `n` samples sorts.
pub fn logistic_draws(key: u32, n: usize) -> Vec<f64> {
    draws(key).take(n).collect()
}

/// The sort spreads the draws over 2^TOP_BITS buckets by the top bits of
/// their [`bucket_key`], then orders every bucket on its own, in cache and in
/// parallel. 256 buckets keep the spreading pass's write positions within
/// 16 KiB of cache lines, which the L1 cache holds.
const TOP_BITS: u32 = 8;
/// Inside a bucket, one counting pass on the next bits of the key, about one
/// bin per item but at most 2^MAX_SUB_BITS bins (32 KiB of counters), leaves
/// groups of about one item to sort.
const MAX_SUB_BITS: u32 = 13;

/// Maps a draw in (0, 1) to a 32-bit key that never decreases as the draw
/// grows, and that spreads the draws almost evenly over the 32-bit range.
///
/// The draws follow the arcsine law (density 1/(pi*sqrt(x(1-x)))), crowded at
/// both ends. Taking `sqrt(x)` below 1/2 and `-sqrt(1-x)` above it flattens
/// that density to within a factor 1.5, so sorting on the key alone orders all
/// but a few hundred pairs out of two million; those share a key and are put
/// in order afterwards. Every operation used (`1-x`, which is exact on
/// [1/2, 1], `sqrt`, multiplication by a positive constant, the saturating
/// cast) is monotone, and the lower half maps below 2^31, the upper half at or
/// above it. The function is branch-free because the half is a coin toss.
fn bucket_key(x: f64) -> u32 {
    const HALF: u32 = 1 << 31;
    /// sqrt(1/2) maps to 2^31.
    const SCALE: f64 = std::f64::consts::SQRT_2 * 2_147_483_648.0;
    let upper = u32::from(x >= 0.5);
    let distance = x.min(1.0 - x);
    let scaled = ((distance.sqrt() * SCALE) as u32).min(HALF - 1);
    // For the upper half, u32::MAX - scaled, i.e. !scaled.
    scaled ^ upper.wrapping_neg()
}

/// The top-level bucket of a draw with key `key`.
fn top_bucket(key: u32) -> usize {
    (key >> (32 - TOP_BITS)) as usize
}

/// `Rand(key)`'s permutation of `n` samples: `numpy.argsort` of the first `n`
/// draws, i.e. the indices that put them in ascending order.
///
/// Exactly equal draws keep their index order (see the module's notes on
/// ties).
///
/// A comparison sort of two million doubles takes far too long. Instead each
/// draw is carried as `bucket_key << 32 | index` in a `u64`, so that plain
/// integer order is (key, index) order: one pass spreads them over buckets by
/// the key's top bits, each bucket is sorted on its own (see [`sort_bucket`]),
/// and the rare items that share a key are ordered by their actual draws.
fn rand_ord(key: u32, n: usize) -> Vec<u32> {
    const BUCKETS: usize = 1 << TOP_BITS;
    // The draws are split into one part per thread for the spreading pass.
    let part_len = n.div_ceil(rayon::current_num_threads()).max(1);
    // Touching fresh memory costs about as much as drawing into it (page
    // faults), so the buffers that the sort needs later are faulted in on the
    // other core while this one runs the sequential logistic map. The fill
    // values are placeholders: every element is overwritten.
    let ((draws_in_order, part_counts), (mut items, mut ord)) = rayon::join(
        || {
            let mut draws_in_order = vec![0.0; n];
            let mut stream = draws(key);
            let part_counts: Vec<[usize; BUCKETS]> = draws_in_order
                .chunks_mut(part_len)
                .map(|part| {
                    let mut counts = [0; BUCKETS];
                    for (slot, x) in part.iter_mut().zip(&mut stream) {
                        *slot = x;
                        counts[top_bucket(bucket_key(x))] += 1;
                    }
                    counts
                })
                .collect();
            (draws_in_order, part_counts)
        },
        || (vec![u64::MAX; n], vec![u32::MAX; n]),
    );

    // Every bucket is contiguous in `items`, and within it every part gets a
    // slice of its own, so that the parts can be spread in parallel.
    let mut part_slices: Vec<Vec<&mut [u64]>> = part_counts
        .iter()
        .map(|_| Vec::with_capacity(BUCKETS))
        .collect();
    let mut items_left = items.as_mut_slice();
    for bucket in 0..BUCKETS {
        for (slices, counts) in part_slices.iter_mut().zip(&part_counts) {
            let (slice, rest) = items_left.split_at_mut(counts[bucket]);
            slices.push(slice);
            items_left = rest;
        }
    }
    draws_in_order
        .par_chunks(part_len)
        .zip(part_slices)
        .enumerate()
        .for_each(|(part, (part_draws, mut slices))| {
            // Below MAX_SAMPLES, so every index fits in a u32.
            let first = (part * part_len) as u32;
            for (&x, index) in part_draws.iter().zip(first..) {
                let key = bucket_key(x);
                let slot = &mut slices[top_bucket(key)];
                let (item, rest) = std::mem::take(slot)
                    .split_first_mut()
                    .expect("the part's count for this bucket");
                *item = (u64::from(key) << 32) | u64::from(index);
                *slot = rest;
            }
        });

    let mut buckets = Vec::with_capacity(BUCKETS);
    let (mut items_left, mut ord_left) = (items.as_slice(), ord.as_mut_slice());
    for bucket in 0..BUCKETS {
        let count = part_counts.iter().map(|counts| counts[bucket]).sum();
        let (bucket_items, rest_items) = items_left.split_at(count);
        let (bucket_ord, rest_ord) = ord_left.split_at_mut(count);
        buckets.push((bucket_items, bucket_ord));
        (items_left, ord_left) = (rest_items, rest_ord);
    }
    buckets.into_par_iter().for_each_init(
        Default::default,
        |scratch, (bucket_items, bucket_ord)| {
            sort_bucket(bucket_items, bucket_ord, &draws_in_order, scratch);
        },
    );
    ord
}

/// Sorts the items of one top-level bucket and writes their indices to `ord`.
///
/// One counting pass on the next key bits leaves the items out of order only
/// within groups of a few, which an insertion sort then fixes in close to
/// linear time. `scratch` holds the pass's output and its bin counters.
fn sort_bucket(
    items: &[u64],
    ord: &mut [u32],
    draws: &[f64],
    (sorted, starts): &mut (Vec<u64>, Vec<u32>),
) {
    let sub_bits = (items.len().max(1).ilog2() + 1).min(MAX_SUB_BITS);
    let sub_bucket = |item: u64| (item << TOP_BITS >> (64 - sub_bits)) as usize;
    starts.clear();
    starts.resize(1 << sub_bits, 0);
    for &item in items {
        starts[sub_bucket(item)] += 1;
    }
    let mut next = 0;
    for start in starts.iter_mut() {
        (*start, next) = (next, next + *start);
    }
    sorted.clear();
    sorted.resize(items.len(), 0);
    for &item in items {
        let start = &mut starts[sub_bucket(item)];
        sorted[*start as usize] = item;
        *start += 1;
    }
    // Items are `key << 32 | index`: integer order is (key, index) order, and
    // only the rare items with equal keys need their draws compared. Equal
    // draws keep index order.
    let after = |a: u64, b: u64| {
        if a >> 32 == b >> 32 {
            let (draw_a, draw_b) = (draws[a as u32 as usize], draws[b as u32 as usize]);
            draw_a > draw_b || (draw_a == draw_b && a > b)
        } else {
            a > b
        }
    };
    for done in 1..sorted.len() {
        let item = sorted[done];
        let mut hole = done;
        while hole > 0 && after(sorted[hole - 1], item) {
            sorted[hole] = sorted[hole - 1];
            hole -= 1;
        }
        sorted[hole] = item;
    }
    for (slot, &item) in ord.iter_mut().zip(sorted.iter()) {
        *slot = item as u32;
    }
}

/// `RandBlock`'s permutation of a region of `region_height` x `region_width`
/// pixels that whole blocks of `block_height` x `block_width` pixels tile.
///
/// The library starts from the identity and encrypts the index values inside
/// every block with `Rand(key)` for the block's shape, i.e. the same
/// block-local permutation everywhere: within a block, the index of local
/// sample `i` moves to local position `inner[i]`.
fn block_ord(
    key: u32,
    (block_height, block_width): (usize, usize),
    (region_height, region_width): (usize, usize),
    channels: usize,
) -> Vec<u32> {
    let region_row = region_width * channels;
    if region_row == 0 {
        // No channels: nothing to permute (and no band or block to step by).
        return Vec::new();
    }
    let inner = rand_ord(key, block_height * block_width * channels);
    // Offset, from the block's first sample, of each block-local sample.
    let local: Vec<usize> = (0..block_height)
        .flat_map(|row| (row * region_row..).take(block_width * channels))
        .collect();
    let mut ord = vec![0u32; region_height * region_row];
    // Each band of block rows is a contiguous part of the region.
    let band_len = block_height * region_row;
    ord.par_chunks_mut(band_len)
        .enumerate()
        .for_each(|(band_index, band)| {
            let band_start = band_index * band_len;
            for origin in (0..region_row).step_by(block_width * channels) {
                for (&to, &from) in inner.iter().zip(&local) {
                    band[origin + local[to as usize]] = (band_start + origin + from) as u32;
                }
            }
        });
    ord
}

/// A key's permutation for one image shape, ready to encrypt and decrypt any
/// number of images of that shape (height x width x channels, C order, as
/// numpy lays out an image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permutation {
    /// The library's `ord` over the flattened region.
    ord: Vec<u32>,
    /// Image width times channels: the length of one image row.
    row: usize,
    /// Samples of the whole image.
    samples: usize,
    /// Region width times channels: the length of one region row.
    region_row: usize,
}

impl Permutation {
    /// Builds the permutation that `Rand(key)` or `RandBlock(key, block)`
    /// applies to images of `height` x `width` x `channels` samples.
    pub fn new(
        key: u32,
        variant: Variant,
        height: usize,
        width: usize,
        channels: usize,
    ) -> Result<Self, ShuffleError> {
        let samples = height
            .checked_mul(width)
            .and_then(|pixels| pixels.checked_mul(channels))
            .filter(|&samples| samples <= MAX_SAMPLES)
            .ok_or(ShuffleError::TooManySamples {
                height,
                width,
                channels,
            })?;
        let (ord, region_width) = match variant {
            Variant::Rand => (rand_ord(key, samples), width),
            Variant::Block {
                height: block_height,
                width: block_width,
            } => {
                if block_height == 0 || block_width == 0 {
                    return Err(ShuffleError::ZeroBlock {
                        height: block_height,
                        width: block_width,
                    });
                }
                let block = (block_height as usize, block_width as usize);
                if block.0 > height || block.1 > width {
                    return Err(ShuffleError::BlockLargerThanImage {
                        block_height,
                        block_width,
                        height,
                        width,
                    });
                }
                let region = (height / block.0 * block.0, width / block.1 * block.1);
                (block_ord(key, block, region, channels), region.1)
            }
        };
        Ok(Self {
            ord,
            row: width * channels,
            samples,
            region_row: region_width * channels,
        })
    }

    /// The library's `ord` array over the flattened region (the whole image
    /// for [`Variant::Rand`]): encryption moves region sample `i` to position
    /// `ord[i]`.
    pub fn ord(&self) -> &[u32] {
        &self.ord
    }

    /// Scrambles a whole image (`enc` in the library): region sample `i` goes
    /// to region position `ord[i]`; samples outside the region are copied.
    pub fn encrypt<T: Copy + Send + Sync>(&self, plain: &[T]) -> Result<Vec<T>, ShuffleError> {
        self.apply(plain, |region| {
            // A scatter cannot be split over threads without unsafe code; it
            // is one pass of writes, cheap next to building the permutation.
            let mut out = region.to_vec();
            for (&sample, &to) in region.iter().zip(&self.ord) {
                out[to as usize] = sample;
            }
            out
        })
    }

    /// Unscrambles a whole image (`dec` in the library): region position `i`
    /// receives region sample `ord[i]`; samples outside the region are copied.
    pub fn decrypt<T: Copy + Send + Sync>(&self, cipher: &[T]) -> Result<Vec<T>, ShuffleError> {
        self.apply(cipher, |region| {
            self.ord
                .par_iter()
                .map(|&from| region[from as usize])
                .collect()
        })
    }

    /// Runs `shuffle` on the region of `image` and puts the result back.
    fn apply<T: Copy>(
        &self,
        image: &[T],
        shuffle: impl Fn(&[T]) -> Vec<T>,
    ) -> Result<Vec<T>, ShuffleError> {
        if image.len() != self.samples {
            return Err(ShuffleError::LengthMismatch {
                expected: self.samples,
                actual: image.len(),
            });
        }
        if self.ord.len() == self.samples {
            return Ok(shuffle(image));
        }
        // Only a block region can be smaller than the image; it is the
        // top-left corner, a prefix of each of its rows.
        let rows = || {
            image
                .chunks_exact(self.row)
                .map(|row| &row[..self.region_row])
        };
        let region: Vec<T> = rows()
            .take(self.ord.len() / self.region_row)
            .flatten()
            .copied()
            .collect();
        let mut out = image.to_vec();
        for (row, shuffled) in out
            .chunks_exact_mut(self.row)
            .zip(shuffle(&region).chunks_exact(self.region_row))
        {
            row[..self.region_row].copy_from_slice(shuffled);
        }
        Ok(out)
    }
}

/// `cv2.subtract` on two `uint8` images: `max(a - b, 0)` per sample.
///
/// Shuffling commutes with any per-sample operation, so a server can take the
/// difference of two encryptions, and its decryption is the difference of the
/// plain images.
pub fn saturating_sub(a: &[u8], b: &[u8]) -> Result<Vec<u8>, ShuffleError> {
    if a.len() != b.len() {
        return Err(ShuffleError::LengthMismatch {
            expected: a.len(),
            actual: b.len(),
        });
    }
    Ok(a.iter()
        .zip(b)
        .map(|(&x, &y)| x.saturating_sub(y))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items sharing a bucket key are ordered by their draws, and exactly
    /// equal draws by index.
    #[test]
    fn equal_keys_and_equal_draws() {
        for len in [1, 5, 300] {
            // Draw i is (i % 3) / 8: plenty of exact ties, all with one key.
            let draws: Vec<f64> = (0..len).map(|i| (i % 3) as f64 / 8.0 + 0.25).collect();
            let items: Vec<u64> = (0..len as u64).rev().map(|i| 7 << 32 | i).collect();
            let mut ord = vec![0; len];
            sort_bucket(&items, &mut ord, &draws, &mut Default::default());
            let mut expected: Vec<u32> = (0..len as u32).collect();
            expected.sort_by(|&a, &b| draws[a as usize].total_cmp(&draws[b as usize]));
            assert_eq!(ord, expected);
        }
    }

    #[test]
    fn bucket_key_never_decreases() {
        // A sweep over (0, 1) with each point's neighbouring doubles, densest
        // near the ends and around the switch at 1/2.
        let mut points: Vec<f64> = (1..4000)
            .flat_map(|i| {
                let t = f64::from(i) / 4000.0;
                [
                    t,
                    t.powi(8),
                    1.0 - t.powi(8),
                    0.5 - t.powi(8),
                    0.5 + t.powi(8) / 2.0,
                ]
            })
            .flat_map(|x| [x.to_bits() - 1, x.to_bits(), x.to_bits() + 1].map(f64::from_bits))
            .filter(|&x| x > 0.0 && x < 1.0)
            .collect();
        points.sort_by(f64::total_cmp);
        for pair in points.windows(2) {
            assert!(bucket_key(pair[0]) <= bucket_key(pair[1]), "{pair:?}");
        }
        assert_eq!(bucket_key(0.5_f64.next_down()), (1 << 31) - 1);
        assert_eq!(bucket_key(0.5), 1 << 31);
    }
}
