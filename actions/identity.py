"""One customer across channels: prove with a one-time code that this sender is a known customer.

The customer gives the email address or phone number on their account ("link my account,
my email is …"); a code goes there, and `link_code_form` waits for it (reading any 6-digit
code, whatever the intent classifier makes of it); the right code links this channel's
sender id to their customer, so `current_customer` finds them, with their orders and
preferences, on this channel too. The answer to a request never says whether the email or
phone is on file, neither in its words nor in its timing (the code is sent after it).
The code never reaches the tracker store or the logs: pii.yml lists the `link_code` slot
and the `otp_code` entity, so what is persisted holds a placeholder.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.code_delivery import DeliveryConfigError, masked, shared_delivery
from actions.common import StoreAction, channel_of, in_thread, language_of, shared_store
from cs_common.pii import digits_of
from cs_common.senders import GUEST_CHANNEL
from cs_common.store.errors import StoreError
from cs_common.store.identities import LINK_CODE_WINDOW
from cs_common.store.repository import Store
from cs_common.store.views import (
    CodeWithheld,
    Contact,
    ContactKind,
    LinkRequestResult,
    LinkVerification,
    LinkVerifyResult,
)

logger = logging.getLogger(__name__)

# The sender's own limit, or the cap on codes sent by everyone: nothing about the address.
RATE_LIMIT_RESPONSES = {
    CodeWithheld.SENDER_LIMIT: "utter_link_rate_limited",
    CodeWithheld.HOURLY_CAP: "utter_link_codes_busy",
}
VERIFY_RESPONSES = {
    LinkVerifyResult.LINKED: "utter_account_linked",
    LinkVerifyResult.WRONG_CODE: "utter_link_code_wrong",
    LinkVerifyResult.NO_VALID_CODE: "utter_link_code_invalid",
}


def phone_number(text: Text) -> Text:
    """+ and digits (E.164, as numbers are stored); 00 is the international prefix too."""
    number = digits_of(text)
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
        channel = channel_of(tracker)
        if channel == GUEST_CHANNEL:
            # REST callers are guests whatever they send (README, "Security"): nothing to link.
            dispatcher.utter_message(response="utter_link_unavailable_here")
            return []
        contact = contact_in(tracker)
        if contact is None:
            dispatcher.utter_message(response="utter_ask_link_contact")
            return []
        issued = await in_thread(store.issue_link_code, channel, tracker.sender_id, contact)
        if issued.withheld is not None:
            logger.warning(
                "identity.code_withheld reason=%s to=%s channel=%s", issued.withheld.value, masked(contact), channel
            )
        if issued.result is LinkRequestResult.RATE_LIMITED:
            minutes = int(LINK_CODE_WINDOW.total_seconds() // 60)
            dispatcher.utter_message(response=RATE_LIMIT_RESPONSES[issued.withheld], minutes=minutes)
            return []
        try:
            delivery = shared_delivery()
        except DeliveryConfigError as error:
            # Same answer as a success: the settings are broken for every address alike.
            logger.error("identity.delivery_unconfigured reason=%s", error)
            delivery = None
        dispatcher.utter_message(response="utter_link_code_sent", destination=masked(contact))
        outbox = delivery.outbox_for(contact.kind) if delivery else None
        if outbox is not None:
            dispatcher.utter_message(response="utter_link_code_outbox", outbox=str(outbox))
        if delivery and issued.code:
            delivery.send_soon(contact, issued.code, language_of(tracker))
        return [SlotSet("link_code", None), FollowupAction("link_code_form")]


async def check_code(
    dispatcher: CollectingDispatcher, tracker: Tracker, store: Store, typed: Text
) -> Tuple[LinkVerifyResult, Dict[Text, Any]]:
    """Checks the code this sender typed and tells them the outcome.

    Returns the outcome and the slots to set: once linked, the customer's saved language.
    """
    code = digits_of(typed)
    verification = (
        await in_thread(store.verify_link_code, channel_of(tracker), tracker.sender_id, code)
        if code
        else LinkVerification(LinkVerifyResult.WRONG_CODE)
    )
    dispatcher.utter_message(response=VERIFY_RESPONSES[verification.result])
    if verification.customer is None:
        return verification.result, {}
    logger.info("identity.linked channel=%s customer=%s", channel_of(tracker), verification.customer.id)
    preferences = await in_thread(store.preferences, verification.customer.id)
    return verification.result, {"language": preferences.language} if preferences.language else {}


class ValidateLinkCodeForm(FormValidationAction):
    """Checks the code the form read; a wrong one is asked for again, anything else ends the form."""

    def name(self) -> Text:
        return "validate_link_code_form"

    async def validate_link_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        try:
            result, slots = await check_code(dispatcher, tracker, shared_store(), str(value))
        except StoreError as error:
            logger.error("store.unavailable action=%s reason=%s", self.name(), error)
            dispatcher.utter_message(response="utter_store_unavailable")
            return {"link_code": value}
        if result is LinkVerifyResult.WRONG_CODE:
            return {"link_code": None}
        return {"link_code": value, **slots}


class ActionVerifyLinkCode(StoreAction):
    """A code typed outside the form (e.g. "the code is 482913" after a digression)."""

    def name(self) -> Text:
        return "action_verify_link_code"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        typed = next(tracker.get_latest_entity_values("otp_code"), "")
        _result, slots = await check_code(dispatcher, tracker, store, typed)
        return [SlotSet(name, value) for name, value in slots.items()]
