//! The lattice layer on its own: payloads, keys and noise, below the container.

use std::sync::OnceLock;

use rand::{Rng, RngCore};

use super::*;

fn degree() -> usize {
    DEGREE
}

fn payload_coeff_bits() -> usize {
    coeffs::COEFF_BITS
}

fn payload_modulus() -> u64 {
    coeffs::Q0
}

/// One key pair for the whole file: keygen is not what is under test here.
fn keys() -> &'static (BfvSecretKey, BfvPublicKey) {
    static KEYS: OnceLock<(BfvSecretKey, BfvPublicKey)> = OnceLock::new();
    KEYS.get_or_init(keygen)
}

/// Decrypts to the values alone (whether the padding slots decrypted to 0 is tested in
/// `core/tests/bfv_container.rs`).
fn decrypt_values(sk: &BfvSecretKey, payload: &[u8], n: usize) -> Result<Vec<i16>, BfvError> {
    Ok(decrypt(sk, payload, n)?.0)
}

fn random_samples(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    v
}

fn sizes() -> [usize; 6] {
    let n = degree();
    [1, n - 1, n, n + 1, 3 * n + 5, 0]
}

#[test]
fn round_trip_exact() {
    let (sk, pk) = keys();
    for n in sizes() {
        let samples = random_samples(n);
        let payload = encrypt(pk, &samples);
        assert_eq!(payload.len(), payload_len(n));
        let out = decrypt_values(sk, &payload, n).unwrap();
        // Fresh values above t/2 decode as negative: map them back mod t.
        let back: Vec<u8> = out.iter().map(|&v| v.rem_euclid(512) as u8).collect();
        assert_eq!(back, samples, "n = {n}");
    }
}

#[test]
fn difference_exact_including_extremes() {
    let (sk, pk) = keys();
    for n in sizes() {
        let mut a = random_samples(n);
        let mut b = random_samples(n);
        // Force the extremes 0 - 255 and 255 - 0 into every run.
        for (i, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate().step_by(3) {
            (*x, *y) = if i % 2 == 0 { (0, 255) } else { (255, 0) };
        }
        let d = sub(&encrypt(pk, &a), &encrypt(pk, &b), n).unwrap();
        assert_eq!(d.len(), payload_len(n));
        let out = decrypt_values(sk, &d, n).unwrap();
        let want: Vec<i16> = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| i16::from(x) - i16::from(y))
            .collect();
        assert_eq!(out, want, "n = {n}");
    }
}

/// Many ciphertexts with worst-case plaintexts (all 0 against all 255, and
/// alternating): every one of them must decrypt exactly after a subtraction.
#[test]
fn noise_many_worst_case_ciphertexts() {
    let (sk, pk) = keys();
    let n = 256 * degree();
    let patterns: [(Vec<u8>, Vec<u8>); 3] = [
        (vec![0; n], vec![255; n]),
        (vec![255; n], vec![0; n]),
        (
            (0..n).map(|i| if i % 2 == 0 { 255 } else { 0 }).collect(),
            (0..n).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect(),
        ),
    ];
    for (a, b) in &patterns {
        let d = sub(&encrypt(pk, a), &encrypt(pk, b), n).unwrap();
        let out = decrypt_values(sk, &d, n).unwrap();
        for (i, &v) in out.iter().enumerate() {
            assert_eq!(v, i16::from(a[i]) - i16::from(b[i]), "sample {i}");
        }
    }
}

#[test]
fn wrong_secret_key_gives_garbage() {
    let (_, pk) = keys();
    let (other_sk, _) = keygen();
    let n = 4 * degree();
    let samples = random_samples(n);
    // No integrity check exists in BFV: decryption "succeeds" with noise.
    let out = decrypt_values(&other_sk, &encrypt(pk, &samples), n).unwrap();
    let hits = out
        .iter()
        .zip(&samples)
        .filter(|&(&v, &s)| v.rem_euclid(512) == i16::from(s))
        .count();
    // A uniform guess matches 1 in 512; allow plenty of slack.
    assert!(hits < n / 50, "{hits} of {n} matched");
}

