"""Rasa policy that keeps the conversation's `frustration` slot and offers an agent after the answer.

`cs_transformer.FrustrationScorer` scores each message (`parse_data["frustration"]`). What one
message cannot show belongs to the conversation, and this policy adds it inside Rasa, with no
action-server call per message:

- the previous turn's score, faded by `decay`;
- the bot failing: a step (`fallback_step`) per message among the last `recent_turns` that it
  could not serve (`failure_intents`: `nlu_fallback`, `out_of_scope`) beyond the first;
- the same request again after an answer that did not help: a step (`repeat_step`) per message
  in a row with the previous one's intent when the message is the same text again or carries a
  negative signal of its own (message score of at least `negative_signal`). Related questions
  that were answered ("how much is shipping?", "and to Spain?", "what does express cost?") are
  the customer getting help, not frustration, and add nothing.

How it acts: right after a user message it predicts nothing and returns the mandatory event
`SlotSet("frustration", score)`, so the other policies answer the message as usual. After the
answer's first action, on the turn the score reaches `threshold`, it predicts `offer_action`
(`utter_offer_handoff_frustrated`) with the optional event `SlotSet("handoff_offered", True)`,
then `action_listen`; its priority (7) is above RulePolicy's, so it wins those two steps. The
usual rules take over from there: *yes* → `action_handoff`, *no* → `action_decline_handoff`.
No offer while a form runs (it would break the form), when one was made already, or when the
message has rules of its own (`own_rules_intents`: a complaint, asking for a person).

    policies:
      - name: cs_transformer.FrustrationPolicy
        threshold: 0.5          # all keys and defaults: README, "Frustration"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.constants import RULE_POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, Restarted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from cs_transformer.config_validation import Option, list_of_strings, positive, probability, validate_config

_SCORE_HELP = "a number between 0 and 1"
_SPACE_AND_MARKS = re.compile(r"[\W_]+", re.UNICODE)

CONFIG_SCHEMA: Dict[Text, Option] = {
    "threshold": Option((int, float), f"{_SCORE_HELP} (conversation score that makes the bot offer an agent)", probability),
    "fallback_step": Option((int, float), f"{_SCORE_HELP} (added per failed message beyond the first)", probability),
    "repeat_step": Option((int, float), f"{_SCORE_HELP} (added per unhelped repetition)", probability),
    "decay": Option((int, float), f"{_SCORE_HELP} (share of the last turn's score carried over)", probability),
    "negative_signal": Option(
        (int, float), f"{_SCORE_HELP} (message score that makes a repeated request count)", probability
    ),
    "recent_turns": Option(int, "a positive integer (user messages looked at)", positive),
    "failure_intents": Option(list, "a list of intent names the bot could not serve, e.g. [nlu_fallback]", list_of_strings),
    "neutral_intents": Option(list, "a list of intent names repeated naturally, e.g. [affirm, deny]", list_of_strings),
    "own_rules_intents": Option(list, "a list of intent names whose rules offer an agent themselves", list_of_strings),
    "score_slot": Option(str, "the name of the float slot that holds the score", lambda value: bool(value)),
    "offered_slot": Option(str, "the name of the bool slot set when the offer is made", lambda value: bool(value)),
    "offer_action": Option(str, "the response or action that offers an agent", lambda value: bool(value)),
    "priority": Option(int, "a whole number (above RulePolicy's 6, so the offer wins its step)", positive),
}


@dataclass(frozen=True)
class Turn:
    """The latest user message and what the bot has done since."""

    messages: List[UserUttered]  # the last `recent_turns` user messages, oldest first
    previous_score: float  # the score slot before the latest message
    actions: List[Text]  # actions run since the latest message
    loop_involved: bool  # a form ran or started this turn


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class FrustrationPolicy(Policy):
    """Conversation-level frustration, and the offer of an agent after the bot's answer."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "threshold": 0.5,
            "fallback_step": 0.25,
            "repeat_step": 0.25,
            "decay": 0.5,
            "negative_signal": 0.2,
            "recent_turns": 4,
            "failure_intents": ["nlu_fallback", "out_of_scope"],
            "neutral_intents": ["affirm", "deny", "inform_order_number", "greet", "thank_you", "goodbye"],
            "own_rules_intents": ["complaint", "human_handoff"],
            "score_slot": "frustration",
            "offered_slot": "handoff_offered",
            "offer_action": "utter_offer_handoff_frustrated",
            "priority": RULE_POLICY_PRIORITY + 1,
        }

    def __init__(self, config: Dict[Text, Any], *args: Any, **kwargs: Any) -> None:
        validate_config(type(self).__name__, config, CONFIG_SCHEMA)
        super().__init__({**self.get_default_config(), **config}, *args, **kwargs)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the rules are its config."""
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        turn = self._turn(tracker)
        if turn is None or tracker.is_paused():
            return self._prediction(probabilities)
        score, signals = self.conversation_score(turn)
        if not turn.actions:  # the message has just arrived: the score, and the others answer it
            return self._prediction(probabilities, events=[SlotSet(self.config["score_slot"], score)])
        if turn.actions[-1] == self.config["offer_action"]:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if self._should_offer(tracker, turn, score):
            probabilities[domain.index_for_action(self.config["offer_action"])] = 1.0
            return self._prediction(
                probabilities,
                optional_events=[SlotSet(self.config["offered_slot"], True)],
                diagnostic_data={"frustration": score, "signals": signals},
            )
        return self._prediction(probabilities)

    def conversation_score(self, turn: Turn) -> Tuple[float, List[Text]]:
        """The conversation's score in [0, 1] after the latest message, and the signals behind it."""
        config = self.config
        latest = turn.messages[-1]
        message_score, signals = _message_frustration(latest)
        carried = turn.previous_score * config["decay"]
        score = max(message_score, carried)
        if carried > message_score:
            signals.append("earlier_turns")
        failures = sum(message.intent_name in config["failure_intents"] for message in turn.messages)
        if failures > 1:
            score += config["fallback_step"] * (failures - 1)
            signals.append("repeated_failure")
        repeats = self._unhelped_repeats(turn.messages)
        if repeats:
            score += config["repeat_step"] * repeats
            signals.append("repeated_request")
        return round(min(1.0, score), 4), signals

    def _unhelped_repeats(self, messages: List[UserUttered]) -> int:
        """Messages in a row, ending with the latest, that ask again what the one before asked.

        Each counts only when it is the same text again or sounds negative itself: a follow-up
        on the same topic after a helpful answer is no sign of frustration. Failed messages
        are counted as failures, not again here.
        """
        config = self.config
        ignored = set(config["neutral_intents"]) | set(config["failure_intents"])
        count = 0
        for earlier, later in zip(reversed(messages[:-1]), reversed(messages[1:])):
            if later.intent_name is None or later.intent_name in ignored or _request(later) != _request(earlier):
                break
            if not (_same_text(earlier, later) or _message_frustration(later)[0] >= config["negative_signal"]):
                break
            count += 1
        return count

    def _should_offer(self, tracker: DialogueStateTracker, turn: Turn, score: float) -> bool:
        """On the turn the score reaches the threshold, once, after the answer, outside forms."""
        config = self.config
        return (
            score >= config["threshold"] > turn.previous_score
            and turn.messages[-1].intent_name not in config["own_rules_intents"]
            and not tracker.get_slot(config["offered_slot"])
            and not turn.loop_involved
            and config["offer_action"] not in turn.actions
        )

    def _turn(self, tracker: DialogueStateTracker) -> Optional[Turn]:
        """Reads the tracker from its end back only as far as this policy needs (this session)."""
        messages: List[UserUttered] = []
        actions: List[Text] = []
        loop_involved = tracker.active_loop_name is not None
        previous_score: Optional[float] = None
        for event in reversed(tracker.events):
            if isinstance(event, (SessionStarted, Restarted)):
                break
            if isinstance(event, UserUttered):
                messages.append(event)
            elif not messages:
                actions.extend(_action_name(event))
                loop_involved = loop_involved or isinstance(event, ActiveLoop)
            elif previous_score is None and _is_score(event, self.config["score_slot"]):
                previous_score = float(event.value or 0.0)
            if len(messages) >= self.config["recent_turns"] and previous_score is not None:
                break
        if not messages:
            return None
        return Turn(list(reversed(messages[: self.config["recent_turns"]])), previous_score or 0.0,
                    list(reversed(actions)), loop_involved)


def _message_frustration(message: UserUttered) -> Tuple[float, List[Text]]:
    """The FrustrationScorer's score of one message and its signals (0 and none without it)."""
    scored = message.parse_data.get("frustration") or {}
    return float(scored.get("score") or 0.0), list(scored.get("signals") or [])


def _request(message: UserUttered) -> Optional[Text]:
    """What the message asks for: its intent, or for a retrieval intent its answer's key (`faq/shipping_cost`)."""
    selected = (message.parse_data.get("response_selector") or {}).get(message.intent_name) or {}
    return (selected.get("response") or {}).get("intent_response_key") or message.intent_name


def _same_text(earlier: UserUttered, later: UserUttered) -> bool:
    """The same words again, whatever the case, spacing and punctuation."""
    def words(message: UserUttered) -> Text:
        return _SPACE_AND_MARKS.sub(" ", (message.text or "").casefold()).strip()

    return bool(words(later)) and words(earlier) == words(later)


def _action_name(event: Event) -> List[Text]:
    return [event.action_name] if isinstance(event, ActionExecuted) and event.action_name else []


def _is_score(event: Event, slot: Text) -> bool:
    return isinstance(event, SlotSet) and event.key == slot
