//! `picrypt`: encrypt two images, have their difference computed without revealing them,
//! check and decrypt it, and render it. This file wires the arguments to the commands;
//! each command is a module of [`cmd`], the work is in `picrypt-core`.

mod args;
mod cmd;
mod files;
mod flow;
mod output;
mod remote;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "picrypt",
    version,
    about = "Compute the difference of two images on a server that never sees them",
    after_help = "Start with `picrypt demo`. Docs: README.md, docs/FORMAT.md, docs/SECURITY.md."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new secret key (file mode 0600; key bytes are never printed).
    Keygen(cmd::keygen::Args),
    /// Encrypt an image (PNG, JPEG, BMP, TIFF, WebP) into a ciphertext container.
    Encrypt(cmd::encrypt::Args),
    /// Decrypt and verify a ciphertext; write an image, a render of a difference, or .npy.
    Decrypt(cmd::decrypt::Args),
    /// Subtract two ciphertexts (A − B) without any key, and check the result.
    Diff(cmd::diff::Args),
    /// The whole flow: encrypt both images, subtract, check, decrypt, render, report.
    Run(cmd::run::Args),
    /// Serve the function over plain HTTP (POST /diff, GET /health, GET /openapi.json).
    Serve(cmd::serve::Args),
    /// Show a ciphertext's header (no key needed).
    Inspect(cmd::inspect::Args),
    /// Run the whole flow on a generated before/after pair; no files or account needed.
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("picrypt: internal error: {info} (please report this)");
    }));
    let cli = Cli::parse();
    output::init_logging(cli.verbose);
    let result = match cli.command {
        Command::Keygen(args) => cmd::keygen::run(&args),
        Command::Encrypt(args) => cmd::encrypt::run(&args),
        Command::Decrypt(args) => cmd::decrypt::run(&args),
        Command::Diff(args) => cmd::diff::run(&args),
        Command::Run(args) => cmd::run::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Inspect(args) => cmd::inspect::run(&args),
        Command::Demo(args) => cmd::demo::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&e);
            ExitCode::FAILURE
        }
    }
}
