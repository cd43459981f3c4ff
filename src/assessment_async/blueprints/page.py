"""The reference assessment page at `/` (assessment_core/web): static files, no build step."""

from __future__ import annotations

from quart import Blueprint, Response, ResponseReturnValue, request
from quart_schema import hide

from assessment_core.web import ASSETS, asset

bp = Blueprint("page", __name__)


async def _serve() -> ResponseReturnValue:  # async: Quart runs a sync view in a thread
    found = asset(request.path)
    if found is None:  # only the paths in ASSETS are routed here
        return Response(status=404)
    body, headers = found
    return Response(body, 200, headers)


for _path, (_file, _) in ASSETS.items():
    bp.add_url_rule(_path, _file.replace(".", "_"), hide(_serve), methods=["GET"])
