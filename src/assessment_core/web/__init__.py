"""The reference assessment page (index.html, page.js, page.css), served by both apps at `/`
with the headers a health app sends: nothing from another host may load, nothing sniffed,
no referrer, and nothing that carries a participant's data cached."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

# The page's own files, by URL path: (file, content type).
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/web/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/web/page.css": ("page.css", "text/css; charset=utf-8"),
    "/web/icon.svg": ("icon.svg", "image/svg+xml"),
}

# Only this origin: scripts, styles, fetches; images and video from the page's own blobs
# (frames fetched with the token, the camera's stream); no frames around it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; media-src 'self' blob: mediastream:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # the page holds no data; revalidated so an update shows
}
# A page on another origin (CORS_ORIGINS) may send a request id and read the alert, the wait
# and the request id back.
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
CORS_EXPOSE_HEADERS = ("X-Clinical-Alert", "Retry-After", "X-Request-ID")
# Every answer under /api/sessions carries a participant's data.
PRIVATE_PREFIX = "/api/sessions"
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                   "X-Content-Type-Options": "nosniff"}


@cache
def asset(path: str) -> tuple[bytes, dict[str, str]] | None:
    """The file served at `path` with its headers, or None."""
    found = ASSETS.get(path)
    if found is None:
        return None
    name, content_type = found
    body = (files(__package__) / name).read_bytes()
    return body, {"Content-Type": content_type, **PAGE_HEADERS}
