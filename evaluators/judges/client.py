"""A small OpenAI-compatible chat-completions client: retries, backoff, limits, redaction.

Kept to the one endpoint the judge needs (``POST {base_url}/chat/completions``) so it works
with OpenAI and with local servers (vLLM, Ollama, llama.cpp, LiteLLM) alike, without an SDK.
The API key lives in a ``_Secret`` that never prints, and every text a server sends back is
scrubbed of it before it reaches an exception or a log line.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from evaluators.judges.exceptions import JudgeRequestError, JudgeTimeoutError
from evaluators.judges.parsing import Completion, parse_completion
from evaluators.judges.ratelimit import EndpointLimiter
from evaluators.judges.settings import JudgeSettings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_SNIPPET = 300


class _Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<secret>" if self._value else "<no key>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the judge API key cannot be pickled")


@dataclass(frozen=True)
class ChatCall:
    completion: Completion
    attempts: int


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds asked by ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or a date)."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class ChatClient:
    """Thread-safe: one ``httpx.Client`` (connection pool) serves all concurrent verdicts."""

    def __init__(
        self, settings: JudgeSettings, base_url: str, api_key: str | None, limiter: EndpointLimiter
    ) -> None:
        self.settings = settings
        self.url = f"{base_url}/chat/completions"
        self.limiter = limiter
        self._key = _Secret(api_key)
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
            headers={"User-Agent": "evalstream-judge"},
        )

    def __repr__(self) -> str:
        return f"<ChatClient {self.url} key={self._key!r}>"

    def close(self) -> None:
        self._http.close()

    def redact(self, text: str) -> str:
        key = self._key.reveal()
        return text.replace(key, "***") if key else text

    def _headers(self) -> dict[str, str]:
        key = self._key.reveal()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(
            self.settings.max_backoff_seconds, self.settings.backoff_seconds * 2 ** (attempt - 1)
        )
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": never ~0
        return max(delay, retry_after or 0.0)

    def complete(self, payload: dict[str, Any], estimated_tokens: float) -> ChatCall:
        """POST one chat completion, retrying transient failures within the budget."""
        settings = self.settings
        deadline = time.monotonic() + settings.budget_seconds
        attempt = 0
        while True:
            attempt += 1
            if not self.limiter.wait_for_rate(estimated_tokens, deadline):
                raise JudgeTimeoutError(
                    f"judge budget of {settings.budget_seconds}s used up waiting for the rate "
                    f"limit (attempt {attempt})",
                    attempts=attempt - 1,
                )
            if not self.limiter.gate.acquire(timeout=deadline - time.monotonic()):
                raise JudgeTimeoutError(
                    f"judge budget of {settings.budget_seconds}s used up waiting for a "
                    f"concurrency slot (attempt {attempt})",
                    attempts=attempt - 1,
                )
            status: int | None = None
            retry_after: float | None = None
            timed_out = False
            try:
                timeout = max(min(settings.timeout_seconds, deadline - time.monotonic()), 0.001)
                response = self._http.post(
                    self.url, json=payload, headers=self._headers(), timeout=timeout
                )
            except httpx.TimeoutException as exc:
                timed_out = True
                failure = f"timed out after {timeout:.3g}s ({type(exc).__name__})"
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {self.redact(str(exc))}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    completion = parse_completion(response.content)
                    used = None
                    if completion.input_tokens is not None or completion.output_tokens is not None:
                        used = (completion.input_tokens or 0) + (completion.output_tokens or 0)
                    self.limiter.settle_tokens(estimated_tokens, used)
                    return ChatCall(completion, attempt)
                body = self.redact(" ".join(response.text.split()))[:_SNIPPET]
                failure = f"HTTP {status} from {self.url}: {body}"
                retry_after = _retry_after(response)
            finally:
                self.limiter.gate.release()
            self.limiter.settle_tokens(estimated_tokens, 0)
            if status is not None and status not in RETRY_STATUSES and status < 500:
                raise JudgeRequestError(failure, status=status, attempts=attempt)
            error_type = JudgeTimeoutError if timed_out else JudgeRequestError
            if attempt > settings.max_retries:
                raise error_type(
                    f"judge request failed after {attempt} attempt(s): {failure}",
                    status=status,
                    attempts=attempt,
                )
            delay = self._backoff(attempt, retry_after)
            if time.monotonic() + delay > deadline:
                raise error_type(
                    f"judge budget of {settings.budget_seconds}s cannot fit a retry in "
                    f"{delay:.3g}s after {attempt} attempt(s): {failure}",
                    status=status,
                    attempts=attempt,
                )
            log.info("judge attempt %d failed (%s); retrying in %.2fs", attempt, failure, delay)
            time.sleep(delay)
