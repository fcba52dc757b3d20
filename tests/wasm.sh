#!/usr/bin/env bash
# picrypt-core's browser build under wasm: the mask known-answer vectors, key files, .npy,
# PNG and JPEG decoding, a render and a fresh-key round trip (core/tests/kat.rs and wasm_kat.rs), built
# for wasm32-unknown-unknown with the features a browser client uses and run in Node by
# wasm-bindgen-test-runner. Installs what is missing first: the rustup target, and
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock (the
# runner refuses test binaries made by any other version).
# Usage: bash tests/wasm.sh   (from any directory)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

features=kat,png,jpeg,render

say "wasm32-unknown-unknown target"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
command -v node >/dev/null || { echo "node not found: the tests run in Node.js (20 or later)" >&2; exit 1; }
echo "node $(node --version)"

say "wasm-bindgen-cli at the version of Cargo.lock (tests/wasm-bindgen-cli.sh)"
source tests/wasm-bindgen-cli.sh

say "build picrypt-core for wasm32 with no features (the format, the mask scheme, the server ops)"
cargo build -p picrypt-core --locked --no-default-features --target wasm32-unknown-unknown

say "build and run core/tests/kat.rs and wasm_kat.rs in Node (--no-default-features --features $features)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p picrypt-core --locked --no-default-features --features "$features" \
    --target wasm32-unknown-unknown --test kat --test wasm_kat 2>&1 | tee "$log"
# wasm-bindgen-test-runner reports like libtest: "test result: ok. N passed; 0 failed; ...".
passed=$(sed -n 's/^test result: ok\. \([0-9][0-9]*\) passed.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
if [ "$passed" -eq 0 ]; then
    echo "no wasm test ran" >&2
    exit 1
fi
say "wasm: $passed tests passed in Node"
