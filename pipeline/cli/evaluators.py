"""``evalstream evaluators list`` and ``evalstream config check``: answer "what will run?"
before a worker is started, instead of after it has crashed in a pod.

Both reuse exactly what the worker uses (``discover`` and ``build_evaluators``), so a config
that passes ``check`` builds the same evaluators in the worker. Errors are one line each,
never a traceback, and ``check`` exits 2 on any of them so CI can gate on it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evaluators.config import EvaluatorConfig, load_config
from evaluators.decorator import FunctionEvaluator
from evaluators.exceptions import EvaluatorError, UnknownEvaluatorError
from evaluators.registry import DEFAULT_EVALUATORS, Registration, Registry, discover
from evaluators.runner import ConfiguredEvaluator, build_evaluators

evaluators_app = typer.Typer(
    help="Installed evaluators (built-ins and plugins).", no_args_is_help=True
)
config_app = typer.Typer(help="Evaluator configuration files (TOML).", no_args_is_help=True)

INVALID = 2


def _jsonable(value: Any) -> Any:
    """Parameter defaults are arbitrary Python values; JSON gets them or their repr."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return repr(value)


def _describe(entry: Registration) -> dict[str, Any]:
    return {
        "name": entry.name,
        "version": entry.version,
        "kind": "function" if isinstance(entry.target, FunctionEvaluator) else "class",
        "package": entry.package or None,
        "package_version": entry.package_version or None,
        "default": entry.name in DEFAULT_EVALUATORS,
        "parameters": {k: _jsonable(v) for k, v in entry.parameters().items()},
    }


def _params_text(params: dict[str, Any]) -> str:
    """One parameter per line keeps the table readable in an 80-column terminal."""
    return "\n".join(f"{k}={v!r}" for k, v in params.items()) or "-"


def _filter_text(spec: dict[str, Any]) -> str:
    lines = [f"status in {','.join(spec['status'])}"] if spec.get("status") else []
    lines += [f"tags.{k}={v}" for k, v in spec.get("tags", {}).items()]
    return "\n".join(lines) or "-"


def _runs_on_text(apply_to: dict[str, Any] | None, scope: str = "trace") -> str:
    """``trace``, ``session`` (docs/sessions.md), or which spans a span-targeted evaluator runs
    on (docs/span-targeting.md)."""
    if apply_to is None:
        return "closed sessions" if scope == "session" else "trace"
    pick = apply_to.get("pick", "all")
    lines = ["every span" if pick == "all" else f"the {pick} span"]
    if apply_to.get("span_type") is not None:
        lines.append(f"type in {','.join(apply_to['span_type'])}")
    if apply_to.get("name") is not None:
        lines.append(f"name ~ {apply_to['name']}")
    lines.append(f"at most {apply_to['max_spans']}/trace")
    return "\n".join(lines)


