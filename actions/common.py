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

from actions.store.errors import StoreError, StoreUnavailableError
from actions.store.repository import Store
from actions.store.views import CustomerView

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=1)
def shared_store() -> Store:
    """One store (and connection pool) per action-server process, configured by CS_STORE_URL."""
    return Store.from_env()


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(function, *args)


def channel_of(tracker: Tracker) -> Text:
    return tracker.get_latest_input_channel() or "rest"


def language_of(tracker: Tracker) -> Text:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


async def current_customer(store: Store, tracker: Tracker) -> Optional[CustomerView]:
    """The customer behind this conversation, or None for a sender we do not know."""
    return await in_thread(store.customer_for_identity, channel_of(tracker), tracker.sender_id)


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
