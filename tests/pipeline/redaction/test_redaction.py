"""PII redaction (pipeline/redaction/): per-kind positives and negatives, structures, config."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.exceptions import SettingsError
from pipeline.redaction.redactor import BUILTIN_KINDS, RedactionConfigError, Redactor

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def redacted(redactor: Redactor, text: str) -> tuple[str, dict[str, int]]:
    return redactor.redact_text(text)


# --- per kind: positives ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.com now", "mail [REDACTED:email] now"),
        ("<a.b+tag@mail.example.co.uk>.", "<[REDACTED:email]>."),
        ("card 4111 1111 1111 1111.", "card [REDACTED:credit_card]."),
        ("card 4111-1111-1111-1111", "card [REDACTED:credit_card]"),
        ("4111111111111111", "[REDACTED:credit_card]"),
        ("amex 3782 822463 10005", "amex [REDACTED:credit_card]"),
        ("mc 5555555555554444 exp 12/29", "mc [REDACTED:credit_card] exp 12/29"),
        ("call +1 (415) 555-2671", "call [REDACTED:phone]"),
        ("call 415-555-2671 today", "call [REDACTED:phone] today"),
        ("(415) 555-2671", "[REDACTED:phone]"),
        ("uk +44 20 7946 0958", "uk [REDACTED:phone]"),
        ("e164 +14155552671", "e164 [REDACTED:phone]"),
        ("london 020 7946 0958", "london [REDACTED:phone]"),
        ("host 192.168.0.1:8080", "host [REDACTED:ip]:8080"),
        ("net 10.0.0.0/8.", "net [REDACTED:ip]/8."),
        ("v6 2001:db8::1 ok", "v6 [REDACTED:ip] ok"),
        ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full [REDACTED:ip]"),
        ("loopback ::1", "loopback [REDACTED:ip]"),
        ("[fe80::1ff:fe23:4567:890a]:443", "[[REDACTED:ip]]:443"),
        ("mapped ::ffff:10.0.0.1", "mapped [REDACTED:ip]"),
    ],
)
def test_builtin_kinds_are_redacted(redactor: Redactor, text: str, expected: str) -> None:
    out, counts = redacted(redactor, text)
    assert out == expected
    assert sum(counts.values()) == 1


@pytest.mark.parametrize(
    "secret",
    [
        "sk-" + "aB3" * 16,  # OpenAI legacy
        "sk-proj-" + "Xy9_" * 20,  # OpenAI project key
        "sk-ant-api03-" + "q1W-" * 20,  # Anthropic
        "AKIAIOSFODNN7EXAMPLE",  # AWS access key id
        "ghp_" + "A1b2" * 9,  # GitHub classic PAT
        "gho_" + "Z9y8" * 9,  # GitHub OAuth
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",  # Slack
        "AIzaSyD-1234567890abcdefghijklmnopqrstu",  # Google (AIza + 35)
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",  # Stripe secret
        "rk_live_" + "51H8xyzABCDEFGHIJKLMNOP",  # Stripe restricted
        JWT,
    ],
)
def test_api_key_token_styles(redactor: Redactor, secret: str) -> None:
    out, counts = redacted(redactor, f"key: {secret} end")
    assert out == "key: [REDACTED:api_key] end"
    assert counts == {"api_key": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123def456ghi", "Authorization: Bearer [REDACTED:api_key]"),
        ("api_key=xyz123&page=2", "api_key=[REDACTED:api_key]&page=2"),
        ('{"apiKey": "s3cr3t-value"}', '{"apiKey": "[REDACTED:api_key]"}'),
        ("API-KEY: hunter2", "API-KEY: [REDACTED:api_key]"),
        ("export MY_API_KEY=abcdef", "export MY_API_KEY=[REDACTED:api_key]"),
    ],
)
def test_api_key_prefix_is_kept_and_secret_replaced(
    redactor: Redactor, text: str, expected: str
) -> None:
    out, counts = redacted(redactor, text)
    assert out == expected
    assert counts == {"api_key": 1}


def test_key_value_with_known_token_counts_once(redactor: Redactor) -> None:
    out, counts = redacted(redactor, "OPENAI_API_KEY=sk-proj-" + "a1B2" * 10)
    assert out == "OPENAI_API_KEY=[REDACTED:api_key]"
    assert counts == {"api_key": 1}


# --- per kind: negatives ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # cards: Luhn failures, order ids, too short/long, inside words
        "card 4111 1111 1111 1112",
        "order id 1234567890123",
        "order 9876543210987654",
        "ref 4111111111111111abc",
        "hash a4111111111111111",
        "pi 3.4111111111111111",
        "tracking 12345678901234567890123",
        "zeros 0000 0000 0000 0000",
        # phones: years, prices, dates, times, short numbers, versions
        "from 2019-2023",
        "price 1,234.56 USD",
        "on 2024-03-15T10:30:00Z",
        "call ext 555-2671",
        "score +5 points",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        # ips: invalid octets, version strings, times, MACs, code
        "bad 999.1.1.1",
        "bad 256.1.1.1",
        "version 1.2.3",
        "v1.2.3.4",
        "at 12:30:45",
        "mac 00:1a:2b:3c:4d:5e",
        "std::vector<int> and a::b",
        # emails
        "no at sign here",
        "user@localhost",
        "twitter @handle",
        # api keys
        "the bearer of bad news",
        "task-management-and-planning-overview",
        "sk-learn-is-a-library-for-machine-learning",
        "AKIA-short",
        "eyJhbGciOi only one part",
    ],
)
def test_negatives_are_left_alone(redactor: Redactor, text: str) -> None:
    assert redacted(redactor, text) == (text, {})


def test_invalid_card_next_to_phone(redactor: Redactor) -> None:
    out, counts = redacted(redactor, "4111-1111-1111-1112 415-555-2671")
    assert out == "4111-1111-1111-1112 [REDACTED:phone]"
    assert counts == {"phone": 1}


def test_card_followed_by_other_number(redactor: Redactor) -> None:
    out, _ = redacted(redactor, "4111 1111 1111 1111 2024")
    assert out == "[REDACTED:credit_card] 2024"


# --- counts, mixing, idempotence ----------------------------------------------------------


MIXED = (
    "Hi, I'm jane@example.com (alt: j.doe@corp.example.org), phone +1 (415) 555-2671, "
    "card 4111 1111 1111 1111, from 192.168.0.1 and 2001:db8::1, token " + JWT + ". "
    "Order 1234567890123 cost $1,234.56 in 2019-2023, version 1.2.3."
)


def test_counts_per_kind(redactor: Redactor) -> None:
    out, counts = redacted(redactor, MIXED)
    assert counts == {"email": 2, "phone": 1, "credit_card": 1, "ip": 2, "api_key": 1}
    for needle in ("jane@", "555-2671", "4111", "192.168", "db8", "eyJ"):
        assert needle not in out
    for kept in ("1234567890123", "$1,234.56", "2019-2023", "version 1.2.3"):
        assert kept in out


def test_idempotent(redactor: Redactor) -> None:
    once, _ = redacted(redactor, MIXED)
    twice, counts = redacted(redactor, once)
    assert twice == once
    assert counts == {}


def test_only_enabled_kinds(redactor: Redactor) -> None:
    only_email = Redactor(["email"])
    out, counts = only_email.redact_text(MIXED)
    assert counts == {"email": 2}
    assert "4111 1111 1111 1111" in out


def test_custom_placeholder() -> None:
    r = Redactor(["email"], placeholder="<{kind}>")
    assert r.redact_text("a@b.io") == ("<email>", {"email": 1})
    assert r.redact_text("<email>") == ("<email>", {})


def test_empty_and_disabled() -> None:
    assert Redactor().redact_text("") == ("", {})
    disabled = Redactor(())
    assert not disabled.enabled
    assert disabled.redact_text("a@b.io") == ("a@b.io", {})


# --- structures ---------------------------------------------------------------------------


def test_redact_nested_structure_keeps_keys_and_scalars(redactor: Redactor) -> None:
    value = {
        "user@example.com": "contact user@example.com",
        "nested": [{"phone": "415-555-2671", "n": 4111111111111111, "ok": True}, None, 1.5],
        "tuple": ("10.0.0.1", 3),
    }
    before = copy.deepcopy(value)
    out = redactor.redact(value)
    assert out == {
        "user@example.com": "contact [REDACTED:email]",
        "nested": [{"phone": "[REDACTED:phone]", "n": 4111111111111111, "ok": True}, None, 1.5],
        "tuple": ("[REDACTED:ip]", 3),
    }
    assert value == before  # input not mutated
    assert out is not value and out["nested"] is not value["nested"]


def test_redact_with_counts(redactor: Redactor) -> None:
    out, counts = redactor.redact_with_counts(["a@b.io", {"x": ["c@d.io", "10.1.2.3"]}])
    assert out == ["[REDACTED:email]", {"x": ["[REDACTED:email]", "[REDACTED:ip]"]}]
    assert counts == {"email": 2, "ip": 1}


def test_deeply_nested_value_does_not_hit_recursion_limit(redactor: Redactor) -> None:
    value: object = "a@b.io"
    for _ in range(5000):
        value = [value]
    out = redactor.redact(value)
    for _ in range(5000):
        assert isinstance(out, list)
        out = out[0]
    assert out == "[REDACTED:email]"


def _trace() -> dict:
    return {
        "schema_version": 1,
        "trace_id": "call-415-555-2671",
        "timestamp": "2024-03-15T10:30:00Z",
        "inputs": {"messages": [{"role": "user", "content": "I am bob@example.com"}]},
        "outputs": "Sure bob, I'll call +44 20 7946 0958",
        "context": ["server 10.0.0.7 is down"],
        "expectations": {"expected_response": "mail bob@example.com"},
        "status": "ERROR",
        "error": "auth failed for key sk-proj-" + "ab12" * 8,
        "latency_ms": 4155552671.0,
        "model": "user@example.com-finetune",
        "usage": {"input_tokens": 4111111111111111, "note": "x@y.io"},
        "cost_usd": 0.01,
        "tags": {"app": "bot", "user": "carol@example.com"},
        "user_email": "dave@example.com",
        "spans": [
            {
                "span_id": "192.168.0.1",
                "name": "llm a@b.io",
                "inputs": {"q": "ip 192.168.0.1"},
                "outputs": ["card 4111 1111 1111 1111"],
                "attributes": {"http.client_ip": "2001:db8::1", "k": 2},
            }
        ],
    }


def test_redact_trace_dict(redactor: Redactor) -> None:
    trace = _trace()
    before = copy.deepcopy(trace)
    out, counts = redactor.redact_trace_dict(trace)
    assert trace == before
    # never touched
    for key in ("trace_id", "timestamp", "model", "usage", "latency_ms", "cost_usd", "status"):
        assert out[key] == trace[key]
    assert out["spans"][0]["span_id"] == "192.168.0.1"
    assert out["spans"][0]["name"] == "llm a@b.io"
    # redacted
    assert out["inputs"]["messages"][0] == {"role": "user", "content": "I am [REDACTED:email]"}
    assert out["outputs"] == "Sure bob, I'll call [REDACTED:phone]"
    assert out["context"] == ["server [REDACTED:ip] is down"]
    assert out["expectations"] == {"expected_response": "mail [REDACTED:email]"}
    assert out["error"] == "auth failed for key [REDACTED:api_key]"
    assert out["tags"] == {"app": "bot", "user": "[REDACTED:email]"}
    assert out["user_email"] == "[REDACTED:email]"  # unknown extra fields are redacted too
    span = out["spans"][0]
    assert span["inputs"] == {"q": "ip [REDACTED:ip]"}
    assert span["outputs"] == ["card [REDACTED:credit_card]"]
    assert span["attributes"] == {"http.client_ip": "[REDACTED:ip]", "k": 2}
    assert counts == {"email": 4, "phone": 1, "ip": 3, "api_key": 1, "credit_card": 1}


def test_redact_trace_dict_round_trips_through_schema(redactor: Redactor) -> None:
    from schemas.trace import Trace

    trace = Trace.model_validate(_trace())
    out, _ = redactor.redact_trace_dict(trace.model_dump(mode="json"))
    again = Trace.model_validate(out)
    assert again.trace_id == trace.trace_id
    assert again.usage == trace.usage


# --- user patterns and configuration ------------------------------------------------------


def test_extra_pattern() -> None:
    r = Redactor(["email"], extra_patterns={"employee_id": r"\bEMP-\d{6}\b"})
    out, counts = r.redact_text("EMP-123456 mailed x@y.io; EMP-12 is not an id")
    assert out == "[REDACTED:employee_id] mailed [REDACTED:email]; EMP-12 is not an id"
    assert counts == {"employee_id": 1, "email": 1}
    assert r.redact_text(out)[0] == out


def test_extra_pattern_never_rewrites_placeholders() -> None:
    r = Redactor(["email"], extra_patterns={"word": r"(?i)redacted|email"})
    out, counts = r.redact_text("email a@b.io")
    assert out == "[REDACTED:word] [REDACTED:email]"
    assert counts == {"word": 1, "email": 1}
    assert r.redact_text(out) == (out, {})


def test_invalid_extra_regex_names_the_pattern() -> None:
    with pytest.raises(RedactionConfigError, match="'ticket'"):
        Redactor(extra_patterns={"ticket": r"TICKET-(\d+"})


@pytest.mark.parametrize("pattern", [r"\d*", r"", r"(?:abc)?", r"\b", r"(?=x)", r"a|"])
def test_extra_regex_matching_empty_is_rejected(pattern: str) -> None:
    with pytest.raises(RedactionConfigError, match="empty string"):
        Redactor(extra_patterns={"bad": pattern})


@pytest.mark.parametrize("name", ["email", "1abc", "has space", ""])
def test_extra_pattern_bad_names(name: str) -> None:
    with pytest.raises(RedactionConfigError):
        Redactor(extra_patterns={name: "x+"})


def test_config_errors_are_value_and_settings_errors() -> None:
    assert issubclass(RedactionConfigError, ValueError)
    assert issubclass(RedactionConfigError, SettingsError)
    with pytest.raises(RedactionConfigError, match="unknown redaction kind 'ssn'"):
        Redactor(["email", "ssn"])
    with pytest.raises(RedactionConfigError, match="not a string"):
        Redactor("email")  # type: ignore[arg-type]
    with pytest.raises(RedactionConfigError, match="placeholder"):
        Redactor(placeholder="[{name}]")


@pytest.mark.parametrize(
    ("setting", "kinds"),
    [
        ("email,phone,credit_card,ip,api_key", BUILTIN_KINDS),
        ("all", BUILTIN_KINDS),
        (" Email , IP ,", ("email", "ip")),
        ("none", ()),
        ("", ()),
        ("  ", ()),
    ],
)
def test_from_settings(setting: str, kinds: tuple[str, ...]) -> None:
    r = Redactor.from_settings(setting)
    assert r.kinds == kinds
    assert r.enabled == bool(kinds)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("email,ssn", "unknown redaction kind.*'ssn'.*valid: email, phone"),
        ("all,bogus", "'bogus'"),
        ("none,email", "'none' cannot be combined"),
    ],
)
def test_from_settings_errors(setting: str, message: str) -> None:
    with pytest.raises(RedactionConfigError, match=message):
        Redactor.from_settings(setting)


def test_from_settings_with_extra_patterns_only() -> None:
    r = Redactor.from_settings("none", extra_patterns={"ticket": r"TCK-\d+"})
    assert r.enabled
    assert r.redact_text("see TCK-42 or a@b.io") == (
        "see [REDACTED:ticket] or a@b.io",
        {"ticket": 1},
    )


# --- properties ---------------------------------------------------------------------------

_pii_fragments = st.sampled_from(
    ["a@b.io", "x.y+z@mail.example.com", "415-555-2671", "4111 1111 1111 1111", "10.0.0.1",
     "2001:db8::1", "@", "@@", "::", "+1", "sk-", "api_key=", "Bearer ", JWT, " ", "-", "."]
)  # fmt: skip
_text = st.lists(st.one_of(st.text(max_size=20), _pii_fragments), max_size=8).map("".join)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _count_at(value: object) -> int:
    if isinstance(value, str):
        return value.count("@")
    if isinstance(value, dict):
        return sum(_count_at(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_count_at(v) for v in value)
    return 0


@settings(max_examples=300, deadline=None)
@given(_json)
def test_redact_never_raises_and_never_adds_at_signs(value: object) -> None:
    r = Redactor()
    out = r.redact(value)
    assert _count_at(out) <= _count_at(value)
    assert r.redact(out) == out  # idempotent


@settings(max_examples=300, deadline=None)
@given(_text)
def test_redact_text_idempotent_and_counts_match_placeholders(text: str) -> None:
    r = Redactor()
    out, counts = r.redact_text(text)
    assert r.redact_text(out) == (out, {})
    for kind, n in counts.items():
        assert out.count(f"[REDACTED:{kind}]") - text.count(f"[REDACTED:{kind}]") == n