#[test]
fn key_serialization_round_trips() {
    let (sk, pk) = keys();
    let sk_bytes = sk.to_bytes();
    let pk_bytes = pk.to_bytes();
    assert_eq!(sk_bytes[0], PARAMS_ID);
    assert_eq!(pk_bytes[0], PARAMS_ID);
    println!(
        "secret key {} B, public key {} B",
        sk_bytes.len(),
        pk_bytes.len()
    );
    assert!(sk_bytes.len() < 2 * 2048 + 16);
    assert!(pk_bytes.len() < 2048 * 48 / 8 + 64);

    let sk2 = BfvSecretKey::from_bytes(&sk_bytes).unwrap();
    let pk2 = BfvPublicKey::from_bytes(&pk_bytes).unwrap();
    assert_eq!(sk2.to_bytes(), sk_bytes);
    assert_eq!(pk2.to_bytes(), pk_bytes);

    // Reloaded keys interoperate with the originals, and so does a derived pk.
    let pk3 = BfvPublicKey::from_bytes(&sk2.public_key().to_bytes()).unwrap();
    let samples = random_samples(degree() + 7);
    let n = samples.len();
    let want: Vec<i16> = samples.iter().map(|&s| i16::from(s)).collect();
    for key in [&pk2, &pk3] {
        let out = decrypt_values(sk, &encrypt(key, &samples), n).unwrap();
        let back: Vec<i16> = out.iter().map(|v| v.rem_euclid(512)).collect();
        assert_eq!(back, want);
    }
}

#[test]
fn payload_round_trips_through_bytes() {
    let (sk, pk) = keys();
    let n = 2 * degree() + 3;
    let payload = encrypt(pk, &random_samples(n));
    // The difference of a payload with itself is an exact zero.
    let zero = sub(&payload, &payload.clone(), n).unwrap();
    assert_eq!(decrypt_values(sk, &zero, n).unwrap(), vec![0; n]);
    // Packing is exact: bits per sample = 2 * ceil(log2 q').
    assert_eq!(payload.len() * 8, 3 * degree() * 2 * payload_coeff_bits());
}

#[test]
fn bad_payloads_refused() {
    let (sk, pk) = keys();
    let n = degree() + 1;
    let good = encrypt(pk, &random_samples(n));

    let short = &good[..good.len() - 1];
    let mut long = good.clone();
    long.push(0);
    for bad in [short, long.as_slice(), &[]] {
        assert!(matches!(
            decrypt_values(sk, bad, n),
            Err(BfvError::PayloadLength { .. })
        ));
        assert!(matches!(
            sub(bad, &good, n),
            Err(BfvError::PayloadLength { .. })
        ));
        assert!(matches!(
            sub(&good, bad, n),
            Err(BfvError::PayloadLength { .. })
        ));
    }
    // Wrong sample count for the same bytes, and absurd counts.
    assert!(decrypt_values(sk, &good, 3 * degree()).is_err());
    assert!(decrypt_values(sk, &good, usize::MAX).is_err());
    assert!(sub(&good, &good, usize::MAX - 5).is_err());

    // A coefficient >= q' anywhere (first, last, in c1) is refused.
    let q = payload_modulus();
    let bits = payload_coeff_bits();
    let poly_bytes = degree() * bits / 8;
    for pos in [
        0,
        degree() - 1,
        degree(),
        2 * degree() - 1,
        2 * degree() + 5,
    ] {
        let mut bad = good.clone();
        set_coeff(&mut bad, pos, q, bits);
        assert!(matches!(
            decrypt_values(sk, &bad, n),
            Err(BfvError::CoefficientOutOfRange)
        ));
        assert!(matches!(
            sub(&good, &bad, n),
            Err(BfvError::CoefficientOutOfRange)
        ));
        // q' - 1 is still a valid coefficient.
        set_coeff(&mut bad, pos, q - 1, bits);
        assert!(decrypt_values(sk, &bad, n).is_ok());
    }
    assert_eq!(good.len(), 4 * poly_bytes);
}

/// Overwrites packed coefficient `pos` (little-endian bit order) with `v`.
fn set_coeff(buf: &mut [u8], pos: usize, v: u64, bits: usize) {
    for k in 0..bits {
        let bit = pos * bits + k;
        let mask = 1u8 << (bit % 8);
        if (v >> k) & 1 == 1 {
            buf[bit / 8] |= mask;
        } else {
            buf[bit / 8] &= !mask;
        }
    }
}

#[test]
fn random_payload_bytes_never_panic() {
    let (sk, _) = keys();
    let mut rng = rand::rng();
    let n = degree();
    for _ in 0..50 {
        let mut junk = vec![0u8; payload_len(n)];
        rng.fill_bytes(&mut junk);
        // Random 23-bit values are mostly < q', so either outcome is fine.
        let _ = decrypt_values(sk, &junk, n);
        let _ = sub(&junk, &junk, n);
    }
}

