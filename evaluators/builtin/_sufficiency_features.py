"""Features of the context-sufficiency model: could this context answer this question?

Whole-context word coverage says whether the context is *about* the question; it does not
say whether the context *answers* it. A question a context cannot answer usually still
shares most words with it, but its best-matching sentence disagrees on a detail: an entity,
number or date the sentence does not pair with the rest (the name is elsewhere in the
context, or nowhere), a negation or an antonym ("first" / "last"), a superlative the sentence
does not state, or no candidate of the asked-for type ("when" but no date not already in the
question). So besides coverage the features align the question with its best sentence (and
best two-sentence window) and describe what does not line up. Same function at training and
at run time; pure Python over sets, some microseconds per sentence.
"""

from __future__ import annotations

import math
import re

from evaluators.builtin._quality_features import (
    ANSWER_TYPES,
    Evidence,
    _idf_table,
    _ratio,
    _Weights,
)
from evaluators.builtin._quality_nlp import (
    MONTHS,
    NUMBER_WORDS,
    answer_type,
    bigrams,
    entities,
    has_negation,
    numbers,
    sentences,
    stem,
    text_stems,
    type_evidence,
    words,
)

_PAIRS = (
    "first last|first final|initial final|earliest latest|early late|earlier later|"
    "before after|previous next|former latter|past future|begin end|beginning end|start end|"
    "start finish|opening closing|most least|more less|more fewer|many few|largest smallest|"
    "biggest smallest|large small|big small|larger smaller|bigger smaller|highest lowest|"
    "high low|higher lower|longest shortest|long short|longer shorter|oldest newest|"
    "oldest youngest|old new|old young|older younger|best worst|better worse|maximum minimum|"
    "max min|major minor|superior inferior|primary secondary|increase decrease|"
    "increase reduce|increasing decreasing|rise fall|rising falling|rose fell|grow shrink|"
    "growth decline|expand contract|expansion contraction|gain loss|gained lost|win lose|"
    "won lost|victory defeat|wins losses|succeed fail|succeeded failed|success failure|"
    "successful unsuccessful|pass fail|passed failed|north south|east west|northern southern|"
    "eastern western|northernmost southernmost|upper lower|top bottom|up down|inner outer|"
    "internal external|inside outside|above below|over under|front back|left right|"
    "upstream downstream|open closed|open close|public private|domestic foreign|"
    "national international|local global|rural urban|civil military|include exclude|"
    "included excluded|accept reject|accepted rejected|approve reject|approved rejected|"
    "confirm deny|confirmed denied|prove disprove|allow forbid|allowed banned|"
    "allowed prohibited|permit prohibit|permitted prohibited|legal illegal|mandatory optional|"
    "required optional|voluntary compulsory|temporary permanent|partial complete|"
    "partially completely|single multiple|singular plural|true false|correct incorrect|"
    "right wrong|valid invalid|positive negative|strong weak|strongest weakest|"
    "stronger weaker|strengthen weaken|encourage discourage|same different|similar different|"
    "import export|imports exports|imported exported|input output|send receive|sent received|"
    "give take|gave took|buy sell|bought sold|lend borrow|teach learn|attack defend|"
    "offense defense|offensive defensive|friend enemy|allies enemies|ally enemy|love hate|"
    "like dislike|male female|men women|man woman|father mother|son daughter|king queen|"
    "husband wife|brother sister|boy girl|dead alive|born died|birth death|life death|"
    "ancient modern|natural artificial|physical mental|cheap expensive|cheaper costlier|"
    "rich poor|wealthy poor|wealth poverty|fast slow|faster slower|fastest slowest|"
    "hot cold|warm cold|warmer colder|hotter colder|wet dry|heavy light|heavier lighter|"
    "light dark|day night|summer winter|deep shallow|wide narrow|thick thin|hard soft|"
    "easy difficult|easier harder|simple complex|simpler complex|safe dangerous|"
    "agree disagree|support oppose|supported opposed|supporter opponent|"
    "possible impossible|common rare|always never|all none|everyone nobody|everything nothing|"
    "lead follow|led followed|enter leave|entered left|entrance exit|entry exit|"
    "arrive depart|arrived departed|join leave|joined left|add remove|added removed|"
    "create destroy|created destroyed|build destroy|built destroyed|appear disappear|"
    "found lost|hire fire|hired fired|introduce abolish|introduced abolished|unite divide|"
    "united divided|together apart|connected disconnected|attract repel|absorb emit|"
    "absorbed emitted|acid base|solid liquid|liquid gas|active passive|static dynamic|"
    "minority majority|dominant recessive|victim perpetrator|winner loser|parent child|"
    "parents children|teacher student|employer employee|buyer seller"
)
ANTONYM_WORDS: dict[str, set[str]] = {}
"""word -> its opposites (a small generic table)."""
ANTONYMS: dict[str, set[str]] = {}
"""``ANTONYM_WORDS`` plus the same pairs as stems ('increased' / 'decreases')."""
for _pair in _PAIRS.split("|"):
    _a, _b = _pair.split()
    for _x, _y in ((_a, _b), (_b, _a)):
        ANTONYM_WORDS.setdefault(_x, set()).add(_y)
        ANTONYMS.setdefault(_x, set()).add(_y)
        ANTONYMS.setdefault(stem(_x), set()).add(stem(_y))


