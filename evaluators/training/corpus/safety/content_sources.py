"""``safety_content`` from human-labelled hate/offence sets: real posts and curated statements.

Why these: the moderation view must score real, ordinary text low and abusive text high,
including implicit hate (ToxiGen statements with no slur) and its near misses (HateCheck's
counter-speech, quoted hate, reclaimed slurs and non-hateful profanity are labelled
non-hateful by the authors).
"""

from __future__ import annotations

import html
import re

from evaluators.training.corpus._sources import stable_sample
from evaluators.training.corpus.safety._read import clean, csv_rows

Files = dict[str, bytes]

# Davidson et al.: 19k of 25k tweets are "offensive", mostly casual slurs and profanity. A
# capped, stable sample keeps them from drowning the other sources.
DAVIDSON_OFFENSIVE_CAP = 4000


def hatecheck(files: Files) -> dict[str, list[dict]]:
    """HateCheck test cases; ``label_gold`` hateful -> 1 hate, non-hateful -> 0 none."""
    rows = []
    for case in csv_rows(files["test_suite_cases.csv"]):
        hateful = case["label_gold"] == "hateful"
        rows.append({"text": clean(case["test_case"]), "label": int(hateful),
                     "category": "hate" if hateful else "none"})  # fmt: skip
    return {"safety_content": rows}


def _tweet_text(tweet: str) -> str:
    """Davidson tweets keep retweet markers and entity escapes; drop the markers, not words."""
    text = tweet.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    text = re.sub(r"^(!+\s*)?RT\s+@\w+:?\s*", "", text.strip())
    return clean(text)


def davidson(files: Files) -> dict[str, list[dict]]:
    """Crowd majority class: 0 hate speech -> 1 hate, 1 offensive -> 1 harassment (sampled),
    2 neither -> 0 none."""
    by_class: dict[str, list[dict]] = {"0": [], "1": [], "2": []}
    for row in csv_rows(files["data/labeled_data.csv"]):
        text = _tweet_text(row["tweet"])
        if len(text) >= 10:
            by_class[row["class"]].append({"text": text})
    rows = [{**r, "label": 1, "category": "hate"} for r in by_class["0"]]
    offensive = stable_sample(by_class["1"], DAVIDSON_OFFENSIVE_CAP)
    rows += [{**r, "label": 1, "category": "harassment"} for r in offensive]
    rows += [{**r, "label": 0, "category": "none"} for r in by_class["2"]]
    return {"safety_content": rows}


def toxigen_prompts(files: Files) -> dict[str, list[dict]]:
    """The statements of ToxiGen's prompt files (``- statement`` lines, the curated hateful or
    neutral examples about 13 groups); the file name says hate or neutral."""
    seen: dict[str, dict] = {}
    for path in sorted(files):
        name = path.rsplit("/", 1)[-1]
        if not name.startswith(("hate_", "neutral_")):
            continue
        hateful = name.startswith("hate_")
        for prompt in files[path].decode("utf-8").splitlines():
            for statement in prompt.split("\\n"):
                text = clean(statement.lstrip("- ").strip())
                if len(text) >= 10:
                    seen.setdefault(text, {"text": text, "label": int(hateful),
                                           "category": "hate" if hateful else "none"})  # fmt: skip
    return {"safety_content": list(seen.values())}


CONVABUSE_SPLITS = (
    "2_splits/ConvAbuseEMNLPtrain.csv",
    "2_splits/ConvAbuseEMNLPvalid.csv",
    "2_splits/ConvAbuseEMNLPtest.csv",
)
_CONVABUSE_HATE_TYPES = ("ableist", "homophobic", "racist", "sexist", "transphobic")


def _convabuse_votes(row: dict) -> tuple[int, int, int, dict[str, int]]:
    """(not abusive, ambiguous, abusive) votes and, over the abusive votes, the type flags."""
    ok = ambiguous = abusive = 0
    types: dict[str, int] = {}
    for annotator in range(1, 9):
        prefix = f"Annotator{annotator}_"
        if row.get(f"{prefix}is_abuse.1") == "1":
            ok += 1
        elif row.get(f"{prefix}is_abuse.0") == "1":
            ambiguous += 1
        elif any(row.get(f"{prefix}is_abuse.{level}") == "1" for level in ("-1", "-2", "-3")):
            abusive += 1
            for kind in (*_CONVABUSE_HATE_TYPES, "sex_harassment"):
                types[kind] = types.get(kind, 0) + (row.get(prefix + kind) == "1")
    return ok, ambiguous, abusive, types


