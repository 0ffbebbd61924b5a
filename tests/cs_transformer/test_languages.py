"""Language identification: script rules, short-message guard, backends restricted to the bot, hints."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

from cs_transformer import LanguageDetector
from cs_transformer.language_detector import channel_hint
from cs_transformer.languages import BACKENDS, LanguageIdentifier, char_script, locale_language

BOT = ["en", "es", "de", "fr", "zh", "ar"]
SHORT_MESSAGES = Path(__file__).parent / "short_messages.tsv"


def short_messages() -> List[Tuple[str, str]]:
    """(language or "none", text) for each line of short_messages.tsv."""
    lines = SHORT_MESSAGES.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines if line.strip() and not line.startswith("#")]


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


def test_a_bot_with_one_latin_language_still_ignores_ok() -> None:
    chinese_bot = LanguageIdentifier(["zh", "en"], default_language="zh")
    assert not chinese_bot.identify("ok").reliable
    assert chinese_bot.identify("hello").language == "en" and chinese_bot.identify("hello").reliable
    assert chinese_bot.identify("where is my order").reliable


def test_a_script_the_bot_does_not_speak_is_not_reliable(identifier: LanguageIdentifier) -> None:
    assert not identifier.identify("Где мой заказ?").reliable


def test_is_deterministic(identifier: LanguageIdentifier) -> None:
    text = "Hallo, ich habe eine Frage zu meiner Lieferung"
    assert len({identifier.identify(text) for _ in range(20)}) == 1


def test_very_long_text_is_fast_enough_to_not_matter(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("Quiero devolver estas zapatillas. " * 300).language == "es"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_short_messages_switch_to_the_right_language_and_rarely_to_a_wrong_one(backend: str) -> None:
    """Issue 17's targets on >= 100 short messages: >= 95 % right, <= 2 % wrong switches."""
    identifier = LanguageIdentifier(BOT, "en", backend=backend)
    messages = short_messages()
    in_a_language = [(language, text) for language, text in messages if language != "none"]
    assert len(in_a_language) >= 100 and {language for language, _ in in_a_language} == set(BOT)
    guesses = [(language, text, identifier.identify(text)) for language, text in messages]
    right = [text for language, text, guess in guesses if guess.reliable and guess.language == language]
    wrong = [(text, guess.language) for language, text, guess in guesses
             if guess.reliable and guess.language != language]
    assert len(right) >= 0.95 * len(in_a_language), sorted(set(t for _, t in in_a_language) - set(right))
    assert len(wrong) <= 0.02 * len(messages), wrong


@pytest.mark.parametrize("text, language", [("hey, ist da jemand?", "de"), ("allô, il y a quelqu'un ?", "fr")])
def test_the_short_greetings_langdetect_got_wrong(identifier: LanguageIdentifier, text: str, language: str) -> None:
    guess = identifier.identify(text)
    assert (guess.language, guess.reliable) == (language, True)


def test_a_wrong_channel_hint_never_causes_a_wrong_switch(identifier: LanguageIdentifier) -> None:
    """An English speaker with a Spanish browser: the hint may not turn any short message wrong."""
    wrong = [
        (text, hint)
        for language, text in short_messages()
        for hint in BOT
        if hint != language and (guess := identifier.identify(text, hint=hint)).reliable and guess.language != language
    ]
    assert wrong == []


def test_a_channel_hint_decides_only_what_the_text_leaves_open(identifier: LanguageIdentifier) -> None:
    open_text = "la livraison express"  # French to py3langid, but not surely
    assert not identifier.identify(open_text).reliable
    hinted = identifier.identify(open_text, hint="fr")
    assert (hinted.language, hinted.reliable, hinted.source) == ("fr", True, "hint")
    assert not identifier.identify(open_text, hint="en").reliable  # the prior cannot outvote the text
    assert identifier.identify("¿Dónde está mi pedido?", hint="de").language == "es"  # reliable text wins
    assert identifier.identify("好", hint="en").language == "zh"  # so does a script