def _forms(tokens: set[str]) -> set[str]:
    """Tokens and their stems (antonyms are looked up in both)."""
    return tokens | {stem(t) for t in tokens}


def _antonym_swap(q_tokens: set[str], s_tokens: set[str]) -> bool:
    """The question has a word the sentence lacks and the sentence its opposite."""
    q_forms, s_forms = _forms(q_tokens), _forms(s_tokens)
    s_only = s_forms - q_forms
    if any(f not in s_forms and ANTONYMS[f] & s_only for f in q_forms if f in ANTONYMS):
        return True
    return any(_prefix_antonym(t, s_tokens - q_tokens) for t in q_tokens - s_tokens if len(t) > 3)


_MODIFIER_WORDS = (
    "not no never only also other than more most less least before after first last all "
    "each any both same without except besides again above below over under until since "
    "once ever still yet another"
)
MODIFIERS = frozenset(_MODIFIER_WORDS.split())
"""Small words (mostly stopwords) that change what a question asks: dropped by the content
stems, so they are compared separately between the question and its best sentence."""

_YEAR = re.compile(r"\b1\d{3}s?\b|\b20\d{2}s?\b|\b\d{1,2}(?:st|nd|rd|th)\b")


_NEG_PREFIXES = ("un", "in", "im", "ir", "il", "non", "dis")


def _prefix_antonym(word: str, others: set[str]) -> bool:
    """'dependent' vs 'independent', 'legal' vs 'illegal': one is the other negated."""
    if any(p + word in others for p in _NEG_PREFIXES):
        return True
    return any(
        word.startswith(p) and len(word) - len(p) >= 4 and word[len(p) :] in others
        for p in _NEG_PREFIXES
    )


PREFIX_LETTERS = 5
"""Stems cut to this many letters: 'invasion' / 'invaded', 'electricity' / 'electric' meet."""


def _prefixes(stems: list[str] | set[str]) -> set[str]:
    return {s[:PREFIX_LETTERS] for s in stems}


MAX_ORDER_WORDS = 40
"""Matched words compared pairwise for order (bounds the cost on a very long question)."""


def _order_agreement(q_stems: list[str], s_tokens: list[str]) -> float:
    """Share of matched question-stem pairs that keep their order in the sentence."""
    first: dict[str, int] = {}
    for i, s in enumerate(s_tokens):
        first.setdefault(s, i)
    pos = [first[s] for s in q_stems if s in first][:MAX_ORDER_WORDS]
    pairs = agree = 0
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            pairs += 1
            agree += pos[i] < pos[j]
    return agree / pairs if pairs else 0.5


def _candidates(kind: str, text: str, tokens: set[str], q_tokens: set[str]) -> float:
    """Could ``text`` supply an answer of ``kind`` that the question does not already hold?"""
    if kind == "number":
        nums = numbers(text) | (tokens & NUMBER_WORDS)
        return float(bool(nums - q_tokens))
    if kind == "date":
        dates = {m.lower() for m in _YEAR.findall(text)} | (tokens & MONTHS)
        if re.search(r"\bcentur|\bdecade", text):
            dates.add("century")
        return float(bool(dates - q_tokens))
    if kind in ("person", "place"):
        return float(bool(entities(text) - q_tokens))
    return 1.0


