"""The orphan sweep: stored frames no capture row names (what a crash between a frame's
upload and its batch's rows leaves) are found once older than the cutoff, and removed with
--delete; frames with rows, and uploads younger than the cutoff, are kept. On a folder and
on an S3-API server (moto's, over HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from assessment_async import cli
from assessment_async.infra.storage import Storage, open_storage
from assessment_async.services.orphans import find_orphans, sweep
from assessment_core.settings import Settings
from tests.conftest import serving
from tests.images import frame, multipart
from tests.test_object_storage import BUCKET, in_s3

pytest_plugins = ["tests.test_object_storage"]  # its s3 fixture


async def stored_batch(settings: Settings) -> list[str]:
    """A batch of two frames through the app; their storage keys."""
    async with serving(settings) as app:
        client = app.test_client()
        created = await (await client.post("/api/sessions", json={})).get_json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        body, headers = multipart({"capture_type": "face"},
                                  [("frames", "a.png", "image/png", frame("PNG", seed=1)),
                                   ("frames", "b.jpg", "image/jpeg", frame("JPEG", seed=2))])
        answer = await client.post(f"/api/sessions/{created['session_id']}/captures",
                                   data=body, headers=auth | headers)
        assert answer.status_code == 201
        conn = await asyncpg.connect(settings.database_url)
        try:
            rows = await conn.fetch("SELECT storage_key FROM captures WHERE session_id = $1",
                                    uuid.UUID(created["session_id"]))
        finally:
            await conn.close()
    return [row["storage_key"] for row in rows]


async def orphan(storage: Storage) -> str:
    """An object written as an upload is, whose batch never got its rows."""
    key = f"{uuid.uuid4()}/{uuid.uuid4()}.png"
    upload = await storage.start_upload(key)
    await upload.write(frame("PNG", seed=3))
    await upload.commit()
    return key


@pytest.fixture(name="conn")
async def _conn(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(settings.database_url)
    yield conn
    await conn.close()


async def check_sweep(settings: Settings, conn: asyncpg.Connection) -> None:
    kept = await stored_batch(settings)  # its rows are truncated after serving: re-add below
    storage = open_storage(settings)
    lost = await orphan(storage)
    later = datetime.now(UTC) + timedelta(hours=2)
    # Younger than the cutoff: an upload that may still be in flight, kept.
    assert lost not in await find_orphans(storage, conn, timedelta(hours=1))
    orphans = await find_orphans(storage, conn, timedelta(hours=1), now=later)
    assert lost in orphans
    # The batch's keys are orphans now (serving() truncated the sessions): give them rows.
    await conn.execute("INSERT INTO sessions (id, token_hash) VALUES ($1, $2)",
                       sid := uuid.uuid4(), uuid.uuid4().bytes + uuid.uuid4().bytes)
    await conn.execute("INSERT INTO capture_batches (id, session_id, capture_type) "
                       "VALUES ($1, $2, 'face')", batch := uuid.uuid4(), sid)
    for position, key in enumerate(kept):
        await conn.execute(
            "INSERT INTO captures (id, batch_id, session_id, position, capture_type, "
            "storage_key, content_type, size_bytes, sha256) VALUES "
            "($1, $2, $3, $4, 'face', $5, 'image/png', 1, $6)",
            uuid.uuid4(), batch, sid, position, key, "0" * 64)
    assert await find_orphans(storage, conn, timedelta(hours=1), now=later) == [lost]
    assert await sweep(storage, conn, timedelta(0), delete=True) == [lost]
    assert not await storage.exists(lost)
    assert all([await storage.exists(key) for key in kept])
    assert await find_orphans(storage, conn, timedelta(0)) == []
    await conn.execute("TRUNCATE sessions CASCADE")


async def test_the_sweep_finds_and_removes_orphans_in_a_folder(
    settings: Settings, conn: asyncpg.Connection,
) -> None:
    await check_sweep(settings, conn)


async def test_the_sweep_finds_and_removes_orphans_in_s3(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path, s3: Any,
) -> None:
    await check_sweep(in_s3(settings, tmp_path), conn)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) >= 2


def test_the_command_lists_orphans_and_deletes_them_when_told(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    storage = open_storage(settings)
    lost = asyncio.run(orphan(storage))
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("CAPTURE_DIR", str(settings.capture_dir))
    assert cli.main(["storage", "sweep"]) == 0  # an hour's cutoff: not yet an orphan
    out = capsys.readouterr()
    assert lost not in out.out and "0 orphan object(s)" in out.err
    assert cli.main(["storage", "sweep", "--older-than", "0"]) == 0
    assert capsys.readouterr().out.split() == [lost] and asyncio.run(storage.exists(lost))
    assert cli.main(["storage", "sweep", "--older-than", "0", "--delete"]) == 0
    assert "1 orphan object(s) older than 0 min deleted" in capsys.readouterr().err
    assert not asyncio.run(storage.exists(lost))
