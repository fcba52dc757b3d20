//! `Key::parse` on arbitrary bytes: never panics, and an accepted key file re-encodes to
//! exactly the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picrypt_core::Key;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = Key::parse(data) {
        let bytes = key.to_bytes();
        assert_eq!(&bytes[..], data, "Key::to_bytes does not round-trip");
        let again = Key::parse(&bytes).expect("re-encoded key file refused");
        assert_eq!(again.id(), key.id());
        assert_eq!(again.scheme(), key.scheme());
    }
});
