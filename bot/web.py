"""The web chat channel: a page served by the bot itself, and its JSON webhook.

`GET /webhooks/web/` serves the chat page (no CDN: everything is in bot/static).
`POST /webhooks/web/webhook` takes `{"sender", "message", "metadata": {"locale", "session_id"}}`
and answers with the bot's messages (text, buttons), like Rasa's REST channel, but it
validates its input (4xx with a reason) and keeps the page's metadata on the tracker.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.store import Store
from bot.handoff import held_by_agent
from bot.http_limits import limit_server, require_json_content_type, with_security_headers
from bot.validation import InvalidInput, clean_sender, clean_text, json_object, parse_json

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
METADATA_KEYS = {"locale": 35, "session_id": 64}


def page_metadata(raw: Any) -> Dict[Text, Text]:
    """Keeps only the metadata the page is meant to send, as short strings."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput("'metadata' must be a JSON object.")
    return {key: str(raw[key])[:limit] for key, limit in METADATA_KEYS.items() if raw.get(key)}


class WebChatInput(InputChannel):
    """Serves the chat page and receives its messages."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    def name(cls) -> Text:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(Store.from_env())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web = Blueprint("web_chat", __name__)

        @web.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                # The page's own URLs (static/…, webhook) are relative to the folder.
                query = f"?{request.query_string}" if request.query_string else ""
                return response.redirect(f"{request.path}/{query}")
            return static_file("index.html")

        @web.route("/static/<file_name>", methods=["GET"])
        async def asset(request: Request, file_name: Text) -> HTTPResponse:
            return static_file(file_name)

        @web.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            require_json_content_type(request)
            try:
                body = json_object(parse_json(request.body))
                sender = clean_sender(body.get("sender"))
                text = clean_text(body.get("message"))
                metadata = page_metadata(body.get("metadata"))
            except InvalidInput as error:
                return response.json({"error": str(error)}, status=400)
            if await held_by_agent(self._store, self.name(), sender, text):
                return response.json([])  # an agent answers this customer, not the bot
            collector = CollectingOutputChannel()
            await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata))
            return response.json(collector.messages)

        return limit_server(web)


def static_file(file_name: Text) -> HTTPResponse:
    """Serves a file of bot/static by exact name only, so no path can escape the folder."""
    path = STATIC_DIR / file_name
    if path.parent != STATIC_DIR or path.suffix not in STATIC_TYPES or not path.is_file():
        return response.text("Not found", status=404)
    return with_security_headers(response.raw(path.read_bytes(), content_type=STATIC_TYPES[path.suffix]))
