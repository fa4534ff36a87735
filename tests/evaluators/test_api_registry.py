"""Plugins through real entry points: good ones registered, broken ones reported."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import plugin_fixtures
import pytest

from evaluators import (
    ConfigError,
    Evaluator,
    EvaluatorDefinitionError,
    FunctionEvaluator,
    Registry,
    UnknownEvaluatorError,
    discover,
)
from evaluators.builtin.operational import CostEvaluator, LatencyEvaluator
from evaluators.registry import DEFAULT_EVALUATORS, ENTRY_POINT_GROUP, as_registrable
from schemas import Trace

GROUP = ENTRY_POINT_GROUP


def ep(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group=GROUP)


GOOD = [
    ep("shouty", "plugin_fixtures:shouty"),
    ep("plain_scorer", "plugin_fixtures:plain_scorer"),
    ep("word_count", "plugin_fixtures:WordCount"),
]
BROKEN = {
    "no_evaluate": ("plugin_fixtures:NoEvaluate", "implements neither evaluate()"),
    "needs_argument": ("plugin_fixtures:NeedsArgument", "'api_key' needs a default"),
    "nameless": ("plugin_fixtures:Nameless", "has no `name`"),
    "missing_module": ("nonexistent_mod:thing", "ModuleNotFoundError"),
    "missing_attr": ("plugin_fixtures:does_not_exist", "AttributeError"),
    "exploding": ("plugin_fixtures:exploding", "RuntimeError: plugin import blew up"),
    "number": ("plugin_fixtures:not_an_evaluator", "is not an evaluator"),
}


def _load(points: list[EntryPoint], allow: list[str] | None = None) -> Registry:
    return Registry().load_entry_points(points, allow=allow)


def test_fixture_module_is_the_one_entry_points_load() -> None:
    assert ep("x", "plugin_fixtures:shouty").load() is plugin_fixtures.shouty


def test_good_and_broken_plugins_never_raise() -> None:
    points = GOOD + [ep(name, target) for name, (target, _) in BROKEN.items()]
    registry = _load(points)
    assert registry.names() == ["plain_scorer", "shouty", "word_count"]
    reasons = {error.name: (error.target, error.reason) for error in registry.errors}
    assert set(reasons) == set(BROKEN)
    for name, (target, fragment) in BROKEN.items():
        assert reasons[name][0] == target
        assert fragment in reasons[name][1], (name, reasons[name][1])


def test_registered_plugins_work() -> None:
    registry = _load(GOOD)
    trace = Trace(trace_id="t", outputs="HELLO world", expectations={"expected_response": "x"})

    shouty = registry.get("shouty")
    assert isinstance(shouty.target, FunctionEvaluator)
    assert (shouty.version, shouty.parameters()) == ("2", {"min_ratio": 0.5})
    assert (shouty.package, shouty.package_version) == ("", "")
    result = shouty.create({"min_ratio": 0.9}).evaluate(trace)
    assert result.score == 0.5

    word_count = registry.get("word_count")
    assert word_count.target is plugin_fixtures.WordCount
    assert (word_count.version, word_count.parameters()) == ("3", {"max_words": 100})
    instance = word_count.create({"max_words": 1})
    assert isinstance(instance, plugin_fixtures.WordCount) and instance.max_words == 1
    assert instance.evaluate(trace) is False

    plain = registry.get("plain_scorer")
    assert isinstance(plain.target, FunctionEvaluator)
    assert plain.create({}).evaluate(trace) is False


def test_entry_point_name_is_the_registered_name() -> None:
    registry = _load([ep("my_alias", "plugin_fixtures:WordCount")])
    assert registry.names() == ["my_alias"]
    assert registry.get("my_alias").create({}, result_name="my_alias").name == "my_alias"


def test_duplicate_name_is_recorded() -> None:
    registry = _load([ep("dup", "plugin_fixtures:shouty"), ep("dup", "plugin_fixtures:WordCount")])
    assert registry.names() == ["dup"]
    assert registry.get("dup").target is plugin_fixtures.shouty
    assert len(registry.errors) == 1
    error = registry.errors[0]
    assert (error.name, error.target) == ("dup", "plugin_fixtures:WordCount")
    assert error.reason.startswith("EvaluatorDefinitionError: evaluator 'dup' is registered twice")


def test_register_twice_directly_raises() -> None:
    registry = Registry()
    registry.register(plugin_fixtures.WordCount)
    with pytest.raises(EvaluatorDefinitionError, match="registered twice"):
        registry.register(plugin_fixtures.WordCount, package="other")


def test_allow_list_limits_loading() -> None:
    points = [*GOOD, ep("missing_module", "nonexistent_mod:thing")]
    registry = _load(points, allow=["word_count", "missing_module"])
    assert registry.names() == ["word_count"]
    assert [e.name for e in registry.errors] == ["missing_module"]
    assert _load(points, allow=[]).names() == []


def test_get_unknown_lists_installed() -> None:
    registry = _load(GOOD)
    with pytest.raises(UnknownEvaluatorError) as exc:
        registry.get("nope")
    assert str(exc.value) == (
        "unknown evaluator 'nope' (installed: plain_scorer, shouty, word_count)"
    )
    assert isinstance(exc.value, ConfigError)
    with pytest.raises(UnknownEvaluatorError, match=r"installed: none"):
        Registry().get("nope")


def test_create_unknown_param_names_it() -> None:
    registry = Registry()
    registry.register(LatencyEvaluator)
    with pytest.raises(ConfigError) as exc:
        registry.get("latency").create({"slo": 5, "slo_ms": 10})
    assert str(exc.value) == "evaluator 'latency' has no parameter slo (it accepts: slo_ms)"


def test_create_unknown_param_of_function_and_paramless_class() -> None:
    registry = _load(GOOD)
    with pytest.raises(ConfigError, match=r"has no parameter colour \(it accepts: min_ratio\)"):
        registry.get("shouty").create({"colour": "red"})
    with pytest.raises(ConfigError, match=r"has no parameter x \(it accepts: none\)"):
        registry.get("plain_scorer").create({"x": 1})


@pytest.mark.parametrize("params", [{"slo_ms": -1}, {"slo_ms": 0}, {"slo_ms": "fast"}])
def test_create_bad_value_is_config_error(params: dict) -> None:
    registry = Registry()
    registry.register(LatencyEvaluator)
    with pytest.raises(ConfigError, match=r"^evaluator 'latency': "):
        registry.get("latency").create(params)


def test_create_bad_value_of_plugin_class() -> None:
    registry = _load(GOOD)
    with pytest.raises(ConfigError, match="max_words must be positive"):
        registry.get("word_count").create({"max_words": 0})


def test_create_malformed_prices_is_config_error() -> None:
    # Regression: a price entry without output_per_million raised a bare KeyError.
    registry = Registry()
    registry.register(CostEvaluator)
    with pytest.raises(ConfigError, match="output_per_million"):
        registry.get("cost").create({"prices": {"m": {"input_per_million": 1.0}}})
    with pytest.raises(ConfigError):
        registry.get("cost").create({"prices": {"m": 5}})


def test_create_result_name_renames_instance_only() -> None:
    registry = Registry()
    registry.register(LatencyEvaluator)
    strict = registry.get("latency").create({"slo_ms": 5}, result_name="latency_strict")
    assert strict.name == "latency_strict"
    assert LatencyEvaluator.name == "latency"
    assert registry.get("latency").create({}).name == "latency"


def test_as_registrable() -> None:
    assert as_registrable(plugin_fixtures.WordCount) is plugin_fixtures.WordCount
    assert as_registrable(plugin_fixtures.shouty) is plugin_fixtures.shouty
    wrapped = as_registrable(plugin_fixtures.plain_scorer)
    assert isinstance(wrapped, FunctionEvaluator) and wrapped.name == "plain_scorer"
    with pytest.raises(EvaluatorDefinitionError, match="is not an evaluator"):
        as_registrable("latency")
    with pytest.raises(EvaluatorDefinitionError):
        as_registrable(plugin_fixtures.NoEvaluate)


def test_discover_finds_the_builtins() -> None:
    registry = discover()
    for name in ("latency", "error", "token_usage", "cost"):
        registration = registry.get(name)
        assert isinstance(registration.target, type)
        assert issubclass(registration.target, Evaluator)
        assert registration.target.name == name
        assert registration.package == "evalstream"
    assert registry.get("latency").parameters() == {"slo_ms": 2000.0}
    assert registry.get("error").parameters() == {}
    assert registry.get("token_usage").parameters() == {"max_total_tokens": 8000}
    assert registry.get("cost").parameters() == {"budget_usd": 0.01, "prices": None}
    assert registry.default_names() == [n for n in DEFAULT_EVALUATORS if n in registry.names()]
    assert registry.default_names()[:4] == ["latency", "error", "token_usage", "cost"]


def test_discover_allow_list() -> None:
    registry = discover(allow=["latency", "cost"])
    assert registry.names() == ["cost", "latency"]
    assert registry.errors == []


class _Base(Evaluator):
    name = "base_params"

    def __init__(self, slo: float = 1.0, mode: str = "fast") -> None:
        self.slo, self.mode = slo, mode

    def evaluate(self, trace):
        return 1.0


class _Forwarding(_Base):
    name = "forwarding_params"

    def __init__(self, *, strict: bool = False, mode: str = "exact", **kwargs) -> None:
        super().__init__(mode=mode, **kwargs)
        self.strict = strict


class _Closed(_Base):
    name = "closed_params"

    def __init__(self, strict: bool = False) -> None:
        super().__init__()
        self.strict = strict


def test_a_subclass_forwarding_kwargs_inherits_the_base_parameters() -> None:
    """Its own first, its default wins on a shared name; without ``**kwargs`` nothing is
    inherited (the base's parameters could not reach it)."""
    assert _Forwarding.parameters() == {"strict": False, "mode": "exact", "slo": 1.0}
    assert list(_Forwarding.parameters()) == ["strict", "mode", "slo"]
    assert _Closed.parameters() == {"strict": False}
    registry = Registry()
    forwarding, closed = registry.register(_Forwarding), registry.register(_Closed)
    made = forwarding.create({"slo": 2.5, "strict": True})
    assert (made.slo, made.mode, made.strict) == (2.5, "exact", True)
    with pytest.raises(ConfigError, match="parameter slo must be float, not str"):
        forwarding.create({"slo": "2.5"})  # the base's type hint is checked too
    with pytest.raises(ConfigError, match="parameter strict must be bool"):
        forwarding.create({"strict": "yes"})
    with pytest.raises(ConfigError, match="has no parameter slo"):
        closed.create({"slo": 2.5})


def test_safety_lists_the_quality_parameters_and_its_own() -> None:
    params = discover().get("safety").parameters()
    assert params["request_content"] is True
    for name in ("backend", "judge", "tiers", "encoder_mode", "band", "llm_band",
                 "judge_calls_per_minute", "judge_usd_per_hour"):  # fmt: skip
        assert name in params, name
    assert params["band"] == 0.3 and params["tiers"] == "lexical,encoder"
