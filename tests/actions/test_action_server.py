"""The custom actions through the action server's real HTTP endpoint.

Our entry point (actions/server.py) runs on 127.0.0.1 against a seeded SQLite store; each
request carries a tracker and the domain built by Rasa's own classes, and the shared secret,
exactly as Rasa's RemoteAction sends them (endpoints.yml). Known customers are the seeded
demo identities `web:demo-<name>`: the action server trusts the sender id Rasa sends, and
our channels namespace it from what they authenticated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import rasa
import requests
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from cs_common.store.repository import Store
from cs_common.store.seed import demo_sender, reset
from tests.conftest import REPO
from tests.servers import ACTION_SERVER_TOKEN, action_server_command, free_port, process, server_env, wait_until_up

pytestmark = pytest.mark.slow

DOMAIN = Domain.load(str(REPO / "domain.yml"))
AUTHORIZATION = {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}


class ActionServer:
    def __init__(self, url: str, store_url: str, log: Path) -> None:
        self.url, self.store_url, self.log = url, store_url, log

    def call(
        self, action: str, sender: str, text: str = "", intent: str = "greet",
        slots: Optional[Dict[str, Any]] = None, entities: Optional[List[Dict]] = None, input_channel: str = "rest",
    ) -> Dict[str, Any]:
        """Runs `action` after one user message, with the tracker Rasa would send."""
        events = [ActionExecuted("action_listen"), UserUttered(
            text, {"name": intent, "confidence": 0.9}, entities or [],
            parse_data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
            input_channel=input_channel,
        )]
        events += [SlotSet(name, value) for name, value in (slots or {}).items()]
        tracker = DialogueStateTracker.from_events(sender, events, DOMAIN.slots)
        payload = {
            "next_action": action,
            "sender_id": sender,
            "tracker": tracker.current_state(EventVerbosity.ALL),
            "domain": DOMAIN.as_dict(),
            "version": rasa.__version__,
        }
        reply = requests.post(self.url, json=payload, headers=AUTHORIZATION, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()


def run_action_server(tmp: Path, store_url: str, extra_env: Optional[Dict[str, str]] = None) -> Iterator[ActionServer]:
    port = free_port()
    log = tmp / "actions.log"
    with process(action_server_command(port), log, server_env(store_url, extra_env)) as server:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, log)
        yield ActionServer(f"http://127.0.0.1:{port}/webhook", store_url, log)


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    tmp = tmp_path_factory.mktemp("actions")
    store_url = f"sqlite:///{tmp / 'store.db'}"
    reset(store_url)
    yield from run_action_server(tmp, store_url)


def responses(result: Dict[str, Any]) -> List[str]:
    return [r["response"] for r in result["responses"]]


def slot_events(result: Dict[str, Any]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}


def test_known_customer_gets_her_one_open_order_without_a_number(actions: ActionServer) -> None:
    result = actions.call("action_order_status", demo_sender("carlos"), "¿dónde está mi pedido?", "order_status", {"language": "es"})
    assert responses(result) == ["utter_order_status_shipped"]
    assert result["responses"][0]["order_number"] == "70001"
    assert "de" in result["responses"][0]["delivery_date"]  # a Spanish long date: "2 de diciembre de 2026"


def test_known_customer_with_several_open_orders_is_asked_which(actions: ActionServer) -> None:
    result = actions.call("action_order_status", demo_sender("maria"), "¿dónde está mi pedido?", "order_status", {"language": "es"})
    assert responses(result) == ["utter_ask_which_order"]
    payloads = [button["payload"] for button in result["responses"][0]["buttons"]]
    assert payloads == ['/inform_order_number{"order_number": "10001"}', '/inform_order_number{"order_number": "10002"}']
    assert slot_events(result)["pending_task"] == "order_status"


def test_another_customers_order_is_never_shown(actions: ActionServer) -> None:
    result = actions.call("action_order_status", demo_sender("lukas"), "Bestellung 10002", "order_status", {"order_number": "10002"})
    assert responses(result) == ["utter_order_not_found"]
    # A guest is asked for the order's email or phone (order_lookup_form), whether or not 10002 exists.
    guest = actions.call("action_order_status", "someone-new", "order 10002", "order_status", {"order_number": "10002"})
    assert responses(guest) == [] and {"event": "followup", "name": "order_lookup_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in guest["events"]
    ]


def test_the_channel_in_the_body_makes_nobody_a_customer(actions: ActionServer) -> None:
    """Rasa's REST channel and HTTP API copy `input_channel` from the request body: it never counts."""
    for sender, channel in (("maria", "web"), ("rest:" + demo_sender("maria"), "web"), ("+34612345678", "sms")):
        claimed = actions.call("action_order_status", sender, "¿dónde está mi pedido?", "order_status", input_channel=channel)
        assert responses(claimed) == ["utter_ask_order_number"], (sender, channel)
        export = actions.call("action_export_data", sender, "what do you know about me", "request_data_export", input_channel=channel)
        assert "Maria" not in str(export["responses"]) and "maria.garcia" not in str(export["responses"])


