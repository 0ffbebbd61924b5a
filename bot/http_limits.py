"""Server-wide HTTP hardening: bounded work for any request, before anyone is authenticated.

Every channel of this bot calls `limit_server(blueprint)`. It registers a `before_server_start`
listener, which sets the Sanic app's limits (below) whatever way the bot is started (`rasa run`,
scripts/run.sh, a container): the app only exists inside Rasa, and blueprint listeners are the
one hook a channel has on it. Sanic reads these settings for each new connection, so setting
them before the server starts covers every request. An operator's own `SANIC_<NAME>`
environment variable wins (e.g. `SANIC_REQUEST_MAX_SIZE=300000000` for `PUT /model` uploads).

- `REQUEST_MAX_SIZE` 256 KB (Sanic's default is 100 MB): a bigger body is refused with 413
  once its first bytes arrive. Channels check their own, smaller limits first thing too.
- `REQUEST_TIMEOUT` 10 s (Sanic's default is 60 s) to send the whole request: header-trickling
  connections are closed.

The response and keep-alive timeouts stay as `rasa run` sets them (`--response-timeout`,
`SANIC_KEEP_ALIVE_TIMEOUT`): a long turn is not hostile input.

The listener also puts the input contract (bot/validation.py) in front of Rasa's own REST
channel (`rest:` in credentials.yml), which trusts its body: non-object bodies, bad senders and
texts get a 400 there too, and the text reaches Rasa cleaned.

The web channel's page and webhook use `with_security_headers` and `require_json_content_type`.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Optional

from sanic import Blueprint, Sanic, response
from sanic.config import SANIC_PREFIX
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.validation import InvalidInput, clean_sender, clean_text, json_object, parse_json

logger = logging.getLogger(__name__)

SERVER_LIMITS = {"REQUEST_MAX_SIZE": 256 * 1024, "REQUEST_TIMEOUT": 10}
REST_WEBHOOK_PATH = "/webhooks/rest/webhook"
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
    # Named (route) middleware, not app-wide: Sanic also runs app-wide request middleware while
    # handling an error, where this one would turn a 413 into a 400.
    rest_routes = [route.name for route in app.router.routes if "/" + route.path.strip("/") == REST_WEBHOOK_PATH]
    app.register_named_middleware(rest_contract, rest_routes, "request")
    logger.info("http_limits.applied %s", " ".join(f"{name}={app.config[name]}" for name in SERVER_LIMITS))


async def rest_contract(request: Request) -> Optional[HTTPResponse]:
    """Rasa's REST webhook gets only bodies the contract accepts, with the text cleaned.

    `input_channel` is dropped: the channel is the one the request came through, not what the
    body says (Rasa would hand the body's value to actions).
    """
    if request.method != "POST":
        return None
    try:
        body = json_object(parse_json(request.body))
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInput("'metadata' must be a JSON object.")
        cleaned = {"sender": clean_sender(body.get("sender")), "message": clean_text(body.get("message"))}
    except InvalidInput as error:
        return response.json({"error": str(error)}, status=400)
    if metadata is not None:
        cleaned["metadata"] = metadata
    request.body = json.dumps(cleaned).encode("utf-8")
    return None


def require_json_content_type(request: Request) -> None:
    """415 unless the body is declared JSON: browsers send `text/plain` cross-site without a CORS
    preflight, `application/json` only after one, so this stops other sites posting as a visitor."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON_TYPE:
        raise SanicException(f"Send the body as {JSON_TYPE}.", status_code=415)


def with_security_headers(page: HTTPResponse) -> HTTPResponse:
    """`page` with the headers that keep the chat page from being framed, sniffed or injected into."""
    page.headers.update(SECURITY_HEADERS)
    return page
