"""Where evaluators come from: built-ins and plugins, both through entry points.

Every entry point of group ``evalstream.evaluators`` is loaded in a guard and validated at
load time (as pluggy does): a plugin that fails to import or is declared wrongly is recorded
in ``Registry.errors`` and skipped, so one bad package never stops a worker.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from evaluators.base import Evaluator, validate_evaluator_class
from evaluators.decorator import FunctionEvaluator, evaluator
from evaluators.exceptions import ConfigError, EvaluatorDefinitionError, UnknownEvaluatorError
from evaluators.params import check_params

ENTRY_POINT_GROUP = "evalstream.evaluators"
DEFAULT_EVALUATORS = (
    "latency",
    "error",
    "token_usage",
    "cost",
    "correctness",
    "safety",
    "context_sufficiency",
)
"""Run when the config names no evaluators (those of them that are installed)."""
DEFAULT_SESSION_EVALUATORS = (
    "session_volume",
    "session_latency",
    "session_cost",
    "session_error_rate",
    "conversation_frustration",
    "goal_completion",
    "session_safety",
)
"""The session evaluators run by the session stage when the config names no evaluators."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadError:
    name: str
    target: str
    reason: str


@dataclass(frozen=True)
class Registration:
    name: str
    target: type[Evaluator] | FunctionEvaluator
    package: str
    package_version: str

    @property
    def version(self) -> str:
        return str(self.target.version)

    def parameters(self) -> dict[str, Any]:
        if isinstance(self.target, FunctionEvaluator):
            return self.target.configurable()
        return self.target.parameters()

    def create(self, params: dict[str, Any], result_name: str | None = None) -> Evaluator:
        """A configured instance; bad parameters raise ``ConfigError`` naming them."""
        known = self.parameters()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigError(
                f"evaluator {self.name!r} has no parameter {', '.join(unknown)}"
                f" (it accepts: {', '.join(sorted(known)) or 'none'})"
            )
        if isinstance(self.target, FunctionEvaluator):
            sources = [self.target.func]
        else:
            sources = self.target.parameter_sources()
        checked: set[str] = set()
        for source in sources:  # each name against the first ``__init__`` declaring it
            problem = check_params(source, {k: v for k, v in params.items() if k not in checked})
            if problem:
                raise ConfigError(f"evaluator {self.name!r}: {problem}")
            checked |= set(inspect.signature(source).parameters)
        try:
            if isinstance(self.target, FunctionEvaluator):
                instance: Evaluator = self.target.with_params(**params)
            else:
                instance = self.target(**params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"evaluator {self.name!r}: {exc}") from None
        if result_name and result_name != instance.name:
            instance.name = result_name
        return instance


def as_registrable(obj: Any) -> type[Evaluator] | FunctionEvaluator:
    """Accept a class, a decorated function, or a plain (MLflow-style) scorer function."""
    if isinstance(obj, FunctionEvaluator):
        return obj
    if isinstance(obj, type) and issubclass(obj, Evaluator):
        validate_evaluator_class(obj)
        return obj
    if callable(obj) and hasattr(obj, "__name__"):
        return evaluator(obj)
    raise EvaluatorDefinitionError(
        f"{obj!r} is not an evaluator (expected an Evaluator subclass or a function)"
    )


class Registry:
    """Evaluators by name, plus the load errors met while discovering them."""

    def __init__(self) -> None:
        self._entries: dict[str, Registration] = {}
        self.errors: list[LoadError] = []

    def register(
        self, obj: Any, *, name: str | None = None, package: str = "", package_version: str = ""
    ) -> Registration:
        target = as_registrable(obj)
        key = name or target.name
        if key in self._entries:
            raise EvaluatorDefinitionError(
                f"evaluator {key!r} is registered twice ({self._entries[key].package}"
                f" and {package or 'local'})"
            )
        entry = Registration(key, target, package, package_version)
        self._entries[key] = entry
        return entry

    def get(self, name: str) -> Registration:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownEvaluatorError(
                f"unknown evaluator {name!r} (installed: {known})"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def registrations(self) -> list[Registration]:
        return [self._entries[name] for name in self.names()]

    def default_names(self, scope: str = "trace") -> list[str]:
        defaults = DEFAULT_SESSION_EVALUATORS if scope == "session" else DEFAULT_EVALUATORS
        return [name for name in defaults if name in self._entries]

    def load_entry_points(
        self, points: Iterable[EntryPoint] | None = None, allow: Iterable[str] | None = None
    ) -> Registry:
        """Load plugins defensively; ``allow`` limits loading to those entry-point names."""
        allowed = set(allow) if allow is not None else None
        for point in points if points is not None else entry_points(group=ENTRY_POINT_GROUP):
            if allowed is not None and point.name not in allowed:
                continue
            dist = getattr(point, "dist", None)
            try:
                self.register(
                    point.load(),
                    name=point.name,
                    package=dist.name if dist else "",
                    package_version=dist.version if dist else "",
                )
            except Exception as exc:  # a plugin may raise anything while importing
                error = LoadError(point.name, point.value, f"{type(exc).__name__}: {exc}")
                self.errors.append(error)
                log.info("evaluator plugin %s (%s) skipped: %s", *vars(error).values())
        return self


def discover(allow: Iterable[str] | None = None) -> Registry:
    """The registry of every installed evaluator."""
    return Registry().load_entry_points(allow=allow)
