//! Bit packing of samples modulo 2^k, and lane-wise arithmetic directly on packed bytes.
//!
//! Sample `i` occupies bits `i·k .. (i+1)·k` of a little-endian bit stream (bit `b` is bit
//! `b mod 8` of byte `b / 8`); unused bits of the last byte are zero. Sixty-four samples
//! always fill exactly `k` 64-bit words, so subtraction can run on whole words without
//! unpacking (see [`sub_packed`]).

#[allow(unused_imports)]
use crate::par::*;

/// Packs `values` (each already reduced below 2^`bits`) into `out`, which must be exactly
/// `packed_len(values.len(), bits)` bytes when `values` ends the stream, or `values.len()·bits/8`
/// bytes when `values.len()` is a multiple of 8.
pub(crate) fn pack_into<T: Copy + Into<u64>>(values: &[T], bits: u8, out: &mut [u8]) {
    // Eight 9-bit samples are exactly nine bytes: the mask scheme's every ciphertext, so
    // it gets a loop without a data-dependent branch.
    let done = if bits == 9 { pack9(values, out) } else { 0 };
    pack_bits(&values[done..], bits, &mut out[done / 8 * 9..]);
}

/// Packs whole groups of eight 9-bit samples; returns how many samples it packed.
fn pack9<T: Copy + Into<u64>>(values: &[T], out: &mut [u8]) -> usize {
    let groups = values.len() / 8;
    for (v, o) in values
        .chunks_exact(8)
        .zip(out.chunks_exact_mut(9))
        .take(groups)
    {
        let mut low = 0u64;
        for (j, &x) in v[..7].iter().enumerate() {
            low |= x.into() << (9 * j);
        }
        let last: u64 = v[7].into();
        low |= last << 63;
        o[..8].copy_from_slice(&low.to_le_bytes());
        o[8] = (last >> 1) as u8;
    }
    groups * 8
}

fn pack_bits<T: Copy + Into<u64>>(values: &[T], bits: u8, out: &mut [u8]) {
    let bits = bits as u32;
    let mut acc: u64 = 0;
    let mut filled: u32 = 0;
    let mut o = 0;
    for &v in values {
        acc |= v.into() << filled;
        filled += bits;
        while filled >= 8 {
            out[o] = acc as u8;
            o += 1;
            acc >>= 8;
            filled -= 8;
        }
    }
    if filled > 0 {
        out[o] = acc as u8;
    }
}

/// Unpacks `out.len()` values of `bits` bits from the start of `bytes`.
pub(crate) fn unpack_into(bytes: &[u8], bits: u8, out: &mut [u16]) {
    let done = if bits == 9 { unpack9(bytes, out) } else { 0 };
    unpack_bits(&bytes[done / 8 * 9..], bits, &mut out[done..]);
}

/// Unpacks whole groups of eight 9-bit samples; returns how many samples it unpacked.
fn unpack9(bytes: &[u8], out: &mut [u16]) -> usize {
    let groups = (out.len() / 8).min(bytes.len() / 9);
    for (o, b) in out
        .chunks_exact_mut(8)
        .zip(bytes.chunks_exact(9))
        .take(groups)
    {
        let low = u64::from_le_bytes(b[..8].try_into().expect("nine bytes"));
        for (j, v) in o[..7].iter_mut().enumerate() {
            *v = ((low >> (9 * j)) & 0x1ff) as u16;
        }
        o[7] = ((low >> 63) | ((b[8] as u64) << 1)) as u16;
    }
    groups * 8
}

fn unpack_bits(bytes: &[u8], bits: u8, out: &mut [u16]) {
    let bits = bits as u32;
    let mask = (1u64 << bits) - 1;
    let mut acc: u64 = 0;
    let mut avail: u32 = 0;
    let mut i = 0;
    for v in out.iter_mut() {
        while avail < bits {
            acc |= (bytes[i] as u64) << avail;
            i += 1;
            avail += 8;
        }
        *v = (acc & mask) as u16;
        acc >>= bits;
        avail -= bits;
    }
}

/// Unpacks all `n` values of a packed stream.
pub(crate) fn unpack(bytes: &[u8], bits: u8, n: usize) -> Vec<u16> {
    let mut out = vec![0u16; n];
    unpack_into(bytes, bits, &mut out);
    out
}

/// Packs a whole stream.
#[cfg(test)]
fn pack(values: &[u16], bits: u8) -> Vec<u8> {
    let mut out = vec![0u8; crate::format::packed_len(values.len(), bits)];
    pack_into(values, bits, &mut out);
    out
}

/// Whether the bits after the last sample in a packed stream are all zero.
pub(crate) fn padding_is_zero(bytes: &[u8], bits: u8, n: usize) -> bool {
    let used = n * bits as usize;
    let rem = used % 8;
    if rem == 0 {
        return true;
    }
    match bytes.last() {
        Some(&last) => last >> rem == 0,
        None => true,
    }
}

