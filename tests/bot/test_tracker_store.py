"""The redacting tracker store over Rasa's SQL store on SQLite: what is persisted has no PII."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.memory_tracker_store import EventLogTrackerStore
from bot.tracker_store import RedactingTrackerStore
from tests.conftest import REPO

CARD, EMAIL, PHONE = "4111 1111 1111 1111", "maria.garcia@example.com", "+34 612 345 678"
ADDRESS = "Calle Mayor 5, 28013 Madrid"


def conversation(sender: str) -> DialogueStateTracker:
    domain = Domain.load(REPO / "domain.yml")
    tracker = DialogueStateTracker(sender, domain.slots)
    for event in [
        ActionExecuted("action_listen"),
        UserUttered(f"pay with {CARD} and mail {EMAIL}", {"name": "payment_methods", "confidence": 0.9},
                    metadata={"from": PHONE}),
        BotUttered(f"We will call you on {PHONE}."),
        UserUttered(ADDRESS, {"name": "change_address_to", "confidence": 0.9},
                    [{"entity": "address", "value": ADDRESS, "start": 0, "end": len(ADDRESS)}]),
        SlotSet("new_address", ADDRESS),
        UserUttered("order 10001 please", {"name": "order_status", "confidence": 0.9}),
    ]:
        tracker.update(event)
    return tracker


def test_sql_store_persists_no_personal_data(tmp_path: Path) -> None:
    database = tmp_path / "trackers.db"
    domain = Domain.load(REPO / "domain.yml")
    store = RedactingTrackerStore(domain, store="sql", dialect="sqlite", db=str(database))
    tracker = conversation("redaction-1")

    asyncio.run(store.save(tracker))

    with sqlite3.connect(database) as connection:
        stored = "\n".join(row[0] for row in connection.execute("SELECT data FROM events"))
    for secret in (CARD, CARD.replace(" ", ""), EMAIL, PHONE, "612 345 678", ADDRESS, "Calle Mayor"):
        assert secret not in stored, secret
    for placeholder in ("[card]", "[email]", "[phone]", "[address]"):
        assert placeholder in stored
    assert "10001" in stored  # order numbers are no personal data
    # The tracker Rasa holds during the turn keeps the real values for the actions.
    assert tracker.get_slot("new_address") == ADDRESS and CARD in tracker.events[1].text
    back = asyncio.run(store.retrieve("redaction-1"))
    assert back.get_slot("new_address") == "[address]" and len(back.events) == len(tracker.events)


def test_memory_store_default_keeps_working() -> None:
    store = RedactingTrackerStore(Domain.load(REPO / "domain.yml"))
    assert isinstance(store._inner, EventLogTrackerStore)
    asyncio.run(store.save(conversation("redaction-2")))
    back = asyncio.run(store.retrieve("redaction-2"))
    assert back.latest_message.text == "order 10001 please"
    assert "[email]" in back.events[1].text and list(asyncio.run(store.keys())) == ["redaction-2"]


def stored_events(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return "\n".join(row[0] for row in connection.execute("SELECT data FROM events"))


def test_later_turns_are_redacted_and_earlier_ones_kept(tmp_path: Path) -> None:
    """Turn by turn, as Rasa does it: read the tracker, add the turn's events, save."""
    database = tmp_path / "trackers.db"
    store = RedactingTrackerStore(Domain.load(REPO / "domain.yml"), store="sql", dialect="sqlite", db=str(database))
    asyncio.run(store.save(conversation("turns")))

    tracker = asyncio.run(store.retrieve("turns"))
    earlier = len(tracker.events)
    for event in [
        ActionExecuted("action_listen"),
        UserUttered(f"my card is {CARD}, new address {ADDRESS}", {"name": "inform", "confidence": 0.9},
                    [{"entity": "address", "value": ADDRESS, "start": 0, "end": 1}]),
        BotUttered(f"Shipping to {ADDRESS}; we mail {EMAIL}."),
        UserUttered("order 10002 too", {"name": "order_status", "confidence": 0.9}),
    ]:
        tracker.update(event)
    asyncio.run(store.save(tracker))

    stored = stored_events(database)
    for secret in (CARD, EMAIL, PHONE, ADDRESS, "Calle Mayor"):
        assert secret not in stored, secret
    assert "Shipping to [address]; we mail [email]." in stored and "10001" in stored and "10002" in stored
    back = asyncio.run(store.retrieve("turns"))
    assert len(back.events) == earlier + 4 and back.latest_message.text == "order 10002 too"
    assert tracker.events[-3].entities[0]["value"] == ADDRESS  # Rasa's own tracker keeps its values


def test_a_tracker_not_read_from_the_store_is_redacted_whole(tmp_path: Path) -> None:
    """E.g. Rasa's API replacing a conversation's events: none of them is trusted as redacted."""
    database = tmp_path / "trackers.db"
    store = RedactingTrackerStore(Domain.load(REPO / "domain.yml"), store="sql", dialect="sqlite", db=str(database))
    asyncio.run(store.save(conversation("replaced")))
    asyncio.run(store.retrieve("replaced"))  # the store knows how many events it holds: 6

    clear = [*conversation("replaced").events, *conversation("replaced").events]
    replacement = DialogueStateTracker.from_events("replaced", clear, slots=Domain.load(REPO / "domain.yml").slots)
    asyncio.run(store.save(replacement))

    assert EMAIL not in stored_events(database) and CARD not in stored_events(database)
    assert len(asyncio.run(store.retrieve("replaced")).events) == len(replacement.events)


