"""The built-in PII kinds of :mod:`pipeline.redaction.redactor`: regexes, span finders, rule table.

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

Each kind is one or more rules: a regex source, a cheap pre-check (``PRE_*``, evaluated by
the ``Redactor``), a minimum text length and an optional span handler that narrows or
rejects a match (Luhn for cards, octet ranges for IPv4, digit counts for phones, the
``secret`` group of ``Bearer``/``api_key=``). The sources are compiled (``re.ASCII |
re.VERBOSE``) by :func:`compile_builtin_rules` when a ``Redactor`` is built, in
``APPLY_ORDER``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

EMAIL = "email"
PHONE = "phone"
CREDIT_CARD = "credit_card"
IP = "ip"
API_KEY = "api_key"

BUILTIN_KINDS: tuple[str, ...] = (EMAIL, PHONE, CREDIT_CARD, IP, API_KEY)

# Order in which built-in kinds are applied: secrets first (they contain digit runs and
# dots), then emails (local parts may contain digits), then number-shaped kinds.
APPLY_ORDER: tuple[str, ...] = (API_KEY, EMAIL, CREDIT_CARD, IP, PHONE)

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
API_HINTS = (
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
ANY_DIGIT = re.compile(r"\d", re.ASCII)


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
    return [m.span()] if ANY_DIGIT.search(m.group()) else []


def _secret_span(m: re.Match[str]) -> list[tuple[int, int]]:
    return [m.span("secret")]


Handler = Callable[[re.Match[str]], list[tuple[int, int]]] | None

# Pre-checks, evaluated inline in Redactor._redact_round (no function call per rule).
PRE_NONE = 0  # always run (user patterns)
PRE_AT = 1  # "@" in text
PRE_DIGIT = 2  # text has an ASCII digit
PRE_IPV4 = 3  # digit and "."
PRE_IPV6 = 4  # "::" or at least 7 ":"
PRE_API = 5  # one of API_HINTS
PRE_BEARER = 6  # "Bearer"
PRE_KEY = 7  # "api" and "key", any case
PRE_PLUS = 8  # digit and "+"


def _ipv4_spans(m: re.Match[str]) -> list[tuple[int, int]]:
    for octet in m.group().split("."):
        if int(octet) > 255 or (len(octet) > 1 and octet[0] == "0"):
            return []
    return [m.span()]


def _builtin_rules(kind: str) -> list[tuple[str, str, int, int, Handler]]:
    """(kind, regex source, pre-check, minimum text length, span handler) per rule."""
    if kind == EMAIL:
        return [(EMAIL, _EMAIL_RE, PRE_AT, 6, None)]
    if kind == CREDIT_CARD:
        return [(CREDIT_CARD, _CARD_CANDIDATE_RE, PRE_DIGIT, 13, _card_spans)]
    if kind == IP:
        # IPv6 first: it includes IPv4-embedded forms (::ffff:10.0.0.1).
        return [
            (IP, _IPV6_RE, PRE_IPV6, 3, _ipv6_spans),
            (IP, _IPV4_RE, PRE_IPV4, 7, _ipv4_spans),
        ]
    if kind == PHONE:
        return [
            (PHONE, _PHONE_INTL_RE, PRE_PLUS, 9, _phone_spans),
            (PHONE, _PHONE_NATIONAL_RE, PRE_DIGIT, 10, _phone_spans),
        ]
    if kind == API_KEY:
        return [
            (API_KEY, _API_TOKEN_RE, PRE_API, 14, None),
            (API_KEY, _BEARER_RE, PRE_BEARER, 15, _secret_span),
            (API_KEY, _KEY_VALUE_RE, PRE_KEY, 8, _secret_span),
        ]
    raise AssertionError(kind)  # pragma: no cover


class Rule:
    """One compiled rule: matches of ``regex`` (narrowed by ``handler``) become ``kind``."""

    __slots__ = ("handler", "kind", "min_len", "precheck", "regex")

    def __init__(
        self, kind: str, regex: re.Pattern[str], precheck: int, min_len: int, handler: Handler
    ) -> None:
        self.kind = kind
        self.regex = regex
        self.precheck = precheck
        self.min_len = min_len
        self.handler = handler


def compile_builtin_rules(kinds: Iterable[str]) -> list[Rule]:
    """The rules of the built-in ``kinds``, compiled, in ``APPLY_ORDER``."""
    wanted = set(kinds)
    rules: list[Rule] = []
    for kind in APPLY_ORDER:
        if kind in wanted:
            for rule_kind, source, precheck, min_len, handler in _builtin_rules(kind):
                regex = re.compile(source, re.ASCII | re.VERBOSE)
                rules.append(Rule(rule_kind, regex, precheck, min_len, handler))
    return rules
