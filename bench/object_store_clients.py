"""What each async S3 client costs the app's core per MB uploaded: obstore (the one the app
uses) against aiobotocore, each streaming frames the way the app does (a multipart upload in
parts of STORAGE_PART_BYTES, or one PUT for a frame under one part), to moto's S3 server.

    pip install --target /tmp/aiobotocore aiobotocore    # not a dependency of the project
    PYTHONPATH=/tmp/aiobotocore:src .venv/bin/python bench/object_store_clients.py \
        [--frames 64] [--mb 5] [--concurrency 8]

aiobotocore goes to a folder of its own: each release pins botocore to one minor version,
and the one of its latest release (3.10, botocore 1.43) is older than the botocore the lock
holds for boto3 and moto (1.44), so it cannot share the project's environment.

The client runs on core 0; moto's server (in its own process) on the other core(s), so its
own cost, which is most of the wall time, is not the client's. Each client uploads the same
frames in rounds, alternating, and reports CPU ms of this process per MB (the figure that
decides) and MB/s. A measurement, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from assessment_dev.ports import free_port

SERVER_CORE, OTHER_CORES = "0", "1"  # the client where the app would be; moto beside it

MIB = 1024 * 1024
PART = 8 * MIB  # STORAGE_PART_BYTES' default
BLOCK = 256 * 1024  # what the app hands the store at a time (its read size)
BUCKET = "clients"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def with_obstore(endpoint: str, frames: list[bytes], concurrency: int) -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(BUCKET, endpoint=endpoint, access_key_id="test",
                    secret_access_key="test", region="us-east-1",
                    client_options={"allow_http": True})
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int, data: bytes) -> None:
        async with gate:
            # The app's ObjectUpload: a buffered writer of one part, fed block by block.
            async with obstore.open_writer_async(store, f"o/{number}",
                                                 buffer_size=PART, max_concurrency=1) as writer:
                for start in range(0, len(data), BLOCK):
                    await writer.write(data[start:start + BLOCK])

    await asyncio.gather(*(one(n, d) for n, d in enumerate(frames)))


async def with_aiobotocore(endpoint: str, frames: list[bytes], concurrency: int) -> None:
    from aiobotocore.session import get_session  # type: ignore[import-not-found,unused-ignore]

    gate = asyncio.Semaphore(concurrency)
    session = get_session()
    async with session.create_client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                     aws_access_key_id="test",
                                     aws_secret_access_key="test") as s3:

        async def one(number: int, data: bytes) -> None:
            key = f"a/{number}"
            async with gate:
                if len(data) <= PART:  # as obstore does: one PUT under one part
                    await s3.put_object(Bucket=BUCKET, Key=key, Body=data)
                    return
                started = await s3.create_multipart_upload(Bucket=BUCKET, Key=key)
                parts = []
                for index, start in enumerate(range(0, len(data), PART), start=1):
                    part = await s3.upload_part(Bucket=BUCKET, Key=key, PartNumber=index,
                                                UploadId=started["UploadId"],
                                                Body=data[start:start + PART])
                    parts.append({"ETag": part["ETag"], "PartNumber": index})
                await s3.complete_multipart_upload(Bucket=BUCKET, Key=key,
                                                   UploadId=started["UploadId"],
                                                   MultipartUpload={"Parts": parts})

        await asyncio.gather(*(one(n, d) for n, d in enumerate(frames)))


async def make_bucket(endpoint: str) -> None:
    from aiobotocore.session import get_session  # type: ignore[import-not-found,unused-ignore]

    deadline = time.monotonic() + 20
    async with get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test") as s3:
        while True:
            try:
                await s3.create_bucket(Bucket=BUCKET)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--mb", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    moto = subprocess.Popen(["taskset", "-c", OTHER_CORES, sys.executable, "-m",
                             "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            # moto with the project's own botocore, not aiobotocore's
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    endpoint = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(make_bucket(endpoint))
        os.sched_setaffinity(0, {int(SERVER_CORE)})  # the client where the app would be
        frames = [os.urandom(int(args.mb * MIB)) for _ in range(args.frames)]
        megabytes = args.frames * args.mb
        results: dict[str, list[dict[str, float]]] = {"obstore": [], "aiobotocore": []}
        clients: dict[str, Any] = {"obstore": with_obstore, "aiobotocore": with_aiobotocore}
        for _ in range(args.rounds):
            for name, client in clients.items():
                cpu, wall = cpu_seconds(), time.monotonic()
                asyncio.run(client(endpoint, frames, args.concurrency))
                cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
                results[name].append({"cpu_ms_per_mb": 1000 * cpu / megabytes,
                                      "mb_per_s": megabytes / wall})
        print(json.dumps({name: {key: round(statistics.median(r[key] for r in rounds), 2)
                                 for key in ("cpu_ms_per_mb", "mb_per_s")}
                          | {"rounds": rounds}
                          for name, rounds in results.items()}, indent=2))
    finally:
        moto.terminate()
        moto.wait(10)


if __name__ == "__main__":
    main()
