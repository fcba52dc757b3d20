//! `picrypt man`: manual pages, from the same definitions as `--help`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::files;

/// Examples for `picrypt man --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt man | man -l -                                             # read picrypt(1) now
  picrypt man --out-dir ~/.local/share/man/man1                      # picrypt.1 and picrypt-*.1";

/// Arguments of `picrypt man`.
#[derive(clap::Args)]
pub struct Args {
    /// Write picrypt.1 and one page per subcommand (picrypt-run.1, …) into this directory
    /// instead of printing picrypt.1 to stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Renders the pages.
pub fn run(args: &Args, command: clap::Command) -> Result<()> {
    let Some(dir) = &args.out_dir else {
        clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .context("cannot write the manual page")?;
        return Ok(());
    };
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let command = command.name("picrypt");
    let mut pages = vec![("picrypt".to_string(), command.clone())];
    for sub in command.get_subcommands() {
        pages.push((
            format!("picrypt-{}", sub.get_name()),
            sub.clone().name(format!("picrypt-{}", sub.get_name())),
        ));
    }
    for (name, page) in pages {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut bytes)
            .context("cannot render a manual page")?;
        let path = dir.join(format!("{name}.1"));
        files::write_atomic(&path, &bytes)?;
        crate::output::line(format_args!("wrote {}", path.display()));
    }
    Ok(())
}
