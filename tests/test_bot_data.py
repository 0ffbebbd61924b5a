"""The demo bot's data: valid for Rasa, and complete in every language."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Set

import pytest
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.utils.io import read_yaml_file

from cs_common.plurals import languages_needing
from tests.conftest import BOT_LANGUAGES, REPO

MIN_EXAMPLES_PER_LANGUAGE = 10


def language_of_variation(variation: Dict) -> str:
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return condition["value"]
    return "en"


def test_rasa_data_validate_is_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--fail-on-warnings"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_response_has_a_variation_for_every_language() -> None:
    responses = read_yaml_file(REPO / "domain.yml")["responses"]
    # A plural form other than `_other` only in the languages that have it (cs_common/plurals.py).
    missing = {
        name: sorted(set(languages_needing(name, responses, BOT_LANGUAGES)) - {language_of_variation(v) for v in variations})
        for name, variations in responses.items()
    }
    assert {name: langs for name, langs in missing.items() if langs} == {}


def test_each_language_variation_appears_once_per_response() -> None:
    responses = read_yaml_file(REPO / "domain.yml")["responses"]
    for name, variations in responses.items():
        counts = Counter(language_of_variation(v) for v in variations)
        assert max(counts.values()) == 1, (name, counts)


@pytest.mark.parametrize("language", BOT_LANGUAGES)
def test_every_intent_has_enough_examples_in_each_language(language: str) -> None:
    data = load_data(str(REPO / "data" / "nlu" / f"{language}.yml"))
    counts = Counter(m.get("intent_response_key") or m.get("intent") for m in data.intent_examples)
    domain_intents = set(read_yaml_file(REPO / "domain.yml")["intents"]) - {"faq"}
    faq_intents = {key for key in counts if key.startswith("faq/")}
    assert domain_intents <= set(counts), sorted(domain_intents - set(counts))
    assert len(faq_intents) >= 8
    too_few = {intent: n for intent, n in counts.items() if n < MIN_EXAMPLES_PER_LANGUAGE}
    assert too_few == {}


def test_no_example_is_under_two_intents() -> None:
    seen: Dict[str, Set[str]] = defaultdict(set)
    for language in BOT_LANGUAGES:
        data = load_data(str(REPO / "data" / "nlu" / f"{language}.yml"))
        for message in data.intent_examples:
            seen[message.get("text").strip().lower()].add(message.get("intent_response_key") or message.get("intent"))
    assert {text: intents for text, intents in seen.items() if len(intents) > 1} == {}


def test_faq_answers_exist_for_every_retrieval_intent() -> None:
    responses = read_yaml_file(REPO / "domain.yml")["responses"]
    for language in BOT_LANGUAGES:
        data = load_data(str(REPO / "data" / "nlu" / f"{language}.yml"))
        for key in {m.get("intent_response_key") for m in data.intent_examples if m.get("intent") == "faq"}:
            assert f"utter_{key}" in responses
