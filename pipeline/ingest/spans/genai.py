"""GenAI message layouts that are spread over several attributes or events."""

from __future__ import annotations

import re
from typing import Any

from pipeline.ingest.spans.values import maybe_json

_GENAI_MESSAGE_EVENTS = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
)


def indexed_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry style ``gen_ai.prompt.0.role`` / ``gen_ai.prompt.0.content``."""
    found: dict[int, dict[str, Any]] = {}
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(\w+)$")
    for key, value in attrs.items():
        match = pattern.match(key)
        if match:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [found[i] for i in sorted(found)] or None


_OI_MESSAGE = re.compile(r"^(\d+)\.message\.(role|content|name)$")
_OI_PART = re.compile(r"^(\d+)\.message\.contents\.(\d+)\.message_content\.text$")


def openinference_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenInference flattened ``llm.input_messages.N.message.role/content``; a message whose
    text comes in parts (``message.contents.K.message_content.text``) gets them joined."""
    found: dict[int, dict[str, Any]] = {}
    parts: dict[int, dict[int, str]] = {}
    start = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        rest = key[len(start) :]
        if match := _OI_MESSAGE.match(rest):
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
        elif (match := _OI_PART.match(rest)) and value is not None:
            parts.setdefault(int(match.group(1)), {})[int(match.group(2))] = str(value)
    for index, texts in parts.items():
        message = found.setdefault(index, {})
        message.setdefault("content", "\n".join(texts[k] for k in sorted(texts)))
    return [found[i] for i in sorted(found)] or None


def event_messages(events: list[dict[str, Any]]) -> tuple[Any, Any]:
    """GenAI semconv events: per-message events, ``gen_ai.choice`` and the newer
    ``gen_ai.client.inference.operation.details`` event carrying both message lists."""
    inputs: list[Any] = []
    outputs: list[Any] = []
    for event in events:
        name, ev = event.get("name"), event.get("attributes") or {}
        if name in _GENAI_MESSAGE_EVENTS:
            role = ev.get("role") or name.split(".")[1]
            inputs.append({"role": role, "content": maybe_json(ev.get("content"))})
        elif name == "gen_ai.choice":
            message = maybe_json(ev.get("message"))
            outputs.append(message if message is not None else maybe_json(ev.get("content")))
        elif name == "gen_ai.client.inference.operation.details":
            inputs.extend(maybe_json(ev.get("gen_ai.input.messages")) or [])
            outputs.extend(maybe_json(ev.get("gen_ai.output.messages")) or [])
    return inputs or None, outputs or None
