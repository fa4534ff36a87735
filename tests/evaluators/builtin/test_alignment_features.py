"""Word-piece alignment features of the pair heads (``_encoder_features.alignment_features``),
on hand-made token states: one-hot vectors per word, so a piece matches exactly the pieces
of the same word (cosine 1) and nothing else (cosine 0)."""

from __future__ import annotations

import zlib

import numpy as np

from evaluators.builtin import _encoder_features as ef
from evaluators.builtin.encoder.runtime import EMPTY_TOKENS, TokenStates


def _states(text: str) -> TokenStates:
    words = tuple(text.lower().replace(".", " .").split())
    vectors = np.zeros((len(words), 384), dtype=np.float16)
    for k, word in enumerate(words):
        vectors[k, zlib.crc32(word.encode()) % 384] = 1.0
    return TokenStates(vectors, words)


def _idf(stem: str) -> float:
    return 1.0


def test_a_text_fully_covered_by_its_reference():
    f = ef.alignment_features(_states("refunds take fourteen days."),
                              [_states("refunds take fourteen days.")], _idf)  # fmt: skip
    assert f["tok_cover"] == f["tok_cover_other"] == f["tok_f1"] == f["tok_min"] == 1.0
    assert f["tok_low"] == 0.0


def test_an_unsupported_content_word_shows_in_min_and_low_share():
    f = ef.alignment_features(_states("paris is the capital of germany."),
                              [_states("paris is the capital of france.")], _idf)  # fmt: skip
    # content pieces: paris, capital, germany (stopwords and '.' weigh 0)
    assert f["tok_min"] == 0.0
    assert abs(f["tok_low"] - 1 / 3) < 1e-9
    assert abs(f["tok_cover"] - 2 / 3) < 1e-9


def test_the_best_covering_sentence_is_the_part_compared_back():
    claim = _states("bell invented the telephone.")
    parts = [_states("the weather was cold."), _states("bell invented the telephone in 1876.")]
    f = ef.alignment_features(claim, parts, _idf)
    assert f["tok_best_part"] == 1.0 and f["tok_cover"] == 1.0
    # the second sentence's content pieces bell, invented, telephone, 1876: three covered
    assert abs(f["tok_cover_other"] - 3 / 4) < 1e-9


def test_empty_sides_give_zeros():
    assert ef.alignment_features(EMPTY_TOKENS, [_states("a text.")], _idf) == dict.fromkeys(
        ef.ALIGNMENT, 0.0
    )
    assert ef.alignment_features(_states("a text."), [], _idf)["tok_cover"] == 0.0


def _embed(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 384), dtype=np.float32)
    out[:, 0] = 1.0
    return out


def test_similarity_features_align_each_text_with_its_own_other_or_sentences():
    def tokens(texts: list[str]) -> list[TokenStates]:
        return [_states(t) for t in texts]

    feats, _ = ef.similarity_features(_embed, ["refunds take fourteen days", "cats sleep"],
                                      ["refunds take fourteen days", "dogs bark"],
                                      tokens=tokens)  # fmt: skip
    assert feats[0]["tok_cover"] == 1.0 and feats[1]["tok_cover"] == 0.0
    contexts = ["Dogs bark. Refunds take fourteen days.", "Cats sleep all day."]
    feats, _ = ef.similarity_features(_embed, ["refunds take fourteen days", "cats sleep"],
                                      contexts, contexts, tokens)  # fmt: skip
    assert feats[0]["tok_cover"] == 1.0 and feats[1]["tok_cover"] == 1.0
    assert feats[1]["tok_cover_other"] < 1.0  # "day" of the sentence is not in the question
    feats, _ = ef.similarity_features(_embed, ["cats sleep"], ["dogs bark"])
    assert not set(ef.ALIGNMENT) & set(feats[0])  # no token source: the features of before


def test_heads_without_alignment_features_ask_for_no_token_states():
    class Head:
        def __init__(self, features: list[str]) -> None:
            self.features = features

    class Encoder:
        def encode_tokens(self, texts):  # pragma: no cover - must not be called
            raise AssertionError

    assert ef.token_source(Head(["enc_cos", "token_f1"]), Encoder()) is None
    assert ef.token_source(Head(["enc_cos", "tok_min"]), Encoder()) is not None


def _word_embed(texts: list[str]) -> np.ndarray:
    """One fixed unit vector per distinct text (its crc32 picks the dimension)."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i, zlib.crc32(t.encode()) % 384] = 1.0
    return out


def test_interaction_features_pair_the_text_with_its_best_sentence():
    claim = "refunds take fourteen days"
    context = "Dogs bark. refunds take fourteen days"
    feats, best = ef.similarity_features(_word_embed, [claim], [context], [context],
                                         interactions=True)  # fmt: skip
    assert best == ["refunds take fourteen days"]
    u = _word_embed([claim])[0]
    got = np.array([feats[0][k] for k in ef.INTERACTION])
    assert np.array_equal(got[:384], u * u) and not got[384:].any()  # same text: |u - v| = 0
    feats, _ = ef.similarity_features(_word_embed, [claim], ["cats sleep"], interactions=True)
    v = _word_embed(["cats sleep"])[0]
    got = np.array([feats[0][k] for k in ef.INTERACTION])
    assert np.array_equal(got[384:], np.abs(u - v)) and not got[:384].any()
    plain, _ = ef.similarity_features(_word_embed, [claim], ["cats sleep"])
    assert not set(ef.INTERACTION) & set(plain[0])


def test_only_heads_trained_with_interactions_ask_for_them():
    class Head:
        def __init__(self, features: list[str]) -> None:
            self.features = features

    assert not ef.wants_interactions(Head(["enc_cos", "tok_min"]))
    assert ef.wants_interactions(Head(["enc_cos", *ef.INTERACTION]))
