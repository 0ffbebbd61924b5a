"""Errors raised by cs_transformer, so callers can catch ours apart from library errors."""

from rasa.shared.exceptions import RasaException



class CsTransformerError(RasaException):
    """Base class: every message says what to do next, not only what failed.

    A RasaException, so the rasa CLI prints the message instead of a traceback.
    """


class ModelNotFoundError(CsTransformerError):
    """A configured ``model_name`` cannot be loaded offline from this machine."""
