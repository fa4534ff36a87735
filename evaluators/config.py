"""The evaluator configuration file (TOML): which evaluators run, with what settings.

    [defaults]
    timeout_seconds = 30

    [evaluators.latency]
    params = { slo_ms = 1500 }

    [evaluators.latency_strict]      # a second instance of the same evaluator
    use = "latency"
    params = { slo_ms = 500 }

    [evaluators.safety]
    sample_rate = 0.1
    filter = { status = ["OK"], tags = { env = "prod" } }

    [evaluators.llm_safety]          # once per LLM span instead of once per trace
    use = "safety"
    apply_to = { span_type = ["LLM"], name = "^chat" }

    [pricing.gpt-4o]
    input_per_million = 2.5
    output_per_million = 10.0

Without a file (or without an ``[evaluators]`` table) the built-in default set runs.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.exceptions import ConfigError
from evaluators.targeting import DEFAULT_MAX_SPANS, SpanTarget, span_status
from schemas import Span, Trace, TraceStatus


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TraceFilter(_Strict):
    """Run only on traces that match every given condition."""

    status: list[str] | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("status")
    @classmethod
    def _known_statuses(cls, value: list[str] | None) -> list[str] | None:
        """A status no trace can have would silently turn the evaluator off."""
        known = {s.value for s in TraceStatus}
        for status in value or []:
            if status.upper() not in known:
                raise ValueError(
                    f"{status!r} is not a trace status (one of {', '.join(sorted(known))})"
                )
        return value

    def matches(self, trace: Trace, span: Span | None = None) -> bool:
        """For a span target the status is the span's (the trace's when it has none); tags
        are always the trace's."""
        status = trace.status if span is None else span_status(trace, span)
        if self.status is not None and status.value not in {s.upper() for s in self.status}:
            return False
        return all(trace.tags.get(key) == value for key, value in self.tags.items())


Executor = Literal["thread", "process"]


class Defaults(_Strict):
    timeout_seconds: float = Field(default=30.0, gt=0)
    executor: Executor | None = Field(
        default=None,
        description="thread or process for every evaluator without its own executor (unset:"
        " each evaluator's class decides; process needs EVALSTREAM_EVALUATOR_PROCESSES > 0).",
    )
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    max_spans_per_trace: int = Field(
        default=DEFAULT_MAX_SPANS,
        ge=1,
        description="Spans a span-targeted evaluator runs on per trace, at most.",
    )


class EvaluatorSettings(_Strict):
    """One configured evaluator instance (the TOML table name is its result name)."""

    use: str | None = None
    enabled: bool = True
    threshold: float | None = Field(default=None, ge=0, le=1)
    sample_rate: float | None = Field(default=None, ge=0, le=1)
    timeout_seconds: float | None = Field(default=None, gt=0)
    filter: TraceFilter = Field(default_factory=TraceFilter)
    apply_to: SpanTarget | None = Field(
        default=None, description="Run once per matching span instead of once per trace."
    )
    params: dict[str, Any] = Field(default_factory=dict)
    executor: Executor | None = Field(
        default=None,
        description="thread, or process: scored in the worker's evaluator processes"
        " (EVALSTREAM_EVALUATOR_PROCESSES > 0; else in a thread).",
    )


class ModelPrice(_Strict):
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class EvaluatorConfig(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    evaluators: dict[str, EvaluatorSettings] | None = None
    pricing: dict[str, ModelPrice] = Field(default_factory=dict)
    alerts: list[dict[str, Any]] = Field(
        default_factory=list, description="Alert rules; read by `evalstream alerts`."
    )


def load_config(path: str | Path | None) -> EvaluatorConfig:
    """Read and validate a config file; ``None`` gives the defaults.

    Errors name the file and the offending key, never a traceback.
    """
    if path is None:
        return EvaluatorConfig()
    return parse_config(read_toml(path), origin=str(path))


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed TOML file; ``ConfigError`` naming the file for any read or syntax problem."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def parse_config(data: dict[str, Any], origin: str = "<config>") -> EvaluatorConfig:
    try:
        return EvaluatorConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from None


def sample_fraction(trace_id: str, span_id: str | None = None) -> float:
    """A stable number in [0, 1) per trace id (per trace and span id for a span target): the
    same traces are sampled on every worker, every replay and by every evaluator with the same
    rate."""
    key = trace_id if span_id is None else f"{trace_id}\x00{span_id}"
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
