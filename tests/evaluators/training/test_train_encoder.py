"""The shipped encoder heads: plain JSON (no pickle), and a retrain is byte-identical."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluators.builtin._quality_model import MODELS_DIR
from evaluators.training.encoder_rows import corpus_rows

HEADS = {
    "safety": ["safety_request_encoder", "safety_content_encoder", "safety_refusal_encoder",
               "safety_jailbreak_encoder", "safety_category_encoder"],
    "reference": ["correctness_reference_encoder"],
    "grounding": ["correctness_grounding_encoder"],
    "sufficiency": ["context_sufficiency_encoder"],
}  # fmt: skip
ROOT = Path(__file__).resolve().parents[3]


def test_heads_are_plain_json_with_their_feature_names():
    for names in HEADS.values():
        for name in names:
            spec = json.loads((MODELS_DIR / f"{name}.json").read_text(encoding="utf-8"))
            assert spec["kind"] in ("dense", "linear_multiclass")
            assert not (MODELS_DIR / f"{name}.npz").exists()
            if spec["kind"] == "dense":
                assert len(spec["features"]) == len(spec["mean"]) == len(spec["layers"][0]["W"])


@pytest.mark.slow
@pytest.mark.timeout(5400)  # a full retrain: tens of minutes on two busy cores, not the 300 s
@pytest.mark.skipif(not corpus_rows("safety_content"), reason="training corpus absent")
def test_retraining_the_heads_is_deterministic(tmp_path: Path):
    """Byte-identical heads from the committed script (embeddings cached after the first run)."""
    for command, names in HEADS.items():
        subprocess.run(
            [sys.executable, "-m", "evaluators.training.train_encoder", command, "--out",
             str(tmp_path)], cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        for name in names:
            assert (tmp_path / f"{name}.json").read_bytes() == (
                MODELS_DIR / f"{name}.json"
            ).read_bytes(), name
