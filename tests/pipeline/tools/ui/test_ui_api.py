"""The JSON API over real datasets: answers checked against pandas reading the same files."""

from __future__ import annotations

import pandas as pd
import pytest
from ui_helpers import HUGE, SCRIPT_IN, SCRIPT_OUT, SCRIPT_SPAN, make_client


@pytest.fixture(scope="module")
def results(ui_results_dir) -> pd.DataFrame:
    return pd.read_parquet(ui_results_dir)


@pytest.fixture(scope="module")
def traces(ui_results_dir) -> pd.DataFrame:
    return pd.read_parquet(ui_results_dir.parent / "traces")


def _all(client, query: str) -> list[dict]:
    out, offset = [], 0
    while True:
        answer = client.get(f"/api/traces?{query}&limit=100&offset={offset}")
        assert answer.status_code == 200, answer.text
        page = answer.json()
        out += page["traces"]
        offset += 100
        if offset >= page["total"]:
            return out


def test_health_names_the_datasets(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["datasets"] == {"results": True, "traces": True, "spans": True}


def test_failing_evaluator_filter_matches_pandas(client, results):
    page = client.get("/api/traces?evaluator=correctness&passed=false&limit=20").json()
    failed = results[(results["evaluator"] == "correctness") & (results["passed"] == False)]  # noqa: E712
    assert page["total"] == failed["trace_id"].nunique() > 20
    assert len(page["traces"]) == 20
    for trace in page["traces"]:
        assert set(trace) >= {"trace_id", "timestamp", "app", "results"}
        mine = [r for r in trace["results"] if r["evaluator"] == "correctness"]
        assert mine and mine[0]["passed"] is False
        assert len(trace["results"]) >= 7  # every evaluator's result comes along
    times = [t["timestamp"] for t in page["traces"]]
    assert times == sorted(times, reverse=True)
    assert times[0].endswith("Z")


def test_pages_are_disjoint_and_cover_the_total(client, traces):
    seen = [t["trace_id"] for t in _all(client, "app=chat")]
    assert len(seen) == len(set(seen)) == traces.loc[traces["app"] == "chat", "trace_id"].nunique()


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("status=ERROR", lambda t: t["status"] == "ERROR"),
        ("model=gpt-4o", lambda t: t["model"] == "gpt-4o"),
        ("since=2026-11-25T11:00:00Z&until=2026-11-25T11:30:00Z",
         lambda t: "2026-11-25T11:00" <= t["timestamp"] <= "2026-11-25T11:30:00Z"),
        ("evaluator=safety&label=jailbreak", lambda t: any(
            r["evaluator"] == "safety" and r["label"] == "jailbreak" for r in t["results"])),
    ],
)  # fmt: skip
def test_filters(client, query, check):
    found = _all(client, query)
    assert found and all(check(t) for t in found)


def test_session_and_text_filters_read_the_stored_content(client, traces):
    session = _all(client, "session=session-007")
    assert {t["trace_id"] for t in session} == set(
        traces.loc[traces["session_id"] == "session-007", "trace_id"]
    )
    refund = _all(client, "q=REFUND window")
    expected = traces[
        traces["inputs_json"].str.contains("refund window", case=False)
        | traces["outputs_json"].str.contains("refund window", case=False, na=False)
    ]
    assert {t["trace_id"] for t in refund} == set(expected["trace_id"]) and len(refund) > 5
    # LIKE wildcards in the text are literal characters, not patterns.
    assert client.get("/api/traces?q=%25").json()["total"] == 0


@pytest.mark.parametrize("sort", ["latency", "cost", "score", "time"])
def test_sort_orders(client, sort):
    key = {"latency": "latency_ms", "cost": "cost_usd", "score": "score", "time": "timestamp"}
    rows = client.get(f"/api/traces?sort={sort}&order=asc&limit=200").json()["traces"]
    values = [t[key[sort]] for t in rows if t[key[sort]] is not None]
    assert len(values) > 10 and values == sorted(values)


def test_detail_has_content_results_spans_and_session(client, traces):
    trace_id = traces.loc[traces["app"] == "support-bot", "trace_id"].iloc[3]
    body = client.get(f"/api/traces/{trace_id}").json()
    assert body["inputs"]["question"].endswith("?")
    assert isinstance(body["outputs"], str) and body["context"]
    assert {r["evaluator"] for r in body["results"]} >= {"correctness", "safety", "latency"}
    assert all("rationale" in r and "source" in r for r in body["results"])
    assert [s["name"] for s in body["spans"]] == ["handle_request", "retrieve", "chat_completion"]
    llm = body["spans"][2]
    assert llm["parent_id"] == body["spans"][0]["span_id"] and llm["outputs"] == body["outputs"]
    session = traces.loc[traces["session_id"] == body["session_id"], "trace_id"]
    assert {s["trace_id"] for s in body["session_traces"]} == set(session) - {trace_id}
    assert body["content_stored"] is True and body["versions"] == [1]


