"""Rasa 3.6.21's dialogue states, computed for the new events only (installed by bot/rasa_patches.py).

Each prediction asks for the states of the whole conversation: `Domain.states_for_tracker_history`
replays every event into a fresh tracker and builds one state per action, and
`DialogueStateTracker.applied_events`, which it starts with, walks every event too. Policies ask
several times a turn, so at the 50th turn this was half of the turn (under cProfile 85 ms of
187 ms). Both are walks over an event list that only grows, so here each keeps where it stopped:

- `applied_events` remembers, on the tracker, how many events it had walked and what it found,
  and walks only the events added since;
- `states_for_tracker_history` keeps, per conversation, the replayed tracker, the states and the
  loop's variables after the events it has consumed, and goes on from there when the events it
  is asked about begin with those (the same objects, or events equal in every field: a tracker
  read back from the store holds redacted copies of the last turn's events).

Anything else (an event list that is not an extension of the last one, a new loop name, a full
`max_event_history` window) is computed from the start, as Rasa does.

`Policy._prediction_states` (fix 7) asks only for the states a policy reads: MemoizationPolicy
the last `max_history`, RulePolicy as many as its longest rule has (a rule is matched against
the conversation's last states, and any state further back matches every rule). The states
returned are copies, since callers change them in place; copying the whole conversation's states
for each policy was what still grew with the conversation. The loop bodies are Rasa
3.6.21's, unchanged; tests/bot/test_dialogue_states.py compares both functions with Rasa's own,
event after event, on generated conversations (forms, reverts, restarts, sessions, read-backs).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Text, Tuple

from rasa.shared.core import constants
from rasa.shared.core.constants import ACTION_UNLIKELY_INTENT_NAME
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_NAME

# The tracker attribute holding `applied_events`' progress (bot/tracker_copy.py's `fork` carries
# it over to the copies it makes).
APPLIED_MEMO = "_applied_events_memo"
# The RulePolicy attribute holding how many states its longest rule has, and for which tables.
RULE_LENGTH_MEMO = "_longest_rule_memo"
# How many of the last states the policy asking now reads (None: all of them); see `prediction_states`.
_states_read: ContextVar[Optional[int]] = ContextVar("states_read", default=None)
# Conversations whose states are kept (a long one holds ~100 KB of states); the least recently
# asked one goes first.
MAX_CONVERSATIONS = 1024


@dataclass(frozen=True)
class AppliedMemo:
    """`applied_events` after the first `walked` events, the last of them `last`."""

    walked: int
    last: Optional[Event]
    loop_names: FrozenSet[Text]
    applied: Tuple[Event, ...]


def applied_events(self: DialogueStateTracker) -> List[Event]:
    """Rasa 3.6.21's `DialogueStateTracker.applied_events`, walking only the events added since the last call."""
    memo: Optional[AppliedMemo] = getattr(self, APPLIED_MEMO, None)
    if memo is not None and _extends(self.events, memo):
        added = list(itertools.islice(self.events, memo.walked, None))
        # A new loop name changes how the earlier events read: then they are walked again.
        if memo.loop_names.issuperset(_loop_names(added)):
            return _walk_applied(self, added, memo.loop_names, list(memo.applied))
    everything = list(self.events)
    return _walk_applied(self, everything, _loop_names(everything), [])


def _walk_applied(self: DialogueStateTracker, events: List[Event], loop_names: FrozenSet[Text],
                  applied: List[Event]) -> List[Event]:
    """Rasa's loop, as it is, over `events`, from `applied` (what the events before them gave)."""
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            self._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            self._undo_till_previous(UserUttered, applied)
            self._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not self._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            self._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    if self.events.maxlen is None:
        last = self.events[-1] if self.events else None
        setattr(self, APPLIED_MEMO, AppliedMemo(len(self.events), last, loop_names, tuple(applied)))
    return applied


def _extends(events: Any, memo: AppliedMemo) -> bool:
    """Whether `events` are the memo's events plus new ones (Rasa only ever appends)."""
    if events.maxlen is not None or len(events) < memo.walked:
        return False
    return memo.walked == 0 or events[memo.walked - 1] is memo.last


