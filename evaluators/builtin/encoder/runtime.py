"""The sentence encoder at run time: verified weights -> cached ONNX graph -> embeddings.

First use in a process: read and verify the pinned files (``provenance``), build the graph if
the cache lacks it (``convert``, about a second), check its sha256 against ``GRAPH_SHA256``,
open an onnxruntime session. Every later call only tokenises and runs the session, batched:
the texts of a worker batch are sorted by length so each onnxruntime call pads little.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from evaluators.builtin.encoder import convert, provenance
from evaluators.builtin.encoder.exceptions import EncoderProvenanceError, EncoderUnavailableError
from evaluators.builtin.encoder.settings import EncoderSettings
from evaluators.builtin.encoder.weights import HIDDEN, read_safetensors

log = logging.getLogger(__name__)

GRAPH_SHA256 = {
    "fp32": "ca75506febb2e88aa02e812fb6a73c984206535b93a34daeb28dbbc31da98220",
    "int8": "01d52e526d9d679eefc870118c9f939c1e07b043bfa127c3cd5ddb01e1fb826c",
}
"""sha256 of ``convert.serialise`` of the verified weights per precision (deterministic); a
cached graph with other bytes (corrupted, tampered, or built by other code) is rebuilt, and
a build with other bytes is refused."""
POOLED_SHA256 = {
    "fp32": "dd6c4cadb1d323084f6020e8b4e0702e7f7d1a1c024f5b8047ff75cf66d03017",
    "int8": "49c20bc286145aedaad1109652d88c5af2cb11c3de5ef47998b09b015aadc877",
}
"""The graphs' hashes before the ``tokens`` output was added: the embedding nodes are the
same, so the pooled vectors are too (checked bit for bit, see
docs/evaluator-quality.md); the training store of pooled vectors stays keyed by these."""
DIMENSION = HIDDEN
RECENT_TEXTS = 2048
"""Embeddings kept per process (about 3 MB)."""
RECENT_TOKEN_TEXTS = 1024
"""Token states kept per process, at most (float16: 768 bytes per word piece, so 40-100 kB per
clipped text of 50-128 pieces: up to 100 MB for 1,024 texts without the byte bound below)."""
RECENT_TOKEN_BYTES = 32 * 2**20
"""Bytes of token-state vectors kept per process, at most: the oldest go first past it."""


class TokenStates(NamedTuple):
    vectors: np.ndarray  # [pieces, 384] float16, rows L2-normalised
    words: tuple[str, ...]  # the lower-cased word of each piece


EMPTY_TOKENS = TokenStates(np.zeros((0, HIDDEN), dtype=np.float16), ())


class Encoder:
    """Texts -> L2-normalised 384-d float32 embeddings (one row per text, zeros for '')."""

    def __init__(self, session, tokenizer, settings: EncoderSettings) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.settings = settings
        self._lock = threading.Lock()  # guards the LRU, the pending set, the tokenizer
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}  # texts being embedded, by any thread
        self._recent_tokens: OrderedDict[str, TokenStates] = OrderedDict()
        self._recent_token_bytes = 0  # sum of vectors.nbytes in _recent_tokens
        self.embedded = 0
        self.tokens = 0
        """Texts and word pieces run through the transformer so far (not LRU hits): the
        cost accounting of the benchmarks."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text; a text seen lately (by this or another evaluator: the three read
        the same question) comes from a small LRU instead of the transformer, and a text
        another thread is embedding right now (the evaluators of a worker batch run in
        parallel threads) is waited for rather than embedded twice."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        elsewhere: dict[str, tuple[threading.Event, list[int]]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                if not text or not text.strip():
                    continue
                hit = self._recent.get(text)
                if hit is not None:
                    self._recent.move_to_end(text)
                    out[i] = hit
                elif text in self._pending and text not in todo:
                    elsewhere.setdefault(text, (self._pending[text], []))[1].append(i)
                else:
                    todo.setdefault(text, []).append(i)
            done = threading.Event()
            for text in todo:
                self._pending[text] = done
        if todo:
            unique = list(todo)
            try:
                vectors, _ = self._run(unique)
                with self._lock:
                    for text, vector in zip(unique, vectors, strict=True):
                        out[todo[text]] = vector
                        self._recent[text] = vector
                    while len(self._recent) > RECENT_TEXTS:
                        self._recent.popitem(last=False)
            finally:
                with self._lock:
                    for text in unique:
                        if self._pending.get(text) is done:
                            del self._pending[text]
                done.set()
        for text, (event, rows) in elsewhere.items():
            event.wait()
            with self._lock:
                vector = self._recent.get(text)
            if vector is None:  # the other call failed (or the LRU dropped it already)
                vector = self._run([text])[0][0]
            out[rows] = vector
        return out

    def encode_tokens(self, texts: list[str]) -> list[TokenStates]:
        """Per text its word pieces' last-layer states (L2-normalised rows, float16, no
        [CLS]/[SEP]) and the word each piece belongs to: the same transformer pass as
        ``encode`` (whichever asks first, the other answers from its LRU)."""
        out: list[TokenStates | None] = [None] * len(texts)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                if not text or not text.strip():
                    out[i] = EMPTY_TOKENS
                    continue
                hit = self._recent_tokens.get(text)
                if hit is not None:
                    self._recent_tokens.move_to_end(text)
                    out[i] = hit
                else:
                    missing.setdefault(text, []).append(i)
        if missing:
            unique = list(missing)
            vectors, states = self._run(unique)
            with self._lock:
                for text, vector in zip(unique, vectors, strict=True):
                    self._recent[text] = vector
                    self._recent.move_to_end(text)
                    for i in missing[text]:
                        out[i] = states[text]
                while len(self._recent) > RECENT_TEXTS:
                    self._recent.popitem(last=False)
        return out  # type: ignore[return-value]

    def _run(self, texts: list[str]) -> tuple[np.ndarray, dict[str, TokenStates]]:
        """The transformer on non-empty texts, in length-sorted chunks of ``batch``; the
        token states of each text go to their own LRU.

        int8 runs each text alone: its activations are quantised with one scale per call, so
        in a batch a text's embedding (and a verdict near a threshold) would depend on the
        other texts of the batch; alone it is the same whatever it is scored with. Batching
        bought nothing measurable in the cost benchmark (docs/evaluator-quality.md)."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        self.embedded += len(texts)
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda j: len(encodings[j].ids))
        self.tokens += sum(len(e.ids) for e in encodings)
        step = 1 if self.settings.precision == "int8" else self.settings.batch
        states: dict[str, TokenStates] = {}
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            width = max(len(encodings[j].ids) for j in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, j in enumerate(chunk):
                n = len(encodings[j].ids)
                ids[row, :n] = encodings[j].ids
                mask[row, :n] = 1
            emb, hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[chunk] = emb
            for row, j in enumerate(chunk):
                n = len(encodings[j].ids)
                states[texts[j]] = token_states(texts[j], encodings[j], hidden[row, :n])
        with self._lock:
            for text, state in states.items():
                self._remember_tokens(text, state)
        return out, states

    def _remember_tokens(self, text: str, state: TokenStates) -> None:
        """Into the token LRU (lock held), bounded by ``RECENT_TOKEN_TEXTS`` and by
        ``RECENT_TOKEN_BYTES``; a text whose states alone exceed the bytes is not kept."""
        old = self._recent_tokens.pop(text, None)
        if old is not None:
            self._recent_token_bytes -= old.vectors.nbytes
        if state.vectors.nbytes > RECENT_TOKEN_BYTES:
            return
        self._recent_tokens[text] = state
        self._recent_token_bytes += state.vectors.nbytes
        while (
            len(self._recent_tokens) > RECENT_TOKEN_TEXTS
            or self._recent_token_bytes > RECENT_TOKEN_BYTES
        ):
            _, dropped = self._recent_tokens.popitem(last=False)
            self._recent_token_bytes -= dropped.vectors.nbytes


def piece_words(text: str, encoding) -> tuple[str, ...]:
    """The lower-cased word (pre-tokenizer unit) of each word piece, [CLS] / [SEP] left out."""
    spans: dict[int, tuple[int, int]] = {}
    for word, (start, end) in zip(encoding.word_ids, encoding.offsets, strict=True):
        if word is not None:
            lo, hi = spans.get(word, (start, end))
            spans[word] = (min(lo, start), max(hi, end))
    return tuple(text[slice(*spans[w])].lower() for w in encoding.word_ids if w is not None)


def token_states(text: str, encoding, hidden: np.ndarray) -> TokenStates:
    """The states of a text's word pieces without [CLS] / [SEP], each row L2-normalised."""
    keep = [k for k, word in enumerate(encoding.word_ids) if word is not None]
    vectors = hidden[keep].astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return TokenStates(vectors.astype(np.float16), piece_words(text, encoding))


