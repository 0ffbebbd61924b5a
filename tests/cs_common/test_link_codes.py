"""One-time codes that link a sender on a new channel to a customer, on SQLite and PostgreSQL,
and kept out of the persisted conversation."""
import asyncio
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text, update

from bot.tracker_store import RedactingTrackerStore
from cs_common.store import Store
from cs_common.store.engine import make_engine
from cs_common.store.models import LinkCode, utcnow
from cs_common.store.identities import (
    LINK_CODE_MAX_ATTEMPTS,
    LINK_CODE_TARGET_WINDOW,
    LINK_CODES_PER_SENDER,
    LINK_CODES_PER_TARGET,
)
from cs_common.store.views import CodeWithheld, Contact, ContactKind, LinkRequestResult, LinkVerifyResult
from tests.cs_common.helpers import customer_id, in_parallel
from tests.conftest import REPO

MARIAS_EMAIL = Contact(ContactKind.EMAIL, "maria.garcia@example.com")
MARIAS_PHONE = Contact(ContactKind.PHONE, "+34612345678")
NOBODYS_EMAIL = Contact(ContactKind.EMAIL, "nobody@example.com")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def execute(url: str, sql: str) -> list:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql))
            return result.fetchall() if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.mark.parametrize("contact", [MARIAS_EMAIL, MARIAS_PHONE])
def test_the_right_code_links_the_sender_and_her_data_follows(seeded: Store, contact: Contact) -> None:
    maria = customer_id(seeded, "maria")
    issued = seeded.issue_link_code("slack", "U123", contact)
    assert issued.result is LinkRequestResult.ISSUED and issued.customer.id == maria
    assert len(issued.code) == 6 and issued.code.isdigit()
    assert seeded.customer_for_identity("slack", "U123") is None

    assert seeded.verify_link_code("slack", "U123", wrong(issued.code)).result is LinkVerifyResult.WRONG_CODE
    linked = seeded.verify_link_code("slack", "U123", issued.code)

    assert linked.result is LinkVerifyResult.LINKED and linked.customer.id == maria
    assert seeded.customer_for_identity("slack", "U123").id == maria
    assert seeded.preferences(maria).language == "es"
    assert seeded.latest_order(maria).number == "10001"


def test_a_used_code_is_refused(seeded: Store) -> None:
    code = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    assert seeded.verify_link_code("slack", "U1", code).result is LinkVerifyResult.LINKED
    assert seeded.verify_link_code("slack", "U1", code).result is LinkVerifyResult.NO_VALID_CODE


