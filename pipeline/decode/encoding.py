"""Why bytes are not UTF-8 JSON, in words a sender can act on (issue 16, item 11).

orjson reports most undecodable input as "str is not valid UTF-8: surrogates not allowed",
whatever the cause. The usual causes have signatures: compressed payloads start with a magic
number, UTF-16 text with a byte-order mark; anything else is named by its first bad byte.
"""

from __future__ import annotations

UNCOMPRESSED = "send it uncompressed (Kafka's own compression is transparent)"
TO_UTF8 = "encode it as UTF-8"
MAGIC_NUMBERS = (
    (b"\x1f\x8b", "gzip-compressed data", UNCOMPRESSED),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data", UNCOMPRESSED),
    (b"\x04\x22\x4d\x18", "lz4-compressed data", UNCOMPRESSED),
    (b"BZh", "bzip2-compressed data", UNCOMPRESSED),
    (b"\xff\xfe", "UTF-16 (little-endian) text with a byte-order mark", TO_UTF8),
    (b"\xfe\xff", "UTF-16 (big-endian) text with a byte-order mark", TO_UTF8),
)


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def describe_undecodable(raw: bytes) -> str:
    """The likely cause of a UTF-8 failure, e.g. 'gzip-compressed data (starts 1f 8b)'."""
    for magic, what, hint in MAGIC_NUMBERS:
        if raw.startswith(magic):
            return f"{what} (starts {_hex(magic)}): messages must be UTF-8 JSON, {hint}"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.end]
        return f"invalid UTF-8: byte {_hex(bad[:1])} at offset {exc.start} ({exc.reason})"
    return "not valid UTF-8"
