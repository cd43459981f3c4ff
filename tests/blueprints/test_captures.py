"""Camera frames: streamed to disk, checked, hashed, all-or-nothing, linked, downloaded."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client

from assessment_core.settings import Settings
from tests.conftest import Participant, new_participant, serving
from tests.images import frame, multipart


async def upload(
    client: Client, p: Participant, files: list[tuple[str, str, str, bytes]],
    fields: dict[str, str] | None = None, *, close: bool = True,
) -> tuple[int, dict[str, Any]]:
    body, headers = multipart({"capture_type": "face"} if fields is None else fields, files,
                              close=close)
    response = await client.post(p.url("/captures"), data=body, headers=p.headers | headers)
    return response.status_code, await response.get_json()


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


async def capture_rows(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM captures")
        count += await conn.fetchval("SELECT count(*) FROM capture_batches")
        return count
    finally:
        await conn.close()


async def assert_nothing_left(settings: Settings) -> None:
    assert files_under(settings.capture_dir) == [], "no file, not even a temporary one"
    assert await capture_rows(settings) == 0, "no row"


async def test_a_batch_is_stored_hashed_and_downloaded_byte_for_byte(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    images = [("frames", "a.jpg", "image/jpeg", frame("JPEG", seed=1)),
              ("frames", "b.png", "image/png", frame("PNG", seed=2)),
              ("frames", "c.jpg", "image/jpeg", frame("JPEG", (640, 480), seed=3))]
    status, body = await upload(client, participant, images)
    assert status == 201
    stored = body["captures"]
    assert [c["content_type"] for c in stored] == ["image/jpeg", "image/png", "image/jpeg"]
    assert [c["sha256"] for c in stored] == [hashlib.sha256(d).hexdigest() for *_, d in images]
    assert [c["size_bytes"] for c in stored] == [len(d) for *_, d in images]
    for capture, (*_, data) in zip(stored, images, strict=True):
        response = await client.get(participant.url(f"/captures/{capture['capture_id']}"),
                                    headers=participant.headers)
        assert response.status_code == 200
        assert response.mimetype == capture["content_type"]
        assert await response.get_data() == data
    on_disk = files_under(settings.capture_dir)
    assert len(on_disk) == 3 and all(p.parent.name == str(participant.session_id)
                                     for p in on_disk)
    listed = await (await client.get(participant.url("/captures"),
                                     headers=participant.headers)).get_json()
    assert [c["capture_id"] for c in listed] == [c["capture_id"] for c in stored]
    assert {c["batch_id"] for c in listed} == {body["batch_id"]}
    assert all(c["capture_type"] == "face" and c["assessment_id"] is None for c in listed)


async def test_a_script_named_jpg_is_415_and_leaves_nothing(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    files = [("frames", "ok.png", "image/png", frame("PNG")),
             ("frames", "evil.jpg", "image/jpeg", b"#!/bin/sh\nrm -rf /\n" * 10)]
    status, body = await upload(client, participant, files)
    assert status == 415
    assert "evil.jpg" in body["error"]["message"]
    await assert_nothing_left(settings)


async def test_a_frame_over_the_cap_is_413_and_leaves_nothing(settings: Settings) -> None:
    async with serving(settings, capture_max_frame_bytes=50_000) as app:
        client = app.test_client()
        p = await new_participant(client)
        big = frame("PNG", (200, 200), seed=5)
        assert len(big) > 50_000
        status, body = await upload(client, p, [("frames", "a.png", "image/png", frame("PNG")),
                                                ("frames", "big.png", "image/png", big)])
        assert status == 413
        assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert "50000" in body["error"]["message"]
        await assert_nothing_left(settings)


async def test_too_many_frames_or_bytes_are_413(settings: Settings) -> None:
    async with serving(settings, capture_max_frames=2, capture_max_request_bytes=60_000) as app:
        client = app.test_client()
        p = await new_participant(client)
        small = ("frames", "a.jpg", "image/jpeg", frame("JPEG"))
        status, body = await upload(client, p, [small] * 3)
        assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
        big = ("frames", "b.png", "image/png", frame("PNG", (160, 160)))
        status, _ = await upload(client, p, [big])
        assert status == 413
        await assert_nothing_left(settings)


async def test_a_truncated_multipart_is_400_and_leaves_nothing(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    body, headers = multipart({"capture_type": "face"},
                              [("frames", "a.jpg", "image/jpeg", frame("JPEG", (320, 240)))])
    response = await client.post(participant.url("/captures"), data=body[: len(body) // 2],
                                 headers=participant.headers | headers)
    assert response.status_code == 400
    assert (await response.get_json())["error"]["code"] == "MALFORMED_MULTIPART"
    await assert_nothing_left(settings)


async def test_a_path_traversal_filename_gets_a_server_made_name(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    status, body = await upload(client, participant,
                                [("frames", "../../../etc/cron.d/x.jpg", "image/jpeg",
                                  frame("JPEG"))])
    assert status == 201
    [stored] = files_under(settings.capture_dir)
    assert stored.is_relative_to(settings.capture_dir.resolve())
    assert stored.name == f"{body['captures'][0]['capture_id']}.jpg"
    assert not list(settings.capture_dir.parent.rglob("cron.d"))


async def test_control_characters_are_dropped_from_the_kept_filename(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    # PostgreSQL cannot store NUL: the name is only for display, so it is cleaned, not refused.
    status, body = await upload(client, participant,
                                [("frames", "face\x00\x1b[31m.png", "image/png", frame("PNG"))])
    assert status == 201
    conn = await asyncpg.connect(settings.database_url)
    try:
        name = await conn.fetchval("SELECT original_filename FROM captures WHERE id = $1",
                                   uuid.UUID(body["captures"][0]["capture_id"]))
    finally:
        await conn.close()
    assert name == "face[31m.png"


@pytest.mark.parametrize(
    ("fields", "files", "status", "field"),
    [({"capture_type": "selfie"}, 1, 422, "capture_type"),
     ({}, 1, 422, "capture_type"),
     ({"capture_type": "face"}, 0, 422, "frames"),
     ({"capture_type": "face", "assessment_id": "nope"}, 1, 422, "assessment_id"),
     ({"capture_type": "face", "assessment_id": "00000000-0000-0000-0000-000000000001"}, 1,
      422, "assessment_id"),
     ({"capture_type": "face", "note": "hi"}, 1, 422, "note")],
)
async def test_invalid_fields_are_422_and_leave_nothing(
    client: Client, participant: Participant, settings: Settings, fields: dict[str, str],
    files: int, status: int, field: str,
) -> None:
    got, body = await upload(client, participant,
                             [("frames", "a.jpg", "image/jpeg", frame("JPEG"))] * files, fields)
    assert got == status
    assert body["error"]["details"][0]["field"] == field
    await assert_nothing_left(settings)


async def test_wrong_content_types_are_415(client: Client, participant: Participant) -> None:
    response = await client.post(participant.url("/captures"), json={"frames": []},
                                 headers=participant.headers)
    assert response.status_code == 415
    response = await client.post(participant.url("/captures"), data=b"x",
                                 headers=participant.headers
                                 | {"Content-Type": "multipart/form-data"})
    assert response.status_code == 400


async def test_concurrent_uploads_all_land(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    images = [frame("JPEG", (160, 120), seed=i) for i in range(8)]
    results = await asyncio.gather(*(upload(client, participant,
                                            [("frames", f"{i}.jpg", "image/jpeg", data)])
                                     for i, data in enumerate(images)))
    assert [status for status, _ in results] == [201] * 8
    hashes = {body["captures"][0]["sha256"] for _, body in results}
    assert hashes == {hashlib.sha256(d).hexdigest() for d in images}
    assert len(files_under(settings.capture_dir)) == 8


async def submit_phq(client: Client, p: Participant) -> str:
    response = await client.post(p.url("/phq/submit"), headers=p.headers, json={
        "responses": [{"question_id": q, "answer": 0} for q in range(1, 10)]})
    assessment_id: str = (await response.get_json())["assessment_id"]
    return assessment_id


async def test_link_attaches_unlinked_frames_once(
    client: Client, participant: Participant,
) -> None:
    one = ("frames", "a.jpg", "image/jpeg", frame("JPEG"))
    await upload(client, participant, [one, one])
    await upload(client, participant, [one], {"capture_type": "posture"})
    assessment_id = await submit_phq(client, participant)
    link = {"assessment_id": assessment_id, "assessment_type": "phq9"}
    first = await client.post(participant.url("/captures/link"), json=link,
                              headers=participant.headers)
    assert (first.status_code, await first.get_json()) == (200, {"linked": 3})
    again = await client.post(participant.url("/captures/link"), json=link,
                              headers=participant.headers)
    assert await again.get_json() == {"linked": 0}
    status, _ = await upload(client, participant, [one],
                             {"capture_type": "face", "assessment_id": assessment_id})
    assert status == 201
    listed = await (await client.get(participant.url("/captures"),
                                     headers=participant.headers)).get_json()
    assert [(c["assessment_id"], c["assessment_type"]) for c in listed] == \
        [(assessment_id, "phq9")] * 4


@pytest.mark.parametrize(
    ("body", "field"),
    [({"assessment_id": "00000000-0000-0000-0000-000000000001", "assessment_type": "phq9"},
      "assessment_id"),
     ({"assessment_id": None, "assessment_type": "phq9"}, "assessment_id"),
     ({"assessment_type": "phq9"}, "assessment_id")],
)
async def test_link_refuses_assessments_that_are_not_the_sessions(
    client: Client, participant: Participant, body: dict[str, Any], field: str,
) -> None:
    response = await client.post(participant.url("/captures/link"), json=body,
                                 headers=participant.headers)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["details"][0]["field"] == field


async def test_link_checks_the_assessment_type(client: Client, participant: Participant) -> None:
    assessment_id = await submit_phq(client, participant)
    response = await client.post(participant.url("/captures/link"), headers=participant.headers,
                                 json={"assessment_id": assessment_id, "assessment_type": "gad7"})
    assert response.status_code == 422
    assert "is a phq9" in (await response.get_json())["error"]["message"]


async def test_another_sessions_frames_are_404(client: Client, participant: Participant) -> None:
    _, body = await upload(client, participant, [("frames", "a.jpg", "image/jpeg",
                                                  frame("JPEG"))])
    capture_id = body["captures"][0]["capture_id"]
    other = await new_participant(client)
    theirs = await client.get(participant.url(f"/captures/{capture_id}"), headers=other.headers)
    assert (theirs.status_code, (await theirs.get_json())["error"]["code"]) == (
        404, "SESSION_NOT_FOUND")
    own_url = await client.get(other.url(f"/captures/{capture_id}"), headers=other.headers)
    assert (own_url.status_code, (await own_url.get_json())["error"]["code"]) == (
        404, "CAPTURE_NOT_FOUND")
    listing = await client.get(other.url("/captures"), headers=other.headers)
    assert await listing.get_json() == []
    status, _ = await upload(client, participant, [("frames", "a.jpg", "image/jpeg",
                                                    frame("JPEG"))])
    anonymous = await client.post(participant.url("/captures"), data=b"")
    assert anonymous.status_code == 401
