"""``evalstream alerts``: the command; the runtime is :mod:`pipeline.tools.alerts.runner`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.exceptions import PipelineError
from pipeline.settings import load_settings
from pipeline.tools.alerts.engine import AlertEngine
from pipeline.tools.alerts.rules import AlertConfigError, load_alert_rules
from pipeline.tools.alerts.runner import Webhook, firing_from_topic, run_alerts


def alerts_command(
    config: Path | None = typer.Option(
        None, "--config", help="TOML with \\[\\[alerts]] rules (env EVALSTREAM_CONFIG)."
    ),
    webhook: str | None = typer.Option(None, "--webhook", help="URL to POST each alert to."),
    alerts_topic: str = typer.Option("trace-alerts", "--alerts-topic", help="Topic of alerts."),
    group: str = typer.Option(
        "evalstream-alerts", "--group", help="Consumer group keeping the read position."
    ),
    stop_when_idle: float | None = typer.Option(
        None, help="Exit 0 once no metrics record came for this long (seconds)."
    ),
) -> None:
    """Evaluate alert rules over the metrics topic; publish and POST firing/resolved alerts.

    Example: [bold]evalstream alerts --config evalstream.toml --webhook https://hooks/x[/]
    """
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    webhook_client = Webhook(webhook) if webhook else None
    try:
        settings = load_settings(config=config)
        if settings.config is None:
            raise AlertConfigError("no config: pass --config or set EVALSTREAM_CONFIG")
        rules = load_alert_rules(settings.config)
        if not rules:
            raise AlertConfigError(f"{settings.config}: no [[alerts]] rules")
        engine = AlertEngine(rules, firing=firing_from_topic(settings, alerts_topic))
        err.print(
            f"alerts: {settings.metrics_topic} -> {alerts_topic}; rules:"
            f" {', '.join(r.name for r in rules)}; already firing: {len(engine.firing)}"
        )
        stats = run_alerts(
            settings,
            engine,
            alerts_topic=alerts_topic,
            group=group,
            webhook=webhook_client,
            stop_when_idle=stop_when_idle,
        )
    except PipelineError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None
    finally:
        if webhook_client is not None:
            webhook_client.close()
    err.print(
        f"read {stats.records:,} metrics records ({stats.skipped} skipped);"
        f" fired {stats.fired}, resolved {stats.resolved}"
    )
