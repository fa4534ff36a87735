"""The Starlette application: routes, the token gate, security headers, error pages.

Read-only by construction: every route answers GET (and HEAD) only, except the login form's
POST, which sets a cookie and nothing else. ``create_app`` wires collaborators (store,
templates, token); ``__init__`` of nothing here does work, so tests build an app per dataset.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.sinks.storage import Location
from pipeline.tools.ui import api, pages
from pipeline.tools.ui.auth import TokenGate
from pipeline.tools.ui.exceptions import BadQueryError, TraceNotFoundError
from pipeline.tools.ui.layout import Datasets
from pipeline.tools.ui.render import environment
from pipeline.tools.ui.store import Store

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the CSP and friends to every response: no script can run on any page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return api.JSONResponse({"error": message}, status_code=status)
    title = "Bad request" if status == 400 else "Not found"
    return pages.page(request, "error.html", status, title=title, message=message)


async def _bad_query(request: Request, exc: Exception) -> Response:
    return _error(request, 400, str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(request, 404, str(exc))


ROUTES = [
    Route("/", pages.overview),
    Route("/traces", pages.traces),
    Route("/traces/{trace_id:path}", pages.trace),
    Route("/sessions/{session_id:path}", pages.session),
    Route("/evaluators", pages.evaluators),
    Route("/evaluators/{name:path}", pages.evaluator),
    Route("/login", pages.login_form, methods=["GET"]),
    Route("/login", pages.login, methods=["POST"]),
    Route("/api/traces", api.traces),
    Route("/api/traces/{trace_id:path}", api.trace),
    Route("/api/sessions/{session_id:path}", api.session),
    Route("/api/evaluators", api.evaluators),
    Route("/api/evaluators/{name:path}", api.evaluator),
    Route("/api/overview", api.overview),
    Route("/health", api.health),
]


def create_app(store: Store, token: str | None = None) -> Starlette:
    middleware = [Middleware(SecurityHeaders)]
    if token:
        middleware.append(Middleware(TokenGate, token=token))
    app = Starlette(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers={BadQueryError: _bad_query, TraceNotFoundError: _not_found},
    )
    app.state.store = store
    app.state.templates = environment()
    app.state.token = token
    app.state.warmed_up = threading.Event()
    return app


def warm_up(store: Store, done: threading.Event) -> None:
    """Read every footer, count the unfiltered list and each evaluator's failures (the
    overview's links), keep the latency and cost values the list's sorts use, sum the
    overview's and evaluator pages' aggregates and index trace and session ids (and the
    spans' trace ids, with their footers), so the first person to click does not pay for
    it. Runs in a background thread; ``/health`` tells when it is done.

    What it made lives as long as the app: it is then moved out of the garbage collector's
    sight (``gc.freeze``), so a full collection no longer walks it (one took 70 ms of a
    list page's 120 ms CPU over a million traces)."""
    from pipeline.tools.ui import stats
    from pipeline.tools.ui.filters import TimeRange, TraceQuery
    from pipeline.tools.ui.key_index import hours_with
    from pipeline.tools.ui.trace_list import hour_counts, list_traces

    try:
        for sort in ("time", "latency", "cost"):  # the list's sorts' per-hour values, too
            list_traces(store, TraceQuery(sort=sort))
        stats.overview(store, TimeRange())
        for row in stats.evaluators(store):
            hour_counts(store, TraceQuery(evaluator=row["evaluator"], passed=False))
            stats.evaluator_detail(store, row["evaluator"], TimeRange())
        if store.available("traces"):
            hours_with(store, "traces", "trace_id", "")
            hours_with(store, "traces", "session_id", "")
        hours_with(store, "results", "trace_id", "")
        if store.available("spans"):  # the detail's spans: their footers, and their file
            store.source("spans")
            hours_with(store, "spans", "trace_id", "")
        gc.collect()
        gc.freeze()
    finally:
        done.set()


def app_for(
    results_dir: str | Path | Location, token: str | None = None, threads: int = 2
) -> Starlette:
    """The app over the datasets beside ``results_dir`` (the worker's Parquet directory, or
    its prefix in an object store)."""
    return create_app(Store(Datasets.beside(results_dir), threads=threads), token)
