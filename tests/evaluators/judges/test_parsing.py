"""Verdict parsing: tolerant of wrapping, strict about content."""

from __future__ import annotations

import json
import re

import pytest

from evaluators.judges import JudgeResponseError, parse_verdict
from evaluators.judges.parsing import parse_completion

LABELS = ("correct", "partially_correct", "incorrect")


@pytest.mark.parametrize(
    "text",
    [
        '{"score": 0.8, "label": "correct", "rationale": "matches"}',
        '```json\n{"score": 0.8, "label": "correct", "rationale": "matches"}\n```',
        '```\n{"score": 0.8, "label": "correct", "rationale": "matches"}\n```',
        'Here is my verdict:\n{"score": 0.8, "label": "Correct", "rationale": "matches"} Done.',
        'Thinking {not json} ... {"score": 0.8, "label": "correct", "rationale": "matches"}',
    ],
)
def test_wrapped_verdicts_parse(text: str) -> None:
    verdict = parse_verdict(text, LABELS)
    assert verdict.score == 0.8
    assert verdict.label == "correct"
    assert verdict.rationale == "matches"


def test_integer_score_label_normalised_and_braces_in_rationale() -> None:
    text = '{"score": 1, "label": "Partially-Correct", "rationale": "uses {braces} fine"}'
    verdict = parse_verdict(text, LABELS)
    assert verdict.score == 1.0 and isinstance(verdict.score, float)
    assert verdict.label == "partially_correct"
    assert verdict.rationale == "uses {braces} fine"


def test_label_and_rationale_are_optional() -> None:
    verdict = parse_verdict('{"score": 0}', LABELS)
    assert (verdict.score, verdict.label, verdict.rationale) == (0.0, None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I think it is fine.", "no JSON verdict"),
        ("", "no JSON verdict"),
        ("[0.5]", "no JSON verdict"),
        ('{"label": "correct"}', "no score"),
        ('{"score": "high"}', "must be a number"),
        ('{"score": true}', "must be a number"),
        ('{"score": 1.5}', "outside [0, 1]"),
        ('{"score": -0.1}', "outside [0, 1]"),
        ('{"score": NaN}', "outside [0, 1]"),
        ('{"score": 0.5, "label": "maybe"}', "not one of"),
        ('{"score": 0.5, "label": 3}', "must be a string"),
    ],
)
def test_bad_verdicts_are_rejected(text: str, message: str) -> None:
    with pytest.raises(JudgeResponseError, match=re.escape(message)):
        parse_verdict(text, LABELS)


def test_completion_body_is_read() -> None:
    body = {
        "model": "m-1",
        "choices": [{"message": {"role": "assistant", "content": '{"score": 1}'}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3},
    }
    completion = parse_completion(json.dumps(body).encode())
    assert completion.content == '{"score": 1}'
    assert (completion.model, completion.input_tokens, completion.output_tokens) == ("m-1", 12, 3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": [{"message": {"content": null}, "finish_reason": "length"}]}', "length"),
    ],
)
def test_bad_completion_bodies_are_rejected(body: bytes, message: str) -> None:
    with pytest.raises(JudgeResponseError, match=message):
        parse_completion(body)


def test_missing_usage_gives_unknown_tokens() -> None:
    body = {"choices": [{"message": {"content": "{}"}}]}
    completion = parse_completion(json.dumps(body))
    assert completion.input_tokens is None and completion.output_tokens is None
