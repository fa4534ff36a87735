"""Alerts on the metrics topic: ``rules`` (the rule file and the engine that evaluates windows),
``runner`` (the consumer loop, webhook and alerts topic behind ``evalstream alerts``).
"""
