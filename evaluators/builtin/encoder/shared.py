"""One encoder per process, shared by the quality evaluators; absent -> one warning line."""

from __future__ import annotations

import logging
import threading

from evaluators.builtin.encoder.exceptions import EncoderUnavailableError
from evaluators.builtin.encoder.runtime import Encoder, load_encoder
from evaluators.builtin.encoder.settings import EncoderSettings

log = logging.getLogger("evaluators.encoder")
_LOCK = threading.Lock()
_STATE: dict[str, object] = {}


def shared_encoder(settings: EncoderSettings | None = None) -> Encoder | None:
    """The process's encoder, loaded at first call; ``None`` (warned once) if unavailable."""
    with _LOCK:
        if "encoder" not in _STATE:
            try:
                _STATE["encoder"] = load_encoder(settings)
                _STATE["reason"] = None
            except EncoderUnavailableError as exc:
                _STATE["encoder"], _STATE["reason"] = None, str(exc)
                log.warning("encoder tier unavailable, quality evaluators use lexical: %s", exc)
        return _STATE["encoder"]  # type: ignore[return-value]


def unavailable_reason() -> str | None:
    with _LOCK:
        return _STATE.get("reason")  # type: ignore[return-value]


def reset_shared_encoder() -> None:
    """Forget the loaded encoder (tests switch settings between cases)."""
    with _LOCK:
        _STATE.clear()
