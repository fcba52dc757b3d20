//! `picrypt`: encrypt two images, have their difference computed without revealing them,
//! check and decrypt it, and render it. This file wires the arguments to the commands;
//! each command is a module of [`cmd`], the work is in `picrypt-core`.

#![deny(unsafe_code)]

mod args;
mod cmd;
mod files;
mod flow;
mod output;
mod remote;
mod sequence;
mod streamed;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

const ABOUT: &str = "Compute the difference of two images on a server that never sees them";

const LONG_ABOUT: &str = "Compute the difference of two images on a server that never sees them.

picrypt encrypts two images on this machine, has a function (in this process, `picrypt serve`,
or an AWS Lambda function) subtract the ciphertexts without any key, checks that the result
really is the difference of the two inputs, decrypts it and renders it.

Images: PNG, JPEG, BMP, TIFF or WebP; 8 bits per channel; gray, gray + alpha, RGB or RGBA
(kept as they are; EXIF orientation applied); both images of the same size; at most 2^28
samples (about 89 megapixels RGB). One inline request to a function carries two mask
ciphertexts of up to about 2 million samples (1005×642 RGB fits); beyond that, pass
--s3-bucket.";

const AFTER_HELP: &str =
    "Start with `picrypt demo`. Docs: README.md, docs/FORMAT.md, docs/SECURITY.md, docs/API.md.";

#[derive(Parser)]
#[command(
    name = "picrypt",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace; PICRYPT_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Global options")]
    verbose: u8,
    /// No progress bars or spinners on stderr (errors and warnings still show).
    #[arg(short, long, global = true, help_heading = "Global options")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new secret key (file mode 0600; key bytes are never printed).
    #[command(after_help = cmd::keygen::EXAMPLES)]
    Keygen(cmd::keygen::Args),
    /// Encrypt an image (PNG, JPEG, BMP, TIFF, WebP) into a ciphertext container.
    #[command(after_help = cmd::encrypt::EXAMPLES)]
    Encrypt(cmd::encrypt::Args),
    /// Decrypt and verify a ciphertext; write an image, a render of a difference, or .npy.
    #[command(after_help = cmd::decrypt::EXAMPLES)]
    Decrypt(cmd::decrypt::Args),
    /// Subtract two ciphertexts (A − B) without any key, and check the result.
    #[command(after_help = cmd::diff::EXAMPLES)]
    Diff(cmd::diff::Args),
    /// The whole flow: encrypt both images, subtract, check, decrypt, render, report.
    #[command(after_help = cmd::run::EXAMPLES)]
    Run(cmd::run::Args),
    /// Every frame of a folder, an animation or a video: the differences, an animation,
    /// statistics and a plot of what changed when.
    #[command(after_help = cmd::sequence::EXAMPLES)]
    Sequence(cmd::sequence::Args),
    /// Serve the function over plain HTTP (POST /diff, GET /health, GET /openapi.json).
    #[command(after_help = cmd::serve::EXAMPLES)]
    Serve(cmd::serve::Args),
    /// Serve the page: drop two pictures in a browser and see what changed.
    #[command(after_help = cmd::web::EXAMPLES)]
    Web(cmd::web::Args),
    /// Show a ciphertext's header (no key needed).
    #[command(after_help = cmd::inspect::EXAMPLES)]
    Inspect(cmd::inspect::Args),
    /// Run the whole flow on a generated before/after pair; no files or account needed.
    #[command(after_help = cmd::demo::EXAMPLES)]
    Demo(cmd::demo::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = cmd::completions::EXAMPLES)]
    Completions(cmd::completions::Args),
    /// Print the manual page, or write one page per command into a directory.
    #[command(after_help = cmd::man::EXAMPLES)]
    Man(cmd::man::Args),
}

impl Command {
    /// Whether the command was asked for one JSON document instead of lines.
    fn json(&self) -> bool {
        match self {
            Command::Run(a) => a.json(),
            Command::Sequence(a) => a.json(),
            Command::Diff(a) => a.json(),
            Command::Decrypt(a) => a.json(),
            Command::Inspect(a) => a.json(),
            _ => false,
        }
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("picrypt: internal error: {info} (please report this)");
    }));
    let cli = Cli::parse();
    output::init_logging(cli.verbose);
    output::configure(output::Mode {
        json: cli.command.json(),
        quiet: cli.quiet,
    });
    let result = match cli.command {
        Command::Keygen(args) => cmd::keygen::run(&args),
        Command::Encrypt(args) => cmd::encrypt::run(&args),
        Command::Decrypt(args) => cmd::decrypt::run(&args),
        Command::Diff(args) => cmd::diff::run(&args),
        Command::Run(args) => cmd::run::run(&args),
        Command::Sequence(args) => cmd::sequence::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Web(args) => cmd::web::run(&args),
        Command::Inspect(args) => cmd::inspect::run(&args),
        Command::Demo(args) => cmd::demo::run(&args),
        Command::Completions(args) => cmd::completions::run(&args, Cli::command()),
        Command::Man(args) => cmd::man::run(&args, Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<output::Interrupted>() => {
            eprintln!("picrypt: stopped: {e}");
            ExitCode::from(130)
        }
        Err(e) => {
            output::error(&e);
            ExitCode::FAILURE
        }
    }
}
