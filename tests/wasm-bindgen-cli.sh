# Sourced by tests/wasm.sh and web/build.sh: puts wasm-bindgen-cli on PATH at exactly the
# version of the wasm-bindgen crate in Cargo.lock (its test runner refuses test binaries
# made by any other version, and its generated JavaScript must match the crate), installing
# it when missing. Sets WASM_BINDGEN_VERSION.

versions=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; if ($1 == "version") { gsub(/"/, "", $3); print $3 } }' Cargo.lock)
if [ "$(printf '%s\n' "$versions" | grep -c .)" != 1 ]; then
    echo "expected exactly one wasm-bindgen in Cargo.lock, found: ${versions:-none}" >&2
    exit 1
fi
WASM_BINDGEN_VERSION=$versions
command -v wasm-bindgen >/dev/null || export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$WASM_BINDGEN_VERSION" ]; then
    echo "wasm-bindgen-cli $have already installed"
else
    echo "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION${have:+ (found $have)}"
    # --locked takes wasm-bindgen-cli's own Cargo.lock. Where the registry lacks a version
    # it locks (a yanked or unmirrored crate), fall back to the newest compatible ones:
    # wasm-bindgen-cli itself stays at exactly this version either way.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --quiet || {
        echo "cargo install --locked failed; retrying with wasm-bindgen-cli's dependencies resolved afresh"
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet
    }
    have=$(wasm-bindgen --version | awk '{print $2}')
    [ "$have" = "$WASM_BINDGEN_VERSION" ] || { echo "wasm-bindgen is $have, expected $WASM_BINDGEN_VERSION" >&2; exit 1; }
fi