def test_versions_latest_first_and_older_on_request(client):
    latest = client.get("/api/traces/tr-versioned").json()
    assert latest["versions"] == [1, 2] and latest["trace_version"] == 2
    assert "30 days" in latest["outputs"]
    assert {r["trace_version"] for r in latest["results"]} == {2}
    old = client.get("/api/traces/tr-versioned?version=1").json()
    assert "90 days" in old["outputs"] and old["trace_version"] == 1
    listed = [t for t in _all(client, "app=support-bot") if t["trace_id"] == "tr-versioned"]
    assert len(listed) == 1 and listed[0]["trace_version"] == 2
    assert {r["trace_version"] for r in listed[0]["results"]} == {2}
    assert client.get("/api/traces/tr-versioned?version=3").status_code == 404


def test_field_over_the_limit_is_cut_and_marked(client):
    body = client.get("/api/traces/tr-huge").json()
    assert body["truncated_fields"] == ["outputs_json"]
    assert isinstance(body["outputs"], str) and len(body["outputs"]) == 64 * 1024
    assert body["outputs"].startswith('"word word') and len(HUGE) > 64 * 1024


def test_script_payload_comes_back_as_data(client):
    body = client.get("/api/traces/tr-xss").json()
    assert body["inputs"]["question"] == SCRIPT_IN and body["outputs"] == SCRIPT_OUT
    assert body["spans"][2]["outputs"] == SCRIPT_SPAN


def test_evaluators_and_overview(client, results):
    evaluators = {e["evaluator"]: e for e in client.get("/api/evaluators").json()["evaluators"]}
    correctness = results[results["evaluator"] == "correctness"]
    assert evaluators["correctness"]["evaluations"] == len(correctness)
    assert evaluators["correctness"]["failed"] == int((correctness["passed"] == False).sum())  # noqa: E712
    detail = client.get("/api/evaluators/correctness").json()
    assert sum(detail["histogram"]) == correctness["score"].notna().sum()
    assert detail["worst"] and all(w["score"] is None or w["score"] < 0.5 for w in detail["worst"])
    overview = client.get("/api/overview?app=chat").json()
    assert (
        overview["totals"]["traces"] == results.loc[results["app"] == "chat", "trace_id"].nunique()
    )
    assert sum(p["traces"] for p in overview["series"]) == overview["totals"]["traces"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "'limit'"),
        ("limit=abc", "'limit'"),
        ("passed=maybe", "'passed'"),
        ("sort=bogus", "'sort'"),
        ("status=weird", "'status'"),
        ("since=yesterday", "'since'"),
        ("since=2026-11-26T00:00:00Z&until=2026-11-25T00:00:00Z", "'since' is after 'until'"),
        ("evil=1", "unknown query parameter 'evil'"),
        ("app=a&app=b", "'app' is given more than once"),
    ],
)
def test_bad_parameters_are_400_with_a_message(client, query, message):
    answer = client.get(f"/api/traces?{query}")
    assert answer.status_code == 400 and message in answer.json()["error"]
    page = client.get(f"/traces?{query}")
    assert page.status_code == 400 and "Bad request" in page.text
    assert client.get("/api/traces/tr-xss?version=0").status_code == 400


def test_sql_text_in_parameters_is_only_data(client):
    for query in ("q=' OR 1=1 --", "evaluator=x' OR '1'='1", "app=chat'; DROP TABLE x; --"):
        answer = client.get(f"/api/traces?{query}")
        assert answer.status_code == 200 and answer.json()["total"] == 0


def test_read_only(client):
    assert client.post("/api/traces").status_code == 405
    assert client.delete("/api/traces/tr-xss").status_code == 405
    assert client.put("/traces").status_code == 405


def test_missing_trace_is_404(client):
    assert client.get("/api/traces/nope").status_code == 404
    assert "no stored trace" in client.get("/traces/nope").text


