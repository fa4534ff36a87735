"""``LLMJudge``: one verdict per trace from an LLM, for the quality evaluators' ``llm`` backend.

The judge returns plain ``evaluators.base.Result`` objects; the calling evaluator owns the
name, version and ``source``. Failures are raised, never scored: the runner turns them into
error results. When a batch partly fails, ``evaluate_batch`` raises and keeps what it has in
a hand-off store, so the runner's per-trace retry gets the same verdicts and errors back
without a second request (and without losing the cost of the verdicts that succeeded).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from evaluators.base import Result
from evaluators.judges.cache import cache_key, open_cache
from evaluators.judges.client import ChatClient
from evaluators.judges.exceptions import (
    JudgeBatchError,
    JudgeConfigError,
    JudgeError,
    JudgeRequestError,
)
from evaluators.judges.parsing import Completion, parse_verdict
from evaluators.judges.prompts import TEMPLATES, build_messages, fields_digest_source, prompt_fields
from evaluators.judges.ratelimit import shared_limiter
from evaluators.judges.settings import load_settings
from evaluators.pricing import PriceTable
from schemas import Trace

Outcome = Result | JudgeError


@dataclass(frozen=True)
class _Job:
    key: str
    fields: dict[str, str]


class _Handoff:
    """Outcomes of a batch that raised, each kept for as many traces as shared it."""

    def __init__(self, size: int = 10_000, ttl_seconds: float = 600.0) -> None:
        self.size = size
        self.ttl = ttl_seconds
        self._items: OrderedDict[str, tuple[Outcome, int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, outcome: Outcome, uses: int) -> None:
        with self._lock:
            self._items[key] = (outcome, uses, time.monotonic() + self.ttl)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def take(self, key: str) -> Outcome | None:
        with self._lock:
            item = self._items.pop(key, None)
            if item is None or item[2] < time.monotonic():
                return None
            outcome, uses, expiry = item
            if uses > 1:  # the traces after the first one that shares the prompt spent nothing
                self._items[key] = (_reused(outcome), uses - 1, expiry)
            return outcome


_NOTHING_SPENT: dict[str, Any] = {
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": 0.0,
    "attempts": 0,
    "cached": True,
}


def _reused(outcome: Outcome) -> Outcome:
    """The verdict again for another trace with the same prompt: it cost nothing more, so
    summing ``cost_usd`` over results equals what the judge's endpoint billed."""
    if isinstance(outcome, JudgeError):
        return outcome
    return outcome.model_copy(update={"metadata": {**outcome.metadata, **_NOTHING_SPENT}})


