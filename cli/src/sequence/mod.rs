//! `picrypt sequence`'s parts, one concept each: where frames come from ([`frames`]), which
//! pairs they make and which frames those need encrypted ([`plan`]), what is already done
//! ([`manifest`]), where pairs are subtracted ([`engine`]; by the fan-out state machine:
//! [`fanout`]), the run itself ([`pipeline`]), what it writes ([`outputs`], [`plot`]) and
//! where its time goes ([`tally`]). The command is `cmd::sequence`.

pub mod engine;
pub mod fanout;
pub mod frames;
pub mod manifest;
pub mod outputs;
pub mod pipeline;
pub mod plan;
pub mod plot;
pub mod tally;