def _loop_names(events: Sequence[Event]) -> FrozenSet[Text]:
    return frozenset(event.name for event in events if isinstance(event, ActiveLoop) and event.name)


@dataclass
class StatesWalk:
    """`states_for_tracker_history`'s loop, paused after the events in `consumed`."""

    domain: Domain
    rule_only_data: Optional[Dict[Text, Any]]
    replay: DialogueStateTracker
    consumed: List[Event] = field(default_factory=list)
    states: List[State] = field(default_factory=list)
    last_ml_action_sub_state: Optional[Dict[Text, Any]] = None
    turn_was_hidden: bool = False
    # The user messages the kept states read (their index in `consumed`), with the
    # `use_text_for_featurization` each had then: events change it in place
    # (DefinePrevUserUtteredFeaturization), and Rasa reads it afresh each time.
    read_messages: List[Tuple[int, Optional[bool]]] = field(default_factory=list)
    latest_message: Optional[int] = None  # index in `consumed` of the replay's latest message

    def visit(self, tracker: DialogueStateTracker, hide_rule_turn: bool, omit_unset_slots: bool,
              ignore_rule_only_turns: bool, states: List[State]) -> Tuple[Optional[Dict[Text, Any]], bool]:
        """Rasa's loop body for one prior tracker; returns the loop's variables after it."""
        domain, last_ml_action_sub_state, turn_was_hidden = self.domain, self.last_ml_action_sub_state, self.turn_was_hidden
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return last_ml_action_sub_state, turn_was_hidden
        state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[constants.PREVIOUS_ACTION] = last_ml_action_sub_state
        states.append(domain._clean_state(state))
        return last_ml_action_sub_state, turn_was_hidden


_walks: "OrderedDict[Tuple[Text, bool, bool], StatesWalk]" = OrderedDict()


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """Rasa 3.6.21's `Domain.states_for_tracker_history`, going on from the conversation's last call."""
    applied = tracker.applied_events()
    key = (tracker.sender_id, omit_unset_slots, ignore_rule_only_turns)
    walk = _walks.pop(key, None)
    if walk is None or not _resumable(walk, self, rule_only_data, applied):
        walk = StatesWalk(self, rule_only_data, tracker.init_copy())
    elif walk.latest_message is not None:
        # The tracker's own object, which its events change and Rasa's replay would read.
        walk.replay.latest_message = applied[walk.latest_message]
    for index in range(len(walk.consumed), len(applied)):
        event = applied[index]
        if isinstance(event, ActionExecuted):
            walk.last_ml_action_sub_state, walk.turn_was_hidden = walk.visit(
                walk.replay, event.hide_rule_turn, omit_unset_slots, ignore_rule_only_turns, walk.states
            )
            if walk.latest_message is not None and (not walk.read_messages or walk.read_messages[-1][0] != walk.latest_message):
                walk.read_messages.append((walk.latest_message, applied[walk.latest_message].use_text_for_featurization))
        elif isinstance(event, UserUttered):
            walk.latest_message = index
        walk.replay.update(event)
    walk.consumed = applied
    if not tracker.is_rule_tracker:  # training's rule trackers are read once each
        _walks[key] = walk
        while len(_walks) > MAX_CONVERSATIONS:
            _walks.popitem(last=False)
    read = _states_read.get()
    # `read` kept states and the tracker's own: that one is not added when its turn is hidden
    # from policies of stories, and is otherwise completed from the state before it.
    states = list(walk.states) if read is None else _last_states(walk.states, read)
    walk.visit(walk.replay, False, omit_unset_slots, ignore_rule_only_turns, states)  # the tracker as it is now
    return _copied(states)


def _last_states(states: List[State], count: int) -> List[State]:
    """The last states, back to the `count`-th from the end that is not an `action_unlikely_intent`
    state (policies of stories drop those before slicing theirs)."""
    counted = 0
    for index in range(len(states) - 1, -1, -1):
        if states[index].get(constants.PREVIOUS_ACTION, {}).get(ACTION_NAME) != ACTION_UNLIKELY_INTENT_NAME:
            counted += 1
            if counted == count:
                return states[index:]
    return list(states)


