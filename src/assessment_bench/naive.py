"""The `asgi-naive` variant: the same app with its hot paths written the obvious way.

An ORM session per request for the one-answer save (get the session row, check the token,
look for a submitted assessment, get-or-create the response object, commit, refresh) and
httpx's default transport upstream. Everything else is the real app's. The bench runs it
beside `asgi` to show what these habits cost; `shared/design.md` measured the same pitfalls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from quart import Quart, ResponseReturnValue
from quart_schema import validate_request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry

from assessment_async.app import create_app
from assessment_async.http.auth import bearer_hash
from assessment_async.infra.db import get_db
from assessment_core import tables
from assessment_core.instruments import PHQ9
from assessment_core.models import AnswerIn
from assessment_core.questionnaire import already_submitted, answer_body, checked_item
from assessment_core.settings import Settings
from assessment_core.tokens import check_owner

mapper = registry()


class SessionRow:
    id: UUID
    token_hash: bytes


class ResponseRow:
    session_id: UUID
    instrument: str
    question_id: int
    answer: int
    updated_at: datetime


class AssessmentRow:
    id: UUID


mapper.map_imperatively(SessionRow, tables.sessions)
mapper.map_imperatively(ResponseRow, tables.responses)
mapper.map_imperatively(AssessmentRow, tables.assessments)


@validate_request(AnswerIn)
async def update_response(sid: UUID, question_id: str, data: AnswerIn) -> ResponseReturnValue:
    item = checked_item(PHQ9, question_id, data.answer)
    token_hash = bearer_hash()
    async with AsyncSession(get_db().engine, expire_on_commit=False) as session:
        owner = (await session.execute(
            select(SessionRow).where(tables.sessions.c.token_hash == token_hash))).scalar()
        check_owner(owner.id if owner else None, sid)
        submitted = await session.scalar(select(func.count()).select_from(AssessmentRow).where(
            tables.assessments.c.session_id == sid, tables.assessments.c.instrument == PHQ9.key))
        if submitted:
            raise already_submitted()
        response = await session.get(ResponseRow, (sid, PHQ9.key, item))
        if response is None:
            response = ResponseRow()
            response.session_id, response.instrument, response.question_id = sid, PHQ9.key, item
            session.add(response)
        response.answer = data.answer
        response.updated_at = datetime.now(UTC)
        await session.commit()
        await session.refresh(response)
        return answer_body({"question_id": response.question_id, "answer": response.answer,
                            "updated_at": response.updated_at})


SAVE_ENDPOINT = "phq.update_response"


def create_naive_app(settings: Settings) -> Quart:
    app = create_app(settings.model_copy(update={"llm_transport": "httpx"}))
    # A renamed endpoint would otherwise leave this variant measuring the asgi app's save.
    if SAVE_ENDPOINT not in app.view_functions:
        raise RuntimeError(f"the app has no endpoint {SAVE_ENDPOINT!r} for the naive save")
    app.view_functions[SAVE_ENDPOINT] = update_response
    return app
