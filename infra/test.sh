#!/usr/bin/env bash
# The project's test command:  bash infra/test.sh [extra cargo test arguments]
#
# Starts the local AWS emulator (moto, installed on first use into infra/.venv), points the AWS
# SDK at it, runs the whole workspace's tests, and stops the emulator again, pass or fail.
# Extra arguments go to `cargo test`, e.g. `bash infra/test.sh -p onboarding` or
# `bash infra/test.sh -- --nocapture`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\n==> %s\n' "$*"; }

# rustup installs cargo in ~/.cargo/bin, which a fresh non-login shell may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found; install Rust with rustup" >&2; exit 1; }

cleanup() {
  local status=$?
  say "stopping the AWS emulators"
  bash infra/emulator/stop.sh || true
  bash infra/emulator/stop.sh iam || true
  exit "$status"
}
trap cleanup EXIT
# Make Ctrl-C and termination run the EXIT trap too, so no emulator is left behind.
trap 'exit 130' INT
trap 'exit 143' TERM

echo "============================================================================"
echo " visitor onboarding: test run"
echo "  1. start two local AWS emulators (moto) on free 127.0.0.1 ports, one enforcing IAM"
echo "  2. cargo test --workspace --locked --no-fail-fast $*"
echo "     (embedded-adapter flows, plus the same flows against the emulator)"
echo "  3. stop the emulator"
echo "============================================================================"

say "starting the AWS emulator (first run installs moto and cfn-lint into infra/.venv)"
endpoint="$(bash infra/emulator/start.sh)"
# A second emulator enforces IAM: the IAM tests run every flow step under its function's policy
# from template.yaml. Setup runs unchecked; the tests then turn checking on for every request.
iam_endpoint="$(INITIAL_NO_AUTH_ACTION_COUNT=1000000000 bash infra/emulator/start.sh iam)"
export ONBOARD_IAM_ENDPOINT="$iam_endpoint"

# Point every AWS SDK client at the emulator, with fake credentials. Nothing leaves this machine.
export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE
export ONBOARD_EMULATOR=1
# The tests call cfn-lint (template.yaml) from here.
export PATH="$ROOT/infra/.venv/bin:$PATH"

say "emulator ready at $AWS_ENDPOINT_URL, IAM-enforcing one at $ONBOARD_IAM_ENDPOINT (AWS_REGION=$AWS_REGION)"
say "cargo test --workspace --locked --no-fail-fast $*"
cargo test --workspace --locked --no-fail-fast "$@"
