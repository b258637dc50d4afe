"""A real S3-compatible object store on 127.0.0.1 for the object-storage tests.

moto's standalone server runs as a child process on a free port, the way s3fs tests itself. The
fixture points the standard AWS environment variables at it, so every client our jobs use reads
the same settings without a flag: boto3 and s3fs (botocore reads ``AWS_ENDPOINT_URL``), delta-rs
(object_store reads ``AWS_ENDPOINT_URL`` and ``AWS_ALLOW_HTTP``) and Beam's S3 filesystem (boto3
underneath). delta-rs 1.x commits each log entry with a conditional put (``If-None-Match: *``),
which AWS S3 has honoured since late 2024 and moto honours too, so concurrent writers need no
lock table. The server is stopped when the session ends.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

ACCESS_KEY = "flywheel-test"
SECRET_KEY = "flywheel-test-secret"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class S3Store:
    endpoint: str
    bucket: str  # a fresh bucket per test

    @property
    def env(self) -> dict[str, str]:
        """The standard variables that point every AWS client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",  # delta-rs refuses plain http otherwise
        }

    def url(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", *parts])

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under prefix."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                        Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1; yield its endpoint URL; stop it on exit."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The server logs every request to stderr: into a file, never a pipe nobody drains (a full
    # pipe blocks the server mid-request after a few hundred requests).
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"moto server exited with {process.returncode}: "
                                   f"{log.read().decode(errors='replace')[-500:]}")
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"moto server not up on {endpoint} after "
                                       f"{START_TIMEOUT_S}s") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[server] is a test dependency")
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_store(s3_endpoint, monkeypatch) -> S3Store:
    """A fresh bucket on the session's server, with the AWS variables set for this test."""
    store = S3Store(endpoint=s3_endpoint, bucket=f"flywheel-{uuid.uuid4().hex[:12]}")
    for name, value in store.env.items():
        monkeypatch.setenv(name, value)
    store.client().create_bucket(Bucket=store.bucket)
    return store
