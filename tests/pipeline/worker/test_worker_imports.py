"""What scoring imports costs resident memory in every worker process: scikit-learn (with
scipy) and pandas stay out of the scoring path (about 150 MB together; docs/performance.md,
memory). pandas itself still enters a running worker: pyarrow imports it the first time it
converts a Python list, which ``pipeline.worker.runtime.preload_lazy_imports`` now does at
start-up; this test guards the evaluators, not the Parquet sink."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sklearn", "scipy", "pandas")
SCRIPT = """
import sys
import pipeline.cli, pipeline.worker.run
from evaluators.config import EvaluatorConfig
from pipeline.evaluate.scorer import Scorer
from pipeline.sample_traces import sample_traces
from schemas import Trace

scorer = Scorer(EvaluatorConfig())  # the default set, encoder tier included
traces = [Trace.model_validate(t) for t in sample_traces(40, seed=3)]
results = scorer.runner.score(traces)
assert all(r.error is None for rs in results for r in rs), results
tiers = {r.metadata.get("tier") for rs in results for r in rs}
print(sorted(m for m in sys.modules if m.split(".")[0] in {heavy}), sorted(map(str, tiers)))
"""


def test_scoring_with_the_default_set_imports_no_training_or_dataframe_library():
    script = SCRIPT.replace("{heavy}", repr(set(HEAVY)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported, tiers = done.stdout.strip().rsplit("] [", 1)
    assert imported == "[", f"the worker imported {imported}]"
    assert "'encoder'" in tiers and "'lexical'" in tiers  # both tiers ran
