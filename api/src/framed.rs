//! The framed body: a `POST /diff` request or answer as bytes instead of base64 JSON.
//!
//! A JSON body carries each container as base64 text, which costs a third more bytes, an
//! encode on one side and a decode on the other, and a JSON scan over megabytes of text.
//! A framed body ([`MEDIA_TYPE`]) carries the same JSON document, small, and the containers
//! after it as they are:
//!
//! ```text
//! offset   size  field
//! 0        4     magic "PCF1"
//! 4        4     J: length of the JSON document, u32 little-endian, 2 ..= MAX_JSON_BYTES
//! 8        J     the JSON document (a DiffRequest or a DiffResponse) whose inline
//!                containers are replaced by {"part": i}
//! 8+J      8     L0: length of part 0, u64 little-endian
//!          L0    part 0
//!          …     part 1, and so on; nothing after the last part
//! ```
//!
//! Every `{"part": i}` of the document names one part, each part is named exactly once,
//! and the parts are numbered in the order the document names them (`a` before `b`). A
//! request sends it with `Content-Type: application/vnd.picrypt.framed` and asks for a
//! framed answer with `Accept: application/vnd.picrypt.framed`; errors are always JSON.

use std::fmt;
use std::ops::Range;

/// The media type of a framed body.
pub const MEDIA_TYPE: &str = "application/vnd.picrypt.framed";

/// The first four bytes of a framed body.
pub const MAGIC: [u8; 4] = *b"PCF1";

/// Longest JSON document a framed body may carry: the document names parts, S3 keys and an
/// operation, never a container, so 64 KiB is far more than it needs.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Most parts one body carries: the two inputs of a request.
pub const MAX_PARTS: usize = 2;

/// A framed body that does not follow the framing. Its message says what is wrong and
/// where, without quoting the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError(String);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "framed body: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

impl FrameError {
    pub(crate) fn no_result() -> FrameError {
        error("the answer carries no result part")
    }
}

fn error(message: impl Into<String>) -> FrameError {
    FrameError(message.into())
}

/// A framed body split into its JSON document and its parts, as ranges of the body: no
/// byte is copied. Every length was checked against the bytes that are there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frames {
    /// Where the JSON document lies in the body.
    pub json: Range<usize>,
    /// Where each part lies in the body, in order.
    pub parts: Vec<Range<usize>>,
}

impl Frames {
    /// Splits `body`. Refuses a wrong magic, a JSON length out of range, a part length
    /// past the end, more than [`MAX_PARTS`] parts and bytes after the last part.
    pub fn split(body: &[u8]) -> Result<Frames, FrameError> {
        if body.len() < 8 {
            return Err(error(format!(
                "{} bytes, shorter than its 8-byte preamble",
                body.len()
            )));
        }
        if body[..4] != MAGIC {
            return Err(error("it does not start with the magic \"PCF1\""));
        }
        let json_len = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes")) as usize;
        if !(2..=MAX_JSON_BYTES).contains(&json_len) {
            return Err(error(format!(
                "a JSON document of {json_len} bytes declared; it must be 2 to {MAX_JSON_BYTES}"
            )));
        }
        if json_len > body.len() - 8 {
            return Err(error(format!(
                "a JSON document of {json_len} bytes declared, {} bytes follow",
                body.len() - 8
            )));
        }
        let json = 8..8 + json_len;
        let mut parts = Vec::new();
        let mut at = json.end;
        while at < body.len() {
            if parts.len() == MAX_PARTS {
                return Err(error(format!(
                    "{} bytes after part {}: at most {MAX_PARTS} parts",
                    body.len() - at,
                    MAX_PARTS - 1
                )));
            }
            let left = body.len() - at;
            if left < 8 {
                return Err(error(format!(
                    "{left} bytes where the 8-byte length of part {} should be",
                    parts.len()
                )));
            }
            let declared = u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
            let start = at + 8;
            let available = (body.len() - start) as u64;
            if declared > available {
                return Err(error(format!(
                    "part {} declares {declared} bytes, {available} follow",
                    parts.len()
                )));
            }
            let end = start + declared as usize;
            parts.push(start..end);
            at = end;
        }
        Ok(Frames { json, parts })
    }
}

/// Writes a framed body: `json`, then each part with its length.
pub fn encode(json: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    encode_into(json, parts, &mut body);
    body
}

/// [`encode`] into `body`, which is cleared first: for a caller that reuses its buffers.
pub fn encode_into(json: &[u8], parts: &[&[u8]], body: &mut Vec<u8>) {
    let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    let heads = heads(json, &lengths);
    let size = heads.iter().map(Vec::len).sum::<usize>() + lengths.iter().sum::<usize>();
    body.clear();
    body.reserve_exact(size);
    for (i, head) in heads.iter().enumerate() {
        body.extend_from_slice(head);
        body.extend_from_slice(parts.get(i).copied().unwrap_or_default());
    }
}

/// The bytes a framed body has around its parts, for a sender that does not copy the
/// parts into one buffer: `head 0, part 0, head 1, part 1, …` is the body [`encode`]
/// writes. Head 0 is the preamble, the JSON document and part 0's length; every other
/// head is its part's length. With no parts, the one head is the whole body.
pub fn heads(json: &[u8], part_lengths: &[usize]) -> Vec<Vec<u8>> {
    assert!(
        (2..=MAX_JSON_BYTES).contains(&json.len()) && part_lengths.len() <= MAX_PARTS,
        "a framed body holds a JSON document of 2 to {MAX_JSON_BYTES} bytes and at most {MAX_PARTS} parts"
    );
    let mut first = Vec::with_capacity(16 + json.len());
    first.extend_from_slice(&MAGIC);
    first.extend_from_slice(&(json.len() as u32).to_le_bytes());
    first.extend_from_slice(json);
    let mut heads = vec![first];
    for (i, &length) in part_lengths.iter().enumerate() {
        let length = (length as u64).to_le_bytes();
        match i {
            0 => heads[0].extend_from_slice(&length),
            _ => heads.push(length.to_vec()),
        }
    }
    heads
}

