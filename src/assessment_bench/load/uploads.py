"""C concurrent uploads of one large PNG frame each, in rounds.

    python -m assessment_bench.load.uploads URL --uploads C --mb M --rounds R

Prints MB/s and per-upload latency; the runner samples the server's RSS meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import time

import aiohttp
from PIL import Image

from assessment_bench.load.stats import latency_ms


def big_png(megabytes: float, seed: int) -> bytes:
    """A real PNG of noise (noise does not compress), about `megabytes` in size."""
    side = max(8, int((megabytes * 2**20 / 3) ** 0.5))
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(
        out, format="PNG", compress_level=0)
    return out.getvalue()


async def run(base: str, uploads: int, frame: bytes, rounds: int) -> dict[str, object]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    moved = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        async with http.post(f"{base}/api/sessions", json={}) as response:
            session = await response.json()
        url = f"{base}/api/sessions/{session['session_id']}/captures"
        headers = {"Authorization": f"Bearer {session['token']}"}

        async def one(i: int) -> None:
            nonlocal moved
            form = aiohttp.FormData()
            form.add_field("capture_type", "face")
            form.add_field("frames", frame, filename=f"{i}.png", content_type="image/png")
            started = time.perf_counter()
            try:
                async with http.post(url, data=form, headers=headers) as response:
                    await response.read()
                    if response.status != 201:
                        errors[f"http {response.status}"] = errors.get(f"http {response.status}",
                                                                       0) + 1
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - started)
            moved += len(frame)

        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(one(i) for i in range(uploads)))
        elapsed = time.perf_counter() - started
    return {"uploads": uploads * rounds, "frame_mb": round(len(frame) / 2**20, 2),
            "mb_per_s": round(moved / 2**20 / elapsed, 1), "errors": errors,
            **latency_ms(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--uploads", type=int, default=32)
    parser.add_argument("--mb", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    frame = big_png(args.mb, 1)
    print(json.dumps(asyncio.run(run(args.base, args.uploads, frame, args.rounds))))


if __name__ == "__main__":
    main()
