//! One module per subcommand: its arguments and what it does.

pub mod completions;
pub mod decrypt;
pub mod demo;
pub mod diff;
pub mod encrypt;
pub mod inspect;
pub mod keygen;
pub mod man;
pub mod run;
pub mod sequence;
pub mod serve;
pub mod web;
