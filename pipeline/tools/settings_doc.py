"""Generate docs/configuration.md from the ``Settings`` model (the single source of truth).

``python -m pipeline.tools.settings_doc`` rewrites the file; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.settings import ENV_PREFIX, SECTIONS, Settings

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

HEADER = """# Configuration

Every setting of the worker and the CLI comes from an environment variable with the prefix
`EVALSTREAM_` (CLI flags, where a command has them, take precedence). This page is generated
from `pipeline/settings/` by `python -m pipeline.tools.settings_doc`; a test keeps them in sync.

Which evaluators run, with what parameters, sampling and filters, is set in a TOML file
named by `EVALSTREAM_CONFIG` (see [the evaluator config](#evaluator-config-toml) below).
The encoder tier's settings (`EVALSTREAM_ENCODER_*`) are in [encoder-tier.md](encoder-tier.md).
"""

TABLE_HEAD = """| Variable | Default | Meaning |
|---|---|---|
"""

FOOTER = """
## Evaluator config (TOML)

```toml
[defaults]
timeout_seconds = 30      # per evaluator and batch; past it, results are errors
sample_rate = 1.0         # fraction of traces, chosen deterministically by trace_id
max_spans_per_trace = 100 # spans a span-targeted evaluator runs on per trace, at most

[evaluators.latency]
params = { slo_ms = 1500 }
threshold = 1.0           # passed = score >= threshold

[evaluators.latency_strict]   # a second instance of the same evaluator
use = "latency"
params = { slo_ms = 500 }

[evaluators.error]

[evaluators.cost]
params = { budget_usd = 0.02 }

[evaluators.my_plugin]        # any installed plugin, by entry-point name
sample_rate = 0.1
timeout_seconds = 5
filter = { status = ["OK"], tags = { env = "prod" } }

[evaluators.tool_latency]     # once per matching span instead of once per trace
use = "latency"
params = { slo_ms = 1500 }
apply_to = { span_type = ["TOOL"], name = "^search", pick = "all", max_spans = 50 }

[pricing.my-fine-tune]        # USD per million tokens, used for cost_usd when traces lack it
input_per_million = 1.0
output_per_million = 4.0
```

Without a file, or without an `[evaluators]` table, the default set runs: the operational
evaluators (`latency`, `error`, `token_usage`, `cost`) and the quality evaluators
(`correctness`, `safety`, `context_sufficiency`) that are installed. With an `[evaluators]`
table, exactly the listed evaluators run. Unknown keys and unknown parameters are errors
that name the key, reported before the worker connects to Kafka. `apply_to` (span type,
name regex, first/last/all, cap) is described in [span-targeting.md](span-targeting.md).

Alert rules (`[[alerts]]` tables) live in the same file and are read by `evalstream alerts`;
see [alerts.md](alerts.md). `evalstream config check FILE` validates a file without Kafka.
"""


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        return "(computed)"
    return "(unset)" if field.default is None else f"`{field.default}`"


def _row(name: str) -> str:
    description = Settings.model_fields[name].description
    return f"| `{ENV_PREFIX}{name.upper()}` | {_default(name)} | {description} |"


def render() -> str:
    sections = [
        f"\n## {title}\n\n" + TABLE_HEAD + "\n".join(_row(name) for name in names) + "\n"
        for title, names in SECTIONS.items()
    ]
    return HEADER + "".join(sections) + FOOTER


if __name__ == "__main__":
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC_PATH}\n")
