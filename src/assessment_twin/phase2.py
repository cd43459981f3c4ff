"""Phase 2 of the gevent plan, as its notes write it: each service call wrapped as a coroutine
that runs the sync function in the default executor; the sync routes call them through
asyncio.run() ("Or use asyncio.run() for sync route compatibility")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from flask import current_app

from assessment_twin.services.camera import CameraAssessmentService
from assessment_twin.services.llm import LLMConversationService
from assessment_twin.services.phq import PHQResponseService


def call(sync_fn: Callable[..., Any], async_fn: Callable[..., Coroutine[Any, Any, Any]],
         *args: Any) -> Any:
    """The service call as the variant makes it: directly, or (phase 2) through asyncio.run()
    of the notes' run_in_executor wrapper."""
    if current_app.config["PHASE2"]:
        return asyncio.run(async_fn(*args))
    return sync_fn(*args)


# Individual response saves (non-blocking)
async def update_response_async(session_id: UUID, question_id: int, updates: dict[str, Any]) -> Any:
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(None, PHQResponseService.update_response, session_id,
                                      question_id, updates)


# Bulk submit (non-blocking)
async def save_session_responses_async(session_id: UUID,
                                       responses_data: list[dict[str, Any]],
                                       instrument: str = "phq9") -> Any:
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(None, PHQResponseService.save_session_responses,
                                      session_id, responses_data, instrument)


# Conversation turn saves (non-blocking)
async def create_conversation_turn_async(session_id: UUID, user_message: str, model: str,
                                         stale_after: float, turns_per_minute: int) -> Any:
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(None, LLMConversationService.create_conversation_turn,
                                      session_id, user_message, model, stale_after,
                                      turns_per_minute)


# Message streaming (non-blocking)
async def save_message_async(session_id: UUID, message_data: dict[str, Any]) -> Any:
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(None, LLMConversationService.save_message, session_id,
                                      message_data)


# Batch capture creation (non-blocking)
async def create_batch_capture_async(assessment_id: UUID | None, frames: Any, capture_type: str,
                                     extra: dict[str, Any]) -> Any:
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(
        None, CameraAssessmentService.create_batch_capture_with_assessment_id, assessment_id,
        frames, capture_type, extra)


# File linking (non-blocking)
async def link_captures_async(session_id: UUID, assessment_id: UUID, assessment_type: str) -> Any:
    loop = asyncio.get_event_loop()
    return await loop.run_in_executor(
        None, CameraAssessmentService.link_incremental_captures_to_assessment, session_id,
        assessment_id, assessment_type)
