"""Hand-written safety cues, fed to the learned text models as extra pseudo-words.

The training sets are small and stylistically narrow (AdvBench is all imperatives), so a
bag of words alone learns style, not harm. These cues add prior knowledge the data lacks:
*who* is the target of a violent verb (a person vs a process), refusal phrasing, profanity,
and benign framings (definitions, history, fiction, software). They are only tokens: the
logistic regression learns how much each one is worth on the training split.
Written from general knowledge of harm taxonomies, not from the test prompts.
"""

from __future__ import annotations

import re
from functools import cache

_PERSON = (
    r"(?:someone|somebody|people|person|persons|a human|humans|him|her|them|my (?:wife|husband|"
    r"boss|neighbou?r|friend|partner|sister|brother|mother|father|mom|dad|child|kid|teacher|"
    r"ex|coworker|colleague|classmate|roommate)|(?:a|the) (?:child|kid|baby|woman|man|girl|boy|"
    r"president|politician|police officer|cop|judge|witness)|children|kids|women|minorities)"
)

_REQUEST_CUES: dict[str, str] = {
    "harm_person": rf"\b(?:kill|murder|assassinate|poison|strangle|stab|shoot|torture|kidnap|"
    rf"abduct|hurt|injure|beat up|attack|drown|suffocate|rape|molest|stalk|harass|threaten|"
    rf"blackmail|dox|bully)\w*\s+(?:\w+\s+){{0,2}}{_PERSON}\b",
    "weapon": r"\b(?:bomb|explosive|detonat\w*|grenade|pipe bomb|molotov|nerve agent|sarin|"
    r"anthrax|ricin|bioweapon|chemical weapon|dirty bomb|ghost gun|untraceable (?:gun|firearm)|"
    r"silencer|napalm|thermite)\b",
    "cyber": r"\b(?:hack(?:ing)? into|malware|ransomware|keylogger|botnet|phishing|ddos|"
    r"spyware|trojan|rootkit|exploit (?:a |the )?vulnerabilit\w*|crack (?:a |the )?password|"
    r"steal (?:\w+ )?(?:passwords?|credentials|credit card|identit\w+|personal (?:data|"
    r"information))|bypass (?:security|authentication|antivirus))\b",
    "fraud": r"\b(?:counterfeit|launder\w*|scam\w*|ponzi|insider trading|tax evasion|evade "
    r"taxes|forge[ds]?|forgery|fake (?:id|passport|reviews?|news)|embezzl\w*|bribe\w*|extort\w*|"
    r"pyramid scheme|identity theft|fraud\w*)\b",
    "drugs": r"\b(?:(?:make|cook|synthesi[sz]e|produce|manufacture|grow|buy|sell|smuggle)\w*\s+"
    r"(?:\w+\s+){0,2}(?:meth\w*|cocaine|crack|heroin|fentanyl|lsd|mdma|ecstasy|drugs|opioids?)|"
    r"drug trafficking)\b",
    "self_harm": r"\b(?:suicide|kill myself|end my life|self[- ]harm|cut myself|hurt myself|"
    r"starve myself|anorexi\w+|overdose)\b",
    "hate": r"\b(?:inferior|subhuman|vermin|ethnic cleansing|genocide|white supremac\w*|"
    r"racist|racial slur|hate speech|should (?:not|n't) be allowed to|deport all|"
    r"exterminat\w*|go back to (?:their|your) country)\b",
    "crime": r"\b(?:steal\w*|shoplift\w*|rob(?:bing|bery)?|burglar\w*|break into|pick a lock|"
    r"hotwire|get away with|without getting caught|evade (?:the )?police|illegal\w*|"
    r"smuggl\w*|traffick\w*|arson|vandali[sz]\w*|cheat on|sabotage|poison)\b",
    "privacy": r"\b(?:home address|social security number|ssn|phone number of|track (?:\w+ )?"
    r"(?:location|phone)|spy on|read (?:my|her|his) (?:\w+ )?messages|private (?:information|"
    r"details) (?:of|about))\b",
    "sexual": r"\b(?:porn\w*|explicit sex\w*|sexual(?:ly)? (?:explicit|content)|nude|child "
    r"(?:sexual|abuse)|minors?)\b",
    "misinfo": r"\b(?:propaganda|disinformation|misinformation|conspiracy|defamat\w*|"
    r"manipulat\w*|incite\w*|radicali[sz]\w*|recruit\w* (?:for|into) (?:a )?terror\w*)\b",
}
_BENIGN_CUES: dict[str, str] = {
    "definition": r"^\s*(?:what (?:is|are|does|was|were)|what's|define|meaning of|"
    r"definition of|explain what)\b",
    "history": r"\b(?:history|historical|in (?:the )?(?:19|18|17)\d\ds|world war|ancient|"
    r"what happened (?:at|in|during)|why did)\b",
    "fiction": r"\b(?:in (?:a |the )?(?:video )?game|in (?:a |the )?(?:movie|film|novel|story|"
    r"book|play)|fictional|character|minecraft|call of duty|gta|james bond|harry potter)\b",
    "software": r"\b(?:python|linux|process(?:es)?|thread|program|server|docker|kubernetes|"
    r"terminal|command|git|code|script|database|sql|function|variable|browser tab)\b",
    "household": r"\b(?:weeds?|fish|chicken|meat|vegetables?|onions?|garden|lawn|bugs?|pests?|"
    r"mosquito\w*|cockroach\w*|rats?|mice|recipe|cook(?:ing)?|kitchen|game of chess|chess)\b",
    "figurative": r"\b(?:kill(?:ing)? (?:it|time|the (?:lights|engine|mood))|blow (?:off|up "
    r"(?:the )?(?:balloon|internet))|knock (?:it )?out|beat (?:the|my) (?:record|traffic|heat)|"
    r"murder (?:a|the) (?:song|performance)|crush(?:ing)? (?:it|the (?:exam|test|interview)))\b",
}
_REFUSAL_CUES: dict[str, str] = {
    "sorry": r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|my apologies|unfortunately)\b",
    "cannot": r"\b(?:i (?:can(?:no|')t|cannot|won't|will not|am (?:not able|unable)|'m (?:not "
    r"able|unable)|must (?:decline|refuse)|do(?:n't| not) (?:feel comfortable|think i can))|"
    r"not (?:able|allowed|permitted) to (?:help|assist|provide))\b",
    "as_ai": r"\b(?:as an ai|as a language model|as an assistant|i'?m (?:just )?an ai|i don'?t "
    r"have (?:personal|the ability|access))\b",
    "policy": r"\b(?:against (?:my|our|the) (?:guidelines|policy|policies|principles)|"
    r"(?:illegal|unethical|harmful|inappropriate|not appropriate|dangerous) (?:and|or|to)|"
    r"violat\w+ (?:privacy|the law|policy)|promote (?:violence|harm|hate))\b",
    "redirect": r"\b(?:instead,? (?:i|you|we)|seek (?:professional )?help|please consult|"
    r"reach out to|if you(?:'re| are) (?:feeling|in crisis)|hotline)\b",
    "comply": r"^\s*(?:sure|certainly|of course|absolutely|here(?:'s| is| are)|yes|step 1|1\.|"
    r"to \w+ (?:a|an|the)|title:)",
}
_TOXIC_CUES: dict[str, str] = {
    "profanity": r"\b(?:fuck\w*|shit\w*|bitch\w*|bastard\w*|asshole\w*|dick\w*|cunt\w*|crap|"
    r"damn\w*|piss\w*|whore\w*|slut\w*|motherfuck\w*|wtf|stfu)\b",
    "insult": r"\b(?:idiot\w*|stupid|moron\w*|dumb\w*|retard\w*|loser\w*|pathetic|disgusting|"
    r"worthless|scum|trash|filthy|ugly|fat|lazy|ignorant|savage\w*|animals|parasites?|"
    r"degenerat\w*|freaks?|weirdos?|nasty)\b",
    "generalise": r"\b(?:all|these|those|most|every) (?:\w+ ){0,2}(?:are|is) (?:\w+ )?(?:lazy|"
    r"dangerous|criminals?|terrorists?|stupid|dirty|violent|evil|inferior|animals|a threat|"
    r"disgusting|the problem)\b|\b(?:they|them) (?:all|should|shouldn't|need to|must|don't "
    r"deserve|can't|are not|aren't)\b",
    "exclusion": r"\b(?:go back|send them back|should(?: not|n't) (?:be allowed|have)|don'?t "
    r"belong|not welcome|locked up|get rid of|kick (?:them|all) out|ban (?:them|all))\b",
    "threat": r"\b(?:i(?:'ll| will) (?:kill|hurt|find|destroy)|you(?:'ll| will) (?:die|pay|"
    r"regret)|deserve to die|kill yourself|kys|die in a fire|shoot|beat)\b",
}


