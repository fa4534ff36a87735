"""``@traced``: turn one function call (sync or async) into one evalstream trace.

For apps that do not use MLflow or OpenTelemetry: the call's arguments become ``inputs``, its
return value ``outputs``, and latency, status and error are measured, then the trace goes
through a ``TraceProducer`` (the shared ``default_producer()`` unless one is given). Logging
never breaks the app: a trace that cannot be logged is reported with a warning, and the
function's result or exception is passed through unchanged.

    @traced                                  # or @traced(name=..., tags={...}, producer=...)
    def answer(question: str) -> str: ...

    with traced("retrieve", inputs={"q": q}) as call:
        call.outputs = search(q)
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from evalstream_client.producer import TraceProducer

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

_default: TraceProducer | None = None
_default_lock = threading.Lock()


def default_producer() -> TraceProducer:
    """The process-wide producer used by ``traced``, created from settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TraceProducer()
        return _default


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy: apps pass arbitrary objects, and a trace must always serialize."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 8:
        return repr(value)[:1000]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, depth + 1) for v in value]
    if hasattr(value, "model_dump"):  # pydantic models
        return _jsonable(value.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value), depth + 1)
    return repr(value)[:1000]


class TraceCall:
    """One traced call; a ``with traced(...) as call`` block may set any attribute."""

    def __init__(self, name: str, producer: TraceProducer | None, tags: Mapping[str, Any]):
        self.name = name
        self.trace_id = uuid.uuid4().hex
        self.inputs: Any = None
        self.outputs: Any = None
        self.context: list[str] | None = None
        self.model: str | None = None
        self.usage: dict[str, int] | None = None
        self.tags = {"function": name, **{k: str(v) for k, v in tags.items()}}
        self._producer = producer
        self._start = 0.0
        self._timestamp = datetime.now(tz=UTC)

    def __enter__(self) -> TraceCall:
        self._timestamp = datetime.now(tz=UTC)
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        self.finish(exc)

    async def __aenter__(self) -> TraceCall:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        self.finish(exc)

    def finish(self, error: BaseException | None = None) -> None:
        latency_ms = (time.perf_counter() - self._start) * 1000
        trace = {
            "trace_id": self.trace_id,
            "timestamp": self._timestamp.isoformat(),
            "inputs": _jsonable(self.inputs),
            "outputs": _jsonable(self.outputs),
            "context": self.context,
            "model": self.model,
            "usage": self.usage,
            "status": "ERROR" if error is not None else "OK",
            "error": f"{type(error).__name__}: {error}" if error is not None else None,
            "latency_ms": round(latency_ms, 3),
            "tags": self.tags,
        }
        try:
            (self._producer or default_producer()).log_trace(trace)
        except Exception as exc:  # observability must never break the app
            log.warning("could not log trace of %s: %s", self.name, exc)


class _Traced:
    """What ``traced(...)`` returns: a decorator and, as well, a context manager."""

    def __init__(
        self,
        name: str | None,
        producer: TraceProducer | None,
        tags: Mapping[str, Any] | None,
        inputs: Any = None,
    ) -> None:
        self.name = name
        self.producer = producer
        self.tags = dict(tags or {})
        self.inputs = inputs
        self._call: TraceCall | None = None

    def _new_call(self, name: str) -> TraceCall:
        call = TraceCall(self.name or name, self.producer, self.tags)
        call.inputs = self.inputs
        return call

    def __enter__(self) -> TraceCall:
        self._call = self._new_call("block").__enter__()
        return self._call

    def __exit__(self, *exc_info: Any) -> None:
        assert self._call is not None
        self._call.__exit__(*exc_info)

    async def __aenter__(self) -> TraceCall:
        return self.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        signature = inspect.signature(func)
        name = f"{func.__module__}.{func.__qualname__}"

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:  # the call itself will raise; record what was passed
                return {"args": list(args), "kwargs": kwargs}
            bound.apply_defaults()
            return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._new_call(name) as call:
                    call.inputs = inputs(args, kwargs)
                    call.outputs = await func(*args, **kwargs)
                    return call.outputs

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._new_call(name) as call:
                call.inputs = inputs(args, kwargs)
                call.outputs = func(*args, **kwargs)
                return call.outputs

        return wrapper  # type: ignore[return-value]


def traced(
    func: Callable[..., Any] | str | None = None,
    *,
    name: str | None = None,
    producer: TraceProducer | None = None,
    tags: Mapping[str, Any] | None = None,
    inputs: Any = None,
) -> Any:
    """``@traced``, ``@traced(name=..., tags=..., producer=...)`` or ``with traced("name")``.

    As a context manager, ``inputs`` seeds ``call.inputs``; set ``call.outputs`` (and
    optionally ``context``, ``model``, ``usage``) inside the block.
    """
    if callable(func):
        return _Traced(name, producer, tags)(func)
    return _Traced(func or name, producer, tags, inputs)
