"""A TCP proxy that delays every chunk by D milliseconds each way: PostgreSQL "over a
network" when network namespaces and netem are not at hand.

    python -m assessment_bench.load.delay_proxy --listen PORT --target HOST:PORT --delay-ms D
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvloop

from assessment_dev.ports import free_port, port_is_free
from assessment_dev.processes import stop


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    try:
        while data := await reader.read(65536):
            # Deliver in order, each chunk `delay` after it arrived (latency, not bandwidth).
            due = loop.time() + delay
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(listen: int, host: str, port: int, delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, server_w, delay), pipe(server_r, client_w, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


@contextmanager
def running(target: str, delay_ms: float, prefix: Sequence[str] = ()) -> Iterator[str]:
    """This proxy in front of `target` (host:port), started and listening; yields the
    host:port to reach the target through it."""
    port = free_port()
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "assessment_bench.load.delay_proxy", "--listen",
         str(port), "--target", target, "--delay-ms", str(delay_ms)])
    try:
        deadline = time.monotonic() + 20
        while port_is_free(port):  # not listening yet
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the delay proxy in front of {target} did not start")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, default=1.0)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    uvloop.run(serve(args.listen, host, int(port), args.delay_ms / 1000))


if __name__ == "__main__":
    main()
