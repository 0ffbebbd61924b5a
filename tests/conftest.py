"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from cs_common.store import Store
    from tests.bot.stand_in import StandIn

REPO = Path(__file__).resolve().parents[1]
# Session-wide PostgreSQL and Redis servers for every test that asks for them.
pytest_plugins = ("tests.databases",)
BOT_LANGUAGES = ("en", "es", "de", "fr", "zh", "ar")

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


# -- for the end-to-end tests of the channels: each module starts one bot with these ----------
# (imported inside the fixtures: the unit tests never load the store, and tests/servers.py imports this module)


@pytest.fixture(scope="module")
def twilio_api() -> Iterator["StandIn"]:
    """A stand-in for Twilio's Messages API (tests/bot/stand_in.py), for the module's bot."""
    from tests.bot.stand_in import running_twilio_api

    with running_twilio_api() as api:
        yield api


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The module's own store, seeded with the demo customers."""
    from tests.servers import seeded_store

    return seeded_store(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def store(store_url: str) -> Iterator["Store"]:
    """The module's store as the tests read and change it beside the bot."""
    from cs_common.store import Store

    store = Store(store_url)
    yield store
    store.close()
