"""The conversation review page, for the bot's designers: `/webhooks/review/…`.

    GET  /webhooks/review/                     the page (bot/static/review.html, .js, .css)
    GET  /webhooks/review/api/summary          per language and day: messages, fallback rate, …
    GET  /webhooks/review/api/queue[?language=es]  messages worth a look, with their top intents
    GET  /webhooks/review/api/charts/<measure>.png one chart per measure, drawn by the server
    POST /webhooks/review/api/labels           {"id": <message id>, "label": "<intent>"}
    POST /webhooks/review/api/export           writes the drafts (as `make review-export`)

The page's own files hold no data; every `api/` request needs the agent API's token
(`Authorization: Bearer <token>`: `token:` here or AGENT_API_TOKEN, bot/agent.py), and without a
token the whole review answers 503. The review reads the conversations of the running bot's
tracker store, which must be SQL (`store: sql` in endpoints.yml): they are stored redacted.
Labels go to the `review_labels` table beside them, never into a tracker.

    bot.review.ReviewInput:              # credentials.yml; every key optional
      token: ${AGENT_API_TOKEN}
      drafts: data/drafts                # where the export button writes
      nlu_data: data/nlu                 # the examples drafts are deduplicated against
      low_confidence: 0.6                # below it a prediction is queued
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import sqlalchemy as sa
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.agent import refuse_unless_staff, staff_token
from bot.hosts import allowed_hosts, refuse_foreign_host
from bot.http_limits import SECURITY_HEADERS, limit_server, refuse_unless_json
from bot.review_data import (
    LOW_CONFIDENCE, MEASURES, ReviewError, bot_labels, chart_png, export_drafts, read_review, review_queue, save_label,
)
from bot.validation import InvalidInput, json_object, parse_json
from bot.web import STATIC_DIR, STATIC_TYPES

logger = logging.getLogger(__name__)

PAGE_FILES = ("review.html", "review.js", "review.css")
MAX_LANGUAGE_CHARS = 16
# The chat page's policy, plus blob: images: the page fetches each chart with the token and
# shows it from memory (an <img src> cannot send an Authorization header).
PAGE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace("img-src 'self'", "img-src 'self' blob:"),
    "Cache-Control": "no-store",
}
NOT_SQL = ("The review reads a SQL tracker store: set `store: sql` (and `dialect:`, `db:`) under "
           "tracker_store in endpoints.yml (README, \"Conversation review\").")


class ReviewInput(InputChannel):
    """Not a customer channel: the designers' review of what customers wrote."""

    def __init__(self, token: Optional[Text], drafts: Path, nlu_data: Path, low_confidence: float) -> None:
        self._token = token
        self._drafts = drafts
        self._nlu_data = nlu_data
        self._low_confidence = low_confidence
        self._hosts = allowed_hosts()
        if not token:
            logger.warning("review.disabled reason=no_token fix='set AGENT_API_TOKEN or `token:` under bot.review.ReviewInput'")

    @classmethod
    def name(cls) -> Text:
        return "review"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        settings = credentials or {}
        low_confidence = settings.get("low_confidence", LOW_CONFIDENCE)
        if isinstance(low_confidence, bool) or not isinstance(low_confidence, (int, float)) or not 0 <= low_confidence <= 1:
            raise ValueError(f"bot.review.ReviewInput in credentials.yml: low_confidence {low_confidence!r} must be a number between 0 and 1.")
        return cls(
            staff_token(settings),
            Path(settings.get("drafts") or "data/drafts"),
            Path(settings.get("nlu_data") or "data/nlu"),
            float(low_confidence),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        review = Blueprint("conversation_review", __name__)

        @review.middleware("request")
        async def check_request(request: Request) -> Optional[HTTPResponse]:
            refused = refuse_foreign_host(request, self._hosts)
            if refused is None and "/api/" in request.path:
                refused = refuse_unless_staff(request, self._token, "conversation review")
            elif refused is None and not self._token:
                refused = response.text("The conversation review is disabled: set AGENT_API_TOKEN.", status=503)
            if refused is None and request.method == "POST":
                refused = refuse_unless_json(request)
            return refused

        @review.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return response.redirect(f"{request.path}/")  # the page's URLs are relative to the folder
            return _page_file("review.html")

        @review.route("/static/<file_name>", methods=["GET"])
        async def asset(request: Request, file_name: Text) -> HTTPResponse:
            return _page_file(file_name)

        @review.route("/api/summary", methods=["GET"])
        async def summary(request: Request) -> HTTPResponse:
            found = await self._read(request)
            domain = request.app.ctx.agent.domain
            return response.json({
                "days": [stats.values() for stats in found.days],
                "languages": found.languages(),
                "measures": MEASURES,
                "labels": bot_labels(domain.intents, domain.responses),
                "low_confidence": self._low_confidence,
                "labelled": sum(message.label is not None for message in found.messages),
            })

        @review.route("/api/queue", methods=["GET"])
        async def queue(request: Request) -> HTTPResponse:
            language = request.args.get("language") or None
            if language is not None and len(language) > MAX_LANGUAGE_CHARS:
                return response.json({"error": f"'language' is longer than {MAX_LANGUAGE_CHARS} characters."}, status=400)
            found = await self._read(request)
            picked = review_queue(found, self._low_confidence, language)
            return response.json({"queue": [message.as_json(self._low_confidence) for message in picked]})

        @review.route("/api/charts/<file_name>", methods=["GET"])
        async def chart(request: Request, file_name: Text) -> HTTPResponse:
            measure, _, extension = file_name.rpartition(".")
            if extension != "png" or measure not in MEASURES:
                return response.json({"error": f"No chart '{measure}': one of {', '.join(MEASURES)}."}, status=404)
            found = await self._read(request)
            image = await asyncio.to_thread(chart_png, found.days, measure)
            return response.raw(image, content_type="image/png", headers={"Cache-Control": "no-store"})

        @review.route("/api/labels", methods=["POST"])
        async def label(request: Request) -> HTTPResponse:
            try:
                body = json_object(parse_json(request.body))
                event_id, label_name = body.get("id"), body.get("label")
                if not isinstance(event_id, int) or isinstance(event_id, bool) or not 0 < event_id < 2**31:
                    raise InvalidInput("'id' must be the id of a message in the queue.")
                if not isinstance(label_name, str):
                    raise InvalidInput("'label' must be an intent name.")
            except InvalidInput as error:
                return response.json({"error": str(error)}, status=400)
            domain = request.app.ctx.agent.domain
            allowed = bot_labels(domain.intents, domain.responses)
            engine = self._engine(request)
            try:
                message = await asyncio.to_thread(save_label, engine, event_id, label_name, allowed)
            except ReviewError as error:
                return response.json({"error": str(error)}, status=400)
            except LookupError as error:
                return response.json({"error": str(error)}, status=404)
            logger.info("review.labelled message=%s label=%s language=%s", message.id, message.label, message.language)
            return response.json({"id": message.id, "label": message.label, "language": message.language})

        @review.route("/api/export", methods=["POST"])
        async def export(request: Request) -> HTTPResponse:
            found = await self._read(request)
            written = await asyncio.to_thread(export_drafts, found, [self._nlu_data], self._drafts)
            logger.info("review.exported languages=%s", ",".join(written) or "none")
            return response.json({"drafts": {language: str(path) for language, path in written.items()}})

        @review.exception(NoSqlStore)
        async def no_sql_store(request: Request, error: NoSqlStore) -> HTTPResponse:
            return response.json({"error": NOT_SQL}, status=503)

        @review.exception(sa.exc.SQLAlchemyError)
        async def store_down(request: Request, error: sa.exc.SQLAlchemyError) -> HTTPResponse:
            logger.error("review.store_error kind=%s", type(error).__name__)
            return response.json({"error": "The tracker store is unavailable; try again later."}, status=503)

        return limit_server(review)

    def _engine(self, request: Request) -> sa.engine.Engine:
        return sql_engine(request.app.ctx.agent.tracker_store)

    async def _read(self, request: Request) -> Any:
        return await asyncio.to_thread(read_review, self._engine(request))


class NoSqlStore(RuntimeError):
    """The running bot keeps its conversations elsewhere than in SQL."""


def sql_engine(store: TrackerStore) -> sa.engine.Engine:
    """The SQLAlchemy engine of the SQL store inside the bot's wrappers (Rasa's fail-safe store,
    which has no public accessor for what it wraps, and our redacting store)."""
    for _ in range(3):
        if isinstance(store, SQLTrackerStore):
            return store.engine
        store = getattr(store, "_tracker_store", None) or getattr(store, "inner", None)
    raise NoSqlStore(NOT_SQL)


def _page_file(file_name: Text) -> HTTPResponse:
    """One of the page's own files, by exact name: nothing else of bot/static is served here."""
    path = STATIC_DIR / file_name
    if file_name not in PAGE_FILES or not path.is_file():
        return response.text("Not found", status=404)
    return response.raw(path.read_bytes(), content_type=STATIC_TYPES[path.suffix], headers=PAGE_HEADERS)
