"""Errors raised by cs_transformer, so callers can catch ours apart from library errors."""


class CsTransformerError(Exception):
    """Base class: every message says what to do next, not only what failed."""


class ModelNotFoundError(CsTransformerError):
    """A configured ``model_name`` cannot be loaded offline from this machine."""
