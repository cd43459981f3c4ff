"""Camera uploads: server RSS and MB/s across C concurrent uploads of one large frame each.

    .venv/bin/python bench/camera_upload.py [--uploads 32] [--mb 5] [--rounds 3]

The app runs pinned to core 0 (`assessment-async serve`); this client runs on the other
core(s). Prints RSS before, peak RSS during and after each round, and MB/s. A measurement,
not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import tempfile
import time

import aiohttp
import psutil
from common import PeakRss, database_url, pin_self, start_app
from PIL import Image

from assessment_async.fake_llm.launch import running_fake_llm
from assessment_async.ports import free_port


def big_png(megabytes: float, seed: int) -> bytes:
    """A real PNG of noise (noise does not compress), about `megabytes` in size."""
    side = int((megabytes * 2**20 / 3) ** 0.5)
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(
        out, format="PNG", compress_level=0)
    return out.getvalue()


async def upload_all(base: str, frame: bytes, uploads: int) -> list[int]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        async with http.post(f"{base}/api/sessions", json={}) as response:
            session = await response.json()
        url = f"{base}/api/sessions/{session['session_id']}/captures"
        headers = {"Authorization": f"Bearer {session['token']}"}

        async def one(i: int) -> int:
            form = aiohttp.FormData()
            form.add_field("capture_type", "face")
            form.add_field("frames", frame, filename=f"{i}.png", content_type="image/png")
            async with http.post(url, data=form, headers=headers) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(i) for i in range(uploads))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=32)
    parser.add_argument("--mb", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pin_self()
    frame = big_png(args.mb, 1)
    with tempfile.TemporaryDirectory() as capture_dir, \
            running_fake_llm(prefix=("taskset", "-c", "1")) as llm_url:
        port = free_port()
        app = start_app(port, {"DATABASE_URL": database_url(), "LLM_BASE_URL": llm_url,
                               "CAPTURE_DIR": capture_dir})
        try:
            server = psutil.Process(app.pid)
            base = f"http://127.0.0.1:{port}"
            for round_number in range(1, args.rounds + 1):
                with PeakRss(server) as rss:
                    started = time.monotonic()
                    statuses = asyncio.run(upload_all(base, frame, args.uploads))
                    elapsed = time.monotonic() - started
                print(json.dumps({
                    "round": round_number, "uploads": args.uploads,
                    "frame_mb": round(len(frame) / 2**20, 2),
                    "statuses": {str(s): statuses.count(s) for s in set(statuses)},
                    "mb_per_s": round(args.uploads * len(frame) / 2**20 / elapsed, 1),
                    "seconds": round(elapsed, 2),
                    "rss_before_mb": round(rss.before / 2**20, 1),
                    "rss_peak_mb": round(rss.peak / 2**20, 1),
                    "rss_after_mb": round(rss.after / 2**20, 1),
                    "peak_growth_mb": round((rss.peak - rss.before) / 2**20, 1),
                }))
        finally:
            app.terminate()
            app.wait(30)


if __name__ == "__main__":
    main()
