"""The web chat channel: a page served by the bot itself, its session and its JSON webhook.

`GET /webhooks/web/` serves the chat page (no CDN: everything is in bot/static).
`POST /webhooks/web/session` gives the browser its session (bot/web_session.py): the one in its
cookie if it is valid, else a fresh guest session (`{"restart": true}` always starts a new one).
`POST /webhooks/web/webhook` takes `{"message", "metadata": {"locale", "session_id"}}` with
that cookie and answers with the bot's messages (text, buttons), like Rasa's REST channel. The
sender id comes from the session only (`web:<random>`); a `sender` in the body is ignored, and
without a valid session the answer is 401 with the reason.
`GET /webhooks/web/locale?languages=zh-CN,en` gives the page its texts (bot/page_locales.py) in the
first of those languages it has; each webhook answer names the conversation's language in
`Content-Language` (the `language` slot), so the page follows the customer into it.
`GET /webhooks/web/updates?after=<cursor>` (same cookie) answers `{"messages": [...], "cursor"}`:
what the bot sent outside a turn (an agent's answers, the release; bot/delivery.py), polled
by the page (static/updates.js). "New conversation" (`{"restart": true}`) ends a handoff held
in the old conversation (bot/handoff.py).
`GET /webhooks/web/demo/<customer>` signs the browser in as a seeded demo customer, only when
`CS_DEMO_SIGN_IN=1` (`make run` sets it and says so in the log); otherwise it is a 404.
Every route checks the Host header (bot/hosts.py); POSTs must be `application/json`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.delivery import parse_cursor, updates
from bot.handoff import leave_ticket, replies_unless_held, resume_conversation
from bot.hosts import allowed_hosts, refuse_foreign_host
from bot.http_limits import limit_server, refuse_unless_json, with_security_headers
from bot.page_locales import PageLocales
from bot.validation import InvalidInput, clean_sender, clean_text, json_object, parse_json
from bot.web_session import COOKIE, InvalidSession, Sessions, new_guest_sender
from cs_common.store import Store, StoreError
from cs_common.store.seed import demo_sender
from cs_common.variations import LANGUAGE_SLOT

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
METADATA_KEYS = {"locale": 35, "session_id": 64}
DEMO_SIGN_IN_ENV = "CS_DEMO_SIGN_IN"
COOKIE_PATH = "/webhooks/web/"
MAX_LANGUAGE_TAGS = 10


def page_metadata(raw: Any) -> Dict[Text, Text]:
    """Keeps only the metadata the page is meant to send, as short strings."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput("'metadata' must be a JSON object.")
    return {key: str(raw[key])[:limit] for key, limit in METADATA_KEYS.items() if raw.get(key)}


def conversation_tag(sender_id: Text) -> Text:
    """What the page may know of its session: enough to tell one conversation from another."""
    return hashlib.sha256(sender_id.encode()).hexdigest()[:16]


