"""Errors raised by cs_transformer, so callers can catch ours apart from library errors."""

try:
    from rasa.shared.exceptions import RasaException
except ImportError:  # torch-only use without Rasa (benchmarks/gpu.py on a Python Rasa 3.6 lacks)
    RasaException = Exception


class CsTransformerError(RasaException):
    """Base class: every message says what to do next, not only what failed.

    A RasaException, so the rasa CLI prints the message instead of a traceback.
    """


class ModelNotFoundError(CsTransformerError):
    """A configured ``model_name`` cannot be loaded offline from this machine."""
