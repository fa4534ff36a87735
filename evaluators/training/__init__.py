"""Deterministic training of the offline quality models (run ``train_quality.py``).

Not imported by the evaluators at run time: only the shipped JSON/npz files are.
"""