class WebChatInput(InputChannel):
    """Serves the chat page, issues its sessions and receives its messages."""

    def __init__(self, store: Store, sessions: Sessions, demo_sign_in: bool) -> None:
        self._store = store
        self._sessions = sessions
        self._demo_sign_in = demo_sign_in
        self._hosts = allowed_hosts()
        self._locales = PageLocales.from_folder()
        if demo_sign_in:
            logger.warning(
                "web.demo_sign_in_on: /webhooks/web/demo/<customer> signs anyone in as a demo customer; "
                "unset %s outside the demo", DEMO_SIGN_IN_ENV,
            )

    @classmethod
    def name(cls) -> Text:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(Store.from_env(), Sessions.from_env(), os.environ.get(DEMO_SIGN_IN_ENV) == "1")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web = Blueprint("web_chat", __name__)

        @web.middleware("request")
        async def check_request(request: Request) -> Optional[HTTPResponse]:
            refused = refuse_foreign_host(request, self._hosts)
            if refused is None and request.method == "POST":
                refused = refuse_unless_json(request)  # another site's form cannot post JSON without CORS
            return refused

        @web.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                # The page's own URLs (static/…, webhook) are relative to the folder.
                return response.redirect(f"{request.path}/")
            return static_file("index.html")

        @web.route("/static/<file_name>", methods=["GET"])
        async def asset(request: Request, file_name: Text) -> HTTPResponse:
            return static_file(file_name)

        @web.route("/locale", methods=["GET"])
        async def locale(request: Request) -> HTTPResponse:
            tags = request.args.get("languages", "")[:MAX_LANGUAGE_TAGS * 36].split(",")[:MAX_LANGUAGE_TAGS]
            page_locale = self._locales.locale(self._locales.negotiate(tags))
            return with_security_headers(response.json(page_locale.to_json()))

        @web.route("/session", methods=["POST"])
        async def session(request: Request) -> HTTPResponse:
            try:
                body = json_object(parse_json(request.body or b"{}"))
            except InvalidInput as error:
                return response.json({"error": str(error)}, status=400)
            sender, replaced = None, None
            try:
                sender = self._sender(request)
            except InvalidSession as error:
                replaced = None if body.get("restart") else str(error)
            if sender is not None and body.get("restart"):
                await self._leave_handoff(request, sender)
                sender = None
            if sender is not None:
                return response.json({"conversation": conversation_tag(sender), "new": False})
            sender = new_guest_sender()
            answer = response.json({"conversation": conversation_tag(sender), "new": True, "replaced": replaced})
            return self._with_session(request, answer, sender)

        @web.route("/updates", methods=["GET"])
        async def pushed(request: Request) -> HTTPResponse:
            try:
                sender = self._sender(request)
            except InvalidSession as error:
                return response.json({"error": str(error)}, status=401)
            try:
                after = parse_cursor(request.args.get("after"))
            except InvalidInput as error:
                return response.json({"error": str(error)}, status=400)
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
            messages, cursor = await updates(tracker, after)
            return response.json({"messages": messages, "cursor": cursor})

        @web.route("/demo/<customer>", methods=["GET"])
        async def demo(request: Request, customer: Text) -> HTTPResponse:
            not_found = response.text("Not found", status=404)
            if not self._demo_sign_in:
                return not_found
            try:
                sender = demo_sender(clean_sender(customer))
                known = await asyncio.to_thread(self._store.customer_for_identity, self.name(), sender)
            except (InvalidInput, StoreError):
                return not_found
            if known is None:
                return not_found
            logger.warning("web.demo_sign_in customer=%s", known.id)
            return self._with_session(request, response.redirect(COOKIE_PATH, status=303), sender)

        @web.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender = self._sender(request)
            except InvalidSession as error:
                return response.json({"error": str(error)}, status=401)
            try:
                body = json_object(parse_json(request.body))
                text = clean_text(body.get("message"))
                metadata = page_metadata(body.get("metadata"))
            except InvalidInput as error:
                return response.json({"error": str(error)}, status=400)
            replies = await replies_unless_held(self._store, self.name(), sender, text, metadata, on_new_message)
            if replies is None:
                return response.json([])  # an agent answers this customer, not the bot
            headers = {}
            language = await conversation_language(request, sender)
            if language:
                headers["Content-Language"] = language
            return response.json(replies, headers=headers)

        return limit_server(web)

    def _sender(self, request: Request) -> Text:
        token = request.cookies.get(COOKIE)
        if not token:
            raise InvalidSession("No chat session: open the chat page (it asks POST session for one).")
        return self._sessions.sender_of(token)

    async def _leave_handoff(self, request: Request, sender: Text) -> None:
        """A new conversation ends a handoff held in the old one: ticket closed, pause over."""
        try:
            left = await leave_ticket(self._store, self.name(), sender, "started a new conversation")
        except StoreError as error:
            logger.error("web.handoff_not_closed kind=%s", type(error).__name__)
            return
        if left is not None:
            await resume_conversation(request.app.ctx.agent, sender)

    def _with_session(self, request: Request, answer: HTTPResponse, sender: Text) -> HTTPResponse:
        answer.cookies[COOKIE] = self._sessions.issue(sender)
        cookie = answer.cookies[COOKIE]
        cookie["path"] = COOKIE_PATH
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["max-age"] = int(self._sessions.lifetime.total_seconds())
        if self._sessions.always_secure or request.scheme == "https":
            cookie["secure"] = True
        return answer


async def conversation_language(request: Request, sender: Text) -> Optional[Text]:
    """The `language` slot of the sender's conversation (what the bot answers in), if set."""
    tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
    language = tracker.get_slot(LANGUAGE_SLOT) if tracker else None
    return str(language) if language else None


def static_file(file_name: Text) -> HTTPResponse:
    """Serves a file of bot/static by exact name only, so no path can escape the folder."""
    path = STATIC_DIR / file_name
    if path.parent != STATIC_DIR or path.suffix not in STATIC_TYPES or not path.is_file():
        return response.text("Not found", status=404)
    return with_security_headers(response.raw(path.read_bytes(), content_type=STATIC_TYPES[path.suffix]))