def _tokenizer(tokenizer_json: str, max_tokens: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def _graph_path(settings: EncoderSettings) -> Path:
    pinned = GRAPH_SHA256[settings.precision]
    return settings.cache_dir / f"all-minilm-l6-v2-{settings.precision}-{pinned[:12]}.onnx"


@contextmanager
def _verified_cache(path: Path, pinned: str) -> Iterator[str | None]:
    """The cached graph for onnxruntime to read, or ``None`` when absent or not the pinned
    bytes. The file is opened once and hashed through that open file; onnxruntime then reads
    the same open file (``/proc/self/fd/N`` where it exists), so the graph it loads is the one
    hashed even if the path is replaced meanwhile. Reading the graph by name, not as Python
    bytes, keeps its 56 MB out of the process: onnxruntime's ``InferenceSession`` holds the
    bytes it was given for its whole life."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after onnxruntime read it
    except OSError:
        handle = None
    if handle is not None and hashlib.file_digest(handle, "sha256").hexdigest() != pinned:
        log.warning("encoder graph cache %s does not match its pinned sha256: rebuilding", path)
        handle.close()
        handle = None
    if handle is None:
        yield None
        return
    with handle:
        by_fd = Path(f"/proc/self/fd/{handle.fileno()}")
        yield str(by_fd if by_fd.exists() else path)


def _build_graph(settings: EncoderSettings) -> bytes:
    """Build the graph from the verified weights (read for this only, then dropped) and cache
    it; a build whose bytes are not the pinned ones is refused."""
    pinned = GRAPH_SHA256[settings.precision]
    files = provenance.read_verified(settings.weights)
    data = convert.serialise(read_safetensors(files.weights), settings.precision)
    del files
    actual = provenance.sha256(data)
    if actual != pinned:
        raise EncoderProvenanceError(
            f"refused the built encoder graph: sha256 {actual[:16]}... is not the pinned "
            f"{pinned[:16]}... (onnx serialisation changed?)"
        )
    cache_dir = settings.cache_dir
    try:  # best effort: a read-only cache only costs the build at each start
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, _graph_path(settings))
    except OSError as exc:
        log.warning("encoder graph not cached in %s: %s", cache_dir, exc)
    return data


def _session(settings: EncoderSettings):
    """The onnxruntime session of the pinned graph: read from the cache when its hash is the
    pinned one, else built (and cached) first."""
    import onnxruntime as ort

    options = session_options(ort, settings)
    providers = ["CPUExecutionProvider"]
    pinned = GRAPH_SHA256[settings.precision]
    with _verified_cache(_graph_path(settings), pinned) as source:
        if source is not None:
            return ort.InferenceSession(source, options, providers=providers)
    data = _build_graph(settings)
    with _verified_cache(_graph_path(settings), pinned) as source:  # cached: read it by name
        return ort.InferenceSession(source or data, options, providers=providers)


def session_options(ort, settings: EncoderSettings):
    """The session's options: one intra-op thread per ``EVALSTREAM_ENCODER_THREADS``, no
    inter-op pool, warnings only. onnxruntime's memory options are left at their defaults:
    turning off its CPU arena or its memory patterns, or growing the arena by what is asked
    instead of by powers of two, changed RSS by under 20 MB either way over 400 texts
    (docs/performance.md, "Memory of the default set")."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def load_encoder(settings: EncoderSettings | None = None) -> Encoder:
    """A ready encoder, or ``EncoderUnavailableError`` (one-line message) saying why not."""
    settings = settings or EncoderSettings.from_env()
    if not settings.enabled:
        raise EncoderUnavailableError("encoder tier disabled (EVALSTREAM_ENCODER=off)")
    try:
        # the weights are only checked here; they are read again only to build the graph
        files = provenance.read_verified(settings.weights, keep_weights=False)
    except MemoryError:
        raise EncoderUnavailableError("not enough memory to read the encoder weights") from None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise EncoderUnavailableError("onnxruntime is not installed") from None
    session = _session(settings)
    return Encoder(session, _tokenizer(files.tokenizer_json, settings.max_tokens), settings)
