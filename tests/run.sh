#!/usr/bin/env bash
# Runs every PICRYPT test, installing what a fresh machine lacks first.
# Usage: bash tests/run.sh        (README's second command; .ci/run calls it)
#
# It starts, on loopback only, a real S3-protocol server (moto) and the function under
# `cargo lambda watch`, and stops them when it exits. Each stage prints the time elapsed.
# PICRYPT_FUZZ_SECONDS=0 skips the fuzz smoke when iterating locally (never in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logs="$root/target/test-logs"
mkdir -p "$logs"

say() { printf '\n==> %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cat <<'PLAN'
PICRYPT tests. From a fresh clone on a 2-core machine the whole run takes about 55 minutes
(docs/PERFORMANCE.md, "The test command", has each stage's time); with warm builds, about
half that. Stages: tools; formatting and lints; the SAM template and its state machine; core's feature matrix;
build; core under wasm in Node; unit, property, handler, S3 and end-to-end tests against
moto and cargo lambda watch; the page in headless Chromium; load; the Python reference;
the README's blocks; the arm64 Lambda build; the fuzz smoke.
PLAN

say "tools (tests/setup.sh: installs only what is missing)"
source tests/setup.sh
cargo --version
cargo lambda --version
say "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

say "SAM template (cfn-lint; the function's and the fan-out's permissions: tests/template_check.py; the state machine: tests/asl/check.mjs)"
cfn-lint template.yaml
# Every parameter combination that changes the resources: IAM or public mode, with and
# without a concurrency cap (public mode without one is refused by the template's rule),
# and the Step Functions fan-out on (it needs the bucket: IAM mode only).
for params in "FunctionUrlAuthType=AWS_IAM ReservedConcurrency=0" "FunctionUrlAuthType=AWS_IAM ReservedConcurrency=5" \
    "FunctionUrlAuthType=NONE ReservedConcurrency=5" "FanOut=step-functions ReservedConcurrency=0" \
    "FanOut=step-functions ReservedConcurrency=5 FanOutMaxConcurrency=5"; do
    # shellcheck disable=SC2086
    cfn-lint template.yaml --parameters $params
done
echo "template.yaml: no cfn-lint findings, by default and with each auth type, concurrency and fan-out"
python3 tests/template_check.py
node tests/asl/check.mjs

say "picrypt-core's features, each alone and in the sets consumers use, native and wasm32 (tests/features.sh)"
bash tests/features.sh

say "build"
cargo build --workspace --locked --examples

say "picrypt-core's browser build under wasm: known-answer vectors in Node (tests/wasm.sh)"
bash tests/wasm.sh

say "real S3-protocol server (moto) and the function under cargo lambda watch, on loopback"
export AWS_ACCESS_KEY_ID=picrypt-test AWS_SECRET_ACCESS_KEY=picrypt-test-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
s3_port=$(free_port)
watch_port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; }
trap cleanup EXIT
setsid moto_server -H 127.0.0.1 -p "$s3_port" >"$logs/moto.log" 2>&1 &
pids+=($!)
export PICRYPT_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export PICRYPT_E2E_LAMBDA_BUCKET=picrypt-e2e
setsid cargo lambda watch --locked -A 127.0.0.1 -P "$watch_port" --bin picrypt-function \
    --env-var PICRYPT_BUCKET="$PICRYPT_E2E_LAMBDA_BUCKET" --env-var PICRYPT_PREFIX=picrypt/ \
    --env-var AWS_ENDPOINT_URL="$PICRYPT_TEST_S3_ENDPOINT" --env-var AWS_REGION="$AWS_REGION" \
    --env-var AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" --env-var AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    --env-var AWS_EC2_METADATA_DISABLED=true --env-var RUST_LOG=info \
    >"$logs/lambda-watch.log" 2>&1 &
watch_pid=$!
pids+=($watch_pid)
export PICRYPT_E2E_LAMBDA_URL="http://127.0.0.1:$watch_port/lambda-url/picrypt-function"
# The emulator's Lambda Invoke API (POST /2015-03-31/functions/picrypt-function/invocations),
# for direct invocations (cli/tests/invoke.rs: AWS_ENDPOINT_URL_LAMBDA, aws lambda invoke).
export PICRYPT_E2E_LAMBDA_ENDPOINT="http://127.0.0.1:$watch_port"
for _ in $(seq 1 300); do
    curl -sf -m 5 "$PICRYPT_E2E_LAMBDA_URL/health" >/dev/null 2>&1 && break
    sleep 1
done
curl -sf -m 5 "$PICRYPT_E2E_LAMBDA_URL/health" || { echo "cargo lambda watch did not come up:" >&2; tail -30 "$logs/lambda-watch.log" >&2; exit 1; }
echo
curl -sf -m 5 "$PICRYPT_TEST_S3_ENDPOINT" >/dev/null || { echo "moto did not come up:" >&2; tail -30 "$logs/moto.log" >&2; exit 1; }
echo "moto at $PICRYPT_TEST_S3_ENDPOINT, function at $PICRYPT_E2E_LAMBDA_URL"

say "unit, property, handler, S3 and end-to-end tests (core, cli, function)"
cargo test --workspace --locked

say "the page: its WebAssembly rebuilt from source and compared, then driven in headless Chromium (tests/web.sh)"
bash tests/web.sh

say "load: bounded load test of POST /diff from loopback (cli/examples/load.rs)"
# Every answer is decrypted and checked; any error or overrun fails the run. Against
# cargo lambda watch only small pairs: cargo-lambda 1.9.2's emulator sometimes loses
# responses of more than a few tens of KB (docs/PERFORMANCE.md, "Load").
load_port=$(free_port)
setsid target/debug/picrypt serve --addr "127.0.0.1:$load_port" >"$logs/load-serve.log" 2>&1 &
load_pid=$!
pids+=($load_pid)
load=(target/debug/examples/load --max-seconds 120)
"${load[@]}" --url "http://127.0.0.1:$load_port" --requests 2000 --concurrency 32 --pid "$load_pid"
"${load[@]}" --url "http://127.0.0.1:$load_port" --requests 20 --concurrency 4 --size demo --pid "$load_pid"
"${load[@]}" --url "$PICRYPT_E2E_LAMBDA_URL" --requests 2000 --concurrency 32 --schemes mask,shuffle \
    --pid "$watch_pid" --child picrypt-function
kill -- "-$load_pid"

say "independent Python implementation of docs/FORMAT.md against the vectors and the binary"
python3 tests/reference/mask_reference.py --picrypt target/debug/picrypt

say "README: every shell block runs as written (tests/readme.py)"
PICRYPT_RUN_SH=1 python3 tests/readme.py

say "Lambda build for arm64 (cargo lambda build --release --arm64 -p picrypt-function: the function alone, with only its own features)"
cargo lambda build --release --arm64 --locked -p picrypt-function
ls -l target/lambda/picrypt-function/bootstrap

say "fuzz smoke: every cargo-fuzz target for ${PICRYPT_FUZZ_SECONDS:-60} s on its corpus (nightly)"
# fuzz/smoke.sh installs the nightly toolchain and cargo-fuzz when missing, builds the
# targets with AddressSanitizer in fuzz/target, and fails on any crash, panic, timeout,
# OOM or allocation over 512 MB. PICRYPT_FUZZ_SECONDS=0 skips it (never in CI).
if [ "${PICRYPT_FUZZ_SECONDS:-60}" != 0 ]; then
    bash fuzz/smoke.sh "${PICRYPT_FUZZ_SECONDS:-60}"
elif [ -n "${CI:-}" ]; then
    echo "PICRYPT_FUZZ_SECONDS=0 is not allowed in CI" >&2
    exit 1
fi

echo
echo "all PICRYPT tests passed in $((SECONDS / 60))m$((SECONDS % 60))s"
