"""``evalstream trace show``: the trace page's content, for a terminal (rich).

Trace text goes into ``rich.text.Text`` objects, never into markup strings, so a trace that
contains ``[bold]`` or escape sequences prints as the characters it holds.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from pipeline.tools.ui.render import fmt_ms, fmt_num, fmt_time, fmt_usd, pretty
from pipeline.tools.ui.waterfall import waterfall

BAR_WIDTH = 30
SPAN_TEXT = 400


def _clip(text: str, limit: int = SPAN_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} chars)"


def _header(t: dict[str, Any]) -> Panel:
    lines = [
        f"time {fmt_time(t['timestamp'])} UTC   app {t['app']}   status {t['status']}",
        f"model {t['model'] or '–'}   latency {fmt_ms(t['latency_ms'])}   tokens"
        f" {fmt_num(t['input_tokens'])} / {fmt_num(t['output_tokens'])}   cost"
        f" {fmt_usd(t['cost_usd'])}",
        f"source {t['kafka_topic']} partition {t['kafka_partition']} offset {t['kafka_offset']}",
    ]
    if t.get("session_id") or t.get("user_id"):
        lines.append(f"session {t.get('session_id') or '–'}   user {t.get('user_id') or '–'}")
    if t.get("error"):
        lines.append(f"error {t['error']}")
    if len(t["versions"]) > 1:
        lines.append(
            f"version {t['trace_version']} of versions {', '.join(map(str, t['versions']))}"
            + (" (the latest)" if t["trace_version"] == t["latest_version"] else "")
        )
    if t.get("truncated_fields"):
        lines.append(f"cut at the size limit: {', '.join(t['truncated_fields'])}")
    return Panel(Text("\n".join(lines)), title=Text(f"trace {t['trace_id']}"), expand=False)


def _results(t: dict[str, Any]) -> Table:
    table = Table(title="evaluation results", show_lines=False)
    for column in ("evaluator", "score", "result", "label", "tier", "rationale"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for r in t["results"]:
        outcome = _outcome(r)
        style = {"failed": "bold red", "error": "yellow", "passed": "green"}.get(outcome, "")
        name = r["evaluator"] + (f" (span {r['span_id']})" if r["span_id"] else "")
        table.add_row(
            Text(name), Text(fmt_num(r["score"])), Text(outcome, style=style),
            Text(r["label"] or ""), Text(r["source"] or ""),
            Text(r["error"] or r["rationale"] or ""),
        )  # fmt: skip
    return table


def _outcome(r: dict[str, Any]) -> str:
    if r["error"]:
        return "error"
    return "passed" if r["passed"] is True else "failed" if r["passed"] is False else "–"


def _span_result(r: dict[str, Any]) -> Text:
    """A result about this span (``apply_to``), under the span in the tree."""
    outcome = _outcome(r)
    style = {"failed": "bold red", "error": "yellow", "passed": "green"}.get(outcome, "")
    line = Text(f"{r['evaluator']} ")
    line.append(outcome, style=style)
    why = _clip(r["error"] or r["rationale"] or "")
    line.append(f" {fmt_num(r['score'])} {r['label'] or ''} {why}".rstrip())
    return line


def _spans(t: dict[str, Any]) -> Tree:
    tree = Tree(Text("spans"))
    stack: list[tuple[int, Tree]] = [(-1, tree)]
    for bar in waterfall(t["spans"]):
        while stack[-1][0] >= bar.depth:
            stack.pop()
        left = round(bar.left_pct / 100 * BAR_WIDTH)
        width = max(1, round(bar.width_pct / 100 * BAR_WIDTH))
        track = " " * left + "█" * width
        span = bar.span
        label = Text(f"{span['name'] or span['span_id']} ")
        label.append(f"{span['span_type'] or ''} ", style="dim")
        label.append(f"{track:<{BAR_WIDTH}} ", style="red" if span["status"] == "ERROR" else "blue")
        label.append(fmt_ms(bar.duration_ms))
        node = stack[-1][1].add(label)
        for part in ("inputs", "outputs", "attributes"):
            if span[part] not in (None, {}, []):
                node.add(Text(f"{part}: {_clip(pretty(span[part]))}", style="dim"))
        for r in t["results"]:
            if r["span_id"] == span["span_id"]:
                node.add(_span_result(r))
        stack.append((bar.depth, node))
    return tree


def render_trace(t: dict[str, Any], console: Console) -> None:
    console.print(_header(t))
    if not t["content_stored"]:
        console.print(
            Text("Trace content is not stored (no traces dataset): results only.", style="yellow")
        )
    else:
        for part in ("inputs", "outputs", "context", "expectations"):
            if t.get(part) is not None:
                console.print(Panel(Text(pretty(t[part])), title=part, title_align="left"))
    console.print(_results(t))
    if t["spans"]:
        console.print(_spans(t))
    if t.get("session_traces"):
        others = ", ".join(s["trace_id"] for s in t["session_traces"])
        console.print(Group(Text(f"other traces of session {t['session_id']}: {others}")))
