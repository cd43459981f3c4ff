"""/docs (Swagger UI) served from the swagger-ui-bundle package, not a CDN: on a clinic's
closed network a page that loads its scripts from another host is blank. quart-schema's
Redoc and Scalar pages have no such package, so they are not served."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from quart import Quart, Response
from quart_schema import hide

ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8"}
PREFIX = "/docs/assets/"


@cache
def _asset(name: str) -> bytes:
    import swagger_ui_bundle

    return (Path(swagger_ui_bundle.swagger_ui_path) / name).read_bytes()


def serve_docs_offline(app: Quart) -> None:
    """Point quart-schema's Swagger UI page at this app's own copy of its two files."""
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = PREFIX + "swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = PREFIX + "swagger-ui.css"

    @hide
    async def docs_asset(name: str) -> Response:
        if name not in ASSETS:
            return Response(status=404)
        # The files change only with the package's version: a day's caching is safe.
        return Response(_asset(name), 200, {"Content-Type": ASSETS[name],
                                            "Cache-Control": "public, max-age=86400"})

    app.add_url_rule(PREFIX + "<name>", "docs_asset", docs_asset, methods=["GET"])
