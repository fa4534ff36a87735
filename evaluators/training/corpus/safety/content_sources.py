"""``safety_content`` from human-labelled hate/offence sets: real posts and curated statements.

Why these: the moderation view must score real, ordinary text low and abusive text high,
including implicit hate (ToxiGen statements with no slur) and its near misses (HateCheck's
counter-speech, quoted hate, reclaimed slurs and non-hateful profanity are labelled
non-hateful by the authors).
"""

from __future__ import annotations

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
