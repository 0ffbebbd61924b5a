"""The review's core (bot/review_data.py, bot/review_cli.py) on real tracker stores: conversations
saved through the redacting SQL store on SQLite and PostgreSQL, read back as the page and the
command line read them. The end-to-end test with `rasa run` and Chromium is test_review_browser.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.loading import load_data

from bot.review import ReviewInput, sql_engine
from bot.review_cli import main as review_cli
from bot.review_data import (
    OUT_OF_SCOPE, ReviewError, bot_labels, chart_png, export_drafts, read_review, review_queue, save_label,
)
from bot.tracker_store import RedactingTrackerStore
from bot.web import conversation_tag
from cs_transformer.lint import lint
from tests.conftest import REPO
from tests.databases import fresh_database

DOMAIN = Domain.load(REPO / "domain.yml")
LABELS = bot_labels(DOMAIN.intents, DOMAIN.responses)
EMAIL = "maria.kowalski@example.com"
KNOWN_EXAMPLE = "hey there"  # data/nlu/en.yml, under greet


def parsed(text: str, language: str, ranking: List[Tuple[str, float]], fallback: bool = False) -> UserUttered:
    """A user event as the bot's NLU leaves it (FallbackClassifier puts nlu_fallback first)."""
    entries = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    if fallback:
        entries.insert(0, {"name": "nlu_fallback", "confidence": 0.4})
    parse_data = {"text": text, "intent": entries[0], "intent_ranking": entries, "entities": [],
                  "language": {"name": language, "confidence": 0.9, "reliable": True}}
    return UserUttered(text, entries[0], [], parse_data)


def conversations() -> Dict[str, List[Event]]:
    return {
        "web:spanish": [
            parsed("hola", "es", [("greet", 0.97)]),
            parsed("el flim flam no funciona", "es", [("complaint", 0.31), ("order_status", 0.2), ("deny", 0.1), ("greet", 0.05)], fallback=True),
            BotUttered("¿Te paso con una persona?", metadata={"utter_action": "utter_offer_handoff_frustrated"}),
            parsed("/affirm", "es", [("affirm", 1.0)]),  # a button: nobody typed it
        ],
        "sms:+4915112345678": [
            parsed(KNOWN_EXAMPLE, "en", [("greet", 0.55), ("goodbye", 0.2)]),
            parsed(f"zorp {EMAIL} blim", "en", [("link_account", 0.3), ("out_of_scope", 0.25)], fallback=True),
            parsed("get me a person", "en", [("human_handoff", 0.93), ("complaint", 0.04)]),
            ActionExecuted("action_handoff"),
            ConversationPaused(),
        ],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedactingTrackerStore]:
    """The bot's tracker store on SQL, holding `conversations()` as the bot saves them."""
    if request.param == "sqlite":
        saved = RedactingTrackerStore(DOMAIN, store="sql", dialect="sqlite", db=str(tmp_path / "trackers.db"))
        yield _filled(saved)
        return
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        saved = RedactingTrackerStore(DOMAIN, store="sql", host=url)
        try:
            yield _filled(saved)
        finally:
            sql_engine(saved).dispose()


def _filled(store: RedactingTrackerStore) -> RedactingTrackerStore:
    for sender, events in conversations().items():
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        for event in events:
            tracker.update(event)
        asyncio.run(store.save(tracker))
    return store


def by_text(store: RedactingTrackerStore, text: str) -> Any:
    return next(message for message in read_review(sql_engine(store)).messages if message.text == text)


def test_measures_per_language_and_day(store: RedactingTrackerStore) -> None:
    days = {stats.language: stats.values() for stats in read_review(sql_engine(store)).days}
    assert set(days) == {"es", "en"}
    es, en = days["es"], days["en"]
    assert (es["messages"], es["fallbacks"], es["frustration_offers"], es["handoffs"]) == (2, 1, 1, 0)
    assert (en["messages"], en["fallbacks"], en["frustration_offers"], en["handoffs"]) == (3, 1, 0, 1)
    assert es["fallback_rate"] == 0.5 and en["handoff_rate"] == 1.0 and en["conversations"] == 1
    # The classifier's own top confidence counts, not the fallback's threshold.
    assert es["mean_confidence"] == pytest.approx((0.97 + 0.31) / 2, abs=1e-3)


