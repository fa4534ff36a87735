"""Parsing the original file formats (CSV with huge cells, JSON lines) from bytes."""

from __future__ import annotations

import csv
import io
import json

csv.field_size_limit(1 << 30)


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def jsonl_rows(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def clean(text: str | None) -> str:
    """Original text with outer whitespace trimmed; inner text is kept as written."""
    return (text or "").strip()
