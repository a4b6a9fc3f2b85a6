#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md, in one run, printed as Markdown on stdout (progress on stderr):
#
#   bash bench/run.sh                       # 100k and 1m rows, 3 rounds
#   SIZES=100k ROUNDS=5 bash bench/run.sh   # smaller, more rounds
#
# 1. the side-by-side benchmarks (raw parse, plan core, plan use case, Python baseline, tenants
#    intake, tile check on the embedded store, peak memory), release build, one process;
# 2. DynamoDB calls of apply, counted against the emulator (started here, stopped at the end);
# 3. an apply of 1m new users through the DynamoDB adapter over a simulated table (10 ms a call),
#    through the apply queue with the template's ten consumers (and, for comparison, in one run);
#    then 100k applied and their invites rescheduled a week on: the writes waiting on each
#    partition key (plan-sim between: existing users looked up over the same simulated table);
# 4. dispatch across four scheduled runs on a simulated clock: the share of the SES quota sent;
# 5. tile-check from process start to first answer, against a stand-in Lambda Runtime API.
# The last line is `RESULT key=value …` for scripts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "==> building (release: bench with the AWS adapters, tile-check; dev: onboard)" >&2
cargo build --locked --release -p bench --features aws --bin bench --bin gen >&2
cargo build --locked --release -p tile-check >&2
cargo build --locked -p onboard >&2

# Each part prints a `RESULT_PART key=value …` line; the last line of the run joins them.
parts="$(mktemp)"
trap 'rm -f "$parts"' EXIT

echo "==> side-by-side benchmarks" >&2
target/release/bench --sizes "${SIZES:-100k,1m}" --rounds "${ROUNDS:-3}" | tee -a "$parts"

echo "==> starting the AWS emulator" >&2
endpoint="$(bash infra/emulator/start.sh)"
trap 'bash infra/emulator/stop.sh >&2 || true; rm -f "$parts"' EXIT

echo "==> DynamoDB calls of apply" >&2
target/release/bench dynamo --endpoint "$endpoint" --users "${DYNAMO_USERS:-500}" | tee -a "$parts"

echo "==> apply of many new users over a simulated DynamoDB (10 ms a call), in one run" >&2
# Its RESULT_PART is renamed: the RESULT line reports the queued apply, the way AWS applies.
target/release/bench apply-sim --users "${APPLY_USERS:-1m}" --call-ms "${CALL_MS:-10}" --workers 0 | sed 's/^RESULT_PART apply_1m_s=/apply in one run, per million: /'
echo "==> the same through the apply queue, ten consumers" >&2
target/release/bench apply-sim --users "${APPLY_USERS:-1m}" --call-ms "${CALL_MS:-10}" --workers 10 | tee -a "$parts"

echo "==> reschedule of their invites a week on over the simulated DynamoDB (10 ms a call)" >&2
# Its apply table is printed again (its per-million line is not); the reschedule table is new.
target/release/bench apply-sim --users "${RESCHEDULE_USERS:-100k}" --call-ms "${CALL_MS:-10}" --workers 0 --reschedule | sed '/^RESULT_PART /d'

echo "==> plan with existing users looked up over a simulated DynamoDB (10 ms a call)" >&2
target/release/bench plan-sim --rows "${PLAN_SIM_ROWS:-100k}" --call-ms "${CALL_MS:-10}"

echo "==> dispatch across scheduled runs, simulated clock" >&2
target/release/bench dispatch-sim --quota "${QUOTAS:-14,100}" --runs "${DISPATCH_RUNS:-4}"

echo "==> tile-check start" >&2
infra/.venv/bin/python bench/start/tile_start.py --binary target/release/tile-check --onboard target/debug/onboard \
  --endpoint "$endpoint" --runs "${START_RUNS:-20}"

# One line a script can read. `n/a`: not measured by this bench (BENCHMARKS.md says why).
declare -A result=([core_rows_per_s]=n/a [core_1cpu_rows_per_s]=n/a [python_ratio]=n/a [plan_rss_mb_1m]=n/a
  [report_rss_mb_1m]=n/a [repeat_rss_mb_100k]=n/a [tenants_rows_per_s]=n/a [apply_1m_s]=n/a [writes_per_25]=n/a)
for pair in $(grep '^RESULT_PART ' "$parts" | cut -d' ' -f2-); do
  result[${pair%%=*}]="${pair#*=}"
done
line="RESULT"
for key in core_rows_per_s core_1cpu_rows_per_s python_ratio plan_rss_mb_1m report_rss_mb_1m repeat_rss_mb_100k \
  tenants_rows_per_s apply_1m_s writes_per_25; do
  line+=" $key=${result[$key]}"
done
echo "$line"
