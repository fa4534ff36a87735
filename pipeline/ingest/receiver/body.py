"""Reading a request body under a hard size limit, gzip included.

The receiver turns aiohttp's own decompression off (``auto_decompress=False``) and inflates
here, because aiohttp's refuses ``br`` (and, without Brotli installed, ``zstd``) in its parser
with a plain-text 400 before any handler runs, and a broken gzip stream fails inside its
payload parser (a logged traceback, the keep-alive connection reset). Here every encoding
problem is an OTLP answer: 415 with a Status body for an encoding we do not speak, 400 for a
broken stream.

The limit holds twice: on the declared Content-Length (checked by the caller before a byte is
read), and on the inflated bytes while inflating (a small gzip body that would expand into
gigabytes stops at the limit).
"""

from __future__ import annotations

import zlib

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from pipeline.ingest.receiver.refusal import Reason, Refused

_CHUNK = 64 * 1024
_IDENTITY = frozenset({"", "identity"})
_ZLIB = frozenset({"gzip", "x-gzip", "deflate"})
_GZIP_OR_ZLIB_HEADER = 32 + zlib.MAX_WBITS  # zlib detects either header itself


def _too_large(limit: int) -> Refused:
    return Refused(Reason.TOO_LARGE, f"body larger than {limit} bytes")


def _inflater(encoding: str) -> zlib._Decompress | None:
    if encoding in _IDENTITY:
        return None
    if encoding in _ZLIB:
        return zlib.decompressobj(_GZIP_OR_ZLIB_HEADER)
    raise Refused(
        Reason.UNSUPPORTED, f"unsupported Content-Encoding {encoding!r}; use gzip or identity"
    )


async def read_body(request: web.Request, limit: int) -> bytes:
    """The decompressed body; 413 past ``limit``, 415 for an unknown Content-Encoding."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    inflater = _inflater(encoding)
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.read(_CHUNK):
            if inflater is not None:
                # at most one byte past the budget: more output or input left over = too large
                chunk = inflater.decompress(chunk, limit - size + 1)
                if inflater.unconsumed_tail:
                    raise _too_large(limit)
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except zlib.error as exc:
        raise Refused(Reason.INVALID, f"malformed {encoding} body: {exc}") from None
    except RequestPayloadError as exc:
        raise Refused(Reason.INVALID, f"incomplete body: {exc}") from None
    except ConnectionResetError:  # the client went away mid-body: aiohttp logged a traceback
        raise Refused(Reason.INVALID, "the client closed the connection mid-body") from None
    if inflater is not None and not inflater.eof:
        raise Refused(Reason.INVALID, f"truncated {encoding} body")
    return b"".join(chunks)
