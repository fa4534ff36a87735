"""The UI's plots: the report's server-side SVG charts fed with DuckDB aggregates.

Server-drawn SVG keeps the front end free of JavaScript (nothing to vendor, nothing a CDN
could serve) and every label goes through the chart module's HTML escaping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from pipeline.tools.report import svg

TICK_STEPS = (60, 300, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


def time_ticks(points: list[float], most: int = 7) -> list[tuple[float, str]]:
    """Round times over the plotted range (10:00, 10:30 ...), at most ``most`` of them."""
    if not points:
        return []
    first, last = min(points), max(points)
    span = last - first
    fmt = "%H:%M" if span <= 86400 else "%m-%d %H:%M" if span <= 7 * 86400 else "%Y-%m-%d"
    step = next((s for s in TICK_STEPS if span / s <= most), TICK_STEPS[-1])
    tick = -(-first // step) * step
    ticks = []
    while tick <= last:
        ticks.append((tick, datetime.fromtimestamp(tick, UTC).strftime(fmt)))
        tick += step
    return ticks or [(first, datetime.fromtimestamp(first, UTC).strftime(fmt))]


def _points(rows: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [(float(r["t"]), float(r[key])) for r in rows if r[key] is not None]


def overview_charts(series: list[dict[str, Any]], rates: list[dict[str, Any]]) -> dict[str, Markup]:
    """Volume, error rate, latency p50/p95, cost and pass rate per evaluator, over time."""
    ticks = time_ticks([float(r["t"]) for r in series])
    by_evaluator: dict[str, list[tuple[float, float]]] = {}
    for row in rates:
        by_evaluator.setdefault(row["evaluator"], []).append((float(row["t"]), float(row["rate"])))
    pct = {"y_range": (0.0, 1.0), "y_format": lambda v: f"{v:.0%}"}
    charts = {
        "volume": svg.line_chart(
            "traces per bucket", {"traces": _points(series, "traces")}, x_ticks=ticks,
            y_label="traces",
        ),
        "errors": svg.line_chart(
            "error rate", {"error rate": _points(series, "error_rate")}, x_ticks=ticks,
            y_label="error rate", **pct,
        ),
        "latency": svg.line_chart(
            "latency p50 / p95",
            {"p50": _points(series, "p50"), "p95": _points(series, "p95")},
            x_ticks=ticks, y_label="ms",
        ),
        "cost": svg.line_chart(
            "cost per bucket", {"cost (USD)": _points(series, "cost")}, x_ticks=ticks,
            y_label="USD",
        ),
        "pass_rates": svg.line_chart(
            "pass rate per evaluator", by_evaluator, x_ticks=ticks, y_label="pass rate", **pct
        ),
        "pass_legend": svg.legend(list(by_evaluator)),
        "latency_legend": svg.legend(["p50", "p95"]),
    }  # fmt: skip
    return {name: Markup(chart) for name, chart in charts.items()}


def evaluator_charts(detail: dict[str, Any]) -> dict[str, Markup]:
    rates = detail["pass_rates"]
    ticks = time_ticks([float(r["t"]) for r in rates])
    edges = [i / 10 for i in range(11)]
    charts = {
        "histogram": svg.bar_chart(
            "score histogram", edges, detail["histogram"], x_format=lambda v: f"{v:.1f}"
        ),
        "pass_rate": svg.line_chart(
            "pass rate over time", {"pass rate": _points(rates, "rate")}, x_ticks=ticks,
            y_label="pass rate", y_range=(0.0, 1.0), y_format=lambda v: f"{v:.0%}",
        ),
    }  # fmt: skip
    return {name: Markup(chart) for name, chart in charts.items()}
