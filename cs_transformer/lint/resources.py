"""Checks of the files that go with the bot, per language: the word lists the components read,
the chat page's texts and the held-out sentences of `make eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.utils.io import read_yaml_file

from cs_transformer.languages import LEXICON_FILE, SCRIPT_LANGUAGES
from cs_transformer.lint.findings import Bot, Issue
from cs_transformer.lint.inputs import relative

# The lists the bot's components read. Named here, not imported: cs_transformer.frustration
# (DEFAULT_PROFANITY_FILE) loads TensorFlow, and the linter should start in seconds.
PROFANITY_FILE = Path(__file__).parents[1] / "data" / "profanity.yml"


FRUSTRATION_NAMES = ("cs_transformer.FrustrationScorer", "cs_transformer.frustration.FrustrationScorer")


def check_word_lists(bot: Bot, lists: Dict[Path, Sequence[str]]) -> List[Issue]:
    """Every list the components read per language (`lists`: file -> languages that need an
    entry) has one for each of those languages; a missing one silently means no words."""
    issues = []
    for path, languages in lists.items():
        entries = (read_yaml_file(path) or {}) if path.is_file() else {}
        for language in languages:
            if not entries.get(language):
                issues.append(Issue("missing-word-list", language, "word_list", path.name, None,
                                    f"no {language} words: add `{language}: [...]` to {relative(path)}"))
    return issues


def word_lists(bot: Bot, config: Dict[str, Any]) -> Dict[Path, List[str]]:
    """The lexicon (languages without a script of their own: the others are told by script)
    and, when the FrustrationScorer runs, its profanity list (every bot language)."""
    own_script = {language for languages in SCRIPT_LANGUAGES.values() for language in languages}
    lists = {LEXICON_FILE: [language for language in bot.languages if language not in own_script]}
    for component in config.get("pipeline") or []:
        if component.get("name") in FRUSTRATION_NAMES:
            lists[Path(component.get("profanity_file") or PROFANITY_FILE)] = list(bot.languages)
    return lists


def check_page_texts(bot: Bot, folder: Path) -> List[Issue]:
    """One `<language>.json` per bot language with every key of the default language's file.
    A missing key is shown in the default language (bot/page_locales.py), like a response."""
    default_file = folder / f"{bot.default_language}.json"
    if not default_file.is_file():
        return [Issue("missing-page-text", bot.default_language, "page_text", default_file.name, None,
                      f"create {default_file}: the page texts every other language falls back to")]
    keys = json.loads(default_file.read_text(encoding="utf-8"))
    issues = []
    for language in bot.languages:
        path = folder / f"{language}.json"
        texts = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if texts is None:
            issues.append(Issue("missing-page-text", language, "page_text", path.name, None,
                                f"create {path} with a translation of every key of {default_file}"))
            continue
        for key in keys:
            if not texts.get(key):
                issues.append(Issue("missing-page-text", language, "page_text", key, keys[key],
                                    f"shown in {bot.default_language}: add \"{key}\" to {path}"))
    return issues


def check_heldout(bot: Bot, folder: Path) -> List[Issue]:
    """Every intent (retrieval intents per key) needs held-out sentences in every language, or
    `make eval` cannot tell how well it is recognised (benchmarks/heldout/<language>.yml)."""
    intents = sorted({example.intent for example in bot.examples})
    issues = []
    for language in bot.languages:
        path = folder / f"{language}.yml"
        tested = {message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)
                  for message in load_data(str(path)).intent_examples} if path.is_file() else set()
        for intent in intents:
            if intent not in tested:
                issues.append(Issue("missing-heldout", language, "heldout", intent, None,
                                    f"no held-out sentence: add a few (not copies of training examples) "
                                    f"under `- intent: {intent}` in {path}" + ("" if path.is_file() else " (create it)")))
    return issues
