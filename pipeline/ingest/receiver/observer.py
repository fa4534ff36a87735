"""What the receiver reports about its work, as an observer (faust's sensors idea): the
front ends and the publisher call it, never a metrics library directly.

``PrometheusReceiverObserver`` is the default and feeds the metrics of ``pipeline.prometheus``
(``evalstream_receiver_requests_total{code}``, ``evalstream_receiver_spans_total``); tests
and embedders inject their own.
"""

from __future__ import annotations

from typing import Protocol

from pipeline import prometheus


class ReceiverObserver(Protocol):
    def on_answer(self, code: str) -> None:
        """A request was answered: the HTTP status ("200") or the gRPC code name ("OK")."""

    def on_spans_accepted(self, count: int) -> None:
        """Kafka acknowledged ``count`` spans of one request."""


class PrometheusReceiverObserver:
    def on_answer(self, code: str) -> None:
        prometheus.RECEIVER_REQUESTS.labels(code).inc()

    def on_spans_accepted(self, count: int) -> None:
        prometheus.RECEIVER_SPANS.inc(count)