def test_an_expired_code_is_refused(seeded: Store, store_url: str) -> None:
    code = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    engine = make_engine(store_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(LinkCode).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    finally:
        engine.dispose()
    assert seeded.verify_link_code("slack", "U1", code).result is LinkVerifyResult.NO_VALID_CODE
    assert seeded.customer_for_identity("slack", "U1") is None


def test_too_many_wrong_guesses_burn_the_code(seeded: Store) -> None:
    code = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    for _ in range(LINK_CODE_MAX_ATTEMPTS):
        assert seeded.verify_link_code("slack", "U1", wrong(code)).result is LinkVerifyResult.WRONG_CODE
    assert seeded.verify_link_code("slack", "U1", code).result is LinkVerifyResult.NO_VALID_CODE


def test_a_code_only_works_for_the_sender_that_asked(seeded: Store) -> None:
    code = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    assert seeded.verify_link_code("slack", "U2", code).result is LinkVerifyResult.NO_VALID_CODE
    assert seeded.verify_link_code("web", "U1", code).result is LinkVerifyResult.NO_VALID_CODE


def test_a_new_code_replaces_the_previous_one(seeded: Store) -> None:
    first = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    second = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    if first != second:
        assert seeded.verify_link_code("slack", "U1", first).result is LinkVerifyResult.WRONG_CODE
    assert seeded.verify_link_code("slack", "U1", second).result is LinkVerifyResult.LINKED


def test_an_unknown_contact_gets_no_code_but_the_same_outcome(seeded: Store, store_url: str) -> None:
    issued = seeded.issue_link_code("slack", "U1", NOBODYS_EMAIL)
    assert issued.result is LinkRequestResult.ISSUED
    assert issued.code is None and issued.customer is None
    assert seeded.verify_link_code("slack", "U1", "123456").result is LinkVerifyResult.WRONG_CODE
    assert execute(store_url, "SELECT count(*) FROM link_codes WHERE customer_id IS NULL")[0][0] == 1


def test_only_a_salted_hash_of_the_code_is_stored(seeded: Store, store_url: str) -> None:
    codes = [seeded.issue_link_code("slack", f"U{n}", MARIAS_EMAIL).code for n in range(2)]
    rows = execute(store_url, "SELECT code_hash, salt FROM link_codes ORDER BY id")
    stored = " ".join(str(value) for row in rows for value in row)
    assert all(code not in stored for code in codes)
    assert rows[0][1] != rows[1][1] and all(len(code_hash) == 64 for code_hash, _salt in rows)


def test_a_sender_asking_too_often_is_refused_whoever_it_asks_about(seeded: Store) -> None:
    for contact in (MARIAS_EMAIL, NOBODYS_EMAIL):
        results = [seeded.issue_link_code("slack", f"S-{contact.value}", contact).result for _ in range(LINK_CODES_PER_SENDER + 1)]
        assert results == [LinkRequestResult.ISSUED] * LINK_CODES_PER_SENDER + [LinkRequestResult.RATE_LIMITED]


def test_a_customer_is_sent_a_limited_number_of_codes_whoever_asks(seeded: Store) -> None:
    issued = [seeded.issue_link_code("web", f"stranger-{n}", MARIAS_EMAIL) for n in range(LINK_CODES_PER_TARGET + 1)]
    assert all(issue.code for issue in issued[:LINK_CODES_PER_TARGET])
    assert issued[-1].result is LinkRequestResult.ISSUED  # the same answer as a sent code
    assert issued[-1].code is None and issued[-1].withheld is CodeWithheld.TARGET_LIMIT


def test_a_stranger_locks_a_customer_out_for_a_quarter_hour_only(seeded: Store, store_url: str) -> None:
    for n in range(LINK_CODES_PER_TARGET):
        seeded.issue_link_code("web", f"stranger-{n}", MARIAS_EMAIL)
    assert seeded.issue_link_code("web", "maria-laptop", MARIAS_EMAIL).code is None
    minutes = int(LINK_CODE_TARGET_WINDOW.total_seconds() // 60)
    earlier = {"sqlite": f"datetime(created_at, '-{minutes} minutes')", "postgresql": f"created_at - interval '{minutes} minutes'"}
    dialect = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    execute(store_url, f"UPDATE link_codes SET created_at = {earlier[dialect]}")

    code = seeded.issue_link_code("web", "maria-laptop", MARIAS_EMAIL).code
    assert code and seeded.verify_link_code("web", "maria-laptop", code).result is LinkVerifyResult.LINKED


def test_no_code_goes_to_a_number_that_opted_out_of_sms(seeded: Store) -> None:
    seeded.set_sms_opt_out(MARIAS_PHONE.value, True)
    issued = seeded.issue_link_code("web", "W1", MARIAS_PHONE)
    assert issued.result is LinkRequestResult.ISSUED
    assert issued.code is None and issued.customer is None and issued.withheld is CodeWithheld.SMS_OPT_OUT
    assert seeded.verify_link_code("web", "W1", "123456").result is LinkVerifyResult.WRONG_CODE
    assert seeded.issue_link_code("web", "W2", MARIAS_EMAIL).code  # her email still works

    seeded.set_sms_opt_out(MARIAS_PHONE.value, False)
    assert seeded.issue_link_code("web", "W3", MARIAS_PHONE).code


def test_the_hourly_cap_refuses_everyone_once_enough_codes_were_sent(seeded: Store, store_url: str) -> None:
    capped = Store(store_url, link_codes_per_hour=2)
    try:
        assert capped.issue_link_code("web", "W1", MARIAS_EMAIL).code
        assert capped.issue_link_code("web", "W2", NOBODYS_EMAIL).result is LinkRequestResult.ISSUED  # sends nothing
        assert capped.issue_link_code("web", "W3", MARIAS_PHONE).code
        for contact in (MARIAS_EMAIL, NOBODYS_EMAIL):
            refused = capped.issue_link_code("web", "W4", contact)
            assert refused.result is LinkRequestResult.RATE_LIMITED and refused.withheld is CodeWithheld.HOURLY_CAP
    finally:
        capped.close()


def test_the_hourly_cap_comes_from_the_environment(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_LINK_CODES_PER_HOUR", "many")
    with pytest.raises(ValueError, match="CS_LINK_CODES_PER_HOUR must be a whole number"):
        Store(store_url)


def test_simultaneous_right_guesses_link_once(seeded: Store) -> None:
    code = seeded.issue_link_code("slack", "U1", MARIAS_EMAIL).code
    results = in_parallel(8, lambda _index: seeded.verify_link_code("slack", "U1", code).result)
    assert results.count(LinkVerifyResult.LINKED) == 1
    assert set(results) == {LinkVerifyResult.LINKED, LinkVerifyResult.NO_VALID_CODE}


def test_forgetting_the_customer_removes_her_codes(seeded: Store, store_url: str) -> None:
    seeded.issue_link_code("slack", "U1", MARIAS_EMAIL)
    assert seeded.forget_customer(customer_id(seeded, "maria")) is True
    assert execute(store_url, "SELECT count(*) FROM link_codes")[0][0] == 0


def test_no_code_is_persisted_by_the_redacting_tracker_store(tmp_path: Path) -> None:
    """The events Rasa records for a code typed in the code form and one typed after it."""
    database = tmp_path / "trackers.db"
    domain = Domain.load(REPO / "domain.yml")
    store = RedactingTrackerStore(domain, store="sql", dialect="sqlite", db=str(database))
    tracker = DialogueStateTracker("code-typer", domain.slots)
    wrong_code, right_code, late_code = "705214", "482913", "١٩٠٥٧٢"
    for event in [
        ActionExecuted("action_listen"),
        UserUttered(wrong_code, {"name": "provide_code", "confidence": 0.9}, [otp_code(wrong_code, wrong_code)]),
        SlotSet("link_code", wrong_code),  # read by the form, refused by its validation
        ActionExecuted("link_code_form"),
        SlotSet("link_code", None),
        ActionExecuted("action_listen"),
        UserUttered(f"it is {right_code}", {"name": "provide_code", "confidence": 0.9}, [otp_code(f"it is {right_code}", right_code)]),
        SlotSet("link_code", right_code),
        ActionExecuted("link_code_form"),
        SlotSet("link_code", right_code),
        ActionExecuted("action_listen"),
        UserUttered(f"الرمز {late_code} من فضلك", {"name": "provide_code", "confidence": 0.9},
                    [otp_code(f"الرمز {late_code} من فضلك", late_code)]),
    ]:
        tracker.update(event)

    asyncio.run(store.save(tracker))

    stored = stored_texts(database)
    for code in (wrong_code, right_code, late_code):
        assert code not in stored, code
    back = asyncio.run(store.retrieve("code-typer"))
    assert back.get_slot("link_code") not in (None, right_code)
    assert tracker.get_slot("link_code") == right_code  # the turn's own tracker keeps it for the actions


def stored_texts(database: Path) -> str:
    """Every string in the events Rasa's SQL tracker store saved (numbers such as timestamps left out)."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT data FROM events").fetchall()
    return "\n".join(text for (data,) in rows for text in strings(json.loads(data)))


def otp_code(text: str, code: str) -> dict:
    start = text.index(code)
    return {"entity": "otp_code", "value": code, "start": start, "end": start + len(code)}