/// Samples per parallel chunk of [`sub_packed_into`]; a multiple of 64 so chunks start on
/// block boundaries.
const SUB_CHUNK_SAMPLES: usize = 64 * 2048;

/// Lane-wise operation on packed streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LaneOp {
    Add,
    Sub,
}

/// `x ← x ± y` lane-wise mod 2^`bits` over packed bytes, without unpacking.
///
/// Sixty-four lanes fill exactly `bits` little-endian u64 words (a block). With `H` the
/// top bit of every lane, `((x | H) − (y & !H)) ^ ((x ^ !y) & H)` subtracts and
/// `((x & !H) + (y & !H)) ^ ((x ^ y) & H)` adds every lane at once; no borrow or carry
/// ever leaves a lane, and inside a lane that straddles two words it is carried by the
/// multi-word arithmetic. `x` must start on a block boundary of the stream; a partial
/// block at the end is handled by zero padding (bits past the data are left as computed:
/// callers that need zero padding bits clear them).
pub(crate) fn lanewise_in_place(x: &mut [u8], y: &[u8], bits: u8, op: LaneOp) {
    debug_assert_eq!(x.len(), y.len());
    let high = lane_high_bits(bits);
    let block = 8 * bits as usize;
    let full = x.len() / block * block;
    let (x_full, x_tail) = x.split_at_mut(full);
    blocks(x_full, &y[..full], &high, op);
    if !x_tail.is_empty() {
        let mut tx = vec![0u8; block];
        let mut ty = vec![0u8; block];
        tx[..x_tail.len()].copy_from_slice(x_tail);
        ty[..x_tail.len()].copy_from_slice(&y[full..]);
        blocks(&mut tx, &ty, &high, op);
        let n = x_tail.len();
        x_tail.copy_from_slice(&tx[..n]);
    }
}

/// `out ← (a − b) mod 2^bits` lane-wise, in parallel; `out` has the length of `a`.
/// Padding bits stay zero when they are zero in both inputs (0 − 0 = 0).
pub(crate) fn sub_packed_into(a: &[u8], b: &[u8], bits: u8, out: &mut [u8]) {
    debug_assert!(a.len() == b.len() && a.len() == out.len());
    let chunk_bytes = SUB_CHUNK_SAMPLES * bits as usize / 8;
    out.par_chunks_mut(chunk_bytes)
        .zip(a.par_chunks(chunk_bytes))
        .zip(b.par_chunks(chunk_bytes))
        .for_each(|((o, a), b)| {
            o.copy_from_slice(a);
            lanewise_in_place(o, b, bits, LaneOp::Sub);
        });
}

/// `(a − b) mod 2^bits` lane-wise, as a new stream.
#[cfg(test)]
fn sub_packed(a: &[u8], b: &[u8], bits: u8) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    sub_packed_into(a, b, bits, &mut out);
    out
}

/// Zeroes the bits after sample `n` in the last byte of a packed stream.
pub(crate) fn clear_padding(bytes: &mut [u8], bits: u8, n: usize) {
    let rem = (n * bits as usize) % 8;
    if rem != 0 {
        if let Some(last) = bytes.last_mut() {
            *last &= (1u8 << rem) - 1;
        }
    }
}

/// The words of one 64-lane block with only each lane's top bit set.
fn lane_high_bits(bits: u8) -> Vec<u64> {
    let k = bits as usize;
    let mut words = vec![0u64; k];
    for lane in 0..64 {
        let bit = lane * k + k - 1;
        words[bit / 64] |= 1u64 << (bit % 64);
    }
    words
}

fn blocks(x: &mut [u8], y: &[u8], high: &[u64], op: LaneOp) {
    // Monomorphised per lane width so the word loop unrolls and bounds checks vanish.
    match (high.len(), op) {
        (9, LaneOp::Sub) => blocks_k::<9, false>(x, y, high),
        (9, LaneOp::Add) => blocks_k::<9, true>(x, y, high),
        (_, LaneOp::Sub) => blocks_dyn::<false>(x, y, high),
        (_, LaneOp::Add) => blocks_dyn::<true>(x, y, high),
    }
}

#[inline(always)]
fn lane_step<const ADD: bool>(a: u64, b: u64, h: u64, carry: &mut bool) -> u64 {
    if ADD {
        let (s, c1) = (a & !h).overflowing_add(b & !h);
        let (s, c2) = s.overflowing_add(*carry as u64);
        *carry = c1 | c2;
        s ^ ((a ^ b) & h)
    } else {
        let (d, b1) = (a | h).overflowing_sub(b & !h);
        let (d, b2) = d.overflowing_sub(*carry as u64);
        *carry = b1 | b2;
        d ^ ((a ^ !b) & h)
    }
}

