"""FrustrationPolicy: the conversation's score, and the offer of an agent after the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from cs_transformer import FrustrationPolicy

REPO = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(REPO / "domain.yml")
OFFER = "utter_offer_handoff_frustrated"


def policy(tmp_path: Path, **config: Any) -> FrustrationPolicy:
    return FrustrationPolicy.create(
        {**FrustrationPolicy.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("frustration_policy"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def said(
    text: str, intent: str, score: float = 0.0, signals: Optional[List[str]] = None, answer: Optional[str] = None
) -> UserUttered:
    """A parsed message; `answer` is the retrieval intent's key the response selector chose."""
    parse_data: Dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "frustration": {"score": score, "signals": signals or []},
    }
    if answer:
        parse_data["response_selector"] = {intent: {"response": {"intent_response_key": answer}}}
    return UserUttered(text, parse_data["intent"], [], parse_data)


class Conversation:
    """A tracker run through the policy the way Rasa's prediction loop runs it."""

    def __init__(self, policy: FrustrationPolicy) -> None:
        self.policy = policy
        self.tracker = DialogueStateTracker.from_events("customer", [ActionExecuted(ACTION_LISTEN_NAME)], DOMAIN.slots)

    def turn(self, message: UserUttered, answer: str = "utter_anything_else", *before: Event) -> List[str]:
        """The customer's message, the bot's `answer`, and what the policy adds; its actions."""
        for event in (*before, message):
            self.tracker.update(event, DOMAIN)
        first = self.predict()
        assert max(first.probabilities) == 0.0  # right after the message the others answer it
        self.apply(first.events)
        actions = [answer]
        self.tracker.update(ActionExecuted(answer), DOMAIN)
        while True:
            prediction = self.predict()
            if max(prediction.probabilities) == 0.0:
                return actions
            action = DOMAIN.action_names_or_texts[prediction.probabilities.index(1.0)]
            self.apply(prediction.events + prediction.optional_events)
            self.tracker.update(ActionExecuted(action), DOMAIN)
            actions.append(action)
            if action == ACTION_LISTEN_NAME:
                return actions

    def predict(self):
        return self.policy.predict_action_probabilities(self.tracker, DOMAIN)

    def apply(self, events: List[Event]) -> None:
        for event in events:
            self.tracker.update(event, DOMAIN)

    def slot(self, name: str) -> Any:
        return self.tracker.get_slot(name)


def test_related_questions_that_were_answered_are_not_frustration(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    for text in ("how much is shipping?", "and how much is shipping to Spain?", "what does express shipping cost?"):
        assert chat.turn(said(text, "faq", 0.02, ["intent:complaint"]), "utter_faq") == ["utter_faq"]
    assert chat.slot("frustration") < 0.5 and not chat.slot("handoff_offered")


def test_the_same_request_again_counts_and_the_offer_follows_the_answer(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    assert chat.turn(said("where is my order?", "order_status"), "action_order_status") == ["action_order_status"]
    assert chat.turn(said("Where is my order", "order_status"), "action_order_status") == ["action_order_status"]
    assert chat.slot("frustration") == 0.25
    third = chat.turn(said("where is my order??", "order_status"), "action_order_status")
    assert third == ["action_order_status", OFFER, ACTION_LISTEN_NAME]
    assert chat.slot("frustration") >= 0.5 and chat.slot("handoff_offered") is True


def test_a_follow_up_that_sounds_angry_counts_as_a_repetition(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    chat.turn(said("where is my order?", "order_status"))
    chat.turn(said("I asked where my order is!!!", "order_status", 0.2, ["punctuation"]))
    assert chat.slot("frustration") == pytest.approx(0.45)  # 0.2 for "!!!" and 0.25 for asking again


def test_repeated_failures_reach_the_threshold_on_the_third(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    football = "Wer hat gestern das Fußballspiel gewonnen?"
    assert chat.turn(said(football, "out_of_scope"), "utter_out_of_scope") == ["utter_out_of_scope"]
    assert chat.turn(said(football, "nlu_fallback"), "utter_default") == ["utter_default"]
    assert chat.slot("frustration") == 0.25
    assert chat.turn(said(football, "out_of_scope"), "utter_out_of_scope") == ["utter_out_of_scope", OFFER, "action_listen"]


def test_one_profane_message_gets_its_answer_then_the_offer(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    actions = chat.turn(said("where is my fucking order", "order_status", 0.6, ["profanity"]), "action_order_status")
    assert actions == ["action_order_status", OFFER, ACTION_LISTEN_NAME]
    # Still above the threshold next turn, but the offer is made once per rise.
    assert chat.turn(said("and the refund?", "refund_status", 0.0)) == ["utter_anything_else"]
    assert chat.slot("frustration") == 0.3


def test_complaints_forms_and_earlier_offers_get_no_second_offer(tmp_path: Path) -> None:
    complaint = Conversation(policy(tmp_path))
    assert complaint.turn(said("this is useless", "complaint", 0.6), "action_offer_handoff") == ["action_offer_handoff"]
    form = Conversation(policy(tmp_path))
    angry_address = said("change my damn address", "change_address", 0.6, ["profanity"])
    assert form.turn(angry_address, "address_form", ActiveLoop("address_form")) == ["address_form"]
    offered = Conversation(policy(tmp_path))
    assert offered.turn(said("damn", "order_status", 0.6), "utter_anything_else", SlotSet("handoff_offered", True)) == [
        "utter_anything_else"
    ]


def test_a_paused_conversation_and_a_new_session_start_from_scratch(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    chat.turn(said("damn it", "order_status", 0.6))
    chat.tracker.update(SessionStarted(), DOMAIN)
    chat.tracker.update(ActionExecuted(ACTION_LISTEN_NAME), DOMAIN)
    chat.turn(said("hello", "greet"))
    assert chat.slot("frustration") == 0.0
    chat.tracker.update(ConversationPaused(), DOMAIN)
    chat.tracker.update(said("hello?", "greet", 0.9), DOMAIN)
    assert chat.predict().events == []


def test_the_threshold_is_a_config_key(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path, threshold=0.8))
    assert chat.turn(said("where is my fucking order", "order_status", 0.6)) == ["utter_anything_else"]


@pytest.mark.parametrize("config, key", [({"threshold": 2}, "threshold"), ({"thresold": 0.5}, "thresold")])
def test_a_bad_key_names_itself(tmp_path: Path, config: Dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidConfigException, match=key):
        policy(tmp_path, **config)


def test_another_faq_is_another_request_even_when_it_sounds_impatient(tmp_path: Path) -> None:
    chat = Conversation(policy(tmp_path))
    chat.turn(said("how much is shipping?", "faq", answer="faq/shipping_cost"), "utter_faq")
    chat.turn(said("and your opening hours???", "faq", 0.2, ["punctuation"], answer="faq/opening_hours"), "utter_faq")
    assert chat.slot("frustration") == 0.2
    chat.turn(said("opening hours, I said!!!", "faq", 0.2, ["punctuation"], answer="faq/opening_hours"), "utter_faq")
    assert chat.slot("frustration") == 0.45
