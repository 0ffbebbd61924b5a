"""The Slack channel: Events API messages and Block Kit buttons at `/webhooks/slack/webhook`.

Every request must carry Slack's signature (`X-Slack-Signature`: HMAC-SHA256 of
`v0:{timestamp}:{raw body}` with the app's signing secret) and a timestamp within 5 minutes,
else 401 and nothing is read: after the size check (bounded work), that check comes first in
the handler, done by slack_sdk's `SignatureVerifier`. Malformed signed bodies get a 4xx.

Slack wants a 200 within 3 s and retries otherwise, so messages are acknowledged at once and
answered in a background task; one user's messages are answered one at a time, in the order
they arrived (bot/ordering.py). Retries and duplicate deliveries (the same event id, or the
`message` and `app_mention` events of one message) and replayed button clicks (the same
`action_ts`) are acknowledged but answered once. The
memory of deliveries is per process unless `CS_DEDUP_REDIS_URL` is set (bot/dedup.py): replicas
share it through Redis.

Replies go through slack_sdk to `slack_api_url` (Slack's own by default), into the thread the
message came from. Each user message carries metadata: the Slack user, channel, team, thread and
the user's Slack locale (a language hint, from `users.info`, cached). The sender id is
`slack:<team>:<user>`, from the signed event: the same user id in another workspace is someone else.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple
from urllib.parse import parse_qs, urlsplit

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.dedup import TtlCache, deduplicator
from bot.handoff import held_by_agent
from bot.http_limits import limit_server, oversized
from bot.ordering import InArrivalOrder
from bot.validation import InvalidInput, clean_sender, clean_text, json_object, parse_json
from cs_common.store import Store

logger = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
MAX_FORM_FIELDS = 10  # Slack's interactive form has one field, `payload`
MESSAGE_EVENTS = {"message", "app_mention"}
MAX_BUTTON_TITLE = 75  # Slack rejects the whole message for a longer button text
LOCALE_TTL_S = 3600
MAX_CACHED_LOCALES = 10_000
FORM_TYPE = "application/x-www-form-urlencoded"

# Checked before SignatureVerifier, which would raise on a non-numeric timestamp or non-ASCII signature.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_SLACK_ID = re.compile(r"[\w.\-]{1,64}", re.ASCII)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


@dataclass(frozen=True)
class SlackMessage:
    """What a Slack user wrote or clicked, and where the answer goes."""

    text: Text
    user: Text
    channel: Text
    team: Optional[Text]
    thread_ts: Optional[Text]

    @property
    def sender_id(self) -> Text:
        """Who wrote, namespaced by channel and workspace (actions/common.py reads the prefix)."""
        return f"slack:{self.team or '-'}:{self.user}"

    def metadata(self, locale: Optional[Text]) -> Dict[Text, Text]:
        fields = {
            "slack_user": self.user,
            "slack_channel": self.channel,
            "slack_team": self.team,
            "thread_ts": self.thread_ts,
            "locale": locale,
        }
        return {key: value for key, value in fields.items() if value}


class SlackOutput(OutputChannel):
    """Posts the bot's replies into the channel (and thread) the message came from."""

    @classmethod
    def name(cls) -> Text:
        return "slack"

    def __init__(self, client: AsyncWebClient, channel: Text, thread_ts: Optional[Text]) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._post(text=slack_escaped(text))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._post(text=slack_escaped(text), blocks=button_blocks(text, buttons))

    async def _post(self, **message: Any) -> None:
        await self._client.chat_postMessage(channel=self._channel, thread_ts=self._thread_ts, **message)


