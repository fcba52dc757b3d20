//! Size limits of the API, and the one check of a request body's size.

use std::fmt;

use crate::ErrorCode;

/// Largest request body the function accepts: 6 MiB (6 291 456 bytes), Lambda's limit for
/// a synchronous invocation. `GET /health` reports it as `max_request_bytes`.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;

/// Room the CLI leaves, below [`MAX_REQUEST_BYTES`], for the rest of the invocation event.
///
/// Lambda's 6 MB quota for a synchronous invocation counts the whole *invocation payload*
/// — the event JSON Lambda builds from the HTTP request: the body (base64-encoded when it
/// is binary), the headers, the query string and the request context — not the body alone
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>, "Invocation
/// payload (request and response)"; a Function URL in BUFFERED mode "invokes your function
/// using the Invoke API operation … The maximum payload size is 6 MB",
/// <https://docs.aws.amazon.com/lambda/latest/api/API_FunctionUrlConfig.html>). A
/// Function URL event around a body is about 1–2 KB, SigV4 headers included; 64 KiB is a
/// wide margin that costs 1 % of the inline capacity.
pub const EVENT_ENVELOPE_MARGIN: usize = 64 * 1024;

/// Largest request body the CLI sends inline: [`MAX_REQUEST_BYTES`] less
/// [`EVENT_ENVELOPE_MARGIN`], so the whole event stays within Lambda's quota. Larger pairs
/// go through S3.
pub const MAX_SENT_REQUEST_BYTES: usize = MAX_REQUEST_BYTES - EVENT_ENVELOPE_MARGIN;

/// Whether a client should send a JSON body of `bytes` bytes inline: at most
/// [`MAX_SENT_REQUEST_BYTES`].
pub fn fits_one_invocation(bytes: usize) -> bool {
    bytes <= MAX_SENT_REQUEST_BYTES
}

/// The size of a framed body of `bytes` bytes ([`crate::framed`]) in a Lambda event, which
/// carries a binary body base64-encoded: what Lambda's quota counts.
pub fn framed_event_bytes(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// Whether a client should send a framed body of `bytes` bytes inline: its base64 form
/// fits as a JSON body would, so a framed body carries as much as a JSON one.
pub fn fits_one_invocation_framed(bytes: usize) -> bool {
    fits_one_invocation(framed_event_bytes(bytes))
}

/// Largest payload a client sends in one direct invocation (the Lambda Invoke API:
/// `picrypt --function-name`, `aws lambda invoke`, Step Functions). There the payload *is*
/// the JSON request document, with no event around it and never base64, so this is
/// Lambda's own limit and nothing else: Lambda refuses a larger request before the
/// function runs (`RequestEntityTooLargeException: Request must be smaller than 6291456
/// bytes for the InvokeFunction operation`), read literally as at most 6 291 455 bytes.
/// The function itself refuses a payload over [`MAX_REQUEST_BYTES`], as it does a body.
pub const MAX_INVOKE_PAYLOAD_BYTES: usize = MAX_REQUEST_BYTES - 1;

/// Whether a client should send a request document of `bytes` bytes in one direct
/// invocation: at most [`MAX_INVOKE_PAYLOAD_BYTES`].
pub fn fits_one_direct_invocation(bytes: usize) -> bool {
    bytes <= MAX_INVOKE_PAYLOAD_BYTES
}

/// Largest response body Lambda returns synchronously: 6 MiB, like a request.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// Largest result sent inline, as base64 text: a 6 MiB response less 16 KiB of room for
/// the rest of the JSON and the headers. A larger result goes to S3 or is refused.
pub const MAX_INLINE_RESULT_BYTES: usize = MAX_RESPONSE_BYTES - 16 * 1024;

/// Longest S3 key, in bytes (S3's own limit).
pub const MAX_S3_KEY_BYTES: usize = 1024;

/// A request body over [`MAX_REQUEST_BYTES`]: answered `413 request_too_large`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTooLarge {
    /// The body's size, when it is known; `None` when the body is only known to run past
    /// the limit (a stream cut off at the limit).
    pub bytes: Option<u64>,
    /// Whether the body is framed ([`crate::framed`]): its limit is on its base64 form.
    pub framed: bool,
}

impl RequestTooLarge {
    /// The code of the answer: `request_too_large` (413).
    pub const CODE: ErrorCode = ErrorCode::RequestTooLarge;
}

