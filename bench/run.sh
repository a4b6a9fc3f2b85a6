#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md, in one run, printed as Markdown on stdout (progress on stderr):
#
#   bash bench/run.sh                       # 100k and 1m rows, 3 rounds
#   SIZES=100k ROUNDS=5 bash bench/run.sh   # smaller, more rounds
#
# 1. the side-by-side benchmarks (raw parse, plan core, plan use case, Python baseline, tenants
#    intake, tile check on the embedded store, peak memory), release build, one process;
# 2. DynamoDB calls of apply, counted against the emulator (started here, stopped at the end);
# 3. tile-check from process start to first answer, against a stand-in Lambda Runtime API.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "==> building (release: bench, tile-check; dev: bench with the AWS adapters, onboard)" >&2
cargo build --locked --release -p bench --bin bench --bin gen >&2
cargo build --locked --release -p tile-check >&2
cargo build --locked -p bench --features aws --bin bench >&2
cargo build --locked -p onboard >&2

echo "==> side-by-side benchmarks" >&2
target/release/bench --sizes "${SIZES:-100k,1m}" --rounds "${ROUNDS:-3}"

echo "==> starting the AWS emulator" >&2
endpoint="$(bash infra/emulator/start.sh)"
trap 'bash infra/emulator/stop.sh >&2 || true' EXIT

echo "==> DynamoDB calls of apply" >&2
target/debug/bench dynamo --endpoint "$endpoint" --users "${DYNAMO_USERS:-2500}"

echo "==> tile-check start" >&2
infra/.venv/bin/python bench/start/tile_start.py --binary target/release/tile-check --onboard target/debug/onboard \
  --endpoint "$endpoint" --runs "${START_RUNS:-20}"
