"""The asgi-naive variant measures its own one-answer save, never the asgi app's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from assessment_async.infra.metrics import SAVE_BATCH_SIZE
from assessment_bench import naive
from assessment_core.settings import Settings
from tests.conftest import new_participant, truncate_sessions


def batches_written() -> float:
    return next(sample.value for metric in SAVE_BATCH_SIZE.collect()
                for sample in metric.samples if sample.name.endswith("_count"))


async def test_the_naive_variant_saves_through_an_orm_session(settings: Settings) -> None:
    app = naive.create_naive_app(settings)
    sessions: list[Any] = []

    def began(session: Any, transaction: Any, connection: Any) -> None:
        sessions.append(session)

    event.listen(Session, "after_begin", began)
    try:
        async with app.test_app():
            client = app.test_client()
            p = await new_participant(client)
            before = batches_written()
            response = await client.put(p.url("/phq/responses/3"), headers=p.headers,
                                        json={"answer": 2})
            assert response.status_code == 200
            assert (await response.get_json())["answer"] == 2
            assert sessions, "no ORM session ran: the save was not the naive handler's"
            assert batches_written() == before  # and the asgi app's answer writer did not
    finally:
        event.remove(Session, "after_begin", began)
        await truncate_sessions(settings)


def test_a_renamed_save_endpoint_fails_loudly(settings: Settings,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(naive, "SAVE_ENDPOINT", "phq.save_answer")
    with pytest.raises(RuntimeError, match="phq.save_answer"):
        naive.create_naive_app(settings)
