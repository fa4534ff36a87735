"""The function form: ``@evaluator`` turns a plain function into an ``Evaluator``.

Parameters are picked by name from the trace (``inputs``, ``outputs``, ``context``,
``expectations``, ``trace``), as MLflow's ``@scorer`` does, so an MLflow-style scorer runs
unchanged. Any other parameter is a configuration parameter and must have a default.

Run on spans (the TOML ``apply_to``), ``inputs`` and ``outputs`` are the span's, ``trace`` is
still the whole trace, and a ``span`` parameter receives the span (``None`` per trace).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from evaluators.base import Evaluator, Outcome, _keyword_defaults
from evaluators.exceptions import EvaluatorDefinitionError
from schemas import ResultSource, Span, Trace

TRACE_PARAMETERS = ("inputs", "outputs", "context", "expectations", "trace", "span")
SESSION_PARAMETER = "session"
"""A function taking ``session`` is a session evaluator (``evaluators.session``): it gets the
closed session's turns, each a trace with its results, instead of one trace."""


def trace_argument(trace: Trace, name: str) -> Any:
    """The value a function evaluator receives for a trace parameter.

    ``expectations`` is a plain dict (MLflow scorers index it like one).
    """
    if name == "trace":
        return trace
    if name == "span":
        return None
    if name == "expectations":
        return trace.expectations.model_dump(exclude_none=True) if trace.expectations else None
    return getattr(trace, name)


def span_argument(span: Span, trace: Trace, name: str) -> Any:
    """The value a function evaluator receives for a trace parameter when run on a span."""
    if name in ("inputs", "outputs"):
        return getattr(span, name)
    if name == "span":
        return span
    return trace_argument(trace, name)


class FunctionEvaluator(Evaluator):
    """Adapter from a function to the ``Evaluator`` interface."""

    def __init__(
        self,
        func: Callable[..., Outcome],
        *,
        name: str,
        version: str = "1",
        threshold: float = 0.5,
        source: ResultSource = ResultSource.CODE,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.func = func
        self.name = name
        self.version = version
        self.threshold = threshold
        self.source = ResultSource(source)
        signature = inspect.signature(func)
        self._trace_params = [p for p in signature.parameters if p in TRACE_PARAMETERS]
        self.scope = "session" if SESSION_PARAMETER in signature.parameters else "trace"
        self._config_defaults = _keyword_defaults(func, skip={*TRACE_PARAMETERS, SESSION_PARAMETER})
        if self.scope == "session" and self._trace_params:
            raise EvaluatorDefinitionError(
                f"evaluator {name!r}: a session evaluator takes `session` only (each turn has"
                f" its trace), not {', '.join(self._trace_params)}"
            )
        if not self._trace_params and self.scope == "trace":
            raise EvaluatorDefinitionError(
                f"evaluator {name!r}: the function takes none of"
                f" {', '.join(TRACE_PARAMETERS)} (or `session`)"
            )
        unknown = set(params or {}) - set(self._config_defaults)
        if unknown:
            raise EvaluatorDefinitionError(
                f"evaluator {name!r} has no parameter {', '.join(sorted(unknown))}"
            )
        self._params = dict(params or {})

    def configurable(self) -> dict[str, Any]:
        """Configuration parameters and their current values."""
        return {**self._config_defaults, **self._params}

    def with_params(self, **params: Any) -> FunctionEvaluator:
        """A copy with configuration parameters bound (from the TOML ``params`` table)."""
        return FunctionEvaluator(
            self.func,
            name=self.name,
            version=self.version,
            threshold=self.threshold,
            source=self.source,
            params={**self._params, **params},
        )

    def evaluate(self, trace: Trace) -> Outcome:
        kwargs = {name: trace_argument(trace, name) for name in self._trace_params}
        return self.func(**kwargs, **self._params)

    def evaluate_span(self, span: Span, trace: Trace) -> Outcome:
        kwargs = {name: span_argument(span, trace, name) for name in self._trace_params}
        return self.func(**kwargs, **self._params)

    def evaluate_session(self, session: Any) -> Outcome:
        """The session form (``scope == "session"``): ``session`` is a ``schemas.Session``."""
        return self.func(session=session, **self._params)

    def __call__(self, *args: Any, **kwargs: Any) -> Outcome:
        """Calling the decorated function directly still works, as in plain Python."""
        return self.func(*args, **kwargs)


def evaluator(
    func: Callable[..., Outcome] | None = None,
    *,
    name: str | None = None,
    version: str = "1",
    threshold: float = 0.5,
    source: ResultSource | str = ResultSource.CODE,
) -> Any:
    """Declare a function evaluator: ``@evaluator`` or ``@evaluator(name=..., version=...)``."""

    def wrap(f: Callable[..., Outcome]) -> FunctionEvaluator:
        return FunctionEvaluator(
            f,
            name=name or f.__name__,
            version=str(version),
            threshold=threshold,
            source=ResultSource(source),
        )

    return wrap(func) if func is not None else wrap
