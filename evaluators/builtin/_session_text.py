"""What the built-in session evaluators share: turn texts and how rationales name turns."""

from __future__ import annotations

from collections.abc import Sequence

from evaluators.text import answer_text, question_text
from schemas.session import Session, SessionTurn

MAX_TURN_TEXT = 4_000
"""Characters of one turn's question or answer read (the stage already bounds what it keeps)."""


def question(turn: SessionTurn) -> str:
    return question_text(turn.trace.inputs)[:MAX_TURN_TEXT]


def answer(turn: SessionTurn) -> str:
    return answer_text(turn.trace.outputs)[:MAX_TURN_TEXT]


def turns_named(numbers: Sequence[int]) -> str:
    """``turn 3`` / ``turns 2 and 5`` / ``turns 1, 2 and 4`` (1-based numbers)."""
    numbers = sorted(set(numbers))
    if len(numbers) == 1:
        return f"turn {numbers[0]}"
    head = ", ".join(str(n) for n in numbers[:-1])
    return f"turns {head} and {numbers[-1]}"


def is_error(turn: SessionTurn) -> bool:
    """Failed turn: status ERROR, or the trace ``error`` evaluator failed it."""
    if turn.trace.status.value == "ERROR":
        return True
    result = turn.result("error")
    return result is not None and result.passed is False


def duration_seconds(session: Session) -> float:
    times = [t.trace.timestamp for t in session.turns if t.trace.timestamp is not None]
    return (max(times) - min(times)).total_seconds() if len(times) > 1 else 0.0
