"""``contains_citation``: does a RAG answer point at the documents it was given?

Answers that cite their sources (``[1]``, ``[2]`` ... numbered like the ``context`` list) are
easier to verify; an answer with no citation, or one citing a document that was never
retrieved, is a sign of an answer made up outside the context.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evaluators import Result, evaluator

_MARKER = re.compile(r"\[(\d{1,3})\]")


def _text(outputs: Any) -> str:
    """Outputs may be any JSON (a string, a dict, chat messages): judge their text."""
    if isinstance(outputs, str):
        return outputs
    return json.dumps(outputs, ensure_ascii=False)


@evaluator(name="contains_citation", version="1")
def contains_citation(outputs: Any, context: list[str] | None, min_citations: int = 1) -> Result:
    """Score 1 when the answer cites at least ``min_citations`` retrieved documents.

    Returns ``None`` (not applicable) for traces without retrieved context: there was
    nothing to cite.
    """
    if not context:
        return None
    cited = sorted({int(n) for n in _MARKER.findall(_text(outputs or ""))})
    valid = [n for n in cited if 1 <= n <= len(context)]
    invalid = [n for n in cited if n not in valid]
    if invalid:
        return Result(
            score=0.0,
            label="invalid_citation",
            rationale=f"cites [{', '.join(map(str, invalid))}] but only {len(context)}"
            " documents were retrieved",
        )
    ok = len(valid) >= min_citations
    return Result(
        score=1.0 if ok else 0.0,
        label="cited" if ok else "uncited",
        rationale=f"cites {len(valid)} of {len(context)} retrieved documents"
        f" (needs {min_citations})",
        metadata={"cited": valid},
    )
