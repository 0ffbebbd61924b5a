"""The redacting tracker store over Rasa's SQL store on SQLite: what is persisted has no PII."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

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
    assert isinstance(store._inner, InMemoryTrackerStore)
    asyncio.run(store.save(conversation("redaction-2")))
    back = asyncio.run(store.retrieve("redaction-2"))
    assert back.latest_message.text == "order 10001 please"
    assert "[email]" in back.events[1].text and list(asyncio.run(store.keys())) == ["redaction-2"]
