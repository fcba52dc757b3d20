//! Megabyte buffers kept from one request for the next.
//!
//! An inline diff of a 1005×642 pair fills about 9 MB of buffers: the body (4.4 MB), the
//! result (2.2 MB) and the framed answer (2.2 MB). Freshly mapped, every 4 KiB page of them
//! is faulted in and zeroed by the kernel first, which on a small VM costs about a
//! microsecond a page: more than the copy into it and more than the subtraction itself
//! (docs/PERFORMANCE.md, "The network path"). The allocator cannot keep them warm, since
//! buffers of a MiB or more are unmapped when freed on purpose
//! ([`crate::return_large_buffers_to_the_os`]), so a few are kept here, by size, for the
//! next request to fill. The streamed S3 path never takes or gives one: its memory stays
//! flat.

use std::sync::Mutex;

use bytes::Bytes;

/// Buffers smaller than this are the allocator's business.
const SMALLEST: usize = 1 << 20;

/// Largest buffer kept: a body or an answer within the inline limits, with room to spare.
const LARGEST: usize = 8 << 20;

/// Most buffers kept: the three of a request, and one more for a second request at once.
const MOST: usize = 4;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer of at least `capacity` bytes: a kept one when one is large enough
/// (the smallest such), else a new one.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    if (SMALLEST..=LARGEST).contains(&capacity) {
        let mut kept = SPARE.lock().unwrap_or_else(|e| e.into_inner());
        let best = kept
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let mut buffer = kept.swap_remove(i);
            buffer.clear();
            return buffer;
        }
    }
    Vec::with_capacity(capacity)
}

/// Keeps `buffer` for a later [`take`] if it is of a size worth keeping and there is room;
/// otherwise frees it.
pub(crate) fn give(buffer: Vec<u8>) {
    if !(SMALLEST..=LARGEST).contains(&buffer.capacity()) {
        return;
    }
    let mut kept = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() < MOST {
        kept.push(buffer);
    }
}

/// Gives back the buffer under `bytes` when nothing else refers to it any more.
pub(crate) fn give_bytes(bytes: Bytes) {
    if let Ok(unique) = bytes.try_into_mut() {
        give(unique.into());
    }
}

/// A buffer that goes back to the spares when the last [`Bytes`] made from it is dropped
/// ([`Bytes::from_owner`]): an answer hyper writes and then drops.
pub(crate) fn into_bytes(buffer: Vec<u8>) -> Bytes {
    Bytes::from_owner(Returned(buffer))
}

struct Returned(Vec<u8>);

impl AsRef<[u8]> for Returned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Returned {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test touches the process-wide spares, so that no other can race it.
    #[test]
    fn buffers_come_back_without_a_copy_and_within_bounds() {
        SPARE.lock().unwrap().clear();

        // A body handed to the handler as Bytes comes back as the same allocation.
        let mut body = take(3 << 20);
        body.resize(3 << 20, 7);
        let at = body.as_ptr();
        let bytes = Bytes::from(body);
        let slice = bytes.slice(10..20);
        give_bytes(bytes.clone());
        assert!(
            SPARE.lock().unwrap().is_empty(),
            "kept while still referred to"
        );
        drop(slice);
        give_bytes(bytes);
        let again = take(2 << 20);
        assert_eq!(again.as_ptr(), at, "the same buffer, not a copy");
        assert!(again.is_empty() && again.capacity() >= 3 << 20);

        // An answer comes back when hyper drops its last reference.
        let answer = into_bytes(again);
        let written = answer.clone();
        drop(answer);
        assert!(SPARE.lock().unwrap().is_empty());
        drop(written);
        assert_eq!(SPARE.lock().unwrap().len(), 1);
        SPARE.lock().unwrap().clear();

        // Small, huge and surplus buffers are freed; take picks the smallest that fits.
        give(Vec::with_capacity(4096));
        give(Vec::with_capacity(LARGEST + 1));
        for size in [2 << 20, 5 << 20, 4 << 20, 6 << 20] {
            give(Vec::with_capacity(size));
        }
        assert_eq!(SPARE.lock().unwrap().len(), MOST, "6 MiB was one too many");
        assert_eq!(take(3 << 20).capacity(), 4 << 20);
        assert_eq!(
            take(100).capacity(),
            100,
            "small requests are not served from spares"
        );
        SPARE.lock().unwrap().clear();
    }
}
