"""The reference assessment page at `/` (assessment_core/web), as the ASGI app serves it."""

from __future__ import annotations

from flask import Blueprint, Response, request

from assessment_core.web import ASSETS, asset

bp = Blueprint("page", __name__)


def _serve() -> Response:
    found = asset(request.path)
    if found is None:
        return Response(status=404)
    body, headers = found
    return Response(body, 200, headers)


for _path, (_file, _) in ASSETS.items():
    bp.add_url_rule(_path, _file.replace(".", "_"), _serve, methods=["GET"])
