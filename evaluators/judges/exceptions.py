"""Errors of the LLM-judge backend, under one root so callers can catch the package as a whole.

Messages never contain the API key: the client redacts it from anything a server echoes back.
"""

from __future__ import annotations

from evaluators.exceptions import ConfigError, EvaluatorError


class JudgeError(EvaluatorError):
    """Root of every error raised by ``evaluators.judges``."""


class JudgeConfigError(JudgeError, ConfigError):
    """A judge parameter (from the TOML ``judge = {...}`` table) is invalid."""


class JudgeRequestError(JudgeError):
    """The judge endpoint could not be reached or kept failing after the retries."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class JudgeTimeoutError(JudgeRequestError):
    """Every attempt timed out (per-request timeout), or the overall budget ran out."""


class JudgeResponseError(JudgeError):
    """The endpoint answered, but not with a usable verdict (garbage body, bad JSON verdict)."""


class JudgeBatchError(JudgeError):
    """Some traces of a batch failed; the others are kept for the runner's per-trace retry.

    The runner answers a raising ``evaluate_batch`` by scoring each trace alone; the judge
    hands it the results and errors it already has, so nothing is requested twice.
    """

    def __init__(self, message: str, errors: dict[int, JudgeError]) -> None:
        super().__init__(message)
        self.errors = errors
