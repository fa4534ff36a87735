"""Messages between the worker and its evaluator processes: bytes over pipes, nothing else.

A message is a JSON header (orjson) followed by ``header["frames"]`` byte payloads (traces in,
results out); each piece is sent as a 4-byte big-endian length and the bytes. No pickle: a
pool process reads only JSON and the pydantic models of ``schemas``.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import orjson

_LENGTH = struct.Struct(">I")

Message = tuple[dict[str, Any], list[bytes]]


class PipeClosedError(EOFError):
    """The other end of the pipe is gone (the process exited or was killed)."""


def encode(header: dict[str, Any], frames: list[bytes] | tuple[bytes, ...] = ()) -> bytes:
    head = orjson.dumps({**header, "frames": len(frames)})
    parts = [_LENGTH.pack(len(head)), head]
    for frame in frames:
        parts += [_LENGTH.pack(len(frame)), frame]
    return b"".join(parts)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (blocking); ``PipeClosedError`` when the reader is gone."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise PipeClosedError(str(exc)) from None
        view = view[written:]


def read_message(fd: int) -> Message:
    """One whole message, blocking (the pool process's side)."""
    header = orjson.loads(_read_piece(fd))
    return header, [_read_piece(fd) for _ in range(header.get("frames", 0))]


def _read_piece(fd: int) -> bytes:
    (size,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size))
    return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise PipeClosedError("pipe closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


class MessageReader:
    """Non-blocking side (the worker's): feed it what ``os.read`` returned when ``select``
    said the pipe is readable, take the complete messages."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._header: dict[str, Any] | None = None  # of the message being read
        self._frames: list[bytes] = []

    def read_available(self) -> list[Message]:
        """Messages completed by one read; ``PipeClosedError`` at end of file."""
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise PipeClosedError("pipe closed")
        self._buffer += chunk
        messages: list[Message] = []
        while len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < _LENGTH.size + size:
                break
            piece = bytes(self._buffer[_LENGTH.size : _LENGTH.size + size])
            del self._buffer[: _LENGTH.size + size]
            if self._header is None:
                self._header, self._frames = orjson.loads(piece), []
            else:
                self._frames.append(piece)
            if len(self._frames) == self._header.get("frames", 0):
                messages.append((self._header, self._frames))
                self._header, self._frames = None, []
        return messages