def test_a_hint_alone_names_the_language_but_never_switches(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("ok", hint="es") == identifier.identify("👍", hint="es")
    guess = identifier.identify("ok", hint="es")
    assert (guess.language, guess.reliable, guess.source) == ("es", False, "hint")
    assert identifier.identify("ok", hint="pt").language == "en"  # not a bot language: ignored


def test_keyboard_noise_is_counted_in_the_channels_language(identifier: LanguageIdentifier) -> None:
    """Statistics lean German on "qwer asdf zxcv", not surely; a Spanish customer's noise is Spanish
    (the review page counts it there) and switches nothing."""
    assert identifier.identify("qwer asdf zxcv").language == "de"
    guess = identifier.identify("qwer asdf zxcv", hint="es")
    assert (guess.language, guess.reliable, guess.source) == ("es", False, "hint")


@pytest.mark.parametrize(
    "metadata, hint",
    [
        ({"locale": "es-ES"}, "es"),  # web page (navigator.language) and Slack (user locale)
        ({"locale": "zh_CN"}, "zh"),
        ({"language_hint": "fr", "locale": "en-US"}, "fr"),  # SMS country code, most specific first
        ({"locale": ""}, None),
        ({"locale": 7}, None),
        ({"slack_user": "U1"}, None),
        (None, None),
        ("es", None),
    ],
)
def test_channel_hint_from_metadata(metadata: object, hint: object) -> None:
    assert channel_hint(metadata) == hint


def test_locale_language() -> None:
    assert [locale_language(tag) for tag in ["es-ES", "pt_BR", "zh-Hans-CN", "DE", "x", "", None]] == [
        "es", "pt", "zh", "de", None, None, None
    ]


def detect(text: str, metadata: object = None, **config: object) -> Message:
    detector = LanguageDetector.create({"languages": BOT, **config}, None, None, None)
    (message,) = detector.process([Message(data={"text": text, "metadata": metadata})])
    return message


def language_entities(message: Message) -> List[str]:
    return [entity["value"] for entity in message.get("entities", []) if entity["entity"] == "language"]


def test_detector_reads_the_hint_from_the_message_metadata() -> None:
    """Rasa 3.6 puts UserMessage.metadata into message.data["metadata"] (NLUMessageConverter)."""
    hinted = detect("la livraison express", {"locale": "fr-FR"})
    assert hinted.get("language")["source"] == "hint" and language_entities(hinted) == ["fr"]
    assert language_entities(detect("la livraison express")) == []


def test_only_reliable_evidence_adds_the_language_entity() -> None:
    """The `language` slot is filled from this entity: "ok" keeps the conversation's language."""
    assert language_entities(detect("¿Dónde está mi pedido?")) == ["es"]
    for text in ["ok", "👍", "12345"]:
        message = detect(text, {"locale": "de-DE"})
        assert language_entities(message) == [] and message.get("language")["reliable"] is False


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_is_selectable(backend: str) -> None:
    message = detect("Wo ist meine Bestellung?", backend=backend)
    assert message.get("language")["source"] == backend and language_entities(message) == ["de"]


def test_bad_detector_config_names_every_bad_key() -> None:
    with pytest.raises(InvalidConfigException) as error:
        LanguageDetector({"languages": BOT, "backend": "fasttext", "min_confidence": 2, "temperature": 0})
    lines = [line for line in str(error.value).splitlines() if line.startswith("  - ")]
    assert len(lines) == 3
    assert "py3langid, langdetect" in str(error.value)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_language_the_backend_lacks_fails_with_the_fix(backend: str) -> None:
    with pytest.raises(InvalidConfigException, match="Remove them from `languages`"):
        LanguageIdentifier(["en", "xx"], "en", backend=backend)


def test_serbian_in_latin_script_is_read_through_croatian_and_bosnian() -> None:
    identifier = LanguageIdentifier(["en", "de", "sr"], "en")
    guess = identifier.identify("Da li će danas da pada kiša u Beogradu?")
    assert (guess.language, guess.reliable) == ("sr", True)


def test_chinese_and_arabic_with_latin_names_stay_chinese_and_arabic(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("播放 Lee Aaron 的 专辑 Everybody Happy").language == "zh"
    assert identifier.identify("ابحث عن فيلم Louder than Bombs").language == "ar"


def test_japanese_kanji_beside_kana_is_japanese() -> None:
    assert LanguageIdentifier(["en", "zh", "ja"], "en").identify("明日の天気は？").language == "ja"


def test_char_script() -> None:
    assert [char_script(c) for c in "aé中あ한ع1 😀"] == ["latin", "latin", "han", "kana", "hangul", "arabic", None, None, None]
