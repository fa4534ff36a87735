"""Grounding datasets: context sufficiency and correctness from SQuAD 2.0 and HaluEval.

SQuAD is split by article title, HaluEval by row (both answers of a row together).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from evaluators.builtin._quality_nlp import entities, numbers
from evaluators.builtin._sufficiency_features import ANTONYM_WORDS
from evaluators.training import _sentences as sent
from evaluators.training.datasets.sources import datasets_dir, jsonl_rows, split_of


def squad_paragraphs() -> Iterator[tuple[str, str, list[dict]]]:
    path = datasets_dir() / "1_context_sufficiency/squad2_dev_cs224n/dev-v2.0.json"
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            yield article["title"], paragraph["context"], paragraph["qas"]


def sufficiency(split: str, augment: bool = False) -> list[dict]:
    """SQuAD 2.0: label 1 = the paragraph answers the question, 0 = ``is_impossible``.

    ``augment`` (training only) adds off-topic retrievals: every third answerable question
    paired with a paragraph of another article, labelled insufficient. SQuAD alone never
    shows an unrelated context, the commonest retrieval failure in practice. It also adds
    near-miss questions: another third of the answerable questions with one detail swapped
    (a word for its antonym, a number, or a name from another paragraph; see
    ``_swapped_question``) against the same paragraph, labelled insufficient: more examples
    of the "asks about something the context does not pair up" failure.
    """
    paragraphs = [p for p in squad_paragraphs() if split_of(p[0]) == split]
    rows = [
        {"group": title, "question": qa["question"], "context": [context],
         "label": int(not qa["is_impossible"])}
        for title, context, qas in paragraphs for qa in qas
    ]  # fmt: skip
    if augment:
        answerable = [r for r in rows if r["label"] == 1][::3]
        for k, row in enumerate(answerable):
            for step in range(1, len(paragraphs)):
                title, context, _ = paragraphs[(k * 7 + step * 37) % len(paragraphs)]
                if title != row["group"]:
                    rows.append({**row, "context": [context], "label": 0})
                    break
        pool = sorted({e for _, context, _ in paragraphs for e in entities(context)})
        for k, row in enumerate([r for r in rows if r["label"] == 1][1::3]):
            swapped = _swapped_question(row["question"], k, pool)
            if swapped:
                rows.append({**row, "question": swapped, "label": 0})
    return rows


def _swapped_question(question: str, k: int, pool: list[str]) -> str | None:
    """The question with one detail changed so the paragraph no longer answers it: the
    first word with an antonym in ``ANTONYM_WORDS``, else the first integer (+1..7), else the
    first capitalised name (replaced by the ``k``-th-ish name of ``pool``)."""
    tokens = question.split()
    for i, token in enumerate(tokens):
        word = token.strip("?,.;:!\"'()").lower()
        if word.isalpha() and word in ANTONYM_WORDS:
            tokens[i] = token.lower().replace(word, sorted(ANTONYM_WORDS[word])[0])
            return " ".join(tokens)
    ints = sorted(n for n in numbers(question) if n.isdigit())
    if ints:
        return re.sub(rf"\b{ints[0]}\b", str(int(ints[0]) + 1 + k % 7), question, count=1)
    names = sorted(entities(question))
    if names and pool:
        new = pool[(k * 31) % len(pool)].title()
        swapped = re.sub(rf"\b{re.escape(names[0])}\b", new, question, flags=re.IGNORECASE)
        return swapped if swapped != question else None
    return None


def _sentence_with(context: str, start: int) -> str:
    left = max(context.rfind(". ", 0, start) + 2, 0) if context.rfind(". ", 0, start) >= 0 else 0
    right = context.find(". ", start)
    return context[left : right + 1 if right >= 0 else len(context)].strip()


def correctness(split: str) -> list[dict]:
    """SQuAD answerable questions: right = another annotator's answer or the gold answer in
    its sentence; wrong = the answer to another question about the same paragraph."""
    rows: list[dict] = []
    for title, context, qas in squad_paragraphs():
        if split_of(title) != split:
            continue
        answerable = [qa for qa in qas if not qa["is_impossible"] and qa["answers"]]
        for i, qa in enumerate(answerable):
            gold = qa["answers"][0]
            texts = {a["text"].strip().lower() for a in qa["answers"]}
            others = [
                a["text"] for a in qa["answers"][1:] if a["text"].lower() != gold["text"].lower()
            ]
            right = (
                others[0]
                if others and i % 2 == 0
                else _sentence_with(context, gold["answer_start"])
            )
            base = {"group": title, "question": qa["question"], "expected": gold["text"],
                    "context": [context]}  # fmt: skip
            rows.append({**base, "output": right, "label": 1})
            for other in answerable[i + 1 :] + answerable[:i]:
                wrong = other["answers"][0]
                low = wrong["text"].strip().lower()
                if any(t in low or low in t for t in texts):
                    continue
                if i % 2:
                    sentence = _sentence_with(context, wrong["answer_start"])
                    if not any(t in sentence.lower() for t in texts):
                        rows.append({**base, "output": sentence, "label": 0})
                        break
                    continue
                rows.append({**base, "output": wrong["text"], "label": 0})
                break
    return rows


def groundedness(split: str) -> list[dict]:
    """HaluEval QA: the right answer is grounded (1), the hallucinated one is not (0)."""
    rows = []
    path = datasets_dir() / "2_correctness/halueval/qa_data_first1000.jsonl"
    for row in jsonl_rows(path):
        key = row["knowledge"] + row["question"]
        if split_of(key) != split:
            continue
        base = {"group": key[:64], "question": row["question"], "context": [row["knowledge"]]}
        rows.append({**base, "output": row["right_answer"], "label": 1})
        rows.append({**base, "output": row["hallucinated_answer"], "label": 0})
    return rows


def _squad_answerable(split: str) -> Iterator[tuple[str, str, list[dict]]]:
    for title, context, qas in squad_paragraphs():
        if split_of(title) == split:
            yield title, context, [qa for qa in qas if not qa["is_impossible"] and qa["answers"]]


def _halueval_rows(split: str) -> Iterator[tuple[str, dict]]:
    for row in jsonl_rows(datasets_dir() / "2_correctness/halueval/qa_data_first1000.jsonl"):
        key = row["knowledge"] + row["question"]
        if split_of(key) == split:
            yield key, row


def correctness_sentences(split: str) -> list[dict]:
    """Reference rows with full-sentence, reworded answers (same units/splits as above).

    SQuAD: the expected answer is the gold span or a declarative sentence made of the question
    and the span; right = another annotator's span in a paraphrased sentence; wrong = the same
    sentence with a near-miss number, another span of the same kind from the paragraph, or a
    negation flip (``_sentences.corrupt``). HaluEval: right answer vs the hallucinated one (or a
    corrupted right one), both as sentences. See ``evaluators/training/_sentences.py``.
    """
    rows: list[dict] = []
    vocab: list[str] = []  # unknown-synonym noise (groundedness) made right answers fail here
    for title, context, answerable in _squad_answerable(split):
        spans = [qa["answers"][0]["text"].strip() for qa in answerable]
        for qa in answerable:
            q, gold = qa["question"], qa["answers"][0]["text"].strip()
            rng = sent.rng_for(f"ref:{title}:{qa['id']}")
            alt = rng.choice([a["text"].strip() for a in qa["answers"] if a["text"].strip()])
            expected = gold if rng.random() < 0.5 else sent.declarative(q, gold, rng)
            right = sent.declarative(q, alt, rng)
            wrong = sent.corrupt(right, alt, context, [s for s in spans if s != gold], rng)
            base = {"group": title, "question": q, "expected": expected, "context": [context]}
            rows.append({**base, "output": sent.paraphrase(right, alt, rng, vocab), "label": 1})
            rows.append({**base, "output": sent.paraphrase(wrong, alt, rng, vocab), "label": 0})
    for key, row in _halueval_rows(split):
        rng = sent.rng_for("ref:" + key)
        q, good, bad = row["question"], row["right_answer"].strip(), row["hallucinated_answer"]
        expected = good if rng.random() < 0.5 else sent.declarative(q, good, rng)
        right = sent.declarative(q, good, rng)
        if rng.random() < 0.5:
            wrong = sent.paraphrase(sent.declarative(q, bad.strip(), rng), bad, rng, vocab)
        else:
            wrong = sent.corrupt(right, good, row["knowledge"], [], rng)
            wrong = sent.paraphrase(wrong, good, rng, vocab)
        base = {"group": key[:64], "question": q, "expected": expected,
                "context": [row["knowledge"]]}  # fmt: skip
        rows.append({**base, "output": sent.paraphrase(right, good, rng, vocab), "label": 1})
        rows.append({**base, "output": wrong, "label": 0})
    return rows


def groundedness_sentences(split: str) -> list[dict]:
    """Groundedness rows with full-sentence, reworded answers (same units/splits as above).

    HaluEval: right vs hallucinated answer as paraphrased sentences, or the right sentence
    corrupted (near-miss number, another name of the knowledge, negation); every fourth right
    sentence also appears against another row's knowledge (retrieval miss: not grounded).
    SQuAD (every second answerable question): the gold span as a sentence vs its corruption
    (another number / span of the same paragraph, negation), against the paragraph.
    """
    rows: list[dict] = []
    vocab = _question_vocabulary(split)
    halu = list(_halueval_rows(split))
    for k, (key, row) in enumerate(halu):
        rng = sent.rng_for("gr:" + key)
        q, good, bad, know = (row["question"], row["right_answer"].strip(),
                              row["hallucinated_answer"].strip(), row["knowledge"])  # fmt: skip
        base = {"group": key[:64], "question": q, "context": [know]}
        right = sent.declarative(q, good, rng)
        if rng.random() < 0.5:
            wrong = sent.paraphrase(sent.declarative(q, bad, rng), bad, rng, vocab)
        else:
            wrong = sent.paraphrase(sent.corrupt(right, good, know, [], rng), good, rng, vocab)
        right = sent.paraphrase(right, good, rng, vocab)
        rows.append({**base, "output": right, "label": 1})
        rows.append({**base, "output": wrong, "label": 0})
        if k % 4 == 0 and len(halu) > 1:
            other = halu[(k * 7 + 13) % len(halu)][1]["knowledge"]
            if other != know:
                rows.append({**base, "context": [other], "output": right, "label": 0})
    for title, context, answerable in _squad_answerable(split):
        spans = [qa["answers"][0]["text"].strip() for qa in answerable]
        for qa in answerable[::2]:
            q, gold = qa["question"], qa["answers"][0]["text"].strip()
            rng = sent.rng_for(f"gr:{title}:{qa['id']}")
            right = sent.declarative(q, gold, rng)
            wrong = sent.corrupt(right, gold, context, [s for s in spans if s != gold], rng)
            base = {"group": title, "question": q, "context": [context]}
            rows.append({**base, "output": sent.paraphrase(right, gold, rng, vocab), "label": 1})
            rows.append({**base, "output": sent.paraphrase(wrong, gold, rng, vocab), "label": 0})
    return rows


def _question_vocabulary(split: str) -> list[str]:
    """Plain words of the split's SQuAD + HaluEval questions (paraphrase noise, see above)."""
    texts = [qa["question"] for _, _, qas in _squad_answerable(split) for qa in qas]
    texts += [row["question"] for _, row in _halueval_rows(split)]
    return sent.plain_vocabulary(texts)
