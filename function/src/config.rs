//! The function's configuration, from its environment.

use crate::api::ApiError;

/// What the function may touch. It holds no keys.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The only bucket the function reads and writes (`PICRYPT_BUCKET`); no S3 without it.
    pub bucket: Option<String>,
    /// Every key read or written must start with this (`PICRYPT_PREFIX`, e.g. `picrypt/`).
    pub prefix: String,
    /// Largest S3 object the function will read (`PICRYPT_MAX_OBJECT_BYTES`).
    pub max_object_bytes: u64,
}

/// A container of 2^28 samples at 9 bits is 302 MB; nothing valid is larger.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 320 * 1024 * 1024;

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let max_object_bytes = match var("PICRYPT_MAX_OBJECT_BYTES") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("PICRYPT_MAX_OBJECT_BYTES is not a number: {v}"))?,
            None => DEFAULT_MAX_OBJECT_BYTES,
        };
        let prefix = var("PICRYPT_PREFIX").unwrap_or_default();
        if prefix.starts_with('/') || prefix.split('/').any(|s| s == "." || s == "..") {
            return Err(format!(
                "PICRYPT_PREFIX {prefix:?} must be a plain key prefix"
            ));
        }
        Ok(Config {
            bucket: var("PICRYPT_BUCKET"),
            prefix,
            max_object_bytes,
        })
    }

    /// The bucket a request may use: the configured one, named or implied.
    pub fn authorize_bucket(&self, requested: Option<&str>) -> Result<&str, ApiError> {
        let Some(configured) = self.bucket.as_deref() else {
            return Err(ApiError::new(
                400,
                "s3_not_configured",
                "this function has no bucket configured (PICRYPT_BUCKET); send ciphertexts inline",
            ));
        };
        match requested {
            None => Ok(configured),
            Some(b) if b == configured => Ok(configured),
            Some(b) => Err(ApiError::forbidden(
                "bucket_forbidden",
                format!("bucket {b:?} is not the bucket this function serves"),
            )),
        }
    }

    /// Refuses keys outside the prefix and keys that could be normalised into another
    /// object by an HTTP client or an S3-compatible server (`..`, `.`, `//`, a leading `/`,
    /// backslashes, control characters).
    pub fn authorize_key(&self, key: &str) -> Result<(), ApiError> {
        if key.is_empty() {
            return Err(ApiError::bad_request("bad_request", "empty S3 key"));
        }
        if key.len() > 1024 {
            return Err(ApiError::bad_request(
                "bad_request",
                "S3 keys are at most 1024 bytes",
            ));
        }
        let tricky = key.starts_with('/')
            || key.contains("//")
            || key.contains('\\')
            || key.chars().any(char::is_control)
            || key.split('/').any(|s| s == "." || s == "..");
        if tricky {
            return Err(ApiError::forbidden(
                "key_forbidden",
                format!("key {key:?} contains path tricks (., .., //, leading /, backslash or control characters)"),
            ));
        }
        if !key.starts_with(&self.prefix) {
            return Err(ApiError::forbidden(
                "key_forbidden",
                format!(
                    "key {key:?} is outside the prefix {:?} this function serves",
                    self.prefix
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            bucket: Some("b".into()),
            prefix: "picrypt/".into(),
            max_object_bytes: 1,
        }
    }

    #[test]
    fn keys_stay_under_the_prefix() {
        let c = config();
        c.authorize_key("picrypt/x/a.picrypt").unwrap();
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
            let e = c.authorize_key(bad).unwrap_err();
            assert_eq!(e.status, 403, "{bad:?}");
        }
        assert_eq!(c.authorize_key("").unwrap_err().status, 400);
        assert_eq!(
            c.authorize_key(&"picrypt/".repeat(200)).unwrap_err().status,
            400
        );
    }

    #[test]
    fn only_the_configured_bucket() {
        let c = config();
        assert_eq!(c.authorize_bucket(None).unwrap(), "b");
        assert_eq!(c.authorize_bucket(Some("b")).unwrap(), "b");
        assert_eq!(c.authorize_bucket(Some("c")).unwrap_err().status, 403);
        let none = Config::default();
        assert_eq!(
            none.authorize_bucket(None).unwrap_err().code,
            "s3_not_configured"
        );
    }
}