def _write_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@evaluators_app.command("list")
def list_evaluators(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List installed evaluators, their parameters, and plugins that failed to load.

    Example: [bold]evalstream evaluators list --json[/]
    """
    registry = discover()
    described = [_describe(entry) for entry in registry.registrations()]
    errors = [vars(error) for error in registry.errors]
    if as_json:
        _write_json({"evaluators": described, "load_errors": errors})
        return
    table = Table(title="Installed evaluators", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("ver")
    table.add_column("package", overflow="fold")
    table.add_column("default")
    table.add_column("parameters", min_width=18, overflow="fold")
    for item in described:
        table.add_row(
            item["name"],
            item["version"],
            f"{item['package'] or 'local'} {item['package_version'] or ''}".strip(),
            "yes" if item["default"] else "",
            escape(_params_text(item["parameters"])),
        )
    console = Console()
    console.print(table)
    for error in registry.errors:
        console.print(
            f"[yellow]load error:[/] {escape(error.name)} ({escape(error.target)}):"
            f" {escape(error.reason)}"
        )


def _one_table(config: EvaluatorConfig, name: str) -> EvaluatorConfig:
    assert config.evaluators is not None
    return config.model_copy(update={"evaluators": {name: config.evaluators[name]}})


Built = tuple[ConfiguredEvaluator, str, dict[str, Any]]
"""A built evaluator, the registered name it uses, and the params the config gave it."""


def _build_all(config: EvaluatorConfig, registry: Registry) -> tuple[list[Built], list[str]]:
    """Build evaluator by evaluator so that every bad table is reported, not just the first."""
    scopes = ("trace", "session")  # session evaluators run in the session stage
    if config.evaluators is None:
        every = [c for scope in scopes for c in build_evaluators(config, registry, scope)]
        return [(c, c.name, {}) for c in every], []
    failed = {error.name: error.reason for error in registry.errors}
    built: list[Built] = []
    problems = []
    for name, settings in config.evaluators.items():
        use = settings.use or name
        try:
            one = _one_table(config, name)
            built.extend(
                (c, use, dict(settings.params))
                for scope in scopes
                for c in build_evaluators(one, registry, scope)
            )
        except UnknownEvaluatorError as exc:
            reason = f"plugin failed to load: {failed[use]}" if use in failed else str(exc)
            problems.append(f"evaluators.{name}: {reason}")
        except EvaluatorError as exc:
            problems.append(f"evaluators.{name}: {exc}")
        except Exception as exc:  # a plugin's __init__ may raise anything
            problems.append(f"evaluators.{name}: {type(exc).__name__}: {exc}")
    return built, problems


def _resolved(item: Built, registry: Registry) -> dict[str, Any]:
    configured, use, given = item
    entry = registry.get(use)
    params = {**entry.parameters(), **given}
    return {
        "name": configured.name,
        "evaluator": use,
        "version": str(configured.evaluator.version),
        "package": entry.package or None,
        "threshold": configured.threshold,
        "sample_rate": configured.sample_rate,
        "timeout_seconds": configured.timeout_seconds,
        "filter": configured.filter.model_dump(exclude_defaults=True),
        "scope": getattr(configured.evaluator, "scope", "trace"),
        "apply_to": (
            None
            if configured.apply_to is None
            else {
                **configured.apply_to.model_dump(exclude_defaults=True),
                "max_spans": configured.max_spans,
            }
        ),
        "params": {k: _jsonable(v) for k, v in params.items()},
    }


def _fail(path: Path, problems: list[str]) -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for problem in problems:
        console.print(f"[bold red]error:[/] {escape(str(path))}: {escape(problem)}")
    raise typer.Exit(INVALID)


@config_app.command("check")
def check_config(
    file: Path = typer.Argument(..., help="The evaluator TOML to validate."),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved config as JSON."),
) -> None:
    """Validate an evaluator config and show what a worker would run; exit 2 if invalid.

    Example: [bold]evalstream config check evalstream.toml[/]
    """
    from pipeline.tools.alerts.rules import AlertConfigError, load_alert_rules

    try:
        config = load_config(file)
        # The alerts runner's own parser, so check passes exactly what `alerts` accepts.
        rules = load_alert_rules(file)
    except (EvaluatorError, AlertConfigError) as exc:  # messages name the file and the key
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {escape(str(exc))}"
        )
        raise typer.Exit(INVALID) from None
    registry = discover()
    built, problems = _build_all(config, registry)
    if problems:
        _fail(file, problems)
    alert_names = [rule.name for rule in rules]
    resolved = [_resolved(item, registry) for item in built]
    if as_json:
        _write_json(
            {
                "file": str(file),
                "default_set": config.evaluators is None,
                "evaluators": resolved,
                "pricing": sorted(config.pricing),
                "alerts": alert_names,
            }
        )
        return
    _print_resolved(file, config, resolved)
    if alert_names:
        Console().print(f"alert rules: {escape(', '.join(alert_names))}")


def _print_resolved(file: Path, config: EvaluatorConfig, resolved: list[dict[str, Any]]) -> None:
    which = "default set" if config.evaluators is None else "as listed"
    table = Table()  # the verdict goes on its own line: a title is wrapped to the table's width
    table.add_column("name", no_wrap=True)
    for column in ("pass >=", "sample", "timeout"):
        table.add_column(column, justify="right")
    table.add_column("runs on", overflow="fold")
    table.add_column("filter", overflow="fold")
    table.add_column("params", min_width=14, overflow="fold")
    for item in resolved:
        uses = "" if item["evaluator"] == item["name"] else f"\nuses {item['evaluator']}"
        table.add_row(
            f"{item['name']}{uses}\nv{item['version']}",
            f"{item['threshold']:g}",
            f"{item['sample_rate']:g}",
            f"{item['timeout_seconds']:g}s",
            escape(_runs_on_text(item["apply_to"], item["scope"])),
            escape(_filter_text(item["filter"])),
            escape(_params_text(item["params"])),
        )
    console = Console()
    console.print(f"{escape(str(file))}: valid, {len(resolved)} evaluators ({which})",
                  soft_wrap=True)  # fmt: skip
    console.print(table)
    if config.pricing:
        console.print(f"pricing for: {', '.join(sorted(config.pricing))}")
    if not resolved:
        console.print("[yellow]warning:[/] no evaluator is enabled: workers will score nothing")
