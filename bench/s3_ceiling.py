"""The S3 server's own pace, as bench/upload_download.sh's reference for the s3 store: boto3
(the AWS SDK for Python) uploads FILE (multipart, its defaults: 8 MiB parts, 10 threads),
downloads it whole with one GET, and reads 20 ranges of 1 MiB; prints
"UPLOAD_MBPS WHOLE_GET_MBPS RANGED_1MIB_MS". Endpoint and credentials from AWS_*."""
import os
import statistics
import sys
import time

import boto3

path, bucket = sys.argv[1], sys.argv[2]
size = os.path.getsize(path)
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT"])
start = time.monotonic()
s3.upload_file(path, bucket, "ceiling")
upload = time.monotonic() - start
start = time.monotonic()
body = s3.get_object(Bucket=bucket, Key="ceiling")["Body"]
while body.read(1 << 20):
    pass
whole = time.monotonic() - start
ranged = []
for i in range(20):
    start = time.monotonic()
    s3.get_object(Bucket=bucket, Key="ceiling", Range=f"bytes={i << 20}-{((i + 1) << 20) - 1}")["Body"].read()
    ranged.append(time.monotonic() - start)
s3.delete_object(Bucket=bucket, Key="ceiling")
print(f"{size / upload / 1e6:.0f} {size / whole / 1e6:.0f} {statistics.median(ranged) * 1000:.0f}")
