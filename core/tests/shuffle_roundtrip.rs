//! Properties that must hold for any key and shape, beyond the fixed vectors.

use picrypt_core::scheme::shuffle::permutation::{
    logistic_draws, Permutation, ShuffleError, MAX_SAMPLES,
};
use picrypt_core::scheme::shuffle::Variant;
use proptest::prelude::*;

/// `numpy.argsort` of the draws, ties (if any) in index order.
fn naive_ord(key: u32, n: usize) -> Vec<u32> {
    let draws = logistic_draws(key, n);
    let mut ord: Vec<u32> = (0..n as u32).collect();
    ord.sort_by(|&a, &b| draws[a as usize].total_cmp(&draws[b as usize]));
    ord
}

/// `RandBlock`'s ord written out the way the library computes it.
fn naive_block_ord(
    key: u32,
    (bh, bw): (usize, usize),
    (h, w, c): (usize, usize, usize),
) -> Vec<u32> {
    let (rh, rw) = (h / bh * bh, w / bw * bw);
    let inner = naive_ord(key, bh * bw * c);
    let mut ord: Vec<u32> = (0..(rh * rw * c) as u32).collect();
    for by in (0..rh).step_by(bh) {
        for bx in (0..rw).step_by(bw) {
            let flat = |j: usize| {
                let (y, rest) = (j / (bw * c), j % (bw * c));
                (by + y) * rw * c + bx * c + rest
            };
            let block: Vec<u32> = (0..bh * bw * c).map(|j| ord[flat(j)]).collect();
            for (i, &to) in inner.iter().enumerate() {
                ord[flat(to as usize)] = block[i];
            }
        }
    }
    ord
}

fn image(samples: usize, seed: u64) -> Vec<u8> {
    (0..samples as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 3) as u8)
        .collect()
}

/// Checks a `Rand` permutation of `samples` samples.
fn assert_round_trip(perm: &Permutation, samples: usize) {
    let plain = image(samples, 7);
    let cipher = perm.encrypt(&plain).expect("shape");
    assert_eq!(perm.decrypt(&cipher).expect("shape"), plain);
    // Decryption is the inverse permutation, so it also undoes itself.
    let scrambled = perm.decrypt(&plain).expect("shape");
    assert_eq!(perm.encrypt(&scrambled).expect("shape"), plain);
    // Any sample type takes the same path: sample i lands at ord[i].
    let indices: Vec<u32> = (0..samples as u32).collect();
    let moved = perm.encrypt(&indices).expect("shape");
    for (i, &to) in perm.ord().iter().enumerate() {
        assert_eq!(moved[to as usize], i as u32);
    }
}

#[test]
fn full_size_rand_matches_a_plain_argsort() {
    let n = 1005 * 642 * 3;
    for key in [10001, 54321, 99999] {
        let perm = Permutation::new(key, Variant::Rand, 1005, 642, 3).expect("shape");
        assert!(perm.ord() == naive_ord(key, n), "key {key}");
    }
}

/// The double-precision logistic map is finite and ends in a cycle; for key
/// 99999 (tail 783,430 iterates, period 1,948,875) the first repeated draw is
/// number 2,732,204, so larger `Rand` images have exactly tied draws.
#[test]
fn draws_repeat_once_the_map_cycles() {
    const PERIOD: usize = 1_948_875;
    const FIRST_ON_CYCLE: usize = 783_430 - 101;
    let draws = logistic_draws(99999, FIRST_ON_CYCLE + PERIOD + 1);
    assert_eq!(draws[FIRST_ON_CYCLE + PERIOD], draws[FIRST_ON_CYCLE]);
    assert_ne!(
        draws[FIRST_ON_CYCLE + PERIOD - 1],
        draws[FIRST_ON_CYCLE - 1]
    );
    let mut bits: Vec<u64> = draws[..FIRST_ON_CYCLE + PERIOD]
        .iter()
        .map(|x| x.to_bits())
        .collect();
    bits.sort_unstable();
    bits.dedup();
    assert_eq!(
        bits.len(),
        FIRST_ON_CYCLE + PERIOD,
        "no tie before the cycle closes"
    );
}

#[test]
fn odd_shapes_round_trip() {
    let shapes = [
        (1, 1, 1),
        (1, 1, 3),
        (1, 17, 3),
        (17, 1, 3),
        (13, 11, 1),
        (31, 7, 3),
        (97, 89, 4),
        (2, 3, 5),
    ];
    for (h, w, c) in shapes {
        let perm = Permutation::new(4_000_000_007u32, Variant::Rand, h, w, c).expect("shape");
        assert_eq!(perm.ord(), naive_ord(4_000_000_007, h * w * c));
        assert_round_trip(&perm, h * w * c);
    }
}

