//! The function's configuration, from its environment.

use picrypt_api::{check_s3_key, ErrorCode};

use crate::error::ApiError;

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

impl Config {
    /// The default of `PICRYPT_MAX_OBJECT_BYTES`: 320 MiB. A container of 2^28 samples at
    /// 9 bits is 302 MB; nothing valid is larger.
    pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 320 * 1024 * 1024;

    /// `PICRYPT_BUCKET`, `PICRYPT_PREFIX` and `PICRYPT_MAX_OBJECT_BYTES`; a prefix that is
    /// not a plain key prefix, or a size that is not a number, is an error.
    pub fn from_env() -> Result<Config, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let max_object_bytes = match var("PICRYPT_MAX_OBJECT_BYTES") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("PICRYPT_MAX_OBJECT_BYTES is not a number: {v}"))?,
            None => Config::DEFAULT_MAX_OBJECT_BYTES,
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
    pub(crate) fn authorize_bucket(&self, requested: Option<&str>) -> Result<&str, ApiError> {
        let Some(configured) = self.bucket.as_deref() else {
            return Err(ApiError::s3_not_configured());
        };
        match requested {
            None => Ok(configured),
            Some(b) if b == configured => Ok(configured),
            Some(b) => Err(ApiError::new(
                ErrorCode::BucketForbidden,
                format!("bucket {b:?} is not the bucket this function serves"),
            )),
        }
    }

    /// Refuses keys outside the prefix and keys that could be normalised into another
    /// object by an HTTP client or an S3-compatible server: the API's key rules
    /// ([`picrypt_api::check_s3_key`]).
    pub(crate) fn authorize_key(&self, key: &str) -> Result<(), ApiError> {
        Ok(check_s3_key(key, &self.prefix)?)
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
            assert_eq!(e.status(), 403, "{bad:?}");
        }
        assert_eq!(c.authorize_key("").unwrap_err().status(), 400);
        assert_eq!(
            c.authorize_key(&"picrypt/".repeat(200))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn only_the_configured_bucket() {
        let c = config();
        assert_eq!(c.authorize_bucket(None).unwrap(), "b");
        assert_eq!(c.authorize_bucket(Some("b")).unwrap(), "b");
        assert_eq!(c.authorize_bucket(Some("c")).unwrap_err().status(), 403);
        let none = Config::default();
        assert_eq!(
            none.authorize_bucket(None).unwrap_err().code,
            ErrorCode::S3NotConfigured
        );
    }
}
