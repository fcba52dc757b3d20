//! PICRYPT's HTTP API contract, shared by the function (`picrypt-function`) and its client
//! (the `picrypt` CLI): what goes over the wire and the rules both sides apply.
//!
//! * requests: [`DiffRequest`] with its [`Source`]s and [`Output`], parsed by
//!   [`DiffRequest::from_json`] and built by [`DiffRequest::inline`] and [`DiffRequest::s3`];
//! * [`framed`]: the same request and answer as bytes, containers unencoded;
//! * answers: [`DiffResponse`], [`Health`], and every error as an [`ErrorBody`] whose code
//!   is an [`ErrorCode`] with its HTTP status;
//! * the endpoints ([`Endpoint`]), the size limits ([`limits`]) and the S3 key rules
//!   ([`check_s3_key`]);
//! * `s3` (cargo feature `s3`): S3 settings, client and error descriptions;
//! * [`openapi`]: the OpenAPI 3.1 document, generated from these types.
//!
//! `docs/API.md` describes the API for people.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod framed;
mod key;
pub mod limits;
pub mod openapi;
mod request;
mod response;
mod routes;
#[cfg(feature = "s3")]
pub mod s3;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use key::{check_s3_key, S3KeyError};
pub use request::{
    DiffRequest, FramedError, Output, S3Location, S3OutputKey, Source, DEFAULT_OP, OPS,
};
pub use response::{DiffResponse, Health, ResultLocation, Timing};
pub use routes::Endpoint;
