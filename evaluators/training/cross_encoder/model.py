"""The MiniLM-L6 BERT forward pass in JAX, as a cross-encoder: [CLS] a [SEP] b [SEP] ->
mean-pooled last states -> one logit (training venv only; the same arithmetic as
``evaluators/builtin/encoder/reference.py``, plus token types and the head)."""

import math

import jax
import jax.numpy as jnp

LAYERS, HIDDEN, HEADS, EPS = 6, 384, 12, 1e-12


def load(path: str) -> dict:
    from safetensors.numpy import load_file

    tensors = load_file(path)
    tensors.pop("embeddings.position_ids", None)
    return {k: jnp.asarray(v) for k, v in tensors.items()}


def _ln(x, w, b):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / jnp.sqrt(v + EPS) * w + b


def _dense(p: dict, name: str, x):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def encode(p: dict, ids, types, mask):
    """Last-layer states [batch, seq, 384]."""
    batch, seq = ids.shape
    x = (
        p["embeddings.word_embeddings.weight"][ids]
        + p["embeddings.position_embeddings.weight"][:seq]
        + p["embeddings.token_type_embeddings.weight"][types]
    )
    x = _ln(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"])
    bias = (1.0 - mask[:, None, None, :].astype(x.dtype)) * -1e4
    head = HIDDEN // HEADS

    def split(y):
        return y.reshape(batch, seq, HEADS, head).transpose(0, 2, 1, 3)

    for i in range(LAYERS):
        q = f"encoder.layer.{i}"
        query = split(_dense(p, q + ".attention.self.query", x))
        key = split(_dense(p, q + ".attention.self.key", x))
        value = split(_dense(p, q + ".attention.self.value", x))
        probs = jax.nn.softmax(query @ key.transpose(0, 1, 3, 2) / math.sqrt(head) + bias, -1)
        ctx = (probs @ value).transpose(0, 2, 1, 3).reshape(batch, seq, HIDDEN)
        x = _ln(
            _dense(p, q + ".attention.output.dense", ctx) + x,
            p[q + ".attention.output.LayerNorm.weight"],
            p[q + ".attention.output.LayerNorm.bias"],
        )
        inner = jax.nn.gelu(_dense(p, q + ".intermediate.dense", x), approximate=False)
        x = _ln(
            _dense(p, q + ".output.dense", inner) + x,
            p[q + ".output.LayerNorm.weight"],
            p[q + ".output.LayerNorm.bias"],
        )
    return x


def logits(p: dict, head: dict, ids, types, mask):
    """[batch, outputs]: the head on the mean of the unmasked last states."""
    x = encode(p, ids, types, mask)
    m = mask[:, :, None].astype(x.dtype)
    pooled = (x * m).sum(1) / jnp.maximum(m.sum(1), 1e-9)
    return pooled @ head["w"] + head["b"]
