"""Encoder embeddings of training texts, cached on disk: the transformer is the slow part of
training, and a retrain with the same texts must not pay it again. The cache key is the
sha256 of the texts, the pinned graph and the settings, so a stale file is never read."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from evaluators.builtin.encoder import EncoderSettings, load_encoder
from evaluators.builtin.encoder.runtime import GRAPH_SHA256

_ENCODER: list = []


def settings() -> EncoderSettings:
    """Training always embeds in fp32 on one thread: exact and reproducible."""
    return replace(EncoderSettings.from_env(), enabled=True, precision="fp32", threads=1)


def encoder():
    if not _ENCODER:
        _ENCODER.append(load_encoder(settings()))
    return _ENCODER[0]


def cache_dir() -> Path:
    env = os.environ.get("EVALSTREAM_TRAINING_EMBEDDINGS_DIR")
    return Path(env) if env else settings().cache_dir / "training-embeddings"


CHUNK = 1000
"""Texts embedded per store file, so an interrupted run keeps its progress."""
_STORE: dict[bytes, np.ndarray] = {}
_LOADED: list[bool] = []


def _key(texts: list[str]) -> str:
    s = settings()
    key = hashlib.sha256()
    key.update(f"{GRAPH_SHA256[s.precision]}|{s.max_tokens}\n".encode())
    for text in texts:
        key.update(hashlib.sha256(text.encode("utf-8")).digest())
    return key.hexdigest()[:32]


def _text_id(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _store_dir() -> Path:
    s = settings()
    return cache_dir() / f"store-{GRAPH_SHA256[s.precision][:12]}-{s.max_tokens}"


def _load_store() -> None:
    if _LOADED:
        return
    for path in sorted(_store_dir().glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            for ident, vector in zip(data["ids"], data["vectors"], strict=True):
                _STORE.setdefault(ident.tobytes(), vector)
    _LOADED.append(True)


def _persist(texts: list[str], vectors: np.ndarray) -> None:
    ids = np.array([np.frombuffer(_text_id(t), dtype=np.uint8) for t in texts])
    name = hashlib.sha256(ids.tobytes()).hexdigest()[:32]
    directory = _store_dir()
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{name}.part"
    with tmp.open("wb") as fh:
        np.savez(fh, ids=ids, vectors=vectors)
    os.replace(tmp, directory / f"{name}.npz")
    for text, vector in zip(texts, vectors, strict=True):
        _STORE[_text_id(text)] = vector


def embed(texts: list[str]) -> np.ndarray:
    """Embeddings of ``texts`` (fp32, exact): each text is embedded once per cache, whatever
    list it comes in (held-out-source retrains reuse every vector)."""
    _load_store()
    legacy = cache_dir() / f"{_key(texts)}.npy"  # whole-list files of earlier runs
    if legacy.is_file() and any(_text_id(t) not in _STORE for t in texts):
        _persist(texts, np.load(legacy, allow_pickle=False))
    missing = list(dict.fromkeys(t for t in texts if _text_id(t) not in _STORE))
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        _persist(chunk, encoder().encode(chunk))
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([_STORE[_text_id(t)] for t in texts])


def known(text: str) -> np.ndarray | None:
    """The stored vector of ``text`` if any (benchmarks reuse them instead of recomputing)."""
    _load_store()
    return _STORE.get(_text_id(text))
