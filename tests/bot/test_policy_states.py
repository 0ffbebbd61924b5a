"""Policies get only the last states they read (bot/dialogue_states.py, fix 7), and decide as with all.

RulePolicy matches rules against the conversation's last states; MemoizationPolicy reads its
`max_history`. On generated conversations (forms, reverts, restarts, sessions), with rules cut
from the conversation's own states (snippets, conversation starts, loop unhappy paths), the
rules that match and Memoization's states must be those of Rasa's own `_prediction_states`.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot import dialogue_states
from bot.rasa_patches import STOCK_FUNCTIONS, apply_rasa_patches
from tests.bot.test_dialogue_states import random_event
from tests.conftest import REPO


@pytest.fixture(scope="module")
def domain() -> Domain:
    assert apply_rasa_patches(), "the fixes apply on this Rasa"
    return Domain.load(REPO / "domain.yml")


def policy(cls: type, tmp_path: Path, **config: Any) -> Policy:
    context = ExecutionContext(GraphSchema({}), "test")
    return cls.create({**cls.get_default_config(), **config}, LocalModelStorage(tmp_path), Resource(cls.__name__), context)


def stock(policy: Policy, tracker: DialogueStateTracker, domain: Domain, use_text: bool) -> List[Dict[str, Any]]:
    """Rasa's own `_prediction_states` over Rasa's own dialogue states, on a copy of the tracker
    (Rasa's replay changes events in place: see tests/bot/test_dialogue_states.py)."""
    patched = DialogueStateTracker.applied_events, Domain.states_for_tracker_history
    DialogueStateTracker.applied_events = STOCK_FUNCTIONS["applied_events"]
    Domain.states_for_tracker_history = STOCK_FUNCTIONS["states_for_tracker_history"]
    try:
        return STOCK_FUNCTIONS["prediction_states"](policy, copy.deepcopy(tracker), domain, use_text)
    finally:
        DialogueStateTracker.applied_events, Domain.states_for_tracker_history = patched


def learn_rules(rng: random.Random, rules: RulePolicy, states: List[Dict[str, Any]]) -> None:
    """Rules as RulePolicy stores them, cut from this conversation's states: snippets of the last
    few states, conversation starts, and loop unhappy paths."""
    length = rng.randint(1, min(6, len(states)))
    if rng.random() < 0.3:
        cut = states[:length]  # conversation_start: true
    else:
        cut = [{"prev_action": {"action_name": RULE_SNIPPET_ACTION_NAME}}] + states[-length:]
    table = RULES_FOR_LOOP_UNHAPPY_PATH if rng.random() < 0.2 else RULES
    key = rules._create_feature_key(json.loads(json.dumps(cut)))
    if key:
        rules.lookup.setdefault(table, {})[key] = "utter_greet"


@pytest.mark.parametrize("seed", range(8))
def test_policies_decide_on_the_last_states_as_on_all(domain: Domain, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    dialogue_states.clear()
    rules = policy(RulePolicy, tmp_path)
    rules.lookup = {RULES: {}, RULES_FOR_LOOP_UNHAPPY_PATH: {}}
    memoization = policy(MemoizationPolicy, tmp_path, max_history=5)
    tracker = DialogueStateTracker(f"policy-states-{seed}", domain.slots)
    cut = 0
    for step in range(150):
        tracker.update(random_event(rng, domain))
        if rng.random() < 0.3:
            continue
        for use_text in (False, True):
            everything = stock(rules, tracker, domain, use_text)
            if everything and rng.random() < 0.3:
                learn_rules(rng, rules, everything)
            last = rules._prediction_states(tracker, domain, use_text)
            assert last == everything[-len(last):]
            cut += len(last) < len(everything)
            for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
                assert rules._get_possible_keys(rules.lookup[table], last) == rules._get_possible_keys(rules.lookup[table], everything)
            assert memoization._prediction_states(tracker, domain, use_text) == stock(memoization, tracker, domain, use_text)
    assert rules.lookup[RULES], "the conversation taught rules"
    assert cut, "RulePolicy got fewer states than the whole conversation's"


def test_how_many_states_each_policy_reads(domain: Domain, tmp_path: Path) -> None:
    rules = policy(RulePolicy, tmp_path)
    rules.lookup = {RULES: {json.dumps([{}, {}, {}]): "utter_greet"}, RULES_FOR_LOOP_UNHAPPY_PATH: {}}
    assert dialogue_states.states_read_by(rules) == 4
    rules.lookup = {RULES: {json.dumps([{}] * 7): "utter_greet"}, RULES_FOR_LOOP_UNHAPPY_PATH: {}}  # retrained
    assert dialogue_states.states_read_by(rules) == 8
    assert dialogue_states.states_read_by(policy(MemoizationPolicy, tmp_path, max_history=3)) == 3
    assert dialogue_states.states_read_by(policy(MemoizationPolicy, tmp_path, max_history=None)) is None
