//! Helpers shared by the CLI's integration tests.
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};

/// A running `picrypt serve`, stopped when dropped (also when an assertion fails).
pub struct Serve {
    child: Child,
    /// The address it bound, as the banner printed it.
    pub addr: SocketAddr,
    /// Its base URL.
    pub url: String,
}

impl Serve {
    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (a `picrypt serve --addr 127.0.0.1:0 …` or `picrypt web --no-open --addr
/// 127.0.0.1:0` command), its log discarded, and
/// reads the address it bound from its first line of output.
pub fn serve(cmd: &mut Command) -> Serve {
    serve_logging_to(cmd, Stdio::null())
}

/// [`serve`], with the server's log (stderr) going to `log`.
pub fn serve_logging_to(cmd: &mut Command, log: impl Into<Stdio>) -> Serve {
    let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("unexpected serve banner: {line:?}"));
    Serve {
        child,
        addr,
        url: format!("http://{addr}"),
    }
}

/// Runs `cmd` to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// Runs `cmd`, which must succeed; its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
