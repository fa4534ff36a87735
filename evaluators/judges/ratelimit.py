"""Client-side limits, shared by every judge that calls the same (base_url, model).

Provider limits are per key and model, not per evaluator: three quality evaluators judging
with one model must share one budget, so limiters live in a process-wide registry. When two
judges configure different limits for the same endpoint, the tighter one applies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` units per second, bursting to ``capacity``; a take may leave the bucket in debt.

    Debt lets a request larger than the capacity through once the bucket is full, and makes
    the following ones wait for it to be paid back, so the long-run rate still holds.
    """

    def __init__(self, rate: float, capacity: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._level = capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self, amount: float) -> float:
        """Take ``amount`` and return 0, or return the seconds to wait before trying again."""
        with self._lock:
            self._refill()
            need = min(amount, self.capacity)
            if self._level >= need:
                self._level -= amount
                return 0.0
            return (need - self._level) / self.rate

    def give_back(self, amount: float) -> None:
        """Correct an estimate (negative ``amount`` charges more)."""
        with self._lock:
            self._refill()
            self._level = min(self.capacity, self._level + amount)

    def tighten(self, rate: float, capacity: float) -> None:
        with self._lock:
            self._refill()
            self.rate = min(self.rate, rate)
            self.capacity = min(self.capacity, capacity)
            self._level = min(self._level, self.capacity)


class ConcurrencyGate:
    """A semaphore whose limit can be lowered after creation."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._cond = threading.Condition()

    def acquire(self, timeout: float) -> bool:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.active < self.limit, timeout=max(timeout, 0))
            if ok:
                self.active += 1
            return ok

    def release(self) -> None:
        with self._cond:
            self.active -= 1
            self._cond.notify()

    def tighten(self, limit: int) -> None:
        with self._cond:
            self.limit = min(self.limit, limit)


class EndpointLimiter:
    """Requests-per-minute and tokens-per-minute buckets plus a concurrency gate.

    Requests are spaced evenly (burst of one): providers also enforce sub-minute windows, and
    an even pace avoids the 429s a burst of ``rpm`` requests would trigger.
    """

    def __init__(self, rpm: float | None, tpm: float | None, concurrency: int) -> None:
        self.requests = TokenBucket(rpm / 60.0, 1.0) if rpm else None
        self.tokens = TokenBucket(tpm / 60.0, max(tpm / 6.0, 1.0)) if tpm else None
        self.gate = ConcurrencyGate(concurrency)
        self._lock = threading.Lock()

    def tighten(self, rpm: float | None, tpm: float | None, concurrency: int) -> None:
        with self._lock:
            if rpm:
                if self.requests is None:
                    self.requests = TokenBucket(rpm / 60.0, 1.0)
                self.requests.tighten(rpm / 60.0, 1.0)
            if tpm:
                if self.tokens is None:
                    self.tokens = TokenBucket(tpm / 60.0, max(tpm / 6.0, 1.0))
                self.tokens.tighten(tpm / 60.0, max(tpm / 6.0, 1.0))
        self.gate.tighten(concurrency)

    def wait_for_rate(self, tokens: float, deadline: float) -> bool:
        """Block until one request of ``tokens`` may start; False if that is past ``deadline``."""
        for bucket, amount in ((self.requests, 1.0), (self.tokens, tokens)):
            if bucket is None:
                continue
            while (wait := bucket.try_take(amount)) > 0:
                if time.monotonic() + wait > deadline:
                    return False
                time.sleep(wait)
        return True

    def settle_tokens(self, estimated: float, actual: float | None) -> None:
        """Replace the estimate taken before a call by the usage the server reported.

        ``actual=None`` (server reports no usage) keeps the estimate; a failed attempt that
        used nothing passes 0.
        """
        if self.tokens is not None and actual is not None:
            self.tokens.give_back(estimated - actual)


_registry: dict[tuple[str, str], EndpointLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(
    base_url: str, model: str, rpm: float | None, tpm: float | None, concurrency: int
) -> EndpointLimiter:
    """The process-wide limiter of (base_url, model), tightened to these limits."""
    key = (base_url, model)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = EndpointLimiter(rpm, tpm, concurrency)
            return limiter
    limiter.tighten(rpm, tpm, concurrency)
    return limiter
