//! Helpers shared by PICRYPT's test suites (`publish = false`; never shipped).
//!
//! * [`s3`]: a real S3-protocol server (moto) on loopback, and a proxy in front of it that
//!   breaks requests on demand;
//! * [`battery`]: the bad-input battery, hostile requests with the answers docs/API.md
//!   documents for them;
//! * [`cheat`]: a malicious function, the real handler behind a loopback HTTP server that
//!   cheats in every way a server can, for tests that the client refuses each cheat;
//! * [`stepfunctions`]: moto's Step Functions running state machines, its calls to S3 and
//!   Lambda routed to servers on loopback.

pub mod battery;
pub mod cheat;
pub mod s3;
pub mod stepfunctions;

pub use cheat::{Cheat, CheatServer};
pub use s3::{Fault, FaultProxy, Injection, S3Server, AWS_TEST_ENV};
pub use stepfunctions::StepFunctions;
