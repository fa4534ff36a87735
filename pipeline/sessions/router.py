"""Scored traces -> the session-turns topic, keyed by session id (the session stage's input).

Called by ``ScoreStage.send``: a trace with a session id is sent a second time, re-keyed, in
the same transaction as its scored-traces message, so the session stage sees exactly the
committed scored traces, each with its results, co-partitioned by session. The bytes are the
scored message's own (redacted, with the trace body); without ``store_traces`` the scored
message has no body, so the turn is encoded again with it.
"""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.size import TooLargeError
from schemas.session import session_id_of


class SessionRouter:
    def __init__(self, topic: str, with_body: RecordEncoder | None) -> None:
        self.topic = topic
        self.with_body = with_body  # None: the scored message already carries the body
        self.routed = 0

    @classmethod
    def create(cls, settings: Settings) -> SessionRouter | None:
        if not settings.sessions_enabled:
            return None
        encoder = None
        if not settings.store_traces:
            encoder = RecordEncoder.create(settings)
            encoder.with_body = True
        return cls(settings.session_turns_topic, encoder)

    def route(self, sender: Any, scored: list[tuple[Any, bytes]]) -> None:
        for record, body in scored:
            session_id = session_id_of(record.trace.tags)
            if session_id is None:
                continue
            value = body
            if self.with_body is not None:
                try:
                    value = self.with_body.scored(record)
                except TooLargeError:
                    value = body  # the turn without its texts, rather than no turn
            src = record.source
            sender.send(self.topic, session_id.encode(), value, src.topic, src.partition)
            self.routed += 1
