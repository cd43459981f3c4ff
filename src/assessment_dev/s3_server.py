"""An S3-API server on loopback for the tests and the fault suite: moto's standalone server
(the one s3fs and botocore test against), in this process, with one bucket made.

Its objects live in this process, so stopping the server and starting it again on the same
port (an outage) keeps them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from assessment_dev.ports import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_REGION": "us-east-1"}


@dataclass
class S3Server:
    port: int = field(default_factory=free_port)
    running: list[Any] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.running.append(server)

    def stop(self) -> None:
        while self.running:
            self.running.pop().stop()

    def client(self) -> Any:
        """boto3's client, to look at what was stored."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def env(self, url: str) -> dict[str, str]:
        """The variables an app needs to keep its frames at `url` (s3://bucket/prefix) here."""
        return {"STORAGE_URL": url, "AWS_ENDPOINT_URL": self.endpoint, **CREDENTIALS}


@contextmanager
def running_s3(*buckets: str) -> Iterator[S3Server]:
    """The server, started, with `buckets` made; stopped after."""
    server = S3Server()
    server.start()
    try:
        client = server.client()
        existing = {b["Name"] for b in client.list_buckets()["Buckets"]}
        for bucket in buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
        yield server
    finally:
        server.stop()
