"""The REST channel for local use, tests and scripts: every caller is a guest.

`POST /webhooks/rest/webhook {"sender", "message"}` answers like Rasa's REST channel (same
URL and body), but the sender id it hands to Rasa is `rest:<sender>` and its `input_channel`
is always `rest`: whatever the body claims, a REST caller is never linked to a customer and
never shown customer data (actions/common.py treats the `rest:` namespace as a guest).
A deployment can require a bearer token: `CS_REST_TOKEN` in the environment, sent as
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff import replies_unless_held
from bot.hosts import allowed_hosts, refuse_foreign_host
from bot.http_limits import limit_server
from bot.validation import InvalidInput, clean_sender, clean_text, json_object, parse_json
from cs_common.store import Store

REST_TOKEN_ENV = "CS_REST_TOKEN"


def guest_sender(claimed: Any) -> Text:
    """The namespaced sender id of a REST caller: `rest:` and what it wrote, never anyone else's."""
    return f"rest:{clean_sender(claimed)}"


def rest_metadata(raw: Any) -> Optional[Dict[Text, Any]]:
    """The body's `metadata` as Rasa's REST channel passes it (e.g. a `locale` language hint);
    it identifies nobody, and the tracker store redacts it like any other event data."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput("'metadata' must be a JSON object.")
    return raw


class GuestRestInput(InputChannel):
    """Rasa's REST channel made safe to publish: guests only, optional bearer token."""

    def __init__(self, store: Store, token: Optional[Text]) -> None:
        self._store = store
        self._token = token
        self._hosts = allowed_hosts()

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(Store.from_env(), os.environ.get(REST_TOKEN_ENV) or None)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest = Blueprint("guest_rest", __name__)

        @rest.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = refuse_foreign_host(request, self._hosts) or self._refuse_unauthorized(request)
            if refused:
                return refused
            try:
                body = json_object(parse_json(request.body))
                sender = guest_sender(body.get("sender"))
                text = clean_text(body.get("message"))
                metadata = rest_metadata(body.get("metadata"))
            except InvalidInput as error:
                return response.json({"error": str(error)}, status=400)
            replies = await replies_unless_held(self._store, self.name(), sender, text, metadata, on_new_message)
            return response.json(replies or [])

        return limit_server(rest)

    def _refuse_unauthorized(self, request: Request) -> Optional[HTTPResponse]:
        if self._token is None:
            return None
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token.encode()):
            return None
        return response.json(
            {"error": f"This REST channel needs 'Authorization: Bearer <token>' with the token in {REST_TOKEN_ENV}."},
            status=401,
        )
