"""GET /metrics: Prometheus text exposition (no session data in it, so no token needed)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import hide

from assessment_async.infra.metrics import exposition

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@hide
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, content_type=content_type)
