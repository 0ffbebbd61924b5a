"""The in-memory event log (bot/memory_tracker_store.py) gives what Rasa's in-memory store gives."""

from __future__ import annotations

import asyncio
from typing import List

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.memory_tracker_store import EventLogTrackerStore, fork
from tests.conftest import REPO


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(REPO / "domain.yml")


def turn(number: int) -> List[Event]:
    return [
        UserUttered(f"order {number}", {"name": "order_status", "confidence": 0.9},
                    [{"entity": "order_number", "value": str(number), "start": 6, "end": 11}]),
        ActionExecuted("action_order_status"),
        SlotSet("order_number", str(number)),
        BotUttered(f"Order {number} is on its way."),
        ActionExecuted("action_listen"),
    ]


def session_start() -> List[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(), SlotSet("language", "es"), ActionExecuted("action_listen")]


async def one_turn_at_a_time(store, sender: str, turns: List[List[Event]]) -> None:
    """As Rasa's processor does: read the conversation, add the turn, save it."""
    for events in turns:
        tracker = await store.retrieve(sender) or store.init_tracker(sender)
        read = list(tracker.events)
        for event in events:
            tracker.update(event)
        if isinstance(store, EventLogTrackerStore) and read and await store.append(sender, read, events):
            continue
        await store.save(tracker)


def test_retrieve_gives_what_rasas_store_gives_across_sessions(domain: Domain) -> None:
    turns = [session_start(), turn(10001), turn(10002), session_start(), turn(10003)]
    ours, rasas = EventLogTrackerStore(domain), InMemoryTrackerStore(domain)
    asyncio.run(one_turn_at_a_time(ours, "maria", turns))
    asyncio.run(one_turn_at_a_time(rasas, "maria", turns))
    mine, theirs = asyncio.run(ours.retrieve("maria")), asyncio.run(rasas.retrieve("maria"))
    assert mine.current_state(EventVerbosity.ALL) == theirs.current_state(EventVerbosity.ALL)
    assert mine.get_slot("language") == "es" and mine.get_slot("order_number") == "10003"
    # Rasa's store forgets the first session at the first save after the second began; this keeps it.
    assert len(asyncio.run(ours.retrieve_full_tracker("maria")).events) == sum(len(events) for events in turns)


def test_a_retrieved_tracker_is_a_copy(domain: Domain) -> None:
    store = EventLogTrackerStore(domain)
    asyncio.run(one_turn_at_a_time(store, "copy", [session_start(), turn(10001)]))
    first = asyncio.run(store.retrieve("copy"))
    first.update(SlotSet("order_number", "99999"))
    first.update(UserUttered("changed", {"name": "greet"}))
    second = asyncio.run(store.retrieve("copy"))
    assert second.get_slot("order_number") == "10001" and second.latest_message.text == "order 10001"
    assert len(second.events) == len(first.events) - 2


def test_fork_equals_its_tracker_and_shares_only_the_events(domain: Domain) -> None:
    tracker = DialogueStateTracker("fork", domain.slots)
    for event in session_start() + turn(10001):
        tracker.update(event)
    forked = fork(tracker)
    assert forked.current_state(EventVerbosity.ALL) == tracker.current_state(EventVerbosity.ALL)
    assert forked.events is not tracker.events and forked.slots["order_number"] is not tracker.slots["order_number"]
    forked.update(SlotSet("order_number", "10002"))
    assert tracker.get_slot("order_number") == "10001"


def test_append_refuses_a_session_that_changed_since_it_was_read(domain: Domain) -> None:
    store = EventLogTrackerStore(domain)
    asyncio.run(one_turn_at_a_time(store, "race", [session_start()]))
    stale = asyncio.run(store.retrieve("race"))
    asyncio.run(one_turn_at_a_time(store, "race", [turn(10001)]))
    assert not asyncio.run(store.append("race", list(stale.events), turn(10002)))
    assert asyncio.run(store.retrieve("race")).get_slot("order_number") == "10001"


def test_new_events_reach_the_event_broker_once(domain: Domain) -> None:
    class Broker:
        def __init__(self) -> None:
            self.published: List[dict] = []

        def publish(self, event: dict) -> None:
            self.published.append(event)

    broker = Broker()
    store = EventLogTrackerStore(domain, broker)
    turns = [session_start(), turn(10001), turn(10002)]
    asyncio.run(one_turn_at_a_time(store, "broker", turns))
    assert [event["event"] for event in broker.published] == [event.type_name for events in turns for event in events]
    assert {event["sender_id"] for event in broker.published} == {"broker"}
