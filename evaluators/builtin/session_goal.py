"""``goal_completion``: did the conversation end with the user's need met? A heuristic read of
the final turn: answered (a non-empty answer), not refused, not failed. A closing "thanks" turn
defers to the turn before it.
"""

from __future__ import annotations

import re

from evaluators.base import Outcome, Result
from evaluators.builtin._session_text import answer, is_error, question
from evaluators.session import SessionEvaluator
from schemas.session import Session

REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry,? (?:but )?i|i can(?:'|no)?t|i cannot|i won'?t|"
    r"i am unable|i'?m unable|i'?m not able|unfortunately,? i|as an ai)",
    re.IGNORECASE,
)
CLOSING = re.compile(
    r"^\W*(?:thanks?|thank you|thx|great|perfect|awesome|got it|that worked|it works|"
    r"solved|bye|goodbye|cheers)\b[\w\s,!.]{0,40}$",
    re.IGNORECASE,
)


def refused(turn) -> bool:
    result = turn.result("safety")
    if result is not None and result.label == "refused":
        return True
    return bool(REFUSAL.match(answer(turn)[:200]))


class GoalCompletionEvaluator(SessionEvaluator):
    """1.0 when the final turn was answered, not refused and did not fail; else lower."""

    name = "goal_completion"
    threshold = 0.5

    def evaluate_session(self, session: Session) -> Outcome:
        final = len(session)
        last = session[final - 1]
        confirmed = False
        if final > 1 and CLOSING.match(question(last).strip()):
            confirmed, final, last = True, final - 1, session[final - 2]
        if is_error(last):
            why = f"turn {final} (the last) failed: {last.trace.error or 'status ERROR'}"
            return Result(score=0.0, label="failed", rationale=why)
        if not answer(last).strip():
            return Result(
                score=0.0, label="unanswered", rationale=f"turn {final} (the last) has no answer"
            )
        if refused(last):
            return Result(
                score=0.25, label="refused", rationale=f"turn {final} (the last) was refused"
            )
        why = f"turn {final} answered without refusal or error"
        if confirmed:
            why += f"; turn {final + 1} confirms it"
        return Result(score=1.0, label="confirmed" if confirmed else "completed", rationale=why)
