"""Targets of the entry points built in ``test_api_registry.py``: good and broken plugins.

Imported as the top-level module ``plugin_fixtures`` (pytest puts this folder on sys.path).
"""

from __future__ import annotations

from typing import Any

from evaluators import Evaluator, Result, evaluator


@evaluator(name="shouty", version="2")
def shouty(outputs: str, min_ratio: float = 0.5) -> Result:
    letters = [c for c in outputs if c.isalpha()]
    ratio = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
    return Result(score=ratio, passed=ratio >= min_ratio)


def plain_scorer(outputs, expectations):
    """An undecorated MLflow-style function."""
    return outputs == (expectations or {}).get("expected_response")


class WordCount(Evaluator):
    name = "word_count"
    version = "3"

    def __init__(self, max_words: int = 100) -> None:
        if max_words <= 0:
            raise ValueError("max_words must be positive")
        self.max_words = max_words

    def evaluate(self, trace: Any) -> Any:
        return len(str(trace.outputs).split()) <= self.max_words


class NoEvaluate(Evaluator):
    name = "no_evaluate"


class NeedsArgument(Evaluator):
    name = "needs_argument"

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def evaluate(self, trace: Any) -> Any:
        return True


class Nameless(Evaluator):
    def evaluate(self, trace: Any) -> Any:
        return True


not_an_evaluator = 42


def __getattr__(name: str) -> Any:
    """``plugin_fixtures:exploding`` raises while loading, as a plugin's import may."""
    if name == "exploding":
        raise RuntimeError("plugin import blew up")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
