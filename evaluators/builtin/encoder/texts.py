"""What part of a text the encoder reads: the same clipping at training and at run time.

The cost of a transformer grows with the tokens it reads, and a verdict rarely needs more
than the opening of an answer (a refusal or a compliance shows in its first sentences) or the
two ends of a prompt (a jailbreak template wraps the actual request, often at its end).
"""

from __future__ import annotations

ANSWER_CHARS = 512
"""Opening of an answer read by the encoder (about 110 word pieces)."""
PROMPT_CHARS = 512
"""Characters of a prompt read: its first and last halves when longer."""


def clip_head(text: str, limit: int = ANSWER_CHARS) -> str:
    return " ".join(text[:limit].split())


def clip_ends(text: str, limit: int = PROMPT_CHARS) -> str:
    if len(text) <= limit:
        return " ".join(text.split())
    half = limit // 2
    return " ".join(f"{text[:half]} ... {text[-half:]}".split())
