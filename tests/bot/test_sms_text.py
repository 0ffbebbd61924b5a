"""SMS encoding, segment limits, splitting and numbered buttons (`bot/sms_text.py`): pure and fast."""

from __future__ import annotations

import random
import re
from typing import List

import pytest

from bot.sms_text import (
    button_choice,
    encoded_length,
    is_gsm7,
    numbered_buttons,
    part_limit,
    segment_count,
    split_message,
    split_to_length,
)

ENGLISH = (
    "Your order 10002 has shipped with SEUR and should arrive within two business days. "
    "You can follow it at any time with the tracking number SEUR4471010002. "
    "If the parcel is late or damaged, just reply to this message and we will sort it out! "
    "Would you like anything else?"
)
SPANISH = (
    "Su pedido 10002 ha sido enviado con SEUR y debería llegar en dos días hábiles. "
    "Puede seguirlo en cualquier momento con el número de seguimiento SEUR4471010002. "
    "¿Necesita algo más?"
)
CHINESE = (
    "您的订单10002已经由SEUR发货，预计两个工作日内送达。您可以随时使用快递单号SEUR4471010002查询物流信息。"
    "如果包裹延误或损坏，请直接回复此消息，我们会立即为您处理！还有什么可以帮您的吗？"
)
ARABIC = (
    "تم شحن طلبك رقم 10002 مع شركة SEUR ومن المتوقع أن يصل خلال يومي عمل. "
    "يمكنك تتبع الشحنة في أي وقت باستخدام رقم التتبع SEUR4471010002. "
    "إذا تأخر الطرد أو وصل تالفاً، فقط رد على هذه الرسالة وسنساعدك فوراً! هل تحتاج إلى شيء آخر؟"
)
SENTENCE_END = re.compile(r"[.!?。！？؟]$")


def words(text: str) -> List[str]:
    return text.split()


# -- encoding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, gsm7",
    [
        ("Where is my order?", True),
        ("¡Sí!", False),  # í is not GSM-7
        ("Größe 42, ñ, àèéìòù, ¿Que? ¡Hola!", True),  # the accents GSM-7 has
        ("Price: 10 € [incl. VAT] {ok} ~ | ^ \\", True),  # the extension table
        ("¿Dónde está mi pedido?", False),  # ó and á are not GSM-7
        ("我的订单到哪里了？", False),
        ("أين طلبي؟", False),
        ("Thanks 👍", False),
        ("tab\tis not GSM-7", False),
    ],
)
def test_gsm7_is_detected_character_by_character(text: str, gsm7: bool) -> None:
    assert is_gsm7(text) is gsm7


def test_extension_characters_take_two_septets_and_emoji_two_ucs2_units() -> None:
    assert encoded_length("a€[", gsm7=True) == 5
    assert encoded_length("字😀", gsm7=False) == 3


@pytest.mark.parametrize(
    "text, segments",
    [
        ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),  # GSM-7: 160, then 153 each
        ("€" * 80, 1), ("€" * 81, 2),  # € is two septets
        ("字" * 70, 1), ("字" * 71, 2), ("字" * 134, 2), ("字" * 135, 3),  # UCS-2: 70, then 67 each
        ("ع" * 70, 1), ("ع" * 71, 2),
        ("í" * 70, 1), ("í" * 71, 2),  # one Spanish í makes a message UCS-2
        ("😀" * 35, 1), ("😀" * 36, 2),  # an emoji is two UTF-16 units
    ],
)
def test_segment_count_uses_the_single_and_concatenated_limits(text: str, segments: int) -> None:
    assert segment_count(text) == segments


@pytest.mark.parametrize(
    "text, max_segments, limit",
    [(ENGLISH, 1, 160), (ENGLISH, 3, 459), (SPANISH, 1, 70), (CHINESE, 1, 70), (ARABIC, 2, 134)],
)
def test_part_limit_follows_the_encoding_of_the_whole_text(text: str, max_segments: int, limit: int) -> None:
    assert part_limit(text, max_segments) == limit


# -- splitting ----------------------------------------------------------------------------


def test_a_reply_that_fits_one_segment_is_left_alone() -> None:
    assert split_message("  Where is my order?  ") == ["Where is my order?"]
    assert split_message("   ") == []