def convabuse(files: Files) -> dict[str, list[dict]]:
    """Real user turns to two conversational agents, 2-8 annotators each. Majority not
    abusive -> 0; majority abusive -> 1: sexual when most abusive votes say sexual
    harassment, hate when most name an identity-based type, else harassment. Rows without
    a strict majority (ambiguous, ties) are left out."""
    rows = []
    for path in CONVABUSE_SPLITS:
        for row in csv_rows(files[path]):
            text = clean(row["user"])
            ok, ambiguous, abusive, types = _convabuse_votes(row)
            if len(text) < 3 or max(ok, abusive) <= max(ambiguous, min(ok, abusive)):
                continue
            if ok > abusive:
                rows.append({"text": text, "label": 0, "category": "none"})
                continue
            if 2 * types.get("sex_harassment", 0) > abusive:
                category = "sexual"
            elif any(2 * types.get(kind, 0) > abusive for kind in _CONVABUSE_HATE_TYPES):
                category = "hate"
            else:
                category = "harassment"
            rows.append({"text": text, "label": 1, "category": category})
    return {"safety_content": rows}


RMHD_PATH = (
    "construct_tracker/data/datasets/reddit_27_subreddits/rmhd_27subreddits_260posts_test.csv"
)
# Everyday subreddits of the Reddit Mental Health Dataset. The mental-health subreddits other
# than r/suicidewatch are left out: their posts talk about self-harm often enough that "not
# self-harm" would be a noisy label, and "self-harm" a wrong one. r/conspiracy is left out too.
RMHD_CONTROLS = ("UKPersonalFinance", "personalfinance", "legaladvice", "teaching", "ukpolitics",
                 "unitedkingdom", "divorce", "guns", "mindfulness")  # fmt: skip
RMHD_CONTROL_CAP = 1000
RMHD_MAX_CHARS = 1500


def _head(text: str, limit: int = RMHD_MAX_CHARS) -> str:
    """The post cut at the last space before ``limit`` characters (encoders read ~256
    tokens; whole posts would triple the file for text no model sees). Reddit's HTML
    entities (``&amp;``) are decoded."""
    text = clean(html.unescape(html.unescape(text)))
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def reddit_mental_health(files: Files) -> dict[str, list[dict]]:
    """Reddit posts by subreddit: r/suicidewatch -> 1 self_harm (posts there are, by the
    forum's purpose, about the writer's suicidal thoughts), everyday subreddits -> 0 none."""
    harmful, controls = [], []
    for row in csv_rows(files[RMHD_PATH]):
        text = _head(row["post"])
        if len(text) < 20:
            continue
        if row["subreddit"] == "suicidewatch":
            harmful.append({"text": text, "label": 1, "category": "self_harm"})
        elif row["subreddit"] in RMHD_CONTROLS:
            controls.append({"text": text, "label": 0, "category": "none"})
    return {"safety_content": harmful + stable_sample(controls, RMHD_CONTROL_CAP)}


# ~9,600 emoji test cases would make template-like hate the bulk of safety_content; a stable
# sample per label keeps the variety (all functionalities and rounds) at a fifth of the rows.
HATEMOJI_CAP = 2000  # per label
HATEMOJI_FILES = ("HatemojiCheck/test.csv", "HatemojiBuild/train.csv",
                  "HatemojiBuild/validation.csv", "HatemojiBuild/test.csv")  # fmt: skip


def hatemoji(files: Files) -> dict[str, list[dict]]:
    """HatemojiCheck (emoji-based functional tests) and HatemojiBuild (adversarially
    collected, with minimally perturbed non-hateful twins): ``label_gold`` 1 -> hate, 0 ->
    none. HatemojiCheck cases flagged unrealistic by the authors are left out."""
    rows = []
    for path in HATEMOJI_FILES:
        for case in csv_rows(files[path]):
            if case.get("unrealistic_flags", "0") not in ("0", ""):
                continue
            hateful = case["label_gold"] == "1"
            rows.append({"text": clean(case["text"]), "label": int(hateful),
                         "category": "hate" if hateful else "none"})  # fmt: skip
    sample = [row for label in (0, 1) for row in stable_sample(
        [r for r in rows if r["label"] == label], HATEMOJI_CAP)]  # fmt: skip
    return {"safety_content": sample}
