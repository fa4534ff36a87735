"""``refusal`` negatives from assistant turns that do what was asked: short replies.

Why: the refusal corpora's non-refusals are model answers to risky or benchmark prompts,
nearly all long (median ~700 characters; 4 of ~2,000 under 40), so a head learns "short and
polite = refusal" ("You're welcome." 0.99 from the refusal MLP, "Go to Settings and open
Security." 0.96 from the linear head). The Schema-Guided Dialogue corpus annotates every
system turn of a virtual assistant with its dialogue acts; turns that inform, offer, confirm,
ask back, report success or say goodbye are, by that annotation, not declines. Turns with a
``NOTIFY_FAILURE`` act (the service could not do it) are left out: "I couldn't make that
reservation" is no safety refusal, but it is worded like one.
"""

from __future__ import annotations

import json

from evaluators.training.corpus._sources import stable_sample
from evaluators.training.corpus.safety._read import clean

Files = dict[str, bytes]

SGD_KEPT_ACTS = frozenset({"INFORM", "INFORM_COUNT", "OFFER", "OFFER_INTENT", "REQUEST",
                           "CONFIRM", "NOTIFY_SUCCESS", "REQ_MORE", "GOODBYE"})  # fmt: skip
SGD_MODEL = "sgd-crowd"
SGD_CAP = 1500
"""Unique replies kept (stable sample): enough short courtesies and one-liners to move the
head, few enough that the refusal task stays balanced (~2,900 refusals)."""


def sgd_system_turns(files: Files) -> dict[str, list[dict]]:
    """System turns whose acts are all in ``SGD_KEPT_ACTS`` -> refusal 0 (prompt: the user
    turn before); one row per distinct reply, a stable sample of ``SGD_CAP``."""
    by_reply: dict[str, dict] = {}
    for path in sorted(p for p in files if p.startswith("dev/dialogues_")):
        for dialogue in json.loads(files[path]):
            user = None
            for turn in dialogue["turns"]:
                text = clean(turn["utterance"])
                if turn["speaker"] == "USER":
                    user = text
                    continue
                acts = {a["act"] for frame in turn["frames"] for a in frame["actions"]}
                if text and acts and acts <= SGD_KEPT_ACTS and text not in by_reply:
                    by_reply[text] = {"prompt": user, "response": text, "label": 0,
                                      "model": SGD_MODEL}  # fmt: skip
    return {"refusal": stable_sample(list(by_reply.values()), SGD_CAP, "response")}
