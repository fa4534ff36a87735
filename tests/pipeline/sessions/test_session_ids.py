"""Every convention's session id lands in the one tag the session stage reads."""

from __future__ import annotations

import pytest

from pipeline.ingest.spans.conventions import spans_to_trace
from pipeline.ingest.spans.dicts import span_from_attributes
from schemas.session import ends_session, session_id_of


@pytest.mark.parametrize(
    "attribute", ["session.id", "gen_ai.conversation.id", "mlflow.trace.session",
                  "langfuse.session.id"],
)  # fmt: skip
def test_span_conventions_map_their_session_id_onto_the_session_id_tag(attribute):
    span = span_from_attributes({attribute: "conv-7"}, trace_id="a" * 32)
    span.update(start_ns=1_000_000_000, end_ns=2_000_000_000)
    trace = spans_to_trace([span])
    assert trace["tags"]["session_id"] == "conv-7"
    assert session_id_of(trace["tags"]) == "conv-7"


def test_native_traces_may_carry_a_convention_key_in_their_tags():
    assert session_id_of({"session_id": "a", "session.id": "b"}) == "a"
    assert session_id_of({"mlflow.trace.session": "m"}) == "m"
    assert session_id_of({"gen_ai.conversation.id": "g"}) == "g"
    assert session_id_of({"session_id": ""}) is None and session_id_of({}) is None
    assert ends_session({"session_end": "True"}) and not ends_session({"session_end": "no"})
