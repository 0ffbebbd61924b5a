"""Language identification: script rules, short-message guard, langdetect restricted to the bot."""

from __future__ import annotations

import pytest

from cs_transformer.languages import LanguageIdentifier, char_script

BOT = ["en", "es", "de", "fr", "zh", "ar"]


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier(BOT, default_language="en")


@pytest.mark.parametrize(
    "text, language",
    [
        ("¿Dónde está mi pedido?", "es"),
        ("Wo ist meine Bestellung?", "de"),
        ("où est ma commande svp", "fr"),
        ("where is my order, it's been a week", "en"),
        ("我的订单到哪了", "zh"),
        ("好", "zh"),
        ("أين طلبي؟", "ar"),
        ("شكرا", "ar"),
        ("hola", "es"),
        ("danke", "de"),
        ("merci", "fr"),
        ("我想退货 order 12345", "zh"),
    ],
)
def test_identifies_the_bot_languages(identifier: LanguageIdentifier, text: str, language: str) -> None:
    guess = identifier.identify(text)
    assert (guess.language, guess.reliable) == (language, True)


@pytest.mark.parametrize("text", ["ok", "👍", "12345", "", "   ", "?!", "si", "no", "#10482"])
def test_too_little_evidence_is_not_reliable(identifier: LanguageIdentifier, text: str) -> None:
    guess = identifier.identify(text)
    assert not guess.reliable
    assert guess.language == "en" and guess.confidence == 0.0


def test_only_the_bot_languages_come_back(identifier: LanguageIdentifier) -> None:
    portuguese = "Onde está a minha encomenda? Já faz uma semana que espero"
    italian = "Dove si trova il mio ordine? Aspetto da una settimana"
    assert identifier.identify(portuguese).language in BOT
    assert identifier.identify(italian).language in BOT


def test_script_maps_to_the_bot_language_of_that_script() -> None:
    japanese_bot = LanguageIdentifier(["en", "ja"], default_language="en")
    assert japanese_bot.identify("注文").language == "ja"
    assert LanguageIdentifier(["en", "ru"], "en").identify("Где мой заказ?").language == "ru"


def test_a_script_the_bot_does_not_speak_is_not_reliable(identifier: LanguageIdentifier) -> None:
    assert not identifier.identify("Где мой заказ?").reliable


def test_is_deterministic(identifier: LanguageIdentifier) -> None:
    text = "Hallo, ich habe eine Frage zu meiner Lieferung"
    assert len({identifier.identify(text) for _ in range(20)}) == 1


def test_very_long_text_is_fast_enough_to_not_matter(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("Quiero devolver estas zapatillas. " * 300).language == "es"


def test_char_script() -> None:
    assert [char_script(c) for c in "aé中あ한ع1 😀"] == ["latin", "latin", "han", "kana", "hangul", "arabic", None, None, None]
