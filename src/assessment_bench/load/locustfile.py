"""assessment-flow: virtual participants doing the whole assessment with think times.

Run by the bench as its own process (`locust -f ... --headless`); never imported by the
runner, because Locust patches the process with gevent. Each user: start a session, answer
the nine PHQ-9 items and the difficulty item one by one, submit, chat twice, upload two
frames, link them, then start over as a new participant. A finished flow is reported as the
request "flow", so its rate and duration appear in Locust's statistics.
"""

from __future__ import annotations

import io
import random
import time

from locust import FastHttpUser, between, task
from PIL import Image


def small_jpeg(seed: int) -> bytes:
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", (320, 240), rng.randbytes(320 * 240 * 3)).save(out, format="JPEG")
    return out.getvalue()


FRAMES = [small_jpeg(i) for i in range(2)]
BOUNDARY = "flowboundary"


def multipart() -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="capture_type"\r\n\r\n'
             "face\r\n".encode()]
    for i, data in enumerate(FRAMES):
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="frames"; '
                     f'filename="{i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


UPLOAD = multipart()


class Participant(FastHttpUser):
    wait_time = between(0.1, 0.3)

    @task
    def assessment(self) -> None:
        started = time.perf_counter()
        with self.client.post("/api/sessions", json={}, name="session",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"status {response.status_code}")
                return
            session = response.json()
        auth = {"Authorization": f"Bearer {session['token']}"}
        base = f"/api/sessions/{session['session_id']}"
        for item in range(1, 11):
            self.client.put(f"{base}/phq/responses/{item}", json={"answer": item % 4},
                            headers=auth, name="phq save")
            time.sleep(random.uniform(0.1, 0.3))  # reading the next question
        with self.client.post(f"{base}/phq/submit", json={"responses": []}, headers=auth,
                              name="phq submit", catch_response=True) as response:
            assessment = response.json() if response.status_code == 201 else None
        for message in ("I have not slept well", "Work has been hard"):
            with self.client.post(f"{base}/chat", json={"message": message}, headers=auth,
                                  name="chat", catch_response=True) as response:
                if response.status_code != 200 or b"event: done" not in response.content:
                    response.failure("no done event")
            time.sleep(random.uniform(0.2, 0.5))  # reading the answer
        self.client.post(f"{base}/captures", data=UPLOAD, name="upload",  # type: ignore[arg-type]
                         headers=auth | {"Content-Type":
                                         f"multipart/form-data; boundary={BOUNDARY}"})
        if assessment is not None:
            self.client.post(f"{base}/captures/link", headers=auth, name="link",
                             json={"assessment_id": assessment["assessment_id"],
                                   "assessment_type": "phq9"})
        self.environment.events.request.fire(
            request_type="FLOW", name="flow", response_time=1000 * (time.perf_counter() - started),
            response_length=0, exception=None, context={})
