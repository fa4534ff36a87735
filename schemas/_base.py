"""Shared configuration of every message model: frozen, versioned, JSON-friendly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """Base of the messages evalstream writes: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_timedelta="float")


def to_utc_datetime(value: Any) -> Any:
    """Accept ISO-8601 strings or epoch numbers (ms when large, else s) as UTC datetimes.

    Naive datetimes are taken as UTC, so the same trace always lands in the same partition.
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be an ISO-8601 string or epoch milliseconds")
    if isinstance(value, int | float):
        try:
            seconds = value / 1000.0 if abs(value) >= 1e11 else float(value)
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError):  # pydantic reports only ValueError as a field error
            raise ValueError(f"timestamp {value!r} is out of range") from None
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return to_utc_datetime(float(text))
        return to_utc_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))
    if isinstance(value, datetime):
        # Offsets are converted, not kept: partitions and windows read the UTC wall clock.
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value
