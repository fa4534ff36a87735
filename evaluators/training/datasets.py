"""Loaders and leak-free splits of /work/shared/datasets, shared by training and benchmark.

Splits are by *source unit* so near-duplicates never straddle train and test: SQuAD by
article title, HaluEval by row (both answers of a row together), ToxiGen by target group,
XSTest by prompt family, request safety otherwise by dataset (AdvBench / self-instruct seed
tasks / HaluEval queries train; JailbreakBench goals / self-instruct user-oriented test). The
unit goes to test when the md5 of its key falls in the lowest ``TEST_SHARE`` of the hash space:
stable across runs, machines and Python versions.

XSTest rule (prompts and GPT-4 completions alike, see ``xstest_split``): a *family* is a
prompt type with its ``contrast_`` unsafe twins (``privacy_public`` / ``privacy_fictional`` /
``contrast_privacy`` are one family, ``nons_group_real_discr`` / ``real_group_nons_discr`` /
``contrast_discr`` another), 8 families in all; the half of them with the lowest md5 of
``"xstest:" + family`` is test (safe_contexts, definitions, safe_targets, historical_events),
the other half train (homonyms, figurative_language, privacy, discr). Minimal pairs thus never
straddle the split, and test families are kinds of prompt the model never saw. Request test
rows whose text (case and spacing aside) is also a train text are dropped (some JBB goals are
AdvBench goals), and so are the JBB artefacts of those behaviours (``jailbreaks``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from evaluators.builtin._quality_lexicon import cues
from evaluators.builtin._quality_nlp import entities, numbers
from evaluators.builtin._sufficiency_features import ANTONYM_WORDS
from evaluators.training import _sentences as sent

TEST_SHARE = 0.35
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def datasets_dir() -> Path:
    """``$EVALSTREAM_DATASETS_DIR`` or ``<project root>/../shared/datasets``."""
    env = os.environ.get("EVALSTREAM_DATASETS_DIR")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "datasets"


def available() -> bool:
    return (datasets_dir() / "README.txt").is_file()


def split_of(key: str) -> str:
    bucket = int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_SHARE else "train"


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


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
    for row in _jsonl(path):
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
    for row in _jsonl(datasets_dir() / "2_correctness/halueval/qa_data_first1000.jsonl"):
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


def xstest_family(prompt_type: str) -> str:
    """XSTest prompt type -> family: the safe type(s) with their ``contrast_`` unsafe twins."""
    family = prompt_type.removeprefix("contrast_")
    if family.startswith("privacy"):
        return "privacy"
    return "discr" if family.endswith("_discr") else family


def _xstest_test_families() -> frozenset[str]:
    path = datasets_dir() / "3_safety/xstest/xstest_prompts.csv"
    families = sorted({xstest_family(r["type"]) for r in _csv(path)})
    ranked = sorted(families, key=lambda f: hashlib.md5(f"xstest:{f}".encode()).hexdigest())
    return frozenset(ranked[: len(ranked) // 2])


def xstest_split(prompt_type: str) -> str:
    """'test' for the lower-md5 half of the XSTest families, else 'train'."""
    return "test" if xstest_family(prompt_type) in _xstest_test_families() else "train"


_HOW_FORMS = ("How do I {}?", "What's the best way to {}?", "What steps should I take to {}?",
              "Where can I learn to {}?", "How would someone {}?")  # fmt: skip
_ASK_FORMS = ("Can you {}?", "Could you {}?", "I need you to {}.", "Please {}.")


def _question_form(goal: str, k: int = 0) -> str:
    """'Write a tutorial on how to make a bomb' -> 'How do I make a bomb?' (augmentation).

    ``k`` rotates through a few phrasings, so no single template becomes a harm marker.
    """
    match = re.search(r"\bhow to (.+)$", goal, flags=re.IGNORECASE)
    if match:
        return _HOW_FORMS[k % len(_HOW_FORMS)].format(match.group(1).rstrip("."))
    return _ASK_FORMS[k % len(_ASK_FORMS)].format(f"{goal[0].lower()}{goal[1:].rstrip('.')}")


def requests(split: str) -> list[dict]:
    """Request harmfulness; label 1 = harmful. Datasets and XSTest families split (see top)."""
    root = datasets_dir() / "3_safety"
    rows: list[dict] = []
    for r in _csv(root / "xstest/xstest_prompts.csv"):
        if xstest_split(r["type"]) != split:
            continue
        safe = r["label"] == "safe"
        group = f"xstest_{xstest_family(r['type'])}"  # CV groups: a family and its twins
        if split == "test":
            group = "xstest_safe" if safe else "xstest_unsafe"
        # weight 3: the few minimal pairs must count against ~2000 rows of plain style
        rows.append({"group": group, "text": r["prompt"], "label": int(not safe), "weight": 3})
    if split == "train":
        for i, r in enumerate(_csv(root / "advbench/harmful_behaviors.csv")):
            # CV groups: by harm topic (the goal's first cue), a goal and its question together,
            # so cross-validation sees unseen topics as the test sets do
            topic = [c for c in cues(r["goal"], "request") if not c.startswith("benign")]
            group = f"advbench_{topic[0] if topic else 'other'}"
            rows.append({"group": group, "text": r["goal"], "label": 1})
            rows.append({"group": group, "text": _question_form(r["goal"], i), "label": 1})
        for r in _jsonl(root / "benign_instructions/seed_tasks.jsonl"):
            rows.append({"group": "self_instruct", "text": r["instruction"], "label": 0})
        general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
        for i, r in enumerate(_jsonl(general)):
            if i % 4 == 0:  # a quarter is plenty and keeps the classes near balance
                rows.append({"group": "halueval_general", "text": r["user_query"], "label": 0})
        return rows
    goals = set()
    for path in sorted((root / "jailbreakbench_artifacts").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            goals.add(r["goal"])
    rows += [{"group": "jbb", "text": g, "label": 1} for g in sorted(goals)]
    for r in _jsonl(root / "benign_instructions/user_oriented_instructions.jsonl"):
        rows.append({"group": "user_oriented", "text": r["instruction"], "label": 0})
    # some JBB goals are AdvBench goals and some texts recur across sources: test keeps none
    seen = {" ".join(r["text"].lower().split()) for r in requests("train")}
    return [r for r in rows if " ".join(r["text"].lower().split()) not in seen]


def toxicity(split: str) -> list[dict]:
    """ToxiGen (split by target group) + the Jigsaw sample (test only); 1 = toxic.

    Train adds other sources (AdvBench harmful strings, ordinary answers); their CV groups
    are five row chunks each, so only ToxiGen target groups are held out whole in CV.
    """
    root = datasets_dir() / "3_safety"
    rows = [
        {"group": r["target_group"], "text": r["text"], "label": int(r["toxic"])}
        for r in _csv(root / "toxigen_demonstrations/toxigen_demonstrations_combined.csv")
        if split_of("toxigen:" + r["target_group"]) == split
    ]
    if split == "test":
        rows += [
            {"group": "jigsaw", "text": r["comment_text"], "label": int(r["toxic"])}
            for r in _csv(root / "jigsaw_sample/test_examples.csv")
        ]
    else:
        first_other = len(rows)
        rows += [
            {"group": "advbench_strings", "text": r["target"], "label": 1}
            for r in _csv(root / "advbench/harmful_strings.csv")[::4]
        ]
        general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
        rows += [  # ordinary assistant answers: neutral text that is not about a group
            {"group": "halueval_general", "text": r["chatgpt_response"][:400], "label": 0}
            for i, r in enumerate(_jsonl(general))
            if i % 12 == 0
        ]
        rows += [  # short factual answers, so brevity alone does not read as toxic
            {"group": "squad_answers", "text": r["output"], "label": 0}
            for r in correctness("train")[::10]
        ]
        rows += [
            {"group": "self_instruct", "text": inst["output"][:400], "label": 0}
            for r in _jsonl(root / "benign_instructions/seed_tasks.jsonl")
            for inst in r["instances"][:1]
            if inst["output"].strip()
        ]
        rows += [  # assistant refusals and answers about sensitive topics are not toxic
            {"group": "xstest_completions", "text": r["text"][:400], "label": 0}
            for r in refusals("train")
            if r["group"] != "advbench"
        ]
        toxigen = {r["group"] for r in rows[:first_other]}
        for i, r in enumerate(rows):
            if r["group"] not in toxigen:
                r["group"] += str(i % 5)
    return rows


def refusals(split: str) -> list[dict]:
    """XSTest GPT-4 completions (split by prompt family); 1 = refused (partial excluded)."""
    rows = []
    root = datasets_dir() / "3_safety"
    for r in _csv(root / "xstest/xstest_v2_completions_gpt4.csv"):
        if r["final_label"].startswith("3") or xstest_split(r["type"]) != split:
            continue
        rows.append({"group": xstest_family(r["type"]), "prompt": r["prompt"],
                     "text": r["completion"],
                     "label": int(r["final_label"].startswith("2"))})  # fmt: skip
    if split == "train":  # compliant answers from other sources, so "compliance" is not one style
        for r in _csv(root / "advbench/harmful_behaviors.csv")[::3]:
            rows.append({"group": "advbench", "prompt": r["goal"], "text": r["target"], "label": 0})
    return rows


def benign_answers(window: int = 300) -> list[str]:
    """Openings of ordinary answers (train sources only), to calibrate the answer-side harm
    score: HaluEval general responses, self-instruct outputs, and XSTest GPT-4 completions
    that fully comply with the *safe* prompts of the train families."""
    root = datasets_dir() / "3_safety"
    general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
    texts = [r["chatgpt_response"] for r in _jsonl(general)]
    texts += [
        inst["output"]
        for r in _jsonl(root / "benign_instructions/seed_tasks.jsonl")
        for inst in r["instances"][:1]
    ]
    texts += [
        r["completion"]
        for r in _csv(root / "xstest/xstest_v2_completions_gpt4.csv")
        if xstest_split(r["type"]) == "train"
        and not r["type"].startswith("contrast_")
        and r["final_label"].startswith("1")
    ]
    return [t[:window] for t in texts if t.strip()]


def jailbreaks() -> list[dict]:
    """JailbreakBench artefacts (test only): prompt + response, 1 = jailbroken (judge label).

    Behaviours whose goal is also a request-safety training text (AdvBench) are left out."""
    rows = []
    seen = {" ".join(r["text"].lower().split()) for r in requests("train")}
    for path in sorted((datasets_dir() / "3_safety/jailbreakbench_artifacts").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            if " ".join(r["goal"].lower().split()) in seen:
                continue
            if r.get("prompt") and r.get("response"):
                label = int(bool(r["jailbroken"]))
                rows.append({"group": path.stem.split("__")[0], "prompt": r["prompt"],
                             "text": r["response"], "label": label})  # fmt: skip
    return rows
