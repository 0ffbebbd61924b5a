"""Web sessions and the Host check, without a server: what a forged or stale cookie gets."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from bot.hosts import allowed_hosts
from bot.web_session import ALGORITHM, InvalidSession, SessionConfigError, Sessions, new_guest_sender

SECRET = "s" * 40


def sessions(hours: int = 1) -> Sessions:
    return Sessions(SECRET, dt.timedelta(hours=hours), always_secure=False)


def test_a_session_gives_back_its_sender() -> None:
    sender = new_guest_sender()
    assert sessions().sender_of(sessions().issue(sender)) == sender


def test_guest_senders_are_random_and_never_a_demo_customers() -> None:
    senders = {new_guest_sender() for _ in range(100)}
    assert len(senders) == 100
    assert all(sender.startswith("web:") and not sender.startswith("web:demo-") for sender in senders)


@pytest.mark.parametrize(
    "token, reason",
    [
        (jwt.encode({"sub": "web:x", "exp": 2**40}, "another-secret-" + "y" * 30, algorithm=ALGORITHM), "not one this server issued"),
        (jwt.encode({"sub": "web:x", "exp": 1}, SECRET, algorithm=ALGORITHM), "expired"),
        (jwt.encode({"sub": "web:x"}, SECRET, algorithm=ALGORITHM), "not one this server issued"),  # no expiry
        (jwt.encode({"sub": "rest:x", "exp": 2**40}, SECRET, algorithm=ALGORITHM), "not one this server issued"),
        (jwt.encode({"sub": "web:x", "exp": 2**40}, None, algorithm="none"), "not one this server issued"),
        ("web:demo-maria", "not one this server issued"),
    ],
    ids=["other-secret", "expired", "no-expiry", "not-web", "alg-none", "not-a-token"],
)
def test_a_session_the_server_did_not_issue_is_refused(token: str, reason: str) -> None:
    with pytest.raises(InvalidSession, match=reason):
        sessions().sender_of(token)


@pytest.mark.parametrize("secret", ["", "short"])
def test_without_a_secret_the_channel_names_the_fix(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("CS_WEB_SESSION_SECRET", secret)
    with pytest.raises(SessionConfigError, match="CS_WEB_SESSION_SECRET"):
        Sessions.from_env()


def test_allowed_hosts_default_to_loopback_and_ignore_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CS_ALLOWED_HOSTS", raising=False)
    assert allowed_hosts() == {"127.0.0.1", "localhost", "[::1]"}
    monkeypatch.setenv("CS_ALLOWED_HOSTS", "Bot.Example.com:443, localhost")
    assert allowed_hosts() == {"bot.example.com", "localhost"}
