"""A full or broken frame store answers as itself, in both apps: 507 STORAGE_FULL or 503
STORAGE_UNAVAILABLE, nothing of the batch kept, and /readyz says it; the database was fine.

The full store is real: CAPTURE_DIR on a 2 MB tmpfs (mounting needs root, as bin/setup's
installs do)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from assessment_core.settings import Settings
from tests.conftest import serving
from tests.images import frame, multipart

FRAME = frame("PNG", size=(900, 900))  # about 2.4 MB of noise: two cannot fit in 2 MB


@pytest.fixture(name="tiny_store")
def _tiny_store(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def upload_body() -> tuple[bytes, dict[str, str]]:
    return multipart({"capture_type": "face"}, [("frames", "a.png", "image/png", FRAME),
                                                ("frames", "b.png", "image/png", FRAME)])


async def stored(database_url: str, session_id: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM captures WHERE session_id = $1",
                                       session_id))
    finally:
        await conn.close()


def files_in(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file()]


async def test_the_asgi_app_answers_a_full_store_with_507(settings: Settings, tiny_store: Path,
                                                          database_url: str) -> None:
    assert len(FRAME) > 2_000_000
    async with serving(settings, capture_dir=tiny_store, capture_max_frame_bytes=3_000_000,
                       capture_max_request_bytes=7_000_000) as app:
        client = app.test_client()
        created = await (await client.post("/api/sessions", json={})).get_json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        body, headers = upload_body()
        response = await client.post(f"/api/sessions/{created['session_id']}/captures",
                                     data=body, headers=auth | headers)
        error = (await response.get_json())["error"]
        assert (response.status_code, error["code"]) == (507, "STORAGE_FULL")
        assert await stored(database_url, created["session_id"]) == 0
        assert files_in(tiny_store) == []  # the batch is all or nothing
        ready = await (await client.get("/readyz")).get_json()
        assert ready == {"status": "ready", "storage": "full"}  # less room than one upload


def test_the_twin_answers_a_full_store_with_507(settings: Settings, tiny_store: Path,
                                                database_url: str) -> None:
    import asyncio

    from assessment_twin.app import create_app

    app = create_app(settings.model_copy(update={
        "capture_dir": tiny_store, "capture_max_frame_bytes": 3_000_000,
        "capture_max_request_bytes": 7_000_000}))
    client: Any = app.test_client()
    created = client.post("/api/sessions", json={}).get_json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    body, headers = upload_body()
    response = client.post(f"/api/sessions/{created['session_id']}/captures", data=body,
                           headers=auth | headers)
    assert (response.status_code, response.get_json()["error"]["code"]) == (507,
                                                                            "STORAGE_FULL")
    assert asyncio.run(stored(database_url, created["session_id"])) == 0
    assert files_in(tiny_store) == []
    assert client.get("/readyz").get_json() == {"status": "ready", "storage": "full"}


async def test_a_store_that_cannot_be_written_is_unavailable(settings: Settings,
                                                             tmp_path: Path) -> None:
    store = tmp_path / "store"
    async with serving(settings, capture_dir=store) as app:
        # The folder uploads are written to is gone, a file in its place: every write fails.
        (store / "tmp").rmdir()
        (store / "tmp").write_text("not a folder")
        client = app.test_client()
        created = await (await client.post("/api/sessions", json={})).get_json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        body, headers = multipart({"capture_type": "face"},
                                  [("frames", "a.png", "image/png", frame("PNG"))])
        response = await client.post(f"/api/sessions/{created['session_id']}/captures",
                                     data=body, headers=auth | headers)
        error = (await response.get_json())["error"]
        assert (response.status_code, error["code"]) == (503, "STORAGE_UNAVAILABLE")
        assert response.headers["Retry-After"] == "2"
        ready = await (await client.get("/readyz")).get_json()
        assert ready == {"status": "ready", "storage": "unavailable"}
