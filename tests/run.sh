#!/usr/bin/env bash
# Runs every PICRYPT test, installing what a fresh machine lacks first.
# Usage: bash tests/run.sh        (README's second command; .ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

say "toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
cargo --version
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

say "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

say "unit, property and integration tests (core, cli, function)"
cargo test --workspace --locked

say "independent Python implementation of docs/FORMAT.md against the vectors and the binary"
python3 -c "import blake3, Crypto" 2>/dev/null || python3 -m pip install --quiet blake3 pycryptodome
cargo build --locked -p picrypt
python3 tests/reference/mask_reference.py --picrypt target/debug/picrypt

echo
echo "all PICRYPT tests passed"
