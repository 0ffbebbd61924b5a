"""The agent side of a human handoff: `/webhooks/agent/…`, for the support team's tools.

    GET  /webhooks/agent/tickets                  open tickets with their transcripts
    POST /webhooks/agent/tickets/<id>/messages    {"text": "..."}: an agent's answer to the customer
    POST /webhooks/agent/tickets/<id>/release     close the ticket, the bot takes over again

Every request needs `Authorization: Bearer <token>`; the token comes from `token:` under
`bot.agent.AgentInput` in credentials.yml or else the AGENT_API_TOKEN environment variable.
Without one the endpoint answers 503 and says so at startup: an open agent API would let
anyone read transcripts.

An agent's answer lands in the conversation's tracker and reaches the customer on the channel
of the ticket (bot/delivery.py: the web page's updates, SMS, Slack). Releasing closes the ticket
in the store, ends Rasa's pause of the conversation and sends `utter_handoff_released` there,
in the customer's language (the `language` slot), delivered the same way. Both answers say
whether the message went out (`delivered`); the release's also carries the message itself,
for tools that relay it where the bot cannot push (REST callers).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from dataclasses import asdict
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.delivery import deliver, pushed_message
from bot.handoff import resume_conversation
from bot.http_limits import limit_server
from bot.validation import InvalidInput, clean_text, json_object, parse_json
from cs_common.store import Store, StoreError, TicketView

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "AGENT_API_TOKEN"
RELEASED_RESPONSE = "utter_handoff_released"
MAX_TICKET_ID = 2**31 - 1  # the store's integer ids; a bigger one in the path is no ticket


class AgentInput(InputChannel):
    """Not a customer channel: the HTTP API agents use to answer and release conversations."""

    def __init__(self, token: Optional[Text], store: Store) -> None:
        self._token = token
        self._store = store
        if not token:
            logger.warning(
                "agent.disabled reason=no_token fix='set %s or `token:` under bot.agent.AgentInput in credentials.yml'",
                TOKEN_VARIABLE,
            )

    @classmethod
    def name(cls) -> Text:
        return "agent"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(staff_token(credentials), Store.from_env())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        agent_api = Blueprint("agent_api", __name__)

        @agent_api.middleware("request")
        async def authenticate(request: Request) -> Optional[HTTPResponse]:
            refused = refuse_unless_staff(request, self._token, "agent endpoint")
            if refused is not None:
                return refused
            ticket_id = request.match_info.get("ticket_id")
            if isinstance(ticket_id, int) and not 0 < ticket_id <= MAX_TICKET_ID:
                return _no_open_ticket(ticket_id)
            return None

        @agent_api.route("/tickets", methods=["GET"])
        async def tickets(request: Request) -> HTTPResponse:
            open_tickets = await self._in_store(self._store.open_tickets)
            return response.json({"tickets": [_ticket_json(ticket) for ticket in open_tickets]})

        @agent_api.route("/tickets/<ticket_id:int>/messages", methods=["POST"])
        async def message(request: Request, ticket_id: int) -> HTTPResponse:
            try:
                text = clean_text(json_object(parse_json(request.body)).get("text"))
            except InvalidInput as error:
                return response.json({"error": str(error).replace("'message'", "'text'")}, status=400)
            ticket = await self._open_ticket(ticket_id)
            if ticket is None:
                return _no_open_ticket(ticket_id)
            await self._in_store(self._store.append_to_ticket, ticket_id, f"agent: {text}")
            agent = _rasa_agent(request)
            event = pushed_message({"text": text}, ticket_id, agent=True)
            async with agent.lock_store.lock(ticket.sender_id):
                # The agent's answer belongs to the paused conversation: no session start here.
                tracker = await agent.processor.get_tracker(ticket.sender_id)
                tracker.update(event)
                await agent.processor.save_tracker(tracker)
            delivered = await deliver(request.app, ticket.channel, tracker, event)
            return response.json(
                {"ticket": ticket_id, "sender": ticket.sender_id, "channel": ticket.channel, "delivered": delivered}
            )

        @agent_api.route("/tickets/<ticket_id:int>/release", methods=["POST"])
        async def release(request: Request, ticket_id: int) -> HTTPResponse:
            ticket = await self._in_store(self._store.close_ticket, ticket_id)
            if ticket is None:
                return _no_open_ticket(ticket_id)
            agent = _rasa_agent(request)
            tracker = await agent.processor.get_tracker(ticket.sender_id)
            generated = await agent.processor.nlg.generate(RELEASED_RESPONSE, tracker, ticket.channel)
            event = pushed_message(generated or {}, ticket_id, utter_action=RELEASED_RESPONSE)
            await resume_conversation(agent, ticket.sender_id, event)
            delivered = await deliver(request.app, ticket.channel, tracker, event)
            logger.info("agent.released ticket=%s channel=%s delivered=%s", ticket_id, ticket.channel, delivered)
            collector = CollectingOutputChannel()
            await collector.send_response(ticket.sender_id, event.message())
            return response.json(
                {"ticket": ticket_id, "released": True, "messages": collector.messages, "delivered": delivered}
            )

        @agent_api.exception(StoreError)
        async def store_down(request: Request, error: StoreError) -> HTTPResponse:
            logger.error("agent.store_error kind=%s", type(error).__name__)
            return response.json({"error": "The ticket store is unavailable; try again later."}, status=503)

        return limit_server(agent_api)

    async def _open_ticket(self, ticket_id: int) -> Optional[TicketView]:
        open_tickets = await self._in_store(self._store.open_tickets)
        return next((ticket for ticket in open_tickets if ticket.id == ticket_id), None)

    @staticmethod
    async def _in_store(function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)


def staff_token(credentials: Optional[Dict[Text, Any]]) -> Optional[Text]:
    """The support team's token: `token:` under the channel in credentials.yml, else AGENT_API_TOKEN."""
    return (credentials or {}).get("token") or os.environ.get(TOKEN_VARIABLE)


def refuse_unless_staff(request: Request, token: Optional[Text], endpoint: Text) -> Optional[HTTPResponse]:
    """503 while no token is set (closed by default), 401 without `Authorization: Bearer <token>`."""
    if not token:
        return response.json({"error": f"The {endpoint} is disabled: set {TOKEN_VARIABLE}."}, status=503)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
        return response.json({"error": "Send 'Authorization: Bearer <agent token>'."}, status=401)
    return None


def _rasa_agent(request: Request) -> Agent:
    """The running bot, which `rasa run` keeps on the Sanic app."""
    return request.app.ctx.agent


def _ticket_json(ticket: TicketView) -> Dict[Text, Any]:
    values = asdict(ticket)
    values["status"] = ticket.status.value
    values["created_at"] = ticket.created_at.isoformat()
    return values


def _no_open_ticket(ticket_id: int) -> HTTPResponse:
    return response.json({"error": f"There is no open ticket {ticket_id}."}, status=404)
