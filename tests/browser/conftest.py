"""The reference page in a real browser: Debian's Chromium (installed by bin/setup, as wrk
is) driven by Playwright, against `asgi` and `gevent-green` as real servers on loopback."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.ports import free_port

BROWSER_VARIANTS = ("asgi", "gevent-green")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# The fourth chat of a minute is refused, so the page's wait can be seen.
SERVER_ENV = {"CHAT_TURNS_PER_MINUTE": "3", "LOG_LEVEL": "ERROR"}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("Chromium is not installed: bin/setup installs Debian's chromium "
                           "as root (apt-get install chromium)")
    return found


@pytest.fixture(name="browser", scope="module")
def _browser(database_url: str, fake_llm_url: str) -> Iterator[Any]:
    # Playwright's sync API runs an event loop of its own in this thread: the fixtures that
    # use asyncio.run() (the database's migration) must be set up before it starts, and it
    # must stop with this module, before any async test of another module runs.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            # The fake camera (a test pattern) and no permission prompt; no sandbox as root.
            args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                  "--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(name="page_server", params=BROWSER_VARIANTS, scope="module")
def _page_server(request: pytest.FixtureRequest, database_url: str, fake_llm_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(variant, base URL, capture folder) of a server of that variant."""
    name = request.param
    folder = tmp_path_factory.mktemp(f"browser-{name}")
    captures = folder / "captures"
    env = SERVER_ENV | {"DATABASE_URL": database_url, "LLM_BASE_URL": fake_llm_url,
                        "CAPTURE_DIR": str(captures)}
    port = free_port()
    with open(folder / "server.log", "wb") as log:
        process = start(VARIANTS[name], port, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(process, port)
        yield name, f"http://127.0.0.1:{port}", captures
    finally:
        stop(process)
