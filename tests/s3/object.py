"""Reads or replaces one object on the tests' S3 server with boto3 (moto's own dependency, in
tests/s3/.venv): `object.py get BUCKET KEY FILE` / `object.py put BUCKET KEY FILE`. The
endpoint and credentials come from the AWS_* variables scripts/test exports. The tests use it
to tamper with stored ciphertext (tests/e2e/s3_wiring.rs): objects are private, so unsigned
requests cannot read them."""
import os
import sys

import boto3

action, bucket, key, path = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=os.environ["SEALPOST_TEST_S3_ENDPOINT"])
if action == "get":
    s3.download_file(bucket, key, path)
elif action == "put":
    s3.upload_file(path, bucket, key)
else:
    sys.exit(f"unknown action {action!r}: expected get or put")