def deep(levels: int, leaf: object) -> object:
    value = leaf
    for _ in range(levels):
        value = {"next": [value]}
    return value


def test_deep_metadata_is_stored_redacted_or_refused_never_clear(tmp_path: Path) -> None:
    """Rasa wraps every tracker store in FailSafeTrackerStore, which keeps the clear tracker if save raises."""
    database = tmp_path / "trackers.db"
    store = FailSafeTrackerStore(RedactingTrackerStore(Domain.load(REPO / "domain.yml"), store="sql",
                                                       dialect="sqlite", db=str(database)))
    tracker = conversation("deep")
    tracker.update(UserUttered(f"mail {EMAIL}", {"name": "inform", "confidence": 0.9},
                               metadata={"shallow": EMAIL, "deep": deep(5000, EMAIL)}))

    asyncio.run(store.save(tracker))

    stored = stored_events(database)
    assert EMAIL not in stored and "mail [email]" in stored and "[removed: nested too deep]" in stored
    assert store._fallback_tracker_store is None  # nothing was kept in clear in memory


def test_a_failed_save_stores_nothing_in_clear(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "trackers.db"
    store = FailSafeTrackerStore(RedactingTrackerStore(Domain.load(REPO / "domain.yml"), store="sql",
                                                       dialect="sqlite", db=str(database)))
    tracker = conversation("unstorable")
    tracker.update(UserUttered(f"mail {EMAIL}", metadata={"not json": {1, 2}}))  # the inner store cannot write it

    asyncio.run(store.save(tracker))

    assert "tracker_store.save_refused sender=unstorable" in caplog.text and EMAIL not in caplog.text
    assert EMAIL not in stored_events(database) and store._fallback_tracker_store is None


def test_a_long_message_is_redacted(tmp_path: Path) -> None:
    """Above the size threshold redaction runs in a worker thread; what is stored is the same."""
    store = RedactingTrackerStore(Domain.load(REPO / "domain.yml"))
    tracker = conversation("long")
    tracker.update(UserUttered("words " * 20_000 + f"mail {EMAIL} or call {PHONE}"))
    asyncio.run(store.save(tracker))
    back = asyncio.run(store.retrieve("long"))
    assert back.latest_message.text.endswith("mail [email] or call [phone]")


def test_the_save_appends_the_handled_messages_of_a_known_customer_to_their_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cs_common.store import Store
    from cs_common.store.seed import demo_sender, reset

    url = f"sqlite:///{tmp_path / 'store.db'}"
    reset(url)
    monkeypatch.setenv("CS_STORE_URL", url)
    domain = Domain.load(REPO / "domain.yml")
    trackers = RedactingTrackerStore(domain)
    maria = demo_sender("maria")

    async def turns() -> None:
        for events in (
            [ActionExecuted("action_listen"), UserUttered("hola", {"name": "greet", "confidence": 0.9}),
             SlotSet("language", "es"), ActionExecuted("action_greet"), ActionExecuted("action_listen")],
            # Not handled (a paused conversation gets no action): no history.
            [UserUttered("¿hola?", {"name": "greet", "confidence": 0.9})],
        ):
            # Each turn, like Rasa: the tracker read from the store, the turn's events, the save.
            tracker = await trackers.retrieve(maria) or DialogueStateTracker(maria, domain.slots)
            for event in events:
                tracker.update(event)
            await trackers.save(tracker)
        guest = DialogueStateTracker(f"rest:{maria}", domain.slots)
        for event in (UserUttered("hola", {"name": "greet", "confidence": 0.9}), ActionExecuted("action_greet")):
            guest.update(event)
        await trackers.save(guest)

    asyncio.run(turns())
    store = Store(url)
    try:
        customer = store.customer_for_identity("web", maria)
        assert [(entry.intent, entry.channel, entry.language) for entry in store.history(customer.id)] == [
            ("greet", "web", "es")
        ]
    finally:
        store.close()


def test_no_clear_personal_data_stays_in_the_kept_dialogue_states() -> None:
    """The dialogue states kept between turns (bot/dialogue_states.py) hold the turn's events; a
    turn with personal data drops them at the save, a turn without keeps them."""
    from bot import dialogue_states
    from bot.rasa_patches import apply_rasa_patches

    assert apply_rasa_patches()
    domain = Domain.load(REPO / "domain.yml")
    store = RedactingTrackerStore(domain)
    for sender, text in [("with-email", f"mail {EMAIL}"), ("without", "where is my order")]:
        tracker = DialogueStateTracker(sender, domain.slots)
        for event in [ActionExecuted("action_listen"), UserUttered(text, {"name": "order_status"}), ActionExecuted("utter_greet")]:
            tracker.update(event)
        domain.states_for_tracker_history(tracker)
        asyncio.run(store.save(tracker))
    kept = {key[0]: walk for key, walk in dialogue_states._walks.items()}
    assert "with-email" not in kept and "without" in kept
