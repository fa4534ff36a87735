"""PII redaction: one :class:`Redactor` built from configuration (``config``, ``patterns``)."""

from pipeline.redaction.config import RedactionConfigError
from pipeline.redaction.patterns import API_KEY, BUILTIN_KINDS, CREDIT_CARD, EMAIL, IP, PHONE
from pipeline.redaction.redactor import DEFAULT_PLACEHOLDER, Redactor

__all__ = [
    "API_KEY",
    "BUILTIN_KINDS",
    "CREDIT_CARD",
    "DEFAULT_PLACEHOLDER",
    "EMAIL",
    "IP",
    "PHONE",
    "RedactionConfigError",
    "Redactor",
]