#[test]
fn blocks_that_do_not_divide_the_image() {
    let cases = [
        ((3, 5), (13, 11, 3)),
        ((7, 7), (23, 29, 1)),
        ((1, 1), (5, 7, 3)),
        ((13, 11), (13, 11, 3)),
        ((4, 4), (9, 10, 1)),
        ((2, 3), (1001, 3, 2)),
    ];
    for ((bh, bw), (h, w, c)) in cases {
        let variant = Variant::Block {
            height: bh as u32,
            width: bw as u32,
        };
        let perm = Permutation::new(91, variant, h, w, c).expect("shape");
        assert_eq!(perm.ord(), naive_block_ord(91, (bh, bw), (h, w, c)));
        let plain = image(h * w * c, 3);
        let cipher = perm.encrypt(&plain).expect("shape");
        // Outside the top-left region of whole blocks nothing moves.
        for y in 0..h {
            for x in 0..w {
                if y >= h / bh * bh || x >= w / bw * bw {
                    let at = (y * w + x) * c;
                    assert_eq!(cipher[at..at + c], plain[at..at + c]);
                }
            }
        }
        assert_eq!(perm.decrypt(&cipher).expect("shape"), plain);
    }
}

#[test]
fn empty_images() {
    for (h, w, c) in [(0, 5, 3), (5, 0, 3), (5, 5, 0)] {
        let perm = Permutation::new(1, Variant::Rand, h, w, c).expect("empty is fine");
        assert!(perm.ord().is_empty());
        assert_eq!(perm.encrypt(&[0u8; 0]).expect("shape"), Vec::<u8>::new());
    }
    let block = Variant::Block {
        height: 2,
        width: 2,
    };
    let perm = Permutation::new(1, block, 4, 4, 0).expect("no channels");
    assert!(perm.ord().is_empty());
}

#[test]
fn errors() {
    let zero = Variant::Block {
        height: 0,
        width: 4,
    };
    assert_eq!(
        Permutation::new(1, zero, 8, 8, 3),
        Err(ShuffleError::ZeroBlock {
            height: 0,
            width: 4
        })
    );
    let big = Variant::Block {
        height: 4,
        width: 9,
    };
    assert_eq!(
        Permutation::new(1, big, 8, 8, 3),
        Err(ShuffleError::BlockLargerThanImage {
            block_height: 4,
            block_width: 9,
            height: 8,
            width: 8
        })
    );
    let too_many = ShuffleError::TooManySamples {
        height: MAX_SAMPLES,
        width: 1,
        channels: 2,
    };
    assert_eq!(
        Permutation::new(1, Variant::Rand, MAX_SAMPLES, 1, 2),
        Err(too_many)
    );
    assert!(matches!(
        Permutation::new(1, Variant::Rand, usize::MAX, 2, 1),
        Err(ShuffleError::TooManySamples { .. })
    ));
    let perm = Permutation::new(1, Variant::Rand, 2, 2, 3).expect("shape");
    assert_eq!(
        perm.encrypt(&[0u8; 11]),
        Err(ShuffleError::LengthMismatch {
            expected: 12,
            actual: 11
        })
    );
    assert_eq!(
        perm.decrypt(&[0u8; 13]),
        Err(ShuffleError::LengthMismatch {
            expected: 12,
            actual: 13
        })
    );
    assert_eq!(
        picrypt_core::scheme::shuffle::permutation::saturating_sub(&[1, 2], &[1]),
        Err(ShuffleError::LengthMismatch {
            expected: 2,
            actual: 1
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rand_is_the_argsort_and_round_trips(key: u32, h in 1usize..40, w in 1usize..40, c in 1usize..5) {
        let perm = Permutation::new(key, Variant::Rand, h, w, c).expect("shape");
        let expected = naive_ord(key, h * w * c);
        prop_assert_eq!(perm.ord(), expected.as_slice());
        assert_round_trip(&perm, h * w * c);
    }

    #[test]
    fn blocks_match_the_library_and_round_trip(
        key: u32, bh in 1usize..9, bw in 1usize..9, h in 1usize..40, w in 1usize..40, c in 1usize..4,
    ) {
        prop_assume!(bh <= h && bw <= w);
        let variant = Variant::Block { height: bh as u32, width: bw as u32 };
        let perm = Permutation::new(key, variant, h, w, c).expect("shape");
        let expected = naive_block_ord(key, (bh, bw), (h, w, c));
        prop_assert_eq!(perm.ord(), expected.as_slice());
        let plain = image(h * w * c, u64::from(key));
        let cipher = perm.encrypt(&plain).expect("shape");
        prop_assert_eq!(perm.decrypt(&cipher).expect("shape"), plain);
    }

    #[test]
    fn subtraction_commutes_with_shuffling(key: u32, h in 1usize..20, w in 1usize..20, seed: u64) {
        let perm = Permutation::new(key, Variant::Rand, h, w, 3).expect("shape");
        let (a, b) = (image(h * w * 3, seed), image(h * w * 3, seed ^ 0x5555));
        let server = picrypt_core::scheme::shuffle::permutation::saturating_sub(
            &perm.encrypt(&a).expect("shape"),
            &perm.encrypt(&b).expect("shape"),
        ).expect("same length");
        prop_assert_eq!(
            perm.decrypt(&server).expect("shape"),
            picrypt_core::scheme::shuffle::permutation::saturating_sub(&a, &b).expect("same length")
        );
    }
}
