"""Real JPEG and PNG frames (Pillow) and a multipart encoder that can also break its output."""

from __future__ import annotations

import io
import random

from PIL import Image

BOUNDARY = "frameboundary7d93"


def frame(kind: str = "JPEG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A real image: noise, so it does not compress to nothing."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format=kind)
    return out.getvalue()


def multipart(
    fields: dict[str, str], files: list[tuple[str, str, str, bytes]], *, close: bool = True,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers); files are (field, filename, content type, bytes)."""
    out = bytearray()
    for name, value in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    for name, filename, content_type, data in files:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
        out += data + b"\r\n"
    if close:
        out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out), {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
