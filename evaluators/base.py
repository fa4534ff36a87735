"""What an evaluator is: the class form, and the ``Result`` it may return.

Function evaluators (see ``decorator.py``) are adapted to this same interface, so the
runner only ever sees ``Evaluator`` instances.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evaluators.exceptions import EvaluatorDefinitionError
from evaluators.targeting import span_view
from schemas import ResultSource, Span, Trace


class Result(BaseModel):
    """What an evaluator returns for one trace (or one span: set ``span_id``).

    ``passed`` may be left out: the runner derives it as ``score >= threshold``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float | None = None
    passed: bool | None = None
    label: str | None = None
    rationale: str | None = None
    span_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


Outcome = Result | bool | int | float | str | None | list[Result]
"""Anything an evaluator may return for one trace; ``None`` means not applicable."""


class Evaluator:
    """Base of the class form. Override ``evaluate``; override ``evaluate_batch`` to vectorise.

    Configuration parameters are the keyword arguments of ``__init__`` (with defaults),
    so a TOML ``params`` table is checked against them when the config is loaded.
    """

    name: str = ""
    version: str = "1"
    threshold: float = 0.5
    source: ResultSource = ResultSource.CODE
    scope: str = "trace"
    """``trace``: scored per trace; ``session``: per closed session (``evaluators.session``)."""
    executor: str = "thread"
    """``process``: CPU-bound, scored in the worker's evaluator processes when it has them
    (``evaluators.pool``, ``EVALSTREAM_EVALUATOR_PROCESSES``); ``thread``: in a thread."""

    def evaluate(self, trace: Trace) -> Outcome:
        raise NotImplementedError(f"{type(self).__name__} must implement evaluate()")

    def evaluate_batch(self, traces: Sequence[Trace]) -> list[Outcome]:
        """Score many traces at once. The default calls ``evaluate`` for each."""
        return [self.evaluate(trace) for trace in traces]

    def evaluate_span(self, span: Span, trace: Trace) -> Outcome:
        """Score one span of ``trace`` (the TOML set ``apply_to``). The default scores the
        span's view of the trace (``evaluators.targeting.span_view``: the span's inputs,
        outputs, duration as ``latency_ms`` and status), so ``evaluate`` works unchanged."""
        return self.evaluate(span_view(trace, span))

    def evaluate_span_batch(self, targets: Sequence[tuple[Span, Trace]]) -> list[Outcome]:
        """Score many spans at once: a vectorised ``evaluate_batch`` gets their views."""
        if self.is_batched() and type(self).evaluate_span is Evaluator.evaluate_span:
            return self.evaluate_batch([span_view(trace, span) for span, trace in targets])
        return [self.evaluate_span(span, trace) for span, trace in targets]

    @classmethod
    def is_batched(cls) -> bool:
        """True when the class has its own vectorised ``evaluate_batch``."""
        return cls.evaluate_batch is not Evaluator.evaluate_batch

    @classmethod
    def is_span_batched(cls) -> bool:
        """True when spans are scored through a vectorised batch method."""
        if cls.evaluate_span_batch is not Evaluator.evaluate_span_batch:
            return True
        return cls.is_batched() and cls.evaluate_span is Evaluator.evaluate_span

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        """Configurable parameters and their defaults, read from ``__init__``. An
        ``__init__`` that takes ``**kwargs`` (and passes them to ``super().__init__``)
        inherits the parameters of the base class's ``__init__``: a subclass adds its own
        without repeating the others; its own come first and win on a shared name."""
        params: dict[str, Any] = {}
        for init in cls.parameter_sources():
            for name, default in _keyword_defaults(init, skip={"self"}).items():
                params.setdefault(name, default)
        return params

    @classmethod
    def parameter_sources(cls) -> list[Any]:
        """The ``__init__`` functions the parameters come from, the class's own first: up
        the classes for as long as each one forwards ``**kwargs``."""
        sources = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            sources.append(init)
            if not _forwards_keywords(init):
                break
        return sources

    def __repr__(self) -> str:
        return f"<evaluator {self.name}@{self.version}>"


def _forwards_keywords(func: Any) -> bool:
    """The function takes ``**kwargs`` (object's ``__init__`` is where the walk ends)."""
    if func is object.__init__:
        return False
    kinds = (p.kind for p in inspect.signature(func).parameters.values())
    return inspect.Parameter.VAR_KEYWORD in kinds


def _keyword_defaults(func: Any, skip: set[str]) -> dict[str, Any]:
    if func is object.__init__:
        return {}
    params: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.name in skip or param.kind is param.VAR_KEYWORD:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            raise EvaluatorDefinitionError(
                f"{func.__qualname__}: parameter {param.name!r} must be a keyword parameter"
            )
        if param.default is param.empty:
            raise EvaluatorDefinitionError(
                f"{func.__qualname__}: configuration parameter {param.name!r} needs a default"
            )
        params[param.name] = param.default
    return params


def validate_evaluator_class(cls: type[Evaluator]) -> None:
    """Reject a class that cannot work, at load time rather than on the first trace."""
    if not cls.name or not isinstance(cls.name, str):
        raise EvaluatorDefinitionError(f"{cls.__qualname__} has no `name`")
    if cls.scope == "session":
        from evaluators.session import validate_session_class

        validate_session_class(cls)
    elif cls.evaluate is Evaluator.evaluate and not cls.is_batched():
        raise EvaluatorDefinitionError(
            f"{cls.__qualname__} implements neither evaluate() nor evaluate_batch()"
        )
    cls.parameters()
