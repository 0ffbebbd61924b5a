"""Channel language hints reach the LanguageDetector through a real `rasa run` (REST metadata)."""

from __future__ import annotations

import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from tests.responses import identify
from tests.servers import running_bot, seeded_store

pytestmark = pytest.mark.slow

# py3langid leans French but not surely: the text alone does not switch the language.
OPEN_TEXT = "la livraison express"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("bot")
    with running_bot(tmp, seeded_store(tmp)) as base:
        yield base


def reply_languages(bot: str, sender: str, message: str, metadata: Optional[Dict[str, Any]] = None) -> List[str]:
    body = {"sender": sender, "message": message, "metadata": metadata or {}}
    reply = requests.post(f"{bot}/webhooks/rest/webhook", json=body, timeout=60)
    reply.raise_for_status()
    found = [identify(m["text"]) for m in reply.json() if m.get("text")]
    assert found and all(found), f"not domain responses: {reply.json()}"
    return sorted({language for _, language in found})


def sender() -> str:
    return f"hint-{uuid.uuid4().hex[:8]}"


def test_a_browser_locale_decides_a_message_the_text_leaves_open(bot: str) -> None:
    assert reply_languages(bot, sender(), OPEN_TEXT, {"locale": "fr-FR"}) == ["fr"]
    assert reply_languages(bot, sender(), OPEN_TEXT) == ["en"]  # no hint: the default language


def test_a_hint_never_switches_away_from_the_conversations_language(bot: str) -> None:
    customer = sender()
    assert reply_languages(bot, customer, "¿Dónde está mi pedido?", {"language_hint": "de"}) == ["es"]
    assert reply_languages(bot, customer, "ok", {"language_hint": "de"}) == ["es"]
