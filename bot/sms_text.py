"""What an SMS (or a WhatsApp message) can carry: GSM-7 or UCS-2 encoding, segment limits, and buttons as text.

Pure functions, no I/O, so every rule here is tested in milliseconds (tests/bot/test_sms_text.py).

A message that fits one segment may use the whole segment (GSM-7: 160 characters, UCS-2: 70);
a longer one is sent as concatenated segments whose header leaves 153 (GSM-7) or 67 (UCS-2).
One character outside the GSM-7 alphabet (Chinese, Arabic, but also Spanish "í") makes the
whole message UCS-2. Long replies are split into parts at sentence boundaries, then between
the lines of a numbered menu, then at clause boundaries, then at spaces, and inside a word
only when that one word is too long for a part.
"""

from __future__ import annotations

import math
import re
from typing import List, Optional, Pattern, Sequence, Text, Tuple

# GSM 03.38: the basic alphabet (one septet each) and its extension table (escape + septet).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"
_GSM7 = frozenset(GSM7_BASIC + GSM7_EXTENSION)

# (one-segment limit, per-segment limit when concatenated), in septets or UTF-16 code units.
GSM7_LIMITS = (160, 153)
UCS2_LIMITS = (70, 67)

# Where a part may end, best first: after a sentence or a line (a numbered menu stays one
# block: "1. Yes" is no sentence end and only the menu's first line starts a new unit), between
# menu lines, after a clause ("1,000" is none), after any space.
_BOUNDARIES: Tuple[Pattern, ...] = (
    re.compile(
        r"(?:(?<=[!?…؟])|(?<=\.)(?<!^\d\.)(?<!^\d\d\.))[\"'”’»)]*[^\S\n]+|(?<=[。！？])|\n(?!\d{1,2}\. )|\n(?=1\. )",
        re.MULTILINE,
    ),
    re.compile(r"\n"),
    re.compile(r"(?<=[,;:])[^\S\n]+|(?<=[，；：、،؛])"),
    re.compile(r"\s+"),
)
_MENU_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def is_gsm7(text: Text) -> bool:
    """True when every character is in the GSM-7 alphabet, so the cheaper encoding applies."""
    return all(char in _GSM7 for char in text)


def encoded_length(text: Text, gsm7: bool) -> int:
    """Length as the network counts it: septets (extension characters take two) or UTF-16 units."""
    if gsm7:
        return len(text) + sum(char in GSM7_EXTENSION for char in text)
    return len(text.encode("utf-16-le")) // 2


def segment_count(text: Text) -> int:
    """How many SMS segments `text` costs when sent as one message."""
    gsm7 = is_gsm7(text)
    single, concatenated = GSM7_LIMITS if gsm7 else UCS2_LIMITS
    length = encoded_length(text, gsm7)
    return 1 if length <= single else math.ceil(length / concatenated)


def part_limit(text: Text, max_segments: int = 1) -> int:
    """The longest part (in septets or UTF-16 units) that stays within `max_segments` segments."""
    single, concatenated = GSM7_LIMITS if is_gsm7(text) else UCS2_LIMITS
    return single if max_segments == 1 else concatenated * max_segments


def split_message(text: Text, max_segments: int = 1) -> List[Text]:
    """`text` as parts of at most `max_segments` segments each, cut at the best boundary.

    The encoding is decided once for the whole text, so a part never silently needs more
    segments than planned.
    """
    text = text.strip()
    if not text:
        return []
    gsm7 = is_gsm7(text)
    parts = _split(text, part_limit(text, max_segments), gsm7, level=0)
    return [part.strip() for part in parts if part.strip()]


def split_to_length(text: Text, max_units: int) -> List[Text]:
    """`text` as parts of at most `max_units` UTF-16 code units, cut at the same boundaries as
    `split_message`: for channels with a length limit instead of segments (WhatsApp: 1,600).

    Counted in UTF-16 code units, so an emoji counts two: a part is within the limit however
    the limit is counted.
    """
    text = text.strip()
    if not text:
        return []
    parts = _split(text, max_units, gsm7=False, level=0)
    return [part.strip() for part in parts if part.strip()]


def _split(text: Text, limit: int, gsm7: bool, level: int) -> List[Text]:
    """Whole units (sentences at level 0) packed into parts; a unit too long alone is split finer.

    A long unit starts a part of its own, so only that unit is cut where the part ends.
    """
    if _fits(text, limit, gsm7):
        return [text]
    if level == len(_BOUNDARIES):
        return _cut_anywhere(text, limit, gsm7)
    units = _split_after(text, _BOUNDARIES[level])
    if len(units) == 1:
        return _balanced(text, limit, gsm7, level + 1)
    parts: List[Text] = []
    size = 0  # of parts[-1] without its leading whitespace, kept as it grows (linear time)
    for unit in units:
        if parts and size + encoded_length(unit.rstrip(), gsm7) <= limit:
            parts[-1] += unit
            size += encoded_length(unit, gsm7)
        else:
            pieces = [unit] if _fits(unit, limit, gsm7) else _balanced(unit, limit, gsm7, level + 1)
            parts.extend(pieces)
            size = encoded_length(pieces[-1].lstrip(), gsm7)
    return parts


def _balanced(text: Text, limit: int, gsm7: bool, level: int) -> List[Text]:
    """As few parts as `_split` needs, but as even as possible: no lone last word.

    The narrowest width that still gives that many parts, and never narrower than the
    longest word, so no word is cut that did not have to be.
    """
    while level < len(_BOUNDARIES) and len(_split_after(text, _BOUNDARIES[level])) == 1:
        level += 1  # nothing to choose at this level: skip it once, not once per width tried
    count = len(_split(text, limit, gsm7, level))
    low = min(limit, max(encoded_length(word, gsm7) for word in text.split()))
    high = limit
    while low < high:
        width = (low + high) // 2
        if len(_split(text, width, gsm7, level)) <= count:
            high = width
        else:
            low = width + 1
    return _split(text, high, gsm7, level)


def _fits(text: Text, limit: int, gsm7: bool) -> bool:
    return encoded_length(text.strip(), gsm7) <= limit


def _split_after(text: Text, boundary: Pattern) -> List[Text]:
    """`text` cut right after each boundary match; the pieces join back to `text`."""
    ends = [match.end() for match in boundary.finditer(text) if 0 < match.end() < len(text)]
    return [text[start:end] for start, end in zip([0] + ends, ends + [len(text)]) if start < end]


def _cut_anywhere(text: Text, limit: int, gsm7: bool) -> List[Text]:
    """The last resort for one over-long word: cut between characters."""
    pieces, size = [""], 0
    for char in text.strip():
        char_size = encoded_length(char, gsm7)
        if size + char_size > limit:
            pieces.append("")
            size = 0
        pieces[-1] += char
        size += char_size
    return pieces


def numbered_buttons(text: Text, titles: Sequence[Text]) -> Text:
    """SMS has no buttons: the text, then "1. Yes" / "2. No" lines to answer with a digit."""
    menu = "\n".join(f"{number}. {title}" for number, title in enumerate(titles, start=1))
    return f"{text}\n{menu}" if text else menu


def button_choice(reply: Text, payloads: Sequence[Text]) -> Optional[Text]:
    """The payload of the button the customer picked by its number ("2", "2.", "٢"), if any."""
    match = _MENU_CHOICE.match(reply)
    if not match:
        return None
    number = int(match.group(1))
    return payloads[number - 1] if 1 <= number <= len(payloads) else None
