"""Read trace files for ``evalstream publish``.

Accepted: our trace JSON (JSONL, a JSON array or one object), MLflow trace exports, Langfuse
exports, OTLP/JSON and OTLP protobuf (``.pb``) files; the foreign formats are converted by
``pipeline.ingest``. Errors name the file and line, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeline.exceptions import InputFileError
from pipeline.ingest import IngestError, to_traces


@dataclass(frozen=True)
class TraceRecord:
    key: bytes | None
    value: bytes


def read_input_file(path: str) -> bytes:
    """The bytes of a file the user named ('-' = stdin), or a one-line ``InputFileError``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, expected a .jsonl or .json file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _documents(path: str, data: bytes) -> Iterator[tuple[str, Any]]:
    """(location, parsed JSON) pairs: the whole file when it is one document, else each line."""
    stripped = data.strip()
    if not stripped:
        raise InputFileError(f"{path}: file is empty")
    try:
        yield path, orjson.loads(stripped)
        return
    except orjson.JSONDecodeError as exc:
        if b"\n" not in stripped:
            raise InputFileError(f"{path}: invalid JSON: {exc}") from None
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputFileError(f"{path}:{number}: invalid JSON: {exc}") from None


def _convert(where: str, document: Any, app: str | None) -> list[dict[str, Any]]:
    try:
        return to_traces(document, app=app)
    except IngestError as exc:
        if isinstance(document, list):  # point at the first item that is not a trace
            for index, item in enumerate(document):
                if not isinstance(item, dict) or "trace_id" not in item:
                    raise InputFileError(f"{where}: item {index}: {exc}") from None
        raise InputFileError(f"{where}: {exc}") from None


def _protobuf_traces(path: str, app: str | None) -> list[dict[str, Any]]:
    from pipeline.ingest import decode_otlp_proto, spans_to_trace
    from pipeline.ingest.spans.dicts import group_by_trace

    try:
        spans = decode_otlp_proto(read_input_file(path))
    except IngestError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    traces = [spans_to_trace(group) for group in group_by_trace(spans)]
    if app:
        for trace in traces:
            trace.setdefault("tags", {}).setdefault("app", app)
    return traces


def read_trace_files(paths: list[str], app: str | None = None) -> list[TraceRecord]:
    """Every trace of every file, checked up front so a bad file publishes nothing."""
    records: list[TraceRecord] = []
    for path in paths:
        if path.endswith(".pb"):
            found = [(path, t) for t in _protobuf_traces(path, app)]
        else:
            found = [
                (where, trace)
                for where, document in _documents(path, read_input_file(path))
                for trace in _convert(where, document, app)
            ]
        for where, trace in found:
            trace_id = trace.get("trace_id")
            if not isinstance(trace_id, str) or not trace_id:
                raise InputFileError(f"{where}: trace_id must be a non-empty string")
            records.append(TraceRecord(trace_id.encode(), orjson.dumps(trace)))
    return records
