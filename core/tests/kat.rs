//! Known-answer vectors: exact container bytes for fixed key, nonces and pixels. The same
//! tests run natively and, through `tests/wasm.sh`, under wasm in Node (the browser build).

use picrypt_core::ops::{self, Op};
use picrypt_core::{verify, Container, Image};

mod common;
use common::kat::{container_of, kat_key, unhex, vectors};

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn encryptions_match_byte_for_byte() {
    let v = vectors();
    let key = kat_key(&v);
    assert_eq!(key.id().hex(), v["key_id_hex"].as_str().unwrap());
    let cases = v["encryptions"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let img = Image::new(
            case["width"].as_u64().unwrap() as u32,
            case["height"].as_u64().unwrap() as u32,
            case["channels"].as_u64().unwrap() as u8,
            unhex(case["pixels_hex"].as_str().unwrap()),
        )
        .unwrap();
        let nonce: [u8; 24] = unhex(case["nonce_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let expected = unhex(case["container_hex"].as_str().unwrap());
        let got = key.encrypt_with_nonce(&img, &nonce).unwrap().to_bytes();
        assert_eq!(
            hex::encode(&got),
            hex::encode(&expected),
            "{}",
            case["name"]
        );
        let parsed = Container::parse(&expected).unwrap();
        let decrypted = verify::decrypt(&key, &parsed, verify::Expect::Image).unwrap();
        assert_eq!(decrypted.to_image().unwrap(), img, "{}", case["name"]);
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn subtraction_matches_byte_for_byte() {
    let v = vectors();
    let key = kat_key(&v);
    let s = &v["subtraction"];
    let (a, b) = (container_of(&v, &s["a"]), container_of(&v, &s["b"]));
    let result = ops::apply(
        Op::Sub,
        &Container::parse(&a).unwrap(),
        &Container::parse(&b).unwrap(),
    )
    .unwrap()
    .to_bytes();
    assert_eq!(hex::encode(&result), s["result_hex"].as_str().unwrap());
    assert_eq!(ops::apply_bytes(Op::Sub, &a, &b).unwrap(), result);
    let expected: Vec<i16> = s["difference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap() as i16)
        .collect();
    let pt = verify::decrypt(
        &key,
        &Container::parse(&result).unwrap(),
        verify::Expect::Difference,
    )
    .unwrap();
    assert_eq!(pt.values(), expected);
    // The client's full check of the server's answer gives the same difference.
    let checked = verify::check_result(Op::Sub, &a, &b, &result).unwrap();
    assert_eq!(checked.decrypt(&key).unwrap().values(), expected);
    // And refuses an answer with a flipped payload byte.
    let mut bad = result.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(verify::check_result(Op::Sub, &a, &b, &bad)
        .and_then(|c| c.decrypt(&key))
        .is_err());
}
