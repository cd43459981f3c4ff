"""HTTP/1.1 by hand, for abuse no HTTP client would send: a body trickled byte by byte, chunked
without a length, or far over the caps, and the answer's status the moment it arrives (while
the body may still be going out)."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PIECE = 1024 * 1024


@dataclass
class Answer:
    status: int  # 0: no answer (the wait ran out, or the server closed the connection first)
    seconds: float  # from the first byte sent to the status line, or to giving up
    error: str = ""


def request_head(method: str, path: str, port: int, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def steady(pieces: Iterable[bytes | memoryview]) -> AsyncIterator[bytes | memoryview]:
    """The pieces as fast as the server takes them."""
    for piece in pieces:
        yield piece


async def trickle(data: bytes, interval: float) -> AsyncIterator[bytes]:
    """One byte every `interval` seconds: a slowloris body."""
    for index in range(len(data)):
        yield data[index:index + 1]
        await asyncio.sleep(interval)


def chunked(pieces: Iterable[bytes | memoryview]) -> Iterable[bytes | memoryview]:
    """The pieces framed as Transfer-Encoding: chunked (no Content-Length)."""
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode()
        yield piece
        yield b"\r\n"
    yield b"0\r\n\r\n"


def slices(data: bytes, size: int = PIECE) -> list[memoryview]:
    view = memoryview(data)
    return [view[start:start + size] for start in range(0, len(data), size)]


def multipart(boundary: str, fields: dict[str, str],
              frames: Iterable[bytes]) -> list[bytes | memoryview]:
    """A frames upload as pieces (frames are sliced, not copied); join or stream them."""
    pieces: list[bytes | memoryview] = []
    for name, value in fields.items():
        pieces.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                      f"{value}\r\n".encode())
    for number, frame in enumerate(frames):
        pieces.append(f'--{boundary}\r\nContent-Disposition: form-data; name="frames"; '
                      f'filename="f{number}.png"\r\nContent-Type: image/png\r\n\r\n'.encode())
        pieces.extend(slices(frame))
        pieces.append(b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode())
    return pieces


async def exchange(port: int, head: bytes, body: AsyncIterator[bytes | memoryview],
                   timeout: float) -> Answer:
    """Send the head, then the body as it comes, while waiting for the status line.

    Sending and receiving are separate, so a server that answers and closes before the body
    is all sent (413 on the Content-Length alone) is still heard.
    """
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)

    async def send() -> None:
        await loop.sock_sendall(sock, head)
        async for piece in body:
            await loop.sock_sendall(sock, piece)

    async def status_line() -> bytes:
        received = b""
        while b"\r\n" not in received:
            data = await loop.sock_recv(sock, 4096)
            if not data:
                break
            received += data
        return received.split(b"\r\n", 1)[0]

    sender: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, ("127.0.0.1", port))
            sender = asyncio.create_task(send())
            line = await status_line()
        seconds = time.monotonic() - started
        if not line:
            error = sender.exception() if sender.done() else None
            return Answer(0, seconds, f"closed without an answer ({error!r})")
        return Answer(int(line.split()[1]), seconds)
    except TimeoutError:
        return Answer(0, time.monotonic() - started, f"no answer within {timeout:g} s")
    except (OSError, ValueError, IndexError) as error:
        return Answer(0, time.monotonic() - started, repr(error))
    finally:
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        # SO_LINGER 0: reset, do not flush what the server may never read.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
