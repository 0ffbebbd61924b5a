"""A local HTTP server that stands in for a third-party API (Slack, Twilio) in end-to-end tests.

The real SDK client is pointed at it (its base URL); the stand-in records every request
(method, path, query, headers, body) and answers with the JSON configured for that path, so a
test can assert on exactly what the bot sent, without mocks and without the internet.

    with running_stand_in({"/api/chat.postMessage": {"ok": True}}) as api:
        ...  # configure the bot with api.url
        sent = api.wait_for(lambda r: r.path == "/api/chat.postMessage")
        sent.json()["text"]

`running_twilio_api` and `running_slack_api` are the two APIs the channels call, answering
every call as the real API answers a successful one.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import parse_qs, urlsplit

Match = Callable[["Recorded"], bool]

TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_MESSAGES_PATH = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
TWILIO_QUEUED = {"sid": "SM" + "1" * 32, "status": "queued"}  # what Messages.json answers (201)
SLACK_POST_MESSAGE = "/api/chat.postMessage"
SLACK_USERS_INFO = "/api/users.info"
SLACK_POSTED = {"ok": True, "ts": "1700000000.000100"}


@dataclass(frozen=True)
class Recorded:
    """One request as the stand-in received it; header names are lower-case."""

    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> Dict[str, List[str]]:
        return parse_qs(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Answer:
    body: Any
    status: int = 200
    delay_s: float = 0.0


class StandIn:
    """The recorded requests and the configured answers of one running stand-in server."""

    def __init__(self, answers: Optional[Dict[str, Any]] = None, default: Any = None) -> None:
        self.url = ""
        self._answers = {path: Answer(body) for path, body in (answers or {}).items()}
        self._default = Answer({} if default is None else default)
        self._requests: List[Recorded] = []
        self._changed = threading.Condition()

    def answer(self, path: str, body: Any, status: int = 200, delay_s: float = 0.0) -> None:
        """Answers requests to `path` with `body` as JSON, after `delay_s` (a slow API)."""
        with self._changed:
            self._answers[path] = Answer(body, status, delay_s)

    def received(self, match: Match = lambda _: True) -> List[Recorded]:
        with self._changed:
            return [request for request in self._requests if match(request)]

    def wait_for(self, match: Match, timeout: float = 30.0, count: int = 1) -> List[Recorded]:
        """The first `count` matching requests, waiting up to `timeout` s for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [request for request in self._requests if match(request)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    break
                self._changed.wait(left)
        if len(found) < count:
            raise AssertionError(f"{len(found)} of {count} expected requests arrived in {timeout} s: {found}")
        return found[:count]

    def _record(self, request: Recorded) -> Answer:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
            return self._answers.get(request.path, self._default)


def _handler(stand_in: StandIn) -> type:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = stand_in._record(Recorded(self.command, parts.path, parse_qs(parts.query), headers, body))
            time.sleep(answer.delay_s)
            payload = json.dumps(answer.body).encode("utf-8")
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the recorded requests are the log."""

    return Handler


@contextmanager
def running_stand_in(answers: Optional[Dict[str, Any]] = None, default: Any = None) -> Iterator[StandIn]:
    """Serves on a free port of 127.0.0.1 until the block ends; `answers` maps paths to JSON."""
    stand_in = StandIn(answers, default)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="stand-in", daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def running_twilio_api() -> Iterator[StandIn]:
    """Twilio's Messages API for `TWILIO_ACCOUNT_SID`: every message sent is queued."""
    with running_stand_in() as api:
        api.answer(TWILIO_MESSAGES_PATH, TWILIO_QUEUED, status=201)
        yield api


def twilio_env(api: StandIn, auth_token: str) -> Dict[str, str]:
    """What a Twilio channel's credentials.yml reads (`${TWILIO_…}`) to send through `api`."""
    return {"TWILIO_AUTH_TOKEN": auth_token, "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID, "TWILIO_API_BASE_URL": api.url}


@contextmanager
def running_slack_api(user_info: Dict[str, Any]) -> Iterator[StandIn]:
    """Slack's Web API (base URL `{api.url}/api/`): `users.info` answers `user_info`, every post is accepted."""
    with running_stand_in({SLACK_USERS_INFO: user_info, SLACK_POST_MESSAGE: SLACK_POSTED}, default={"ok": True}) as api:
        yield api