def test_queue_has_fallbacks_low_confidence_and_the_message_before_a_handoff(store: RedactingTrackerStore) -> None:
    queue = {message.text: message for message in review_queue(read_review(sql_engine(store)))}
    assert set(queue) == {"el flim flam no funciona", KNOWN_EXAMPLE, "zorp [email] blim", "get me a person"}
    assert queue["el flim flam no funciona"].reasons(0.6) == ["fallback"]
    assert queue[KNOWN_EXAMPLE].reasons(0.6) == ["low confidence"]
    assert queue["get me a person"].reasons(0.6) == ["before handoff"]
    spanish = queue["el flim flam no funciona"]
    assert [name for name, _ in spanish.top_intents] == ["complaint", "order_status", "deny"]
    assert spanish.language == "es" and spanish.channel == "web"
    # Conversations are named by a hash: an SMS sender id is a phone number.
    assert queue["get me a person"].conversation == conversation_tag("sms:+4915112345678")
    assert [message.language for message in review_queue(read_review(sql_engine(store)), language="es")] == ["es"]


def test_no_clear_personal_data_reaches_the_review(store: RedactingTrackerStore, tmp_path: Path) -> None:
    review = read_review(sql_engine(store))
    assert EMAIL not in repr(review) and "4915112345678" not in repr(review)
    save_label(sql_engine(store), by_text(store, "zorp [email] blim").id, OUT_OF_SCOPE, LABELS)
    drafts = export_drafts(read_review(sql_engine(store)), [REPO / "data" / "nlu"], tmp_path / "drafts")
    assert EMAIL not in drafts["en"].read_text() and "[email]" in drafts["en"].read_text()


def test_a_label_is_kept_apart_from_the_tracker_and_takes_the_message_off_the_queue(store: RedactingTrackerStore) -> None:
    engine = sql_engine(store)
    with engine.connect() as connection:
        before = connection.execute(sa.text("SELECT id, data FROM events ORDER BY id")).all()
    message = by_text(store, "el flim flam no funciona")

    save_label(engine, message.id, "order_status", LABELS)
    save_label(engine, message.id, "complaint", LABELS)  # a second click replaces the first

    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT id, data FROM events ORDER BY id")).all() == before
        assert connection.execute(sa.text("SELECT event_id, label FROM review_labels")).all() == [(message.id, "complaint")]
    assert message.text not in [queued.text for queued in review_queue(read_review(engine))]
    assert by_text(store, "el flim flam no funciona").label == "complaint"


def test_a_label_must_be_an_intent_of_the_bot_on_a_customer_message(store: RedactingTrackerStore) -> None:
    engine = sql_engine(store)
    message = by_text(store, "hola")
    with pytest.raises(ReviewError, match="not an intent of the bot"):
        save_label(engine, message.id, "order_statuss", LABELS)
    with pytest.raises(LookupError):
        offer = by_text(store, "el flim flam no funciona").id + 1  # the bot's offer, no customer message
        save_label(engine, offer, "greet", LABELS)
    with pytest.raises(LookupError):
        save_label(engine, 10**6, "greet", LABELS)
    assert {"faq/opening_hours", "out_of_scope", "order_status"} <= set(LABELS)
    assert not {"faq", "nlu_fallback", "restart", "session_start"} & set(LABELS)


