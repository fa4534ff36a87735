"""Reading a request body under a hard size limit, gzip included.

The limit holds twice: on the declared Content-Length (checked by the caller before a byte is
read), and while streaming the inflated body (a missing or lying Content-Length, or a small
gzip body that would expand into gigabytes in memory).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from pipeline.ingest.receiver.refusal import Reason, Refused

_CHUNK = 64 * 1024
_ENCODINGS = frozenset({"", "identity", "gzip", "deflate"})


def _too_large(limit: int) -> Refused:
    return Refused(Reason.TOO_LARGE, f"body larger than {limit} bytes")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The decompressed body; 413 past ``limit``, 415 for an unknown Content-Encoding.

    aiohttp inflates gzip/deflate bodies itself while streaming, so counting the bytes read
    bounds the inflated size too (a small zip bomb stops at ``limit``).
    """
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in _ENCODINGS:
        raise Refused(Reason.UNSUPPORTED, f"unsupported Content-Encoding {encoding!r}; use gzip")
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except (HttpProcessingError, RequestPayloadError) as exc:  # e.g. a broken gzip stream
        raise Refused(Reason.INVALID, f"malformed {encoding} body: {exc}") from None
    return b"".join(chunks)
