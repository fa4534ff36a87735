"""A MiniLM-L6 cross-encoder fine-tuned here (training-time experiment, issue 14).

Three steps, two environments: ``pairs`` (the project's venv: reads the pinned corpora and the
SQuAD 2.0 train half, writes the pairs), ``train`` (a separate training venv with jax + optax:
fine-tunes the verified all-MiniLM-L6-v2 weights as a cross-encoder and scores the held-out
pairs), ``evaluate`` (the project's venv: metrics against the current tiers on the same rows).
Nothing here is imported at run time; jax is never a runtime dependency.
See docs/evaluator-quality.md, "A cross-encoder fine-tuned from MiniLM-L6 on CPU".
"""
