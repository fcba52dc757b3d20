#!/usr/bin/env bash
# picrypt-core's cargo features, each on its own and in the combinations a consumer uses,
# linted with every warning an error (so code a feature leaves unused is caught):
#   native: no features; each feature alone; the browser set; the server set; the
#           defaults; all features
#   wasm32-unknown-unknown: no features; the browser set
# The features are read from core/Cargo.toml, so a new one is checked without editing this.
# `cargo clippy` of the library: it runs everything up to code generation, so it catches
# what a build of this library would (type and cfg errors, warnings, a dependency that
# refuses the target) at about half the cost, plus clippy's lints. `-D warnings` goes to
# clippy, which applies it to picrypt-core only: the dependencies keep the fingerprints of
# tests/run.sh's own clippy stage, in the same target directory, and are not checked twice.
# The wasm tests (tests/wasm.sh) build and run the browser set for real.
# Usage: bash tests/features.sh   (from any directory)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

browser=png,jpeg,render # a browser client: no threads, no file paths
server=parallel         # the function: subtraction on every core, no codecs or renders
wasm=wasm32-unknown-unknown


rustup target list --installed | grep -qx "$wasm" || rustup target add "$wasm"

features=$(cargo metadata --locked --no-deps --format-version 1 | python3 -c '
import json, sys
core = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "picrypt-core")
print(" ".join(f for f in core["features"] if f != "default"))')
[ -n "$features" ] || { echo "no features found in core/Cargo.toml" >&2; exit 1; }

check() { # label, then cargo arguments
    local label=$1
    shift
    say "check picrypt-core: $label"
    cargo clippy --quiet --locked -p picrypt-core --lib "$@" -- -D warnings
}

check "native, no features" --no-default-features
for f in $features; do
    if [ "$f" = "$server" ]; then
        check "native, $f alone (the server set)" --no-default-features --features "$f"
    else
        check "native, $f alone" --no-default-features --features "$f"
    fi
done
check "native, browser set ($browser)" --no-default-features --features "$browser"
case " $features " in
*" $server "*) ;;
*) check "native, server set ($server)" --no-default-features --features "$server" ;;
esac
check "native, defaults"
check "native, all features" --all-features
check "$wasm, no features" --no-default-features --target "$wasm"
check "$wasm, browser set ($browser)" --no-default-features --features "$browser" --target "$wasm"
say "features: every combination checked without warnings"
