//! The known-answer vectors (`tests/vectors/mask_kat.json`) and how to read them, for
//! `kat.rs` (native and wasm) and `wasm_kat.rs`.

use picrypt_core::Key;
use serde_json::Value;

pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

pub fn vectors() -> Value {
    serde_json::from_str(include_str!("../vectors/mask_kat.json")).unwrap()
}

/// The vectors' fixed key.
pub fn kat_key(v: &Value) -> Key {
    Key::mask_from_secret(&unhex(v["key_hex"].as_str().unwrap()).try_into().unwrap())
}

/// The container bytes of the encryption case called `name`.
pub fn container_of(v: &Value, name: &Value) -> Vec<u8> {
    let case = v["encryptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| &c["name"] == name)
        .unwrap();
    unhex(case["container_hex"].as_str().unwrap())
}
