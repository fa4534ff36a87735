"""Reading a request body under a hard size limit, gzip included.

The limit holds three times: on the declared Content-Length (checked by the caller before a
byte is read), while streaming the body (a missing or lying Content-Length), and while
inflating it (a small gzip body that would expand into gigabytes in memory).

We inflate ourselves (the app runs with aiohttp's ``auto_decompress`` off): when aiohttp's
parser failed to inflate a body it dropped the connection without an answer, so a client
sending a broken gzip body got no status at all (found by the fuzz test, issue 16.15).
"""

from __future__ import annotations

import zlib

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

_CHUNK = 64 * 1024
_INVALID = 3
_ENCODINGS = frozenset({"", "identity", "gzip", "deflate"})
_WBITS = {"gzip": (16 + zlib.MAX_WBITS,), "deflate": (zlib.MAX_WBITS, -zlib.MAX_WBITS)}


class HttpReject(Exception):
    """An HTTP error answer: status, gRPC status code and message for the Status body."""

    def __init__(
        self, status: int, grpc_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.grpc_code = grpc_code
        self.message = message
        self.headers = headers or {}


def _too_large(limit: int) -> HttpReject:
    return HttpReject(413, _INVALID, f"body larger than {limit} bytes")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The decompressed body; 413 past ``limit``, 415 for an unknown Content-Encoding, 400
    for a body that does not inflate."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in _ENCODINGS:
        raise HttpReject(415, _INVALID, f"unsupported Content-Encoding {encoding!r}; use gzip")
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except (HttpProcessingError, RequestPayloadError) as exc:
        raise HttpReject(400, _INVALID, f"malformed request body: {exc}") from None
    body = b"".join(chunks)
    if encoding not in _WBITS:
        return body
    return _inflate(body, encoding, limit)


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Inflate at most ``limit + 1`` bytes: enough to know the body is too large."""
    error = None
    for wbits in _WBITS[encoding]:  # HTTP 'deflate' is zlib-wrapped, some clients send raw
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            error = exc
            continue
        if len(data) > limit:
            raise _too_large(limit)
        if not inflater.eof:
            raise HttpReject(400, _INVALID, f"malformed {encoding} body: truncated stream")
        return data
    raise HttpReject(400, _INVALID, f"malformed {encoding} body: {error}")
