"""Configuration parameters checked against the evaluator's own type hints, at load time.

A value of the wrong type (``slo_ms = "1500"`` in the TOML) used to reach the evaluator's
``__init__`` and fail there with whatever Python said (``'<=' not supported between ...``),
or not fail at all and break on every trace. The hints are the plugin author's declaration,
so they are the contract; a parameter without a usable hint is passed through unchecked.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # an unresolvable forward reference in a plugin: check nothing
        return {}


def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(hint)
    except Exception:  # a hint pydantic cannot build a validator for (a plain class, ...)
        return None


def check_params(func: Callable[..., Any], params: dict[str, Any]) -> str | None:
    """The first parameter whose value does not fit its type hint, as a message; else None.

    Strict: no str -> number coercion (a quoted number in TOML is a mistake worth naming),
    but an int is accepted where a float is declared.
    """
    hints = _hints(func)
    for name, value in params.items():
        if name not in hints:
            continue
        adapter = _adapter(hints[name])
        if adapter is None:
            continue
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError:
            wanted = getattr(hints[name], "__name__", None) or str(hints[name])
            return (
                f"parameter {name} must be {wanted.replace('typing.', '')},"
                f" not {type(value).__name__} {value!r}"
            )
    return None
