//! `ops::apply_bytes(op, a, b)` on two arbitrary inputs: never panics, and a result is
//! always a container that parses, round-trips, whose header is exactly the one
//! `ops::result_header` predicts for the two inputs, and whose bytes equal those of
//! `ops::apply` on the parsed inputs.
//!
//! Input layout: the first two bytes (little-endian u16) give the length of A (low 15
//! bits), taken from what follows (clamped); the rest is B. The top bit picks the op from
//! `Op::ALL` (`Op::Sub` when clear, and always `Op::Sub` while it is the only op).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picrypt_core::format::ContainerRef;
use picrypt_core::ops::{self, Op};
use picrypt_core::Container;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let word = u16::from_le_bytes([data[0], data[1]]);
    let split = (word & 0x7fff) as usize;
    let op: Op = Op::ALL[(word >> 15) as usize % Op::ALL.len()];
    let rest = &data[2..];
    let (a, b) = rest.split_at(split.min(rest.len()));
    let Ok(out) = ops::apply_bytes(op, a, b) else {
        return;
    };
    let c = Container::parse(&out)
        .unwrap_or_else(|e| panic!("apply_bytes produced a container that does not parse: {e}"));
    assert_eq!(c.to_bytes(), out, "result does not round-trip");
    // Both inputs parsed (else apply_bytes failed), and the result claims to be op(A, B).
    let ra = ContainerRef::parse(a).expect("A parsed inside apply_bytes");
    let rb = ContainerRef::parse(b).expect("B parsed inside apply_bytes");
    ops::check_result_of(op, ra.header(), rb.header(), c.header()).expect("result header is not op(A, B)");
    // The owned-container path computes the same bytes.
    let ca = Container::parse(a).unwrap();
    let cb = Container::parse(b).unwrap();
    let owned = ops::apply(op, &ca, &cb).expect("apply refused what apply_bytes accepted");
    assert_eq!(owned, c, "apply and apply_bytes disagree");
});
