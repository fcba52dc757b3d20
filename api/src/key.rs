//! The rules an S3 key must follow to be read or written: the function checks every key it
//! is sent, and a client can check its own upload keys before uploading.

use std::fmt;

use crate::limits::MAX_S3_KEY_BYTES;
use crate::ErrorCode;

/// Why an S3 key is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3KeyError {
    /// The key is empty (`400 bad_request`).
    Empty,
    /// The key is longer than [`MAX_S3_KEY_BYTES`] (`400 bad_request`).
    TooLong,
    /// The key could be normalised into another object by an HTTP client or an
    /// S3-compatible server: a `.` or `..` segment, `//`, a leading `/`, a backslash or a
    /// control character (`403 key_forbidden`).
    PathTricks {
        /// The key refused.
        key: String,
    },
    /// The key does not start with the prefix (`403 key_forbidden`).
    OutsidePrefix {
        /// The key refused.
        key: String,
        /// The prefix every key must start with.
        prefix: String,
    },
}

impl S3KeyError {
    /// The code an answer refusing this key carries.
    pub fn code(&self) -> ErrorCode {
        match self {
            S3KeyError::Empty | S3KeyError::TooLong => ErrorCode::BadRequest,
            S3KeyError::PathTricks { .. } | S3KeyError::OutsidePrefix { .. } => {
                ErrorCode::KeyForbidden
            }
        }
    }
}

impl fmt::Display for S3KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            S3KeyError::Empty => f.write_str("empty S3 key"),
            S3KeyError::TooLong => write!(f, "S3 keys are at most {MAX_S3_KEY_BYTES} bytes"),
            S3KeyError::PathTricks { key } => write!(
                f,
                "key {key:?} contains path tricks (., .., //, leading /, backslash or control characters)"
            ),
            S3KeyError::OutsidePrefix { key, prefix } => write!(
                f,
                "key {key:?} is outside the prefix {prefix:?} this function serves"
            ),
        }
    }
}

impl std::error::Error for S3KeyError {}

/// Checks an S3 key against the API's rules: not empty, at most [`MAX_S3_KEY_BYTES`]
/// bytes, no `.` or `..` segment, no `//`, no leading `/`, no backslash, no control
/// character, and starting with `prefix` (which may be empty).
pub fn check_s3_key(key: &str, prefix: &str) -> Result<(), S3KeyError> {
    if key.is_empty() {
        return Err(S3KeyError::Empty);
    }
    if key.len() > MAX_S3_KEY_BYTES {
        return Err(S3KeyError::TooLong);
    }
    let tricky = key.starts_with('/')
        || key.contains("//")
        || key.contains('\\')
        || key.chars().any(char::is_control)
        || key.split('/').any(|s| s == "." || s == "..");
    if tricky {
        return Err(S3KeyError::PathTricks {
            key: key.to_string(),
        });
    }
    if !key.starts_with(prefix) {
        return Err(S3KeyError::OutsidePrefix {
            key: key.to_string(),
            prefix: prefix.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_under_the_prefix() {
        check_s3_key("picrypt/x/a.picrypt", "picrypt/").unwrap();
        check_s3_key("any/key", "").unwrap();
        check_s3_key(&"k".repeat(MAX_S3_KEY_BYTES), "").unwrap();
        for bad in [
            "other/a",
            "picrypt/../secret",
            "picrypt/./a",
            "/picrypt/a",
            "picrypt//a",
            "picrypt\\..\\a",
            "picrypt/a\n",
            "picrypt/..",
            "picryp",
            "..",
        ] {
            let e = check_s3_key(bad, "picrypt/").unwrap_err();
            assert_eq!(e.code(), ErrorCode::KeyForbidden, "{bad:?}");
            assert_eq!(e.code().status(), 403, "{bad:?}");
        }
        assert_eq!(check_s3_key("", "picrypt/"), Err(S3KeyError::Empty));
        let long = "picrypt/".repeat(200);
        assert_eq!(check_s3_key(&long, "picrypt/"), Err(S3KeyError::TooLong));
        assert_eq!(S3KeyError::TooLong.code().status(), 400);
    }

    #[test]
    fn messages() {
        assert_eq!(S3KeyError::Empty.to_string(), "empty S3 key");
        assert_eq!(
            S3KeyError::TooLong.to_string(),
            "S3 keys are at most 1024 bytes"
        );
        assert_eq!(
            check_s3_key("p/../x", "p/").unwrap_err().to_string(),
            r#"key "p/../x" contains path tricks (., .., //, leading /, backslash or control characters)"#
        );
        assert_eq!(
            check_s3_key("o/x", "p/").unwrap_err().to_string(),
            r#"key "o/x" is outside the prefix "p/" this function serves"#
        );
    }
}
