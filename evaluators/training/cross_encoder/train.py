"""Fine-tune the verified MiniLM-L6 weights as a cross-encoder and score the held-out pairs.

Runs in a separate training venv (jax, jaxlib, optax, numpy, safetensors, tokenizers); the
weights are the pinned all-MiniLM-L6-v2 ``model.safetensors`` (sha256 checked here against the
encoder tier's pin). The first ``STEPS`` batches of one shuffled pass over the training
pairs (600 x 16 = 9,600 pairs), batch 16, at most 128 word pieces (evidence sentences chosen
by word overlap with the claim when it does not fit), AdamW 5e-5 (the new head 1e-3),
linear warm-up and decay, word embeddings frozen, seed 0.

    .venv-train/bin/python evaluators/training/cross_encoder/train.py MINILM_DIR PAIRS OUT_DIR
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).parent))
from model import load, logits

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_LEN, A_MAX, BATCH, LR, HEAD_LR, WARMUP, SEED = 128, 48, 16, 5e-5, 1e-3, 50, 0
BUCKETS = (32, 64, 96, 128)
MAX_SECONDS = float(os.environ.get("XENC_MAX_SECONDS", "3000"))
STEPS = int(os.environ.get("XENC_STEPS", "600"))  # the first STEPS shuffled batches: ~40 min here
_WORD = re.compile(r"[a-z0-9]{3,}")
_SENT = re.compile(r"(?<=[.!?])\s+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def encode(tok: Tokenizer, a: str, b: str) -> tuple[list[int], list[int]]:
    """Token ids and types of [CLS] a [SEP] b' [SEP], b' = the sentences of b that share most
    words with a, in their order, as many as fit."""
    ia = tok.encode(a, add_special_tokens=False).ids[:A_MAX]
    budget = MAX_LEN - len(ia) - 3
    sents = [s for s in _SENT.split(b) if s.strip()]
    pieces = [tok.encode(s, add_special_tokens=False).ids for s in sents]
    if sum(map(len, pieces)) > budget:
        wa = _words(a)
        order = sorted(range(len(sents)), key=lambda i: (-len(wa & _words(sents[i])), i))
        keep, used = set(), 0
        for i in order:
            if used + len(pieces[i]) <= budget:
                keep.add(i)
                used += len(pieces[i])
        if not keep:
            keep = {order[0]}
        pieces = [pieces[i] for i in sorted(keep)]
    ib = [t for p in pieces for t in p][:budget]
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    ids = [cls, *ia, sep, *ib, sep]
    return ids, [0] * (len(ia) + 2) + [1] * (len(ib) + 1)


def batch_arrays(encoded: list[tuple[list[int], list[int]]]):
    longest = max(len(e[0]) for e in encoded)
    width = next(b for b in BUCKETS if b >= longest)
    ids = np.zeros((len(encoded), width), np.int32)
    types, mask = np.zeros_like(ids), np.zeros_like(ids)
    for i, (t, ty) in enumerate(encoded):
        ids[i, : len(t)], types[i, : len(t)], mask[i, : len(t)] = t, ty, 1
    return jnp.asarray(ids), jnp.asarray(types), jnp.asarray(mask)


def main(argv: list[str]) -> int:
    minilm, pairs_path, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    weights = minilm / "model.safetensors"
    if hashlib.sha256(weights.read_bytes()).hexdigest() != WEIGHTS_SHA256:
        raise SystemExit(f"refused {weights}: sha256 is not the pinned {WEIGHTS_SHA256[:16]}...")
    tok = Tokenizer.from_file(str(minilm / "tokenizer.json"))
    with gzip.open(pairs_path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    t0 = time.perf_counter()
    for r in rows:
        r["enc"] = encode(tok, r["a"], r["b"])
    print(f"encoded {len(rows)} pairs in {time.perf_counter() - t0:.0f}s", flush=True)
    train = [r for r in rows if r["split"] == "train"]
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(train))
    batches = []
    for start in range(0, len(order), BATCH * 64):  # sort by length within chunks: less padding
        chunk = sorted(order[start : start + BATCH * 64], key=lambda i: len(train[i]["enc"][0]))
        batches += [chunk[k : k + BATCH] for k in range(0, len(chunk), BATCH)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    batches = batches[:STEPS]
    steps = len(batches)

    params = load(str(weights))
    frozen = {"embeddings.word_embeddings.weight": params.pop("embeddings.word_embeddings.weight")}
    head = {"w": jnp.zeros((384, 1)), "b": jnp.zeros(1)}

    def schedule(peak: float):
        return optax.join_schedules(
            [optax.linear_schedule(0.0, peak, WARMUP),
             optax.linear_schedule(peak, 0.0, steps - WARMUP)],
            [WARMUP])  # fmt: skip

    opt = optax.multi_transform(
        {"backbone": optax.adamw(schedule(LR), weight_decay=0.01),
         "head": optax.adamw(schedule(HEAD_LR), weight_decay=0.0)},
        ({k: "backbone" for k in params}, {k: "head" for k in head}))  # fmt: skip
    state = (params, head)
    opt_state = opt.init(state)

    def loss_fn(state, ids, types, mask, y):
        p, h = state
        z = logits({**p, **frozen}, h, ids, types, mask)[:, 0]
        return optax.sigmoid_binary_cross_entropy(z, y).mean()

    @jax.jit
    def step(state, opt_state, ids, types, mask, y):
        loss, grads = jax.value_and_grad(loss_fn)(state, ids, types, mask, y)
        updates, opt_state = opt.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, loss

    t0, losses, done = time.perf_counter(), [], 0
    for n, batch in enumerate(batches, 1):
        ids, types, mask = batch_arrays([train[i]["enc"] for i in batch])
        y = jnp.asarray([float(train[i]["label"]) for i in batch])
        state, opt_state, loss = step(state, opt_state, ids, types, mask, y)
        losses.append(float(loss))
        done = n
        if n % 50 == 0 or n == steps:
            el = time.perf_counter() - t0
            print(f"step {n}/{steps} loss(50) {np.mean(losses[-50:]):.4f} {el:.0f}s "
                  f"{el / n:.2f}s/step", flush=True)  # fmt: skip
        if time.perf_counter() - t0 > MAX_SECONDS:
            print(f"stopped by XENC_MAX_SECONDS at step {n}/{steps}", flush=True)
            break
    train_seconds = time.perf_counter() - t0
    p, h = state
    np.savez(out / "cross_encoder.npz", **{k: np.asarray(v) for k, v in {**p, **frozen}.items()},
             **{"head." + k: np.asarray(v) for k, v in h.items()})  # fmt: skip

    score = jax.jit(lambda p, h, ids, types, mask: jax.nn.sigmoid(
        logits({**p, **frozen}, h, ids, types, mask)[:, 0]))  # fmt: skip
    scored = sorted((r for r in rows if r["split"] != "train"), key=lambda r: len(r["enc"][0]))
    t1 = time.perf_counter()
    with (out / "scores.jsonl").open("w", encoding="utf-8") as fh:
        for start in range(0, len(scored), 32):
            chunk = scored[start : start + 32]
            probs = np.asarray(score(p, h, *batch_arrays([r["enc"] for r in chunk])))
            for r, prob in zip(chunk, probs, strict=True):
                keep = {k: r[k] for k in ("task", "split", "source", "a", "label")}
                fh.write(json.dumps({**keep, "p": float(prob)}) + "\n")
    info = {"steps_done": done, "steps_planned": steps, "train_pairs": len(train),
            "train_seconds": round(train_seconds), "score_pairs": len(scored),
            "score_seconds": round(time.perf_counter() - t1), "jax": jax.__version__}  # fmt: skip
    (out / "run.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
