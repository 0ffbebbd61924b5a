"""The agent API (bot/agent.py) without `rasa run`: its token, its ticket list and the requests it
refuses, through its blueprint in a real Sanic app on 127.0.0.1 and a real seeded store.

Answering and releasing a held conversation need the Rasa agent; tests/test_handoff.py and
tests/test_handoff_lifecycle.py run those on real servers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest
import requests

from cs_common.store import Store
from cs_common.store.seed import demo_sender
from bot.agent import MAX_TICKET_ID, TOKEN_VARIABLE, AgentInput, staff_token
from tests.servers import serving_channel

TOKEN = "agent-unit-token-" + "7" * 20
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def ticket(store: Store) -> int:
    """Maria's open ticket in the module's store (tests/conftest.py)."""
    maria = store.customer_for_identity("web", demo_sender("maria"))
    return store.create_ticket(maria.id, demo_sender("maria"), "web", "human_handoff", ["customer: quiero una persona"])


@pytest.fixture(scope="module")
def api(store: Store, ticket: int) -> Iterator[str]:
    with serving_channel(AgentInput(TOKEN, store)) as base:
        yield f"{base}/webhooks/agent"


def call(api: str, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, f"{api}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT_S, **kwargs)


# -- the token ------------------------------------------------------------------------------


def test_the_token_comes_from_credentials_first_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "from-env")
    assert staff_token({"token": "from-credentials"}) == "from-credentials"
    assert staff_token({}) == staff_token(None) == "from-env"
    monkeypatch.delenv(TOKEN_VARIABLE)
    assert staff_token(None) is None


def test_without_a_token_the_api_is_closed_and_says_how_to_open_it(store: Store) -> None:
    with serving_channel(AgentInput(None, store)) as base:
        reply = requests.get(f"{base}/webhooks/agent/tickets", headers={"Authorization": "Bearer "}, timeout=TIMEOUT_S)
    assert reply.status_code == 503
    assert TOKEN_VARIABLE in reply.json()["error"]


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]
)
def test_a_request_without_the_right_bearer_token_is_refused(api: str, store: Store, ticket: int, authorization: str) -> None:
    for method, path in [("GET", "/tickets"), ("POST", f"/tickets/{ticket}/messages"), ("POST", f"/tickets/{ticket}/release")]:
        reply = requests.request(method, f"{api}{path}", headers={"Authorization": authorization}, json={"text": "hi"}, timeout=TIMEOUT_S)
        assert reply.status_code == 401, (method, path)
        assert "Authorization: Bearer" in reply.json()["error"]
    assert store.open_tickets()[0].id == ticket, "nothing was released"


# -- what it answers itself -----------------------------------------------------------------


def test_open_tickets_are_listed_with_their_transcript(api: str, ticket: int) -> None:
    reply = call(api, "GET", "/tickets")
    assert reply.status_code == 200
    [listed] = [listed for listed in reply.json()["tickets"] if listed["id"] == ticket]
    assert listed["status"] == "open" and listed["channel"] == "web" and listed["sender_id"] == demo_sender("maria")
    assert "quiero una persona" in listed["transcript"]
    dt.datetime.fromisoformat(listed["created_at"])  # JSON has no dates: ISO 8601


@pytest.mark.parametrize(
    "body, reason",
    [(b"", "empty"), (b"{not json", "not valid JSON"), (b"[]", "JSON object"), (b'{"text": 5}', "'text' must be a string"),
     (b'{"text": "\\u0000"}', "'text' is empty"), (b'{"message": "hi"}', "'text'")],
)
def test_an_answer_that_is_no_text_is_refused_with_a_reason(api: str, ticket: int, body: bytes, reason: str) -> None:
    reply = call(api, "POST", f"/tickets/{ticket}/messages", data=body)
    assert reply.status_code == 400
    assert reason in reply.json()["error"] and "'message'" not in reply.json()["error"]


@pytest.mark.parametrize("ticket_id", [0, MAX_TICKET_ID + 1, 10**30, 999_999])
def test_no_open_ticket_is_a_404_for_answers_and_releases(api: str, store: Store, ticket: int, ticket_id: int) -> None:
    for action in ("messages", "release"):
        reply = call(api, "POST", f"/tickets/{ticket_id}/{action}", json={"text": "hola"})
        assert reply.status_code == 404, action
        assert reply.json()["error"] == f"There is no open ticket {ticket_id}."
    assert [open_ticket.id for open_ticket in store.open_tickets()] == [ticket]


def test_a_store_that_is_down_is_a_503_not_a_crash(tmp_path: Path) -> None:
    unreachable = Store(f"sqlite:///{tmp_path / 'no-such-folder' / 'store.db'}")
    with serving_channel(AgentInput(TOKEN, unreachable)) as base:
        reply = requests.get(f"{base}/webhooks/agent/tickets", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT_S)
    assert reply.status_code == 503
    assert reply.json() == {"error": "The ticket store is unavailable; try again later."}
