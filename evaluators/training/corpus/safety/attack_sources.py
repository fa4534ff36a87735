"""``jailbreak`` (plus model-output ``safety_content`` and compliant ``refusal`` rows) from
attack artefacts in JailbreakBench's submission format.

Why: a successful jailbreak is a property of a prompt *and* what a given model answered, and
these artefacts publish both for many attack methods and target models, each with the
benchmark judge's ``jailbroken`` verdict. Sources: the JailbreakBench artefacts (GCG, DSN,
random search, JailbreakChat's AIM, PAIR against four models) and the adaptive attacks of
Andriushchenko et al. (prompt template + random-search suffix, some with a one-shot in-context
demonstration, against 13 models).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from evaluators.training.corpus.safety import categories as cat
from evaluators.training.corpus.safety._read import clean

Files = dict[str, bytes]

# JailbreakBench attack method -> style. PAIR writes free-form attack prompts, so its style is
# read from the prompt itself (``_pair_style``).
JBB_STYLES = {"JBC": "roleplay", "GCG": "adversarial_suffix", "DSN": "adversarial_suffix",
              "prompt_with_random_search": "adversarial_suffix"}  # fmt: skip


def _pair_style(prompt: str) -> str:
    lowered = prompt.lower()
    if re.search(r"hypothetical|imagine|fictional|in a world where|thought experiment", lowered):
        return "hypothetical"
    if re.search(r"you are an?\b|pretend|role[- ]?play|act as|character|story|novel", lowered):
        return "roleplay"
    return "other"


def _artefact_rows(
    artefact: dict, style_of: Callable[[str], str], category_of: Callable[[dict], str]
) -> dict[str, list[dict]]:
    """One artefact file: every (prompt, response) as a jailbreak row; the response as
    content (jailbroken -> harmful); jailbroken responses as compliance (refusal 0): a
    harmful answer is never a refusal, a non-jailbroken one may be refusal or evasion and
    carries no refusal label."""
    model = str(artefact["parameters"]["model"]).strip()
    jailbreaks, content, compliant = [], [], []
    for item in artefact["jailbreaks"]:
        prompt, response = clean(item.get("prompt")), clean(item.get("response"))
        if not prompt or len(response) < 3:  # a few responses are cut to one token ("I")
            continue
        broken = int(bool(item["jailbroken"]))
        jailbreaks.append({"prompt": prompt, "response": response, "label": broken,
                           "style": style_of(prompt)})  # fmt: skip
        category = category_of(item) if broken else "none"
        content.append({"text": response, "label": broken, "category": category})
        if broken:
            compliant.append({"prompt": prompt, "response": response, "label": 0, "model": model})
    return {"jailbreak": jailbreaks, "safety_content": content, "refusal": compliant}


def _merge(parts: list[dict[str, list[dict]]]) -> dict[str, list[dict]]:
    merged: dict[str, list[dict]] = {}
    for part in parts:
        for task, rows in part.items():
            merged.setdefault(task, []).extend(rows)
    return merged


def jailbreakbench(files: Files) -> dict[str, list[dict]]:
    """``attack-artifacts/<method>/<attack type>/<model>.json``, the test artefact aside."""
    parts = []
    for path in sorted(files):
        pieces = path.split("/")
        if len(pieces) != 4 or pieces[0] != "attack-artifacts" or pieces[1] == "test-artifact":
            continue
        method = pieces[1]
        fixed = JBB_STYLES.get(method)
        parts.append(_artefact_rows(
            json.loads(files[path]),
            (lambda _p, s=fixed: s) if fixed else _pair_style,
            lambda item: cat.JAILBREAKBENCH[item["category"]],
        ))  # fmt: skip
    return _merge(parts)


def adaptive_attacks(files: Files) -> dict[str, list[dict]]:
    """``jailbreak_artifacts/exps_<model>[_variant].json`` (judge: GPT-4). Random-search
    runs -> adversarial_suffix; the ``icl_one_shot`` runs put one compliant demonstration in
    context -> many_shot (its one-shot case); the template-only run -> other. The behaviour
    category is the keyword guess on the goal."""
    parts = []
    for path in sorted(files):
        if not path.startswith("jailbreak_artifacts/exps_"):
            continue
        artefact = json.loads(files[path])
        if "icl_one_shot" in path:
            style = "many_shot"
        elif artefact["parameters"]["method"] == "adaptive_random_search":
            style = "adversarial_suffix"
        else:
            style = "other"
        parts.append(_artefact_rows(
            artefact, lambda _p, s=style: s, lambda item: cat.guess_category(item["goal"])
        ))  # fmt: skip
    return _merge(parts)
