"""Evaluation results to an OTLP/HTTP backend, next to the traces they judge.

Each ``EvaluationResult`` becomes a span named ``gen_ai.evaluation.result`` inside the
evaluated trace (same OTel trace id), child of the evaluated span, carrying the OpenTelemetry
GenAI attributes ``gen_ai.evaluation.name``, ``gen_ai.evaluation.score.value``,
``gen_ai.evaluation.score.label``, ``gen_ai.evaluation.explanation`` and ``error.type``, plus
a span event of the same name and attributes. The conventions define
``gen_ai.evaluation.result`` as an event (a log record) parented to the evaluated span; trace
backends (Jaeger, Tempo, Phoenix, Langfuse, MLflow) show spans and span events, not log
records, so this sink sends the span form to a traces endpoint.

Linkage: the OTel trace id is ``tags["otel_trace_id"]`` (traces assembled from OTLP spans),
else the trace_id itself when it is 32 hex digits (or MLflow's ``tr-<32 hex>``), else a
deterministic substitute (the first 16 bytes of SHA-256 of the trace_id), so a trace's results
at least share one synthetic trace. The parent is the result's ``span_id``, else the root
span. Result span ids are deterministic as well: re-exporting after a redelivery yields the
same span ids, which backends that deduplicate by id collapse.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from pipeline.exceptions import SinkError

if TYPE_CHECKING:  # pipeline.evaluate.scorer pulls in the evaluators; the sink needs only the types
    from pipeline.evaluate.scorer import ScoredRecord
    from schemas import EvaluationResult, Trace

log = logging.getLogger(__name__)

EVENT_NAME = "gen_ai.evaluation.result"
_HEX32 = re.compile(r"(?:tr-)?([0-9a-f]{32})")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_ERROR_TYPE = re.compile(r"([A-Za-z_][\w.]*)(?::|$)")


class OtlpExportError(SinkError):
    """Results were not accepted by the OTLP endpoint; the batch must not be acked."""


def otel_trace_id(trace: Trace) -> tuple[bytes, bool]:
    """The 16-byte OTel trace id of ``trace`` and whether it is the real one (not derived)."""
    for candidate in (trace.tags.get("otel_trace_id", ""), trace.trace_id):
        match = _HEX32.fullmatch(candidate.strip().lower())
        if match and int(match.group(1), 16):
            return bytes.fromhex(match.group(1)), True
    return hashlib.sha256(trace.trace_id.encode()).digest()[:16], False


def evaluated_span_id(trace: Trace, result: EvaluationResult) -> bytes:
    """The span the result is about: its own ``span_id``, else the root span; b"" if none."""
    candidates = [result.span_id or ""]
    candidates += [s.span_id or "" for s in trace.spans or [] if not s.parent_id]
    for candidate in candidates:
        if _HEX16.fullmatch(candidate.lower()) and int(candidate, 16):
            return bytes.fromhex(candidate)
    return b""


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(values: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_value(v)) for k, v in values.items() if v is not None]


def result_attributes(trace: Trace, result: EvaluationResult) -> dict[str, Any]:
    """GenAI semantic-convention attributes, plus ``evalstream.*`` for what they lack."""
    label = result.label
    if label is None and result.passed is not None:
        label = "pass" if result.passed else "fail"
    error_type = None
    if result.error:
        found = _ERROR_TYPE.match(result.error)
        timed_out = result.error.startswith("timed out")
        error_type = "timeout" if timed_out else found.group(1) if found else "_OTHER"
    return {
        "gen_ai.evaluation.name": result.evaluator,
        "gen_ai.evaluation.score.value": float(result.score) if result.score is not None else None,
        "gen_ai.evaluation.score.label": label,
        "gen_ai.evaluation.explanation": result.rationale,
        "error.type": error_type,
        "evalstream.trace_id": trace.trace_id,
        "evalstream.app": trace.app,
        "evalstream.evaluator.version": result.evaluator_version,
        "evalstream.evaluation.passed": result.passed,
        "evalstream.evaluation.source": result.source.value,
        "evalstream.span_id": result.span_id,
    }


def result_span(trace: Trace, result: EvaluationResult, end_ns: int) -> Span:
    trace_id, real = otel_trace_id(trace)
    parent = evaluated_span_id(trace, result)
    seed = f"{trace_id.hex()}|{parent.hex()}|{result.evaluator}|{result.evaluator_version}"
    if result.span_id and parent.hex() != result.span_id.lower():
        # a span id that is no OTel id (the parent fell back to the root): still one id per
        # span result, not one for all of an evaluator's span results in the trace
        seed += f"|{result.span_id}"
    span_id = hashlib.sha256(seed.encode()).digest()[:8]
    values = result_attributes(trace, result)
    if not real:  # say so: this id links the results to each other, not to the app's trace
        values["evalstream.otel_trace_id_derived"] = True
    attributes = _attributes(values)
    status = Status(code=Status.STATUS_CODE_ERROR, message=result.error) if result.error else None
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=EVENT_NAME,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=end_ns - int((result.latency_ms or 0) * 1_000_000),
        end_time_unix_nano=end_ns,
        attributes=attributes,
        events=[Span.Event(time_unix_nano=end_ns, name=EVENT_NAME, attributes=attributes)],
        status=status,
    )


class OtlpResultExporter:
    """Blocking OTLP/HTTP protobuf export; the worker calls ``export`` in an executor."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 10,
        headers: Mapping[str, str] | None = None,
        retry_budget: float = 60.0,
        service_name: str = "evalstream",
        max_spans_per_request: int = 2000,
    ) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"OTLP endpoint must be an http(s) URL, got {endpoint!r}")
        if parts.path in ("", "/"):  # a bare collector address: use the standard traces path
            endpoint = urllib.parse.urlunsplit(parts._replace(path="/v1/traces"))
        self.endpoint = endpoint
        self.timeout = timeout
        self.retry_budget = retry_budget
        self.headers = {"Content-Type": "application/x-protobuf", **dict(headers or {})}
        self.max_spans = max_spans_per_request
        self._resource = Resource(attributes=_attributes({"service.name": service_name}))
        self._scope = InstrumentationScope(name="evalstream")

    def export(self, records: Sequence[ScoredRecord]) -> None:
        """Send every result of ``records``; raises ``OtlpExportError`` when not accepted."""
        end_ns = time.time_ns()
        spans = [
            result_span(record.trace, result, end_ns)
            for record in records
            for result in record.results
        ]
        for start in range(0, len(spans), self.max_spans):
            request = ExportTraceServiceRequest(
                resource_spans=[
                    ResourceSpans(
                        resource=self._resource,
                        scope_spans=[
                            ScopeSpans(
                                scope=self._scope, spans=spans[start : start + self.max_spans]
                            )
                        ],
                    )
                ]
            )
            self._post(request.SerializeToString())

    def _post(self, body: bytes) -> None:
        """POST with exponential backoff (and ``Retry-After``) on 429, 5xx and network errors."""
        deadline = time.monotonic() + self.retry_budget
        attempt = 0
        while True:
            attempt += 1
            retry_after = None
            try:
                request = urllib.request.Request(self.endpoint, body, self.headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    self._check_partial_success(response.read())
                return
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}: {exc.read()[:200]!r}"
                if exc.code != 429 and exc.code < 500:
                    raise OtlpExportError(f"{self.endpoint} rejected results: {reason}") from None
                retry_after = _seconds(exc.headers.get("Retry-After"))
            except OSError as exc:  # connection refused, timeout, DNS
                reason = repr(exc)
            delay = retry_after or min(0.5 * 2 ** (attempt - 1), 10.0) * random.uniform(0.5, 1.0)
            if time.monotonic() + delay > deadline:
                raise OtlpExportError(
                    f"{self.endpoint} did not accept results after {attempt} attempts"
                    f" within {self.retry_budget:.0f}s; last error: {reason}"
                )
            log.debug(  # the caller reports what is finally lost (otel_queue: once per interval)
                "OTLP export attempt %d failed (%s); retrying in %.1fs", attempt, reason, delay
            )
            time.sleep(delay)

    def _check_partial_success(self, body: bytes) -> None:
        try:
            response = ExportTraceServiceResponse.FromString(body)
        except Exception:  # some backends answer 200 with an empty or JSON body
            return
        partial = response.partial_success
        if partial.rejected_spans:
            log.warning(
                "%s rejected %d result spans: %s",
                self.endpoint,
                partial.rejected_spans,
                partial.error_message,
            )


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
