#!/usr/bin/env bash
# Installs what `bash tests/run.sh` needs and a fresh machine lacks, saying first what that
# is. Safe to run again: it installs only what is missing.
#   Python tools   cargo-lambda, moto[server], cfn-lint, blake3, pycryptodome: into the
#                  project's own virtual environment .venv/ (never the system Python, which
#                  Debian 12 and Ubuntu 24.04 mark externally managed)
#   Rust           rustfmt and clippy; the aarch64-unknown-linux-gnu and
#                  wasm32-unknown-unknown targets (wasm-bindgen-cli and the nightly
#                  toolchain with cargo-fuzz are installed by tests/wasm.sh and fuzz/smoke.sh,
#                  which know the versions they need)
#   Debian         python3-venv when `python3 -m venv` is missing, chromium for the browser
#                  tests, ffmpeg for `picrypt sequence`'s video tests (apt-get, as root or sudo)
#   npm            playwright-core, at the version of tests/browser/package-lock.json, into
#                  tests/browser/node_modules (it drives Debian's chromium; it downloads no
#                  browser of its own); asl-validator, at the version of
#                  tests/asl/package-lock.json, into tests/asl/node_modules (it validates
#                  the fan-out state machine)
# Usage: bash tests/setup.sh   (tests/run.sh runs it first; source-able: it sets PATH)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
python_tools=(cargo-lambda 'moto[server]' cfn-lint blake3 pycryptodome)

missing=()
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || missing+=("rustup components rustfmt, clippy")
rustup component list --installed 2>/dev/null | grep -q '^clippy' || missing+=("rustup components rustfmt, clippy")
for t in aarch64-unknown-linux-gnu wasm32-unknown-unknown; do
    rustup target list --installed | grep -qx "$t" || missing+=("rustup target $t")
done
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import moto.server, flask_cors, cfnlint, blake3, Crypto' 2>/dev/null ||
    [ ! -x "$venv/bin/cargo-lambda" ]; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=("Debian package python3-venv (apt-get)")
    missing+=("Python tools into .venv/: ${python_tools[*]}")
fi
command -v chromium >/dev/null || missing+=("Debian package chromium (apt-get), for the browser tests")
command -v ffmpeg >/dev/null || missing+=("Debian package ffmpeg (apt-get), for the video tests of picrypt sequence")
command -v node >/dev/null || { echo "node not found: the browser tests need Node.js 20 or later" >&2; exit 1; }
[ -d "$root/tests/browser/node_modules/playwright-core" ] || missing+=("npm package playwright-core into tests/browser/node_modules")
[ -d "$root/tests/asl/node_modules/asl-validator" ] || missing+=("npm package asl-validator into tests/asl/node_modules")
if [ ${#missing[@]} -gt 0 ]; then
    echo "tests/setup.sh will install:"
    printf '  - %s\n' "${missing[@]}" | sort -u
fi

apt_install() {
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    fi
}

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
for t in aarch64-unknown-linux-gnu wasm32-unknown-unknown; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done

if [ ! -x "$venv/bin/python" ]; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import moto.server, flask_cors, cfnlint, blake3, Crypto' 2>/dev/null ||
    [ ! -x "$venv/bin/cargo-lambda" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${python_tools[@]}"
fi
export PATH="$venv/bin:$PATH"

command -v chromium >/dev/null || apt_install chromium
command -v ffmpeg >/dev/null || apt_install ffmpeg
[ -d "$root/tests/browser/node_modules/playwright-core" ] ||
    npm ci --prefix "$root/tests/browser" --no-audit --no-fund --loglevel=error
[ -d "$root/tests/asl/node_modules/asl-validator" ] ||
    npm ci --prefix "$root/tests/asl" --no-audit --no-fund --loglevel=error
