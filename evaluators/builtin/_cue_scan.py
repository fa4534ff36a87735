"""All cues of a group in one pass over the text (Hyperscan), instead of one regex search each.

The safety cues (``_quality_lexicon``) are some twenty word alternations per group searched on
every request and answer; with Python's ``re`` that was about a third of the lexical tier's
time. Hyperscan compiles the whole group into one automaton and reports every pattern that
matches anywhere (no shadowing between alternatives), which is exactly "``search`` found
it" per pattern: the same cue names, about 100x faster.

Hyperscan's ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII (its UCP mode does not support
``\\b``), so other characters are first replaced by an ASCII stand-in of the same classes for
Python's ``re``: a Unicode digit by ``0``, another word character by ``_``, a space by ``\\v``,
anything else by ``#``. A cue pattern is lower-case ASCII and holds none of these as a
literal (checked when built), so it matches the stand-ins exactly where ``re`` matches the
originals. Patterns Hyperscan rejects (lookarounds) and a machine without the ``hyperscan``
package use ``re`` as before. The compiled database is kept in
``~/.cache/evalstream/cues`` (compiling takes a second or two), keyed by the patterns and the
Hyperscan version.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
CACHE_DIR = Path.home() / ".cache" / "evalstream" / "cues"
_LOCK = threading.Lock()
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_SCANNERS: dict[str, Callable | None] = {}

Patterns = list[tuple[str, re.Pattern[str]]]


def _compile(hyperscan, patterns: Patterns) -> tuple[object, list[str]]:
    """The Hyperscan block database of the patterns it supports, and their names (ids =
    positions in that list); the others are left to ``re``."""
    flags = hyperscan.HS_FLAG_SINGLEMATCH

    def compiled(chosen: Patterns):
        db = hyperscan.Database()
        db.compile(expressions=[p.pattern.encode() for _, p in chosen],
                   ids=list(range(len(chosen))), flags=[flags] * len(chosen))  # fmt: skip
        return db

    # Hyperscan has no lookarounds; try the rest in one compile, probe one by one if it fails
    supported = [(n, p) for n, p in patterns if not _LOOKAROUND.search(p.pattern)]
    try:
        return (compiled(supported), [n for n, _ in supported]) if supported else (None, [])
    except hyperscan.error:
        pass
    probed: Patterns = []
    for name, pattern in supported:
        try:
            compiled([(name, pattern)])
            probed.append((name, pattern))
        except hyperscan.error:
            pass
    supported = probed
    if not supported:
        return None, []
    return compiled(supported), [name for name, _ in supported]


def _database(hyperscan, patterns: Patterns) -> tuple[object, list[str]]:
    """``_compile``, cached on disk (compiling takes a second or two per group)."""
    key = hashlib.sha256(
        "\n".join([getattr(hyperscan, "__version__", "?"), *(p.pattern for _, p in patterns)])
        .encode()
    ).hexdigest()[:24]  # fmt: skip
    path, names_path = CACHE_DIR / f"{key}.hsdb", CACHE_DIR / f"{key}.names"
    if path.is_file() and names_path.is_file():
        try:
            names = names_path.read_text(encoding="utf-8").split()
            return hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK), names
        except Exception as exc:  # corrupt or from another build: compile again
            log.warning("cue scanner cache %s unreadable (%s): recompiling", path, exc)
    db, names = _compile(hyperscan, patterns)
    if db is None:
        return None, []
    try:  # best effort, as the encoder graph cache
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for target, data in ((names_path, " ".join(names).encode()), (path, hyperscan.dumpb(db))):
            fd, tmp = tempfile.mkstemp(dir=CACHE_DIR, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
    except OSError as exc:
        log.warning("cue scanner not cached in %s: %s", CACHE_DIR, exc)
    return db, names


_NON_ASCII = re.compile(r"[^\x00-\x7f]|[\x1c-\x1f]")
_STAND_INS = "0_\v#"
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")


def _stand_in(match: re.Match[str]) -> str:
    c = match.group()
    if c.isdecimal():  # re's \d on str: Unicode category Nd
        return "0"
    if c.isalnum():  # re's \w on str: alphanumeric or "_"
        return "_"
    return "\v" if c.isspace() else "#"


def ascii_stand_in(text: str) -> str:
    """``text`` with every non-ASCII character (and the ASCII separators \\x1c-\\x1f, which
    are ``\\s`` to ``re`` but not to Hyperscan) replaced by its ASCII stand-in."""
    return _NON_ASCII.sub(_stand_in, text)


def _literal_free(patterns: Patterns) -> bool:
    """No pattern holds a stand-in character outside a ``{m,n}`` quantifier."""
    return not any(c in _QUANTIFIER.sub("", p.pattern) for _, p in patterns for c in _STAND_INS)


def _build(patterns: Patterns) -> Callable | None:
    try:
        import hyperscan
    except ImportError:
        return None
    db, names = _database(hyperscan, patterns)
    if db is None:
        return None
    rest = [(name, pattern) for name, pattern in patterns if name not in names]
    local = threading.local()  # Hyperscan's scratch space is per scanning thread

    def on_match(pattern_id: int, start: int, end: int, flags: int, found: set[str]) -> None:
        found.add(names[pattern_id])

    stand_ins = _literal_free(patterns)

    def scan(text: str) -> set[str] | None:
        original = text
        if not text.isascii():
            if not stand_ins:
                return None
            text = ascii_stand_in(text)
        found: set[str] = set()
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = hyperscan.Scratch(db)
        db.scan(text.encode("ascii"), match_event_handler=on_match, context=found, scratch=scratch)
        found.update(name for name, pattern in rest if pattern.search(original))
        return found

    return scan


def scanner(group: str, patterns: Callable[[], Patterns]) -> Callable | None:
    """A function lower-cased text -> names of the ``group`` patterns found in it (``None``
    for a text it cannot scan exactly); ``None`` when Hyperscan is not installed.
    ``patterns``: the case-sensitive patterns, the same ``re`` would search."""
    with _LOCK:
        if group not in _SCANNERS:
            _SCANNERS[group] = _build(patterns())
        return _SCANNERS[group]
