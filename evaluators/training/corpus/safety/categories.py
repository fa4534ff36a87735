"""One harm vocabulary for every safety source.

Why: each public set names its harms its own way ("Malware/Hacking", "cybercrime_intrusion",
"Illegal goods and services"); training and held-out evaluation only make sense if they all
land on the contract's categories. Mappings are written out per source so a reviewer can
check each decision; ``guess_category`` is the fallback for sources whose rows carry no
harm type (XSTest unsafe contrasts), a keyword rule recorded as such in the docs.
"""

from __future__ import annotations

import re

CATEGORIES = ("sexual", "self_harm", "violence", "harassment", "hate", "dangerous", "other", "none")
STYLES = ("roleplay", "hypothetical", "payload_splitting", "many_shot", "adversarial_suffix",
          "other", "none")  # fmt: skip

JAILBREAKBENCH = {
    "Harassment/Discrimination": "harassment",
    "Malware/Hacking": "dangerous",
    "Physical harm": "violence",
    "Economic harm": "dangerous",
    "Fraud/Deception": "dangerous",
    "Disinformation": "other",
    "Sexual/Adult content": "sexual",
    "Privacy": "other",
    "Expert advice": "other",
    "Government decision-making": "other",
}

HARMBENCH = {
    "chemical_biological": "dangerous",
    "illegal": "dangerous",
    "cybercrime_intrusion": "dangerous",
    "misinformation_disinformation": "other",
    "harassment_bullying": "harassment",
    "harmful": "other",  # refined by guess_category (self-harm, violence ...)
}

STRONGREJECT = {
    "Disinformation and deception": "other",
    "Sexual content": "sexual",
    "Illegal goods and services": "dangerous",
    "Violence": "violence",
    "Non-violent crimes": "dangerous",
    "Hate, harassment and discrimination": "hate",
}

SIMPLE_SAFETY_TESTS = {
    "Suicide, Self-Harm, and Eating Disorders": "self_harm",
    "Physical harm and Violence": "violence",
    "Illegal and Highly Regulated items": "dangerous",
    "Scams and fraud": "dangerous",
    "Child safety": "sexual",  # the SST child-safety prompts are about child sexual abuse
}

_KEYWORDS = (
    ("self_harm", r"suicid|kill (my|your)self|self[- ]harm|cut myself|overdose|starve myself"),
    ("sexual", r"\bsex|porn|nude|naked|erotic|rape|molest"),
    ("hate", r"\brac(e|ist|ism)|\bjews?\b|jewish|muslim|black people|gay|lesbian|trans(gender)?\b"
             r"|immigrant|women are|disabled|inferior"),
    ("dangerous", r"\bdrugs?\b|cocaine|heroin|\bmeth|weed|bomb|explosive|weapon|\bguns?\b|"
                  r"poison|hack|malware|steal|counterfeit|launder|fraud|scam|smuggl|crack"),
    ("violence", r"\bkill|murder|slay|terroris|shoot|stab|strangle|behead|massacre|genocide|"
                 r"assault|attack|"
                 r"slaughter|execut|hurt|beat up|blow up|butcher|torture|\bshot\b"),
)  # fmt: skip


def guess_category(text: str) -> str:
    """A keyword guess for rows whose source names no harm type; ``other`` when nothing fits."""
    lowered = text.lower()
    for category, pattern in _KEYWORDS:
        if re.search(pattern, lowered):
            return category
    return "other"