def test_results_only_data_still_answers(results_only_dir):
    with make_client(results_only_dir) as old:
        assert old.get("/health").json()["datasets"] == {
            "results": True, "traces": False, "spans": False}  # fmt: skip
        page = old.get("/api/traces?evaluator=latency&limit=5").json()
        assert page["total"] == 60 and page["content_stored"] is False
        everything = old.get("/api/traces?limit=500").json()
        assert everything["total"] == 60
        detail = old.get(f"/api/traces/{page['traces'][0]['trace_id']}").json()
        assert detail["content_stored"] is False and len(detail["results"]) >= 7
        assert detail["spans"] == [] and "inputs" not in detail
        answer = old.get("/api/traces?q=refund")
        assert answer.status_code == 400 and "no traces dataset" in answer.json()["error"]
        for path in ("/", "/traces", f"/traces/{page['traces'][0]['trace_id']}", "/evaluators"):
            html = old.get(path)
            assert html.status_code == 200 and "Trace content is not stored" in html.text


def test_new_files_show_up_without_a_restart(tmp_path):
    from datetime import UTC, datetime

    from pipeline.tools.ui.testing import score_traces, write_datasets

    root = tmp_path / "parquet"
    first = list(sample(3, datetime(2026, 11, 25, 9, tzinfo=UTC)))
    write_datasets(root, score_traces(first))
    with make_client(root) as live:
        assert live.get("/api/traces").json()["total"] == 3
        later = list(sample(2, datetime(2026, 11, 25, 12, tzinfo=UTC), seed=8))
        write_datasets(root, score_traces(later), first_offset=100)
        assert live.get("/api/traces").json()["total"] == 5


def sample(count, start, seed=7):
    from pipeline.tools.demo.samples import sample_traces

    return sample_traces(count, start=start, seed=seed, spread_seconds=60)


@pytest.mark.parametrize("fixture", ["ui_results_dir", "results_only_dir"])
def test_warm_up_remembers_the_counts_the_overview_links_to(request, fixture):
    import threading

    from pipeline.tools.ui.app import warm_up
    from pipeline.tools.ui.filters import TraceQuery
    from pipeline.tools.ui.layout import Datasets
    from pipeline.tools.ui.store import Store
    from pipeline.tools.ui.trace_list import hour_counts

    store = Store(Datasets.beside(request.getfixturevalue(fixture)))
    done = threading.Event()
    warm_up(store, done)
    assert done.is_set()
    asked = []
    original = store.rows
    store.rows = lambda sql, params=(): asked.append(sql) or original(sql, params)
    counts = hour_counts(store, TraceQuery(evaluator="correctness", passed=False))
    assert sum(counts.values()) > 0 and asked == []  # answered from memory, no query


@pytest.mark.parametrize(("sort", "column"), [("latency", "latency_ms"), ("cost", "cost_usd")])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorted_page_is_the_page_a_full_sort_gives(client, traces, sort, column, order):
    latest = traces.sort_values("trace_version").drop_duplicates("trace_id", keep="last")
    latest = latest[latest["app"] == "chat"]
    expected = latest.sort_values(
        [column, "trace_id"], ascending=[order == "asc", True], na_position="last"
    )
    for offset in (0, 10, len(latest) - 5):
        answer = client.get(
            f"/api/traces?app=chat&sort={sort}&order={order}&limit=20&offset={offset}"
        ).json()
        # Ties on the value are broken by trace_id, in the UI as here.
        got = [t["trace_id"] for t in answer["traces"]]
        assert got == list(expected["trace_id"].iloc[offset : offset + 20])


def test_evaluator_worst_and_pass_rates_match_pandas(client, results):
    detail = client.get("/api/evaluators/correctness").json()
    mine = results[results["evaluator"] == "correctness"]
    bad = mine[(mine["passed"] == False) | mine["error"].notna()].copy()  # noqa: E712
    bad["null_first"] = bad["score"].notna()
    bad["ts"] = -bad["timestamp"].map(lambda t: t.timestamp())
    expected = bad.sort_values(["null_first", "score", "ts", "trace_id"]).head(25)
    assert [w["trace_id"] for w in detail["worst"]] == list(expected["trace_id"])
    judged = mine[mine["passed"].notna() & mine["error"].isna()]
    step = detail["bucket_seconds"]
    seconds = judged["timestamp"].map(lambda t: t.timestamp())
    buckets = (seconds // step * step).astype(float)
    want = judged.groupby(buckets)["passed"].mean()
    got = {p["t"]: p["rate"] for p in detail["pass_rates"]}
    assert got == pytest.approx(want.to_dict())