def test_export_writes_nlu_drafts_per_language_without_known_examples(store: RedactingTrackerStore, tmp_path: Path) -> None:
    engine = sql_engine(store)
    for text, label in [("el flim flam no funciona", "complaint"), ("hola", "greet"), (KNOWN_EXAMPLE, "greet"),
                        ("get me a person", "human_handoff"), ("zorp [email] blim", "faq/opening_hours")]:
        save_label(engine, by_text(store, text).id, label, LABELS)
    drafts_dir = tmp_path / "drafts"

    drafts = export_drafts(read_review(engine), [REPO / "data" / "nlu"], drafts_dir)

    assert sorted(drafts) == ["en", "es"]
    # "hola" (data/nlu/es.yml) and "hey there" (en.yml) are known examples: only new sentences stay.
    spanish = load_data(str(drafts["es"]))
    assert [(example.get("text"), example.get("intent")) for example in spanish.intent_examples] == [
        ("el flim flam no funciona", "complaint"),
    ]
    english = load_data(str(drafts["en"]))
    assert sorted((example.get("text"), example.get_full_intent()) for example in english.intent_examples) == [
        ("get me a person", "human_handoff"), ("zorp [email] blim", "faq/opening_hours"),
    ]
    first = {language: path.read_text() for language, path in drafts.items()}
    export_drafts(read_review(engine), [REPO / "data" / "nlu"], drafts_dir)
    assert {language: path.read_text() for language, path in drafts.items()} == first


def test_lint_checks_drafts_like_nlu_files(store: RedactingTrackerStore, tmp_path: Path) -> None:
    engine = sql_engine(store)
    save_label(engine, by_text(store, "get me a person").id, "human_handoff", LABELS)
    drafts = export_drafts(read_review(engine), [REPO / "data" / "nlu"], tmp_path / "drafts")
    nlu, config, domain = REPO / "data" / "nlu", REPO / "config.yml", REPO / "domain.yml"

    alone, with_drafts = lint(domain, [nlu], config), lint(domain, [nlu, drafts["en"]], config)

    def findings(report):  # what was found; the advice may name files next to the drafts
        return [(issue.code, issue.language, issue.subject, issue.name, issue.text) for issue in report.issues]

    assert findings(with_drafts) == findings(alone)  # the export's sentences are new and filed right
    # A sentence of the drafts that data/nlu has under another intent is an error, as in any NLU file.
    drafts["en"].write_text(drafts["en"].read_text().replace("get me a person", "hello"))
    duplicate = lint(domain, [nlu, drafts["en"]], config)
    assert any(issue.code == "duplicate-example" and issue.text == "hello" for issue in duplicate.issues)


def test_charts_are_png_per_measure(store: RedactingTrackerStore) -> None:
    image = chart_png(read_review(sql_engine(store)).days, "fallback_rate")
    assert image.startswith(b"\x89PNG")
    with pytest.raises(ReviewError, match="one of messages"):
        chart_png([], "nonsense")


def test_command_line_reads_the_store_of_endpoints_yml(tmp_path: Path) -> None:
    database = tmp_path / "trackers.db"
    _filled(RedactingTrackerStore(DOMAIN, store="sql", dialect="sqlite", db=str(database)))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: bot.tracker_store.RedactingTrackerStore\n  store: sql\n  dialect: sqlite\n  db: {database}\n"
    )

    assert review_cli(["report", "--endpoints", str(endpoints), "--out", str(tmp_path / "report")]) == 0

    report = (tmp_path / "report" / "report.md").read_text()
    assert "| es | 2 | 1 | 0.500 | 0.000 | 1 |" in report and "get me a person" in report
    assert (tmp_path / "report" / "handoff_rate.png").read_bytes().startswith(b"\x89PNG")


def test_command_line_names_the_fix_for_a_memory_store(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert review_cli(["export", "--endpoints", str(REPO / "endpoints.yml"), "--drafts", str(tmp_path)]) == 2
    assert "set `store: sql`" in capsys.readouterr().err


def test_an_empty_store_is_an_empty_review(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    review = read_review(engine)
    assert review.messages == [] and review.days == []
    assert export_drafts(review, [REPO / "data" / "nlu"], tmp_path / "drafts") == {}


def test_the_page_channel_takes_the_agent_token_and_refuses_a_bad_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_API_TOKEN", "from-the-environment")
    assert ReviewInput.from_credentials(None)._token == "from-the-environment"
    assert ReviewInput.from_credentials({"token": "from-credentials"})._token == "from-credentials"
    with pytest.raises(ValueError, match="low_confidence 'high' must be a number between 0 and 1"):
        ReviewInput.from_credentials({"low_confidence": "high"})
