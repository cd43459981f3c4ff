"""HTTP/1.1 by hand, for abuse no HTTP client would send: a body trickled byte by byte, chunked
without a length, or far over the caps, and the answer's status the moment it arrives (while
the body may still be going out), then its body."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PIECE = 1024 * 1024
BODY_WAIT = 1.0  # seconds to read an answer's body once its status line came


@dataclass
class Answer:
    status: int  # 0: no answer (the wait ran out, or the server closed the connection first)
    seconds: float  # from the first byte sent to the status line, or to giving up
    error: str = ""
    body: bytes = b""  # the answer's body, as far as it came within the wait

    def error_code(self) -> str | None:
        """The contract's error code, when the body has the contract's error shape."""
        try:
            error = json.loads(self.body)["error"]
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            return None
        code = error.get("code")
        return code if isinstance(code, str) else None


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
                   answer_within: float) -> Answer:
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

    async def receive_until(received: bytes, done: Callable[[bytes], bool]) -> bytes:
        while not done(received):
            data = await loop.sock_recv(sock, 65536)
            if not data:
                break
            received += data
        return received

    async def status_line() -> bytes:
        return await receive_until(b"", lambda got: b"\r\n" in got)

    async def answer_body(received: bytes) -> bytes:
        """The rest of the answer, read for at most BODY_WAIT seconds more."""
        with suppress(TimeoutError, OSError):
            async with asyncio.timeout(BODY_WAIT):
                received = await receive_until(received, lambda got: b"\r\n\r\n" in got)
                head, _, body = received.partition(b"\r\n\r\n")
                length = next((int(value) for name, _, value in
                               (h.partition(b":") for h in head.split(b"\r\n")[1:])
                               if name.strip().lower() == b"content-length"), None)
                if length is not None:
                    received = await receive_until(
                        received, lambda got: len(got.partition(b"\r\n\r\n")[2]) >= length)
        return received.partition(b"\r\n\r\n")[2]

    sender: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(answer_within):
            await loop.sock_connect(sock, ("127.0.0.1", port))
            sender = asyncio.create_task(send())
            received = await status_line()
        seconds = time.monotonic() - started
        line = received.split(b"\r\n", 1)[0]
        if not line:
            error = sender.exception() if sender.done() else None
            return Answer(0, seconds, f"closed without an answer ({error!r})")
        return Answer(int(line.split()[1]), seconds, body=await answer_body(received))
    except TimeoutError:
        return Answer(0, time.monotonic() - started, f"no answer within {answer_within:g} s")
    except (OSError, ValueError, IndexError) as error:
        return Answer(0, time.monotonic() - started, repr(error))
    finally:
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        # SO_LINGER 0: reset, do not flush what the server may never read.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
