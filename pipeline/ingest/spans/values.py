"""Small value helpers shared by the decoders: ids, timestamps, JSON-in-strings."""

from __future__ import annotations

import base64
import binascii
import string
from datetime import UTC, datetime
from typing import Any

import orjson

_HEX = frozenset(string.hexdigits)
_JSON_STARTS = ("{", "[", '"')


def normalize_id(value: Any) -> str | None:
    """Return a span/trace id as lower-case hex.

    OTLP/JSON sends hex, the generic protobuf JSON mapping sends base64, the Python SDK
    prefixes ``0x``: the same span must get the same id whichever way it arrived. Ids that
    are none of these (``tr-...``, UUIDs) are kept as they are.
    """
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return format(value, "032x" if value >= 1 << 64 else "016x")
    text = str(value).strip()
    bare = text[2:] if text[:2].lower() == "0x" else text
    if len(bare) in (16, 32) and set(bare) <= _HEX:
        return bare.lower()
    if len(text) in (12, 24):
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) in (8, 16):
            return raw.hex()
    return text


def ns_to_iso(ns: int | None) -> str | None:
    """Epoch nanoseconds as an ISO-8601 UTC string (microsecond precision)."""
    if ns is None:
        return None
    seconds, rest = divmod(int(ns), 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)
    return moment.isoformat()


def to_ns(value: Any) -> int | None:
    """Accept epoch ns (int or digit string), ``[seconds, nanos]`` pairs or ISO-8601 strings."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) or None
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]) * 1_000_000_000 + int(value[1])
    text = str(value).strip()
    if text.isdigit():
        return int(text) or None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1000


def maybe_json(value: Any, depth: int = 3) -> Any:
    """Decode a string that holds JSON (objects, arrays, or a quoted string), else keep it.

    Exports often double-encode (a JSON string whose content is JSON again), hence ``depth``.
    """
    while depth > 0 and isinstance(value, str) and value.lstrip().startswith(_JSON_STARTS):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        depth -= 1
    return value


def loads_or_raw(value: Any) -> Any:
    """``json.loads`` for attribute values that are JSON-encoded (MLflow), else the raw value."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def to_int(value: Any) -> int | None:
    """Token counts arrive as ints, floats or digit strings depending on the exporter."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def json_size(value: Any) -> int:
    """Serialized size in bytes, used to keep span attributes modest."""
    if isinstance(value, str):
        return len(value.encode())
    try:
        return len(orjson.dumps(value, default=str))
    except TypeError:
        return len(str(value))
