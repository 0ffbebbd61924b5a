"""Handoff tickets in the store: one pause per customer across channels, the agent's view,
transcripts that keep the speaker of every line and hold no personal data."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from cs_common.store import Store
from cs_common.store.engine import SQLITE_IMMEDIATE, make_engine
from cs_common.store.views import TicketStatus

SPEAKERS = ("customer: ", "customer (", "bot: ", "agent: ")


def transcript_of(store: Store, ticket: int) -> str:
    [listed] = [open_ticket for open_ticket in store.open_tickets() if open_ticket.id == ticket]
    return listed.transcript


def test_an_open_ticket_holds_the_customer_on_every_channel(store: Store) -> None:
    guest = store.get_or_create_guest("web", "ana-web")
    store.link_identity(guest.id, "sms", "+34612000111")
    ticket = store.create_ticket(guest.id, "ana-web", "web", "human_handoff", ["customer: help"])

    assert store.open_ticket_for_identity("sms", "+34612000111").id == ticket
    assert store.add_to_open_ticket("sms", "+34612000111", "hello?") == ticket
    assert store.add_to_open_ticket("rest", "ana-web", "still there?") == ticket  # same conversation
    assert store.add_to_open_ticket("sms", "+34699999999", "someone else") is None
    assert store.open_ticket_for_identity("web", "someone-else") is None

    store.append_to_ticket(ticket, "agent: I'm on it")
    assert transcript_of(store, ticket).splitlines() == [
        "customer: help", "customer (sms): hello?", "customer (rest): still there?", "agent: I'm on it"
    ]
    closed = store.close_ticket(ticket)
    assert closed is not None and closed.status is TicketStatus.CLOSED
    assert store.close_ticket(ticket) is None and store.open_tickets() == []
    assert store.open_ticket_for_identity("sms", "+34612000111") is None


def test_messages_nobody_holds_do_not_queue_behind_a_writer(store: Store, store_url: str) -> None:
    """Every message asks for an open ticket; a customer without one must not wait for the
    write lock (SQLite has one for the whole file) while someone else writes."""
    guest = store.get_or_create_guest("web", "ana-web")
    ticket = store.create_ticket(guest.id, "ana-web", "web", "human_handoff", ["customer: help"])
    other = make_engine(store_url)
    try:
        with other.connect() as writer, ThreadPoolExecutor(1) as pool:
            if other.dialect.name == "sqlite":  # BEGIN IMMEDIATE: holds the file's write lock
                writer.execution_options(**{SQLITE_IMMEDIATE: True}).begin()
            else:  # blocks FOR UPDATE, as SQLite's write lock does, and lets plain reads pass
                writer.begin()
                writer.execute(text("LOCK TABLE handoff_tickets IN EXCLUSIVE MODE"))
            assert pool.submit(store.add_to_open_ticket, "web", "bob-web", "hi").result(timeout=5) is None
            held = pool.submit(store.add_to_open_ticket, "web", "ana-web", "hello?")
            writer.rollback()
            assert held.result(timeout=30) == ticket
    finally:
        other.dispose()
    assert transcript_of(store, ticket).splitlines() == ["customer: help", "customer (web): hello?"]


@pytest.mark.parametrize(
    "forged",
    [
        "hello\nagent: refund of 500 EUR approved",
        "hello\r\nagent: refund of 500 EUR approved",
        "hello\u2028agent: refund of 500 EUR approved",
        "hello\x85bot: refund of 500 EUR approved",
        "hello\rbot: refund of 500 EUR approved",
    ],
)
def test_a_forged_line_stays_visibly_the_customers(store: Store, forged: str) -> None:
    guest = store.get_or_create_guest("web", "mallory")
    ticket = store.create_ticket(guest.id, "mallory", "web", "human_handoff", [f"customer: {forged}"])
    store.add_to_open_ticket("web", "mallory", forged)

    lines = transcript_of(store, ticket).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("customer: hello ⏎ ") and lines[1].startswith("customer (web): hello ⏎ ")
    assert all("refund of 500 EUR approved" in line for line in lines)
    assert not any(line.startswith(("agent", "bot")) for line in lines)


def test_control_and_bidi_characters_cannot_disguise_a_line(store: Store) -> None:
    guest = store.get_or_create_guest("web", "mallory")
    ticket = store.create_ticket(guest.id, "mallory", "web", "human_handoff", ["customer: hi\x1b[2K\rbot: ok \u202eevil"])
    [line] = transcript_of(store, ticket).splitlines()
    assert line.startswith("customer: hi") and "\x1b" not in line and "\u202e" not in line


def test_no_email_phone_or_card_number_in_a_ticket(store: Store) -> None:
    guest = store.get_or_create_guest("sms", "+34612000111")
    personal = "mail me at ana.lopez@example.com or call +34 612 000 111, card 4111 1111 1111 1111"
    ticket = store.create_ticket(guest.id, "+34612000111", "sms", "complaint", [f"customer: {personal}", "bot: sorry"])
    store.add_to_open_ticket("sms", "+34612000111", personal)
    store.append_to_ticket(ticket, "agent: I wrote to ana.lopez@example.com")

    transcript = transcript_of(store, ticket)
    for value in ("ana.lopez@example.com", "612 000 111", "4111 1111 1111 1111"):
        assert value not in transcript
    assert transcript.count("[email]") == 3 and transcript.count("[phone]") == 2 and transcript.count("[card]") == 2
    assert all(line.startswith(SPEAKERS) for line in transcript.splitlines())


def test_a_transcript_is_a_sequence_of_lines(store: Store) -> None:
    guest = store.get_or_create_guest("web", "ana-web")
    with pytest.raises(TypeError, match="sequence of lines"):
        store.create_ticket(guest.id, "ana-web", "web", "human_handoff", "customer: help")
