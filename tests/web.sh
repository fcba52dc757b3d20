#!/usr/bin/env bash
# The page (web/): the committed WebAssembly client is what its source builds to, and the
# page works in real headless Chromium (Debian's, driven by playwright-core): served by
# `picrypt web` in process, by `picrypt serve`, and, when PICRYPT_E2E_LAMBDA_URL names a
# function under cargo lambda watch, by that function and by `picrypt web --url` forwarding
# to it (tests/browser/web.test.mjs). Screenshots land in target/test-logs/web/.
# Needs: tests/setup.sh (chromium, playwright-core) and `cargo build --workspace --examples`.
# Usage: bash tests/web.sh   (tests/run.sh runs it with the function under watch)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

say "web/page/picrypt_web{.js,_bg.wasm} against a rebuild from source (web/build.sh --check)"
bash web/build.sh --check

say "picrypt-web's WebAssembly client: clippy for wasm32"
cargo clippy -p picrypt-web --locked --target wasm32-unknown-unknown -- -D warnings

say "the page in headless Chromium ($(chromium --version 2>/dev/null | head -1))"
# The build stage's own command: nothing to do after it.
cargo build --workspace --locked --examples
node --test --test-concurrency=1 tests/browser/web.test.mjs
echo "screenshots of the page: target/test-logs/web/"
