"""PII redaction of traces before they are written anywhere (Parquet, topics).

A :class:`Redactor` is built once from configuration and then applied to every trace::

    redactor = Redactor.from_settings("email,phone,credit_card,ip,api_key")
    clean, counts = redactor.redact_trace_dict(trace.model_dump(mode="json"))

Built-in kinds (``BUILTIN_KINDS``: email, phone, credit_card, ip, api_key) and their regexes
live in :mod:`pipeline.redaction.patterns`; the configuration checks (kind lists, user
patterns, placeholder) in :mod:`pipeline.redaction.config`; which fields of a trace are
redacted in :mod:`pipeline.redaction.trace_fields`. This module holds the ``Redactor``:
applying the rules to text, to JSON-like values and to trace dicts.

Matches are replaced by ``placeholder.format(kind=kind)`` (default ``[REDACTED:email]``).
Text that is already a placeholder is never redacted again, so redaction is idempotent.
Rules run in a fixed order (user patterns, api_key, email, credit_card, ip, phone); a span
taken by an earlier rule is a placeholder by the time later rules run.

Cost: every rule has a cheap pre-check (``'@' in text`` for email, "has a digit" for phone
and cards, ...) so most strings skip most regexes; all regexes are compiled when the
``Redactor`` is built. Nothing is compiled at import time.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.redaction.config import (
    RedactionConfigError,
    compile_extra_pattern,
    parse_kind_list,
    render_placeholders,
    validate_kinds,
)
from pipeline.redaction.patterns import (
    ANY_DIGIT,
    API_HINTS,
    BUILTIN_KINDS,
    PRE_API,
    PRE_AT,
    PRE_BEARER,
    PRE_DIGIT,
    PRE_IPV4,
    PRE_IPV6,
    PRE_KEY,
    PRE_NONE,
    PRE_PLUS,
    Rule,
    compile_builtin_rules,
)
from pipeline.redaction.patterns import API_KEY as API_KEY
from pipeline.redaction.patterns import CREDIT_CARD as CREDIT_CARD
from pipeline.redaction.patterns import EMAIL as EMAIL
from pipeline.redaction.patterns import IP as IP
from pipeline.redaction.patterns import PHONE as PHONE
from pipeline.redaction.trace_fields import redact_trace_fields
from pipeline.redaction.walk import copy_redacted

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_KINDS",
    "DEFAULT_PLACEHOLDER",
    "RedactionConfigError",
    "Redactor",
]

DEFAULT_KINDS: tuple[str, ...] = BUILTIN_KINDS
DEFAULT_PLACEHOLDER = "[REDACTED:{kind}]"


class Redactor:
    """Replaces PII and secrets in strings, JSON-like values and trace dicts.

    ``kinds`` are built-in kinds (see ``BUILTIN_KINDS``); ``extra_patterns`` maps a name to a
    user regex (inline flags such as ``(?i)`` allowed) whose matches are replaced by the
    placeholder for that name. A Redactor with no kinds and no patterns is disabled
    (``enabled`` is False) and returns text unchanged. Instances are immutable and
    thread-safe.
    """

    def __init__(
        self,
        kinds: Iterable[str] = DEFAULT_KINDS,
        extra_patterns: Mapping[str, str] | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
    ) -> None:
        wanted = validate_kinds(kinds)
        self.kinds: tuple[str, ...] = tuple(k for k in BUILTIN_KINDS if k in wanted)

        rules: list[Rule] = []
        extra_names: list[str] = []
        for name, pattern in (extra_patterns or {}).items():
            rules.append(Rule(name, compile_extra_pattern(name, pattern), PRE_NONE, 1, None))
            extra_names.append(name)
        self.extra_patterns: dict[str, str] = dict(extra_patterns or {})
        rules.extend(compile_builtin_rules(wanted))
        self._rules: tuple[Rule, ...] = tuple(rules)

        rendered = render_placeholders(placeholder, (*BUILTIN_KINDS, *extra_names))
        self.placeholder = placeholder
        self._replacement: dict[str, str] = rendered
        # Existing placeholders are protected, which makes redaction idempotent.
        alternatives = sorted(set(rendered.values()), key=len, reverse=True)
        self._placeholder_re = re.compile("|".join(map(re.escape, alternatives)))

    # --- construction from settings --------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        enabled_kinds: str,
        *,
        extra_patterns: Mapping[str, str] | None = None,
        placeholder: str = DEFAULT_PLACEHOLDER,
    ) -> Redactor:
        """Build from a comma-separated list such as ``EVALSTREAM_REDACT``.

        ``"email,phone"`` enables those kinds; ``"all"`` enables every built-in kind;
        ``"none"`` or ``""`` disables built-in kinds (``extra_patterns`` still apply).
        Names are case-insensitive and surrounding whitespace is ignored.
        """
        return cls(
            parse_kind_list(enabled_kinds), extra_patterns=extra_patterns, placeholder=placeholder
        )

    @property
    def enabled(self) -> bool:
        """False when there is nothing to redact (no kinds, no extra patterns)."""
        return bool(self._rules)

    def __repr__(self) -> str:
        extras = sorted(self.extra_patterns)
        return f"Redactor(kinds={self.kinds!r}, extra_patterns={extras!r})"

    # --- text -------------------------------------------------------------------------------

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        """Return ``text`` with every match replaced, and the number of matches per kind.

        Kinds without matches are absent from the counts.
        """
        counts: dict[str, int] = {}
        if not text or not self._rules:
            return text, counts
        return self._redact_str(text, counts), counts

    def _redact_str(self, text: str, counts: dict[str, int]) -> str:
        # A replacement can expose a new match next to it (e.g. "a@b.cd.e@f.gh"), so repeat
        # until nothing changes: the result is a fixed point, which makes redaction
        # idempotent. Terminates because every replacement shrinks the text outside
        # placeholders; clean text (the common case) takes exactly one round.
        while True:
            redacted = self._redact_round(text, counts)
            if redacted is text:
                return text
            text = redacted

    def _redact_round(self, text: str, counts: dict[str, int]) -> str:
        size = len(text)
        digit: bool | None = None
        for rule in self._rules:
            if size < rule.min_len:
                continue
            pre = rule.precheck
            if pre in (PRE_DIGIT, PRE_IPV4, PRE_PLUS):
                if digit is None:
                    digit = ANY_DIGIT.search(text) is not None
                if not digit:
                    continue
                if pre == PRE_IPV4 and "." not in text:
                    continue
                if pre == PRE_PLUS and "+" not in text:
                    continue
            elif pre == PRE_AT:
                if "@" not in text:
                    continue
            elif pre == PRE_IPV6:
                if "::" not in text and text.count(":") < 7:
                    continue
            elif pre == PRE_API:
                if not any(hint in text for hint in API_HINTS):
                    continue
            elif pre == PRE_BEARER:
                if "Bearer" not in text:
                    continue
            elif pre == PRE_KEY:
                lowered = text.lower()
                if "api" not in lowered or "key" not in lowered:
                    continue
            text = self._apply(rule, text, counts)
            size = len(text)
        return text

    def _apply(self, rule: Rule, text: str, counts: dict[str, int]) -> str:
        first = rule.regex.search(text)
        if first is None:
            return text
        pieces: list[str] = []
        last = 0
        protected: list[tuple[int, int]] | None = None
        handler = rule.handler
        replacement = self._replacement[rule.kind]
        found = 0
        for m in rule.regex.finditer(text, first.start()):
            spans = [m.span()] if handler is None else handler(m)
            for start, end in spans:
                if end <= start or start < last:
                    continue
                if protected is None:
                    protected = [s.span() for s in self._placeholder_re.finditer(text)]
                if protected and _overlaps(protected, start, end):
                    continue
                pieces.append(text[last:start])
                pieces.append(replacement)
                last = end
                found += 1
        if not found:
            return text
        pieces.append(text[last:])
        counts[rule.kind] = counts.get(rule.kind, 0) + found
        return "".join(pieces)

    # --- JSON-like values -------------------------------------------------------------------

    def redact(self, value: Any) -> Any:
        """Return a redacted copy of a JSON-like value.

        Strings are redacted; dicts, lists and tuples are copied with their items redacted
        (dict keys are kept as they are); every other value (numbers, bools, None, ...) is
        returned unchanged. The input is never mutated.
        """
        return self._walk(value, {})

    def redact_with_counts(self, value: Any) -> tuple[Any, dict[str, int]]:
        """Like :meth:`redact`, also returning the number of matches per kind."""
        counts: dict[str, int] = {}
        return self._walk(value, counts), counts

    def _walk(self, value: Any, counts: dict[str, int]) -> Any:
        redact_str = self._redact_str if self._rules else None
        return copy_redacted(value, redact_str, counts)

    # --- traces -----------------------------------------------------------------------------

    def redact_trace_dict(self, trace: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        """Redact a trace given as a dict (e.g. ``Trace.model_dump(mode="json")``).

        Redacted: ``inputs``, ``outputs``, ``context``, ``expectations``, ``error``, ``tags``
        values, every field of each span except its ids/name/type/times/status (so
        ``inputs``, ``outputs``, ``attributes``, events, ...) and any unknown extra field.
        Never touched: ``trace_id``, ``timestamp``, ``model``, ``usage``, ``status``,
        ``schema_version``, numeric fields (``latency_ms``, ``cost_usd``, ...). Returns a new
        dict and the number of matches per kind; the input is not mutated.
        """
        counts: dict[str, int] = {}
        return redact_trace_fields(trace, lambda value: self._walk(value, counts)), counts


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps any of the sorted, disjoint ``spans``."""
    i = bisect_right(spans, (start, float("inf"))) - 1
    if i >= 0 and spans[i][1] > start:
        return True
    return i + 1 < len(spans) and spans[i + 1][0] < end
