"""Cost of a trace: its own ``cost_usd`` or tokens x a per-model price table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas import Trace

# USD per million tokens (input, output); list prices of late 2025. Override in the config.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
}


@dataclass(frozen=True)
class CostEstimate:
    cost_usd: float | None
    source: str  # "trace", "price_table" or "unknown"
    reason: str | None = None


class PriceTable:
    """Looks a model up by exact name, then by longest known prefix (``gpt-4o-2024-08-06``)."""

    def __init__(self, prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        # Keys are matched against the lower-cased model name, so store them lower-cased too.
        merged = {**DEFAULT_PRICES, **(prices or {})}
        self.prices = {name.lower(): price for name, price in merged.items()}
        self._by_length = sorted(self.prices, key=len, reverse=True)

    def price_of(self, model: str | None) -> tuple[float, float] | None:
        if not model:
            return None
        name = model.lower().split("/")[-1]
        if name in self.prices:
            return self.prices[name]
        return next((self.prices[k] for k in self._by_length if name.startswith(k)), None)

    def estimate(self, trace: Trace) -> CostEstimate:
        if trace.cost_usd is not None:
            return CostEstimate(trace.cost_usd, "trace")
        if trace.usage is None or (trace.input_tokens is None and trace.output_tokens is None):
            return CostEstimate(None, "unknown", "trace has neither cost_usd nor token usage")
        price = self.price_of(trace.model)
        if price is None:
            return CostEstimate(None, "unknown", f"no price for model {trace.model!r}")
        cost = ((trace.input_tokens or 0) * price[0] + (trace.output_tokens or 0) * price[1]) / 1e6
        return CostEstimate(cost, "price_table")
