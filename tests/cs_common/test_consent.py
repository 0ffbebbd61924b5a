"""Messaging consent in the store (cs_common/store/consent.py): STOP and START per phone number."""
from cs_common.store import Store


def test_stop_then_start_is_remembered_per_number(store: Store) -> None:
    assert store.is_sms_opted_out("+34612000111") is False  # never seen
    store.set_sms_opt_out("+34612000111", True)
    assert store.is_sms_opted_out("+34612000111") is True
    assert store.is_sms_opted_out("+34612000222") is False
    store.set_sms_opt_out("+34612000111", False)
    assert store.is_sms_opted_out("+34612000111") is False
