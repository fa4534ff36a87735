"""The quality evaluators' cascade: cheap tiers decide the clear cases, dearer ones the rest.

``lexical`` (word features, microseconds) scores every trace. ``encoder`` (a sentence encoder
plus small heads, milliseconds per text) rescores a trace when its lexical score falls inside
``band`` of the threshold (``encoder_mode = "band"``, the default) or always
(``encoder_mode = "always"``). ``llm`` (the judge backend) rescores what is still within
``llm_band`` of the threshold, while the judge budget lasts. Each result's metadata says which
tier decided (``tier``), and ``budget_exhausted: true`` when the judge was wanted but its
budget was spent (the pipeline counts those).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from evaluators.base import Outcome, Result

TIERS = ("lexical", "encoder", "llm")
ENCODER_MODES = ("band", "always")


@dataclass(frozen=True)
class CascadeSettings:
    """The tiers an evaluator may use and when a dearer tier takes over."""

    tiers: tuple[str, ...] = ("lexical", "encoder")
    encoder_mode: str = "band"
    band: float = 0.3
    llm_band: float = 0.1

    @classmethod
    def parse(cls, tiers: str | list[str], encoder_mode: str, band: float, llm_band: float):
        names = tiers.split(",") if isinstance(tiers, str) else list(tiers)
        names = [n.strip() for n in names if n.strip()]
        unknown = [n for n in names if n not in TIERS]
        if unknown or "lexical" not in names:
            raise ValueError(f"tiers must include lexical and name only {', '.join(TIERS)}")
        if encoder_mode not in ENCODER_MODES:
            raise ValueError(f"encoder_mode must be one of {', '.join(ENCODER_MODES)}")
        if not (0.0 <= band <= 1.0 and 0.0 <= llm_band <= 1.0):
            raise ValueError("band and llm_band must be between 0 and 1")
        ordered = tuple(t for t in TIERS if t in names)
        return cls(ordered, encoder_mode, float(band), float(llm_band))


def results_of(outcome: Outcome) -> list[Result]:
    if isinstance(outcome, Result):
        return [outcome]
    if isinstance(outcome, list):
        return [r for r in outcome if isinstance(r, Result)]
    return []


def uncertain(outcome: Outcome, threshold: float, band: float) -> bool:
    """True when a result of the outcome scores within ``band`` of the threshold."""
    return any(r.score is not None and abs(r.score - threshold) < band for r in results_of(outcome))


def annotate(outcome: Outcome, **meta: object) -> Outcome:
    """The outcome with ``meta`` added to each result's metadata (results are frozen)."""

    def one(r: Result) -> Result:
        return r.model_copy(update={"metadata": {**r.metadata, **meta}})

    if isinstance(outcome, Result):
        return one(outcome)
    if isinstance(outcome, list):
        return [one(r) if isinstance(r, Result) else r for r in outcome]
    return outcome


class JudgeBudget:
    """At most ``calls_per_minute`` judge calls and ``usd_per_hour`` judge spend (sliding
    windows; ``None`` = no limit). Spend is what the judge reports per verdict (its price
    table); when a window is full, ``allow`` says no and the cascade stops at the encoder."""

    def __init__(
        self,
        calls_per_minute: float | None = None,
        usd_per_hour: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.calls_per_minute = calls_per_minute
        self.usd_per_hour = usd_per_hour
        self._clock = clock
        self._calls: deque[float] = deque()
        self._spend: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= 60.0:
            self._calls.popleft()
        while self._spend and now - self._spend[0][0] >= 3600.0:
            self._spend.popleft()

    def allow(self, calls: int) -> int:
        """How many of ``calls`` may go now (reserved: each counts as a call made)."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            if (
                self.usd_per_hour is not None
                and sum(c for _, c in self._spend) >= self.usd_per_hour
            ):
                return 0
            room = calls
            if self.calls_per_minute is not None:
                room = max(0, min(calls, int(self.calls_per_minute) - len(self._calls)))
            self._calls.extend([now] * room)
            return room

    def spent(self, usd: float | None) -> None:
        if usd:
            with self._lock:
                self._spend.append((self._clock(), float(usd)))
