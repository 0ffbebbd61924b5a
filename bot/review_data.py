"""Conversation review: what customers wrote, read from the (redacted) SQL tracker store.

One module for the review page (bot/review.py) and the command line (bot/review_cli.py):

- `read_review(engine)` turns the tracker store's `events` table (Rasa's `SQLTrackerStore`,
  SQLite or PostgreSQL) into the customers' messages and per language and per day: messages,
  fallback rate, handoff rate, frustration offers, mean confidence;
- `review_queue` picks the messages worth a look: fallbacks, low-confidence predictions and the
  message before each handoff, each with its conversation, language and top three intents;
- `save_label` keeps a designer's label in a table of its own, `review_labels` (never in the
  tracker), keyed by the event's id;
- `export_drafts` writes the labelled messages as Rasa NLU YAML, one `<language>.yml` per
  language, without the sentences `data/nlu/` already has;
- `chart_png` draws one measure per language over the days (matplotlib, server-side).

The store holds conversations redacted (bot/tracker_store.py), so no clear personal data can
reach the page or the drafts; conversations are named by a hash of their sender id (a phone
number for SMS), never by the id itself.
"""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Text, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import DEFAULT_INTENTS
from rasa.shared.core.events import BotUttered, ConversationPaused, UserUttered
from rasa.shared.nlu.constants import INTENT_RESPONSE_KEY
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.data import get_data_files, is_nlu_file

from bot.web import conversation_tag

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
FRUSTRATION_OFFER = "utter_offer_handoff_frustrated"
UNKNOWN_LANGUAGE = "und"
# Below this top-intent confidence a message that did not fall back is still worth a look.
LOW_CONFIDENCE = 0.6
TOP_INTENTS = 3
QUEUE_LIMIT = 200
MEASURES = {
    "messages": "messages",
    "fallback_rate": "fallback rate",
    "handoff_rate": "handoff rate (per conversation)",
    "frustration_offers": "frustration offers",
    "mean_confidence": "mean confidence",
}
READ_TYPES = (UserUttered.type_name, BotUttered.type_name, ConversationPaused.type_name)

events = SQLTrackerStore.SQLEvent.__table__  # Rasa's own definition of the table it writes
_labels_metadata = sa.MetaData()
labels = sa.Table(
    "review_labels",
    _labels_metadata,
    sa.Column("event_id", sa.Integer, primary_key=True),  # events.id of the user message
    sa.Column("label", sa.String(255), nullable=False),
    sa.Column("labelled_at", sa.Float, nullable=False),
)


class ReviewError(ValueError):
    """A request the review cannot carry out; the message says why (for a 4xx or the CLI)."""


@dataclass
class ReviewedMessage:
    """One customer message as the review shows it."""

    id: int
    conversation: Text
    channel: Text
    day: Text
    text: Text
    language: Text
    intent: Text
    confidence: float
    top_intents: List[Tuple[Text, float]]
    before_handoff: bool = False
    label: Optional[Text] = None

    @property
    def fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT

    def reasons(self, low_confidence: float) -> List[Text]:
        """Why the message is in the queue (empty: it is not)."""
        found = []
        if self.fallback:
            found.append("fallback")
        elif self.confidence < low_confidence:
            found.append("low confidence")
        if self.before_handoff:
            found.append("before handoff")
        return found

    def as_json(self, low_confidence: float) -> Dict[Text, Any]:
        return {
            "id": self.id, "conversation": self.conversation, "channel": self.channel, "day": self.day,
            "text": self.text, "language": self.language, "intent": self.intent,
            "confidence": round(self.confidence, 3), "reasons": self.reasons(low_confidence),
            "top_intents": [{"name": name, "confidence": round(value, 3)} for name, value in self.top_intents],
            "label": self.label,
        }


@dataclass
class DayStats:
    """One language on one day (UTC)."""

    language: Text
    day: Text
    messages: int = 0
    fallbacks: int = 0
    handoffs: int = 0
    frustration_offers: int = 0
    confidence_sum: float = 0.0
    conversations: Set[Text] = field(default_factory=set)

    def values(self) -> Dict[Text, Any]:
        """Every measure of `MEASURES`, plus the counts behind the rates."""
        count = max(self.messages, 1)
        return {
            "language": self.language,
            "day": self.day,
            "messages": self.messages,
            "conversations": len(self.conversations),
            "fallbacks": self.fallbacks,
            "handoffs": self.handoffs,
            "fallback_rate": round(self.fallbacks / count, 3),
            "handoff_rate": round(self.handoffs / max(len(self.conversations), 1), 3),
            "frustration_offers": self.frustration_offers,
            "mean_confidence": round(self.confidence_sum / count, 3),
        }


