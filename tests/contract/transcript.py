"""A scripted walk through the whole contract, recorded so two servers can be compared.

Each step checks its status as it goes; the record keeps status, the chosen headers and the
body with ids, times and tokens replaced by stable placeholders.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx

from assessment_core.chat import KEEPALIVE
from tests.images import frame, multipart

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)")
HEADERS = ("x-clinical-alert", "retry-after", "www-authenticate")
GAD7_EDGES = (0, 4, 5, 9, 10, 14, 15, 21)


class Transcript:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.entries: list[tuple[str, int, dict[str, str], Any]] = []
        self._ids: dict[str, str] = {}

    def normalise(self, text: str) -> str:
        def name_id(match: re.Match[str]) -> str:
            return self._ids.setdefault(match.group(0), f"<id{len(self._ids)}>")
        # Keep-alive comments come with the first token's wait, which load decides.
        text = text.replace(KEEPALIVE.decode(), "")
        return TIME_RE.sub("<time>", UUID_RE.sub(name_id, text))

    def step(self, name: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == expect, (name, response.status_code, response.text)
        content_type = response.headers.get("content-type", "").split(";")[0]
        if content_type.endswith("json"):
            body: Any = json.loads(self.normalise(response.text))
            raw = response.json()
        elif content_type.startswith("image/"):
            body = raw = hashlib.sha256(response.content).hexdigest()
        else:
            body = raw = self.normalise(response.text)
        if isinstance(body, dict) and "token" in body:
            body["token"] = "<token>"
        headers = {h: response.headers[h] for h in HEADERS if h in response.headers}
        headers["content-type"] = content_type
        self.entries.append((name, response.status_code, headers, body))
        return raw


def walk(base_url: str) -> list[tuple[str, int, dict[str, str], Any]]:
    """The contract, step by step; returns the normalised record."""
    t = Transcript(base_url)
    json_type = {"Content-Type": "application/json"}

    session = t.step("create session", "POST", "/api/sessions", 201, json={"participant_ref": "c"})
    other = t.step("create another", "POST", "/api/sessions", 201, json={})
    sid, auth = session["session_id"], {"Authorization": f"Bearer {session['token']}"}
    other_auth = {"Authorization": f"Bearer {other['token']}"}
    base = f"/api/sessions/{sid}"

    t.step("malformed json", "POST", "/api/sessions", 400, content=b"{", headers=json_type)
    t.step("json that is not utf-8", "POST", "/api/sessions", 400,
           content=b'{"participant_ref": "\xff"}', headers=json_type)
    t.step("nul character", "POST", "/api/sessions", 422, json={"participant_ref": "a\x00"})
    t.step("not json", "POST", "/api/sessions", 415, content=b"x=1",
           headers={"Content-Type": "application/x-www-form-urlencoded"})
    t.step("unknown field", "POST", "/api/sessions", 422, json={"who": 1})
    t.step("json over the cap", "POST", "/api/sessions", 413,
           json={"participant_ref": "x" * 70_000})
    t.step("no token", "GET", base, 401)
    t.step("bad scheme", "GET", base, 401, headers={"Authorization": "Basic abc"})
    t.step("unknown token", "GET", base, 401, headers={"Authorization": "Bearer nope"})
    t.step("another session's token", "GET", base, 404, headers=other_auth)
    t.step("malformed session id", "GET", "/api/sessions/not-a-uuid", 404, headers=auth)
    t.step("unknown path", "GET", "/api/nothing", 404)
    t.step("wrong method", "DELETE", "/api/sessions", 405)
    t.step("summary", "GET", base, 200, headers=auth)

    for item in range(1, 10):
        t.step(f"save item {item}", "PUT", f"{base}/phq/responses/{item}", 200, headers=auth,
               json={"answer": 2 if item != 9 else 1})
    t.step("save difficulty", "PUT", f"{base}/phq/responses/10", 200, headers=auth,
           json={"answer": 1})
    t.step("answer out of range", "PUT", f"{base}/phq/responses/1", 422, headers=auth,
           json={"answer": 4})
    t.step("answer as string", "PUT", f"{base}/phq/responses/1", 422, headers=auth,
           json={"answer": "2"})
    t.step("unknown item", "PUT", f"{base}/phq/responses/11", 422, headers=auth,
           json={"answer": 1})
    t.step("item not a number", "PUT", f"{base}/phq/responses/nine", 422, headers=auth,
           json={"answer": 1})
    t.step("save with another token", "PUT", f"{base}/phq/responses/1", 404,
           headers=other_auth, json={"answer": 1})
    t.step("incomplete submit", "POST", f"/api/sessions/{other['session_id']}/phq/submit", 422,
           headers=other_auth, json={"responses": [{"question_id": 1, "answer": 0}]})
    t.step("duplicate item", "POST", f"{base}/phq/submit", 422, headers=auth,
           json={"responses": [{"question_id": 1, "answer": 2}, {"question_id": 1, "answer": 2}]})
    t.step("phq before submit", "GET", f"{base}/phq", 200, headers=auth)
    t.step("fhir before submit", "GET", f"{base}/phq/fhir", 200, headers=auth)
    t.step("submit", "POST", f"{base}/phq/submit", 201, headers=auth, json={"responses": []})
    assessment = t.step("repeat submit", "POST", f"{base}/phq/submit", 200, headers=auth,
                        json={"responses": [{"question_id": 1, "answer": 2}]})
    t.step("submit with changed answers", "POST", f"{base}/phq/submit", 409, headers=auth,
           json={"responses": [{"question_id": 1, "answer": 0}]})
    t.step("save after submit", "PUT", f"{base}/phq/responses/2", 409, headers=auth,
           json={"answer": 0})
    t.step("phq after submit", "GET", f"{base}/phq", 200, headers=auth)
    t.step("fhir after submit", "GET", f"{base}/phq/fhir", 200, headers=auth)
    t.step("summary after submit", "GET", base, 200, headers=auth)

    # GAD-7 on the instrument routes, and PHQ-9 through them too.
    t.step("instruments", "GET", "/api/instruments", 200)
    gad = f"{base}/instruments/gad7"
    # 12 as saved, 13 once the submit changes item 6: moderate.
    for item, answer in zip(range(1, 8), (3, 2, 2, 1, 3, 0, 1), strict=True):
        t.step(f"gad7 save item {item}", "PUT", f"{gad}/responses/{item}", 200, headers=auth,
               json={"answer": answer})
    t.step("gad7 no item 8", "PUT", f"{gad}/responses/8", 422, headers=auth,
           json={"answer": 1})
    t.step("gad7 answer out of range", "PUT", f"{gad}/responses/1", 422, headers=auth,
           json={"answer": 4})
    t.step("unknown instrument", "PUT", f"{base}/instruments/bdi/responses/1", 404,
           headers=auth, json={"answer": 1})
    t.step("gad7 with another token", "GET", gad, 404, headers=other_auth)
    t.step("gad7 before submit", "GET", gad, 200, headers=auth)
    t.step("gad7 submit", "POST", f"{gad}/submit", 201, headers=auth,
           json={"responses": [{"question_id": 6, "answer": 1}]})
    t.step("gad7 repeat submit", "POST", f"{gad}/submit", 200, headers=auth, json={})
    t.step("gad7 save after submit", "PUT", f"{gad}/responses/2", 409, headers=auth,
           json={"answer": 0})
    t.step("gad7 fhir", "GET", f"{gad}/fhir", 200, headers=auth)
    t.step("phq9 on the instrument routes", "GET", f"{base}/instruments/phq9", 200,
           headers=auth)
    t.step("summary with both", "GET", base, 200, headers=auth)
    # GAD-7 scored at each band's edges (0..21; bands from 5, 10 and 15), one session each.
    for total in GAD7_EDGES:
        edge = t.step(f"gad7 session for {total}", "POST", "/api/sessions", 201, json={})
        answers = [min(3, max(0, total - 3 * n)) for n in range(7)]
        responses = [{"question_id": n + 1, "answer": a} for n, a in enumerate(answers)]
        t.step(f"gad7 submit totalling {total}", "POST",
               f"/api/sessions/{edge['session_id']}/instruments/gad7/submit", 201,
               headers={"Authorization": f"Bearer {edge['token']}"},
               json={"responses": responses})

    t.step("chat", "POST", f"{base}/chat", 200, headers=auth, json={"message": "hello"})
    t.step("chat again", "POST", f"{base}/chat", 200, headers=auth, json={"message": "more"})
    for fault in ("fault=error,status=500", "fault=error,status=429,retry_after=4",
                  "fault=cut,fault_at=3", "fault=malformed,fault_at=2",
                  "fault=stall,fault_at=2,stall=3"):
        t.step(f"chat with {fault}", "POST", f"{base}/chat", 200, headers=auth,
               json={"message": f"test {{{{fake-llm: {fault}}}}}"})
    t.step("eighth chat of the minute", "POST", f"{base}/chat", 200, headers=auth,
           json={"message": "still here"})
    t.step("chat over the per-minute limit", "POST", f"{base}/chat", 429, headers=auth,
           json={"message": "one more"})
    t.step("empty message", "POST", f"{base}/chat", 422, headers=auth, json={"message": " "})
    t.step("long message", "POST", f"{base}/chat", 422, headers=auth,
           json={"message": "x" * 4001})
    t.step("turns", "GET", f"{base}/chat/turns", 200, headers=auth)
    t.step("save message", "POST", f"{base}/messages", 201, headers=auth,
           json={"role": "assistant", "content": "hi", "metadata": {"k": 1}})
    t.step("unknown role", "POST", f"{base}/messages", 422, headers=auth,
           json={"role": "robot", "content": "hi"})
    t.step("nul in metadata", "POST", f"{base}/messages", 422, headers=auth,
           json={"role": "user", "content": "hi", "metadata": {"k": ["\x00"]}})

    images = [("frames", "a.jpg", "image/jpeg", frame("JPEG", seed=1)),
              ("frames", "../b.png", "image/png", frame("PNG", seed=2))]
    body, headers = multipart({"capture_type": "face"}, images)
    batch = t.step("upload", "POST", f"{base}/captures", 201, content=body,
                   headers=auth | headers)
    body, headers = multipart({"capture_type": "face"},
                              [("frames", "x.jpg", "image/jpeg", b"#!/bin/sh\n" * 20)])
    t.step("upload a script", "POST", f"{base}/captures", 415, content=body,
           headers=auth | headers)
    body, headers = multipart({"capture_type": "face"},
                              [("frames", "big.png", "image/png", frame("PNG", (300, 300)))])
    t.step("frame over the cap", "POST", f"{base}/captures", 413, content=body,
           headers=auth | headers)
    body, headers = multipart({"capture_type": "face"}, images[:1] * 5)
    t.step("too many frames", "POST", f"{base}/captures", 413, content=body,
           headers=auth | headers)
    body, headers = multipart({"capture_type": "face"}, images)
    t.step("truncated upload", "POST", f"{base}/captures", 400, content=body[:300],
           headers=auth | headers)
    body, headers = multipart({"capture_type": "selfie"}, images)
    t.step("unknown capture type", "POST", f"{base}/captures", 422, content=body,
           headers=auth | headers)
    t.step("upload as json", "POST", f"{base}/captures", 415, headers=auth, json={})
    body, headers = multipart({"capture_type": "face"},
                              [("frames", "nul\x00.png", "image/png", frame("PNG", seed=3))])
    t.step("nul in a filename", "POST", f"/api/sessions/{other['session_id']}/captures", 201,
           content=body, headers=other_auth | headers)
    t.step("captures", "GET", f"{base}/captures", 200, headers=auth)
    first = batch["captures"][0]["capture_id"]
    t.step("download", "GET", f"{base}/captures/{first}", 200, headers=auth)
    t.step("download with another token", "GET", f"{base}/captures/{first}", 404,
           headers=other_auth)
    t.step("another session's frame", "GET",
           f"/api/sessions/{other['session_id']}/captures/{first}", 404, headers=other_auth)
    link = {"assessment_id": assessment["assessment_id"], "assessment_type": "phq9"}
    t.step("link", "POST", f"{base}/captures/link", 200, headers=auth, json=link)
    t.step("link again", "POST", f"{base}/captures/link", 200, headers=auth, json=link)
    t.step("link wrong type", "POST", f"{base}/captures/link", 422, headers=auth,
           json=link | {"assessment_type": "gad7"})
    t.step("captures after link", "GET", f"{base}/captures", 200, headers=auth)
    t.step("ready", "GET", "/readyz", 200)
    t.step("alive", "GET", "/healthz", 200)
    t.http.close()
    return t.entries
