"""``conversation_frustration``: signs that the user struggled, each naming its turns.

Three signals, each with a weight subtracted from 1.0 (score in [0, 1], higher is better):

* a question that repeats or rephrases one of the ``lookback`` questions before it (content
  words and character trigrams overlap by at least ``rephrase_similarity``): 0.35 each;
* negative feedback: phrases such as "that's not what I asked", "still doesn't work", "useless",
  a ``feedback`` tag of ``negative`` / ``thumbs_down``, or a failing ``user_feedback`` result:
  0.3 each;
* abandoned after an error: the last turn failed (or has no answer) and nothing followed: 0.4.

``frustrated`` below the threshold (0.5), ``friction`` when a signal was seen but the score
passes, ``smooth`` otherwise. A heuristic: two different questions on one topic can read as a
rephrase; the rationale names the turns so a reader can check.
"""

from __future__ import annotations

import re
from collections import Counter

from evaluators.base import Outcome, Result
from evaluators.builtin._session_text import answer, is_error, question, turns_named
from evaluators.session import SessionEvaluator
from schemas.session import Session, SessionTurn

REPHRASE_WEIGHT, NEGATIVE_WEIGHT, ABANDON_WEIGHT = 0.35, 0.3, 0.4
NEGATIVE = re.compile(
    r"not what i (?:asked|meant|wanted)|that'?s (?:not|wrong)|that is (?:not|wrong)|"
    r"wrong answer|(?:you )?didn'?t (?:answer|help|understand)|not (?:helpful|working)|"
    r"(?:does|do|did)(?:n'?t| not) (?:work|help)|useless|still (?:not|doesn'?t|broken|"
    r"the same)|i (?:already|just) (?:said|told|asked)|as i said|are you (?:even|listening)|"
    r"ridiculous|frustrat|annoy|(?:talk|speak) to a (?:human|person|agent)|real person|"
    r"\?\?+|!!+|\bno,? (?:that|this|it)\b",
    re.IGNORECASE,
)
NEGATIVE_TAGS = {"negative", "thumbs_down", "-1", "bad"}
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "how",
        "what",
        "why",
        "when",
        "where",
        "which",
        "who",
        "can",
        "could",
        "would",
        "should",
        "will",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "and",
        "or",
        "but",
        "not",
        "no",
        "so",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "please",
        "just",
        "again",
        "about",
        "tell",
        "know",
        "want",
        "need",
        "asked",
        "ask",
        "said",
    ]
)


def _words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w not in STOPWORDS}


def _trigrams(text: str) -> Counter:
    squeezed = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    return Counter(squeezed[i : i + 3] for i in range(max(0, len(squeezed) - 2)))


def similarity(a: str, b: str) -> float:
    """Mean of the content-word Jaccard and the character-trigram cosine of two questions."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    jaccard = len(wa & wb) / len(wa | wb)
    ta, tb = _trigrams(a), _trigrams(b)
    dot = sum(n * tb[g] for g, n in ta.items())
    norm = (sum(n * n for n in ta.values()) * sum(n * n for n in tb.values())) ** 0.5
    return (jaccard + (dot / norm if norm else 0.0)) / 2


def _negative(turn: SessionTurn) -> str | None:
    match = NEGATIVE.search(question(turn))
    if match:
        return f'"{match.group(0)}"'
    for key in ("feedback", "user_feedback"):
        if turn.trace.tags.get(key, "").lower() in NEGATIVE_TAGS:
            return f"{key} tag {turn.trace.tags[key]}"
    result = turn.result("user_feedback")
    if result is not None and result.passed is False:
        return "negative user_feedback result"
    return None


class ConversationFrustrationEvaluator(SessionEvaluator):
    """Rephrased questions, negative feedback and abandonment after an error."""

    name = "conversation_frustration"
    threshold = 0.5

    def __init__(self, rephrase_similarity: float = 0.45, lookback: int = 3) -> None:
        if not 0 < rephrase_similarity <= 1:
            raise ValueError("rephrase_similarity must be in (0, 1]")
        if lookback < 1:
            raise ValueError("lookback must be at least 1")
        self.rephrase_similarity = float(rephrase_similarity)
        self.lookback = int(lookback)

    def evaluate_session(self, session: Session) -> Outcome:
        questions = [question(t) for t in session]
        if not any(q.strip() for q in questions):
            return None
        findings: list[str] = []
        rephrased: list[list[int]] = []
        for j in range(1, len(questions)):
            for i in range(max(0, j - self.lookback), j):
                sim = similarity(questions[i], questions[j])
                if sim >= self.rephrase_similarity:
                    verb = "repeats" if sim >= 0.9 else "rephrases"
                    findings.append(f"turn {j + 1} {verb} turn {i + 1} (similarity {sim:.2f})")
                    rephrased.append([i + 1, j + 1])
                    break
        negative = []
        for number, turn in enumerate(session, 1):
            cue = _negative(turn) if number > 1 or turn.trace.tags else None
            if cue:
                negative.append(number)
                findings.append(f"turn {number} negative feedback ({cue})")
        last = session[len(session) - 1]
        abandoned = is_error(last) or not answer(last).strip()
        if abandoned:
            what = "failed" if is_error(last) else "got no answer"
            findings.append(f"abandoned after turn {len(session)} {what}")
        penalty = (
            REPHRASE_WEIGHT * len(rephrased)
            + NEGATIVE_WEIGHT * len(negative)
            + ABANDON_WEIGHT * abandoned
        )
        score = round(max(0.0, 1.0 - penalty), 4)
        if not findings:
            return Result(score=1.0, label="smooth", rationale=f"{len(session)} turns,"
                          " no rephrased question, negative feedback or abandonment")  # fmt: skip
        flagged = sorted({n for pair in rephrased for n in pair} | set(negative))
        label = "frustrated" if score < self.threshold else "friction"
        named = f"{turns_named(flagged)}: " if flagged else ""
        return Result(
            score=score,
            label=label,
            rationale=named + "; ".join(findings),
            metadata={
                "rephrased": rephrased,
                "negative_turns": negative,
                "abandoned": abandoned,
            },
        )
