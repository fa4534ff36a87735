"""``evalstream report PARQUET_DIR -o report.html``: one self-contained HTML page.

Everything (CSS, SVG plots) is inline and a Content-Security-Policy forbids any fetch, so the
page opens offline, from a CI artifact or an e-mail attachment, and can never leak data to a
CDN. Plots are drawn server-side (``svg``); numbers come from ``data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd

from pipeline.sinks.dataset import Root
from pipeline.tools.report import data, svg

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827;
background:#f9fafb}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}
.sub{color:#6b7280;margin-bottom:16px}.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.tile{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px 14px;min-width:110px}
.tile b{display:block;font-size:20px}.tile span{color:#6b7280;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(590px,1fr));gap:14px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 14px}
svg.chart{max-width:100%;height:auto;font-size:11px}svg .grid{stroke:#e5e7eb}
svg .axis{stroke:#9ca3af}svg .tick{fill:#4b5563}svg .label{fill:#374151;font-size:12px}
svg .hit{fill:transparent}svg .marker{stroke:#111827;stroke-dasharray:3 3}
svg .marker-label{font-size:10px;fill:#111827}svg .empty{fill:#9ca3af;font-size:14px}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px;margin-top:4px}
.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid #e5e7eb;
padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f4f6}td.num{text-align:right}
td.why{max-width:520px}.small{display:inline-block;width:48%;margin:0 1% 8px 0}
code{font-size:12px}
"""


TICK_STEPS = ("1min", "5min", "15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D", "7D")


def _time_ticks(frame: pd.DataFrame, rule: str, most: int = 7) -> list[tuple[float, str]]:
    """Round times (10:00, 10:30 ...) over the bucket starts every time series uses."""
    start, end = frame["timestamp"].min().floor(rule), frame["timestamp"].max().floor(rule)
    span = (end - start).total_seconds()
    fmt = "%H:%M" if span <= 86400 else "%m-%d %H:%M" if span <= 7 * 86400 else "%Y-%m-%d"
    for step in TICK_STEPS:
        ticks = pd.date_range(start.ceil(step), end, freq=step)
        if len(ticks) <= most:
            break
    return [(ts.timestamp(), ts.strftime(fmt)) for ts in ticks] or [
        (start.timestamp(), start.strftime(fmt))
    ]


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def _ms(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.3g} ms"


def _section(title: str, *body: str, note: str = "") -> str:
    hint = f'<div class="sub">{escape(note)}</div>' if note else ""
    return f"<section><h2>{escape(title)}</h2>{hint}{''.join(body)}</section>"


def _tiles(rows: pd.DataFrame, traces: data.Traces) -> str:
    t = traces.frame
    judged = rows["passed"].dropna()
    pcts = traces.latency_percentiles()
    tiles = [
        (f"{len(t):,}", "traces"),
        (f"{len(rows):,}", "evaluations"),
        (_pct(judged.astype(float).mean() if len(judged) else float("nan")), "pass rate"),
        (_pct((t["status"] == "ERROR").mean()), "trace error rate"),
        (_pct(rows["error"].notna().mean()), "evaluator error rate"),
        (_ms(pcts.get(95, float("nan"))), "latency p95"),
        (f"${t['cost_usd'].sum():,.4f}", "cost"),
        (f"{int(t['input_tokens'].sum() + t['output_tokens'].sum()):,}", "tokens"),
    ]
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in tiles
        )
        + "</div>"
    )


def _pass_rates(rows: pd.DataFrame, rule: str, ticks: list) -> str:
    series = data.pass_rate_over_time(rows, rule)
    chart = svg.line_chart(
        "pass rate per evaluator over time", series, x_ticks=ticks, y_label="pass rate",
        y_range=(0.0, 1.0), y_format=lambda v: f"{v:.0%}",
    )  # fmt: skip
    return _section(
        "Pass rate per evaluator", chart, svg.legend(list(series)),
        note=f"share of passed evaluations per {rule} bucket (errors and not-applicable excluded)",
    )  # fmt: skip


def _scores(rows: pd.DataFrame) -> str:
    hists = data.score_histograms(rows)
    edges = [i / 10 for i in range(11)]
    charts = []
    for i, (name, counts) in enumerate(hists.items()):
        chart = svg.bar_chart(
            f"score distribution: {name}",
            edges,
            counts,
            fill=svg.color(i),
            x_format=lambda v: f"{v:.1f}",
        )
        charts.append(f'<div class="small"><div class="legend">{escape(name)}</div>{chart}</div>')
    return _section(
        "Score distributions",
        *charts or [svg.empty_chart("scores")],
        note="scores in [0, 1], higher is better; one histogram per evaluator",
    )


def _latency(traces: data.Traces, summary: pd.DataFrame) -> str:
    edges, counts = data.latency_histogram(traces.frame["latency_ms"])
    pcts = traces.latency_percentiles()
    chart = svg.bar_chart(
        "trace latency histogram", edges, counts, x_format=lambda v: f"{v:,.0f}",
        markers=[(v, f"p{p}") for p, v in pcts.items() if p in (50, 95, 99)],
    )  # fmt: skip
    table = "".join(f"<th>p{p}</th>" for p in pcts)
    values = "".join(f'<td class="num">{_ms(v)}</td>' for v in pcts.values())
    evals = "".join(
        f"<tr><td>{escape(str(name))}</td><td class='num'>{_ms(r.p50_ms)}</td>"
        f"<td class='num'>{_ms(r.p95_ms)}</td></tr>"
        for name, r in summary.iterrows()
    )
    return _section(
        "Latency", chart,
        f"<table><tr>{table}</tr><tr>{values}</tr></table><br>"
        f"<table><tr><th>evaluator</th><th>eval p50</th><th>eval p95</th></tr>{evals}</table>",
        note="application latency per trace (x axis cut at the 99.5th percentile)",
    )  # fmt: skip