def prediction_states(
    self: Any,
    tracker: DialogueStateTracker,
    domain: Domain,
    use_text_for_last_user_input: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """Rasa 3.6.21's `Policy._prediction_states`, computing only the last states the policy reads."""
    from rasa.core.policies.policy import SupportedData

    token = _states_read.set(states_read_by(self))
    try:
        return self.featurizer.prediction_states(
            [tracker],
            domain,
            use_text_for_last_user_input=use_text_for_last_user_input,
            ignore_rule_only_turns=self.supported_data() == SupportedData.ML_DATA,
            rule_only_data=rule_only_data,
            ignore_action_unlikely_intent=self.supported_data() == SupportedData.ML_DATA,
        )[0]
    finally:
        _states_read.reset(token)


def states_read_by(policy: Any) -> Optional[int]:
    """How many of the conversation's last states `policy` reads, or None (all, or not known).

    RulePolicy matches each rule against the last states, as many as the rule has, and takes any
    state further back as matching (`_is_rule_applicable`); MemoizationPolicy reads `max_history`."""
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy

    if isinstance(policy, RulePolicy):
        tables = (policy.lookup.get(RULES, {}), policy.lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {}))
        sizes = tuple(map(len, tables))
        kept = getattr(policy, RULE_LENGTH_MEMO, None)
        # The memo holds the tables it was made from: a new training makes new ones.
        if kept is None or not all(a is b for a, b in zip(kept[0], tables)) or kept[1] != sizes:
            longest = max((len(policy._rule_key_to_state(key)) for key in itertools.chain(*tables)), default=0)
            kept = (tables, sizes, longest + 1)
            setattr(policy, RULE_LENGTH_MEMO, kept)
        return kept[2]
    if isinstance(policy, MemoizationPolicy) and getattr(policy.featurizer, "max_history", None):
        return int(policy.featurizer.max_history)
    return None


def _resumable(walk: StatesWalk, domain: Domain, rule_only_data: Optional[Dict[Text, Any]], applied: List[Event]) -> bool:
    if walk.domain is not domain or walk.rule_only_data != rule_only_data or len(applied) < len(walk.consumed):
        return False
    consumed = len(walk.consumed)
    # Mostly the very same objects: compared by identity at C speed, event by event only if not.
    if list(map(id, walk.consumed)) != list(map(id, itertools.islice(applied, consumed))) and not all(
        before is after or _same_event(before, after) for before, after in zip(walk.consumed, applied)
    ):
        return False
    return all(applied[index].use_text_for_featurization == used for index, used in walk.read_messages)


def _same_event(before: Event, after: Event) -> bool:
    """Equal in every field that is stored (what Rasa itself has of an event read back from a store)."""
    return type(before) is type(after) and before.as_dict() == after.as_dict()


def _copied(states: List[State]) -> List[State]:
    """The states with dicts of their own (callers change them in place); sub-states that Rasa's
    loop shares between states stay shared among the copies, as they are in Rasa's result."""
    copies: Dict[int, Dict[Text, Any]] = {}
    result = []
    for state in states:
        copied = {}
        for name, sub_state in state.items():
            if type(sub_state) is dict:
                if id(sub_state) not in copies:
                    copies[id(sub_state)] = dict(sub_state)
                sub_state = copies[id(sub_state)]
            copied[name] = sub_state
        result.append(copied)
    return result


def forget(sender_id: Text) -> None:
    """Drops what is kept of a conversation: the tracker store calls this when a turn had personal
    data, which the kept events and replayed slots would otherwise hold in clear until next turn."""
    for omit_unset_slots in (False, True):
        for ignore_rule_only_turns in (False, True):
            _walks.pop((sender_id, omit_unset_slots, ignore_rule_only_turns), None)


def clear() -> None:
    """Forgets every conversation's states (tests; a new model's domain is never resumed anyway)."""
    _walks.clear()


def installed() -> bool:
    """Whether Rasa runs these functions (bot/rasa_patches.py installs them on Rasa 3.6.21 only)."""
    return DialogueStateTracker.applied_events is applied_events
