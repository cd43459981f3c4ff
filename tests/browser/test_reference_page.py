"""A participant's whole assessment through the reference page in Chromium, found by roles
and names as a screen reader finds them; then what PostgreSQL and the capture folder hold.

Each step keeps a screenshot (test-artifacts/browser/<variant>/); a failure names its step.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

from assessment_core.instruments import GAD7, PHQ9
from tests.browser.conftest import ARTIFACTS

# PHQ-9: 2+2+1+1+2+1+1+0+1 = 11, moderate, item 9 above 0; GAD-7: 2+1+1+1+0+1+0 = 6, mild.
PHQ_ANSWERS = (2, 2, 1, 1, 2, 1, 1, 0, 1)
GAD_ANSWERS = (2, 1, 1, 1, 0, 1, 0)


class Walk:
    """Numbered steps, each with its screenshot; an error says which step it was."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.count = page, folder, 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        try:
            yield
        except Exception as error:
            self.page.screenshot(path=self.folder / f"{self.count:02d}-FAILED-{slug}.png",
                                 full_page=True)
            raise AssertionError(f"step {self.count} ({name}) failed: {error}") from error
        self.page.screenshot(path=self.folder / f"{self.count:02d}-{slug}.png", full_page=True)


def answer(page: Any, text: str, option: str) -> None:
    """Choose `option` in the question named `text`, and wait until it is saved."""
    from playwright.sync_api import expect

    group = page.get_by_role("radiogroup", name=text)
    group.get_by_role("radio", name=option, exact=True).check()
    expect(page.locator("#save-status")).to_have_text("Saved.")


def walk_instrument(page: Any, walk: Walk, instrument: Any, answers: tuple[int, ...],
                    difficulty: str | None = None) -> None:
    from playwright.sync_api import expect

    with walk.step(f"{instrument.key}: the first question"):
        expect(page.get_by_role("heading", name=instrument.title)).to_be_visible()
    for item, value in zip(instrument.items, answers, strict=False):
        with walk.step(f"{instrument.key} item {item.id}"):
            texts = [o.display for o in item.options]
            group = page.get_by_role("radiogroup", name=item.text)
            expect(group.get_by_role("radio")).to_have_count(len(texts))
            for text in texts:  # every option is named by the instrument's answer text
                expect(group.get_by_role("radio", name=text, exact=True)).to_be_visible()
            answer(page, item.text, item.options[value].display)
            if item.id != instrument.items[-1].id:
                page.get_by_role("button", name="Next").click()
    if difficulty is not None:
        with walk.step(f"{instrument.key}: the difficulty question"):
            answer(page, instrument.items[-1].text, difficulty)


