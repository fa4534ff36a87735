"""OtlpResultExporter against a local OTLP/HTTP sink (stdlib http.server on loopback)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from pipeline.scoring import ScoredRecord, SourcedTrace
from pipeline.sinks.otel_results import OtlpExportError, OtlpResultExporter
from schemas import EvaluationResult, Trace

OTEL_TRACE = "5b8efff798038103d269b633813fc60c"
ROOT, CHILD = "eee19b7ec3c1b174", "aaa19b7ec3c1b175"


class _Sink:
    """Answers with the queued status codes (then 200) and keeps every parsed request."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], ExportTraceServiceRequest]] = []


@pytest.fixture
def sink() -> Iterator[tuple[_Sink, str]]:
    state = _Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), ExportTraceServiceRequest.FromString(body)))
            status = state.statuses.pop(0) if state.statuses else 200
            payload = ExportTraceServiceResponse().SerializeToString() if status == 200 else b"busy"
            self.send_response(status)
            if status != 200:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


def _record(trace: Trace, *results: EvaluationResult) -> ScoredRecord:
    return ScoredRecord(SourcedTrace(trace, "traces", 0, 7), list(results), None)


def _otel_trace() -> Trace:
    return Trace(
        trace_id="tr-mlflow-1",
        tags={"otel_trace_id": OTEL_TRACE, "app": "support-bot"},
        spans=[{"span_id": ROOT, "name": "chat"}, {"span_id": CHILD, "parent_id": ROOT}],
    )


