"""Server-wide HTTP hardening: bounded work for any request, before anyone is authenticated.

Every channel of this bot calls `limit_server(blueprint)`. It registers a `before_server_start`
listener, which sets the Sanic app's limits (below) whatever way the bot is started (`rasa run`,
scripts/run.sh, a container): the app only exists inside Rasa, and blueprint listeners are the
one hook a channel has on it. Sanic reads these settings for each new connection, so setting
them before the server starts covers every request. An operator's own `SANIC_<NAME>`
environment variable wins (e.g. `SANIC_REQUEST_MAX_SIZE=300000000` for `PUT /model` uploads).

- `REQUEST_MAX_SIZE` 256 KB (Sanic's default is 100 MB): a bigger body is refused with 413
  once its first bytes arrive.
- `MAX_WEBHOOK_BODY_BYTES` 100 kB: the signed webhooks (Slack, SMS, WhatsApp) refuse a bigger
  body with 413 first thing (`oversized`), before they hash it to check its signature; what
  Slack and Twilio post is a few kB. The JSON channels (web, REST) are bounded by the server's
  limit and by the message length of bot/validation.py.
- `REQUEST_TIMEOUT` 10 s (Sanic's default is 60 s) to send the whole request: header-trickling
  connections are closed.

The response and keep-alive timeouts stay as `rasa run` sets them (`--response-timeout`,
`SANIC_KEEP_ALIVE_TIMEOUT`): a long turn is not hostile input.

The web channel's page and webhook use `with_security_headers` and `refuse_unless_json`.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from sanic import Blueprint, Sanic, response
from sanic.config import SANIC_PREFIX
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

SERVER_LIMITS = {"REQUEST_MAX_SIZE": 256 * 1024, "REQUEST_TIMEOUT": 10}
MAX_WEBHOOK_BODY_BYTES = 100_000
JSON_TYPE = "application/json"
# The chat page loads only its own files (bot/static, no inline script or style) and talks only
# to its own webhook; no site may frame it (clickjacking).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def limit_server(blueprint: Blueprint) -> Blueprint:
    """Makes `blueprint`'s app apply the server-wide limits; any number of channels may call it."""
    blueprint.listener("before_server_start")(_apply_limits)
    return blueprint


async def _apply_limits(app: Sanic, _loop: Any) -> None:
    if getattr(app.ctx, "cs_limits_applied", False):
        return
    app.ctx.cs_limits_applied = True
    for name, value in SERVER_LIMITS.items():
        if f"{SANIC_PREFIX}{name}" not in os.environ:
            app.config[name] = value
    logger.info("http_limits.applied %s", " ".join(f"{name}={app.config[name]}" for name in SERVER_LIMITS))


def oversized(request: Request) -> Optional[str]:
    """The reason to refuse (413) a webhook body over `MAX_WEBHOOK_BODY_BYTES`, else None;
    each channel answers it in its own format."""
    if len(request.body) > MAX_WEBHOOK_BODY_BYTES:
        return f"The request body is larger than {MAX_WEBHOOK_BODY_BYTES} bytes."
    return None


def refuse_unless_json(request: Request) -> Optional[HTTPResponse]:
    """A 415 with a reason unless the body is declared JSON: browsers send `text/plain` cross-site
    without a CORS preflight, `application/json` only after one, so this stops other sites
    posting as a visitor."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == JSON_TYPE:
        return None
    return response.json({"error": f"Send the body as {JSON_TYPE}, with Content-Type: {JSON_TYPE}."}, status=415)


def with_security_headers(page: HTTPResponse) -> HTTPResponse:
    """`page` with the headers that keep the chat page from being framed, sniffed or injected into."""
    page.headers.update(SECURITY_HEADERS)
    return page
