"""Tiny, dependency-free NLP for the offline quality evaluators.

The evaluators run on every trace of a stream, so this is regexes, sets and a light suffix
stemmer rather than a tagger: good enough to compare words, numbers and named entities
between a question, an answer and a context, at a few microseconds per sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from evaluators.builtin._quantities import HAS_QUANTITY, quantities

MAX_CHARS = 300_000
"""Text beyond this is not read (a 200 KB context still fits; a runaway one is clipped)."""


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _wordset(
    "a an the and or but if then else of at by for with about against between into "
    "through during before after above below to from up down in out on off over under "
    "again further once here there when where why how all any both each few more most "
    "other some such no nor not only own same so than too very s t can will just don "
    "should now is are was were be been being have has had having do does did doing i me "
    "my myself we our ours ourselves you your yours yourself yourselves he him his "
    "himself she her hers herself it its itself they them their theirs themselves what "
    "which who whom whose this that these those am would could shall may might must also "
    "as i'm it's that's there's what's let's us one ones get got"
)
NEGATIONS = _wordset(
    "not no never none nobody nothing neither nor cannot can't won't isn't aren't wasn't "
    "weren't doesn't don't didn't hasn't haven't hadn't shouldn't wouldn't couldn't "
    "without n't"
)
MONTHS = _wordset(
    "january february march april may june july august september october november "
    "december jan feb mar apr jun jul aug sep sept oct nov dec"
)
NUMBER_WORDS = _wordset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty "
    "seventy eighty ninety hundred thousand million billion trillion dozen half first "
    "second third fourth fifth percent"
)

_WORD = re.compile(r"\w+(?:'\w+)?", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_SUFFIXES = ("ational", "ization", "fulness", "ousness", "iveness", "ements", "ement", "ments",
             "ment", "ingly", "ities", "ation", "ness", "ings", "ally", "ing", "ies", "ied", "ity",
             "ers", "est", "ed", "er", "es", "ly", "al", "s")  # fmt: skip


def clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude suffix-stripping stemmer: 'invaded'/'invasion' no, 'invades'/'invaded' yes."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    # a silent final e goes too, so 'remove' meets 'removed' / 'removes' ('remov')
    return word[:-1] if word.endswith("e") else word


CACHE_TEXTS = 4096
"""Texts whose tokens are kept (LRU): the three evaluators read the same question / answer /
context, and a stream repeats its prompts and documents."""
CACHE_MAX_CHARS = 1000
"""Longer texts are tokenised every time (a document is cached sentence by sentence), which
bounds the caches to some tens of MB even when every entry is a distinct long text."""


@lru_cache(maxsize=CACHE_TEXTS)
def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(clip(text).lower()))


def words(text: str) -> list[str]:
    """Lower-cased word tokens (unicode letters and digits, inner apostrophes kept)."""
    if len(text) > CACHE_MAX_CHARS:
        return _WORD.findall(clip(text).lower())
    return list(_words(text))


def is_content(token: str) -> bool:
    """A token that carries meaning: no stopword, no 1-letter token (a digit is kept)."""
    return token not in STOPWORDS and (len(token) > 1 or token.isdigit())


def content_stems(tokens: list[str]) -> list[str]:
    """Stems of the tokens that carry meaning (no stopwords, no 1-letter tokens)."""
    return [stem(t) for t in tokens if is_content(t)]


@lru_cache(maxsize=CACHE_TEXTS)
def _text_stems(text: str) -> tuple[str, ...]:
    return tuple(content_stems(_words(text)))


def text_stems(text: str) -> list[str]:
    """``content_stems(words(text))``, cached per text like ``words``."""
    if len(text) > CACHE_MAX_CHARS:
        return content_stems(words(text))
    return list(_text_stems(text))


def _first_tokens(text: str) -> dict[str, str]:
    seen: dict[str, str] = {}
    for token in words(text):
        seen.setdefault(stem(token), token)
    return seen


_first_tokens_cached = lru_cache(maxsize=CACHE_TEXTS)(_first_tokens)


def first_tokens(text: str) -> dict[str, str]:
    """Stem -> the first token of the text with that stem (read-only: it may be shared)."""
    if len(text) > CACHE_MAX_CHARS:
        return _first_tokens(text)
    return _first_tokens_cached(text)


def bigrams(stems: list[str]) -> set[tuple[str, str]]:
    return set(pairwise(stems))


def sentences(text: str) -> list[str]:
    parts = [s.strip() for s in _SENTENCE.split(clip(text))]
    return [s for s in parts if s]


def numbers(text: str) -> set[str]:
    """Numbers in a text, normalised so a paraphrase agrees: digits ('1,000' == '1000'),
    cardinal words ('eighteen' == '18'), and a span of time in days ('two weeks' == '14 days'
    == 'a fortnight'; the span's own number is then not listed)."""
    found = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}
    if not HAS_QUANTITY.search(text):
        return found
    return quantities(text, found)


def entities(text: str) -> set[str]:
    """Lower-cased capitalised word runs not at a sentence start: a proxy for named entities."""
    found = set()
    for match in _CAPITALISED.findall(text):
        found.update(w for w in match.lower().split() if w not in STOPWORDS)
    return found


def has_negation(tokens: list[str]) -> bool:
    return any(t in NEGATIONS or t.endswith("n't") for t in tokens)


def answer_type(question_tokens: list[str]) -> str:
    """What kind of answer a question asks for, from its wh-word (for answer-type matching)."""
    joined = " ".join(question_tokens[:12])
    if "how many" in joined or "how much" in joined or "what percentage" in joined:
        return "number"
    if any(p in joined for p in ("what year", "which year", "what century", "what decade")):
        return "date"
    if "when" in question_tokens[:6]:
        return "date"
    if "who" in question_tokens[:6] or "whom" in question_tokens[:6]:
        return "person"
    if "where" in question_tokens[:6]:
        return "place"
    if "how long" in joined or "how old" in joined or "how far" in joined:
        return "number"
    return "other"


