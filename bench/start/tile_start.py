#!/usr/bin/env python3
"""Process start to first answer of the tile-check function, measured locally.

Plays the Lambda Runtime API on a loopback port (what the Lambda service does for a function
instance), starts the release `tile-check` binary against it with DynamoDB pointed at the
emulator, hands it the API Gateway fixture `apigw-v2-get-access.json` twice, and times:

- cold: from spawning the process to receiving its first answer (start-up, SDK
  configuration, the first connection to DynamoDB, one GetItem, the reply);
- warm: from handing out the second event to receiving its answer (the same process).

usage: tile_start.py --binary target/release/tile-check --onboard target/debug/onboard \
                     --endpoint http://127.0.0.1:PORT [--runs 20]
Run it with the emulator's Python (infra/.venv/bin/python: it has boto3, which makes the bucket
and the table); the `onboard` binary then seeds them with the fixture buildings and tenant
contacts. Prints a Markdown table.
"""
import argparse
import http.server
import json
import os
import pathlib
import statistics
import subprocess
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "functions/tile-check/fixtures"
BUILDING = "3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10"


class Runtime:
    """The Runtime API for one function process: hands out `events`, records answer times."""

    def __init__(self, events):
        self.events = list(events)
        self.handed = {}
        self.answers = []
        self.done = threading.Event()
        self.lock = threading.Lock()


def handler_for(runtime):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                return self.reply(404)
            with runtime.lock:
                event = runtime.events.pop(0) if runtime.events else None
            if event is None:
                runtime.done.set()
                time.sleep(30)  # the process is killed meanwhile
                return self.reply(500)
            request_id = str(uuid.uuid4())
            runtime.handed[request_id] = time.perf_counter()
            deadline = str(int(time.time() * 1000) + 30_000)
            self.reply(200, event, [
                ("Lambda-Runtime-Aws-Request-Id", request_id),
                ("Lambda-Runtime-Deadline-Ms", deadline),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:tile-check"),
                ("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"),
                ("Content-Type", "application/json"),
            ])

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            parts = self.path.split("/")
            request_id = parts[-2] if len(parts) > 2 else ""
            runtime.answers.append((request_id, time.perf_counter(), self.path.rsplit("/", 1)[-1], body))
            self.reply(202, b"{}")

    return Handler


def seed(onboard, env, bucket, table):
    import boto3  # from the emulator's virtualenv

    options = dict(endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1", aws_access_key_id="testing",
                   aws_secret_access_key="testing")
    boto3.client("s3", **options).create_bucket(Bucket=bucket)
    boto3.client("dynamodb", **options).create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])

    def run(*args):
        subprocess.run([onboard, "--aws", "--bucket", bucket, "--table", table, *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    run("config", "load", str(ROOT / "infra/examples/config"))
    run("ingest", "buildings", str(FIXTURES / "buildings.csv"))
    run("ingest", "tenants", "--building", BUILDING, str(FIXTURES / "tenants-one-market.csv"))
    run("building", "phase", BUILDING, "live")  # the tile answers only once the building is live


def one_run(binary, env):
    event = (FIXTURES / "apigw-v2-get-access.json").read_bytes()
    runtime = Runtime([event, event])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(runtime))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = runtime.done.wait(timeout=30)
    process.kill()
    _, stderr = process.communicate()
    server.shutdown()
    if not finished or len(runtime.answers) != 2:
        raise SystemExit(f"tile-check did not answer twice: {stderr.decode(errors='replace')[-2000:]}")
    (first_id, first_at, kind, body), (second_id, second_at, _, _) = runtime.answers
    if kind != "response" or b'\\"visible\\":true' not in body.replace(b" ", b""):
        raise SystemExit(f"unexpected first answer ({kind}): {body[:500]!r}")
    return first_at - start, second_at - runtime.handed[second_id]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--onboard", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    name = f"start-{os.getpid()}"
    env = dict(os.environ, AWS_ENDPOINT_URL=args.endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               BUCKET=name, TABLE=name, AWS_LAMBDA_FUNCTION_NAME="tile-check", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
               AWS_LAMBDA_FUNCTION_VERSION="$LATEST", RUST_LOG="warn")
    seed(args.onboard, env, name, name)
    runs = [one_run(args.binary, env) for _ in range(args.runs)]
    cold = sorted(r[0] * 1000 for r in runs)
    warm = sorted(r[1] * 1000 for r in runs)
    size = os.path.getsize(args.binary) / 1e6
    print(f"### tile-check: process start to first answer ({args.runs} processes, binary {size:.1f} MB)\n")
    print("| | median | p90 | max |")
    print("|---|---:|---:|---:|")
    for label, values in [("cold: spawn → first answer", cold), ("warm: second event → its answer", warm)]:
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        print(f"| {label} | {statistics.median(values):.1f} ms | {p90:.1f} ms | {values[-1]:.1f} ms |")


if __name__ == "__main__":
    main()