fn blocks_k<const K: usize, const ADD: bool>(x: &mut [u8], y: &[u8], high: &[u64]) {
    let high: [u64; K] = high.try_into().unwrap();
    for (xb, yb) in x.chunks_exact_mut(8 * K).zip(y.chunks_exact(8 * K)) {
        let mut carry = false;
        for w in 0..K {
            let a = u64::from_le_bytes(xb[8 * w..8 * w + 8].try_into().unwrap());
            let b = u64::from_le_bytes(yb[8 * w..8 * w + 8].try_into().unwrap());
            let r = lane_step::<ADD>(a, b, high[w], &mut carry);
            xb[8 * w..8 * w + 8].copy_from_slice(&r.to_le_bytes());
        }
    }
}

fn blocks_dyn<const ADD: bool>(x: &mut [u8], y: &[u8], high: &[u64]) {
    let k = high.len();
    for (xb, yb) in x.chunks_exact_mut(8 * k).zip(y.chunks_exact(8 * k)) {
        let mut carry = false;
        for (w, &h) in high.iter().enumerate() {
            let a = u64::from_le_bytes(xb[8 * w..8 * w + 8].try_into().unwrap());
            let b = u64::from_le_bytes(yb[8 * w..8 * w + 8].try_into().unwrap());
            let r = lane_step::<ADD>(a, b, h, &mut carry);
            xb[8 * w..8 * w + 8].copy_from_slice(&r.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_round_trip(bits in 8u8..=16, raw in proptest::collection::vec(any::<u16>(), 0..300)) {
            let values: Vec<u16> = raw.iter().map(|v| v & ((1u32 << bits) - 1) as u16).collect();
            let packed = pack(&values, bits);
            prop_assert_eq!(packed.len(), crate::format::packed_len(values.len(), bits));
            prop_assert!(padding_is_zero(&packed, bits, values.len()));
            prop_assert_eq!(unpack(&packed, bits, values.len()), values);
        }

        #[test]
        fn packed_sub_matches_lanewise(bits in 8u8..=16, pairs in proptest::collection::vec(any::<(u16, u16)>(), 0..400)) {
            let m = ((1u32 << bits) - 1) as u16;
            let a: Vec<u16> = pairs.iter().map(|p| p.0 & m).collect();
            let b: Vec<u16> = pairs.iter().map(|p| p.1 & m).collect();
            let expect: Vec<u16> = a.iter().zip(&b).map(|(x, y)| x.wrapping_sub(*y) & m).collect();
            let got = sub_packed(&pack(&a, bits), &pack(&b, bits), bits);
            prop_assert!(padding_is_zero(&got, bits, a.len()));
            prop_assert_eq!(unpack(&got, bits, a.len()), expect);
        }

        #[test]
        fn packed_add_matches_lanewise(bits in 8u8..=16, pairs in proptest::collection::vec(any::<(u16, u16)>(), 0..400)) {
            let m = ((1u32 << bits) - 1) as u16;
            let a: Vec<u16> = pairs.iter().map(|p| p.0 & m).collect();
            let b: Vec<u16> = pairs.iter().map(|p| p.1 & m).collect();
            let expect: Vec<u16> = a.iter().zip(&b).map(|(x, y)| x.wrapping_add(*y) & m).collect();
            let mut got = pack(&a, bits);
            lanewise_in_place(&mut got, &pack(&b, bits), bits, LaneOp::Add);
            prop_assert_eq!(unpack(&got, bits, a.len()), expect);
        }
    }

    proptest! {
        /// The 9-bit fast paths give the bytes and values of the generic loop, at every
        /// length (whole groups of eight and the tail after them).
        #[test]
        fn nine_bit_fast_paths_match_the_generic_loop(raw in proptest::collection::vec(0u16..512, 0..100)) {
            let mut generic = vec![0u8; crate::format::packed_len(raw.len(), 9)];
            pack_bits(&raw, 9, &mut generic);
            prop_assert_eq!(pack(&raw, 9), generic.clone());
            let mut values = vec![0u16; raw.len()];
            unpack_bits(&generic, 9, &mut values);
            prop_assert_eq!(unpack(&generic, 9, raw.len()), values);
        }
    }

    #[test]
    fn packed_sub_spans_parallel_chunks() {
        let n = SUB_CHUNK_SAMPLES * 2 + 77;
        let a: Vec<u16> = (0..n).map(|i| (i * 7 % 512) as u16).collect();
        let b: Vec<u16> = (0..n).map(|i| (i * 13 % 512) as u16).collect();
        let got = unpack(&sub_packed(&pack(&a, 9), &pack(&b, 9), 9), 9, n);
        for i in 0..n {
            assert_eq!(got[i], a[i].wrapping_sub(b[i]) & 511, "sample {i}");
        }
    }
}
