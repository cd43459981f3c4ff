"""Chat rules shared by both apps: the prompt sent upstream, turn outcomes, SSE framing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

ROLES = ("user", "assistant", "system")


def build_prompt(
    system_prompt: str, history: Iterable[Mapping[str, Any]], message: str
) -> list[dict[str, str]]:
    """The system prompt, earlier turns (oldest first, what was said), then the new message."""
    messages = [{"role": "system", "content": system_prompt}]
    for turn in history:
        messages.append({"role": "user", "content": turn["user_message"]})
        if turn["ai_message"]:
            messages.append({"role": "assistant", "content": turn["ai_message"]})
    messages.append({"role": "user", "content": message})
    return messages


def outcome(said_anything: bool, ended_cleanly: bool) -> str:
    """complete when the stream finished; else partial if any text went out, else failed."""
    if ended_cleanly:
        return "complete"
    return "partial" if said_anything else "failed"


def sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event; JSON never contains a raw newline, so one data line suffices."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
