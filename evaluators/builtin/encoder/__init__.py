"""The encoder tier: all-MiniLM-L6-v2 sentence embeddings on CPU (onnxruntime, no torch).

``shared_encoder()`` gives one encoder per process (or ``None`` with one warning line when it
cannot be had: the quality evaluators then stay on their lexical tier and say so).
"""

from evaluators.builtin.encoder.exceptions import EncoderProvenanceError, EncoderUnavailableError
from evaluators.builtin.encoder.runtime import DIMENSION, Encoder, load_encoder
from evaluators.builtin.encoder.settings import EncoderSettings
from evaluators.builtin.encoder.shared import reset_shared_encoder, shared_encoder

__all__ = [
    "DIMENSION",
    "Encoder",
    "EncoderProvenanceError",
    "EncoderSettings",
    "EncoderUnavailableError",
    "load_encoder",
    "reset_shared_encoder",
    "shared_encoder",
]
