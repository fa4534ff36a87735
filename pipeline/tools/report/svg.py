"""Tiny server-side SVG charts for ``evalstream report``.

Plots are drawn here as plain SVG strings rather than with a JS library or matplotlib so the
report is one self-contained file that opens offline (and from a locked-down CI artifact
store), and so the project needs no plotting dependency. Hover text uses SVG ``<title>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#4b5563",
    "#65a30d",
    "#9333ea",
)
WIDTH, HEIGHT = 560, 240
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 12, 14, 40

Series = dict[str, list[tuple[float, float]]]
"""Name -> points (x, y); x is a number (epoch seconds for time axes)."""


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], so axes read 0, 0.25, 0.5 ... not 0.137."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, max(last, first + 1) + 1)]


def short_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:g}k"
    if abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


class _Frame:
    """Maps data coordinates to pixels inside the plot area."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range if x_range[1] > x_range[0] else (x_range[0], x_range[0] + 1)
        self.y0, self.y1 = y_range if y_range[1] > y_range[0] else (y_range[0], y_range[0] + 1)
        self.left, self.right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


def _axes(
    frame: _Frame,
    y_ticks: Sequence[float],
    x_ticks: Sequence[tuple[float, str]],
    y_label: str,
    y_format: Callable[[float], str],
) -> list[str]:
    parts = []
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(
            f'<line class="grid" x1="{frame.left}" x2="{frame.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(y_format(tick))}</text>"
        )
    for value, label in x_ticks:
        x = frame.x(value)
        anchor = "end" if x > frame.right - 24 else "middle"  # keep the last label inside
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{frame.bottom + 16}" text-anchor="{anchor}">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{frame.left}" x2="{frame.right}" '
        f'y1="{frame.bottom}" y2="{frame.bottom}"/>'
    )
    parts.append(
        f'<text class="label" x="14" y="{(frame.top + frame.bottom) / 2:.0f}" '
        f'transform="rotate(-90 14 {(frame.top + frame.bottom) / 2:.0f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return parts


def _svg(title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def legend(names: Sequence[str]) -> str:
    """An HTML legend (wraps freely, unlike text inside a fixed-size SVG)."""
    items = "".join(
        f'<span class="key"><i style="background:{color(i)}"></i>{escape(name)}</span>'
        for i, name in enumerate(names)
    )
    return f'<div class="legend">{items}</div>'


def line_chart(
    title: str,
    series: Series,
    *,
    x_ticks: Sequence[tuple[float, str]],
    y_label: str,
    y_range: tuple[float, float] | None = None,
    y_format: Callable[[float], str] = short_number,
) -> str:
    """One path per series; a single point is drawn as a dot so it is still visible."""
    points = [p for values in series.values() for p in values]
    if not points:
        return empty_chart(title)
    xs = [p[0] for p in points]
    if y_range is None:
        top = max(p[1] for p in points)
        y_range = (0.0, top * 1.1 if top > 0 else 1.0)
    y_ticks = nice_ticks(*y_range)
    frame = _Frame((min(xs), max(xs)), (y_ticks[0], y_ticks[-1]))
    body = _axes(frame, y_ticks, x_ticks, y_label, y_format)
    for index, (name, values) in enumerate(series.items()):
        if not values:
            continue
        stroke = color(index)
        coords = " L".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in values)
        body.append(
            f'<path class="series" d="M{coords}" fill="none" stroke="{stroke}" '
            f'stroke-width="2"><title>{escape(name)}</title></path>'
        )
        if len(values) == 1:
            x, y = values[0]
            body.append(
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3" fill="{stroke}"/>'
            )
    return _svg(title, body)


def bar_chart(
    title: str,
    edges: Sequence[float],
    counts: Sequence[int | float],
    *,
    y_label: str = "count",
    x_format: Callable[[float], str] = short_number,
    fill: str = PALETTE[0],
    markers: Sequence[tuple[float, str]] = (),
) -> str:
    """A histogram: bar i spans [edges[i], edges[i + 1]]; ``markers`` draw labelled lines."""
    if not counts or max(counts) <= 0:
        return empty_chart(title)
    y_ticks = nice_ticks(0, max(counts) * 1.1)
    frame = _Frame((edges[0], edges[-1]), (0, y_ticks[-1]))
    step = max(1, len(edges) // 6)
    x_ticks = [(edges[i], x_format(edges[i])) for i in range(0, len(edges), step)]
    body = _axes(frame, y_ticks, x_ticks, y_label, short_number)
    bars = []
    for i, count in enumerate(counts):
        x, right = frame.x(edges[i]), frame.x(edges[i + 1])
        y = frame.y(count)
        bars.append(f"M{x + 0.5:.1f},{frame.bottom} V{y:.1f} H{right - 0.5:.1f} V{frame.bottom} Z")
        body.append(
            f'<rect class="hit" x="{x:.1f}" y="{frame.top}" width="{max(right - x, 1):.1f}" '
            f'height="{frame.bottom - frame.top}"><title>{x_format(edges[i])}–'
            f"{x_format(edges[i + 1])}: {short_number(count)}</title></rect>"
        )
    body.insert(len(body) - len(counts), f'<path class="bars" d="{" ".join(bars)}" fill="{fill}"/>')
    for value, label in markers:
        x = frame.x(min(max(value, edges[0]), edges[-1]))
        body.append(
            f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
            f'y2="{frame.bottom}"/><text class="marker-label" x="{x + 3:.1f}" '
            f'y="{frame.top + 10}">{escape(label)}</text>'
        )
    return _svg(title, body)


def hbar_chart(
    title: str,
    rows: Sequence[tuple[str, float]],
    *,
    value_format: Callable[[float], str] = short_number,
    colors: dict[str, str] | None = None,
) -> str:
    """Horizontal bars for per-evaluator values (e.g. error rate), largest first."""
    if not rows:
        return empty_chart(title)
    height = MARGIN_TOP + 22 * len(rows) + 10
    top = max((v for _, v in rows), default=0) or 1.0
    left, right = 150, WIDTH - 70
    body = []
    for i, (name, value) in enumerate(rows):
        y = MARGIN_TOP + 22 * i
        width = (right - left) * value / top
        body.append(
            f'<text class="tick" x="{left - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<path class="bars" d="M{left},{y + 3} h{max(width, 1):.1f} v14 h{-max(width, 1):.1f}'
            f' Z" fill="{(colors or {}).get(name, color(i))}">'
            f"<title>{escape(name)}: {value_format(value)}</title></path>"
            f'<text class="tick" x="{left + max(width, 1) + 4:.1f}" y="{y + 14}">'
            f"{escape(value_format(value))}</text>"
        )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def empty_chart(title: str) -> str:
    """Keeps the page layout stable when a dataset has nothing for one plot."""
    body = [
        f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'
    ]
    return _svg(title, body)
