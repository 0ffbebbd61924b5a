"""The agent API (bot/agent.py) without `rasa run`: its token, its ticket list and the requests it
refuses, through its blueprint in a real Sanic app on 127.0.0.1 and a real seeded store.

Answering and releasing a held conversation need the Rasa agent; tests/test_handoff.py and
tests/test_handoff_lifecycle.py run those on real servers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest
import requests

from actions.store import Store
from actions.store.seed import demo_sender
from bot.agent import MAX_TICKET_ID, TOKEN_VARIABLE, AgentInput, staff_token
from tests.servers import seeded_store, serving_channel

TOKEN = "agent-unit-token-" + "7" * 20
TIMEOUT_S = 30


class AgentApi(NamedTuple):
    url: str
    store: Store
    ticket: int


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentApi]:
    store = Store(seeded_store(tmp_path_factory.mktemp("agent-api")))
    maria = store.customer_for_identity("web", demo_sender("maria"))
    ticket = store.create_ticket(maria.id, demo_sender("maria"), "web", "human_handoff", ["customer: quiero una persona"])
    with serving_channel(AgentInput(TOKEN, store)) as base:
        yield AgentApi(f"{base}/webhooks/agent", store, ticket)
    store.close()


def call(api: AgentApi, method: str, path: str, token: str = TOKEN, **kwargs: object) -> requests.Response:
    return requests.request(method, f"{api.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S, **kwargs)


# -- the token ------------------------------------------------------------------------------


def test_the_token_comes_from_credentials_first_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "from-env")
    assert staff_token({"token": "from-credentials"}) == "from-credentials"
    assert staff_token({}) == staff_token(None) == "from-env"
    monkeypatch.delenv(TOKEN_VARIABLE)
    assert staff_token(None) is None


def test_without_a_token_the_api_is_closed_and_says_how_to_open_it(tmp_path: Path) -> None:
    store = Store(seeded_store(tmp_path))
    with serving_channel(AgentInput(None, store)) as base:
        reply = requests.get(f"{base}/webhooks/agent/tickets", headers={"Authorization": "Bearer "}, timeout=TIMEOUT_S)
    store.close()
    assert reply.status_code == 503
    assert TOKEN_VARIABLE in reply.json()["error"]


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]
)
def test_a_request_without_the_right_bearer_token_is_refused(api: AgentApi, authorization: str) -> None:
    for method, path in [("GET", "/tickets"), ("POST", f"/tickets/{api.ticket}/messages"), ("POST", f"/tickets/{api.ticket}/release")]:
        reply = requests.request(method, f"{api.url}{path}", headers={"Authorization": authorization}, json={"text": "hi"}, timeout=TIMEOUT_S)
        assert reply.status_code == 401, (method, path)
        assert "Authorization: Bearer" in reply.json()["error"]
    assert api.store.open_tickets()[0].id == api.ticket, "nothing was released"


# -- what it answers itself -----------------------------------------------------------------


def test_open_tickets_are_listed_with_their_transcript(api: AgentApi) -> None:
    reply = call(api, "GET", "/tickets")
    assert reply.status_code == 200
    [ticket] = [ticket for ticket in reply.json()["tickets"] if ticket["id"] == api.ticket]
    assert ticket["status"] == "open" and ticket["channel"] == "web" and ticket["sender_id"] == demo_sender("maria")
    assert "quiero una persona" in ticket["transcript"]
    dt.datetime.fromisoformat(ticket["created_at"])  # JSON has no dates: ISO 8601


@pytest.mark.parametrize(
    "body, reason",
    [(b"", "empty"), (b"{not json", "not valid JSON"), (b"[]", "JSON object"), (b'{"text": 5}', "'text' must be a string"),
     (b'{"text": "\\u0000"}', "'text' is empty"), (b'{"message": "hi"}', "'text'")],
)
def test_an_answer_that_is_no_text_is_refused_with_a_reason(api: AgentApi, body: bytes, reason: str) -> None:
    reply = call(api, "POST", f"/tickets/{api.ticket}/messages", data=body)
    assert reply.status_code == 400
    assert reason in reply.json()["error"] and "'message'" not in reply.json()["error"]


@pytest.mark.parametrize("ticket_id", [0, MAX_TICKET_ID + 1, 10**30, 999_999])
def test_no_open_ticket_is_a_404_for_answers_and_releases(api: AgentApi, ticket_id: int) -> None:
    for action in ("messages", "release"):
        reply = call(api, "POST", f"/tickets/{ticket_id}/{action}", json={"text": "hola"})
        assert reply.status_code == 404, action
        assert reply.json()["error"] == f"There is no open ticket {ticket_id}."
    assert [ticket.id for ticket in api.store.open_tickets()] == [api.ticket]


def test_a_store_that_is_down_is_a_503_not_a_crash(tmp_path: Path) -> None:
    unreachable = Store(f"sqlite:///{tmp_path / 'no-such-folder' / 'store.db'}")
    with serving_channel(AgentInput(TOKEN, unreachable)) as base:
        reply = requests.get(f"{base}/webhooks/agent/tickets", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT_S)
    assert reply.status_code == 503
    assert reply.json() == {"error": "The ticket store is unavailable; try again later."}
