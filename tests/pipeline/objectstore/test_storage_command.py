"""``evalstream storage start|status|stop`` as a user runs it: a real S3Proxy on loopback,
one line to split, the bucket exists, objects and keys survive a restart on the same dir."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pipeline.kafka.broker import free_port
from pipeline.sinks.objects import s3_client
from pipeline.sinks.storage import S3Options

ROOT = Path(__file__).resolve().parents[3]
LINE = re.compile(
    r"^endpoint=(http://127\.0\.0\.1:(\d+)) bucket=(\S+) access_key=(\S+) secret_key=(\S+)$"
)


def storage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "storage", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_start_status_stop_print_one_line_and_the_bucket_exists(tmp_path):
    port, data = str(free_port()), str(tmp_path / "s3")
    started = storage("start", "--port", port, "--data-dir", data)
    try:
        assert started.returncode == 0, started.stderr
        match = LINE.match(started.stdout.strip())
        assert match and match[2] == port and match[3] == "evalstream", started.stdout
        endpoint, bucket, key, secret = match[1], match[3], match[4], match[5]
        status = storage("status", "--data-dir", data)
        assert status.returncode == 0 and status.stdout == started.stdout
        client = s3_client(S3Options(endpoint, "us-east-1", key, secret))
        assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
        client.put_object(Bucket=bucket, Key="kept.txt", Body=b"survives a restart")
        wrong = s3_client(S3Options(endpoint, "us-east-1", key, "not-the-secret"))
        try:
            wrong.list_buckets()
            raise AssertionError("a wrong secret was accepted")
        except Exception as exc:  # botocore ClientError: SignatureDoesNotMatch / AccessDenied
            assert "Signature" in str(exc) or "Access" in str(exc) or "Forbidden" in str(exc)
        again = storage("start", "--port", port, "--data-dir", data)
        assert again.returncode == 0 and "already running" in again.stderr
    finally:
        stopped = storage("stop", "--data-dir", data)
    assert stopped.returncode == 0 and "stopped storage server" in stopped.stdout
    after = storage("status", "--data-dir", data)
    assert after.returncode == 1 and "not running" in after.stdout

    restarted = storage("start", "--data-dir", data)  # same dir: same port, keys, objects
    try:
        assert restarted.stdout == started.stdout, restarted.stderr
        body = client.get_object(Bucket=bucket, Key="kept.txt")["Body"].read()
        assert body == b"survives a restart"
    finally:
        storage("stop", "--data-dir", data)
