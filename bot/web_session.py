"""Web chat sessions issued by the server: who a browser is, in a signed, expiring cookie.

The session is a JWT (PyJWT, HS256) whose subject is the conversation's sender id,
`web:<random>` for a guest or a seeded demo customer's `web:demo-<name>` (bot/web.py's demo
sign-in, cs_common/store/seed.py). The browser cannot choose it, read it (HttpOnly) or send it from another site
(SameSite=Strict); a forged, tampered or expired one fails `sender_of` and is never accepted.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from typing import Text

import jwt

SECRET_ENV = "CS_WEB_SESSION_SECRET"
HOURS_ENV = "CS_WEB_SESSION_HOURS"
SECURE_ENV = "CS_WEB_COOKIE_SECURE"
COOKIE = "cs_web_session"
ALGORITHM = "HS256"
DEFAULT_HOURS = 24
MIN_SECRET_CHARS = 32
SENDER_PREFIX = "web:"


class SessionConfigError(ValueError):
    """The session settings in the environment are unusable; `rasa run` stops with this message."""


class InvalidSession(ValueError):
    """The cookie is not a session this server issued, or it expired; the message says which."""


@dataclass(frozen=True)
class Sessions:
    secret: Text
    lifetime: dt.timedelta
    always_secure: bool

    @classmethod
    def from_env(cls) -> "Sessions":
        secret = os.environ.get(SECRET_ENV, "")
        if len(secret) < MIN_SECRET_CHARS:
            raise SessionConfigError(
                f"The web chat needs {SECRET_ENV}: a random secret of at least {MIN_SECRET_CHARS} characters, "
                f"e.g. `export {SECRET_ENV}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')` "
                "(`make run` keeps one in var/)."
            )
        hours = os.environ.get(HOURS_ENV) or str(DEFAULT_HOURS)
        if not hours.isdigit() or int(hours) < 1:
            raise SessionConfigError(f"{HOURS_ENV} must be a whole number of hours (at least 1), not {hours!r}.")
        return cls(secret, dt.timedelta(hours=int(hours)), os.environ.get(SECURE_ENV) == "1")

    def issue(self, sender_id: Text) -> Text:
        now = dt.datetime.now(dt.timezone.utc)
        claims = {"sub": sender_id, "iat": now, "exp": now + self.lifetime}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def sender_of(self, token: Text) -> Text:
        """The sender id of a session this server issued and that has not expired."""
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
        except jwt.ExpiredSignatureError:
            raise InvalidSession("The chat session expired; reload the page for a new one.") from None
        except jwt.InvalidTokenError:
            raise InvalidSession("The chat session is not one this server issued; reload the page.") from None
        sender = claims["sub"]
        if not isinstance(sender, str) or not sender.startswith(SENDER_PREFIX):
            raise InvalidSession("The chat session is not one this server issued; reload the page.")
        return sender


def new_guest_sender() -> Text:
    """A sender id nobody can guess or choose; never of the `web:demo-` form."""
    return f"{SENDER_PREFIX}{secrets.token_hex(16)}"
