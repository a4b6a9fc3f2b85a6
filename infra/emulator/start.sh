#!/usr/bin/env bash
# Start a local AWS emulator (moto server) for the end-to-end tests.
#
# - Creates infra/.venv (gitignored) on first use and installs moto[server] and cfn-lint into it,
#   only when they are not importable there already.
# - Starts `moto_server` on a free loopback port, in the background.
# - Writes its pid to target/emulator/pid, its log to target/emulator/moto.log and its endpoint
#   to target/emulator/endpoint, and prints the endpoint (the only line on stdout).
#
# Progress goes to stderr, so `endpoint="$(bash infra/emulator/start.sh)"` captures the URL only.
# If an emulator started by this script is still running and answering, it is reused.
# Stop it with infra/emulator/stop.sh.
#
# An optional argument names a second instance with its own state under target/emulator/<name>:
# `bash infra/emulator/start.sh iam` starts one that enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT
# is passed through: the first N requests run unchecked, for setup; the IAM tests then turn
# checking on for every request with POST /moto-api/reset-auth).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/infra/.venv"
INSTANCE="${1:-}"
[[ -z "$INSTANCE" || "$INSTANCE" =~ ^[a-z0-9-]+$ ]] || { echo "emulator: bad instance name '$INSTANCE'" >&2; exit 1; }
STATE="$ROOT/target/emulator${INSTANCE:+/$INSTANCE}"
PID_FILE="$STATE/pid"
LOG_FILE="$STATE/moto.log"
ENDPOINT_FILE="$STATE/endpoint"
READY_TIMEOUT_SECS=60

# Pinned so every machine (and CI) lints and emulates with the same versions.
MOTO_REQ="${ONBOARD_MOTO_REQ:-moto[server]==5.2.5}"
CFN_LINT_REQ="${ONBOARD_CFN_LINT_REQ:-cfn-lint==1.58.0}"

log() { printf 'emulator: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || die "python3 not found; install Python 3.9+ with pip"

# Answers 0 when URL responds to an HTTP GET within 2 s (any status code counts as an answer).
answers() {
  "$PYTHON" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
}

mkdir -p "$STATE"

# Reuse an emulator this script started earlier, if it is still alive and answering.
if [[ -f "$PID_FILE" && -f "$ENDPOINT_FILE" ]]; then
  old_pid="$(cat "$PID_FILE")"
  old_endpoint="$(cat "$ENDPOINT_FILE")"
  if [[ "$old_pid" =~ ^[0-9]+$ ]] && kill -0 "$old_pid" 2>/dev/null && answers "$old_endpoint/moto-api/"; then
    log "reusing running emulator (pid $old_pid) at $old_endpoint"
    printf '%s\n' "$old_endpoint"
    exit 0
  fi
  rm -f "$PID_FILE" "$ENDPOINT_FILE"
fi

# 1. The virtual environment.
if ! "$VENV/bin/python" -c 'pass' >/dev/null 2>&1; then
  # Missing, or broken (for example made by a Python that has since gone): make it anew.
  rm -rf "$VENV"
  log "creating Python virtual environment at infra/.venv"
  if ! "$PYTHON" -m venv "$VENV" >&2; then
    # Debian/Ubuntu without python3-venv: fall back to virtualenv from PyPI.
    log "python3 -m venv failed; trying virtualenv instead"
    rm -rf "$VENV"
    pip_user=("$PYTHON" -m pip install --user --quiet --disable-pip-version-check virtualenv)
    "${pip_user[@]}" >&2 || "${pip_user[@]}" --break-system-packages >&2 \
      || die "cannot create a venv: install python3-venv (apt-get install python3-venv)"
    "$PYTHON" -m virtualenv --quiet "$VENV" >&2
  fi
fi
VPY="$VENV/bin/python"

# 2. The packages, only when missing.
if ! "$VPY" -c 'import moto, moto.server, flask, flask_cors, cfnlint' >/dev/null 2>&1 \
   || [[ ! -x "$VENV/bin/moto_server" || ! -x "$VENV/bin/cfn-lint" ]]; then
  log "installing $MOTO_REQ and $CFN_LINT_REQ into infra/.venv (first run only)"
  started=$SECONDS
  "$VPY" -m pip install --quiet --disable-pip-version-check "$MOTO_REQ" "$CFN_LINT_REQ" >&2 \
    || die "pip install failed (is PyPI reachable?)"
  log "installed in $((SECONDS - started)) s"
fi

# 3. A free loopback port (the kernel picks one; a tiny race with other programs is accepted).
PORT="$("$VPY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')"
ENDPOINT="http://127.0.0.1:$PORT"

# 4. Start moto in the background. stdin/stdout/stderr are detached from ours so a caller that
#    captures our stdout with $(...) does not wait for the server to exit.
log "starting moto_server${INSTANCE:+ ($INSTANCE)} on $ENDPOINT (log: ${LOG_FILE#"$ROOT"/})"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" </dev/null >"$LOG_FILE" 2>&1 &
pid=$!
printf '%s\n' "$pid" >"$PID_FILE"

# 5. Wait until it answers.
deadline=$((SECONDS + READY_TIMEOUT_SECS))
until answers "$ENDPOINT/moto-api/"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PID_FILE"
    log "moto_server exited early; last lines of its log:"
    tail -n 20 "$LOG_FILE" >&2 || true
    exit 1
  fi
  if (( SECONDS >= deadline )); then
    kill "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    log "moto_server did not answer within ${READY_TIMEOUT_SECS} s; last lines of its log:"
    tail -n 20 "$LOG_FILE" >&2 || true
    exit 1
  fi
  sleep 0.2
done

printf '%s\n' "$ENDPOINT" >"$ENDPOINT_FILE"
log "ready (pid $pid)"
printf '%s\n' "$ENDPOINT"
