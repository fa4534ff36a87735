"""The JSON API behind the pages (documented in docs/ui.md; field names are a contract).

``GET /api/traces`` takes the trace list's filters; ``GET /api/traces/{trace_id}`` answers the
stored trace with ``inputs``, ``outputs``, ``context``, ``results`` and ``spans``;
``GET /api/sessions/{session_id}`` a session's scored versions (``closings``) and its ``turns``,
each with its ``results``. Times are
ISO-8601 UTC strings ending in ``Z``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from pipeline.tools.ui import stats
from pipeline.tools.ui.filters import QueryParams, TimeRange, TraceQuery
from pipeline.tools.ui.session_detail import load_session
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.trace_detail import dump_json, load_trace
from pipeline.tools.ui.trace_list import list_traces


class DetailQuery(QueryParams):
    version: int | None = Field(None, ge=1)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dump_json(content)


def _store(request: Request) -> Store:
    return request.app.state.store


def traces(request: Request) -> JSONResponse:
    query = TraceQuery.parse(request.query_params.multi_items())
    page = list_traces(_store(request), query)
    return JSONResponse(
        {
            "traces": page.traces,
            "total": page.total,
            "limit": query.limit,
            "offset": query.offset,
            "content_stored": page.content_stored,
        }
    )


def trace(request: Request) -> JSONResponse:
    query = DetailQuery.parse(request.query_params.multi_items())
    return JSONResponse(load_trace(_store(request), request.path_params["trace_id"], query.version))


def session(request: Request) -> JSONResponse:
    return JSONResponse(load_session(_store(request), request.path_params["session_id"]))


def evaluators(request: Request) -> JSONResponse:
    scope = TimeRange.parse(request.query_params.multi_items())
    return JSONResponse({"evaluators": stats.evaluators(_store(request), scope)})


def evaluator(request: Request) -> JSONResponse:
    scope = TimeRange.parse(request.query_params.multi_items())
    name = request.path_params["name"]
    detail = stats.evaluator_detail(_store(request), name, scope)
    return JSONResponse({"evaluator": name, **detail})


def overview(request: Request) -> JSONResponse:
    scope = TimeRange.parse(request.query_params.multi_items())
    return JSONResponse(stats.overview(_store(request), scope))


def health(request: Request) -> JSONResponse:
    store = _store(request)
    datasets = {name: store.available(name) for name in ("results", "traces", "spans")}
    warm = request.app.state.warmed_up.is_set()
    return JSONResponse({"status": "ok", "datasets": datasets, "warmed_up": warm})
