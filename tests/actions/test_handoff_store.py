"""Handoff tickets in the store: one pause per customer across channels, the agent's view."""

from __future__ import annotations

from typing import Iterator

import pytest

from actions.store import Store
from actions.store.migrate import upgrade
from actions.store.views import TicketStatus


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    upgrade(store_url)
    store = Store(store_url)
    yield store
    store.close()


def test_an_open_ticket_holds_the_customer_on_every_channel(store: Store) -> None:
    guest = store.get_or_create_guest("web", "ana-web")
    store.link_identity(guest.id, "sms", "+34612000111")
    ticket = store.create_ticket(guest.id, "ana-web", "web", "human_handoff", "customer: help")

    assert store.open_ticket_for_identity("sms", "+34612000111").id == ticket
    assert store.add_to_open_ticket("sms", "+34612000111", "customer (sms): hello?") == ticket
    assert store.add_to_open_ticket("rest", "ana-web", "customer (rest): still there?") == ticket  # same conversation
    assert store.add_to_open_ticket("sms", "+34699999999", "someone else") is None
    assert store.open_ticket_for_identity("web", "someone-else") is None

    store.append_to_ticket(ticket, "agent: I'm on it")
    [listed] = store.open_tickets()
    assert listed.transcript.splitlines() == [
        "customer: help", "customer (sms): hello?", "customer (rest): still there?", "agent: I'm on it"
    ]
    closed = store.close_ticket(ticket)
    assert closed is not None and closed.status is TicketStatus.CLOSED
    assert store.close_ticket(ticket) is None and store.open_tickets() == []
    assert store.open_ticket_for_identity("sms", "+34612000111") is None