def test_a_participant_walks_the_whole_assessment(browser: Any, page_server: Any,
                                                  database_url: str) -> None:
    from playwright.sync_api import expect

    variant, base, captures = page_server
    context = browser.new_context(base_url=base)
    page = context.new_page()
    walk = Walk(page, ARTIFACTS / variant)
    console_errors: list[str] = []  # a CSP violation or a script error lands here
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    try:
        with walk.step("the page opens"):
            page.goto("/")
            expect(page.get_by_role("heading", name="Your assessment")).to_be_visible()
        with walk.step("a session starts"):
            page.get_by_role("button", name="Start the assessment").click()
            expect(page.get_by_role("heading", name=PHQ9.title)).to_be_visible()

        with walk.step("the first answer is chosen by keyboard alone"):
            first = page.get_by_role("radiogroup", name=PHQ9.items[0].text)
            expect(first.get_by_role("radio").first).to_be_focused()
            page.keyboard.press("ArrowDown")  # "Several days", selected and saved
            page.keyboard.press("ArrowDown")  # "More than half the days"
            expect(first.get_by_role("radio", name="More than half the days")).to_be_checked()
            expect(page.locator("#save-status")).to_have_text("Saved.")
            page.keyboard.press("Tab")  # from the group to the first enabled button: Next
            expect(page.get_by_role("button", name="Next")).to_be_focused()
            page.keyboard.press("Enter")
        with walk.step("the camera is allowed"):
            page.get_by_role("button", name="Allow the camera").click()
            expect(page.locator("#camera-status")).to_have_text("The camera is on.")

        with walk.step("a failed save keeps the choice and is retried"):
            item = PHQ9.items[1]
            page.route("**/responses/2", lambda route: route.abort())
            group = page.get_by_role("radiogroup", name=item.text)
            group.get_by_role("radio", name="More than half the days").check()
            expect(page.locator("#save-status")).to_contain_text("not saved")
            expect(page.get_by_role("button", name="Next")).to_be_disabled()
            page.unroute("**/responses/2")
            page.get_by_role("button", name="Retry saving").click()
            expect(page.locator("#save-status")).to_have_text("Saved.")
            expect(group.get_by_role("radio", name="More than half the days")).to_be_checked()
            page.get_by_role("button", name="Next").click()

        for item, value in zip(PHQ9.items[2:9], PHQ_ANSWERS[2:], strict=True):
            with walk.step(f"phq9 item {item.id}"):
                answer(page, item.text, item.options[value].display)
                page.get_by_role("button", name="Next").click()
        with walk.step("phq9: the difficulty question"):
            answer(page, PHQ9.items[9].text, "Somewhat difficult")
        with walk.step("frames are sent before the submit"):
            expect(page.get_by_role("img", name=re.compile("Your picture"))).not_to_have_count(
                0, timeout=15_000)
        with walk.step("phq9 submitted: the alert cannot be missed"):
            page.get_by_role("button", name="Submit answers").click()
            alert = page.get_by_role("alert")
            expect(alert).to_be_visible()
            expect(alert).to_contain_text("care team will talk with you")
            expect(alert.get_by_role("button")).to_have_count(0)  # nothing to dismiss it with

        walk_instrument(page, walk, GAD7, GAD_ANSWERS)
        with walk.step("gad7 submitted: the results"):
            page.get_by_role("button", name="Submit answers").click()
            results = page.get_by_role("list")
            expect(results).to_contain_text(f"{PHQ9.title}: 11 of 27, moderate.")
            expect(results).to_contain_text(f"{GAD7.title}: 6 of 21, mild.")
            expect(page.get_by_role("alert")).to_be_visible()  # still there
            expect(page.locator("#camera-status")).to_contain_text("The camera is off")

        with walk.step("the chat streams a reply"):
            page.get_by_role("button", name="Continue").click()
            page.get_by_role("textbox", name="Message").fill("hello")
            page.get_by_role("button", name="Send").click()
            log = page.get_by_role("log")
            expect(log.locator("p.assistant")).to_have_count(1)
            expect(page.get_by_role("button", name="Send")).to_be_enabled()
            assert len(log.locator("p.assistant").inner_text().split()) >= 10
        with walk.step("stop ends a reply midway"):
            page.get_by_role("textbox", name="Message").fill(
                "tell me more {{fake-llm: tokens=400,gap=0.02}}")
            page.get_by_role("button", name="Send").click()
            expect(log.locator("p.assistant").nth(1)).to_contain_text(" ")
            page.get_by_role("button", name="Stop").click()
            expect(page.locator("#chat-status")).to_contain_text("Stopped.")
        with walk.step("a busy assistant is waited out, and the message sent again"):
            refusals: list[str] = []

            def busy_once(route: Any) -> None:
                if refusals:
                    route.fallback()
                    return
                refusals.append(route.request.url)
                route.fulfill(status=503, headers={"Retry-After": "1"},
                              content_type="application/json", body=json.dumps({"error": {
                                  "code": "LLM_BUSY", "message": "busy", "details": []}}))

            page.route("**/chat", busy_once)
            page.get_by_role("textbox", name="Message").fill("one more")
            page.get_by_role("button", name="Send").click()
            expect(page.locator("#chat-status")).to_contain_text(
                "busy with other conversations. Sending again in 1 second")
            expect(log.locator("p.assistant")).to_have_count(3)
            expect(page.get_by_role("button", name="Send")).to_be_enabled()
            expect(page.locator("#chat-status")).to_have_text("")
            page.unroute("**/chat")
            assert len(refusals) == 1
        with walk.step("a refusal is shown as a wait, and Stop ends the wait"):
            page.get_by_role("textbox", name="Message").fill("and another")
            page.get_by_role("button", name="Send").click()
            expect(page.locator("#chat-status")).to_contain_text(
                re.compile(r"sending messages quickly\. Sending again in \d+ seconds?"))
            page.get_by_role("button", name="Stop").click()
            expect(page.locator("#chat-status")).to_have_text(
                "Stopped. Your message was not sent.")
            expect(log.locator("p.assistant")).to_have_count(3)
        session_id = page.evaluate("page.sid")
    finally:
        context.close()
    # What the walk provoked on purpose: the aborted save, the 503 and the 429; nothing else.
    unexpected = [e for e in console_errors
                  if "ERR_FAILED" not in e and "429" not in e and "503" not in e]
    assert unexpected == [], unexpected

    check_what_was_stored(database_url, session_id, captures)


def check_what_was_stored(database_url: str, session_id: str, captures: Path) -> None:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT instrument, total_score, severity, flagged FROM assessments "
                        "WHERE session_id = %s ORDER BY instrument", (session_id,))
            assert cur.fetchall() == [("gad7", 6, "mild", False),
                                      ("phq9", 11, "moderate", True)]
            cur.execute("SELECT instrument, count(*) FROM responses WHERE session_id = %s "
                        "GROUP BY instrument ORDER BY instrument", (session_id,))
            assert cur.fetchall() == [("gad7", 7), ("phq9", 10)]
            cur.execute("SELECT status FROM chat_turns WHERE session_id = %s "
                        "ORDER BY turn_number", (session_id,))
            statuses = [row[0] for row in cur.fetchall()]
            # The second was stopped midway: what it said is kept, as partial.
            assert statuses == ["complete", "partial", "complete"], statuses
            cur.execute("SELECT storage_key, sha256, assessment_type FROM captures "
                        "WHERE session_id = %s", (session_id,))
            frames = cur.fetchall()
    finally:
        conn.close()
    assert frames, "no frame was stored"
    assert any(kind == "phq9" for _, _, kind in frames), "no frame was linked at submit"
    for key, sha256, _ in frames:
        stored = (captures / key).read_bytes()
        assert stored[:3] == b"\xff\xd8\xff"  # a JPEG, as the page sent it
        assert hashlib.sha256(stored).hexdigest() == sha256
