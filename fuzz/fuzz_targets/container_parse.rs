//! `Container::parse` on arbitrary bytes: never panics, never allocates from an
//! unvalidated size, and whatever it accepts re-encodes to exactly the same bytes
//! (so the parser accepts one encoding per container and `to_bytes` is its inverse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picrypt_core::format::{ContainerRef, Header};
use picrypt_core::Container;

fuzz_target!(|data: &[u8]| {
    // The streaming header parser must agree with the full parser on the header.
    let header = Header::parse(data);
    match Container::parse(data) {
        Ok(c) => {
            let (h, header_len) = header.expect("Container::parse accepted what Header::parse refused");
            assert_eq!(&h, c.header(), "Header::parse and Container::parse disagree");
            assert_eq!(header_len as u64 + h.payload_len(), data.len() as u64);
            assert_eq!(c.encoded_len(), data.len());
            assert_eq!(c.to_bytes(), data, "to_bytes does not round-trip");
            assert_eq!(c.header().to_bytes(), &data[..header_len]);
            let r = ContainerRef::parse(data).expect("ContainerRef::parse refused what Container::parse accepted");
            assert_eq!(r.to_owned(), c);
        }
        Err(_) => {
            assert!(ContainerRef::parse(data).is_err());
        }
    }
});
