//! What the CLI's benchmarks share: the binary, and `picrypt serve` on a free port.
// Each benchmark compiles this module and uses a part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

/// The `picrypt` binary of this build.
pub const PICRYPT: &str = env!("CARGO_BIN_EXE_picrypt");

/// A child process, stopped when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `picrypt serve` on a free port, once it accepts connections.
pub fn serve(extra: &[&str], env: &[(String, String)]) -> (Server, String) {
    let port = free_port();
    let child = Command::new(PICRYPT)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .envs(env.iter().cloned())
        .env_remove("PICRYPT_BUCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("picrypt serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "picrypt serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server(child), format!("http://127.0.0.1:{port}"))
}

/// A `w`×`h` textured scene with a red block of `bw`×`bh` at (`x0`, `y0`).
pub fn scene(w: u32, h: u32, (x0, y0): (u32, u32), (bw, bh): (u32, u32)) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if (x0..x0 + bw).contains(&x) && (y0..y0 + bh).contains(&y) {
            Rgb([200, 30, 40])
        } else {
            Rgb([
                (200 + (x * 7 + y * 3) % 40) as u8,
                (120 + (x / 5 + y / 7) % 30) as u8,
                (40 + (x ^ y) % 20) as u8,
            ])
        }
    })
}
