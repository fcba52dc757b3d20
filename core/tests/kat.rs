//! Known-answer vectors: exact container bytes for fixed key, nonces and pixels.

use picrypt_core::ops::{self, Op};
use picrypt_core::{verify, Container, Image, Key};
use serde_json::Value;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/mask_kat.json")).unwrap()
}

#[test]
fn encryptions_match_byte_for_byte() {
    let v = vectors();
    let key = Key::mask_from_secret(&unhex(v["key_hex"].as_str().unwrap()).try_into().unwrap());
    assert_eq!(key.id().hex(), v["key_id_hex"].as_str().unwrap());
    for case in v["encryptions"].as_array().unwrap() {
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
        assert_eq!(
            verify::decrypt(&key, &parsed, verify::Expect::Image)
                .unwrap()
                .to_image()
                .unwrap(),
            img
        );
    }
}

#[test]
fn subtraction_matches_byte_for_byte() {
    let v = vectors();
    let key = Key::mask_from_secret(&unhex(v["key_hex"].as_str().unwrap()).try_into().unwrap());
    let enc = v["encryptions"].as_array().unwrap();
    let find = |name: &Value| {
        let c = enc.iter().find(|c| &c["name"] == name).unwrap();
        Container::parse(&unhex(c["container_hex"].as_str().unwrap())).unwrap()
    };
    let s = &v["subtraction"];
    let result = ops::apply(Op::Sub, &find(&s["a"]), &find(&s["b"]))
        .unwrap()
        .to_bytes();
    assert_eq!(hex::encode(&result), s["result_hex"].as_str().unwrap());
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
}