def test_without_the_shared_secret_nothing_runs(actions: ActionServer) -> None:
    call = {"next_action": "action_export_data", "sender_id": demo_sender("oliver"), "tracker": {"sender_id": demo_sender("oliver"), "events": []}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ACTION_SERVER_TOKEN}):
        reply = requests.post(actions.url, json=call, headers=headers, timeout=30)
        assert reply.status_code == 401 and "CS_ACTION_SERVER_TOKEN" in reply.json()["error"]
        assert requests.get(actions.url.replace("/webhook", "/actions"), headers=headers, timeout=30).status_code == 401
    assert requests.get(actions.url.replace("/webhook", "/health"), timeout=30).json() == {"status": "ok"}
    assert Store(actions.store_url).customer_for_identity("web", demo_sender("oliver")) is not None


def test_the_action_server_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {**server_env(f"sqlite:///{tmp_path / 'store.db'}"), "CS_ACTION_SERVER_TOKEN": ""}
    with process(action_server_command(free_port()), tmp_path / "actions.log", env) as server:
        assert server.wait(timeout=120) != 0
    assert "CS_ACTION_SERVER_TOKEN" in (tmp_path / "actions.log").read_text()


def test_guest_without_number_is_asked_for_it(actions: ActionServer) -> None:
    result = actions.call("action_order_status", "guest-1", "where is my order", "order_status")
    assert responses(result) == ["utter_ask_order_number"]
    assert slot_events(result) == {"pending_task": "order_status"}


def test_cancellation_needs_confirmation_then_cancels(actions: ActionServer) -> None:
    asked = actions.call("action_cancel_order", demo_sender("lukas"), "Bestellung stornieren", "cancel_order", {"order_number": "20001"})
    assert responses(asked) == ["utter_ask_cancel_confirmation"]
    assert slot_events(asked)["cancel_pending"] is True
    assert Store(actions.store_url).order_for_customer(2, "20001").status.value == "processing"
    done = actions.call("action_confirm_cancel", demo_sender("lukas"), "ja", "affirm", {"order_number": "20001", "cancel_pending": True})
    assert responses(done) == ["utter_order_cancelled"]
    assert Store(actions.store_url).order_for_customer(2, "20001").status.value == "cancelled"


def test_shipped_orders_cannot_be_cancelled(actions: ActionServer) -> None:
    result = actions.call("action_cancel_order", demo_sender("maria"), "cancelar 10002", "cancel_order", {"order_number": "10002"})
    assert responses(result) == ["utter_cannot_cancel_shipped"]


def test_refund_status(actions: ActionServer) -> None:
    result = actions.call("action_refund_status", demo_sender("maria"), "mi reembolso", "refund_status", {"order_number": "10003", "language": "es"})
    assert responses(result) == ["utter_refund_status_pending"]
    assert "€" in result["responses"][0]["amount"]


def test_language_request_is_saved_and_starts_the_next_session(actions: ActionServer) -> None:
    result = actions.call("action_switch_language", demo_sender("emma"), "please speak German from now on", "switch_language", {"language": "en"})
    assert slot_events(result) == {"language": "de"}
    assert {"event": "followup", "name": "utter_language_switched"}.items() <= result["events"][-1].items()
    session = actions.call("action_session_start", demo_sender("emma"), "", "greet")
    assert slot_events(session) == {"language": "de"}
    assert session["events"][0]["event"] == "session_started"