impl fmt::Display for RequestTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bytes {
            Some(n) if self.framed => write!(f, "framed request body of {n} bytes is {} bytes as base64 (as Lambda's event carries it), over the {MAX_REQUEST_BYTES}-byte limit: upload the ciphertexts to S3 and send their keys", framed_event_bytes(n as usize)),
            Some(n) => write!(f, "request body of {n} bytes exceeds the {MAX_REQUEST_BYTES}-byte limit: upload the ciphertexts to S3 and send their keys"),
            None => write!(f, "request body exceeds the {MAX_REQUEST_BYTES}-byte limit: upload the ciphertexts to S3 and send their keys"),
        }
    }
}

impl std::error::Error for RequestTooLarge {}

/// Checks a request body's length against [`MAX_REQUEST_BYTES`]: the one check the
/// function's handler, `picrypt serve`'s HTTP layer (on a declared `Content-Length`) and
/// the CLI (before sending) all make.
pub fn check_request_size(bytes: u64) -> Result<(), RequestTooLarge> {
    if bytes > MAX_REQUEST_BYTES as u64 {
        Err(RequestTooLarge {
            bytes: Some(bytes),
            framed: false,
        })
    } else {
        Ok(())
    }
}

/// Checks a framed body's length ([`crate::framed`]): its base64 form, which is what a
/// Lambda event carries, against [`MAX_REQUEST_BYTES`]. So a framed body carries no more
/// than a JSON body could, whichever server receives it.
pub fn check_framed_request_size(bytes: u64) -> Result<(), RequestTooLarge> {
    // ⌈n/3⌉·4 ≤ MAX exactly when n ≤ MAX/4·3 (MAX is a multiple of 4).
    if bytes > (MAX_REQUEST_BYTES / 4 * 3) as u64 {
        Err(RequestTooLarge {
            bytes: Some(bytes),
            framed: true,
        })
    } else {
        Ok(())
    }
}

/// Whether a result container of `bytes` bytes travels inline: its base64 text is at most
/// [`MAX_INLINE_RESULT_BYTES`].
pub fn fits_inline(bytes: usize) -> bool {
    bytes.div_ceil(3) * 4 <= MAX_INLINE_RESULT_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_limit() {
        assert_eq!(MAX_REQUEST_BYTES, 6_291_456);
        assert!(check_request_size(0).is_ok());
        assert!(check_request_size(MAX_REQUEST_BYTES as u64).is_ok());
        let e = check_request_size(MAX_REQUEST_BYTES as u64 + 1).unwrap_err();
        assert_eq!(e.bytes, Some(6_291_457));
        assert_eq!(
            e.to_string(),
            "request body of 6291457 bytes exceeds the 6291456-byte limit: upload the ciphertexts to S3 and send their keys"
        );
        assert_eq!(
            RequestTooLarge {
                bytes: None,
                framed: false
            }
            .to_string(),
            "request body exceeds the 6291456-byte limit: upload the ciphertexts to S3 and send their keys"
        );
        assert_eq!(RequestTooLarge::CODE.status(), 413);

        // A framed body is limited by its base64 form: 4 718 592 bytes at most.
        let max_framed = (MAX_REQUEST_BYTES / 4 * 3) as u64;
        assert!(check_framed_request_size(max_framed).is_ok());
        let e = check_framed_request_size(max_framed + 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "framed request body of 4718593 bytes is 6291460 bytes as base64 (as Lambda's event carries it), over the 6291456-byte limit: upload the ciphertexts to S3 and send their keys"
        );
        assert!(check_framed_request_size(u64::MAX).is_err());
        assert!(fits_one_invocation_framed(MAX_SENT_REQUEST_BYTES / 4 * 3));
        assert!(!fits_one_invocation_framed(
            MAX_SENT_REQUEST_BYTES / 4 * 3 + 1
        ));
    }

    #[test]
    fn inline_limit() {
        let max = MAX_INLINE_RESULT_BYTES / 4 * 3;
        assert!(fits_one_invocation(MAX_SENT_REQUEST_BYTES));
        assert!(!fits_one_invocation(MAX_SENT_REQUEST_BYTES + 1));
        const { assert!(MAX_SENT_REQUEST_BYTES < MAX_REQUEST_BYTES) };
        // A direct invocation has no event around the document: 64 KiB more than a URL.
        assert!(fits_one_direct_invocation(6_291_455));
        assert!(!fits_one_direct_invocation(6_291_456));
        const { assert!(MAX_INVOKE_PAYLOAD_BYTES > MAX_SENT_REQUEST_BYTES) };
        assert!(fits_inline(0));
        assert!(fits_inline(max));
        assert!(!fits_inline(max + 1));
    }
}
