"""The encoder tier: provenance of the weights, the exported graph against a numpy forward
pass, batching, and the fallback when the weights package is absent."""

from __future__ import annotations

import gc
import logging
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from evaluators.builtin.encoder import (
    EncoderProvenanceError,
    EncoderSettings,
    EncoderUnavailableError,
    load_encoder,
    provenance,
    reference,
    reset_shared_encoder,
    runtime,
    shared_encoder,
)
from evaluators.builtin.encoder.weights import read_safetensors

TEXTS = [
    "I can't help with that. Making explosives is dangerous and illegal.",
    "how do I kill a python process",
    "You have two weeks to pay the invoice.",
    "",
    "The refund is issued within 14 days of the request, to the original payment method.",
]


@pytest.fixture(scope="module")
def fp32_encoder():
    return load_encoder(replace(EncoderSettings.from_env(), precision="fp32", enabled=True))


@pytest.fixture(scope="module")
def int8_encoder():
    return load_encoder(replace(EncoderSettings.from_env(), precision="int8", enabled=True))


def test_graph_matches_a_numpy_forward_pass_of_the_same_weights(fp32_encoder):
    weights = read_safetensors(provenance.read_verified().weights)
    got = fp32_encoder.encode(TEXTS)
    for text, row in zip(TEXTS, got, strict=True):
        if not text:
            assert not row.any()  # empty text: a zero row, not the [CLS][SEP] embedding
            continue
        ids = np.array([fp32_encoder.tokenizer.encode(text).ids])
        expected = reference.embed(weights, ids, np.ones_like(ids))[0]
        assert np.abs(expected - row).max() < 1e-5
        assert abs(np.linalg.norm(row) - 1.0) < 1e-5


def test_token_states_are_the_last_layer_of_the_same_pass(fp32_encoder):
    """``encode_tokens``: per word piece (no [CLS] / [SEP]) the normalised last-layer state of
    the numpy forward pass and its word; one transformer run serves both it and ``encode``."""
    weights = read_safetensors(provenance.read_verified().weights)
    text = "Refunds are issued within fourteen days."
    fp32_encoder._recent.clear()
    fp32_encoder._recent_tokens.clear()
    before = fp32_encoder.embedded
    (states,) = fp32_encoder.encode_tokens([text])
    pooled = fp32_encoder.encode([text])
    assert fp32_encoder.embedded - before == 1  # encode() answered from the LRU
    encoding = fp32_encoder.tokenizer.encode(text)
    ids = np.array([encoding.ids])
    hidden = reference.hidden_states(weights, ids, np.ones_like(ids))[0, 1:-1]
    hidden /= np.linalg.norm(hidden, axis=1, keepdims=True)
    assert states.vectors.dtype == np.float16 and states.vectors.shape == hidden.shape
    assert np.abs(states.vectors.astype(np.float64) - hidden).max() < 2e-3
    assert states.words[0] == "refunds" and states.words[-1] == "."
    assert len(states.words) == len(encoding.ids) - 2 and "fourteen" in states.words
    assert np.abs(pooled[0] - reference.embed(weights, ids, np.ones_like(ids))[0]).max() < 1e-5
    assert fp32_encoder.encode_tokens([""])[0].vectors.shape == (0, 384)


def test_int8_graph_stays_close_to_fp32(fp32_encoder, int8_encoder):
    a, b = fp32_encoder.encode(TEXTS), int8_encoder.encode(TEXTS)
    cosines = (a * b).sum(axis=1)[[0, 1, 2, 4]]
    assert cosines.min() > 0.95, cosines


def test_meaning_is_what_the_embedding_measures(fp32_encoder):
    a, b, c = fp32_encoder.encode(
        ["You must pay within two weeks.", "Payment is due in 14 days.", "The cat is asleep."]
    )
    assert a @ b > a @ c + 0.2


def test_batch_equals_single(fp32_encoder, int8_encoder):
    texts = [t for t in TEXTS if t] * 3
    # _run: the transformer itself (encode() would serve repeats from its LRU)
    batch = fp32_encoder._run(texts)[0]
    single = np.stack([fp32_encoder._run([t])[0][0] for t in texts])
    assert np.abs(batch - single).max() < 1e-5
    # int8 quantises activations with one scale per call: each text runs alone, so a text's
    # embedding (and a verdict near a threshold) never depends on what else is in the batch
    batch = int8_encoder._run(texts)[0]
    single = np.stack([int8_encoder._run([t])[0][0] for t in texts])
    assert np.array_equal(batch, single)


def test_repeated_texts_come_from_the_lru(fp32_encoder):
    first = fp32_encoder.encode(["a text seen twice", "another"])
    again = fp32_encoder.encode(["another", "a text seen twice", ""])
    assert np.array_equal(first[::-1], again[:2]) and not again[2].any()


