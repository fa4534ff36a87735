"""Plain text out of whatever an application put in ``inputs`` / ``outputs`` / spans.

Traces arrive from many SDKs: a bare string, ``{"question": ...}``, chat messages, an OpenAI
chat completion, LangChain documents. Quality evaluators only want text, so the shapes are
flattened here, once, and every evaluator sees the same thing. Nothing here raises: an
unknown shape degrades to the concatenation of its string leaves.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 8
"""Nesting beyond this is ignored: traces are JSON, so deeper means garbage or a cycle."""

QUESTION_KEYS = ("question", "query", "input", "prompt", "user_input", "request", "text")
ANSWER_KEYS = ("answer", "response", "output", "outputs", "result", "generation", "text")
CONTENT_KEYS = ("content", "text", "page_content", "value")
DOCUMENT_KEYS = ("page_content", "content", "text", "document", "chunk")
DOCUMENT_LIST_KEYS = ("documents", "docs", "context", "contexts", "results", "chunks")


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and "role" in value and ("content" in value or "parts" in value)


def _content(value: Any, depth: int = 0) -> str:
    """A message's content: a string, or OpenAI/Anthropic-style parts ``[{"text": ...}]``."""
    if value is None or depth > MAX_DEPTH:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(t for t in (_content(v, depth + 1) for v in value) if t)
    if isinstance(value, dict):
        for key in CONTENT_KEYS:
            if key in value:
                return _content(value[key], depth + 1)
        if "parts" in value:
            return _content(value["parts"], depth + 1)
        return ""
    return to_text(value, depth + 1)


def to_text(value: Any, depth: int = 0) -> str:
    """Every string leaf of ``value``, in order, joined by newlines (chat roles dropped)."""
    if value is None or depth > MAX_DEPTH:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    if _is_message(value):
        return _content(value.get("content", value.get("parts")), depth + 1)
    if isinstance(value, dict):
        parts = (to_text(v, depth + 1) for k, v in value.items() if k not in ("role", "type"))
        return "\n".join(p for p in parts if p)
    if isinstance(value, list | tuple):
        return "\n".join(p for p in (to_text(v, depth + 1) for v in value) if p)
    return ""


def _last_message(messages: Any, roles: tuple[str, ...]) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if _is_message(message) and str(message.get("role", "")).lower() in roles:
            return _content(message.get("content", message.get("parts")))
    return None


def question_text(inputs: Any) -> str:
    """The user's question: the last user message, a ``question``-like key, or all the text."""
    if isinstance(inputs, str) or inputs is None:
        return inputs or ""
    if isinstance(inputs, list):
        found = _last_message(inputs, ("user", "human"))
        return found if found is not None else to_text(inputs)
    if isinstance(inputs, dict):
        if _is_message(inputs):
            return _content(inputs.get("content", inputs.get("parts")))
        for key in ("messages", "input", "inputs", "contents"):
            found = _last_message(inputs.get(key), ("user", "human"))
            if found is not None:
                return found
        for key in QUESTION_KEYS:
            value = inputs.get(key)
            if isinstance(value, str):
                return value
            if value is not None:
                return question_text(value)
    return to_text(inputs)


def answer_text(outputs: Any) -> str:
    """The model's answer: an OpenAI ``choices`` message, the last assistant message, etc."""
    if isinstance(outputs, str) or outputs is None:
        return outputs or ""
    if isinstance(outputs, list):
        found = _last_message(outputs, ("assistant", "ai", "model", "bot"))
        return found if found is not None else to_text(outputs)
    if isinstance(outputs, dict):
        if _is_message(outputs):
            return _content(outputs.get("content", outputs.get("parts")))
        choices = outputs.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            first = choices[0]
            if isinstance(first.get("message"), dict):
                return _content(first["message"].get("content"))
            return to_text(first.get("text", first.get("delta")))
        found = _last_message(outputs.get("messages"), ("assistant", "ai", "model", "bot"))
        if found is not None:
            return found
        for key in ANSWER_KEYS:
            value = outputs.get(key)
            if isinstance(value, str):
                return value
            if value is not None:
                return answer_text(value)
    return to_text(outputs)


def documents(value: Any, depth: int = 0) -> list[str]:
    """Retrieved documents: a list of str or of ``{"page_content"|"content"|"text": ...}``."""
    if value is None or depth > MAX_DEPTH:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list | tuple):
        docs: list[str] = []
        for item in value:
            docs.extend(documents(item, depth + 1))
        return docs
    if isinstance(value, dict):
        for key in DOCUMENT_KEYS:
            if isinstance(value.get(key), str):
                return [value[key]] if value[key].strip() else []
        for key in DOCUMENT_LIST_KEYS:
            if key in value:
                return documents(value[key], depth + 1)
        text = to_text(value, depth + 1)
        return [text] if text.strip() else []
    text = to_text(value, depth + 1)
    return [text] if text.strip() else []