/// Checks that the part numbers a document names, in order, are exactly `0..parts`.
pub fn check_references(named: &[usize], parts: usize) -> Result<(), FrameError> {
    let expected: Vec<usize> = (0..named.len()).collect();
    if named != expected.as_slice() {
        return Err(error(format!(
            "the document names parts {named:?}; it must name 0, 1, … in order, each once"
        )));
    }
    if named.len() != parts {
        return Err(error(format!(
            "the document names {} part(s), the body carries {parts}",
            named.len()
        )));
    }
    Ok(())
}

/// Whether a `Content-Type` or one entry of an `Accept` header is [`MEDIA_TYPE`] (case
/// aside, parameters ignored).
pub fn is_media_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case(MEDIA_TYPE)
}

/// Whether an `Accept` header asks for a framed answer: one of its entries is
/// [`MEDIA_TYPE`] with a quality other than zero.
pub fn accepts(accept: &str) -> bool {
    accept.split(',').any(|entry| {
        is_media_type(entry)
            && !entry.split(';').skip(1).any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_without_copies() {
        let body = encode(br#"{"x":1}"#, &[b"AAA", b""]);
        assert_eq!(&body[..4], b"PCF1");
        let f = Frames::split(&body).unwrap();
        assert_eq!(&body[f.json.clone()], br#"{"x":1}"#);
        assert_eq!(f.parts.len(), 2);
        assert_eq!(&body[f.parts[0].clone()], b"AAA");
        assert_eq!(&body[f.parts[1].clone()], b"");
        let f = Frames::split(&encode(b"{}", &[])).unwrap();
        assert!(f.parts.is_empty());
    }

    #[test]
    fn heads_and_parts_in_turn_are_the_body() {
        for parts in [
            &[][..],
            &[&b"AAA"[..]],
            &[&b"AAA"[..], &b""[..]],
            &[&b""[..], &b"BB"[..]],
        ] {
            let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            let heads = heads(br#"{"x":1}"#, &lengths);
            assert_eq!(heads.len(), parts.len().max(1));
            let mut sent = Vec::new();
            for (i, head) in heads.iter().enumerate() {
                sent.extend_from_slice(head);
                if let Some(part) = parts.get(i) {
                    sent.extend_from_slice(part);
                }
            }
            assert_eq!(sent, encode(br#"{"x":1}"#, parts));
        }
    }

    #[test]
    fn every_length_is_checked() {
        let good = encode(b"{}", &[b"abcd"]);
        let split = |b: &[u8]| Frames::split(b).unwrap_err().to_string();
        assert_eq!(
            split(b"PCF1"),
            "framed body: 4 bytes, shorter than its 8-byte preamble"
        );
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(split(&bad).contains("magic"));
        for declared in [0u32, 1, MAX_JSON_BYTES as u32 + 1, u32::MAX] {
            let mut bad = good.clone();
            bad[4..8].copy_from_slice(&declared.to_le_bytes());
            assert!(split(&bad).contains(&format!("{declared} bytes declared")));
        }
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(
            split(&bad),
            "framed body: a JSON document of 100 bytes declared, 14 bytes follow"
        );
        for declared in [5u64, u64::MAX, 1 << 63] {
            let mut bad = good.clone();
            bad[10..18].copy_from_slice(&declared.to_le_bytes());
            assert_eq!(
                split(&bad),
                format!("framed body: part 0 declares {declared} bytes, 4 follow")
            );
        }
        let mut bad = good.clone();
        bad.extend_from_slice(&[0; 3]);
        assert!(split(&bad).contains("3 bytes where the 8-byte length of part 1 should be"));
        let three = [
            encode(b"{}", &[b"a", b"b"]),
            vec![1, 0, 0, 0, 0, 0, 0, 0, 7],
        ]
        .concat();
        assert!(split(&three).contains("at most 2 parts"));
        // Every truncation of a good body is refused, never a panic.
        for n in 0..good.len() {
            let _ = Frames::split(&good[..n]);
        }
    }

    #[test]
    fn references_and_media_types() {
        assert!(check_references(&[0, 1], 2).is_ok());
        assert!(check_references(&[0], 1).is_ok());
        assert!(check_references(&[], 0).is_ok());
        assert!(check_references(&[1, 0], 2).is_err());
        assert!(check_references(&[0, 0], 2).is_err());
        assert!(check_references(&[0], 2)
            .unwrap_err()
            .to_string()
            .contains("carries 2"));
        assert!(check_references(&[0, 1], 1).is_err());
        assert!(is_media_type("application/vnd.picrypt.framed"));
        assert!(is_media_type("Application/VND.picrypt.Framed; v=1"));
        assert!(!is_media_type("application/vnd.picrypt.framed2"));
        assert!(accepts("application/json, application/vnd.picrypt.framed"));
        assert!(accepts("application/vnd.picrypt.framed;q=0.9"));
        assert!(!accepts("application/vnd.picrypt.framed;q=0"));
        assert!(!accepts("application/json"));
        assert!(!accepts("*/*"));
    }
}