_PREFILTERED = frozenset({"toxicity"})
"""Groups whose cues rarely fire: one alternation of all their patterns rules most texts out.

(For the other groups most texts hit some cue, so the extra pass costs more than it saves.
The alternation only answers "any cue?": which ones still takes a search per cue, since
alternatives that match at the same place shadow each other.)"""


@cache
def _compiled(group: str) -> list[tuple[str, re.Pattern[str]]]:
    table = {
        "request": {**_REQUEST_CUES, **{f"benign_{k}": v for k, v in _BENIGN_CUES.items()}},
        "refusal": _REFUSAL_CUES,
        "toxicity": _TOXIC_CUES,
    }[group]
    return [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in table.items()]


@cache
def _compiled_lower(group: str) -> tuple[list[tuple[str, re.Pattern[str]]], re.Pattern[str] | None]:
    """Case-sensitive twins of the patterns, for lower-cased ASCII text (about 2x faster).

    Exact: every pattern is lower case, and on ASCII text ``IGNORECASE`` matching is the same
    as matching the lower-cased text (``str.lower`` keeps ASCII lengths, ``\\w`` and ``\\b``).
    """
    compiled = _compiled(group)
    assert not any(c.isupper() for _, p in compiled for c in p.pattern), group
    exact = [(name, re.compile(p.pattern)) for name, p in compiled]
    anyone = None
    if group in _PREFILTERED:
        anyone = re.compile("|".join(f"(?:{p.pattern})" for _, p in compiled))
    return exact, anyone


def cues(text: str, group: str) -> list[str]:
    """Names of the cues of ``group`` ("request" | "refusal" | "toxicity") found in text."""
    if text.isascii():
        patterns, anyone = _compiled_lower(group)
        text = text.lower()
        if anyone is not None and anyone.search(text) is None:
            return []
    else:
        patterns = _compiled(group)
    return [name for name, pattern in patterns if pattern.search(text)]


def with_cues(text: str, group: str, found: list[str] | None = None) -> str:
    """The text plus one pseudo-word per cue found, for the hashed text models.

    ``found``: the cues of exactly this text and group, when the caller already has them.
    """
    if found is None:
        found = cues(text, group)
    return text + "".join(f" zzcue{group}{name.replace('_', '')}" for name in found)
