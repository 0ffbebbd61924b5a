"""Export and erasure of a customer (cs_common/store/privacy.py)."""
import json

import pytest

from cs_common.store import Store, UnknownCustomerError
from cs_common.store.seed import demo_sender
from tests.cs_common.helpers import customer_id, email, table_counts


def test_export_is_json_and_complete(seeded: Store) -> None:
    maria = customer_id(seeded, "maria")
    seeded.record_interaction(maria, "rest", "greet", "es")
    ticket = seeded.create_ticket(maria, "maria", "rest", "complaint", ["user: ¡hola!"])
    export = json.loads(json.dumps(seeded.export_customer(maria)))
    assert export["customer"]["name"] == "Maria García"
    assert export["identities"] == [{"channel": "web", "sender_id": "web:demo-maria"}]
    assert [order["number"] for order in export["orders"]] == ["10001", "10002", "10003"]
    assert export["orders"][2]["refund"]["amount"] == "79.90"
    assert export["interactions"][0]["intent"] == "greet"
    assert export["handoff_tickets"][0]["id"] == ticket
    assert export["handoff_tickets"][0]["status"] == "open"


def test_forget_removes_every_row_about_the_customer(seeded: Store, store_url: str) -> None:
    maria = customer_id(seeded, "maria")
    seeded.record_interaction(maria, "rest", "greet", "es")
    seeded.create_ticket(maria, "maria", "rest", "complaint", ["customer: transcript"])
    before = table_counts(store_url)

    assert seeded.forget_customer(maria) is True

    after = table_counts(store_url)
    assert before["customers"] - after["customers"] == 1
    assert before["orders"] - after["orders"] == 3
    assert before["refunds"] - after["refunds"] == 1
    assert after["interactions"] == after["handoff_tickets"] == 0
    assert after["products"] == before["products"]
    assert seeded.customer_for_identity("web", demo_sender("maria")) is None
    assert seeded.order_by_number_and_contact("10001", email("maria.garcia@example.com")) is None
    with pytest.raises(UnknownCustomerError):
        seeded.export_customer(maria)
    assert seeded.forget_customer(maria) is False
    assert seeded.customer_for_identity("web", demo_sender("lukas")) is not None
