//! `picrypt completions`: a shell completion script, from the same definitions as `--help`.

use anyhow::Result;
use clap_complete::Shell;

/// Examples for `picrypt completions --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt completions bash > ~/.local/share/bash-completion/completions/picrypt
  picrypt completions zsh > ~/.zfunc/_picrypt
  picrypt completions fish > ~/.config/fish/completions/picrypt.fish";

/// Arguments of `picrypt completions`.
#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes the script to stdout.
pub fn run(args: &Args, mut command: clap::Command) -> Result<()> {
    clap_complete::generate(args.shell, &mut command, "picrypt", &mut std::io::stdout());
    Ok(())
}
