"""FrustrationScorer: the classifier's view plus capitals, !!!/??? and profanity, per language."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import pytest
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

from cs_transformer import FrustrationScorer, LanguageDetector
from tests.cs_transformer.conftest import EDGE_CASE_TEXTS

scorer = FrustrationScorer({})
BOT = ["en", "es", "de", "fr", "zh", "ar"]
detector = LanguageDetector.create({"languages": BOT}, None, None, None)


def message(text: str, language: str = "en", reliable: bool = True, ranking: Optional[List[Dict]] = None) -> Message:
    return Message(
        data={
            "text": text,
            "language": {"name": language, "confidence": 0.99, "reliable": reliable, "source": "test"},
            "intent_ranking": ranking or [{"name": "order_status", "confidence": 0.9}],
        }
    )


def frustration(text: str, **kwargs) -> Dict:
    return scorer.process([message(text, **kwargs)])[0].get("frustration")


@pytest.mark.parametrize(
    "text, language",
    [
        ("this is fucking ridiculous, where is my order", "en"),
        ("esto es una mierda, ¿dónde está mi pedido?", "es"),
        ("So eine Frechheit, wo bleibt meine Bestellung", "de"),
        ("c'est nul, où est ma commande ?", "fr"),
        ("你们这个垃圾客服，我的订单呢", "zh"),
        ("خدمة فاشلة، أين طلبي", "ar"),
    ],
)
def test_profanity_in_every_bot_language(text: str, language: str) -> None:
    result = frustration(text, language=language)
    assert "profanity" in result["signals"] and result["frustrated"]


@pytest.mark.parametrize(
    "text, language",
    [
        ("hello, where is my order?", "en"),
        ("Hola, ¿dónde está mi pedido?", "es"),
        ("Ich habe eine Frage zur Lieferung", "de"),
        ("Bonjour, je voudrais annuler ma commande", "fr"),
        ("请问这个操作怎么做？我的订单靠谱吗", "zh"),  # 操作 / 靠谱 are not insults
        ("ما هي أسعار الشحن؟", "ar"),  # أسعار (prices) contains no listed word
        ("Did you see Mr. Hellman's article?", "en"),  # "hell" only as a whole word
    ],
)
def test_calm_messages_score_zero(text: str, language: str) -> None:
    assert frustration(text, language=language) == {"score": 0.0, "frustrated": False, "signals": []}


def test_shouting_and_repeated_marks_add_up() -> None:
    result = frustration("WHERE IS MY ORDER???")
    assert result["signals"] == ["caps", "punctuation"]
    assert result["score"] == pytest.approx(0.5) and result["frustrated"]
    assert frustration("WHERE IS MY ORDER?")["signals"] == ["caps"]
    assert frustration("OK")["signals"] == []  # too few letters to be shouting
    assert frustration("我的订单在哪里！！！")["signals"] == ["punctuation"]  # full-width marks, no case in Han


def test_classifier_probability_of_frustration_intents_is_read_from_the_ranking() -> None:
    ranking = [{"name": "complaint", "confidence": 0.9}, {"name": "order_status", "confidence": 0.1}]
    result = frustration("I am not happy with how this went", ranking=ranking)
    assert result["signals"] == ["intent:complaint"]
    assert result["score"] == pytest.approx(0.54) and result["frustrated"]


def test_score_is_capped_at_one() -> None:
    ranking = [{"name": "complaint", "confidence": 1.0}]
    assert frustration("THIS IS FUCKING USELESS!!!", ranking=ranking)["score"] == 1.0


def test_uncertain_language_checks_every_list() -> None:
    assert "profanity" in frustration("mierda", language="en", reliable=False)["signals"]
    assert "profanity" not in frustration("mierda", language="en", reliable=True)["signals"]


def detected_frustration(text: str) -> Dict:
    """The message through the real LanguageDetector, then the scorer, as in config.yml."""
    (parsed,) = scorer.process(detector.process([Message(data={"text": text, "intent_ranking": []})]))
    return parsed.get("frustration")


# Issue 19: short, neutral replies that the lists of other languages used to flag.
NEUTRAL_SHORT_REPLIES = [
    "con paypal", "y con DHL?", "con mi email", "con iva", "¿con qué?", "Mist Grau bitte", "nul",
    "pros and cons", "hell grau, bitte", "con tarjeta", "nul points", "in mist grey",
]


@pytest.mark.parametrize("text", NEUTRAL_SHORT_REPLIES)
def test_neutral_short_replies_are_not_frustrated(text: str) -> None:
    assert "profanity" not in detected_frustration(text)["signals"]
    for language in BOT:  # whatever the detector had said, reliable or not
        for reliable in (True, False):
            assert not frustration(text, language=language, reliable=reliable)["frustrated"], (language, reliable)


@pytest.mark.parametrize(
    "text",
    [
        "you idiots", "this is fucking useless", "what the hell is wrong with you people",
        "sois unos idiotas", "esto es una mierda", "ihr Idioten", "so ein Mist, wo bleibt mein Paket?",
        "bande de connards", "vous êtes nuls", "c'est nul, où est ma commande ?",
        "espèce de con, rendez-moi mon argent",
        "你们这群骗子", "垃圾", "أنتم نصابين", "غبي",
    ],
)
def test_real_insults_are_frustrated_in_every_language(text: str) -> None:
    result = detected_frustration(text)
    assert "profanity" in result["signals"] and result["frustrated"]


def test_an_ambiguous_word_counts_in_its_language_with_context_only() -> None:
    assert frustration("c'est nul, où est ma commande ?", language="fr")["frustrated"]
    assert not frustration("c'est nul", language="fr")["frustrated"]  # too little around it
    assert not frustration("c'est nul, où est ma commande ?", language="fr", reliable=False)["frustrated"]
    assert not frustration("con mi email por favor ya", language="es")["frustrated"]  # not in the es list
    strict = FrustrationScorer({"min_context_words": 1})
    assert strict.score(message("c'est nul", language="fr"))["frustrated"]


def test_bad_config_names_every_bad_key() -> None:
    with pytest.raises(InvalidConfigException) as error:
        FrustrationScorer({"caps_weight": 3, "frustration_intents": [], "shout": True})
    message = str(error.value)
    assert "caps_weight" in message and "frustration_intents" in message and "shout" in message


def test_profanity_file_is_configurable(tmp_path: Path) -> None:
    words = tmp_path / "words.yml"
    words.write_text("en: [bananas]\n")
    custom = FrustrationScorer({"profanity_file": str(words)})
    assert custom.score(message("this is bananas"))["signals"] == ["profanity"]
    with pytest.raises(InvalidConfigException, match="does not exist"):
        FrustrationScorer({"profanity_file": str(tmp_path / "missing.yml")})


@pytest.mark.parametrize("text", EDGE_CASE_TEXTS + ["¡¡¡NO FUNCIONA NADA!!!", "你们真是垃圾", "غبي"])
def test_every_message_gets_a_bounded_score_in_the_output(text: str) -> None:
    """Contract: after the language detector, any text gets a score in [0, 1] that Rasa keeps."""
    detector = LanguageDetector.create({"languages": ["en", "es", "de", "fr", "zh", "ar"]}, None, None, None)
    (parsed,) = scorer.process(detector.process([Message(data={"text": text})]))
    output = parsed.as_dict(only_output_properties=True)["frustration"]
    assert 0.0 <= output["score"] <= 1.0 and isinstance(output["signals"], list)
    assert output["frustrated"] == (output["score"] >= 0.5)
