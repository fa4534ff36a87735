"""HTML from Jinja2 templates with autoescaping on: trace text is untrusted input.

Every value reaches the page through ``{{ }}`` and is escaped there; the only markup passed
through unescaped is the SVG our chart module draws (it escapes its own labels). No page has
a script, and the Content-Security-Policy the app sends forbids one anyway.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def fmt_ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.3g} ms"


def fmt_pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def fmt_num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else f"{value:,}"


def fmt_usd(value: float | None) -> str:
    return "–" if value is None else f"${value:,.6f}".rstrip("0").rstrip(".")


def fmt_time(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def pretty(value: Any) -> str:
    """JSON values indented for a ``<pre>``; plain strings as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()


def datetime_input(value: datetime | None) -> str:
    """A UTC time as the value of an ``<input type=datetime-local>`` (minutes)."""
    return "" if value is None else value.strftime("%Y-%m-%dT%H:%M")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pipeline.tools.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ms=fmt_ms, pct=fmt_pct, num=fmt_num, usd=fmt_usd, time=fmt_time, pretty=pretty,
        dtinput=datetime_input,
    )  # fmt: skip
    return env