def _spans(state: _Sink) -> list[Span]:
    return [
        span
        for _, request in state.requests
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def _attrs(span: Span) -> dict:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def test_results_become_evaluation_spans_inside_the_evaluated_trace(sink) -> None:
    state, url = sink
    exporter = OtlpResultExporter(url, headers={"Authorization": "Bearer t0k"})
    exporter.export(
        [
            _record(
                _otel_trace(),
                EvaluationResult(
                    evaluator="correctness", score=0.8, passed=True, rationale="matches facts"
                ),
                EvaluationResult(evaluator="safety", score=1.0, label="safe", span_id=CHILD),
                EvaluationResult(evaluator="judge", error="timed out after 5s", latency_ms=5000),
            )
        ]
    )
    headers, _ = state.requests[0]
    assert headers["Authorization"] == "Bearer t0k"
    assert headers["Content-Type"] == "application/x-protobuf"
    spans = {_attrs(s)["gen_ai.evaluation.name"]: s for s in _spans(state)}
    assert set(spans) == {"correctness", "safety", "judge"}
    for span in spans.values():
        assert span.name == "gen_ai.evaluation.result"
        assert span.trace_id == bytes.fromhex(OTEL_TRACE)
        assert [e.name for e in span.events] == ["gen_ai.evaluation.result"]
        assert span.events[0].attributes == span.attributes
    correctness = _attrs(spans["correctness"])
    assert correctness["gen_ai.evaluation.score.value"] == 0.8
    assert correctness["gen_ai.evaluation.score.label"] == "pass"
    assert correctness["gen_ai.evaluation.explanation"] == "matches facts"
    assert correctness["evalstream.trace_id"] == "tr-mlflow-1"
    assert "evalstream.otel_trace_id_derived" not in correctness
    assert spans["correctness"].parent_span_id == bytes.fromhex(ROOT)
    assert spans["safety"].parent_span_id == bytes.fromhex(CHILD)
    assert _attrs(spans["safety"])["gen_ai.evaluation.score.label"] == "safe"
    judge = spans["judge"]
    assert _attrs(judge)["error.type"] == "timeout"
    assert "gen_ai.evaluation.score.value" not in _attrs(judge)
    assert judge.status.code == Status.STATUS_CODE_ERROR
    assert judge.end_time_unix_nano - judge.start_time_unix_nano == 5_000_000_000


def test_ids_without_an_otel_trace_are_deterministic_and_flagged(sink) -> None:
    state, url = sink
    exporter = OtlpResultExporter(url.removesuffix("/v1/traces"))  # bare address: path added
    mlflow = Trace(trace_id=f"tr-{OTEL_TRACE}")
    plain = Trace(trace_id="order-42")
    result = EvaluationResult(evaluator="latency", score=0.5, error="ValueError: boom")
    for _ in range(2):
        exporter.export([_record(mlflow, result), _record(plain, result)])
    first, second = _spans(state)[:2], _spans(state)[2:]
    assert [s.span_id for s in first] == [s.span_id for s in second]
    assert first[0].trace_id == bytes.fromhex(OTEL_TRACE)
    assert first[1].trace_id == hashlib.sha256(b"order-42").digest()[:16]
    assert _attrs(first[1])["evalstream.otel_trace_id_derived"] is True
    assert first[1].parent_span_id == b""
    assert _attrs(first[1])["error.type"] == "ValueError"


def test_span_results_with_non_otel_span_ids_get_one_otel_span_each(sink) -> None:
    """apply_to results of spans whose ids are not OTel ids (``search-1``) fall back to the
    root as parent; they still get distinct span ids and name their span in an attribute."""
    state, url = sink
    exporter = OtlpResultExporter(url)
    trace = Trace(trace_id="agent-7", spans=[{"span_id": ROOT, "name": "agent"}])
    results = [
        EvaluationResult(evaluator="tool_latency", score=1.0, span_id=f"search-{i}")
        for i in range(3)
    ]
    exporter.export([_record(trace, *results)])
    spans = _spans(state)
    assert len({s.span_id for s in spans}) == 3
    assert {s.parent_span_id for s in spans} == {bytes.fromhex(ROOT)}
    assert [_attrs(s)["evalstream.span_id"] for s in spans] == ["search-0", "search-1", "search-2"]


def test_503_then_200_is_retried(sink) -> None:
    state, url = sink
    state.statuses = [503, 429]
    OtlpResultExporter(url).export(
        [_record(_otel_trace(), EvaluationResult(evaluator="x", score=1.0))]
    )
    assert len(state.requests) == 3
    assert all(
        r.SerializeToString() == state.requests[0][1].SerializeToString() for _, r in state.requests
    )


def test_gives_up_with_a_clear_error(sink) -> None:
    state, url = sink
    state.statuses = [503] * 100
    exporter = OtlpResultExporter(url, retry_budget=0.5)
    record = _record(_otel_trace(), EvaluationResult(evaluator="x", score=1.0))
    with pytest.raises(OtlpExportError, match=r"did not accept results after \d+ attempts"):
        exporter.export([record])
    state.statuses = [400]
    count = len(state.requests)
    with pytest.raises(OtlpExportError, match="HTTP 400"):
        exporter.export([record])
    assert len(state.requests) == count + 1  # a permanent error is not retried


def test_unreachable_endpoint_raises_after_budget() -> None:
    from pipeline.kafka.broker import free_port

    exporter = OtlpResultExporter(f"http://127.0.0.1:{free_port()}/v1/traces", retry_budget=0.3)
    with pytest.raises(OtlpExportError, match="ConnectionRefused"):
        exporter.export([_record(_otel_trace(), EvaluationResult(evaluator="x", score=1.0))])


def test_worker_exports_every_result_when_an_endpoint_is_set(
    sink, kafka_bootstrap, new_topic, tmp_path
) -> None:
    """The worker wiring: EVALSTREAM_OTEL_RESULTS_ENDPOINT sends each result as a span."""
    import orjson
    from kafka_helpers import produce
    from worker_process import run_worker, worker_env

    from pipeline.sample_traces import sample_traces

    state, endpoint = sink
    topic = new_topic()
    config = tmp_path / "two.toml"
    config.write_text("[evaluators.latency]\n[evaluators.error]\n")
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(40, seed=8)])
    env = worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "pq",
        EVALSTREAM_CONFIG=str(config),
        EVALSTREAM_OTEL_RESULTS_ENDPOINT=endpoint,
    )
    run_worker(env)
    names = [(_attrs(s)["gen_ai.evaluation.name"]) for s in _spans(state)]
    assert sorted(names) == sorted(["latency", "error"] * 40)
