"""Invalid UTF-8 is dead-lettered with its likely cause, not orjson's 'surrogates not
allowed' for every case (issue 16, item 11)."""

from __future__ import annotations

import gzip

import orjson
import pytest

from pipeline.decode.trace import DecodeError, decode_trace

TRACE = orjson.dumps({"trace_id": "t-1", "outputs": "héllo"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (gzip.compress(TRACE, mtime=0), "gzip-compressed data (starts 1f 8b)"),
        (TRACE.decode().encode("utf-16"), "UTF-16 (little-endian) text with a byte-order mark"),
        (TRACE.decode().encode("utf-16-be").join([b"\xfe\xff", b""]), "UTF-16 (big-endian)"),
        (TRACE[:20] + b"\xff" + TRACE[20:], "invalid UTF-8: byte ff at offset 20"),
        (b'{"trace_id": "\xed\xa0\x80"}', "invalid UTF-8: byte ed at offset 14"),
        (TRACE.decode().encode("latin-1"), "invalid UTF-8: byte e9 at offset"),
    ],
    ids=["gzip", "utf16-le-bom", "utf16-be-bom", "stray-ff", "surrogate", "latin-1"],
)
def test_utf8_failures_name_their_cause(raw, expected):
    with pytest.raises(DecodeError) as caught:
        decode_trace(raw)
    assert caught.value.error_type == "invalid_utf8"
    assert expected in caught.value.reason
    assert "surrogates not allowed" not in caught.value.reason