def test_greeting_uses_the_name_and_lists_open_orders(actions: ActionServer) -> None:
    result = actions.call("action_greet", demo_sender("camille"), "bonjour", "greet", {"language": "fr"})
    assert responses(result) == ["utter_greet_customer", "utter_open_orders_other"]  # French plural: 2 orders
    assert result["responses"][0]["name"] == "Camille"
    assert result["responses"][1]["count"] == "2"


def test_recommendation_explains_itself_and_is_deterministic(actions: ActionServer) -> None:
    first = actions.call("action_recommend", demo_sender("maria"), "¿qué me recomiendas?", "ask_recommendation")
    second = actions.call("action_recommend", demo_sender("maria"), "¿qué me recomiendas?", "ask_recommendation")
    assert responses(first) == ["utter_recommendation"] and first["responses"] == second["responses"]
    assert first["responses"][0]["bought"] and first["responses"][0]["product"] != first["responses"][0]["bought"]
    guest = actions.call("action_recommend", "guest-2", "recommend something", "ask_recommendation")
    assert responses(guest) == ["utter_recommendation_popular"]


def test_export_then_forget(actions: ActionServer) -> None:
    export = actions.call("action_export_data", demo_sender("oliver"), "what do you know about me", "request_data_export")
    assert responses(export) == ["utter_data_export"] and export["responses"][0]["name"] == "Oliver Brown"
    asked = actions.call("action_ask_forget", demo_sender("oliver"), "forget me", "forget_me")
    assert responses(asked) == ["utter_ask_forget_confirmation"]
    done = actions.call("action_forget_customer", demo_sender("oliver"), "yes", "affirm", {"forget_pending": True})
    assert responses(done) == ["utter_forgotten"]
    assert Store(actions.store_url).customer_for_identity("web", demo_sender("oliver")) is None


def test_handoff_opens_a_ticket_and_pauses(actions: ActionServer) -> None:
    result = actions.call("action_handoff", "guest-handoff", "I want a human", "human_handoff")
    assert responses(result) == ["utter_handoff", "utter_handoff_ticket"]
    assert any(e["event"] == "pause" for e in result["events"])
    ticket = Store(actions.store_url).open_ticket_for_identity("rest", "guest-handoff")
    assert result["responses"][1]["ticket"] == ticket.id and "customer: I want a human" in ticket.transcript
    again = actions.call("action_handoff", "guest-handoff", "hello??", "human_handoff")
    assert again["responses"][1]["ticket"] == ticket.id  # still the one open ticket


def test_address_change_is_validated(actions: ActionServer) -> None:
    # Wang Wei has two open orders (40001, 40002): without a number the bot would ask which.
    started = actions.call("action_prepare_address_change", demo_sender("wangwei"), "改地址", "change_address", {"language": "zh", "order_number": "40001"})
    assert {"event": "followup", "name": "address_form"}.items() <= started["events"][-1].items()
    number = slot_events(started)["order_number"]
    changed = actions.call("action_change_address", demo_sender("wangwei"), "", "change_address_to", {"order_number": number, "new_address": "上海市浦东新区世纪大道100号 200120"})
    assert responses(changed) == ["utter_address_changed"]
    assert Store(actions.store_url).order_for_customer(4, number).shipping_address == "上海市浦东新区世纪大道100号 200120"


def test_database_outage_gets_an_apology_and_the_server_stays_up(tmp_path: Path) -> None:
    secret_url = "postgresql+psycopg2://bot:s3cret-pw@127.0.0.1:9/store"
    for server in run_action_server(tmp_path, secret_url):
        result = server.call("action_order_status", demo_sender("maria"), "¿dónde está mi pedido?", "order_status", {"language": "es"})
        assert responses(result) == ["utter_store_unavailable"]
        assert responses(server.call("action_greet", demo_sender("maria"), "hola", "greet")) == ["utter_store_unavailable"]
        log = server.log.read_text()
        assert "store.unavailable" in log and "CS_STORE_URL" in log
        assert "s3cret-pw" not in log and "maria" not in log
