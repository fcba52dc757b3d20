//! A cheating function on loopback, for tests outside Rust (the browser tests,
//! tests/browser): prints its base URL on the first line of stdout, then serves until it
//! is killed or its stdin closes.
//!
//! Usage: cargo run -p picrypt-testkit --example cheat_server -- CHEAT
//! CHEAT is a `Cheat` variant's name in snake case (swap_inputs, replay, plus_ab, …).

use std::io::{Read, Write};

use picrypt_function::{App, Config};
use picrypt_testkit::cheat::{Cheat, CheatServer};

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(cheat) = Cheat::ALL
        .into_iter()
        .find(|c| snake(&format!("{c:?}")) == name)
    else {
        let names: Vec<String> = Cheat::ALL
            .iter()
            .map(|c| snake(&format!("{c:?}")))
            .collect();
        eprintln!("usage: cheat_server CHEAT, one of: {}", names.join(", "));
        std::process::exit(2);
    };
    let app = App {
        config: Config::default(),
        s3: None,
    };
    let server = CheatServer::start(cheat, app);
    println!("{}", server.url());
    std::io::stdout().flush().expect("stdout");
    // Serve until stdin closes (the test ends) or the process is killed.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// `SwapInputs` → `swap_inputs`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
