#!/usr/bin/env python3
"""Creates IAM users with given policies on an IAM-enforcing moto server (for the IAM tests).

Usage: python3 infra/emulator/iam_users.py ENDPOINT < users.json > credentials.json

users.json is {"<user name>": <policy document>, ...}; the answer is
{"<user name>": {"access_key_id": "...", "secret_access_key": "..."}, ...}.

Run it while the server still runs unchecked (started with a large INITIAL_NO_AUTH_ACTION_COUNT);
the caller then turns checking on with POST /moto-api/reset-auth. boto3 comes with moto, so the
emulator's virtual environment (infra/.venv) has everything this needs.
"""

import json
import sys

import boto3


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint = sys.argv[1]
    users = json.load(sys.stdin)
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    out = {}
    for name, policy in users.items():
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        out[name] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
