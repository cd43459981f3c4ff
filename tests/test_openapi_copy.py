"""docs/openapi.json, the committed copy a frontend developer reads, is what the app serves;
and /docs loads nothing from another host."""

from __future__ import annotations

from pathlib import Path

from quart.typing import TestClientProtocol as Client

from assessment_async.cli import openapi_document

COPY = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_current() -> None:
    assert openapi_document() == COPY.read_text(), (
        "docs/openapi.json is stale: run `.venv/bin/assessment-async openapi --out "
        "docs/openapi.json` and commit it")


async def test_the_swagger_page_works_offline(client: Client) -> None:
    page = await (await client.get("/docs")).get_data(as_text=True)
    assert "https://" not in page and "http://" not in page
    for path in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        asset = await client.get(path)
        assert asset.status_code == 200 and len(await asset.get_data()) > 10_000
        assert path in page
    assert (await client.get("/docs/assets/index.html")).status_code == 404
    for cdn_only in ("/redocs", "/scalar"):
        assert (await client.get(cdn_only)).status_code == 404