def type_evidence(sentence: str, tokens: list[str]) -> dict[str, bool]:
    """Which answer types a sentence could supply."""
    has_digit = bool(_NUMBER.search(sentence))
    return {
        "number": has_digit or any(t in NUMBER_WORDS for t in tokens),
        "date": any(t in MONTHS for t in tokens)
        or bool(re.search(r"\b\d{3,4}s?\b|\bcentur|\bdecade", sentence)),
        "person": bool(entities(sentence)),
        "place": bool(entities(sentence)),
        "other": True,
    }


# --- loose matching for paraphrased answers (correctness only; added 2026-11-25) ---------

_SYNONYM_GROUPS = (
    "buy purchase|get receive obtain acquire|allow permit let enable|use utilise utilize employ|"
    "start begin commence|end finish stop cease terminate complete|make create produce|"
    "build construct erect|show display|need require|assist help aid|big large huge|"
    "small little tiny|fast quick rapid|choose select pick|press click tap hit|send submit|"
    "store keep save hold retain|delete remove erase|change modify alter|say state tell|"
    "answer reply respond|try attempt|give provide offer supply grant|include contain comprise|"
    "find discover locate|happen occur|often frequently|perhaps maybe possibly|"
    "about approximately around roughly|almost nearly|entire whole full|main primary principal "
    "chief|wealthy rich|famous renowned celebrated|app application program software|"
    "mistake error fault|price cost fee charge|limit cap maximum max|user customer client|"
    "company firm business|author writer|film movie|nation country|ship vessel boat|"
    "road street|picture image photo|leader head chief|die perish|live reside dwell|"
    "found establish|win earn gain|speak talk|study learn|rule govern reign|fight battle combat|"
    "war conflict|link connect|invent devise|move relocate|rise increase grow|fall decrease drop|"
    "lead guide head|join enter|return revert|repair fix|near close|buy acquire|"
    "forbid prohibit ban|right correct accurate|wrong incorrect false|later afterwards after|"
    "earlier before prior|every each all|sure certain|shut close|open launch|call phone|"
    "day daily|week weekly|month monthly|year yearly annual annually|hour hourly|"
    "minute minutes|second seconds|percent percentage|beginning start|child kid|"
    "mother mom mum|father dad|house home|job work occupation employment"
)
_IRREGULAR = {
    "bought": "buy", "got": "get", "gotten": "get", "gave": "give", "given": "give",
    "made": "make", "sent": "send", "kept": "keep", "built": "build", "held": "hold",
    "won": "win", "began": "begin", "begun": "begin", "chose": "choose", "chosen": "choose",
    "told": "tell", "said": "say", "paid": "pay", "sold": "sell", "ran": "run", "went": "go",
    "gone": "go", "took": "take", "taken": "take", "wrote": "write", "written": "write",
    "spoke": "speak", "spoken": "speak", "knew": "know", "known": "know", "saw": "see",
    "seen": "see", "led": "lead", "fell": "fall", "rose": "rise", "risen": "rise",
    "grew": "grow", "grown": "grow", "brought": "bring", "thought": "think", "found": "find",
    "lost": "lose", "met": "meet", "left": "leave", "felt": "feel", "became": "become",
    "came": "come", "fought": "fight", "taught": "teach", "caught": "catch", "sought": "seek",
    "lay": "lie", "lain": "lie", "drove": "drive", "driven": "drive", "flew": "fly",
    "flown": "fly", "ate": "eat", "eaten": "eat", "died": "die", "lives": "live",
    "children": "child", "men": "man", "women": "woman", "people": "person",
}  # fmt: skip
GENERIC_WORDS = _wordset(
    "yes answer basically actually usually generally typically currently simply really "
    "exactly approximately around roughly total overall known called named located based "
    "according text context document documentation documents mentioned stated says said say "
    "need needs able possible way thing things also still even well just only already "
    "indeed certainly correct answer available instead however therefore thus since "
    "per via within upto up"
)


def _loose(token: str) -> str:
    s = stem(_IRREGULAR.get(token, token))
    s = _IRREGULAR.get(s, s)
    if len(s) > 4 and s[-1] in "eiy":
        s = s[:-1]
    return s


SYNONYM_GROUPS = tuple(_SYNONYM_GROUPS.split("|"))


def _build_synonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        keys = [_loose(w) for w in group.split()]
        for key in keys:
            table.setdefault(key, table.get(keys[0], keys[0]))
    return table


_SYNONYMS = _build_synonyms()


@lru_cache(maxsize=65536)
def loose_key(token: str) -> str:
    """A looser match key than ``stem``: irregular forms, a final e/i/y and a small table of
    generic synonyms folded ('bought'/'purchased' -> 'buy', 'rotate'/'rotated' -> 'rotat')."""
    key = _loose(token)
    return _SYNONYMS.get(key, key)


@lru_cache(maxsize=CACHE_TEXTS)
def _loose_keys(text: str) -> tuple[str, ...]:
    return tuple(loose_key(t) for t in _words(text) if is_content(t))


def loose_keys(text: str) -> list[str]:
    """``loose_key`` of the content tokens of a text, in order (cached like ``text_stems``)."""
    if len(text) > CACHE_MAX_CHARS:
        return [loose_key(t) for t in words(text) if is_content(t)]
    return list(_loose_keys(text))


GENERIC_KEYS = frozenset(loose_key(w) for w in GENERIC_WORDS)
