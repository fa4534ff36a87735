"""Prometheus metrics of the worker and the receiver, served on ``EVALSTREAM_METRICS_PORT``.

The names are a contract with deploy/grafana (a test checks the dashboard uses only these).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

MESSAGES_CONSUMED = Counter(
    "evalstream_messages_consumed_total", "Messages read from the input topic."
)
TRACES_SCORED = Counter("evalstream_traces_scored_total", "Traces scored by the evaluators.")
DEAD_LETTERS = Counter(
    "evalstream_dead_letters_total", "Messages sent to the dead-letter topic.", ["reason"]
)
EVALUATOR_LATENCY = Histogram(
    "evalstream_evaluator_latency_seconds",
    "Time an evaluator spent per trace.",
    ["evaluator"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
EVALUATOR_ERRORS = Counter(
    "evalstream_evaluator_errors_total",
    "Results with an error (raised or timed out).",
    ["evaluator"],
)
SPAN_LIMIT_EXCEEDED = Counter(
    "evalstream_span_limit_exceeded_total",
    "Traces with more matching spans than a span-targeted evaluator may run on (apply_to).",
    ["evaluator"],
)
JUDGE_BUDGET_EXHAUSTED = Counter(
    "evalstream_judge_budget_exhausted_total",
    "Results whose cascade wanted the LLM judge while its budget was spent (the encoder's "
    "verdict stands; metadata.budget_exhausted).",
    ["evaluator"],
)
RESULTS_BY_TIER = Counter(
    "evalstream_results_by_tier_total",
    "Results of the quality cascade by the tier that decided them (metadata.tier: lexical, "
    "encoder, llm; other values count as other).",
    ["evaluator", "tier"],
)
SINK_FLUSH = Histogram(
    "evalstream_sink_flush_seconds", "Time to make a sink's pending data durable.", ["sink"]
)
SINK_ERRORS = Counter(
    "evalstream_sink_errors_total", "Failed writes to best-effort sinks.", ["sink"]
)
OTEL_RESULTS_LOST = Counter(
    "evalstream_otel_results_lost_total",
    "Evaluation results the OTLP result export could not deliver (queue_full, rejected, failed).",
    ["reason"],
)
CONSUMER_LAG = Gauge(
    "evalstream_consumer_lag",
    "Messages past the committed offset (end offset minus committed), per partition.",
    ["topic", "partition"],
)
CONSUMER_LAG_UNPROCESSED = Gauge(
    "evalstream_consumer_lag_unprocessed",
    "Messages not yet processed (end offset minus processed offset), per partition.",
    ["topic", "partition"],
)
RECEIVER_REQUESTS = Counter(
    "evalstream_receiver_requests_total", "OTLP requests answered, by status code.", ["code"]
)
RECEIVER_SPANS = Counter("evalstream_receiver_spans_total", "Spans accepted by the receiver.")
SESSIONS_CLOSED = Counter(
    "evalstream_sessions_closed_total", "Sessions closed and scored, by reason.", ["closed_by"]
)
SESSION_LIMIT_HITS = Counter(
    "evalstream_session_limit_hits_total",
    "Times a session memory bound was hit (open_sessions: the oldest closed early;"
    " turns: a session closed at its turn bound).",
    ["limit"],
)
SESSIONS_OPEN = Gauge(
    "evalstream_sessions_open", "Sessions held by this worker (open or waiting for late turns)."
)


def serve_metrics(port: int, host: str = "0.0.0.0") -> bool:
    """Start the /metrics endpoint; a port already taken is logged, not fatal."""
    if not port:
        return False
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("metrics endpoint not started on port %s: %s", port, exc)
        return False
    return True