@dataclass
class Review:
    messages: List[ReviewedMessage]
    days: List[DayStats]

    def languages(self) -> List[Text]:
        return sorted({stats.language for stats in self.days})


def read_review(engine: sa.engine.Engine) -> Review:
    """Every customer message in the tracker store, with its label, and the daily measures."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(events.name):  # the bot has not saved a conversation yet
            return Review([], [])
        rows = connection.execute(
            sa.select(events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.data)
            .where(events.c.type_name.in_(READ_TYPES))
            .order_by(events.c.sender_id, events.c.id)
        ).all()
        known_labels = _read_labels(connection)
    messages: List[ReviewedMessage] = []
    days: Dict[Tuple[Text, Text], DayStats] = {}
    last_message: Dict[Text, ReviewedMessage] = {}
    for row in rows:
        event = _event_data(row.data)
        if row.type_name == UserUttered.type_name:
            message = _reviewed_message(row, event)
            if message is None:
                continue
            message.label = known_labels.get(message.id)
            messages.append(message)
            last_message[row.sender_id] = message
            stats = _day_stats(days, message.language, message.day)
            stats.messages += 1
            stats.fallbacks += message.fallback
            stats.confidence_sum += message.confidence
            stats.conversations.add(message.conversation)
            continue
        previous = last_message.get(row.sender_id)
        if previous is None:
            continue
        if row.type_name == ConversationPaused.type_name and not previous.before_handoff:
            previous.before_handoff = True
            _day_stats(days, previous.language, previous.day).handoffs += 1
        elif row.type_name == BotUttered.type_name and (event.get("metadata") or {}).get("utter_action") == FRUSTRATION_OFFER:
            _day_stats(days, previous.language, previous.day).frustration_offers += 1
    return Review(messages, sorted(days.values(), key=lambda stats: (stats.day, stats.language)))


def review_queue(
    review: Review, low_confidence: float = LOW_CONFIDENCE, language: Optional[Text] = None, limit: int = QUEUE_LIMIT
) -> List[ReviewedMessage]:
    """Unlabelled messages worth a look, newest first, in `language` or all."""
    picked = [
        message for message in reversed(review.messages)
        if message.label is None and message.reasons(low_confidence) and language in (None, message.language)
    ]
    return picked[:limit]


def save_label(engine: sa.engine.Engine, event_id: int, label: Text, allowed: Iterable[Text]) -> ReviewedMessage:
    """Labels the customer message `event_id` with an intent of `allowed` (or out of scope)."""
    if label not in set(allowed):
        raise ReviewError(f"'{label}' is not an intent of the bot; pick one of its intents or '{OUT_OF_SCOPE}'.")
    ensure_labels_table(engine)
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(events.c.id, events.c.sender_id, events.c.timestamp, events.c.data)
            .where(events.c.id == event_id, events.c.type_name == UserUttered.type_name)
        ).first()
        message = _reviewed_message(row, _event_data(row.data)) if row is not None else None
        if message is None:
            raise LookupError(f"There is no customer message {event_id}.")
        connection.execute(labels.delete().where(labels.c.event_id == event_id))
        connection.execute(labels.insert().values(event_id=event_id, label=label, labelled_at=time.time()))
    message.label = label
    return message


def ensure_labels_table(engine: sa.engine.Engine) -> None:
    labels.create(engine, checkfirst=True)


def bot_labels(intents: Iterable[Text], responses: Iterable[Text]) -> List[Text]:
    """What a message can be labelled with: the domain's intents; a retrieval intent by its keys
    (`faq/opening_hours`, from the `utter_faq/opening_hours` response), as its examples are filed."""
    intents = set(intents) - (set(DEFAULT_INTENTS) - {OUT_OF_SCOPE})  # restart, back, …: no customer's meaning
    keys = {name[len("utter_"):] for name in responses if name.startswith("utter_") and "/" in name}
    keys = {key for key in keys if key.split("/")[0] in intents}
    return sorted(intents - {key.split("/")[0] for key in keys}) + sorted(keys)


# --------------------------------------------------------------------------- drafts


def export_drafts(review: Review, nlu_data: Sequence[Path], drafts_dir: Path) -> Dict[Text, Path]:
    """Writes each language's labelled messages to `drafts_dir/<language>.yml`; returns the files.

    A sentence `nlu_data` already has (under any intent, case and spacing ignored) is left out;
    a draft is rewritten whole from the labels, so exporting twice gives the same files.
    """
    existing = {_normalized(example.get("text")) for example in _examples(nlu_data)}
    by_language: Dict[Text, Dict[Text, Message]] = defaultdict(dict)
    for message in review.messages:
        key = _normalized(message.text)
        # A language names a file: only a plain code (the detector's), never a path.
        plain_code = message.language.isascii() and message.language.isalpha() and len(message.language) <= 8
        if message.label is None or message.language == UNKNOWN_LANGUAGE or not plain_code or key in existing:
            continue
        by_language[message.language].setdefault(key, _training_example(message.text, message.label))
    drafts_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for language, examples in sorted(by_language.items()):
        path = drafts_dir / f"{language}.yml"
        path.write_text(RasaYAMLWriter().dumps(TrainingData(training_examples=list(examples.values()))), encoding="utf-8")
        written[language] = path
    return written


def _examples(paths: Sequence[Path]) -> List[Message]:
    files = get_data_files([str(path) for path in paths], is_nlu_file)
    return [example for name in files for example in load_data(name).intent_examples]


def _training_example(text: Text, label: Text) -> Message:
    intent, _, key = label.partition("/")
    example = Message.build(text=text, intent=intent)
    if key:
        example.set(INTENT_RESPONSE_KEY, label)
    return example


def _normalized(text: Optional[Text]) -> Text:
    return " ".join((text or "").casefold().split())


# --------------------------------------------------------------------------- charts


def chart_png(days: Sequence[DayStats], measure: Text) -> bytes:
    """One measure of `MEASURES` as a PNG: a group of bars per day, one bar per language."""
    if measure not in MEASURES:
        raise ReviewError(f"No chart '{measure}': one of {', '.join(MEASURES)}.")
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(4.2, 2.4), dpi=100)
    axes = figure.subplots()
    all_days = sorted({stats.day for stats in days})
    languages = sorted({stats.language for stats in days})
    width = 0.8 / max(len(languages), 1)
    for offset, language in enumerate(languages):
        values = {stats.day: stats.values()[measure] for stats in days if stats.language == language}
        positions = [index + (offset - (len(languages) - 1) / 2) * width for index in range(len(all_days))]
        axes.bar(positions, [values.get(day, 0) for day in all_days], width, label=language)
    axes.set_title(MEASURES[measure], fontsize=10)
    axes.set_xticks(range(len(all_days)), all_days, fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    if measure.endswith("rate") or measure == "mean_confidence":
        axes.set_ylim(0, 1.3)  # room above 1 for the legend
        axes.set_yticks([0, 0.25, 0.5, 0.75, 1])
    else:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylim(0, max(1, axes.get_ylim()[1]) * 1.3)
    if languages:
        axes.legend(fontsize=7, loc="upper right", ncol=min(len(languages), 6))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading events


def _read_labels(connection: sa.engine.Connection) -> Dict[int, Text]:
    if not sa.inspect(connection).has_table(labels.name):
        return {}
    return {row.event_id: row.label for row in connection.execute(sa.select(labels.c.event_id, labels.c.label))}


def _event_data(raw: Optional[Text]) -> Dict[Text, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _reviewed_message(row: Any, event: Dict[Text, Any]) -> Optional[ReviewedMessage]:
    """The review's view of a `user` event; None for button payloads ("/greet"), which nobody typed."""
    text = event.get("text") or ""
    if not text or text.startswith("/"):
        return None
    parse_data = event.get("parse_data") or {}
    intent = (parse_data.get("intent") or {}).get("name") or FALLBACK_INTENT
    ranking = [
        (_full_intent(str(entry.get("name")), parse_data), float(entry.get("confidence") or 0.0))
        for entry in parse_data.get("intent_ranking") or []
        if entry.get("name") and entry.get("name") != FALLBACK_INTENT
    ]
    language = (parse_data.get("language") or {}).get("name") or UNKNOWN_LANGUAGE
    channel = row.sender_id.split(":", 1)[0] if ":" in row.sender_id else (event.get("input_channel") or "")
    return ReviewedMessage(
        id=row.id,
        conversation=conversation_tag(row.sender_id),
        channel=channel,
        day=datetime.fromtimestamp(row.timestamp or 0, tz=timezone.utc).date().isoformat(),
        text=text,
        language=str(language),
        intent=intent,
        confidence=ranking[0][1] if ranking else 0.0,
        top_intents=ranking[:TOP_INTENTS],
    )


def _full_intent(name: Text, parse_data: Dict[Text, Any]) -> Text:
    """`faq/opening_hours` for the retrieval intent `faq`, as the response selector chose it."""
    selectors = parse_data.get("response_selector") or {}
    for key in (name, "default"):
        chosen = ((selectors.get(key) or {}).get("response") or {}).get("intent_response_key")
        if isinstance(chosen, str) and chosen.startswith(f"{name}/"):
            return chosen
    return name


def _day_stats(days: Dict[Tuple[Text, Text], DayStats], language: Text, day: Text) -> DayStats:
    return days.setdefault((language, day), DayStats(language, day))
