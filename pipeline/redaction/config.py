"""Validation of a redaction configuration: kind lists, user patterns and the placeholder.

Used by :class:`pipeline.redaction.redactor.Redactor` when it is built; every problem is raised as
:class:`RedactionConfigError` (a ``SettingsError``, so a bad ``EVALSTREAM_REDACT*`` value is
reported like any other bad setting) with a message that names the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pipeline.exceptions import SettingsError
from pipeline.redaction.patterns import BUILTIN_KINDS

_KIND_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"


class RedactionConfigError(SettingsError, ValueError):
    """The redaction configuration (kinds, user patterns, placeholder) is invalid."""


def validate_kinds(kinds: Iterable[str]) -> list[str]:
    """The built-in ``kinds`` asked for, without duplicates, in the order given."""
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
    return wanted


def parse_kind_list(enabled_kinds: str) -> tuple[str, ...]:
    """The kinds of a comma-separated list such as ``EVALSTREAM_REDACT``.

    ``"email,phone"`` enables those kinds; ``"all"`` enables every built-in kind;
    ``"none"`` or ``""`` enables none. Names are case-insensitive and surrounding whitespace
    is ignored.
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
        return ()
    if "none" in names:
        raise RedactionConfigError(
            f"redaction kinds {enabled_kinds!r}: 'none' cannot be combined with other kinds"
        )
    if "all" in names:
        unknown = [n for n in names if n != "all" and n not in BUILTIN_KINDS]
        if unknown:
            raise RedactionConfigError(_unknown_kinds_message(enabled_kinds, unknown))
        return BUILTIN_KINDS
    unknown = [n for n in names if n not in BUILTIN_KINDS]
    if unknown:
        raise RedactionConfigError(_unknown_kinds_message(enabled_kinds, unknown))
    return tuple(names)


def compile_extra_pattern(name: Any, pattern: Any) -> re.Pattern[str]:
    """Compile the user pattern ``name``; it must be a valid regex that never matches ''."""
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


def render_placeholders(placeholder: str, kinds: Iterable[str]) -> dict[str, str]:
    """``placeholder.format(kind=kind)`` per kind; only ``{kind}`` may be used, and no
    rendering may be empty."""
    try:
        rendered = {k: placeholder.format(kind=k) for k in kinds}
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise RedactionConfigError(
            f"invalid placeholder {placeholder!r}: only '{{kind}}' may be used ({exc})"
        ) from None
    if any(not text for text in rendered.values()):
        raise RedactionConfigError("placeholder must not be empty")
    return rendered


def _can_match_empty(regex: re.Pattern[str]) -> bool:
    """Whether ``regex`` can produce a zero-length match (static width, else probing)."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        return _parser.parse(regex.pattern, regex.flags).getwidth()[0] == 0
    except Exception:  # private API changed: fall back to probing
        probes = ("", " ", "a", "a b", "0", "-", "\n", "x@y.z", "Aa1 !")
        return any(m.end() == m.start() for p in probes for m in regex.finditer(p))


def _unknown_kinds_message(raw: str, unknown: list[str]) -> str:
    return (
        f"unknown redaction kind(s) {', '.join(map(repr, unknown))} in {raw!r}; "
        f"valid: {', '.join(BUILTIN_KINDS)}, 'all' or 'none'"
    )
