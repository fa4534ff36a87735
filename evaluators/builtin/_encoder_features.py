"""Features of the encoder tier: sentence embeddings beside the lexical models' own scores.

Same functions at training (``evaluators/training/train_encoder.py``, with cached
embeddings) and at run time (the process's encoder), so a head never sees a feature computed
differently. ``embed`` is any ``list[str] -> ndarray [n, 384]`` of L2-normalised rows.
Numbers, negation and entity swaps stay with the lexical features: an embedding hardly
tells 14 from 41, or "is" from "is not".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evaluators.builtin._quality_features import _idf_table
from evaluators.builtin._quality_lexicon import with_cues
from evaluators.builtin._quality_nlp import is_content, loose_keys, sentences, stem
from evaluators.builtin.encoder.texts import clip_ends, clip_head

Embed = Callable[[list[str]], np.ndarray]
LOGIT_CLIP = 8.0
MAX_SENTENCES = 4
"""Context sentences embedded per trace: the ones sharing most words with the question or
answer (embedding every sentence of a long context would cost milliseconds each)."""
REFUSAL_WINDOW = 600
"""As ``safety.REFUSAL_WINDOW``: a refusal shows in the opening of an answer."""


def _logits(model, texts: list[str], group: str, window: int = 20_000) -> np.ndarray:
    """The lexical model's (clipped) logit per text; 0 for empty texts."""
    out = np.zeros(len(texts))
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if keep:
        cued = [with_cues(texts[i][:window], group) for i in keep]
        out[keep] = np.clip(model.logit(cued), -LOGIT_CLIP, LOGIT_CLIP)
    return out


def request_matrix(model: Callable, eq: np.ndarray, questions: list[str]) -> np.ndarray:
    """Request head input: the request's embedding and the lexical request model's logit.

    ``model(name)`` returns a shipped lexical model; its logit is one more column, so a head
    starts from what the lexical tier knew and learns what the embedding adds.
    """
    return np.column_stack([eq, _logits(model("safety_request"), questions, "request")])


def content_matrix(model: Callable, emb: np.ndarray, texts: list[str]) -> np.ndarray:
    """Content head input (is this text harmful to show, whoever wrote it)."""
    return np.column_stack([emb, _logits(model("safety_toxicity"), texts, "toxicity")])


def refusal_matrix(model: Callable, ea: np.ndarray, answers: list[str]) -> np.ndarray:
    refusal = _logits(model("safety_refusal"), answers, "refusal", REFUSAL_WINDOW)
    return np.column_stack([ea, refusal])


def jailbreak_matrix(
    model: Callable, eq: np.ndarray, ea: np.ndarray, questions: list[str], answers: list[str]
) -> np.ndarray:
    """Jailbreak head input: did a harmful request get a complying answer."""
    request = _logits(model("safety_request"), questions, "request")
    refusal = _logits(model("safety_refusal"), answers, "refusal", REFUSAL_WINDOW)
    return np.column_stack([eq, ea, request, refusal])


def embed_requests(embed: Embed, questions: list[str]) -> np.ndarray:
    return embed([clip_ends(q) for q in questions])


def embed_answers(embed: Embed, answers: list[str]) -> np.ndarray:
    return embed([clip_head(a) for a in answers])


def best_sentences(text: str, context: str, limit: int = MAX_SENTENCES) -> list[str]:
    """The context sentences sharing most loose keys with ``text``, in context order."""
    sents = [s for s in sentences(context) if s.strip()]
    if len(sents) <= limit:
        return sents
    keys = set(loose_keys(text))
    ranked = sorted(range(len(sents)), key=lambda i: (-len(keys & set(loose_keys(sents[i]))), i))
    return [sents[i] for i in sorted(ranked[:limit])]


Tokens = Callable[[list[str]], list]
"""``list[str] -> list[TokenStates]`` (``encoder.runtime.TokenStates``: per word piece its
L2-normalised last-layer state and the word it belongs to), from the same pass as ``embed``."""
ALIGNMENT = ("tok_cover", "tok_cover_other", "tok_f1", "tok_min", "tok_low", "tok_best_part")
LOW_MATCH = 0.5
"""A content piece whose best match in the other text is below this cosine counts as
unmatched (``tok_low``)."""


def _piece_weights(words: tuple[str, ...], idf: Callable[[str], float]) -> np.ndarray:
    """idf of each piece's word (stopwords and punctuation 0): what BERTScore's idf does."""
    return np.array([idf(stem(w)) if is_content(w) else 0.0 for w in words])


