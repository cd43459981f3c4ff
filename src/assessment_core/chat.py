"""Chat rules shared by both apps: the prompt sent upstream, turn outcomes, SSE framing."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from assessment_core.errors import APIError

ROLES = ("user", "assistant", "system")

# A turn still `streaming` this long after the turn cap was cut off by a dead server: the
# next chat of its session closes it (partial or failed) rather than wait behind it.
STALE_MARGIN_SECONDS = 60
# How long the end of a turn keeps retrying an unreachable database before the turn is
# reported not saved (a restart is back within seconds); an unsaved turn blocks the session's
# next chat until it goes stale.
SAVE_RETRY_SECONDS = 15.0


def stale_after(turn_timeout: float) -> float:
    """Seconds after which a `streaming` turn counts as left behind by a dead server."""
    return turn_timeout + STALE_MARGIN_SECONDS


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


def owner_and_history(rows: Sequence[Mapping[str, Any]]) -> tuple[Any, list[Mapping[str, Any]]]:
    """SQL.select_owner_and_history's rows as (the session the token opens, or None; its
    turns oldest first)."""
    if not rows:
        return None, []
    return rows[0]["owner"], [r for r in reversed(rows) if r["turn_number"] is not None]


def outcome(said_anything: bool, ended_cleanly: bool) -> str:
    """complete when the stream finished; else partial if any text went out, else failed."""
    if ended_cleanly:
        return "complete"
    return "partial" if said_anything else "failed"


# An SSE comment: clients skip it; it keeps a quiet stream's connection alive.
KEEPALIVE = b": waiting for the first token\n\n"


def sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event; JSON never contains a raw newline, so one data line suffices."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def token_events(deltas: Sequence[str]) -> bytes:
    """A `token` event per delta, as the upstream sent them, in one write."""
    return b"".join(sse("token", {"delta": delta}) for delta in deltas)


class UpstreamError(Exception):
    """The upstream failed; `code` is the one the client sees in the `error` event."""

    def __init__(self, code: str, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class StreamResult:
    """Filled in as the stream runs: how it ended and what it cost."""

    finish_reason: str | None = None
    completion_tokens: int | None = None


def parse_chunk(data: str | bytes, result: StreamResult) -> str:
    """The text delta of one `data:` chunk, noting finish_reason and usage on the way."""
    try:
        chunk: dict[str, Any] = orjson.loads(data)
        if "error" in chunk:
            message = str(chunk["error"].get("message", "error"))
            raise UpstreamError("UPSTREAM_ERROR", f"The language model failed: {message}")
        usage = chunk.get("usage")
        if usage:
            result.completion_tokens = int(usage["completion_tokens"])
        choices = chunk["choices"]
        if not choices:
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            result.finish_reason = str(choice["finish_reason"])
        content = (choice.get("delta") or {}).get("content")
        return content if isinstance(content, str) else ""
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
        raise UpstreamError("UPSTREAM_MALFORMED", "The language model sent a chunk that is "
                            "not valid chat-completions JSON.") from None


def parse_lines(
    lines: list[bytes], result: StreamResult
) -> tuple[list[str], bool, UpstreamError | None]:
    """The text deltas in these whole lines of the event stream, whether `[DONE]` came, and
    the error of a chunk that could not be read (the deltas before it still count)."""
    deltas: list[str] = []
    for line in lines:
        if not line.startswith(b"data:"):
            continue  # blank separators, comments, event names
        data = line[5:].strip()
        if data == b"[DONE]":
            return deltas, True, None
        try:
            delta = parse_chunk(data, result)
        except UpstreamError as error:
            return deltas, False, error
        if delta:
            deltas.append(delta)
    return deltas, False, None


class ChunkReader:
    """An upstream's raw reads as text deltas: whole lines split here, once per read, and
    parsed (parse_lines); a line cut by a read waits for the next one."""

    def __init__(self, result: StreamResult) -> None:
        self.result = result
        self.pending = b""

    def feed(self, chunk: bytes) -> tuple[list[str], bool, UpstreamError | None]:
        """parse_lines' answer for the whole lines this read completed."""
        self.pending += chunk
        end = max(self.pending.rfind(b"\n"), self.pending.rfind(b"\r"))
        if end < 0:
            return [], False, None  # no whole line yet
        lines, self.pending = self.pending[:end + 1].splitlines(), self.pending[end + 1:]
        return parse_lines(lines, self.result)


def upstream_status_error(status: int, retry_after: str | None) -> UpstreamError:
    if status == 429:
        return UpstreamError("UPSTREAM_RATE_LIMITED", "The language model is rate-limiting "
                             "us; try again shortly.", retry_after)
    return UpstreamError("UPSTREAM_ERROR", f"The language model answered {status}.", retry_after)


def error_event(turn_number: int, status: str, failure: UpstreamError) -> bytes:
    return sse("error", {"code": failure.code, "message": failure.message,
                         "turn_number": turn_number, "status": status,
                         "retry_after": failure.retry_after})


def not_saved_event(turn_number: int) -> bytes:
    return sse("error", {"code": "TURN_NOT_SAVED", "turn_number": turn_number,
                         "message": "The answer could not be saved; send the message again."})


def done_event(turn_number: int, status: str, result: StreamResult) -> bytes:
    return sse("done", {"turn_number": turn_number, "status": status,
                        "finish_reason": result.finish_reason,
                        "completion_tokens": result.completion_tokens})


class TurnInProgress(Exception):
    """Another turn of this session is still streaming (both apps' services raise it)."""


class TurnRateLimited(Exception):
    """The session started its allowed turns in the last minute."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def llm_busy() -> APIError:
    return APIError(503, "LLM_BUSY", "Too many conversations are streaming; retry in a few "
                    "seconds.", headers={"Retry-After": "5"})


def turn_in_progress() -> APIError:
    # 429, not 409: one turn at a time per session is a limit on concurrent turns (each one
    # costs upstream), and clients already back off on 429 + Retry-After.
    return APIError(429, "TURN_IN_PROGRESS", "The previous answer is still streaming; send the "
                    "next message after its `done` event.", headers={"Retry-After": "1"})


def too_many_turns(per_minute: int, retry_after: float) -> APIError:
    seconds = max(1, math.ceil(retry_after))
    return APIError(429, "CHAT_RATE_LIMITED", f"This session may start {per_minute} chat turns "
                    f"a minute; send the next message in {seconds} s.",
                    headers={"Retry-After": str(seconds)})


def message_body(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"message_id": row["id"], "role": row["role"], "created_at": row["created_at"]}
