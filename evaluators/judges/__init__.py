"""LLM-judge backend of the quality evaluators (``backend = "llm"``).

    from evaluators.judges import LLMJudge
    judge = LLMJudge(kind="correctness", model="gpt-4o-mini", requests_per_minute=500)
    results = judge.evaluate_batch(traces)   # list[Result | None]; None = not applicable

Talks to any OpenAI-compatible ``/chat/completions`` endpoint over httpx. See
``docs/llm-judge.md`` for the parameters, what is recorded and a TOML example.
"""

from evaluators.judges.exceptions import (
    JudgeBatchError,
    JudgeConfigError,
    JudgeError,
    JudgeRequestError,
    JudgeResponseError,
    JudgeTimeoutError,
)
from evaluators.judges.judge import LLMJudge
from evaluators.judges.parsing import Verdict, parse_verdict
from evaluators.judges.prompts import TEMPLATES, PromptTemplate
from evaluators.judges.settings import KINDS, JudgeSettings, load_settings

__all__ = [
    "KINDS",
    "TEMPLATES",
    "JudgeBatchError",
    "JudgeConfigError",
    "JudgeError",
    "JudgeRequestError",
    "JudgeResponseError",
    "JudgeSettings",
    "JudgeTimeoutError",
    "LLMJudge",
    "PromptTemplate",
    "Verdict",
    "load_settings",
    "parse_verdict",
]
