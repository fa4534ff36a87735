"""PII redaction of traces before they are written anywhere (Parquet, topics).

A :class:`Redactor` is built once from configuration and then applied to every trace::

    redactor = Redactor.from_settings("email,phone,credit_card,ip,api_key")
    clean, counts = redactor.redact_trace_dict(trace.model_dump(mode="json"))

Built-in kinds (``BUILTIN_KINDS``):

``email``
    ``local@domain.tld`` (ASCII local part and domain, alphabetic TLD).
``phone``
    International numbers with a ``+`` country code (``+1 (415) 555-2671``, ``+44 20 7946 0958``,
    ``+14155552671``), North-American ``415-555-2671`` / ``(415) 555-2671`` / ``415.555.2671``
    and trunk-prefixed national numbers (``020 7946 0958``); 8 to 15 digits in all.
``credit_card``
    13 to 19 digits, optionally grouped with single spaces or dashes, starting with 2-6 (the
    issuer ranges of the card networks) and passing the Luhn checksum.
``ip``
    IPv4 with octets 0-255 (not ``1.2.3``, not ``999.1.1.1``) and IPv6 in full, compressed
    (``2001:db8::1``, ``::1``) and IPv4-embedded (``::ffff:10.0.0.1``) forms.
``api_key``
    OpenAI/Anthropic ``sk-``, AWS ``AKIA``/``ASIA`` key ids, GitHub ``ghp_``/``gho_``/...,
    ``github_pat_``, Slack ``xox?-``, Google ``AIza``, Stripe ``sk_live_``/``rk_live_`` (and
    ``_test_``), JWTs, the token of ``Bearer <token>`` and the value of ``api_key=<value>``
    (also ``apiKey:``, ``"api-key": "..."``, ``OPENAI_API_KEY=``). For the last two only the
    secret is replaced; ``Bearer``/``api_key=`` are kept.

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipeline.exceptions import SettingsError

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_KINDS",
    "DEFAULT_PLACEHOLDER",
    "RedactionConfigError",
    "Redactor",
]

EMAIL = "email"
PHONE = "phone"
CREDIT_CARD = "credit_card"
IP = "ip"
API_KEY = "api_key"

BUILTIN_KINDS: tuple[str, ...] = (EMAIL, PHONE, CREDIT_CARD, IP, API_KEY)
DEFAULT_KINDS: tuple[str, ...] = BUILTIN_KINDS
DEFAULT_PLACEHOLDER = "[REDACTED:{kind}]"

# Order in which built-in kinds are applied: secrets first (they contain digit runs and
# dots), then emails (local parts may contain digits), then number-shaped kinds.
_APPLY_ORDER: tuple[str, ...] = (API_KEY, EMAIL, CREDIT_CARD, IP, PHONE)

# Top-level trace fields and span fields that are never redacted (identifiers, times,
# model names, token usage, numbers). Every other field is redacted, including unknown
# extra fields (traces are ``extra="allow"``), so new fields cannot leak PII by default.
TRACE_FIELDS_KEPT = frozenset(
    {
        "schema_version",
        "trace_id",
        "timestamp",
        "status",
        "latency_ms",
        "model",
        "usage",
        "cost_usd",
    }
)
SPAN_FIELDS_KEPT = frozenset(
    {"span_id", "parent_id", "trace_id", "name", "span_type", "start_time", "end_time", "status"}
)

_KIND_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"

# --- regex sources (compiled per Redactor, with re.ASCII) ---------------------------------

_EMAIL_RE = r"""
(?<![\w.%+-])
[\w.%+-]+ @ (?:[A-Za-z0-9-]+\.)+ [A-Za-z]{2,63}
(?![\w-])
"""

# Performance note: every pattern starts with a literal or a character class, with the
# "not inside a word" lookbehind placed *after* the first character, so the regex engine can
# skip to candidate positions instead of trying a match at every offset (about 5x faster).

# A run of >= 13 digits separated by single spaces/dashes; the handler finds the card in it.
_CARD_CANDIDATE_RE = r"""
\d(?<![\w.,]\d) (?:[ -]?\d){12,}
(?!\w|[.,]\d)
"""

# Dotted quad; the handler checks that each octet is 0-255.
_IPV4_RE = r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\w|\.\d)"

_H = r"[0-9A-Fa-f]{1,4}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IPV6 = rf"""(?:
    ::(?:[Ff]{{4}}(?::0{{1,4}})?:)?{_IPV4}
  | (?:{_H}:){{1,4}}:{_IPV4}
  | (?:{_H}:){{6}}{_IPV4}
  | (?:{_H}:){{7}}{_H}
  | (?:{_H}:){{1,7}}:
  | (?:{_H}:){{1,6}}:{_H}
  | (?:{_H}:){{1,5}}(?::{_H}){{1,2}}
  | (?:{_H}:){{1,4}}(?::{_H}){{1,3}}
  | (?:{_H}:){{1,3}}(?::{_H}){{1,4}}
  | (?:{_H}:){{1,2}}(?::{_H}){{1,5}}
  | {_H}:(?::{_H}){{1,6}}
  | :(?::{_H}){{1,7}}
)"""
# Do not start inside a word, after a dot, or in the middle of an address ("x:" / "::").
_IPV6_RE = rf"(?<![\w.])(?<![0-9A-Fa-f]:)(?<!::){_IPV6}(?![\w:]|\.\d)"

# International numbers with a "+" country code (8-15 digits, checked by the handler).
_PHONE_INTL_RE = r"""
\+(?<![\w+]\+)
(?:
    [1-9]\d{7,14}                                               # E.164: +14155552671
  | [1-9]\d{0,2} (?:[ .-]?\(\d{1,4}\))? [ .-]?\d{1,5} (?:[ .-]\d{1,5}){1,5}
)
(?!\w|[.-]\d)
"""

# North-American (415-555-2671, (415) 555-2671) and trunk-prefixed (020 7946 0958) numbers.
_PHONE_NATIONAL_RE = r"""
[(\d](?<![\w+.(-][(\d])
(?:
    (?<=\()\d{3}\)[ .-]?\d{3}[ .-]\d{4}
  | (?<=\d)\d{2}[ .-]\d{3}[ .-]\d{4}
  | (?<=0)[1-9]\d{0,3}[ .-]\d{3,4}[ .-]?\d{3,4}
)
(?!\w|[.-]\d)
"""

_API_TOKEN_RE = r"""
(?:
    s(?<![\w-]s)k
    (?: -(?=[\w-]*\d)[A-Za-z0-9_-]{20,}                 # OpenAI sk-/sk-proj-, Anthropic sk-ant-
      | _(?:live|test)_[0-9A-Za-z]{16,} )               # Stripe secret key
  | r(?<![\w-]r)k_(?:live|test)_[0-9A-Za-z]{16,}        # Stripe restricted key
  | A(?<![\w-]A)
    (?: (?:KIA|SIA)[0-9A-Z]{16}                         # AWS access key id
      | Iza[0-9A-Za-z_-]{35} )                          # Google API key
  | g(?<![\w-]g)
    (?: h[pousr]_[A-Za-z0-9]{36,}                       # GitHub tokens
      | ithub_pat_[A-Za-z0-9_]{22,} )                   # GitHub fine-grained PAT
  | x(?<![\w-]x)ox[baprs]-[A-Za-z0-9-]{10,}             # Slack
  | e(?<![\w-]e)yJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*  # JWT
)
(?![\w-])
"""
# Substrings one of which every _API_TOKEN_RE match contains (cheap pre-check).
_API_HINTS = (
    "sk-", "sk_", "rk_", "AKIA", "ASIA", "AIza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "github_pat_", "xox", "eyJ",
)  # fmt: skip

# Only the ``secret`` group is replaced; "Bearer " is kept.
_BEARER_RE = r"""
Bearer(?<!\wBearer)[ \t]+
(?P<secret>(?=[\w.~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,})
(?![\w.~+/=-])
"""

# Only the value is replaced; the key ("api_key=", '"apiKey": "') is kept.
_KEY_VALUE_RE = r"""
(?i:api[_-]?key)["']?[ \t]*[:=][ \t]*["']?
(?P<secret>[^\s"'`,;&]+)
"""


class RedactionConfigError(SettingsError, ValueError):
    """The redaction configuration (kinds, user patterns, placeholder) is invalid."""


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return (
        13 <= len(digits) <= 19
        and digits[0] in "23456"
        and digits.count(digits[0]) != len(digits)
        and _luhn_ok(digits)
    )


_DIGIT_RUN = re.compile(r"\d+", re.ASCII)
_ANY_DIGIT = re.compile(r"\d", re.ASCII)


# Group layouts (digits per group) in which card numbers are printed, when grouped.
_CARD_LAYOUTS = frozenset(
    {(4, 6, 4), (4, 6, 5), (4, 4, 4, 4)}
    | {(4, 4, 4, k) for k in (1, 2, 3)}
    | {(4, 4, 4, 4, k) for k in (1, 2, 3)}
)


def _card_spans(m: re.Match[str]) -> list[tuple[int, int]]:
    """Card numbers inside a candidate digit run (leftmost-longest valid spans).

    A card is either one run of 13-19 digits or groups in a printed card layout (4-4-4-4,
    4-6-5, 4-4-4-4-3, ...) with one consistent separator.
    """
    text = m.group()
    base = m.start()
    groups = [g.span() for g in _DIGIT_RUN.finditer(text)]
    spans: list[tuple[int, int]] = []
    i, n = 0, len(groups)
    while i < n:
        best = -1
        for j in range(i, min(n, i + 5)):
            start, end = groups[i][0], groups[j][1]
            if j > i:
                layout = tuple(e - s for s, e in groups[i : j + 1])
                if layout not in _CARD_LAYOUTS:
                    continue
                if len({text[groups[k][1]] for k in range(i, j)}) != 1:
                    break
            digits = text[start:end].replace(" ", "").replace("-", "")
            if len(digits) > 19:
                break
            if _is_card(digits):
                best = j
        if best >= 0:
            spans.append((base + groups[i][0], base + groups[best][1]))
            i = best + 1
        else:
            i += 1
    return spans


def _phone_spans(m: re.Match[str]) -> list[tuple[int, int]]:
    text = m.group()
    digits = sum(ch.isdigit() for ch in text)
    return [m.span()] if 8 <= digits <= 15 else []


def _ipv6_spans(m: re.Match[str]) -> list[tuple[int, int]]:
    # Real addresses virtually always contain a digit; "a::b" or "dead::beef" in code do not.
    return [m.span()] if _ANY_DIGIT.search(m.group()) else []


def _secret_span(m: re.Match[str]) -> list[tuple[int, int]]:
    return [m.span("secret")]


_Handler = Callable[[re.Match[str]], list[tuple[int, int]]] | None

# Pre-checks, evaluated inline in Redactor._redact_str (no function call per rule).
_PRE_NONE = 0  # always run (user patterns)
_PRE_AT = 1  # "@" in text
_PRE_DIGIT = 2  # text has an ASCII digit
_PRE_IPV4 = 3  # digit and "."
_PRE_IPV6 = 4  # "::" or at least 7 ":"
_PRE_API = 5  # one of _API_HINTS
_PRE_BEARER = 6  # "Bearer"
_PRE_KEY = 7  # "api" and "key", any case
_PRE_PLUS = 8  # digit and "+"


def _ipv4_spans(m: re.Match[str]) -> list[tuple[int, int]]:
    for octet in m.group().split("."):
        if int(octet) > 255 or (len(octet) > 1 and octet[0] == "0"):
            return []
    return [m.span()]


def _builtin_rules(kind: str) -> list[tuple[str, str, int, int, _Handler]]:
    """(kind, regex source, pre-check, minimum text length, span handler) per rule."""
    if kind == EMAIL:
        return [(EMAIL, _EMAIL_RE, _PRE_AT, 6, None)]
    if kind == CREDIT_CARD:
        return [(CREDIT_CARD, _CARD_CANDIDATE_RE, _PRE_DIGIT, 13, _card_spans)]
    if kind == IP:
        # IPv6 first: it includes IPv4-embedded forms (::ffff:10.0.0.1).
        return [
            (IP, _IPV6_RE, _PRE_IPV6, 3, _ipv6_spans),
            (IP, _IPV4_RE, _PRE_IPV4, 7, _ipv4_spans),
        ]
    if kind == PHONE:
        return [
            (PHONE, _PHONE_INTL_RE, _PRE_PLUS, 9, _phone_spans),
            (PHONE, _PHONE_NATIONAL_RE, _PRE_DIGIT, 10, _phone_spans),
        ]
    if kind == API_KEY:
        return [
            (API_KEY, _API_TOKEN_RE, _PRE_API, 14, None),
            (API_KEY, _BEARER_RE, _PRE_BEARER, 15, _secret_span),
            (API_KEY, _KEY_VALUE_RE, _PRE_KEY, 8, _secret_span),
        ]
    raise AssertionError(kind)  # pragma: no cover


def _can_match_empty(regex: re.Pattern[str]) -> bool:
    """Whether ``regex`` can produce a zero-length match (static width, else probing)."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        return _parser.parse(regex.pattern, regex.flags).getwidth()[0] == 0
    except Exception:  # private API changed: fall back to probing
        probes = ("", " ", "a", "a b", "0", "-", "\n", "x@y.z", "Aa1 !")
        return any(m.end() == m.start() for p in probes for m in regex.finditer(p))


class _Rule:
    __slots__ = ("handler", "kind", "min_len", "precheck", "regex")

    def __init__(
        self, kind: str, regex: re.Pattern[str], precheck: int, min_len: int, handler: _Handler
    ) -> None:
        self.kind = kind
        self.regex = regex
        self.precheck = precheck
        self.min_len = min_len
        self.handler = handler


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
        if isinstance(kinds, str):
            raise RedactionConfigError(
                "kinds must be an iterable of kind names, not a string "
                "(use Redactor.from_settings for a comma-separated list)"
            )
        wanted = []
        for kind in kinds:
            if kind not in BUILTIN_KINDS:
                raise RedactionConfigError(
                    f"unknown redaction kind {kind!r}; valid kinds: {', '.join(BUILTIN_KINDS)}"
                )
            if kind not in wanted:
                wanted.append(kind)
        self.kinds: tuple[str, ...] = tuple(k for k in BUILTIN_KINDS if k in wanted)

        rules: list[_Rule] = []
        extra_names: list[str] = []
        for name, pattern in (extra_patterns or {}).items():
            rules.append(_Rule(name, self._compile_extra(name, pattern), _PRE_NONE, 1, None))
            extra_names.append(name)
        self.extra_patterns: dict[str, str] = dict(extra_patterns or {})
        for kind in _APPLY_ORDER:
            if kind in wanted:
                for rule_kind, source, precheck, min_len, handler in _builtin_rules(kind):
                    regex = re.compile(source, re.ASCII | re.VERBOSE)
                    rules.append(_Rule(rule_kind, regex, precheck, min_len, handler))
        self._rules: tuple[_Rule, ...] = tuple(rules)

        try:
            rendered = {k: placeholder.format(kind=k) for k in (*BUILTIN_KINDS, *extra_names)}
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise RedactionConfigError(
                f"invalid placeholder {placeholder!r}: only '{{kind}}' may be used ({exc})"
            ) from None
        if any(not text for text in rendered.values()):
            raise RedactionConfigError("placeholder must not be empty")
        self.placeholder = placeholder
        self._replacement: dict[str, str] = rendered
        # Existing placeholders are protected, which makes redaction idempotent.
        alternatives = sorted(set(rendered.values()), key=len, reverse=True)
        self._placeholder_re = re.compile("|".join(map(re.escape, alternatives)))

    @staticmethod
    def _compile_extra(name: Any, pattern: Any) -> re.Pattern[str]:
        if not isinstance(name, str) or not re.fullmatch(_KIND_NAME, name):
            raise RedactionConfigError(
                f"extra pattern name {name!r} must be an identifier ([A-Za-z_][A-Za-z0-9_]*)"
            )
        if name in BUILTIN_KINDS:
            raise RedactionConfigError(
                f"extra pattern name {name!r} clashes with a built-in kind; choose another"
            )
        if not isinstance(pattern, str):
            raise RedactionConfigError(
                f"extra pattern {name!r} must be a regex string, got {type(pattern).__name__}"
            )
        try:
            regex = re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise RedactionConfigError(
                f"extra pattern {name!r} is not a valid regular expression: {exc}"
            ) from None
        if _can_match_empty(regex):
            raise RedactionConfigError(
                f"extra pattern {name!r} ({pattern!r}) can match the empty string; "
                "it must always consume at least one character"
            )
        return regex

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
        if enabled_kinds is None:
            enabled_kinds = ""
        if not isinstance(enabled_kinds, str):
            raise RedactionConfigError(
                f"enabled kinds must be a comma-separated string, got {enabled_kinds!r}"
            )
        names = [part.strip().lower() for part in enabled_kinds.split(",")]
        names = [name for name in names if name]
        if not names or names == ["none"]:
            kinds: tuple[str, ...] = ()
        elif "none" in names:
            raise RedactionConfigError(
                f"redaction kinds {enabled_kinds!r}: 'none' cannot be combined with other kinds"
            )
        elif "all" in names:
            unknown = [n for n in names if n != "all" and n not in BUILTIN_KINDS]
            if unknown:
                raise RedactionConfigError(_unknown_kinds_message(enabled_kinds, unknown))
            kinds = BUILTIN_KINDS
        else:
            unknown = [n for n in names if n not in BUILTIN_KINDS]
            if unknown:
                raise RedactionConfigError(_unknown_kinds_message(enabled_kinds, unknown))
            kinds = tuple(names)
        return cls(kinds, extra_patterns=extra_patterns, placeholder=placeholder)

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
            if pre in (_PRE_DIGIT, _PRE_IPV4, _PRE_PLUS):
                if digit is None:
                    digit = _ANY_DIGIT.search(text) is not None
                if not digit:
                    continue
                if pre == _PRE_IPV4 and "." not in text:
                    continue
                if pre == _PRE_PLUS and "+" not in text:
                    continue
            elif pre == _PRE_AT:
                if "@" not in text:
                    continue
            elif pre == _PRE_IPV6:
                if "::" not in text and text.count(":") < 7:
                    continue
            elif pre == _PRE_API:
                if not any(hint in text for hint in _API_HINTS):
                    continue
            elif pre == _PRE_BEARER:
                if "Bearer" not in text:
                    continue
            elif pre == _PRE_KEY:
                lowered = text.lower()
                if "api" not in lowered or "key" not in lowered:
                    continue
            text = self._apply(rule, text, counts)
            size = len(text)
        return text

    def _apply(self, rule: _Rule, text: str, counts: dict[str, int]) -> str:
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

    def _walk(self, value: Any, counts: dict[str, int], depth: int = 0) -> Any:
        """Copy-and-redact; recursive (fast) for normal depths, iterative beyond that."""
        if isinstance(value, str):
            return self._redact_str(value, counts) if value and self._rules else value
        if isinstance(value, dict):
            if depth > _MAX_RECURSION:
                return self._walk_iterative(value, counts)
            depth += 1
            return {k: self._walk(v, counts, depth) for k, v in value.items()}
        if isinstance(value, list | tuple):
            if depth > _MAX_RECURSION:
                return self._walk_iterative(value, counts)
            depth += 1
            items = [self._walk(v, counts, depth) for v in value]
            return items if isinstance(value, list) else tuple(items)
        return value

    def _walk_iterative(self, value: Any, counts: dict[str, int]) -> Any:
        """Iterative copy-and-redact: no recursion limit; shared/cyclic containers kept."""
        enabled = bool(self._rules)
        memo: dict[int, Any] = {}
        tuples: list[tuple[Any, Any, list[Any]]] = []  # (parent, key, list-to-freeze)

        def copy_of(src: Any, parent: Any, key: Any) -> Any:
            dst: Any = {} if isinstance(src, dict) else [None] * len(src)
            memo[id(src)] = dst
            if isinstance(src, tuple):
                tuples.append((parent, key, dst))
            stack.append((src, dst))
            return dst

        root: list[Any] = [None]
        stack: list[tuple[Any, Any]] = []
        root[0] = copy_of(value, root, 0)
        while stack:
            src, dst = stack.pop()
            items = src.items() if isinstance(src, dict) else enumerate(src)
            for key, item in items:
                if isinstance(item, str):
                    dst[key] = self._redact_str(item, counts) if item and enabled else item
                elif isinstance(item, dict | list | tuple):
                    seen = memo.get(id(item))
                    dst[key] = seen if seen is not None else copy_of(item, dst, key)
                else:
                    dst[key] = item
        # Freeze tuples innermost-first (they were created parent-first).
        for parent, key, lst in reversed(tuples):
            parent[key] = tuple(lst)
        return root[0]

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
        out: dict[str, Any] = {}
        for key, value in trace.items():
            if key in TRACE_FIELDS_KEPT or value is None or isinstance(value, int | float):
                out[key] = value
            elif key == "spans" and isinstance(value, list):
                out[key] = [self._redact_span(span, counts) for span in value]
            else:
                out[key] = self._walk(value, counts)
        return out, counts

    def _redact_span(self, span: Any, counts: dict[str, int]) -> Any:
        if not isinstance(span, Mapping):
            return self._walk(span, counts)
        return {
            key: (
                value
                if key in SPAN_FIELDS_KEPT or value is None or isinstance(value, int | float)
                else self._walk(value, counts)
            )
            for key, value in span.items()
        }


_MAX_RECURSION = 64


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps any of the sorted, disjoint ``spans``."""
    i = bisect_right(spans, (start, float("inf"))) - 1
    if i >= 0 and spans[i][1] > start:
        return True
    return i + 1 < len(spans) and spans[i + 1][0] < end


def _unknown_kinds_message(raw: str, unknown: list[str]) -> str:
    return (
        f"unknown redaction kind(s) {', '.join(map(repr, unknown))} in {raw!r}; "
        f"valid: {', '.join(BUILTIN_KINDS)}, 'all' or 'none'"
    )
