"""Identities and guests in the store (cs_common/store/identities.py); link codes: test_link_codes.py."""

import pytest

from cs_common.store import Store, UnknownCustomerError
from tests.cs_common.helpers import customer_id, in_parallel


def test_a_new_sender_becomes_one_guest(store: Store) -> None:
    guests = in_parallel(20, lambda _index: store.get_or_create_guest("rest", "new-sender"))
    assert len({guest.id for guest in guests}) == 1
    assert guests[0].is_guest and guests[0].name is None
    assert store.customer_for_identity("rest", "new-sender") == guests[0]
    assert store.preferences(guests[0].id).language is None


def test_linking_moves_an_identity_to_the_verified_customer(seeded: Store) -> None:
    guest = seeded.get_or_create_guest("socketio", "abc123")
    maria = customer_id(seeded, "maria")
    seeded.link_identity(maria, "socketio", "abc123")
    assert seeded.customer_for_identity("socketio", "abc123").id == maria != guest.id


def test_writes_for_an_unknown_customer_raise(store: Store) -> None:
    with pytest.raises(UnknownCustomerError):
        store.record_interaction(404, "rest", "greet")
    with pytest.raises(UnknownCustomerError):
        store.set_language(404, "es")
    with pytest.raises(UnknownCustomerError):
        store.link_identity(404, "rest", "ghost")
    with pytest.raises(UnknownCustomerError):
        store.export_customer(404)
