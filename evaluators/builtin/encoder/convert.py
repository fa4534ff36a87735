"""Build the encoder's ONNX graph from the verified safetensors, deterministically.

No torch exists here, so the BERT graph (6 layers, 384-d, 12 heads) is written node by node
with ``onnx.helper``; the sentence head (mean pooling over the attention mask, L2 norm) is part
of the graph so one onnxruntime call returns the embeddings, and the last layer's per-token
hidden states are a second output (``tokens``: the pair features align them word by word,
``_encoder_features.alignment_features``, at no extra transformer cost). Same weights + same
code = same bytes: the output's sha256 is pinned (``GRAPH_SHA256``) and checked on every
load, and the graph is compared numerically with the numpy forward pass of ``reference.py``
when built.

    python -m evaluators.builtin.encoder.convert   # build (or check) the cached graph
"""

from __future__ import annotations

import math

import numpy as np

from evaluators.builtin.encoder.weights import HEADS, HIDDEN, LAYER_NORM_EPS, LAYERS

OPSET = 17
PRODUCER = "evalstream-encoder-convert"
PRECISIONS = ("fp32", "int8")


class _Graph:
    """Accumulates nodes and initializers with stable, readable names."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, kind: str, inputs: list[str], outputs: int = 1, **attrs):
        """Append a node; its output name (or list of names when ``outputs`` > 1)."""
        from onnx import helper

        self._n += 1
        names = [f"{kind.lower()}_{self._n}" + (f"_{k}" if k else "") for k in range(outputs)]
        self.nodes.append(helper.make_node(kind, inputs, names, name=f"n{self._n}", **attrs))
        return names[0] if outputs == 1 else names


def build_model(t: dict[str, np.ndarray], precision: str = "fp32"):
    """The ``onnx.ModelProto`` of the sentence encoder for tensors ``t``.

    ``precision``: ``fp32`` (exact) or ``int8`` (weights of the 36 dense layers in int8: about
    twice as fast on one core, cosine to fp32 about 0.99).
    """
    from onnx import TensorProto, helper

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}")
    int8 = precision == "int8"
    g = _Graph()
    zero_i8 = g.const("zero_i8", np.array(0, dtype=np.int8))
    f32 = np.float32
    head = HIDDEN // HEADS
    word = g.const("word_embeddings", t["embeddings.word_embeddings.weight"].astype(f32))
    # token type is always 0 for single texts: fold its row into the position table
    pos_table = (
        t["embeddings.position_embeddings.weight"] + t["embeddings.token_type_embeddings.weight"][0]
    )
    pos = g.const("position_embeddings", pos_table.astype(f32))
    zero = g.const("zero_1d", np.array([0], dtype=np.int64))
    one = g.const("one_1d", np.array([1], dtype=np.int64))
    two = g.const("two_1d", np.array([2], dtype=np.int64))
    seq = g.op("Slice", [g.op("Shape", ["input_ids"]), one, two])  # [seq], 1-D
    positions = g.op("Slice", [pos, zero, seq, zero])  # the first seq rows of the table
    x = g.op("Add", [g.op("Gather", [word, "input_ids"]), positions])

    def layer_norm(x: str, prefix: str) -> str:
        w = g.const(f"{prefix}.weight", t[f"{prefix}.weight"].astype(f32))
        b = g.const(f"{prefix}.bias", t[f"{prefix}.bias"].astype(f32))
        return g.op("LayerNormalization", [x, w, b], axis=-1, epsilon=LAYER_NORM_EPS)

    def dense(x: str, prefix: str) -> str:
        b = g.const(f"{prefix}.bias", t[f"{prefix}.bias"].astype(f32))
        weight = t[f"{prefix}.weight"].T.astype(np.float64)
        if not int8:
            w = g.const(f"{prefix}.weight_t", weight.astype(f32))
            return g.op("Add", [g.op("MatMul", [x, w]), b])
        # int8 weights, one symmetric scale per output column; activations quantised to
        # uint8 per call (DynamicQuantizeLinear): what onnxruntime's dynamic quantisation
        # does, written here so the bytes depend on this code only
        w_scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / 127.0
        w_q = g.const(f"{prefix}.weight_q", np.round(weight / w_scale).astype(np.int8))
        ws = g.const(f"{prefix}.weight_scale", w_scale.astype(f32))
        xq = g.op("DynamicQuantizeLinear", [x], outputs=3)
        acc = g.op("MatMulInteger", [xq[0], w_q, xq[2], zero_i8])
        y = g.op("Mul", [g.op("Mul", [g.op("Cast", [acc], to=TensorProto.FLOAT), ws]), xq[1]])
        return g.op("Add", [y, b])

    x = layer_norm(x, "embeddings.LayerNorm")
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    axes12 = g.const("axes_1_2", np.array([1, 2], dtype=np.int64))
    neg = g.const("mask_neg", np.array(-1e4, dtype=f32))
    one_f = g.const("one_f32", np.array(1.0, dtype=f32))
    attn_bias = g.op("Mul", [g.op("Sub", [one_f, g.op("Unsqueeze", [mask, axes12])]), neg])
    split_heads = g.const("shape_heads", np.array([0, 0, HEADS, head], dtype=np.int64))
    merge_heads = g.const("shape_merge", np.array([0, 0, HIDDEN], dtype=np.int64))
    scale = g.const("attn_scale", np.array(1.0 / math.sqrt(head), dtype=f32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), dtype=f32))
    half = g.const("half", np.array(0.5, dtype=f32))

    def heads(y: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [y, split_heads])], perm=perm)

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q = heads(dense(x, f"{p}.attention.self.query"), [0, 2, 1, 3])
        k = heads(dense(x, f"{p}.attention.self.key"), [0, 2, 3, 1])
        v = heads(dense(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), attn_bias])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_heads])
        x = layer_norm(g.op("Add", [dense(ctx, f"{p}.attention.output.dense"), x]),
                       f"{p}.attention.output.LayerNorm")  # fmt: skip
        inner = dense(x, f"{p}.intermediate.dense")
        erf = g.op("Erf", [g.op("Div", [inner, sqrt2])])
        gelu = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [erf, one_f])])
        x = layer_norm(g.op("Add", [dense(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")
    axis1 = g.const("axis_1", np.array([1], dtype=np.int64))
    axis2 = g.const("axis_2", np.array([2], dtype=np.int64))
    m = g.op("Unsqueeze", [mask, axis2])
    summed = g.op("ReduceSum", [g.op("Mul", [x, m]), axis1], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [m, axis1], keepdims=0),
                         g.const("eps_count", np.array(1e-9, dtype=f32))])  # fmt: skip
    pooled = g.op("Div", [summed, count])
    norm = g.op("Max", [g.op("ReduceL2", [pooled], axes=[1], keepdims=1),
                        g.const("eps_norm", np.array(1e-12, dtype=f32))])  # fmt: skip
    g.nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"], name="n_out"))
    g.nodes.append(helper.make_node("Identity", [x], ["tokens"], name="n_tokens"))
    graph = helper.make_graph(
        g.nodes,
        "all_minilm_l6_v2_sentence",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN]),
            helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
        ],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version="1")  # fmt: skip
    model.ir_version = 8  # fixed, so the bytes do not depend on the installed onnx's default
    return model


def serialise(t: dict[str, np.ndarray], precision: str = "fp32") -> bytes:
    return build_model(t, precision).SerializeToString(deterministic=True)


def main() -> int:
    """Build (or check) the cached graphs and print their pinned hashes."""
    from evaluators.builtin.encoder.runtime import GRAPH_SHA256, load_encoder
    from evaluators.builtin.encoder.settings import EncoderSettings

    base = EncoderSettings.from_env()
    for precision in PRECISIONS:
        load_encoder(EncoderSettings(**{**base.__dict__, "precision": precision}))
        print(f"{precision}: {base.cache_dir} sha256 {GRAPH_SHA256[precision]} (verified)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