#[test]
fn hostile_key_bytes_refused() {
    let (sk, pk) = keys();
    let sk_bytes = sk.to_bytes();
    let pk_bytes = pk.to_bytes();

    // Headers: empty, id only, other parameter set, swapped kinds.
    assert!(BfvSecretKey::from_bytes(&[]).is_err());
    assert!(BfvPublicKey::from_bytes(&[PARAMS_ID]).is_err());
    let mut other = sk_bytes.clone();
    other[0] = PARAMS_ID.wrapping_add(1);
    assert!(matches!(
        BfvSecretKey::from_bytes(&other),
        Err(BfvError::WrongParameters { .. })
    ));
    assert!(BfvSecretKey::from_bytes(&pk_bytes).is_err());
    assert!(BfvPublicKey::from_bytes(&sk_bytes).is_err());

    // Every truncation and a trailing byte.
    for cut in (0..sk_bytes.len()).step_by(7) {
        assert!(BfvSecretKey::from_bytes(&sk_bytes[..cut]).is_err());
    }
    for cut in (0..pk_bytes.len()).step_by(97) {
        assert!(BfvPublicKey::from_bytes(&pk_bytes[..cut]).is_err());
    }
    let mut longer = sk_bytes.clone();
    longer.push(0);
    assert!(BfvSecretKey::from_bytes(&longer).is_err());

    // A secret coefficient outside fhe's range (zigzag 63 = -32) is refused.
    let mut wide = sk_bytes.clone();
    let last = wide.len() - 1;
    wide[last] = 63;
    assert!(BfvSecretKey::from_bytes(&wide).is_err());

    // An unreduced public coefficient (all ones) is refused.
    let mut unreduced = pk_bytes.clone();
    let mid = unreduced.len() / 2;
    unreduced[mid..mid + 8].fill(0xff);
    assert!(BfvPublicKey::from_bytes(&unreduced).is_err());

    // Random bodies and random bit flips: Ok or Err, never a panic.
    let mut rng = rand::rng();
    for _ in 0..300 {
        let len = rng.random_range(0..3000);
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        junk.splice(0..0, [PARAMS_ID, b'S']);
        let _ = BfvSecretKey::from_bytes(&junk);
        junk[1] = b'P';
        let _ = BfvPublicKey::from_bytes(&junk);

        let mut s = sk_bytes.clone();
        let i = rng.random_range(2..s.len());
        s[i] ^= 1 << rng.random_range(0..8);
        let _ = BfvSecretKey::from_bytes(&s);
        let mut p = pk_bytes.clone();
        let i = rng.random_range(2..p.len());
        p[i] ^= 1 << rng.random_range(0..8);
        let _ = BfvPublicKey::from_bytes(&p);
    }
}

/// Measures (with fhe's own noise meter) the noise of switched-and-subtracted worst-case
/// ciphertexts; docs/SECURITY.md quotes this.
#[test]
#[allow(unsafe_code)] // fhe marks its noise meter unsafe: it is for tests only.
fn measured_noise_after_subtraction() {
    let (sk, pk) = keygen();
    let n = 128 * DEGREE;
    let a = encrypt(&pk, &vec![0u8; n]);
    let b = encrypt(&pk, &vec![255u8; n]);
    let d = sub(&a, &b, n).unwrap();
    let worst = d
        .chunks_exact(CHUNK_BYTES)
        .map(|c| unsafe { sk.0.measure_noise(&read_ciphertext(c).unwrap()) }.unwrap())
        .max()
        .unwrap();
    // Correctness needs |noise| < q'/(2t) = 8184, i.e. below 2^13.
    println!("max noise after one subtraction: {worst} bits (bound 2^12.998)");
    assert!(worst <= 12);
}

/// The server subtracts coefficients mod q0 without the lattice library; that is byte for
/// byte what fhe's ciphertext subtraction gives.
#[test]
fn coefficient_subtraction_is_fhe_subtraction() {
    let (_, pk) = keys();
    for n in [1, DEGREE, 3 * DEGREE + 5] {
        let (a, b) = (
            encrypt(pk, &random_samples(n)),
            encrypt(pk, &random_samples(n)),
        );
        let mut ours = vec![0u8; a.len()];
        for ((dst, pa), pb) in ours
            .chunks_mut(POLY_BYTES)
            .zip(a.chunks(POLY_BYTES))
            .zip(b.chunks(POLY_BYTES))
        {
            let (ca, cb) = (coeffs::unpack(pa).unwrap(), coeffs::unpack(pb).unwrap());
            let d: Vec<u64> = ca
                .iter()
                .zip(&cb)
                .map(|(&x, &y)| (x + coeffs::Q0 - y) % coeffs::Q0)
                .collect();
            coeffs::pack(&d, dst);
        }
        assert_eq!(ours, sub(&a, &b, n).unwrap(), "n = {n}");
    }
}
