//! The handler's error: an API [`ErrorCode`] (which fixes the HTTP status) and a message.

use picrypt_api::limits::RequestTooLarge;
use picrypt_api::{ErrorBody, ErrorCode, S3KeyError};

/// An error answer: `{"error": {"code", "message", "request_id"}}` with the code's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// The same error, its message prefixed with the input it is about (`A: …`).
    pub(crate) fn about(self, which: &str) -> ApiError {
        ApiError {
            message: format!("{which}: {}", self.message),
            ..self
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The answer's body.
    pub fn body(&self, request_id: &str) -> String {
        ErrorBody::new(self.code, self.message.as_str(), request_id).to_json()
    }

    /// No bucket configured: S3 sources and outputs are refused.
    pub fn s3_not_configured() -> ApiError {
        ApiError::new(
            ErrorCode::S3NotConfigured,
            "this function has no bucket configured (PICRYPT_BUCKET); send ciphertexts inline",
        )
    }
}

impl From<picrypt_core::Error> for ApiError {
    /// Malformed input is 400; well-formed ciphertexts that cannot be combined are 422;
    /// the code is the one core gives the error.
    fn from(e: picrypt_core::Error) -> ApiError {
        use picrypt_core::Error as E;
        let code = match e {
            E::Format(_) => ErrorCode::BadContainer,
            E::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            E::Image(_) => ErrorCode::BadImage,
            E::Key(_) => ErrorCode::BadKey,
            E::KeyMismatch(_) => ErrorCode::KeyMismatch,
            E::SchemeMismatch(_) => ErrorCode::SchemeMismatch,
            E::ShapeMismatch(_) => ErrorCode::ShapeMismatch,
            E::RangeOverflow(_) => ErrorCode::RangeOverflow,
            E::UnsupportedOp(_) => ErrorCode::UnsupportedOp,
            E::SameInput(_) => ErrorCode::SameInput,
            E::InsecureScheme(_) => ErrorCode::InsecureScheme,
            E::Unverifiable(_) => ErrorCode::Unverifiable,
            E::Verification => ErrorCode::VerificationFailed,
            E::Random(_) => ErrorCode::RandomnessUnavailable,
            E::NotBuilt(_) => ErrorCode::NotBuilt,
            // A kind newer than this mapping: its own code when the API knows it.
            _ => ErrorCode::from_name(e.code()).unwrap_or(ErrorCode::Internal),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<S3KeyError> for ApiError {
    fn from(e: S3KeyError) -> ApiError {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<RequestTooLarge> for ApiError {
    fn from(e: RequestTooLarge) -> ApiError {
        ApiError::new(RequestTooLarge::CODE, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picrypt_core::Error as E;

    /// Every core error keeps the code core gives it, with the status of docs/API.md.
    #[test]
    fn core_errors_keep_their_codes() {
        let cases = [
            (E::Format("x".into()), 400),
            (
                E::UnsupportedVersion {
                    found: 9,
                    supported: 1,
                },
                400,
            ),
            (E::Image("x".into()), 400),
            (E::Key("x".into()), 400),
            (E::KeyMismatch("x".into()), 422),
            (E::SchemeMismatch("x".into()), 422),
            (E::ShapeMismatch("x".into()), 422),
            (E::RangeOverflow("x".into()), 422),
            (E::UnsupportedOp("x".into()), 422),
            (E::SameInput("x".into()), 422),
            (E::InsecureScheme("x".into()), 422),
            (E::Unverifiable("x".into()), 422),
            (E::Verification, 422),
            (E::Random("x".into()), 500),
            (E::NotBuilt("x".into()), 500),
        ];
        for (e, status) in cases {
            let code = e.code();
            let message = e.to_string();
            let api = ApiError::from(e);
            assert_eq!(api.code.as_str(), code);
            assert_eq!(api.status(), status, "{code}");
            assert_eq!(api.message, message);
        }
    }
}
