#!/usr/bin/env bash
# Builds the page's WebAssembly client (the picrypt-web crate, for wasm32-unknown-unknown)
# into web/page/picrypt_web.js and web/page/picrypt_web_bg.wasm, which are committed: so
# `cargo install --path cli`, `picrypt web`, `picrypt demo` and `sam build` need no wasm
# toolchain. Run it after changing web/src, picrypt-core or picrypt-api, and commit the two
# files; tests/web.sh (in the test command) rebuilds them and fails if they differ.
#
# Usage: bash web/build.sh            rebuild web/page/picrypt_web{.js,_bg.wasm}
#        bash web/build.sh --check    rebuild elsewhere and compare byte for byte
#
# The build is reproducible on one toolchain: paths are remapped (no home directory or
# checkout path ends up in the binary), and it has a target directory of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

check=false
case "${1:-}" in
    "") ;;
    --check) check=true ;;
    *) echo "usage: bash web/build.sh [--check]" >&2; exit 2 ;;
esac

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
source tests/wasm-bindgen-cli.sh

cargo_home=${CARGO_HOME:-$HOME/.cargo}
# simd128: every browser PICRYPT targets has had WebAssembly SIMD since 2021.
export RUSTFLAGS="-C target-feature=+simd128 --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$root=/picrypt"
# Keep the target_features section for wasm-bindgen; it drops the names itself.
export CARGO_PROFILE_RELEASE_STRIP=debuginfo
export CARGO_TARGET_DIR="$root/target/web"
cargo build -p picrypt-web --locked --release --target wasm32-unknown-unknown

out=web/page
$check && out=$(mktemp -d) && trap 'rm -rf "$out"' EXIT
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$out" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/picrypt_web.wasm"
rm -f "$out/package.json"

if $check; then
    status=0
    for f in picrypt_web.js picrypt_web_bg.wasm; do
        if cmp -s "$out/$f" "web/page/$f"; then
            echo "web/page/$f: rebuilt from source, identical ($(wc -c <"web/page/$f") bytes)"
        else
            echo "web/page/$f differs from a rebuild from source: run \`bash web/build.sh\` and commit it" >&2
            status=1
        fi
    done
    exit $status
fi
ls -l web/page/picrypt_web.js web/page/picrypt_web_bg.wasm
echo "gzipped: $(gzip -9c web/page/picrypt_web_bg.wasm | wc -c) bytes of WebAssembly"
