"""Public labelled data for groundedness, paraphrase and answerability, rebuilt from pins.

Why a subpackage: the grounding tasks (``grounding``, ``paraphrase``, ``answerable``) draw on
other sources than the safety tasks and are built by their own command,
``python -m evaluators.training.corpus.grounding.build``. Every row carries the ``source`` id
of a manifest in ``corpus/sources/`` so training can hold out whole datasets.
"""

TASKS = ("grounding", "paraphrase", "answerable")

__all__ = ["TASKS"]
