"""Text extraction from the shapes SDKs put in inputs / outputs / retriever spans."""

from __future__ import annotations

import pytest

from evaluators.text import answer_text, documents, question_text, to_text

CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question?"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": [{"type": "text", "text": "Where is Normandy?"}]},
    ]
}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ("plain question", "plain question"),
        ({"question": "Q?"}, "Q?"),
        ({"query": "Q?", "top_k": 3}, "Q?"),
        (CHAT, "Where is Normandy?"),
        (CHAT["messages"], "Where is Normandy?"),
        (None, ""),
        ({}, ""),
        ({"role": "user", "content": "single message"}, "single message"),
    ],
)
def test_question_text(inputs, expected):
    assert question_text(inputs) == expected


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ("an answer", "an answer"),
        (
            {"choices": [{"message": {"role": "assistant", "content": "from openai"}}]},
            "from openai",
        ),
        ({"choices": [{"text": "completion"}]}, "completion"),
        ({"answer": "A"}, "A"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "a"),
        (None, ""),
        (42, "42"),
        ({"choices": []}, ""),
    ],
)
def test_answer_text(outputs, expected):
    assert answer_text(outputs) == expected


def test_documents_shapes():
    docs = [
        "plain",
        {"page_content": "langchain", "metadata": {"source": "x"}},
        {"content": "content"},
        {"text": "text"},
        "",
    ]
    assert documents(docs) == ["plain", "langchain", "content", "text"]
    assert documents({"documents": ["a", "b"]}) == ["a", "b"]
    assert documents(None) == []


def test_never_raises_on_odd_values():
    deep: dict = {}
    node = deep
    for _ in range(50):
        node["x"] = {}
        node = node["x"]
    for value in (deep, [None, 1.5, True, {"a": ["b"]}], object(), {"choices": [None]}):
        assert isinstance(to_text(value), str)
        assert isinstance(question_text(value), str)
        assert isinstance(answer_text(value), str)
        assert isinstance(documents(value), list)
