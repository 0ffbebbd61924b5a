"""One customer across channels: prove with a one-time code that this sender is a known customer.

The customer gives the email address or phone number on their account ("link my account,
my email is …"); a code goes there; typing it here links this channel's sender id to their
customer, so `current_customer` finds them, with their orders and preferences, on this
channel too. The answer to a request never says whether the email or phone is on file.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.code_delivery import DeliveryConfigError, DeliveryError, masked, shared_delivery
from actions.common import StoreAction, channel_of, in_thread, language_of
from actions.store.repository import LINK_CODE_WINDOW, Store
from actions.store.views import Contact, ContactKind, LinkRequestResult, LinkVerifyResult

logger = logging.getLogger(__name__)

VERIFY_RESPONSES = {
    LinkVerifyResult.WRONG_CODE: "utter_link_code_wrong",
    LinkVerifyResult.NO_VALID_CODE: "utter_link_code_invalid",
}


def digits(text: Text) -> Text:
    """ASCII digits of `text`, whatever script they were typed in (٤٨٢٩١٣ → 482913)."""
    return "".join(str(unicodedata.digit(char)) for char in text if char.isdigit())


def phone_number(text: Text) -> Text:
    """+ and digits (E.164, as numbers are stored); 00 is the international prefix too."""
    number = digits(text)
    if not text.lstrip().startswith("+") and number.startswith("00"):
        number = number[2:]
    return f"+{number}"


def contact_in(tracker: Tracker) -> Optional[Contact]:
    """The email address (preferred) or phone number in the latest message, normalised."""
    email = next(tracker.get_latest_entity_values("email"), None)
    if email:
        return Contact(ContactKind.EMAIL, email.strip().lower())
    phone = next(tracker.get_latest_entity_values("phone"), None)
    return Contact(ContactKind.PHONE, phone_number(phone)) if phone else None


class ActionRequestLinkCode(StoreAction):
    """Sends a one-time code to the email or phone given, if it belongs to a customer."""

    def name(self) -> Text:
        return "action_request_link_code"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        contact = contact_in(tracker)
        if contact is None:
            dispatcher.utter_message(response="utter_ask_link_contact")
            return []
        issued = await in_thread(store.issue_link_code, channel_of(tracker), tracker.sender_id, contact)
        if issued.result is LinkRequestResult.RATE_LIMITED:
            minutes = int(LINK_CODE_WINDOW.total_seconds() // 60)
            dispatcher.utter_message(response="utter_link_rate_limited", minutes=minutes)
            return []
        try:
            delivery = shared_delivery()
            if issued.code:
                await in_thread(delivery.send, contact, issued.code, language_of(tracker))
            outbox = delivery.outbox_for(contact.kind)
        except (DeliveryConfigError, DeliveryError) as error:
            # Same answer as a success: a failure only happens for addresses on file.
            logger.error("identity.code_not_sent to=%s reason=%s", masked(contact), error)
            outbox = None
        dispatcher.utter_message(response="utter_link_code_sent", destination=masked(contact))
        if outbox is not None:
            dispatcher.utter_message(response="utter_link_code_outbox", outbox=str(outbox))
        return []


class ActionVerifyLinkCode(StoreAction):
    """Links this sender to the customer whose code it typed; their saved language applies."""

    def name(self) -> Text:
        return "action_verify_link_code"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        code = digits(next(tracker.get_latest_entity_values("otp_code"), ""))
        if not code:
            dispatcher.utter_message(response="utter_link_code_wrong")
            return []
        verification = await in_thread(store.verify_link_code, channel_of(tracker), tracker.sender_id, code)
        if verification.customer is None:
            dispatcher.utter_message(response=VERIFY_RESPONSES[verification.result])
            return []
        customer = verification.customer
        logger.info("identity.linked channel=%s customer=%s", channel_of(tracker), customer.id)
        dispatcher.utter_message(response="utter_account_linked")
        preferences = await in_thread(store.preferences, customer.id)
        return [SlotSet("language", preferences.language)] if preferences.language else []