@pytest.mark.parametrize("text", [ENGLISH, SPANISH, CHINESE, ARABIC])
@pytest.mark.parametrize("max_segments", [1, 2])
def test_parts_fit_their_segments_and_lose_nothing(text: str, max_segments: int) -> None:
    parts = split_message(text, max_segments)
    assert all(segment_count(part) <= max_segments for part in parts), parts
    assert all(encoded_length(part, is_gsm7(text)) <= part_limit(text, max_segments) for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_random_texts_always_fit_and_lose_nothing() -> None:
    pieces = ["word ", "Wort. ", "mot, ", "¿qué? ", "字", "。", "，", "€", "😀", "\n", "1. ", "x" * 90, " "]
    rng = random.Random(7)
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        max_segments = rng.choice([1, 2, 3])
        parts = split_message(text, max_segments)
        assert all(part and segment_count(part) <= max_segments for part in parts), (text, parts)
        assert "".join("".join(parts).split()) == "".join(text.split())


@pytest.mark.parametrize("text, parts", [(ENGLISH, 2), (CHINESE, 2), (ARABIC, 4)])
def test_long_replies_are_split_at_sentence_ends(text: str, parts: int) -> None:
    split = split_message(text)
    assert len(split) == parts, split
    assert all(SENTENCE_END.search(part) for part in split), split


def test_english_uses_gsm7_limits_and_chinese_and_arabic_ucs2_limits() -> None:
    english = split_message(ENGLISH)
    assert max(len(part) for part in english) > 70  # more than UCS-2 would allow
    assert all(len(part) <= 160 for part in english)
    assert all(len(part) <= 70 for part in split_message(CHINESE))
    assert all(len(part) <= 70 for part in split_message(ARABIC))


def test_one_accent_outside_gsm7_gives_spanish_the_ucs2_limits() -> None:
    assert split_message(SPANISH) == [
        "Su pedido 10002 ha sido enviado con SEUR",  # the first sentence is 78 > 70: cut evenly
        "y debería llegar en dos días hábiles.",
        "Puede seguirlo en cualquier momento con",
        "el número de seguimiento SEUR4471010002. ¿Necesita algo más?",
    ]


def test_concatenated_parts_use_153_not_160_per_segment() -> None:
    gsm7 = " ".join(["word"] * 62)  # 309 septets: under 2 x 160, but three segments of 153
    ucs2 = "，".join(["配送中心"] * 27)  # 134 units fit two segments of 67; 135 would not
    assert segment_count(gsm7) == 3 and segment_count(ucs2) == 2
    assert [segment_count(part) for part in split_message(gsm7, max_segments=2)] == [1, 1]  # split evenly
    assert split_message(ucs2, max_segments=2) == [ucs2]
    assert len(split_message(ucs2 + "。", max_segments=2)) == 2


def test_a_sentence_too_long_for_a_segment_is_cut_evenly_between_words() -> None:
    parts = split_message(" ".join(["delivery"] * 40))
    assert [len(words(part)) for part in parts] == [14, 14, 12]
    assert all(set(words(part)) == {"delivery"} for part in parts)


def test_a_chinese_sentence_too_long_for_a_segment_is_cut_at_a_comma() -> None:
    sentence = "，".join(["您的包裹已经到达配送中心"] * 8) + "。"
    parts = split_message(sentence)
    assert len(parts) == 2 and parts[0].endswith("，") and parts[1].endswith("。")


def test_only_a_word_longer_than_a_segment_is_cut_inside() -> None:
    url = "https://nordhaven.example/track/" + "x" * 200
    parts = split_message(f"Track it here: {url}")
    assert parts[0] == "Track it here:"
    assert "".join(parts[1:]) == url and all(len(part) <= 160 for part in parts)


def test_numbers_are_no_clause_ends() -> None:
    text = (
        "Your refund of 1,000.50 EUR for order 10003, which you returned last week, was issued today, "
        "and it reaches your card within five business days, depending on your bank."
    )
    parts = split_message(text)
    assert len(parts) == 2 and parts[0].endswith("issued today,") and "1,000.50 EUR" in parts[0]


# -- a length limit instead of segments (WhatsApp: 1,600) --------------------------------


@pytest.mark.parametrize("text", [ENGLISH, SPANISH, CHINESE, ARABIC])
def test_a_length_limit_splits_at_sentence_ends_and_loses_nothing(text: str) -> None:
    long_text = " ".join([text] * (2000 // len(text) + 1))  # over 2,000 characters
    parts = split_to_length(long_text, 1600)
    assert len(parts) >= 2
    assert all(encoded_length(part, gsm7=False) <= 1600 for part in parts)
    assert all(SENTENCE_END.search(part) for part in parts), [part[-20:] for part in parts]
    assert "".join("".join(parts).split()) == "".join(long_text.split())


def test_a_reply_within_the_length_limit_is_one_part_whatever_its_script() -> None:
    assert split_to_length(ARABIC, 1600) == [ARABIC]
    assert split_to_length("  ", 1600) == []


def test_emoji_count_two_units_against_the_length_limit() -> None:
    parts = split_to_length("😀" * 1000, 1600)
    assert [len(part) for part in parts] == [800, 200]


# -- buttons ------------------------------------------------------------------------------


def test_buttons_become_a_numbered_list() -> None:
    assert numbered_buttons("Cancel order 10001?", ["Yes", "No"]) == "Cancel order 10001?\n1. Yes\n2. No"
    assert numbered_buttons("", ["Yes"]) == "1. Yes"


def test_a_numbered_menu_stays_one_block() -> None:
    question = "¿Seguro que desea cancelar el pedido 10001? Se le reembolsará el importe completo."
    assert split_message(numbered_buttons(question, ["Sí, cancelarlo", "No, mantenerlo"])) == [
        "¿Seguro que desea cancelar el pedido 10001?",
        "Se le reembolsará el importe completo.",
        "1. Sí, cancelarlo\n2. No, mantenerlo",
    ]


def test_a_menu_too_long_for_a_segment_is_cut_between_its_lines() -> None:
    menu = numbered_buttons("Pick one.", [f"Option {number}, the long one with more words" for number in range(1, 8)])
    parts = split_message(menu)
    assert all(re.fullmatch(r"(\d\. Option \d, the long one with more words\n?)+", part) for part in parts[1:]), parts


@pytest.mark.parametrize(
    "reply, payload",
    [("1", "/affirm"), (" 2 ", "/deny"), ("2.", "/deny"), ("1)", "/affirm"), ("٢", "/deny"), ("２", "/deny"),
     ("3", None), ("0", None), ("1 please", None), ("10001", None), ("yes", None)],
)
def test_a_digit_reply_picks_that_buttons_payload(reply: str, payload: str) -> None:
    assert button_choice(reply, ["/affirm", "/deny"]) == payload


def test_a_digit_means_nothing_without_buttons() -> None:
    assert button_choice("1", []) is None
