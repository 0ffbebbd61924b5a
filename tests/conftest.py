"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Session-wide PostgreSQL and Redis servers for every test that asks for them.
pytest_plugins = ("tests.databases",)
BOT_LANGUAGES = ("en", "es", "de", "fr", "zh", "ar")

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