def _cost_tokens(traces: data.Traces, rule: str, ticks: list) -> str:
    t = traces.frame
    cost = svg.line_chart(
        "cost over time", {"cost (USD)": data.time_series(t["cost_usd"], t["timestamp"], rule,
                                                           "sum")},
        x_ticks=ticks, y_label="USD",
    )  # fmt: skip
    tokens = {
        "input tokens": data.time_series(t["input_tokens"], t["timestamp"], rule, "sum"),
        "output tokens": data.time_series(t["output_tokens"], t["timestamp"], rule, "sum"),
    }
    chart = svg.line_chart("tokens over time", tokens, x_ticks=ticks, y_label="tokens")
    return _section(
        "Cost and tokens",
        cost,
        svg.legend(["cost (USD)"]),
        chart,
        svg.legend(list(tokens)),
        note=f"sums per {rule} bucket",
    )


def _errors(rows: pd.DataFrame, traces: data.Traces, summary: pd.DataFrame, rule, ticks) -> str:
    t = traces.frame
    series = {
        "traces with status ERROR": data.time_series(
            (t["status"] == "ERROR").astype(float), t["timestamp"], rule, "rate"),
        "evaluator errors": data.time_series(
            rows["error"].notna().astype(float), rows["timestamp"], rule, "rate"),
    }  # fmt: skip
    chart = svg.line_chart(
        "error rate over time",
        series,
        x_ticks=ticks,
        y_label="error rate",
        y_format=lambda v: f"{v:.0%}",
    )
    colors = {name: svg.color(i) for i, name in enumerate(summary.index)}
    per_eval = svg.hbar_chart(
        "evaluator error rate", sorted(summary["error_rate"].items(), key=lambda kv: -kv[1]),
        value_format=_pct, colors=colors,
    )  # fmt: skip
    return _section(
        "Error rate",
        chart,
        svg.legend(list(series)),
        per_eval,
        note="trace errors reported by the app; evaluator errors = raised/timed out",
    )


def _worst(rows: pd.DataFrame) -> str:
    body = "".join(
        f"<tr><td><code>{escape(str(r.trace_id))}</code></td><td class='num'>{r.failures}</td>"
        f"<td class='num'>{'–' if pd.isna(r.score) else f'{r.score:.2f}'}</td>"
        f"<td>{escape(r.evaluators)}</td><td class='why'>{escape(r.why)}</td>"
        f"<td>{r.timestamp:%Y-%m-%d %H:%M:%S}</td></tr>"
        for r in data.worst(rows).itertuples()
    )
    names = ("trace id", "failed", "min score", "evaluators", "rationale / error", "time")
    head = "".join(f"<th>{h}</th>" for h in names)
    return _section(
        "Worst traces",
        f'<table id="worst"><tr>{head}</tr>{body}</table>',
        note="traces with the most failed or errored evaluations, then the lowest score",
    )


def _summary_table(summary: pd.DataFrame) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(name))}</td><td class='num'>{int(r.evaluations):,}</td>"
        f"<td class='num'>{_pct(r.pass_rate)}</td><td class='num'>"
        f"{'–' if pd.isna(r.mean_score) else f'{r.mean_score:.3f}'}</td>"
        f"<td class='num'>{_pct(r.error_rate)}</td></tr>"
        for name, r in summary.iterrows()
    )
    head = "<tr><th>evaluator</th><th>evaluations</th><th>pass rate</th><th>mean score</th>" \
           "<th>error rate</th></tr>"  # fmt: skip
    return _section("Evaluators", f"<table>{head}{rows}</table>")


def render(parquet_dir: Root) -> str:
    """The report page for a Parquet dataset; raises ``ReportError`` for unusable input."""
    rows = data.load(parquet_dir)
    traces = data.Traces.of(rows)
    summary = data.evaluator_summary(rows)
    rule, _ = data.bucket_for(rows)
    ticks = _time_ticks(rows, rule)
    start, end = rows["timestamp"].min(), rows["timestamp"].max()
    sections = [
        _summary_table(summary),
        _pass_rates(rows, rule, ticks),
        _scores(rows),
        _latency(traces, summary),
        _cost_tokens(traces, rule, ticks),
        _errors(rows, traces, summary, rule, ticks),
    ]
    apps = ", ".join(sorted(traces.frame["app"].unique()))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>evalstream report</title><style>{CSS}</style></head><body>"
        "<h1>evalstream report</h1>"
        f'<div class="sub">{escape(str(parquet_dir))} · {start:%Y-%m-%d %H:%M} – '
        f"{end:%Y-%m-%d %H:%M} UTC · apps: {escape(apps)}"
        f" · generated {generated}</div>"
        f"{_tiles(rows, traces)}<div class='grid'>{''.join(sections)}</div>"
        f"{_worst(rows)}</body></html>"
    )


def report_command(parquet_dir: Root, output: Path) -> None:
    """Write the report for ``parquet_dir`` to ``output`` (atomically: no half-written page)."""
    page = render(parquet_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(output)
