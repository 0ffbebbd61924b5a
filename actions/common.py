"""What every store-backed action shares: the store, who is talking, and outage handling.

Database calls are synchronous SQLAlchemy; they run in a worker thread so one slow query
never stalls the action server's event loop for every other conversation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from abc import ABC, abstractmethod
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Text, TypeVar

from babel.dates import format_date
from babel.numbers import format_currency
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from cs_common.senders import DEFAULT_LANGUAGE, GUEST_CHANNEL, sender_channel
from cs_common.store.errors import StoreError, StoreUnavailableError
from cs_common.store.repository import Store
from cs_common.store.views import CustomerView

logger = logging.getLogger(__name__)

T = TypeVar("T")


@lru_cache(maxsize=1)
def shared_store() -> Store:
    """One store (and connection pool) per action-server process, configured by CS_STORE_URL."""
    return Store.from_env()


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(function, *args)


def channel_of(tracker: Tracker) -> Text:
    """The channel that really received this conversation's messages: the prefix of its sender id.

    Our channels namespace every sender id (`web:…`, `rest:…`, `sms:+…`, `whatsapp:+…`, `slack:<team>:<user>`)
    from what they authenticated; `input_channel` is not used because Rasa's REST channel and
    HTTP API take it from the request body. A sender id without a known prefix is a guest's.
    """
    return sender_channel(tracker.sender_id)


def language_of(tracker: Tracker) -> Text:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


async def current_customer(store: Store, tracker: Tracker) -> Optional[CustomerView]:
    """The customer behind this conversation, or None for a guest or a sender we do not know.

    Identities are looked up by (channel, namespaced sender id), so a web sender can never be
    the SMS customer whose number it copies; REST senders are never anybody's.
    """
    channel = channel_of(tracker)
    if channel == GUEST_CHANNEL:
        return None
    return await in_thread(store.customer_for_identity, channel, tracker.sender_id)


def localized_date(value: Optional[dt.date], language: Text) -> Text:
    return format_date(value, format="long", locale=language) if value else "—"


def localized_money(amount: Decimal, currency: Text, language: Text) -> Text:
    return format_currency(amount, currency, locale=language)


class StoreAction(Action, ABC):
    """An action that reads or writes the personalization store.

    Subclasses implement `act`. If the database is down, the customer gets an apology
    in their language, the server stays up, and the log names the problem (never the
    customer's data).
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        try:
            return await self.act(dispatcher, tracker, shared_store())
        except StoreUnavailableError as error:
            logger.error("store.unavailable action=%s reason=%s", self.name(), error)
        except StoreError as error:
            logger.error("store.error action=%s kind=%s", self.name(), type(error).__name__)
        dispatcher.utter_message(response="utter_store_unavailable")
        return []

    @abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store
    ) -> List[Dict[Text, Any]]:
        """Does the action's work against `store`; returns the events to apply."""
