"""Switching the conversation language on request ("please speak German", "en español")."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreAction, current_customer, in_thread, language_of
from actions.store.repository import Store

# How customers name each of the bot's languages, in each of them (lowercase).
LANGUAGE_NAMES: Dict[Text, List[Text]] = {
    "en": ["english", "inglés", "ingles", "englisch", "anglais", "英语", "英文", "الإنجليزية", "الانجليزية", "انجليزي", "إنجليزي", "انكليزي"],
    "es": ["spanish", "español", "espanol", "castellano", "spanisch", "espagnol", "西班牙语", "西班牙文", "الإسبانية", "الاسبانية", "اسباني", "إسباني"],
    "de": ["german", "alemán", "aleman", "deutsch", "allemand", "德语", "德文", "الألمانية", "الالمانية", "الماني", "ألماني"],
    "fr": ["french", "francés", "frances", "französisch", "franzosisch", "français", "francais", "法语", "法文", "الفرنسية", "فرنسي", "فرنساوي"],
    "zh": ["chinese", "mandarin", "chino", "mandarín", "chinesisch", "chinois", "中文", "汉语", "普通话", "华语", "الصينية", "صيني"],
    "ar": ["arabic", "árabe", "arabe", "arabisch", "阿拉伯语", "阿拉伯文", "العربية", "عربي", "عربية"],
}


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
