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
from evaluators.builtin.encoder.runtime import EMPTY_TOKENS, POOLED_SHA256, TokenStates, piece_words

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
    key.update(f"{POOLED_SHA256[s.precision]}|{s.max_tokens}\n".encode())
    for text in texts:
        key.update(hashlib.sha256(text.encode("utf-8")).digest())
    return key.hexdigest()[:32]


def _text_id(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _store_dir() -> Path:
    s = settings()
    return cache_dir() / f"store-{POOLED_SHA256[s.precision][:12]}-{s.max_tokens}"


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


_TOKENS: dict[bytes, tuple[np.ndarray, int, int]] = {}
_TOKEN_FILES: set[str] = set()


def _token_dir() -> Path:
    s = settings()
    return cache_dir() / f"tokens-{POOLED_SHA256[s.precision][:12]}-{s.max_tokens}"


def _load_tokens() -> None:
    """The token-state store: per chunk the text ids, piece counts and one float16 array
    (memory-mapped: some 40 kB per text, too many to hold in memory). Chunks written since
    the last call (by another training process) are picked up too."""
    for path in sorted(_token_dir().glob("*.ids.npy")):
        if str(path) in _TOKEN_FILES:
            continue
        stem = str(path)[: -len(".ids.npy")]
        ids = np.load(path, allow_pickle=False)
        counts = np.load(f"{stem}.counts.npy", allow_pickle=False)
        vectors = np.load(f"{stem}.vectors.npy", mmap_mode="r", allow_pickle=False)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        for ident, start, count in zip(ids, starts, counts, strict=True):
            _TOKENS.setdefault(ident.tobytes(), (vectors, int(start), int(count)))
        _TOKEN_FILES.add(str(path))


def _persist_tokens(texts: list[str], states: list[TokenStates]) -> None:
    ids = np.array([np.frombuffer(_text_id(t), dtype=np.uint8) for t in texts])
    name = hashlib.sha256(ids.tobytes()).hexdigest()[:32]
    directory = _token_dir()
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "counts": np.array([len(st.words) for st in states], dtype=np.int64),
        "vectors": np.concatenate([st.vectors for st in states]).astype(np.float16),
    }
    for kind, array in arrays.items():  # the ids last: a chunk counts once they exist
        tmp = directory / f"{name}.{kind}.part"
        with tmp.open("wb") as fh:
            np.save(fh, array)
        os.replace(tmp, directory / f"{name}.{kind}.npy")
    tmp = directory / f"{name}.ids.part"
    with tmp.open("wb") as fh:
        np.save(fh, ids)
    os.replace(tmp, directory / f"{name}.ids.npy")
    starts = np.concatenate([[0], np.cumsum(arrays["counts"])[:-1]])
    for text, start, count in zip(texts, starts, arrays["counts"], strict=True):
        _TOKENS[_text_id(text)] = (arrays["vectors"], int(start), int(count))


def tokens(texts: list[str]) -> list[TokenStates]:
    """Token states of ``texts`` (fp32 pass, stored float16 as at run time), each text run
    through the transformer once per cache; the piece words come from the tokenizer."""
    while True:
        _load_tokens()
        missing = [t for t in dict.fromkeys(texts) if t.strip() and _text_id(t) not in _TOKENS]
        if not missing:
            break
        chunk = missing[:CHUNK]  # re-listed per chunk: another process may have stored some
        _persist_tokens(chunk, encoder().encode_tokens(chunk))
    encodings = encoder().tokenizer.encode_batch([t for t in texts if t.strip()])
    out, k = [], 0
    for text in texts:
        if not text.strip():
            out.append(EMPTY_TOKENS)
            continue
        vectors, start, count = _TOKENS[_text_id(text)]
        out.append(TokenStates(np.asarray(vectors[start : start + count]),
                               piece_words(text, encodings[k])))  # fmt: skip
        k += 1
    return out