def _cover(best: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float((best * weights).sum() / total) if total > 0 else float(best.mean())


def alignment_features(text, parts: list, idf: Callable[[str], float]) -> dict[str, float]:
    """Greedy word-piece matching of ``text`` against ``parts`` (the reference, or the
    context sentences picked for it), BERTScore-style: how well the text's pieces are covered
    (idf-weighted mean of each piece's best cosine), how well the best-covering part is
    covered back, their F1, the worst-matched content piece (an unsupported word) and the
    share of content pieces matched below ``LOW_MATCH``."""
    parts = [p for p in parts if len(p.words)]
    if not len(text.words) or not parts:
        return dict.fromkeys(ALIGNMENT, 0.0)
    a = text.vectors.astype(np.float32)
    wa = _piece_weights(text.words, idf)
    sims = [a @ p.vectors.astype(np.float32).T for p in parts]
    best = np.max([s.max(axis=1) for s in sims], axis=0)
    per_part = [_cover(s.max(axis=1), wa) for s in sims]
    k = int(np.argmax(per_part))
    cover = _cover(best, wa)
    back = _cover(sims[k].max(axis=0), _piece_weights(parts[k].words, idf))
    content = best[wa > 0] if (wa > 0).any() else best
    return {
        "tok_cover": cover,
        "tok_cover_other": back,
        "tok_f1": 2 * cover * back / (cover + back) if cover + back > 0 else 0.0,
        "tok_min": float(content.min()),
        "tok_low": float((content < LOW_MATCH).mean()),
        "tok_best_part": per_part[k],
    }


INTERACTION = tuple(f"enc_uv{k}" for k in range(384)) + tuple(f"enc_ad{k}" for k in range(384))
"""Element-wise product and absolute difference of the text's embedding and its best-matching
context sentence's (or the reference's): the (u * v, |u - v|) pair features of InferSent /
Sentence-BERT's NLI training, read by a linear head. No extra model pass."""


def wants_interactions(model) -> bool:
    """Whether ``model`` (a pair head) was trained with ``INTERACTION`` features."""
    return INTERACTION[0] in set(model.features)


def token_source(model, encoder) -> Tokens | None:
    """The encoder's token states when ``model`` (a pair head) reads alignment features;
    heads trained without them cost nothing more."""
    return encoder.encode_tokens if set(ALIGNMENT) & set(model.features) else None


def similarity_features(
    embed: Embed,
    texts: list[str],
    others: list[str],
    contexts: list[str] | None = None,
    tokens: Tokens | None = None,
    interactions: bool = False,
) -> tuple[list[dict[str, float]], list[str]]:
    """Meaning agreement of each text with its other (answer vs reference, or question vs
    context): cosine of the two, and with contexts the best and mean top-2 cosine over the
    context sentences most related to the text. Also the sentence that matched best.

    With ``tokens`` also ``alignment_features`` of the text against the reference (or the
    picked sentences); asked first, so a run-time encoder's ``embed`` then hits its LRU.
    With ``interactions`` also the ``INTERACTION`` features against the best sentence."""
    contexts = contexts or [""] * len(texts)
    picked = [best_sentences(t, c) if c else [] for t, c in zip(texts, contexts, strict=True)]
    flat = [clip_head(s) for group in picked for s in group]
    n = len(texts)
    aligned: list[dict[str, float]] = [{} for _ in texts]
    if tokens is not None:
        with_context = any(contexts)
        states = tokens(
            [clip_head(t) for t in texts]
            + ([] if with_context else [clip_head(o) for o in others])
            + flat
        )
        idf, start = _idf_table(), 2 * n - (n if with_context else 0)
        for i, group in enumerate(picked):
            parts = states[start : start + len(group)] if with_context else [states[n + i]]
            start += len(group)
            aligned[i] = alignment_features(states[i], parts, idf)
    vectors = embed([clip_head(t) for t in texts] + [clip_head(o) for o in others] + flat)
    a, b, rest = vectors[:n], vectors[n : 2 * n], vectors[2 * n :]
    feats, best, start = [], [], 0
    for i, group in enumerate(picked):
        sims = rest[start : start + len(group)] @ a[i] if group else np.zeros(0)
        start += len(group)
        top = np.sort(sims)[::-1]
        feats.append({
            "enc_cos": float(a[i] @ b[i]),
            "enc_best_sentence": float(top[0]) if len(top) else float(a[i] @ b[i]),
            "enc_top2_sentences": float(top[:2].mean()) if len(top) else float(a[i] @ b[i]),
            **aligned[i],
        })  # fmt: skip
        if interactions:
            v = rest[start - len(group) + int(np.argmax(sims))] if group else b[i]
            pair = np.concatenate([a[i] * v, np.abs(a[i] - v)]).tolist()
            feats[-1].update(zip(INTERACTION, pair, strict=True))
        best.append(group[int(np.argmax(sims))] if group else "")
    return feats, best
