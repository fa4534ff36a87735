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

from evaluators.training.datasets.grounding import (
    correctness,
    correctness_sentences,
    groundedness,
    groundedness_sentences,
    squad_paragraphs,
    sufficiency,
)
from evaluators.training.datasets.safety import (
    benign_answers,
    jailbreaks,
    refusals,
    requests,
    toxicity,
    xstest_family,
    xstest_split,
)
from evaluators.training.datasets.sources import (
    PROJECT_ROOT,
    TEST_SHARE,
    available,
    datasets_dir,
    split_of,
)

__all__ = [
    "PROJECT_ROOT",
    "TEST_SHARE",
    "available",
    "benign_answers",
    "correctness",
    "correctness_sentences",
    "datasets_dir",
    "groundedness",
    "groundedness_sentences",
    "jailbreaks",
    "refusals",
    "requests",
    "split_of",
    "squad_paragraphs",
    "sufficiency",
    "toxicity",
    "xstest_family",
    "xstest_split",
]