class LLMJudge:
    """Judge traces of one ``kind`` ("correctness", "safety", "context_sufficiency").

    Parameters are those of ``JudgeSettings`` (all optional); a bad one raises
    ``JudgeConfigError``. Thread-safe; call ``close()`` (or use ``with``) to free connections.
    """

    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.settings = settings = load_settings(kind, params)
        self.template = TEMPLATES[kind]
        self.base_url = settings.resolved_base_url()
        self.model = settings.resolved_model()
        api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        if not api_key and (urlsplit(self.base_url).hostname or "").endswith("openai.com"):
            raise JudgeConfigError(
                f"the judge at {self.base_url} needs an API key: set env {settings.api_key_env}"
                " (or judge.api_key_env to the variable that holds it)"
            )
        limiter = shared_limiter(
            self.base_url,
            self.model,
            settings.requests_per_minute,
            settings.tokens_per_minute,
            settings.max_concurrency,
        )
        try:
            self._cache = open_cache(settings.cache_size, settings.cache_path)
        except Exception as exc:  # sqlite3 / OS errors: a config problem to the user
            raise JudgeConfigError(f"judge.cache_path {settings.cache_path!r}: {exc}") from None
        self._client = ChatClient(settings, self.base_url, api_key or None, limiter)
        prices = {
            name.lower(): (p.input_per_million, p.output_per_million)
            for name, p in (settings.prices or {}).items()
        }
        self._prices = PriceTable(prices)
        self._handoff = _Handoff()

    def __repr__(self) -> str:
        return f"<LLMJudge {self.kind} model={self.model} base_url={self.base_url}>"

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        self._cache.close()

    def evaluate(self, trace: Trace) -> Result | None:
        """The verdict for one trace, ``None`` when not applicable; raises ``JudgeError``."""
        return self.evaluate_batch([trace])[0]

    def evaluate_batch(self, traces: Sequence[Trace]) -> list[Result | None]:
        """Verdicts in order, requested concurrently; raises if any trace failed."""
        jobs = [self._job(trace) for trace in traces]
        uses: dict[str, int] = {}
        for job in jobs:
            if job is not None:
                uses[job.key] = uses.get(job.key, 0) + 1
        outcomes: dict[str, Outcome] = {}
        todo: dict[str, _Job] = {}
        for job in jobs:
            if job is None or job.key in outcomes or job.key in todo:
                continue
            handed = self._handoff.take(job.key)
            cached = self._cache.get(job.key) if handed is None else None
            if handed is not None:
                outcomes[job.key] = handed
            elif cached is not None:
                outcomes[job.key] = self._from_cache(cached)
            else:
                todo[job.key] = job
        outcomes.update(self._run(list(todo.values())))
        errors = {
            i: outcome
            for i, job in enumerate(jobs)
            if job is not None and isinstance(outcome := outcomes[job.key], JudgeError)
        }
        if errors:
            first = next(iter(errors.values()))
            if len(traces) == 1:
                raise first
            for key, outcome in outcomes.items():
                if key in todo or isinstance(outcome, JudgeError):
                    self._handoff.put(key, outcome, uses[key])
            raise JudgeBatchError(
                f"{len(errors)} of {len(traces)} traces failed; first: "
                f"{type(first).__name__}: {first}",
                errors,
            )
        verdicts: list[Result | None] = []
        paid: set[str] = set()
        for job in jobs:
            if job is None:
                verdicts.append(None)
                continue
            verdict = cast(Result, outcomes[job.key])
            verdicts.append(_reused(verdict) if job.key in paid else verdict)
            paid.add(job.key)  # one request, so one trace carries its tokens and cost
        return verdicts

    def _job(self, trace: Trace) -> _Job | None:
        fields = prompt_fields(self.kind, trace, self.settings.max_field_chars)
        if fields is None:
            return None
        return _Job(cache_key(fields_digest_source(self.kind, self.model, fields)), fields)

    def _run(self, jobs: list[_Job]) -> dict[str, Outcome]:
        if len(jobs) <= 1:
            return {job.key: self._judge(job) for job in jobs}
        workers = min(len(jobs), self.settings.max_concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
            return dict(zip((job.key for job in jobs), pool.map(self._judge, jobs), strict=True))

    def _judge(self, job: _Job) -> Outcome:
        """One request; errors are returned, not raised, so a batch can finish."""
        settings = self.settings
        messages = build_messages(self.kind, job.fields)
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
        }
        if settings.json_mode:
            payload["response_format"] = {"type": "json_object"}
        estimated = sum(len(m["content"]) for m in messages) / 4 + settings.max_tokens
        try:
            call = self._client.complete(payload, estimated)
            verdict = parse_verdict(call.completion.content, self.template.labels)
        except JudgeError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected library error: still one trace only
            text = self._client.redact(str(exc))
            return JudgeRequestError(f"unexpected {type(exc).__name__}: {text}")
        completion = call.completion
        entry = {
            "score": verdict.score,
            "label": verdict.label,
            "rationale": verdict.rationale,
            "judge_model": completion.model or self.model,
        }
        self._cache.put(job.key, entry)
        return self._result(
            entry,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost_usd=self._cost(completion),
            attempts=call.attempts,
            cached=False,
        )

    def _from_cache(self, entry: dict[str, Any]) -> Result:
        """A cache hit spent nothing: zero tokens and cost, so metrics do not double count."""
        return self._result(entry, **_NOTHING_SPENT)

    def _result(self, entry: dict[str, Any], **spend: Any) -> Result:
        return Result(
            score=entry["score"],
            label=entry["label"],
            rationale=entry["rationale"],
            metadata={
                "judge_model": entry["judge_model"],
                "judge_kind": self.kind,
                "prompt_version": self.template.version,
                **spend,
            },
        )

    def _cost(self, completion: Completion) -> float | None:
        if completion.input_tokens is None and completion.output_tokens is None:
            return None
        price = self._prices.price_of(self.model) or self._prices.price_of(completion.model)
        if price is None:
            return None
        tokens_in, tokens_out = completion.input_tokens or 0, completion.output_tokens or 0
        return (tokens_in * price[0] + tokens_out * price[1]) / 1e6
