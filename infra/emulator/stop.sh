#!/usr/bin/env bash
# Stop the emulator started by infra/emulator/start.sh (by the pid it recorded). Safe to run when
# nothing is running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# An optional argument names the instance, as given to start.sh.
INSTANCE="${1:-}"
[[ -z "$INSTANCE" || "$INSTANCE" =~ ^[a-z0-9-]+$ ]] || { echo "emulator: bad instance name '$INSTANCE'" >&2; exit 1; }
STATE="$ROOT/target/emulator${INSTANCE:+/$INSTANCE}"
PID_FILE="$STATE/pid"
ENDPOINT_FILE="$STATE/endpoint"

log() { printf 'emulator: %s\n' "$*" >&2; }

if [[ ! -f "$PID_FILE" ]]; then
  log "not running (no ${PID_FILE#"$ROOT"/})"
  rm -f "$ENDPOINT_FILE"
  exit 0
fi

pid="$(cat "$PID_FILE")"
if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
  kill "$pid" 2>/dev/null || true
  # Give it up to 10 s to exit cleanly, then force it.
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not exit; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  log "stopped (pid $pid)"
else
  log "not running (stale pid file)"
fi
rm -f "$PID_FILE" "$ENDPOINT_FILE"
