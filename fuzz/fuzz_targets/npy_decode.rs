//! `image_io::npy::decode_u8` on arbitrary bytes: never panics, never allocates from an
//! unvalidated size, and an accepted array is a consistent image that re-encodes to an
//! array decoding to the same image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picrypt_core::npy;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = npy::decode_u8(data) {
        assert_eq!(image.data().len(), image.shape().samples());
        let again = npy::decode_u8(&npy::encode_u8(&image)).expect("re-encoded .npy refused");
        assert_eq!(again, image, "npy round trip changed the image");
    }
});