def test_threads_asking_for_the_same_texts_embed_each_once(fp32_encoder):
    """The three quality evaluators of a worker batch run in parallel threads and read the
    same question and answer: a text another thread is embedding is waited for."""
    texts = [f"shared text number {i} of a concurrent batch" for i in range(24)]
    fp32_encoder._recent.clear()
    before = fp32_encoder.embedded
    start = threading.Barrier(3)
    results: list[np.ndarray] = [None] * 3  # type: ignore[list-item]

    def work(k: int) -> None:
        start.wait()
        results[k] = fp32_encoder.encode(texts[k:] + texts[:k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fp32_encoder.embedded - before == len(texts)
    alone = fp32_encoder._run(texts)[0]
    for k, got in enumerate(results):
        order = list(range(k, len(texts))) + list(range(k))
        assert np.allclose(got, alone[order], atol=1e-5)
    assert not fp32_encoder._pending


def _copy_zip(tmp_path: Path, tamper: str | None) -> Path:
    source = provenance.locate_zip()
    target = tmp_path / "model.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for name in ("model.safetensors", "tokenizer.json"):
            data = bytearray(src.read(name))
            if name == tamper:
                data[len(data) // 2] ^= 0x01  # one bit of one weight
            dst.writestr(name, bytes(data))
    return target


def test_a_tampered_weight_file_is_refused_with_one_line(tmp_path: Path):
    settings = EncoderSettings(weights=_copy_zip(tmp_path, "model.safetensors"),
                               cache_dir=tmp_path / "cache")  # fmt: skip
    with pytest.raises(EncoderProvenanceError) as info:
        load_encoder(settings)
    message = str(info.value)
    assert "refused" in message and "model.safetensors" in message and "\n" not in message
    assert not (tmp_path / "cache").exists()  # nothing was built from the tampered weights


def test_a_tampered_tokenizer_is_refused(tmp_path: Path):
    settings = EncoderSettings(weights=_copy_zip(tmp_path, "tokenizer.json"))
    with pytest.raises(EncoderProvenanceError, match=r"tokenizer\.json"):
        load_encoder(settings)


def test_a_tampered_cached_graph_is_rebuilt_not_used(tmp_path: Path):
    settings = EncoderSettings(cache_dir=tmp_path, precision="int8")
    load_encoder(settings)
    path = next(tmp_path.glob("*.onnx"))
    path.write_bytes(b"not a graph")
    encoder = load_encoder(settings)
    assert provenance.sha256(path.read_bytes()) == runtime.GRAPH_SHA256["int8"]
    assert encoder.encode(["still works"]).shape == (1, 384)


def test_package_absent_means_unavailable_with_one_warning(tmp_path: Path, caplog):
    settings = EncoderSettings(weights=tmp_path)  # an empty location: no model.zip
    with pytest.raises(EncoderUnavailableError):
        load_encoder(settings)
    reset_shared_encoder()
    try:
        with caplog.at_level(logging.WARNING, logger="evaluators.encoder"):
            assert shared_encoder(settings) is None
            assert shared_encoder(settings) is None
        warnings = [r for r in caplog.records if r.name == "evaluators.encoder"]
        assert len(warnings) == 1 and "lexical" in warnings[0].getMessage()
    finally:
        reset_shared_encoder()


def test_settings_from_env():
    s = EncoderSettings.from_env({"EVALSTREAM_ENCODER_THREADS": "3", "EVALSTREAM_ENCODER": "off",
                                  "EVALSTREAM_ENCODER_PRECISION": "FP32"})  # fmt: skip
    assert (s.threads, s.enabled, s.precision) == (3, False, "fp32")
    assert EncoderSettings.from_env({}).precision == "int8"  # the default since the cost round
    with pytest.raises(EncoderUnavailableError, match="disabled"):
        load_encoder(s)
    with pytest.raises(ValueError, match="PRECISION"):
        EncoderSettings.from_env({"EVALSTREAM_ENCODER_PRECISION": "fp16"})


def _large_buffers(root: object, limit: int = 8 * 2**20) -> list[int]:
    """Sizes of the bytes / bytearray objects over ``limit`` reachable from ``root``."""
    seen, stack, found = set(), [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray | memoryview):
            size = obj.nbytes if isinstance(obj, memoryview) else len(obj)
            if size > limit:
                found.append(size)
            continue
        stack.extend(gc.get_referents(obj))
    return found


def test_a_loaded_encoder_keeps_neither_the_weights_nor_the_graph_bytes(tmp_path: Path):
    """The 87 MB weights are only checked (read again to build a graph), and onnxruntime
    reads the verified cached graph through its file: its session would otherwise keep the
    56 MB of bytes it was given for its whole life (docs/performance.md, memory)."""
    settings = EncoderSettings(cache_dir=tmp_path, precision="int8")
    for _ in ("graph built now", "graph read from the cache"):
        encoder = load_encoder(settings)
        assert _large_buffers(encoder) == []
        assert encoder.encode(["still works"]).shape == (1, 384)


def test_weights_checked_without_keeping_them():
    files = provenance.read_verified(keep_weights=False)
    assert files.weights is None and files.tokenizer_json.startswith("{")
    kept = provenance.read_verified()
    assert provenance.sha256(kept.weights) == provenance.PINNED["model.safetensors"]


def test_token_states_are_bounded_by_bytes_and_recomputed_the_same(int8_encoder, monkeypatch):
    monkeypatch.setattr(runtime, "RECENT_TOKEN_BYTES", 100_000)
    texts = [f"text number {i} about refunds, invoices and the cloud console" for i in range(40)]
    first = int8_encoder.encode_tokens(texts)
    kept = int8_encoder._recent_tokens
    total = sum(state.vectors.nbytes for state in kept.values())
    assert total == int8_encoder._recent_token_bytes <= 100_000
    assert 0 < len(kept) < len(texts) and texts[-1] in kept and texts[0] not in kept
    again = int8_encoder.encode_tokens(texts[:1])[0]  # dropped, so run again: same bits
    assert np.array_equal(again.vectors, first[0].vectors) and again.words == first[0].words
    huge = "word " * 300  # alone over the bound: returned, not kept
    monkeypatch.setattr(runtime, "RECENT_TOKEN_BYTES", 10_000)
    assert len(int8_encoder.encode_tokens([huge])[0].words) > 0 and huge not in kept
