"""Switching the conversation language on request ("please speak German", "en español")."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreAction, current_customer, in_thread, language_of
from cs_common.store.repository import Store

LANGUAGE_NAMES_FILE = Path(__file__).with_name("language_names.yml")


def read_language_names(path: Path = LANGUAGE_NAMES_FILE) -> Dict[Text, List[Text]]:
    """How customers name each bot language, in each of them (lowercase): language -> names.
    A YAML file rather than code, so that `make lint` checks it has every bot language."""
    names = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(code): [str(name).lower() for name in entries] for code, entries in names.items()}


LANGUAGE_NAMES: Dict[Text, List[Text]] = read_language_names()


def requested_language(text: Text) -> Optional[Text]:
    """The language named in `text`; the first mentioned wins ("not English, Spanish" aside)."""
    lowered = text.lower()
    found = [
        (lowered.find(name), code)
        for code, names in LANGUAGE_NAMES.items()
        for name in names
        if name in lowered
    ]
    return min(found)[1] if found else None


class ActionSwitchLanguage(StoreAction):
    """Sets the `language` slot to the language asked for and remembers it for the customer.

    The confirmation is a follow-up action so that it is rendered after the slot changed,
    i.e. in the new language.
    """

    def name(self) -> Text:
        return "action_switch_language"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, store: Store) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        language = requested_language(text) or language_of(tracker)
        customer = await current_customer(store, tracker)
        if customer is not None:
            await in_thread(store.set_language, customer.id, language)
        return [SlotSet("language", language), FollowupAction("utter_language_switched")]
