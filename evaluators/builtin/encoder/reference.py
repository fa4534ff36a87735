"""A plain numpy forward pass of the same BERT weights: the yardstick the exported ONNX graph is
checked against (``convert.check_against_reference`` and the tests). Slow, clear, no fusions."""

from __future__ import annotations

import math

import numpy as np

from evaluators.builtin.encoder.weights import HEADS, HIDDEN, LAYER_NORM_EPS, LAYERS


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from math import erf

    return 0.5 * x * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))


def _dense(t: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    return x @ t[f"{name}.weight"].T.astype(np.float64) + t[f"{name}.bias"]


def hidden_states(t: dict[str, np.ndarray], input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The last layer's states [batch, seq, 384] in float64 (the graph's ``tokens``)."""
    batch, seq = input_ids.shape
    x = (
        t["embeddings.word_embeddings.weight"][input_ids].astype(np.float64)
        + t["embeddings.position_embeddings.weight"][:seq]
        + t["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    bias = (1.0 - mask[:, None, None, :]) * -1e4
    head = HIDDEN // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"

        def heads(y: np.ndarray) -> np.ndarray:
            return y.reshape(batch, seq, HEADS, head).transpose(0, 2, 1, 3)

        q = heads(_dense(t, f"{p}.attention.self.query", x))
        k = heads(_dense(t, f"{p}.attention.self.key", x))
        v = heads(_dense(t, f"{p}.attention.self.value", x))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, HIDDEN)
        x = _layer_norm(
            _dense(t, f"{p}.attention.output.dense", ctx) + x,
            t[f"{p}.attention.output.LayerNorm.weight"],
            t[f"{p}.attention.output.LayerNorm.bias"],
        )
        inner = _gelu(_dense(t, f"{p}.intermediate.dense", x))
        x = _layer_norm(
            _dense(t, f"{p}.output.dense", inner) + x,
            t[f"{p}.output.LayerNorm.weight"],
            t[f"{p}.output.LayerNorm.bias"],
        )
    return x


def embed(t: dict[str, np.ndarray], input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings [batch, 384], in float64."""
    x = hidden_states(t, input_ids, mask)
    m = mask[:, :, None].astype(np.float64)
    pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
