"""Query parameters of the trace list, validated once, shared by the page and the API.

A wrong parameter is a user's typo, not a server fault: it becomes one ``BadQueryError``
naming the parameter (the app answers 400), never a 500 or a silently ignored filter.
Empty values (what an HTML form sends for an untouched field) mean "no filter".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.tools.ui.exceptions import BadQueryError

MAX_PAGE = 500

SORT_COLUMNS = {"time": "timestamp", "latency": "latency_ms", "cost": "cost_usd", "score": "score"}
"""Sort keys a user may ask for -> the column; only these names ever reach the SQL text."""


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class QueryParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @classmethod
    def parse(cls, items: Iterable[tuple[str, str]]):
        """From a query string's (name, value) pairs; a repeated name is an error."""
        values: dict[str, str] = {}
        for name, value in items:
            if name in values:
                raise BadQueryError(f"query parameter {name!r} is given more than once")
            values[name] = value
        cleaned = {k: v for k, v in values.items() if v.strip() != ""}
        try:
            return cls.model_validate(cleaned)
        except ValidationError as exc:
            raise BadQueryError(_message(exc, cls)) from None

    def query_string(self, **changes: object) -> str:
        """This query with ``changes`` applied, as ``a=b&c=d`` (defaults left out)."""
        data = self.model_dump(exclude_defaults=True) | changes
        out = {}
        for name, value in data.items():
            if value is None or value == self.__class__.model_fields[name].default:
                continue
            if isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            elif isinstance(value, bool):
                value = str(value).lower()
            out[name] = value
        return urlencode(out)


def _message(exc: ValidationError, model: type[BaseModel]) -> str:
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "query"
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            parts.append(f"unknown query parameter {name!r} (allowed: {allowed})")
        else:
            parts.append(f"query parameter {name!r}: {error['msg']}")
    return "; ".join(parts)


class TimeRange(QueryParams):
    """Time range and app: the filters of the overview page."""

    app: str | None = Field(None, max_length=256)
    since: datetime | None = None
    until: datetime | None = None

    _utc = field_validator("since", "until", mode="after")(_utc)

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.since and self.until and self.since > self.until:
            raise ValueError("'since' is after 'until'")
        return self


def range_conditions(scope: TimeRange, equal: tuple[str, ...] = ("app",)) -> tuple[list, list]:
    """SQL conditions (``column = ?``, time range) and their parameters for ``scope``; the
    column names come from our code (``equal``), the values are bound parameters."""
    conditions, params = [], []
    for column in equal:
        value = getattr(scope, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    for bound, value in ((">=", scope.since), ("<=", scope.until)):
        if value is not None:
            conditions.append(f"timestamp {bound} ?")
            params.append(value)
    return conditions, params


class TraceQuery(TimeRange):
    """Filters, sort and page of the trace list (``/traces`` and ``/api/traces``)."""

    evaluator: str | None = Field(None, max_length=256)
    passed: bool | None = None
    label: str | None = Field(None, max_length=256)
    model: str | None = Field(None, max_length=256)
    status: Literal["OK", "ERROR"] | None = None
    session: str | None = Field(None, max_length=256)
    q: str | None = Field(None, max_length=200, description="free text in inputs/outputs")
    sort: Literal["time", "latency", "cost", "score"] = "time"
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=100_000_000)

    @property
    def filters_results(self) -> bool:
        """Whether a filter or the sort needs the results dataset (not only trace rows)."""
        return (
            self.evaluator is not None
            or self.passed is not None
            or self.label is not None
            or self.sort == "score"
        )

    @property
    def needs_content(self) -> bool:
        """Whether a filter reads the stored trace content (session, free text)."""
        return self.session is not None or self.q is not None
