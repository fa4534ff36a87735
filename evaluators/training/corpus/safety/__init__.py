"""The safety tasks of the training corpus: ``safety_content``, ``safety_request``,
``refusal``, ``jailbreak``.

One reader module per kind of source (``content_sources``, ``request_sources``,
``response_sources``, ``attack_sources``, ``benign_sources``), one harm vocabulary
(``categories``), one merge rule (``assemble``) and the entry point ``build`` that ties them to
the pinned manifests: ``python -m evaluators.training.corpus.safety.build`` (public names:
``build.build``, ``build.TASKS``, ``build.EXTRACTORS``).
Nothing is imported here, so that ``python -m ...safety.build`` runs the module once.
"""
