"""The HTML pages: content, escaping of untrusted trace text, headers, the token gate."""

from __future__ import annotations

import html
import re

import pytest
from markupsafe import escape
from ui_helpers import SCRIPT_IN, SCRIPT_OUT, SCRIPT_SPAN, make_client

from pipeline.tools.ui.app import CSP
from pipeline.tools.ui.auth import safe_next


def test_overview_links_failing_evaluators(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 5
    assert re.search(r'href="/traces\?evaluator=correctness&amp;passed=false"', page.text)
    assert 'href="/evaluators/correctness"' in page.text
    assert client.get("/?app=chat").status_code == 200


def test_trace_list_page_and_its_links(client):
    page = client.get("/traces?evaluator=correctness&passed=false&sort=latency")
    assert page.status_code == 200 and "traces match" in page.text
    assert page.text.count('class="trace-link"') == 50
    assert "next →" in page.text and "sort=latency&amp;order=asc" in page.text


def test_trace_page_shows_question_answer_context_and_spans(client):
    body = client.get("/api/traces/tr-versioned").json()
    page = client.get("/traces/tr-versioned").text
    assert html.escape(body["inputs"]["question"], quote=False) in page
    assert "30 days of purchase" in page and "Retrieved context" in page
    assert page.count('<details class="span"') == 0  # this trace has no spans
    assert (
        "showing version 2, the latest" in page and 'href="/traces/tr-versioned?version=1"' in page
    )
    spans_page = client.get("/traces/tr-7-0000003").text
    assert spans_page.count('<details class="span"') == 3 and "chat_completion" in spans_page
    assert "Other traces of this session" in spans_page


@pytest.mark.parametrize(
    "path", ["/traces/tr-xss", "/traces?q=alert", "/traces?label=%3Cscript%3E"]
)
def test_script_payloads_are_escaped(client, path):
    page = client.get(path)
    assert page.status_code == 200
    assert "<script" not in page.text.lower()
    assert "<img src=x" not in page.text
    if path == "/traces/tr-xss":
        for payload in (SCRIPT_IN, SCRIPT_OUT, SCRIPT_SPAN):
            assert str(escape(payload)) in page.text


def test_security_headers(client):
    answer = client.get("/traces/tr-xss")
    assert answer.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_evaluator_pages(client):
    page = client.get("/evaluators/correctness")
    assert (
        page.status_code == 200 and "Score histogram" in page.text and "Worst traces" in page.text
    )
    assert 'href="/traces?evaluator=correctness&amp;passed=false"' in page.text
    assert client.get("/evaluators").status_code == 200


def test_token_gate(ui_results_dir):
    with make_client(ui_results_dir, token="s3cret") as gated:
        assert gated.get("/health").status_code == 200
        assert gated.get("/api/traces").status_code == 401
        assert gated.get("/api/traces", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = gated.get("/api/traces", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["total"] > 0
        redirect = gated.get("/traces?app=chat", follow_redirects=False)
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/login?next=/traces%3Fapp%3Dchat"
        form = gated.get("/login?next=/traces")
        assert form.status_code == 200 and 'type="password"' in form.text
        wrong = gated.post("/login", data={"token": "guess", "next": "/traces"})
        assert wrong.status_code == 401 and "not the right one" in wrong.text
        assert "evalstream_ui" not in gated.cookies
        right = gated.post("/login", data={"token": "s3cret", "next": "/traces"},
                           follow_redirects=False)  # fmt: skip
        assert right.status_code == 303 and right.headers["location"] == "/traces"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "s3cret" not in cookie
        assert gated.get("/traces").status_code == 200  # the cookie now opens pages
        assert gated.get("/api/traces").status_code == 200


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/traces", "/traces"), ("//evil.example", "/"), ("https://evil.example", "/"),
     ("/\\evil", "/"), ("", "/"), (None, "/")],
)  # fmt: skip
def test_login_only_redirects_inside_the_app(target, safe):
    assert safe_next(target) == safe
