//! Hostile headers must be refused before the parser allocates anything large. A counting
//! allocator records the largest single allocation made while parsing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use picrypt_core::format::{Container, Header, MAGIC};

struct Counting;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn header(width: u32, height: u32, terms: u16, ext_len: u32, payload_len: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&[1, 1, 8, 9]);
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&height.to_le_bytes());
    b.extend_from_slice(&[3, 1]);
    b.extend_from_slice(&terms.to_le_bytes());
    b.extend_from_slice(&0i32.to_le_bytes());
    b.extend_from_slice(&255i32.to_le_bytes());
    b.extend_from_slice(&[0u8; 16]);
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&ext_len.to_le_bytes());
    b.extend_from_slice(&payload_len.to_le_bytes());
    b
}

#[test]
fn hostile_sizes_do_not_allocate() {
    let cases = [
        header(100_000, 100_000, 1, 0, u64::MAX),
        header(u32::MAX, u32::MAX, 1, 0, 0),
        header(16384, 16383, 1, 0, 301_981_248),
        header(10, 10, u16::MAX, 0, 338),
        header(10, 10, 1, u32::MAX, 338),
        header(10, 10, 1, 0, u64::MAX),
    ];
    for bytes in &cases {
        LARGEST.store(0, Ordering::Relaxed);
        let e1 = Container::parse(bytes);
        let e2 = Header::parse(bytes);
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(e1.is_err() && e2.is_err());
        assert!(largest < 4096, "parsing allocated {largest} bytes at once");
    }
}