def sufficiency_features(question: str, docs: list[str]) -> tuple[dict[str, float], Evidence]:
    """Does the context hold the question's words, and a sentence that could answer it?"""
    idf = _idf_table()
    q_tokens = words(question)
    q_token_set = set(q_tokens)
    q_content = text_stems(question)
    q_stems = list(dict.fromkeys(q_content))
    q_stem_set = set(q_stems)
    q_bigrams = bigrams(q_content)
    q_weighted = _Weights(q_stems, idf)
    q_numbers, q_entities = numbers(question), entities(question)
    kind = answer_type(q_tokens)
    sent_texts = [s for doc in docs for s in sentences(doc)]
    sent_seq = [text_stems(s) for s in sent_texts]
    sent_stems = [set(s) for s in sent_seq]
    all_stems = set().union(*sent_stems) if sent_stems else set()
    context_text = "\n".join(docs)
    ctx_numbers = numbers(context_text)
    ctx_lower = context_text.lower()
    best, best_i, second = 0.0, -1, 0.0
    for i, stems in enumerate(sent_stems):
        cover = q_weighted(stems)
        if cover > best:
            best, best_i, second = cover, i, best
        elif cover > second:
            second = cover
    window, window_i = 0.0, -1
    for i in range(len(sent_stems) - 1):
        cover = q_weighted(sent_stems[i] | sent_stems[i + 1])
        if cover > window:
            window, window_i = cover, i
    best_stems = sent_stems[best_i] if best_i >= 0 else set()
    best_text = sent_texts[best_i] if best_i >= 0 else ""
    best_seq = sent_seq[best_i] if best_i >= 0 else []
    best_bigrams = bigrams(best_seq)
    best_tokens = words(best_text)
    best_token_set = set(best_tokens)
    if window_i >= 0 and window > best:
        win_text = sent_texts[window_i] + " " + sent_texts[window_i + 1]
        win_stems = sent_stems[window_i] | sent_stems[window_i + 1]
    else:
        win_text, win_stems = best_text, best_stems
    win_token_set = set(words(win_text))
    evidence_types = type_evidence(best_text, best_tokens) if best_text else {}
    missing = [s for s in q_stems if s not in all_stems]
    missing_idf = [idf(s) for s in missing]
    ctx_bigrams = bigrams(text_stems(context_text)) if q_bigrams else set()

    # Alignment with the best sentence: what of the question it lacks, and where that is.
    q_total = q_weighted.total or 1.0
    off_best = [s for s in q_stems if s not in best_stems]
    elsewhere = [s for s in off_best if s in all_stems]
    off_window = [s for s in q_stems if s not in win_stems]
    win_ents = {e for e in q_entities if e in win_token_set}
    ents_elsewhere = {e for e in q_entities - win_ents if e in ctx_lower}
    q_mods = q_token_set & MODIFIERS
    q_neg, best_neg = has_negation(q_tokens), has_negation(best_tokens)
    antonym = _antonym_swap(q_token_set, best_token_set)
    win_prefixes = _prefixes(win_stems)
    fuzzy_missing = [s for s in q_stems if s[:PREFIX_LETTERS] not in win_prefixes]
    ctx_prefixes = _prefixes(all_stems)
    ctx_fuzzy_missing = [idf(s) for s in q_stems if s[:PREFIX_LETTERS] not in ctx_prefixes]
    win_numbers = numbers(win_text)
    win_entities = entities(win_text)
    feats = {
        "coverage": _ratio(len(q_stems) - len(missing), len(q_stems)),
        "coverage_idf": q_weighted(all_stems),
        "best_sentence_idf": best,
        "second_sentence_idf": second,
        "window_idf": window,
        "best_sentence_plain": _ratio(len(best_stems & q_stem_set), len(q_stems)),
        "bigram_context": _ratio(len(q_bigrams & ctx_bigrams), len(q_bigrams)),
        "bigram_best": _ratio(len(q_bigrams & best_bigrams), len(q_bigrams)),
        "n_missing": float(len(missing)),
        "max_missing_idf": max(missing_idf, default=0.0),
        "sum_missing_idf": sum(missing_idf),
        "numbers_found": _ratio(len(q_numbers & ctx_numbers), len(q_numbers)) if q_numbers else 1,
        "has_numbers": float(bool(q_numbers)),
        "entities_found": (
            _ratio(sum(e in ctx_lower for e in q_entities), len(q_entities)) if q_entities else 1
        ),
        "type_evidence": float(evidence_types.get(kind, False)),
        "best_extra_words": math.log1p(len(best_stems - q_stem_set)),
        "question_negated": float(q_neg),
        "question_len": math.log1p(len(q_stems)),
        "context_len": math.log1p(len(all_stems)),
        **{f"type_{t}": float(kind == t) for t in ANSWER_TYPES},
        # alignment with the best sentence / window
        "best_max_missing_idf": max((idf(s) for s in off_best), default=0.0),
        "best_n_missing": float(len(off_best)),
        "best_missing_elsewhere": sum(idf(s) for s in elsewhere) / q_total,
        "best_n_elsewhere": float(len(elsewhere)),
        "window_max_missing_idf": max((idf(s) for s in off_window), default=0.0),
        "window_n_missing": float(len(off_window)),
        "entities_elsewhere": float(len(ents_elsewhere)),
        "negation_mismatch": float(q_neg != best_neg),
        "negation_added": float(q_neg and not best_neg),
        "antonym_swap": float(antonym),
        "modifiers_missing": float(len(q_mods - win_token_set)),
        "order_agreement": _order_agreement(q_content, best_seq),
        "answer_candidate": _candidates(kind, win_text, win_token_set, q_token_set),
        "window_fuzzy_idf": 1.0 - sum(idf(s) for s in fuzzy_missing) / q_total,
        "window_fuzzy_max_missing_idf": max((idf(s) for s in fuzzy_missing), default=0.0),
        "context_fuzzy_max_missing_idf": max(ctx_fuzzy_missing, default=0.0),
        "context_fuzzy_n_missing": float(len(ctx_fuzzy_missing)),
        "number_swap": float(bool(q_numbers - win_numbers) and bool(win_numbers - q_numbers)),
        "entity_swap": float(bool(q_entities - win_token_set) and bool(win_entities - q_token_set)),
    }
    present = [s for s in q_stems if s in all_stems]
    return feats, Evidence(present, missing, best_text)
