"""Turn a chat-completion body into a verdict, strictly.

Models wrap JSON in code fences or chat around it, so the first JSON object in the text is
taken; but the object itself must be right (a number score in [0, 1], a known label): a
verdict we cannot trust becomes an error result rather than a made-up score.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from evaluators.judges.exceptions import JudgeResponseError

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_SNIPPET = 200


@dataclass(frozen=True)
class Verdict:
    score: float
    label: str | None
    rationale: str | None


@dataclass(frozen=True)
class Completion:
    """The parts of a chat-completion response the judge uses."""

    content: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"


def parse_completion(body: bytes | str) -> Completion:
    """Read ``choices[0].message.content`` and ``usage`` from an OpenAI-style response body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        raise JudgeResponseError(f"judge response is not JSON: {_snippet(text)!r}") from None
    if not isinstance(data, dict):
        raise JudgeResponseError("judge response is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise JudgeResponseError("judge response has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        reason = choices[0].get("finish_reason")
        raise JudgeResponseError(f"judge response has no message content (finish: {reason})")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    model = data.get("model")
    return Completion(
        content=content,
        model=model if isinstance(model, str) else None,
        input_tokens=_count(usage.get("prompt_tokens", usage.get("input_tokens"))),
        output_tokens=_count(usage.get("completion_tokens", usage.get("output_tokens"))),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _candidates(text: str) -> list[str]:
    """Fenced blocks first, then the whole text."""
    return [m.group(1) for m in _FENCE.finditer(text)] + [text]


def _first_object(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for candidate in _candidates(text):
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    return None


def _normalise_label(value: Any, labels: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise JudgeResponseError(f"verdict label must be a string, got {value!r}")
    label = "_".join(value.strip().lower().replace("-", " ").split())
    if labels and label not in labels:
        raise JudgeResponseError(f"verdict label {value!r} is not one of {', '.join(labels)}")
    return label or None


def parse_verdict(text: str, labels: tuple[str, ...] = ()) -> Verdict:
    """The verdict in a judge's reply; ``JudgeResponseError`` says what was wrong with it."""
    obj = _first_object(text)
    if obj is None:
        raise JudgeResponseError(f"no JSON verdict in judge reply: {_snippet(text)!r}")
    if "score" not in obj:
        raise JudgeResponseError(f"verdict has no score: {_snippet(json.dumps(obj))!r}")
    score = obj["score"]
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise JudgeResponseError(f"verdict score must be a number, got {score!r}")
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise JudgeResponseError(f"verdict score {score!r} is outside [0, 1]")
    rationale = obj.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        rationale = json.dumps(rationale, ensure_ascii=False)
    return Verdict(
        score=float(score),
        label=_normalise_label(obj.get("label"), labels),
        rationale=rationale.strip() if rationale else None,
    )
