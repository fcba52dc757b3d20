//! Every reference vector of imageshuffle 0.2.2 must be reproduced bit for bit.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use picrypt_core::scheme::shuffle::permutation::{logistic_draws, saturating_sub, Permutation};
use picrypt_core::scheme::shuffle::Variant;
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("vectors/imageshuffle_vectors.json");
    serde_json::from_str(text).expect("vector file is JSON")
}

fn bytes(case: &Value, field: &str) -> Vec<u8> {
    let text = case[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field}"));
    STANDARD.decode(text).expect("base64")
}

fn numbers(case: &Value, field: &str) -> Vec<usize> {
    case[field]
        .as_array()
        .unwrap_or_else(|| panic!("field {field}"))
        .iter()
        .map(|v| v.as_u64().expect("integer") as usize)
        .collect()
}

fn key(case: &Value) -> u32 {
    u32::try_from(case["key"].as_u64().expect("key")).expect("32-bit key")
}

fn permutation(case: &Value) -> (Permutation, usize) {
    let shape = numbers(case, "shape_hwc");
    // The subtraction cases carry no class: they use Rand.
    let variant = match case["class"].as_str().unwrap_or("Rand") {
        "Rand" => Variant::Rand,
        "RandBlock" => {
            let block = numbers(case, "block_hw");
            Variant::Block {
                height: block[0] as u32,
                width: block[1] as u32,
            }
        }
        other => panic!("unknown class {other}"),
    };
    let perm = Permutation::new(key(case), variant, shape[0], shape[1], shape[2]).expect("valid");
    (perm, shape.iter().product())
}

#[test]
fn first_draws_for_key_123() {
    let v = vectors();
    let expected: Vec<u64> = v["logistic_map_key_123_first_8_f64_hex"]
        .as_array()
        .expect("array")
        .iter()
        .map(|hex| {
            let le = u64::from_str_radix(hex.as_str().expect("hex"), 16).expect("hex");
            le.swap_bytes()
        })
        .collect();
    let got: Vec<u64> = logistic_draws(123, 8).iter().map(|x| x.to_bits()).collect();
    assert_eq!(got, expected);
    let reprs: Vec<f64> = v["logistic_map_key_123_first_8_repr"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r.as_str().expect("repr").parse().expect("float"))
        .collect();
    assert_eq!(logistic_draws(123, 8), reprs);
}

#[test]
fn shuffle_cases() {
    let v = vectors();
    let cases = v["shuffle_cases"].as_array().expect("array");
    assert_eq!(cases.len(), 13);
    for case in cases {
        let (perm, samples) = permutation(case);
        let label = format!(
            "{} key {} {}",
            case["class"], case["key"], case["shape_hwc"]
        );
        let ord: Vec<u32> = bytes(case, "permutation_ord_u32_le_b64")
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        assert_eq!(perm.ord(), ord.as_slice(), "ord of {label}");
        let plain = bytes(case, "input_u8_b64");
        let cipher = bytes(case, "encrypted_u8_b64");
        assert_eq!(plain.len(), samples, "{label}");
        assert_eq!(
            perm.encrypt(&plain).expect("shape"),
            cipher,
            "encryption of {label}"
        );
        assert_eq!(
            perm.decrypt(&cipher).expect("shape"),
            plain,
            "decryption of {label}"
        );
    }
}

#[test]
fn shuffle_cases_have_no_tied_draws() {
    let v = vectors();
    for case in v["shuffle_cases"].as_array().expect("array") {
        let shape = numbers(case, "shape_hwc");
        let n = match case.get("block_hw") {
            Some(_) => numbers(case, "block_hw").iter().product::<usize>() * shape[2],
            None => shape.iter().product(),
        };
        let mut bits: Vec<u64> = logistic_draws(key(case), n)
            .iter()
            .map(|x| x.to_bits())
            .collect();
        bits.sort_unstable();
        bits.dedup();
        assert_eq!(bits.len(), n, "tie in {}", case["key"]);
    }
}

#[test]
fn saturating_subtract_cases() {
    let v = vectors();
    let cases = v["saturating_subtract_cases"].as_array().expect("array");
    assert_eq!(cases.len(), 2);
    for case in cases {
        let (perm, samples) = permutation(case);
        let [a, b, enc_a, enc_b, server, decrypted] = [
            "a_u8_b64",
            "b_u8_b64",
            "enc_a_u8_b64",
            "enc_b_u8_b64",
            "server_saturating_sub_u8_b64",
            "decrypted_u8_b64",
        ]
        .map(|field| bytes(case, field));
        assert_eq!(a.len(), samples);
        assert_eq!(perm.encrypt(&a).expect("shape"), enc_a);
        assert_eq!(perm.encrypt(&b).expect("shape"), enc_b);
        assert_eq!(saturating_sub(&enc_a, &enc_b).expect("same length"), server);
        assert_eq!(perm.decrypt(&server).expect("shape"), decrypted);
        assert_eq!(saturating_sub(&a, &b).expect("same length"), decrypted);
    }
}
