"""Read trace files for ``evalstream publish``: JSONL, a JSON array, or one JSON object.

Files exported by other tools (MLflow, Langfuse, OTLP/JSON) are converted to our trace JSON
when ``pipeline.ingest`` recognises them. Errors name the file and line, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeline.exceptions import InputFileError


@dataclass(frozen=True)
class TraceRecord:
    key: bytes | None
    value: bytes


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, expected a .jsonl or .json file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror}") from None


def _documents(path: str, data: bytes) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) pairs: a whole-file document, else one per line."""
    stripped = data.strip()
    if not stripped:
        raise InputFileError(f"{path}: file is empty")
    if stripped[:1] in (b"[", b"{"):
        try:
            whole = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            whole = None  # JSONL whose lines are objects: parse line by line below
        if isinstance(whole, list):
            yield from ((1, item) for item in whole)
            return
        if isinstance(whole, dict):
            yield 1, whole
            return
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputFileError(f"{path}:{number}: invalid JSON: {exc}") from None


def _to_traces(path: str, number: int, document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise InputFileError(
            f"{path}:{number}: expected a JSON object per trace, got {type(document).__name__}"
        )
    if "trace_id" in document:
        return [document]
    try:
        from pipeline.ingest.exports import to_traces
    except ImportError:  # pragma: no cover - the ingest package ships with evalstream
        to_traces = None
    if to_traces is not None:
        from pipeline.exceptions import PipelineError

        try:
            return to_traces(document)
        except PipelineError as exc:
            raise InputFileError(f"{path}:{number}: {exc}") from None
    raise InputFileError(f"{path}:{number}: object has no trace_id")


def read_trace_files(paths: list[str]) -> list[TraceRecord]:
    """Every trace of every file, validated as JSON up front so a bad file publishes nothing."""
    records: list[TraceRecord] = []
    for path in paths:
        for number, document in _documents(path, _read_bytes(path)):
            for trace in _to_traces(path, number, document):
                trace_id = trace.get("trace_id")
                if not isinstance(trace_id, str) or not trace_id:
                    raise InputFileError(f"{path}:{number}: trace_id must be a non-empty string")
                records.append(TraceRecord(trace_id.encode(), orjson.dumps(trace)))
    return records
