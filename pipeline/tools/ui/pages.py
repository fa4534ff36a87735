"""The HTML pages: overview, trace list, trace detail, session detail, evaluators, login.

Each handler validates its query (a bad one is a 400 page), asks ``stats`` / ``trace_list`` /
``trace_detail`` for data and hands it to a template. Links are built from the validated
query, so a page never echoes a raw parameter into a URL.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pipeline.tools.ui import stats
from pipeline.tools.ui.api import DetailQuery
from pipeline.tools.ui.auth import COOKIE, cookie_value, read_login, safe_next
from pipeline.tools.ui.charts import evaluator_charts, overview_charts
from pipeline.tools.ui.filters import TimeRange, TraceQuery
from pipeline.tools.ui.session_detail import load_session
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.trace_detail import load_trace
from pipeline.tools.ui.trace_list import list_traces
from pipeline.tools.ui.waterfall import waterfall

RANGES = (("last hour", 1), ("last 6 h", 6), ("last 24 h", 24), ("last 7 days", 24 * 7))


def _store(request: Request) -> Store:
    return request.app.state.store


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    store = _store(request)
    context.setdefault("content_stored", store.available("traces"))
    html = request.app.state.templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)


def _bucket(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day" + ("s" if seconds > 86400 else "")
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _failing_query(scope: TimeRange):
    def failing(name: str) -> str:
        return TraceQuery(app=scope.app, since=scope.since, until=scope.until, evaluator=name,
                          passed=False).query_string()  # fmt: skip

    return failing


def _range_links(store: Store, scope: TimeRange) -> list[tuple[str, str]]:
    """Quick ranges ending at the newest data (a dataset from last week still shows)."""
    last = stats.latest_timestamp(store)
    if last is None:
        return []
    links = [(label, scope.model_copy(update={"since": last - timedelta(hours=hours),
                                              "until": None}).query_string())
             for label, hours in RANGES]  # fmt: skip
    links.append(("all time", TimeRange(app=scope.app).query_string()))
    return links


def _scope_context(store: Store, scope: TimeRange) -> dict[str, Any]:
    query = scope.query_string()
    return {
        "scope": scope,
        "scope_query": f"?{query}" if query else "",
        "ranges": _range_links(store, scope),
        "failing_query": _failing_query(scope),
    }


def overview(request: Request) -> Response:
    store = _store(request)
    scope = TimeRange.parse(request.query_params.multi_items())
    data = stats.overview(store, scope)
    return page(
        request, "overview.html", title="Overview", totals=data["totals"],
        bucket=_bucket(data["bucket_seconds"]), apps=data["apps"],
        charts=overview_charts(data["series"], data["pass_rates"]),
        evaluators=stats.evaluators(store, scope), **_scope_context(store, scope),
    )  # fmt: skip


def evaluators(request: Request) -> Response:
    store = _store(request)
    scope = TimeRange.parse(request.query_params.multi_items())
    return page(
        request, "evaluators.html", title="Evaluators", apps=stats.apps(store),
        evaluators=stats.evaluators(store, scope), **_scope_context(store, scope),
    )  # fmt: skip


def evaluator(request: Request) -> Response:
    store = _store(request)
    scope = TimeRange.parse(request.query_params.multi_items())
    name = request.path_params["name"]
    detail = stats.evaluator_detail(store, name, scope)
    summary = next((e for e in stats.evaluators(store, scope) if e["evaluator"] == name), None)
    every = TraceQuery(app=scope.app, since=scope.since, until=scope.until, evaluator=name)
    return page(
        request, "evaluator.html", title=f"Evaluator {name}", name=name, summary=summary,
        charts=evaluator_charts(detail), worst=detail["worst"], apps=stats.apps(store),
        all_query=every.query_string(), **_scope_context(store, scope),
    )  # fmt: skip


def traces(request: Request) -> Response:
    store = _store(request)
    query = TraceQuery.parse(request.query_params.multi_items())
    result = list_traces(store, query)

    def sort_query(key: str) -> str:
        flip = "asc" if query.sort == key and query.order == "desc" else "desc"
        return query.query_string(sort=key, order=flip, offset=0)

    def arrow(key: str) -> str:
        return (" ↓" if query.order == "desc" else " ↑") if query.sort == key else ""

    return page(
        request, "traces.html", title="Traces", page=result, query=query,
        content_stored=result.content_stored, apps=stats.apps(store),
        evaluator_names=[e["evaluator"] for e in stats.evaluators(store)],
        sort_query=sort_query, arrow=arrow,
        prev_query=query.query_string(offset=max(query.offset - query.limit, 0)),
        next_query=query.query_string(offset=query.offset + query.limit),
    )  # fmt: skip


def trace(request: Request) -> Response:
    store = _store(request)
    query = DetailQuery.parse(request.query_params.multi_items())
    detail = load_trace(store, request.path_params["trace_id"], query.version)
    return page(
        request, "trace.html", title=f"Trace {detail['trace_id']}", t=detail,
        bars=waterfall(detail["spans"]), content_stored=detail["content_stored"],
    )  # fmt: skip


def session(request: Request) -> Response:
    detail = load_session(_store(request), request.path_params["session_id"])
    return page(
        request, "session.html", title=f"Session {detail['session_id']}", s=detail,
        content_stored=detail["content_stored"],
    )  # fmt: skip


def login_form(request: Request) -> Response:
    nxt = safe_next(request.query_params.get("next"))
    return page(request, "login.html", title="Sign in", next=nxt, failed=False)


async def login(request: Request) -> Response:
    token, nxt = await read_login(request)
    expected = request.app.state.token
    if expected is None:
        return RedirectResponse(nxt, status_code=303)
    if not hmac.compare_digest(token, expected):
        return page(request, "login.html", 401, title="Sign in", next=nxt, failed=True)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(COOKIE, cookie_value(expected), httponly=True, samesite="strict")
    return response