class SlackInput(InputChannel):
    """Receives Slack events and button clicks, answers them through the Slack Web API."""

    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            token=required(
                credentials, "slack_token", "SLACK_BOT_TOKEN", "OAuth & Permissions → Bot User OAuth Token (xoxb-…)"
            ),
            signing_secret=required(
                credentials, "slack_signing_secret", "SLACK_SIGNING_SECRET", "Basic Information → Signing Secret"
            ),
            api_url=api_url(credentials.get("slack_api_url") or SLACK_API_URL),
            store=Store.from_env(),
        )

    def __init__(self, token: Text, signing_secret: Text, store: Store, api_url: Text = SLACK_API_URL) -> None:
        self._store = store
        self._verifier = SignatureVerifier(signing_secret)
        self._client = AsyncWebClient(token=token, base_url=api_url)
        self._deliveries = deduplicator(self.name())
        self._locales: TtlCache[asyncio.Task] = TtlCache(LOCALE_TTL_S, MAX_CACHED_LOCALES)
        self._in_order = InArrivalOrder()

    def output_for(self, metadata: Dict[Text, Any]) -> Optional[OutputChannel]:
        """Where a message outside a turn goes (an agent's answer: bot/delivery.py): the Slack
        channel and thread of `metadata`, the latest message's (`SlackMessage.metadata`)."""
        channel = metadata.get("slack_channel")
        return SlackOutput(self._client, channel, metadata.get("thread_ts")) if channel else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack = Blueprint("slack", __name__)

        @slack.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            too_large = oversized(request)
            if too_large:
                return error(413, too_large)
            if not self._signed_by_slack(request):
                return error(401, "The Slack signature is missing or wrong, or the request is older than 5 minutes.")
            try:
                if request.headers.get("content-type", "").startswith(FORM_TYPE):
                    message = await self._new_click(request.body)
                else:
                    envelope = json_object(parse_json(request.body))
                    if envelope.get("type") == "url_verification":
                        return response.json({"challenge": challenge(envelope)})
                    message = await self._new_message(envelope, retried="X-Slack-Retry-Num" in request.headers)
            except InvalidInput as invalid:
                return error(400, str(invalid))
            if message is not None:
                self._answer_in_background(message, on_new_message)
            return response.text("")

        return limit_server(slack)

    def _signed_by_slack(self, request: Request) -> bool:
        """Slack's HMAC of `v0:{timestamp}:{raw body}`, with a timestamp within 5 minutes (no replays)."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return False
        try:
            return self._verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature)
        except UnicodeDecodeError:  # it decodes the body as text; Slack only sends UTF-8
            return False

    async def _new_click(self, body: bytes) -> Optional[SlackMessage]:
        """The button click of a `block_actions` payload on its first delivery; None for replays and other payloads."""
        click = button_click(body)
        if click is None:
            return None
        message, action_ts = click
        first = await self._deliveries.first_time(("click", message.channel, message.user, action_ts))
        if not first:
            logger.info("slack.redelivery kind=click answered=False")
        return message if first else None

    async def _new_message(self, envelope: Dict[Text, Any], retried: bool) -> Optional[SlackMessage]:
        """The user message of an `event_callback` on its first delivery; None for repeats and ignored events."""
        message = event_message(envelope) if envelope.get("type") == "event_callback" else None
        if message is None:
            return None
        event_id = slack_id(envelope.get("event_id"), "event_id")
        ts = slack_id(envelope["event"].get("ts"), "ts")
        new_event = await self._deliveries.first_time(("event", event_id))
        new_message = await self._deliveries.first_time(("message", message.channel, ts))
        first = new_event and new_message
        if retried or not first:
            logger.info("slack.redelivery event_id=%s retried=%s answered=%s", event_id, retried, first)
        return message if first else None

    def _answer_in_background(self, message: SlackMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Rasa may need more than Slack's 3 s, so the answer comes after the 200."""
        self._in_order.submit(message.user, self._answer(message, on_new_message))

    async def _answer(self, message: SlackMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        try:
            if await held_by_agent(self._store, self.name(), message.sender_id, message.text):
                return  # an agent answers this customer, not the bot
            locale = await self._locale(message.user)
            output = SlackOutput(self._client, message.channel, message.thread_ts)
            await on_new_message(
                UserMessage(message.text, output, message.sender_id, input_channel=self.name(), metadata=message.metadata(locale))
            )
        except Exception:  # nobody awaits this task: log, or the failure goes unseen
            logger.exception("slack.answer_failed channel=%s", message.channel)

    async def _locale(self, user: Text) -> Optional[Text]:
        """The user's Slack locale (e.g. es-ES), a language hint; None when Slack does not say.

        The look-up is cached, and shared by the user's later messages.
        """
        lookup = self._locales.get(user)
        if lookup is None:
            lookup = asyncio.ensure_future(self._fetch_locale(user))
            self._locales.put(user, lookup)
        return await lookup or None

    async def _fetch_locale(self, user: Text) -> Text:
        """Asks `users.info`; "" on failure, so one missing scope costs one call per user, not one per message."""
        try:
            reply = await self._client.users_info(user=user, include_locale=True)
        except SlackApiError as failure:
            logger.warning("slack.locale_unavailable reason=%s", failure.response.get("error"))  # missing_scope: users:read
            return ""
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as failure:
            logger.warning("slack.locale_unavailable reason=%s", type(failure).__name__)
            return ""
        locale = (reply.get("user") or {}).get("locale")
        return locale[:35] if isinstance(locale, str) else ""


def required(credentials: Dict[Text, Any], key: Text, variable: Text, where: Text) -> Text:
    """A credential that must be there; its absence stops `rasa run` with the fix."""
    value = credentials.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidConfigException(
            f"bot.slack.SlackInput cannot start without '{key}' in credentials.yml: add "
            f"`{key}: ${{{variable}}}` under `bot.slack.SlackInput:` and set {variable} to the value "
            f"in your Slack app's settings ({where})."
        )
    return value.strip()


def api_url(url: Text) -> Text:
    """slack_sdk appends method names to the base URL, which must end with '/'."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidConfigException(f"bot.slack.SlackInput: 'slack_api_url' must be an http(s) URL, not {url!r}.")
    return url.rstrip("/") + "/"


def event_message(envelope: Dict[Text, Any]) -> Optional[SlackMessage]:
    """A user's message in an `event_callback`; None for what the bot does not answer
    (other event types, edits and deletions, posts by bots, its own included)."""
    event = envelope.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or event["type"] not in MESSAGE_EVENTS:
        return None
    if event.get("subtype") or event.get("bot_id"):
        return None
    return SlackMessage(
        text=slack_text(event.get("text")),
        user=clean_sender(event.get("user")),
        channel=slack_id(event.get("channel"), "channel"),
        team=optional_slack_id(event.get("team") or envelope.get("team_id"), "team"),
        thread_ts=optional_slack_id(event.get("thread_ts"), "thread_ts"),
    )


def button_click(body: bytes) -> Optional[Tuple[SlackMessage, Text]]:
    """A `block_actions` payload: the clicked button's value is what the user says, and the
    click's `action_ts`, which tells a replay from a new click."""
    payload = json_object(parse_json(form_field(body, "payload")))
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise InvalidInput("'actions' must list the clicked button.")
    message = SlackMessage(
        text=clean_text(actions[0].get("value")),
        user=clean_sender(nested(payload, "user", "id")),
        channel=slack_id(nested(payload, "channel", "id"), "channel"),
        team=optional_slack_id(nested(payload, "team", "id"), "team"),
        thread_ts=optional_slack_id(nested(payload, "container", "thread_ts"), "thread_ts"),
    )
    return message, slack_id(actions[0].get("action_ts"), "action_ts")


def challenge(envelope: Dict[Text, Any]) -> Text:
    value = envelope.get("challenge")
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise InvalidInput("'challenge' must be a string of 1-200 characters.")
    return value


def form_field(body: bytes, name: Text) -> bytes:
    try:
        values = parse_qs(body.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise InvalidInput("The form is not valid UTF-8.") from None
    except ValueError:  # parse_qs: more than max_num_fields
        raise InvalidInput(f"The form has more than {MAX_FORM_FIELDS} fields.") from None
    if name not in values:
        raise InvalidInput(f"The form has no '{name}' field.")
    return values[name][0].encode("utf-8")


def nested(payload: Dict[Text, Any], outer: Text, key: Text) -> Any:
    inner = payload.get(outer)
    return inner.get(key) if isinstance(inner, dict) else None


def slack_id(value: Any, field: Text) -> Text:
    if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
        raise InvalidInput(f"'{field}' must be a Slack id: 1-64 letters, digits, '.', '-' or '_'.")
    return value


def optional_slack_id(value: Any, field: Text) -> Optional[Text]:
    return None if value is None else slack_id(value, field)


def slack_text(value: Any) -> Text:
    """The text as the user typed it: mentions (`<@U123>`, e.g. of the bot) removed, Slack's escapes undone."""
    if not isinstance(value, str):
        raise InvalidInput("'text' must be a string.")
    text = _MENTION.sub(" ", value).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return clean_text(text)


def slack_escaped(text: Text) -> Text:
    """Slack reads `<...>` as links and pings (`<!channel>`); replies may carry user input, so escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def button_blocks(text: Text, buttons: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """Block Kit: the text, then one button per Rasa button whose value is its payload."""
    elements = [
        {
            "type": "button",
            "action_id": f"button_{index}",
            "text": {"type": "plain_text", "text": button["title"][:MAX_BUTTON_TITLE]},
            "value": button["payload"],
        }
        for index, button in enumerate(buttons)
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escaped(text)}},
        {"type": "actions", "elements": elements},
    ]


def error(status: int, reason: Text) -> HTTPResponse:
    return response.json({"error": reason}, status=status)
