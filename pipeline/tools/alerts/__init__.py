"""Alerts on the metrics topic: ``rules`` (the rule file, the alert message), ``totals``
(merging partial window records), ``engine`` (rules evaluated over merged windows, each state
change once), ``runner`` (the consumer loop, webhook and alerts topic of ``evalstream alerts``).
"""
