"""STORAGE_URL=s3://...: frames streamed to an S3-API server (moto's, over real HTTP on
loopback) by both apps, read back through the app, nothing on the local disk; a refused
batch leaves no object; a store that is down answers 503 STORAGE_UNAVAILABLE and readiness
says so."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessment_core.settings import Settings
from assessment_dev.s3_server import running_s3
from tests.conftest import serving
from tests.images import frame, multipart

BUCKET = "frames"


@pytest.fixture(name="s3")
def _s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with running_s3(BUCKET) as server:
        for name, value in server.env("unused").items():
            if name != "STORAGE_URL":  # each test names its own (in_s3)
                monkeypatch.setenv(name, value)
        yield server.client()


def objects(s3: Any, session_id: str) -> dict[str, bytes]:
    """The session's objects (moto keeps one store per process, across tests)."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"clinic-a/{session_id}/").get(
        "Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def in_s3(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"storage_url": f"s3://{BUCKET}/clinic-a",
                                       "capture_dir": tmp_path / "never-used"})


FRAMES = [("frames", "a.png", "image/png", frame("PNG", size=(400, 400), seed=1)),
          ("frames", "b.jpg", "image/jpeg", frame("JPEG", seed=2))]


async def test_the_asgi_app_streams_frames_to_s3_and_back(settings: Settings, tmp_path: Path,
                                                          s3: Any) -> None:
    async with serving(in_s3(settings, tmp_path)) as app:
        client = app.test_client()
        created = await (await client.post("/api/sessions", json={})).get_json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        base = f"/api/sessions/{created['session_id']}/captures"
        body, headers = multipart({"capture_type": "face"}, FRAMES)
        batch = await client.post(base, data=body, headers=auth | headers)
        assert batch.status_code == 201, await batch.get_data()
        stored = objects(s3, created["session_id"])
        assert len(stored) == 2
        for capture, (_, _, _, data) in zip((await batch.get_json())["captures"], FRAMES,
                                            strict=True):
            assert capture["sha256"] == hashlib.sha256(data).hexdigest()
            got = await client.get(f"{base}/{capture['capture_id']}", headers=auth)
            assert await got.get_data() == data
        assert not (tmp_path / "never-used").exists() or not any(
            p.is_file() for p in (tmp_path / "never-used").rglob("*"))
        # A batch refused after its first frame was streamed leaves no object behind.
        bad, bad_headers = multipart({"capture_type": "face"},
                                     [FRAMES[0], ("frames", "c.png", "image/png", b"not png")])
        refused = await client.post(base, data=bad, headers=auth | bad_headers)
        assert refused.status_code == 415
        assert len(objects(s3, created["session_id"])) == 2
        ready = await (await client.get("/readyz")).get_json()
        assert ready["storage"] == "ok"


def test_the_twin_streams_frames_to_s3_and_back(settings: Settings, tmp_path: Path,
                                                s3: Any) -> None:
    from assessment_twin.app import create_app

    client: Any = create_app(in_s3(settings, tmp_path)).test_client()
    created = client.post("/api/sessions", json={}).get_json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    base = f"/api/sessions/{created['session_id']}/captures"
    body, headers = multipart({"capture_type": "face"}, FRAMES)
    batch = client.post(base, data=body, headers=auth | headers)
    assert batch.status_code == 201, batch.data
    assert len(objects(s3, created["session_id"])) == 2
    for capture, (_, _, _, data) in zip(batch.get_json()["captures"], FRAMES, strict=True):
        got = client.get(f"{base}/{capture['capture_id']}", headers=auth)
        assert got.data == data and got.headers["ETag"] == f'"{capture["sha256"]}"'
    assert client.get("/readyz").get_json()["storage"] == "ok"


async def test_a_store_that_is_down_answers_503(settings: Settings, tmp_path: Path,
                                                s3: Any, monkeypatch: pytest.MonkeyPatch,
                                                ) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    async with serving(in_s3(settings, tmp_path)) as app:
        client = app.test_client()
        created = await (await client.post("/api/sessions", json={})).get_json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        body, headers = multipart({"capture_type": "face"}, FRAMES[:1])
        answer = await client.post(f"/api/sessions/{created['session_id']}/captures",
                                   data=body, headers=auth | headers)
        error = (await answer.get_json())["error"]
        assert (answer.status_code, error["code"]) == (503, "STORAGE_UNAVAILABLE")
        ready = await (await client.get("/readyz")).get_json()
        assert ready == {"status": "ready", "storage": "unavailable"}
