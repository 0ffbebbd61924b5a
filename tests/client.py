"""Talking to a running bot the way real clients can: a web session the server issued, the
guest REST channel, and the HTTP API with its token. No test claims `sender: maria` any more."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import jwt
import requests

from bot.web_session import ALGORITHM, COOKIE
from tests.servers import API_TOKEN, WEB_SESSION_SECRET

TIMEOUT_S = 60
DEMO_SIGN_IN = {"CS_DEMO_SIGN_IN": "1"}


class WebChat:
    """One browser on the chat page: its cookie jar holds the session the server issued."""

    def __init__(self, base: str) -> None:
        self.url = f"{base}/webhooks/web/"
        self.http = requests.Session()

    def start(self) -> "WebChat":
        """A fresh guest session, as the page asks for on load."""
        reply = self.http.post(f"{self.url}session", json={"restart": True}, timeout=TIMEOUT_S)
        reply.raise_for_status()
        return self

    def sign_in(self, demo_name: str) -> "WebChat":
        """The demo sign-in link (on only with CS_DEMO_SIGN_IN=1)."""
        reply = self.http.get(f"{self.url}demo/{demo_name}", allow_redirects=False, timeout=TIMEOUT_S)
        assert reply.status_code == 303, (reply.status_code, reply.text)
        return self

    def post(self, message: str, metadata: Optional[Dict[str, Any]] = None, **claims: Any) -> requests.Response:
        """`claims` are extra body fields (e.g. a `sender`) the server must ignore."""
        body = {"message": message, "metadata": metadata, **claims}
        return self.http.post(f"{self.url}webhook", json=body, timeout=TIMEOUT_S)

    def messages(self, message: str, metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """The bot's messages that carry a text, with their buttons, as the page shows them."""
        reply = self.post(message, metadata)
        reply.raise_for_status()
        return [m for m in reply.json() if m.get("text")]

    def say(self, message: str, metadata: Optional[Dict[str, Any]] = None) -> List[str]:
        return [m["text"] for m in self.messages(message, metadata)]

    @property
    def sender(self) -> str:
        """The sender id inside the session; only a test that knows the server's secret can read it."""
        token = self.http.cookies.get(COOKIE)
        return jwt.decode(token, WEB_SESSION_SECRET, algorithms=[ALGORITHM])["sub"]


def texts(reply: requests.Response) -> List[str]:
    """The texts of a web or REST answer, which must be a 200."""
    assert reply.status_code == 200, reply.text
    return [m["text"] for m in reply.json() if m.get("text")]


def rest(base: str, sender: str, message: str, **body: Any) -> List[str]:
    """A message on the guest REST channel; its tracker is `rest:<sender>`."""
    reply = requests.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": message, **body}, timeout=TIMEOUT_S)
    reply.raise_for_status()
    return [m["text"] for m in reply.json() if m.get("text")]


def tracker(base: str, sender_id: str) -> Dict[str, Any]:
    """The tracker through Rasa's HTTP API, with the test run's token."""
    reply = requests.get(f"{base}/conversations/{sender_id}/tracker", params={"token": API_TOKEN}, timeout=TIMEOUT_S)
    reply.raise_for_status()
    return reply.json()
