//! Helpers shared by the CLI's integration tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `picrypt serve`, stopped when dropped.
pub struct Serve {
    child: Child,
    /// Its base URL, as the banner printed it.
    pub url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (a `picrypt serve --addr 127.0.0.1:0 …` command) and reads the address
/// it bound from its first line of output.
pub fn serve(cmd: &mut Command) -> Serve {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected serve banner: {line}"))
        .to_string();
    Serve {
        child,
        url: format!("http://{addr}"),
    }
}
