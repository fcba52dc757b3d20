#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60) against its committed
# corpus, its seeds and its regressions; exits non-zero if any target finds a crash, a
# panic, a timeout, an OOM or an allocation over the malloc limit.
#
#   fuzz/smoke.sh [SECONDS] [TARGET...]
#
# One target at a time, one process, under nice. Needs the nightly toolchain; installs
# cargo-fuzz when it is missing. New inputs go to a scratch copy of the corpus, so the
# committed corpus is left as it is; findings land in fuzz/artifacts/<target>/.
set -uo pipefail

SECONDS_PER_TARGET="${1:-60}"
shift || true
FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$FUZZ_DIR")"
ALL_TARGETS=(container_parse keyfile_parse diff_bytes function_request npy_decode result_check)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

# Never share the main workspace's build directory (or its lock).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FUZZ_DIR/target}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "smoke: installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal || { echo "smoke: no nightly toolchain" >&2; exit 2; }
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz" >&2
    # --debug: an unoptimised cargo-fuzz builds in half the time and only drives cargo.
    cargo install cargo-fuzz --locked --debug || { echo "smoke: cannot install cargo-fuzz" >&2; exit 2; }
fi

cd "$ROOT"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
echo "smoke: building fuzz targets (target dir $CARGO_TARGET_DIR)" >&2
if ! nice cargo +nightly fuzz build --fuzz-dir "$FUZZ_DIR" >"$SCRATCH/build.log" 2>&1; then
    tail -n 40 "$SCRATCH/build.log" >&2
    echo "smoke: build failed" >&2
    exit 2
fi

failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/seeds/$t" "$FUZZ_DIR/regressions/$t" "$SCRATCH/$t"
    log="$SCRATCH/$t.log"
    echo "smoke: $t for ${SECONDS_PER_TARGET}s" >&2
    nice cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" "$t" \
        "$SCRATCH/$t" "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/seeds/$t" "$FUZZ_DIR/regressions/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -timeout=10 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs' "$log" | tail -n 3 >&2
    if [ "$rc" -ne 0 ]; then
        echo "smoke: $t FAILED (exit $rc); last lines of its log:" >&2
        tail -n 40 "$log" >&2
        failed+=("$t")
    fi
done

echo "smoke: $(( ${#TARGETS[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "smoke: findings in: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
