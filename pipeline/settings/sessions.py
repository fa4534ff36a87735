"""Settings of multi-turn session evaluation."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeline.settings.base import Section


class SessionsSection(Section):
    """Multi-turn session evaluation (docs/sessions.md)."""

    TITLE: ClassVar[str] = "Sessions (multi-turn evaluation, docs/sessions.md)"

    sessions_enabled: bool = Field(
        True,
        description="Group traces with a session id into sessions and run the session"
        " evaluators on each closed session.",
    )
    session_turns_topic: str = Field(
        "session-turns",
        description="Internal topic of scored traces re-keyed by session id (the session"
        " stage's input).",
    )
    scored_sessions_topic: str = Field(
        "scored-sessions", description="Topic of scored sessions (one message per closing)."
    )
    session_gap_seconds: float = Field(
        1800.0,
        gt=0,
        description="A session closes after this much event time (trace timestamps) without a"
        " turn.",
    )
    session_max_duration_seconds: float = Field(
        86_400.0, gt=0, description="A session closes once its turns span this long."
    )
    session_lateness_seconds: float = Field(
        300.0,
        ge=0,
        description="Watermark lateness: the watermark is the newest trace time seen on a"
        " partition minus this.",
    )
    session_grace_seconds: float = Field(
        3600.0,
        ge=0,
        description="After closing, a session is kept this much event time past its gap so a"
        " late turn re-opens it (session_version N+1); later ones start a new session.",
    )
    session_idle_seconds: float = Field(
        60.0,
        gt=0,
        description="A partition with no new turn for this long (wall clock) lets its watermark"
        " advance with the wall clock, so the last sessions close when traffic stops.",
    )
    session_max_open: int = Field(
        10_000,
        gt=0,
        description="Sessions one worker holds; past it the oldest is closed early (metric"
        " evalstream_session_limit_hits_total).",
    )
    session_max_turns: int = Field(
        100, gt=0, description="Turns per session; a session at the bound is closed and scored."
    )
    session_turn_text_bytes: int = Field(
        4096,
        ge=256,
        description="Longest input or output of a turn the session state keeps (UTF-8 bytes).",
    )
