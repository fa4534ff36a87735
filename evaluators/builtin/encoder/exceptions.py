"""Why the encoder tier is not available; the evaluators then fall back to the lexical tier."""

from evaluators.exceptions import EvaluatorError


class EncoderUnavailableError(EvaluatorError):
    """The encoder cannot be used here (package absent, runtime missing); message: one line."""


class EncoderProvenanceError(EncoderUnavailableError):
    """A weight, tokenizer or exported graph file differs from its pinned sha256: refused."""
